"""Moser-lab (Kavli Institute, NTNU) ``.mat`` releases, e.g. Sargolini et al. 2006.

Two layouts exist, told apart by the variables inside each file, never by its name:

- **Layout A** — one position file per session (``posx``, ``posy``, ``post`` and, with two
  LEDs, non-empty ``posx2``/``posy2``) plus one spike file per cell (``cellTS``).
- **Layout B** — one self-contained file per cell: ``x1``, ``y1``, ``x2``, ``y2``, ``t``
  (positions of both LEDs and their times) and ``ts`` (spike times). A file with spike times and
  only some of ``t``/``x1``/``y1``, or with them but without ``ts``, is an error naming what it
  lacks.

In both layouts the second LED is optional, but one of its coordinates without the other is an
error (it is never dropped silently).

Variable names are matched case-insensitively, with a few aliases (``pos_x``, ``spike_times``).
Arrays may be row or column vectors. Positions are in cm (converted to m, see
``position_unit``); times in seconds.

File names give rat, session and cell: ``<rat>-<session>_<cell>.mat`` (``11207-21060503_t8c1``,
``10073-17010302_T2C3``, ``10073-17010302_POS``), case-insensitive, with any prefix
(``sargolini_10073-...``); sessions joined by ``+`` (``21060501+02``) are kept whole. Cell ids
are lower-cased (``t2c3``). A cell of layout A is paired with the position file of the same rat
and session — also when a single cell file is given, by looking next to it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mecbench.errors import ConfigError, DataError
from mecbench.loaders.matfile import numeric_vector, read_mat
from mecbench.loaders.recording import Recording, find_files

__all__ = ["read_moser", "parse_moser_name", "find_mat_files", "MoserFile", "classify_mat"]

_NAME = re.compile(r"(?P<rat>\d+)-(?P<session>\d+(?:\+\d+)*)_(?P<cell>[A-Za-z0-9]+)$", re.I)

ALIASES: dict[str, tuple[str, ...]] = {
    "t": ("post", "t", "pos_t"),
    "x": ("posx", "x1", "pos_x"),
    "y": ("posy", "y1", "pos_y"),
    "x2": ("posx2", "x2", "pos_x2"),
    "y2": ("posy2", "y2", "pos_y2"),
    "spikes": ("cellts", "ts", "spike_times", "spiketimes"),
}
# the variable names of a layout-B (self-contained) file, per role
_SELF_CONTAINED = {"t": "t", "x": "x1", "y": "y1", "x2": "x2", "y2": "y2", "spikes": "ts"}
_UNITS = {"cm": 0.01, "m": 1.0, "mm": 0.001}


@dataclass
class MoserFile:
    """One ``.mat`` file of a Moser-lab release, classified by its content.

    ``kind`` is ``"position"`` (layout A positions), ``"cell"`` (layout A spikes) or
    ``"self-contained"`` (layout B); ``fields`` maps a role (t, x, y, x2, y2, spikes) to the
    variable name found in the file.
    """

    path: Path
    rat: str
    session: str
    cell: str
    kind: str
    fields: dict
    data: dict


def parse_moser_name(path: str | os.PathLike) -> tuple[str, str, str]:
    """``(rat, session, cell)`` from a file name ``[prefix]<rat>-<session>_<cell>.mat``.

    Raises
    ------
    DataError
        If the name does not follow the convention.
    """
    stem = Path(path).name
    if stem.lower().endswith(".mat"):
        stem = stem[:-4]
    m = _NAME.search(stem)
    if not m:
        raise DataError(
            f"{path}: cannot read rat and session from the file name; Moser-lab files are "
            "named <rat>-<session>_<cell>.mat (e.g. 11207-21060503_t8c1.mat)"
        )
    return m["rat"], m["session"], m["cell"].lower()


def _field(data: dict, role: str) -> str | None:
    lower = {k.lower(): k for k in data}
    for alias in ALIASES[role]:
        if alias in lower:
            return lower[alias]
    return None


def _has(data: dict, limit: int = 10) -> str:
    """The variable names of a file, for error messages: ``"t, ts, x1, …"``."""
    names = sorted(data)
    return ", ".join(names[:limit]) + (", …" if len(names) > limit else "")


def classify_mat(path: str | os.PathLike, data: dict) -> tuple[str, dict]:
    """Kind of a Moser-lab file from its variables: ``"position"``, ``"cell"`` or
    ``"self-contained"``, and the variable name of each role.

    A file with spike times and any position variable (``t``, ``x1``, ``y1``, or a non-empty
    ``x2``/``y2``: empty second-LED placeholders are common in layout A) is a self-contained
    (layout B) file: a layout-A cell file holds spike times only.

    Raises
    ------
    DataError
        Naming the file and the missing variables when it is neither, or when it holds spike
        times with only some of the positions (``t``, ``x1``, ``y1``).
    """
    fields = {role: _field(data, role) for role in ALIASES}
    has_pos = all(fields[r] for r in ("t", "x", "y"))
    has_spikes = fields["spikes"] is not None
    if has_pos and has_spikes:
        return "self-contained", fields
    if has_pos:
        return "position", fields
    if has_spikes:
        if any(fields[r] for r in ("t", "x", "y")) or any(
                fields[r] and np.size(data[fields[r]]) for r in ("x2", "y2")):
            lacking = [_SELF_CONTAINED[r] for r in ("t", "x", "y") if not fields[r]]
            plural = "s" if len(lacking) > 1 else ""
            raise DataError(
                f"{path}: self-contained cell file lacks variable{plural} "
                f"{', '.join(repr(n) for n in lacking)} (has: {_has(data)}); a file with spike "
                "times and positions needs t, x1 and y1 (a layout-A cell file holds only cellTS)"
            )
        return "cell", fields
    partial = [fields[r] for r in ("t", "x", "y") if fields[r]]
    missing = [ALIASES[r][0] + "/" + ALIASES[r][1] for r in ("t", "x", "y") if not fields[r]]
    found = sorted(data)[:10]
    if partial:
        raise DataError(
            f"{path}: position variables incomplete: missing {', '.join(missing)} "
            f"(found {found})"
        )
    raise DataError(
        f"{path}: no Moser-lab variables: expected positions (posx/posy/post or x1/y1/t) "
        f"and/or spike times (cellTS or ts); found {found}"
    )


def find_mat_files(paths) -> list[Path]:
    """The ``.mat`` files of a file, a directory (searched recursively) or a list of both."""
    return find_files(paths, ".mat")


def _open(path: Path) -> MoserFile:
    rat, session, cell = parse_moser_name(path)
    data = read_mat(path)
    kind, fields = classify_mat(path, data)
    return MoserFile(path, rat, session, cell, kind, fields, data)


def _scale(position_unit) -> float:
    if isinstance(position_unit, str):
        if position_unit not in _UNITS:
            raise ConfigError(
                f"position_unit must be one of {sorted(_UNITS)} or a number, got "
                f"{position_unit!r}"
            )
        return _UNITS[position_unit]
    scale = float(position_unit)
    if not scale > 0:
        raise ConfigError(f"position_unit scale must be > 0, got {position_unit!r}")
    return scale


def _positions(f: MoserFile, scale: float) -> dict:
    """t, x, y, x2, y2 (m) of a position or self-contained file, checked."""
    t = numeric_vector(f.data, f.fields["t"], f.path)
    out = {"t": t}
    for role in ("x", "y", "x2", "y2"):
        name = f.fields[role]
        if name is None:
            out[role] = None
            continue
        arr = numeric_vector(f.data, name, f.path, allow_empty=role in ("x2", "y2"))
        if arr.size == 0:
            out[role] = None
            continue
        if arr.size != t.size:
            raise DataError(
                f"{f.path}: field {name!r} has {arr.size} samples but time field "
                f"{f.fields['t']!r} has {t.size}"
            )
        out[role] = arr * scale
    if (out["x2"] is None) != (out["y2"] is None):
        have, lack = ("x2", "y2") if out["x2"] is not None else ("y2", "x2")
        name = f.fields[have]
        if f.fields[lack] is None:
            other = ALIASES[lack][ALIASES[have].index(name.lower())]
            problem = "is missing"
        else:
            other, problem = f.fields[lack], "is empty"
        raise DataError(
            f"{f.path}: second LED: field {name!r} has {out[have].size} samples but "
            f"{other!r} {problem}; give both coordinates of LED 2 or neither"
        )
    if not np.isfinite(t).all():
        raise DataError(f"{f.path}: time field {f.fields['t']!r} contains NaN or inf")
    if t.size < 2 or (np.diff(t) <= 0).any():
        raise DataError(f"{f.path}: time field {f.fields['t']!r} is not strictly increasing")
    tracked = np.isfinite(out["x"]) & np.isfinite(out["y"])
    if out["x2"] is not None:
        tracked |= np.isfinite(out["x2"]) & np.isfinite(out["y2"])
    if not tracked.any():
        raise DataError(
            f"{f.path}: position fields {f.fields['x']!r}/{f.fields['y']!r} are all NaN"
        )
    return out


def _spikes(f: MoserFile) -> np.ndarray:
    return numeric_vector(f.data, f.fields["spikes"], f.path, allow_empty=True)


def _sibling_positions(cell: MoserFile, known: dict) -> None:
    """Look next to a lone layout-A cell file for its session's position file."""
    key = (cell.rat, cell.session)
    if key in known:
        return
    for q in sorted(cell.path.parent.iterdir()):
        if not q.is_file() or q.suffix.lower() != ".mat" or q == cell.path:
            continue
        try:
            rat, session, _ = parse_moser_name(q)
        except DataError:
            continue
        if (rat, session) != key:
            continue
        f = _open(q)
        if f.kind == "position":
            known.setdefault(key, []).append(f)


