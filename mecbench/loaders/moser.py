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

**Names are optional.** What a file name says is used, and nothing else is required of it
(case-insensitive, any prefix):

- ``<rat>-<session>_<cell>.mat`` (``11207-21060503_t8c1``, ``10073-17010302_T2C3``,
  ``10073-17010302_POS``, ``sargolini_10073-...``) gives animal, session and cell; sessions
  joined by ``+`` (``21060501+02``) are kept whole.
- ``<session>_T<tetrode>C<cell>.mat`` and ``<session>_pos.mat`` (a release without rat
  numbers, e.g. ``ABC_T01C1.mat``, ``ABC_pos.mat``) give session and cell; the tetrode/cell
  token may stand anywhere in the name (``T01C1``, ``t1c1``, ``TT1_C1``, ``tetrode1_cell1``).
- Any other name gives only a cell id: the file name without ``.mat``, lower-cased.

What the names do not say comes from the labels ``animal=`` and ``session=`` (``--animal`` /
``--session``): one for all paths or one per path. A labelled path is one animal (and, with
``session=``, one session); a label overrides the names, but a label that would merge several
animals or sessions named by the files is an error. A cell or self-contained file without an
animal or a session by name or label is an error that names the option.

Cell ids: ``t<tetrode>c<cell>`` (leading zeros dropped, so ``T01C1`` and ``t1c1`` are the same
cell) when the name carries a tetrode and cell, else the name's cell part or the file name.
Ids that would collide within a session are replaced by the files' names (then numbered), in
the sorted order of the paths, with a :class:`~mecbench.loaders.recording.DataWarning`.

Pairing layout-A cells with positions: the position file of the same animal and session (by
name or label), else the one position file in the cell's directory whose name carries no
session; position files not given are looked for next to the cells. Several candidates is an
error naming the files.
"""

from __future__ import annotations

import os
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mecbench.errors import ConfigError, DataError
from mecbench.loaders.matfile import numeric_vector, read_mat
from mecbench.loaders.recording import DataWarning, Recording, find_files

__all__ = ["read_moser", "parse_moser_name", "parse_name", "find_mat_files", "MoserFile",
           "classify_mat"]

_B = r"(?:^|(?<=[^A-Za-z0-9]))"  # a token starts at the start or after a non-alphanumeric
_E = r"(?=$|[^A-Za-z0-9])"  # ... and ends at the end or before one
_NAME = re.compile(_B + r"(?P<rat>\d+)-(?P<session>\d+(?:\+\d+)*)_(?P<cell>[A-Za-z0-9]+)$", re.I)
_TETRODE_CELL = re.compile(
    _B + r"t(?:t|etrode)?[_-]?(?P<t>\d+)[_-]?c(?:ell)?[_-]?(?P<c>\d+)" + _E, re.I)
_POSITION = re.compile(_B + r"(?:pos|position|positions|tracking|track)" + _E, re.I)
_SEPARATORS = " _-."

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
    variable name found in the file. ``rat`` and ``session`` are the labels in use (the
    caller's, else the name's; None when neither says); ``name_session`` is the session the
    file name gives, if any; ``origin`` the path the caller gave that holds the file.
    """

    path: Path
    rat: str | None
    session: str | None
    cell: str
    kind: str
    fields: dict
    data: dict
    name_rat: str | None = None
    name_session: str | None = None
    origin: str = ""
    label_animal: str | None = None
    label_session: str | None = None
    sibling: bool = False


def parse_name(path: str | os.PathLike) -> tuple[str | None, str | None, str, bool]:
    """What a file name says: ``(rat, session, cell, has_tetrode_cell)``.

    ``rat`` and ``session`` are None when the name does not give them; ``cell`` is
    ``"t<tetrode>c<cell>"`` when the name carries a tetrode and cell, else the cell part of a
    ``<rat>-<session>_<cell>`` name (``"pos"``), else the file name without ``.mat``, all
    lower-cased. See the module docstring for the names understood.
    """
    stem = Path(path).name
    if stem.lower().endswith(".mat"):
        stem = stem[:-4]
    m = _NAME.search(stem)
    tc = _TETRODE_CELL.search(stem)
    if m:
        cell = m["cell"].lower()
        full = _TETRODE_CELL.fullmatch(m["cell"])
        if full:
            cell = f"t{int(full['t'])}c{int(full['c'])}"
        return m["rat"], m["session"], cell, bool(full)
    if tc:
        rest = (stem[:tc.start()] + "_" + stem[tc.end():]).strip(_SEPARATORS)
        return None, rest or None, f"t{int(tc['t'])}c{int(tc['c'])}", True
    pos = _POSITION.search(stem)
    if pos:
        rest = (stem[:pos.start()] + "_" + stem[pos.end():]).strip(_SEPARATORS)
        return None, rest or None, stem.lower(), False
    return None, None, stem.lower(), False


def parse_moser_name(path: str | os.PathLike) -> tuple[str, str, str]:
    """``(rat, session, cell)`` from a file name ``[prefix]<rat>-<session>_<cell>.mat``.

    Raises
    ------
    DataError
        If the name does not follow the convention (:func:`read_moser` does not need it to:
        see :func:`parse_name`).
    """
    rat, session, cell, _ = parse_name(path)
    if rat is None:
        raise DataError(
            f"{path}: cannot read rat and session from the file name; Moser-lab files are "
            "named <rat>-<session>_<cell>.mat (e.g. 11207-21060503_t8c1.mat)"
        )
    return rat, session, cell


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


def _open(path: Path, animal: str | None = None, session: str | None = None,
          origin="", sibling: bool = False) -> MoserFile:
    rat, name_session, cell, _ = parse_name(path)
    data = read_mat(path)
    kind, fields = classify_mat(path, data)
    return MoserFile(path, animal or rat, session or name_session, cell, kind, fields, data,
                     name_rat=rat, name_session=name_session, origin=str(origin),
                     label_animal=animal, label_session=session, sibling=sibling)


def _labels(value, n: int, name: str) -> list[str | None]:
    """One label per input path from None, one label, or a sequence of one per path."""
    if value is None:
        return [None] * n
    if isinstance(value, (str, int, np.integer)) or not isinstance(value, Sequence):
        values = [value] * n
    else:
        values = list(value)
        if len(values) == 1:
            values = values * n
        if len(values) != n:
            raise ConfigError(
                f"{name}: give one label for all paths or one per path ({n} paths), got "
                f"{len(values)}: {values}"
            )
    out = []
    for v in values:
        text = None if v is None else str(v).strip()
        if text is not None and (not text or "/" in text):
            raise ConfigError(f"{name} label must be a non-empty name without '/', got {v!r}")
        out.append(text)
    return out


def _check_labels(files: list[MoserFile]) -> None:
    """A label must not merge animals or sessions that the file names tell apart."""
    by_origin: dict[str, list[MoserFile]] = {}
    for f in files:
        by_origin.setdefault(f.origin, []).append(f)
    for origin, group in by_origin.items():
        animals = {f.name_rat for f in group if f.name_rat}
        sessions = {"-".join(x for x in (f.name_rat, f.name_session) if x) for f in group
                    if f.name_session}
        for what, label, named in (("animal", group[0].label_animal, animals),
                                   ("session", group[0].label_session, sessions)):
            if label is not None and len(named) > 1:
                raise ConfigError(
                    f"{origin}: --{what} {label} ({what}=) would label files of {len(named)} "
                    f"{what}s named in the file names ({', '.join(sorted(named)[:5])}) as one "
                    f"{what}; give one path per {what}, or no --{what}"
                )


def _require_labels(files: list[MoserFile]) -> None:
    """Every cell needs an animal and a session, from its name or a label."""
    lacking: dict[str, tuple[MoserFile, set]] = {}
    for f in files:
        missing = {w for w, v in (("animal", f.rat), ("session", f.session)) if v is None}
        if missing:
            entry = lacking.setdefault(f.origin, (f, set()))
            entry[1].update(missing)
    if not lacking:
        return
    origin, (f, missing) = next(iter(lacking.items()))
    what = " and ".join(w for w in ("animal", "session") if w in missing)
    options = " ".join(f"--{w} NAME" for w in ("animal", "session") if w in missing)
    python = ", ".join(f"{w}=" for w in ("animal", "session") if w in missing)
    raise DataError(
        f"{origin}: the file names (e.g. {f.path.name}) do not give the {what}; label the "
        f"recordings with {options} ({python} in Python): a labelled directory is one "
        "session of one animal"
    )


def _scale(position_unit) -> float:
    if isinstance(position_unit, str):
        if position_unit not in _UNITS:
            raise ConfigError(
                f"position_unit must be one of {sorted(_UNITS)} or a positive number of metres "
                f"per unit, got {position_unit!r}"
            )
        return _UNITS[position_unit]
    try:
        scale = float(position_unit)
    except (TypeError, ValueError):
        scale = float("nan")
    if not (np.isfinite(scale) and scale > 0):
        raise ConfigError(
            f"position_unit must be one of {sorted(_UNITS)} or a positive number of metres per "
            f"unit, got {position_unit!r}"
        )
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