def read_moser(
    paths: str | os.PathLike | Iterable,
    *,
    position_unit: str | float = "cm",
) -> list[Recording]:
    """Read a Moser-lab release (a directory, one session's files, or one file).

    Parameters
    ----------
    paths : path or iterable of paths
        Files and/or directories (searched recursively for ``*.mat``).
    position_unit : {"cm", "m", "mm"} or float
        Unit of the positions in the files (Moser-lab releases: cm), or the factor that
        converts them to metres.

    Returns
    -------
    list of Recording
        One per session (layout A) or per group of layout-B files sharing identical positions.

    Raises
    ------
    DataError
        Unreadable or truncated files, unknown variables, mismatched lengths, all-NaN
        positions, a cell without its session's position file, a self-contained file lacking
        ``t``, ``x1``, ``y1`` or ``ts``, one coordinate of LED 2 without the other — naming the
        file and field.
    """
    scale = _scale(position_unit)
    files = find_mat_files(paths)
    if not files:
        raise DataError(f"{paths}: no .mat files found")
    opened = [_open(p) for p in files]
    positions: dict[tuple, list[MoserFile]] = {}
    cells: dict[tuple, list[MoserFile]] = {}
    selfcontained: dict[tuple, list[MoserFile]] = {}
    for f in opened:
        key = (f.rat, f.session)
        {"position": positions, "cell": cells, "self-contained": selfcontained}[f.kind] \
            .setdefault(key, []).append(f)
    for key, group in cells.items():
        if key not in positions:
            _sibling_positions(group[0], positions)

    recordings: list[Recording] = []
    for key in sorted(cells):
        group = sorted(cells[key], key=lambda f: f.cell)
        pos_files = positions.get(key, [])
        if not pos_files:
            raise DataError(
                f"{group[0].path}: no position file for rat {key[0]} session {key[1]} "
                f"(expected {key[0]}-{key[1]}_POS.mat with posx/posy/post next to it)"
            )
        if len({p.path for p in pos_files}) > 1:
            raise DataError(
                f"rat {key[0]} session {key[1]}: several position files "
                f"{sorted(str(p.path) for p in pos_files)}; keep one"
            )
        pos = _positions(pos_files[0], scale)
        recordings.append(Recording(
            t=pos["t"], x=pos["x"], y=pos["y"], x2=pos["x2"], y2=pos["y2"],
            spike_times=[_spikes(f) for f in group], cell_ids=[f.cell for f in group],
            animal=key[0], session=key[1], source=str(pos_files[0].path),
            cell_sources=[f"{f.path} field {f.fields['spikes']!r}" for f in group],
        ))
    for key in sorted(selfcontained):
        groups: list[tuple[dict, list[MoserFile]]] = []
        for f in sorted(selfcontained[key], key=lambda f: f.cell):
            pos = _positions(f, scale)
            for ref, members in groups:
                if _same_positions(ref, pos):
                    members.append(f)
                    break
            else:
                groups.append((pos, [f]))
        for pos, members in groups:
            recordings.append(Recording(
                t=pos["t"], x=pos["x"], y=pos["y"], x2=pos["x2"], y2=pos["y2"],
                spike_times=[_spikes(f) for f in members], cell_ids=[f.cell for f in members],
                animal=key[0], session=key[1], source=str(members[0].path),
                cell_sources=[f"{f.path} field {f.fields['spikes']!r}" for f in members],
            ))
    unused = [p for key, group in sorted(positions.items()) if key not in cells for p in group]
    for p in unused:
        if _looks_self_contained(p):
            raise DataError(
                f"{p.path}: self-contained cell file lacks variable 'ts' (has: {_has(p.data)}); "
                f"no cell file of rat {p.rat} session {p.session} uses its positions either"
            )
    if not recordings:
        lone = [str(p.path) for p in unused]
        raise DataError(f"position files without any cell file: {lone[:5]}")
    return recordings


def _looks_self_contained(f: MoserFile) -> bool:
    """A position-only file whose variables carry the layout-B names (``t``, ``x1``...)."""
    names = set(_SELF_CONTAINED.values())
    return any(f.fields[r].lower() in names for r in ("t", "x", "y"))


def _same_positions(a: dict, b: dict) -> bool:
    for role in ("t", "x", "y", "x2", "y2"):
        u, v = a[role], b[role]
        if (u is None) != (v is None):
            return False
        if u is not None and (u.shape != v.shape or not np.array_equal(u, v, equal_nan=True)):
            return False
    return True