def _candidates(cell: MoserFile, positions: list[MoserFile]) -> list[MoserFile]:
    """Position files for a layout-A cell: same animal and session, else the position files
    of its directory that no name or label ties to a session."""
    same = [p for p in positions if p.rat == cell.rat and p.session == cell.session]
    if same:
        return same
    return [p for p in positions if p.path.parent == cell.path.parent and p.session is None
            and p.rat in (None, cell.rat)]


def _siblings(cell: MoserFile, known: dict) -> list[MoserFile]:
    """Position files next to a cell file that were not given (unreadable files skipped)."""
    found = []
    for q in sorted(cell.path.parent.iterdir()):
        if q in known or not q.is_file() or q.suffix.lower() != ".mat":
            continue
        try:
            f = _open(q, cell.label_animal, cell.label_session, cell.origin, sibling=True)
        except DataError:
            continue  # not asked for: a foreign or damaged neighbour is none of our business
        if f.kind == "position":
            found.append(f)
    return found


def _unique_cell_ids(entries: list[dict]) -> None:
    """Cell ids that collide within one animal and session take their file names (numbered
    when those collide too), in the sorted order of the paths; a DataWarning says so."""
    groups: dict[tuple, list[tuple[dict, int]]] = {}
    for e in entries:
        for m in range(len(e["members"])):
            groups.setdefault((e["rat"], e["session"]), []).append((e, m))
    for (rat, session), items in groups.items():
        counts = Counter(e["ids"][m] for e, m in items)
        clash = sorted((it for it in items if counts[it[0]["ids"][it[1]]] > 1),
                       key=lambda it: str(it[0]["members"][it[1]].path))
        if not clash:
            continue
        used = {e["ids"][m] for e, m in items if counts[e["ids"][m]] == 1}
        olds = sorted({e["ids"][m] for e, m in clash})
        renamed, identical = [], []
        seen: dict[str, list[MoserFile]] = {}
        for e, m in clash:
            f, old = e["members"][m], e["ids"][m]
            identical += [f"{g.path} = {f.path}" for g in seen.get(old, [])
                          if np.array_equal(_spikes(g), _spikes(f))]
            seen.setdefault(old, []).append(f)
            new = base = f.path.stem.lower()
            k = 2
            while new in used:
                new, k = f"{base}-{k}", k + 1
            used.add(new)
            e["ids"][m] = new
            renamed.append(f"{f.path} -> {new}")
        note = (f"; identical spike times in {', '.join(identical)}: the same cell twice?"
                if identical else "")
        warnings.warn(
            f"animal {rat} session {session}: cell id(s) {', '.join(olds)} came from several "
            f"files; renamed them after their files: {'; '.join(renamed)}"
            f"{note}", DataWarning, stacklevel=3,
        )


def _open_inputs(paths: str | os.PathLike | Iterable,
                 animal: str | Sequence[str] | None,
                 session: str | Sequence[str] | None) -> dict[Path, MoserFile]:
    """Every ``.mat`` file under ``paths``, opened once with its path's labels."""
    inputs = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not inputs:
        raise DataError("no path given")
    animals = _labels(animal, len(inputs), "animal")
    sessions = _labels(session, len(inputs), "session")
    opened: dict[Path, MoserFile] = {}
    for p, a, s in zip(inputs, animals, sessions, strict=True):
        files = find_mat_files(p)
        if not files:
            raise DataError(f"{p}: no .mat files found")
        for q in files:
            if q not in opened:
                opened[q] = _open(q, a, s, p)
    return opened


def _pair_cells(kinds: dict[str, list[MoserFile]], opened: dict[Path, MoserFile]
                ) -> tuple[dict[tuple, list[MoserFile]], dict[Path, MoserFile]]:
    """Layout-A cell files grouped by (animal, session, position file), and those files."""
    positions = list(kinds["position"])
    scanned: set[Path] = set()
    paired: dict[tuple, list[MoserFile]] = {}
    pos_files: dict[Path, MoserFile] = {}
    for cell in sorted(kinds["cell"], key=lambda f: str(f.path)):
        cands = _candidates(cell, positions)
        if not cands and cell.path.parent not in scanned:
            scanned.add(cell.path.parent)
            positions += _siblings(cell, opened)
            cands = _candidates(cell, positions)
        if not cands:
            raise DataError(
                f"{cell.path}: no position file for animal {cell.rat} session {cell.session} "
                "(a .mat file with posx/posy/post, given with it or next to it)"
            )
        if len(cands) > 1:
            raise DataError(
                f"{cell.path}: several position files could belong to animal {cell.rat} "
                f"session {cell.session}: {sorted(str(p.path) for p in cands)}; the names do "
                "not pair cells with them: keep one per session, name them "
                "<session>_pos.mat with cells <session>_T<t>C<c>.mat, or give each session's "
                "directory its own --session"
            )
        pos_files[cands[0].path] = cands[0]
        paired.setdefault((cell.rat, cell.session, str(cands[0].path)), []).append(cell)
    return paired, pos_files


def _paired_entries(paired: dict[tuple, list[MoserFile]], pos_files: dict[Path, MoserFile],
                    scale: float) -> list[dict]:
    """One entry per layout-A group, each position file read once."""
    entries: list[dict] = []
    read: dict[Path, dict] = {}
    for (rat, sess, ppath), members in sorted(paired.items()):
        pf = pos_files[Path(ppath)]
        if pf.path not in read:
            read[pf.path] = _positions(pf, scale)
        entries.append({"pos": read[pf.path], "rat": rat, "session": sess, "source": ppath,
                        "members": sorted(members, key=lambda f: (f.cell, str(f.path)))})
    return entries


def _self_contained_entries(files: list[MoserFile], scale: float) -> list[dict]:
    """One entry per group of layout-B files of a session sharing identical positions."""
    entries: list[dict] = []
    selfcontained: dict[tuple, list[MoserFile]] = {}
    for f in files:
        selfcontained.setdefault((f.rat, f.session), []).append(f)
    for key in sorted(selfcontained):
        groups: list[tuple[dict, list[MoserFile]]] = []
        for f in sorted(selfcontained[key], key=lambda f: (f.cell, str(f.path))):
            pos = _positions(f, scale)
            for ref, members in groups:
                if _same_positions(ref, pos):
                    members.append(f)
                    break
            else:
                groups.append((pos, [f]))
        for pos, members in groups:
            entries.append({"pos": pos, "rat": key[0], "session": key[1],
                            "source": str(members[0].path), "members": members})
    return entries


def read_moser(
    paths: str | os.PathLike | Iterable,
    *,
    position_unit: str | float = "cm",
    animal: str | Sequence[str] | None = None,
    session: str | Sequence[str] | None = None,
) -> list[Recording]:
    """Read a Moser-lab release (directories, one session's files, or one file).

    Parameters
    ----------
    paths : path or iterable of paths
        Files and/or directories (searched recursively for ``*.mat``).
    position_unit : {"cm", "m", "mm"} or float
        Unit of the positions in the files (Moser-lab releases: cm), or the factor that
        converts them to metres.
    animal, session : str or sequence of str, optional
        Labels for files whose names do not give them (see the module docstring): one for all
        paths, or one per path. They override what the names say.

    Returns
    -------
    list of Recording
        One per session (layout A) or per group of layout-B files sharing identical positions.

    Raises
    ------
    DataError
        Unreadable or truncated files, unknown variables, mismatched lengths, all-NaN
        positions, a cell without its session's position file or with several candidates, a
        self-contained file lacking ``t``, ``x1``, ``y1`` or ``ts``, one coordinate of LED 2
        without the other, a cell without an animal or session — naming the file and field.
    ConfigError
        Bad labels or units, or a label that would merge animals or sessions the names tell
        apart.
    """
    scale = _scale(position_unit)
    unit = position_unit if isinstance(position_unit, str) else f"{scale:g} m"
    opened = _open_inputs(paths, animal, session)
    _check_labels(list(opened.values()))
    kinds: dict[str, list[MoserFile]] = {"position": [], "cell": [], "self-contained": []}
    for f in opened.values():
        kinds[f.kind].append(f)
    _require_labels(kinds["cell"] + kinds["self-contained"])

    paired, pos_files = _pair_cells(kinds, opened)
    entries = _paired_entries(paired, pos_files, scale)
    entries += _self_contained_entries(kinds["self-contained"], scale)
    used = {Path(k[2]) for k in paired}
    unused = [p for p in kinds["position"] if p.path not in used]
    for p in unused:
        if _looks_self_contained(p):
            raise DataError(
                f"{p.path}: self-contained cell file lacks variable 'ts' (has: {_has(p.data)}); "
                f"no cell file of animal {p.rat} session {p.session} uses its positions either"
            )
    if not entries:
        lone = [str(p.path) for p in unused]
        raise DataError(f"position files without any cell file: {lone[:5]}")
    for e in entries:
        e["ids"] = [f.cell for f in e["members"]]
    _unique_cell_ids(entries)
    return [
        Recording(
            t=e["pos"]["t"], x=e["pos"]["x"], y=e["pos"]["y"], x2=e["pos"]["x2"],
            y2=e["pos"]["y2"], spike_times=[_spikes(f) for f in e["members"]],
            cell_ids=list(e["ids"]), animal=e["rat"], session=e["session"],
            source=e["source"], position_unit=unit,
            cell_sources=[f"{f.path} field {f.fields['spikes']!r}" for f in e["members"]],
        )
        for e in entries
    ]


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
