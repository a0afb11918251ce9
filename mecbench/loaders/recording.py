"""One recording session before binning, and the binning of many sessions into NeuralData.

Every raw-data loader (Moser ``.mat``, NWB) produces :class:`Recording` objects in metres and
seconds; :func:`bin_recordings` bins each with :func:`mecbench.binning.bin_session` (all cells of
a session in one pass) and groups the maps by arena.

Arena inference (when no arena is given), per session and axis: twice the largest distance of a
tracked (mean-LED) position from 0 — or, for positions that were re-centred, their extent — rounded
to the nearest 10 cm (to the nearest bin when 10 cm is not a whole number of bins). LEDs overhang
walls by a few centimetres and animals rarely reach the last centimetre of a corner, so rounding
to the nearest step (not up) recovers the box (the Sargolini et al. 2006 box gives 1.0 m). Give
the arena explicitly whenever you know it.

Plausibility: a box under 0.3 m or over 5 m a side (inferred from the positions at the unit
they were read in, also when the arena is given) is implausible for a rodent arena and gives a
:class:`DataWarning` that names the position unit and arena options; under 0.2 m or over 10 m
with no arena given it is an error. The arena of every session, how it was found and the unit of
the positions are kept in the NeuralData attributes ``position_unit`` and ``arena_inference``
(JSON: per arena, ``arena_m``, ``how`` = "inferred" or "given", ``sessions``, ``position_unit``,
``position_range_m`` = the largest tracked range over its sessions, and ``plausible``).

Centring: positions are expected centred on 0 (as in the Moser-lab releases) and are left alone.
With ``recentre="auto"`` (default) an axis is shifted to centre the range of positions on 0 only
when the data are clearly in another frame: with an inferred arena, when the midpoint of the range
is further than a quarter of the extent from 0 (e.g. positions in 0…100 cm); with a given arena,
when positions would otherwise lie beyond a wall by more than the clipping tolerance while their
extent fits the box. ``recentre=True`` always centres the range; ``False`` never moves anything.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mecbench.binning import BinnedSession, BinningOptions, bin_session
from mecbench.errors import ConfigError, DataError
from mecbench.neural_data import NeuralData
from mecbench.ratemaps import arena_key, parse_arena_key

__all__ = [
    "DataWarning",
    "Recording",
    "bin_recordings",
    "find_files",
    "infer_arena_side",
    "parse_arena",
    "recording_span",
]

_MIN_SIDE, _MAX_SIDE = 0.2, 10.0  # no arena given: outside this, an error
PLAUSIBLE_SIDE = (0.3, 5.0)  # rodent arenas (m): outside this, a DataWarning
_UNIT_HINT = ("check the unit of the positions (--position-unit, position_unit=) or give the "
              "box size (--arena, arena=)")


class DataWarning(UserWarning):
    """The data loaded, but something in it looks wrong (an implausible box size, cell ids
    renamed to keep them apart); the message says what and which option changes it."""


@dataclass
class Recording:
    """Positions and spike trains of one session, in metres and seconds.

    Attributes
    ----------
    t, x, y : ndarray
        Position samples (first LED when two exist).
    x2, y2 : ndarray or None
        Second LED.
    spike_times : list of ndarray
        One array per cell.
    cell_ids : list of str
        Cell names within the session (``"t1c1"``...).
    animal, session : str
        Labels.
    source : str
        Where the positions came from (a file), for error messages.
    cell_sources : list of str
        Where each cell's spikes came from.
    position_unit : str, optional
        The unit the positions were read in before conversion to metres (``"cm"``), for the
        arena report.
    """

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    spike_times: list
    cell_ids: list
    animal: str
    session: str
    source: str
    x2: np.ndarray | None = None
    y2: np.ndarray | None = None
    cell_sources: list = field(default_factory=list)
    position_unit: str | None = None


def find_files(paths, suffix: str) -> list[Path]:
    """Files ending in ``suffix`` (case-insensitive) of a file, a directory (searched
    recursively) or a list of both, without duplicates; a named file is kept whatever its
    suffix. A missing path is a :class:`DataError` naming it."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    found: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found += sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() == suffix)
        elif p.is_file():
            found.append(p)
        else:
            raise DataError(f"{p}: no such file or directory")
    return list(dict.fromkeys(found))


def recording_span(t: np.ndarray) -> tuple[float, float]:
    """``(t0, t_end)`` of a position time vector: the last sample lasts the median interval
    (the rule of :func:`mecbench.binning.bin_session`)."""
    t = np.asarray(t, dtype=np.float64).reshape(-1)
    return float(t[0]), float(t[-1] + np.median(np.diff(t)))


def parse_arena(arena) -> tuple[float, float] | None:
    """``None``, a side in metres, ``(width, height)``, ``"WxH"`` / ``"1x1m"`` → (w, h) or None."""
    if arena is None:
        return None
    if isinstance(arena, (tuple, list)) and len(arena) == 2:
        w, h = float(arena[0]), float(arena[1])
    else:
        if hasattr(arena, "width") and hasattr(arena, "height"):
            w, h = float(arena.width), float(arena.height)
        else:
            try:
                w, h = parse_arena_key(arena)
            except DataError as err:
                raise ConfigError(str(err)) from None
    if not (w > 0 and h > 0 and math.isfinite(w) and math.isfinite(h)):
        raise ConfigError(f"arena sizes must be positive metres, got {arena!r}")
    return w, h


def _mean_position(rec: Recording) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(rec.x, float).reshape(-1), np.asarray(rec.y, float).reshape(-1)
    if rec.x2 is not None and np.asarray(rec.x2).size == x.size:
        x2 = np.asarray(rec.x2, float).reshape(-1)
        y2 = np.asarray(rec.y2, float).reshape(-1)
        with np.errstate(invalid="ignore"):
            x = np.where(np.isfinite(x2), np.where(np.isfinite(x), (x + x2) / 2, x2), x)
            y = np.where(np.isfinite(y2), np.where(np.isfinite(y), (y + y2) / 2, y2), y)
    return x, y


def infer_arena_side(extent: float, bin_size: float) -> float:
    """Box side (m) from the extent of positions: nearest 10 cm, or nearest bin."""
    steps = round(0.1 / bin_size)
    quantum = 0.1 if steps >= 1 and abs(steps * bin_size - 0.1) < 1e-9 else bin_size
    n = max(1, round(extent / quantum))
    return round(n * quantum / bin_size) * bin_size


def _prepare(rec: Recording, arena, bin_size: float, recentre,
             tolerance: float) -> tuple[Recording, float, float, dict]:
    """Centre positions when needed and decide the arena of one recording.

    Returns the (possibly re-centred) recording, the box width and height, and what the arena
    report needs: the tracked range of positions (m), the box they imply, whether that box is
    plausible, and whether the arena was given.
    """
    x, y = _mean_position(rec)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        raise DataError(f"{rec.source}: positions are all NaN (no tracked sample)")
    lo = np.array([x[ok].min(), y[ok].min()])
    hi = np.array([x[ok].max(), y[ok].max()])
    extent, mid = hi - lo, (hi + lo) / 2
    if recentre is True:
        shift = mid.copy()
    elif recentre == "auto" and arena is None:
        # clearly not centred (e.g. 0..100 cm): the range midpoint is far from 0
        shift = np.where(np.abs(mid) > extent / 4, mid, 0.0)
    elif recentre == "auto":
        # centred data stay put; only a range that would not fit the box is moved onto it
        side = np.asarray(arena, dtype=float)
        beyond = np.maximum(hi - side / 2, -side / 2 - lo)
        fits = extent <= side * (1 + 2 * tolerance)
        shift = np.where((beyond > tolerance * side) & fits, mid, 0.0)
    else:
        shift = np.zeros(2)
    # the box the positions imply: centred data, twice the largest distance from 0; data that
    # are (or would be) moved, their extent
    moved = shift != 0 if arena is None or recentre is True else np.abs(mid) > extent / 4
    span = np.where(moved, extent, 2 * np.maximum(np.abs(lo), np.abs(hi)))
    implied = tuple(infer_arena_side(e, bin_size) for e in span)
    unit = f" read as {rec.position_unit}" if rec.position_unit else ""
    if arena is None:
        w, h = implied
        for side, e, name in ((w, span[0], "x"), (h, span[1], "y")):
            if not _MIN_SIDE <= side <= _MAX_SIDE:
                raise DataError(
                    f"{rec.source}: positions{unit} along {name} span {e:.3g} m, which gives "
                    f"no plausible box ({_MIN_SIDE}-{_MAX_SIDE} m); {_UNIT_HINT}"
                )
    else:
        w, h = arena
    plausible = all(PLAUSIBLE_SIDE[0] <= side <= PLAUSIBLE_SIDE[1] for side in implied)
    info = {"range": extent, "implied": implied, "plausible": plausible,
            "given": arena is not None}
    if shift.any():
        def move(a, s):
            return None if a is None else np.asarray(a, float).reshape(-1) - s
        rec = dataclasses.replace(
            rec, x=move(rec.x, shift[0]), y=move(rec.y, shift[1]),
            x2=move(rec.x2, shift[0]), y2=move(rec.y2, shift[1]),
        )
    return rec, w, h, info


def _arena_report(entries: list[tuple[Recording, float, float, dict]]) -> dict:
    """Per arena key: the box, how it was found, the unit and range of the positions."""
    report: dict[str, dict] = {}
    for rec, w, h, info in entries:
        key = arena_key(w, h)
        entry = report.setdefault(key, {
            "arena_m": [float(w), float(h)],
            "how": "given" if info["given"] else "inferred",
            "sessions": 0, "position_unit": [], "position_range_m": [0.0, 0.0],
            "plausible": True,
        })
        entry["sessions"] += 1
        unit = rec.position_unit or "m"
        if unit not in entry["position_unit"]:
            entry["position_unit"].append(unit)
        entry["position_range_m"] = [round(max(a, float(b)), 6) for a, b in
                                     zip(entry["position_range_m"], info["range"], strict=True)]
        entry["plausible"] = entry["plausible"] and info["plausible"]
    for entry in report.values():
        entry["position_unit"] = ", ".join(entry["position_unit"])
    return report


def _warn_implausible(entries: list[tuple[Recording, float, float, dict]]) -> None:
    """One :class:`DataWarning` for all sessions whose positions imply an implausible box."""
    bad = [(rec, info) for rec, _, _, info in entries if not info["plausible"]]
    if not bad:
        return
    rec, info = bad[0]
    unit = f" (read as {rec.position_unit})" if rec.position_unit else ""
    more = f" and {len(bad) - 1} more session(s)" if len(bad) > 1 else ""
    w, h = info["implied"]
    warnings.warn(
        f"{rec.source}{more}: positions{unit} span {info['range'][0]:.3g} x "
        f"{info['range'][1]:.3g} m, a {w:g} x {h:g} m box, implausible for a rodent arena "
        f"({PLAUSIBLE_SIDE[0]:g}-{PLAUSIBLE_SIDE[1]:g} m); {_UNIT_HINT}",
        DataWarning, stacklevel=3,
    )


def _check_spike_range(rec: Recording) -> None:
    """Spikes must be finite and inside the position recording; name the file if not."""
    t = np.asarray(rec.t, dtype=np.float64).reshape(-1)
    if t.size < 2 or not np.isfinite(t).all():
        return  # bin_session reports bad time vectors
    t0, t_end = recording_span(t)
    for c, train in enumerate(rec.spike_times):
        s = np.asarray(train, dtype=np.float64).reshape(-1)
        where = rec.cell_sources[c] if c < len(rec.cell_sources) else \
            f"{rec.source} cell {rec.cell_ids[c]!r}"
        if not np.isfinite(s).all():
            raise DataError(f"{where}: spike times contain NaN or inf")
        bad = (s < t0) | (s > t_end)
        if bad.any():
            raise DataError(
                f"{where}: {int(bad.sum())} spike time(s) outside the position recording "
                f"[{t0:g}, {t_end:g}] s of {rec.source} (e.g. {s[bad][0]:g} s); pass "
                "spikes_outside='drop' to ignore them"
            )


def _binning_options(options: BinningOptions | None, bin_size: float | None,
                     recentre: bool | str, binning_kw: dict) -> BinningOptions:
    """The checked binning options of :func:`bin_recordings`."""
    forbidden = {"neuroid_id", "animal", "session", "cell_id", "where"} & set(binning_kw)
    if forbidden:
        raise ConfigError(f"these are set by the loader, not by the caller: {sorted(forbidden)}")
    if bin_size is not None:
        binning_kw["bin_size"] = bin_size
    opts = BinningOptions.merge(options, binning_kw)
    bin_size = float(opts.bin_size)
    if not (bin_size > 0 and math.isfinite(bin_size)):
        raise ConfigError(f"bin_size must be a positive number of metres, got {bin_size!r}")
    if recentre not in (True, False, "auto"):
        raise ConfigError(f"recentre must be True, False or 'auto', got {recentre!r}")
    return BinningOptions.merge(opts, {"bin_size": bin_size})


def _bin_prepared(prepared: list[tuple[Recording, float, float, dict]], opts: BinningOptions,
                  progress: bool) -> tuple[list[BinnedSession], dict[str, float]]:
    """Every prepared session binned in its box, and the totals of their numeric info."""
    sessions: list[BinnedSession] = []
    totals: dict[str, float] = {}
    check_spikes = opts.spikes_outside == "error"
    iterator = prepared
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(prepared, desc="binning sessions", unit="session")
    for rec, w, h, _ in iterator:
        if check_spikes:
            _check_spike_range(rec)
        cell_ids = [str(c) for c in rec.cell_ids]
        binned = bin_session(
            rec.t, rec.x, rec.y, rec.spike_times, x2=rec.x2, y2=rec.y2,
            arena_width=w, arena_height=h, options=opts,
            neuroid_id=[f"{rec.animal}/{rec.session}/{c}" for c in cell_ids],
            animal=str(rec.animal), session=str(rec.session), cell_id=cell_ids,
            where=rec.source,
        )
        sessions.append(binned)
        for key, value in binned.info.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                totals[key] = totals.get(key, 0) + value
    return sessions, totals


def _binning_attrs(opts: BinningOptions, recentre: bool | str, arena,
                   prepared: list[tuple[Recording, float, float, dict]], n_sessions: int,
                   totals: dict[str, float]) -> dict:
    """Provenance attributes of the binned data: parameters, arena inference, totals."""
    params = {**dataclasses.asdict(opts), "recentre": recentre}
    params["arena"] = "inferred per session" if arena is None else list(arena)
    report = _arena_report(prepared)
    units = sorted({e["position_unit"] for e in report.values()})
    return {
        "position_unit": ", ".join(units),
        "arena_inference": json.dumps(report, sort_keys=True),
        "n_sessions": n_sessions,
        "binning": json.dumps(params, sort_keys=True, default=str),
        "n_spikes": int(totals.get("n_spikes", 0)),
        "n_spikes_used": int(totals.get("n_spikes_used", 0)),
        "n_spikes_outside_recording": int(totals.get("n_spikes_outside_recording", 0)),
        "n_spikes_in_gaps": int(totals.get("n_spikes_in_gaps", 0)),
        "recording_time_s": float(totals.get("duration_s", 0.0)),
        "time_used_s": float(totals.get("time_used_s", 0.0)),
    }


def bin_recordings(
    recordings: Sequence[Recording],
    *,
    arena=None,
    bin_size: float | None = None,
    recentre: bool | str = "auto",
    attrs: dict | None = None,
    progress: bool = False,
    options: BinningOptions | None = None,
    **binning_kw,
) -> NeuralData:
    """Bin every recording and collect the maps, grouped by arena, into NeuralData.

    Parameters
    ----------
    recordings : sequence of Recording
    arena : None, float, (width, height) or "WxH"
        Box size in metres; inferred per session when None (see the module docstring).
    bin_size : float, optional
        Bin side in metres (default: that of ``options``, 0.05).
    recentre : bool or "auto"
        Shift positions so that their range is centred on 0 (see the module docstring).
    attrs : dict, optional
        Provenance merged into the NeuralData attributes.
    progress : bool
        Show a progress bar over sessions.
    options : BinningOptions, optional
        How every session is binned (:class:`mecbench.binning.BinningOptions`).
    **binning_kw
        Settings of :class:`~mecbench.binning.BinningOptions` by name (``smoothing_sigma``,
        ``min_occupancy``, ``speed_min``, ``halves``...), applied on top of ``options``.

    Returns
    -------
    NeuralData
        Neuroid ids ``"<animal>/<session>/<cell>"``, coordinates ``animal``, ``session`` and
        ``cell_id``; attributes record the binning parameters and spike/sample counts.
    """
    if not recordings:
        raise DataError("no recording to bin")
    opts = _binning_options(options, bin_size, recentre, binning_kw)
    arena = parse_arena(arena)
    # every session's box first: a wrong unit is reported before binning fails on it
    prepared = [_prepare(rec, arena, float(opts.bin_size), recentre,
                         float(opts.outside_tolerance)) for rec in recordings]
    _warn_implausible(prepared)
    sessions, totals = _bin_prepared(prepared, opts, progress)
    ids = np.concatenate([s.rate["neuroid_id"].values for s in sessions])
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise DataError(
            f"the same cell appears more than once: {uniq[counts > 1][:5].tolist()} "
            "(duplicate files for one rat, session and cell?)"
        )
    meta = {**_binning_attrs(opts, recentre, arena, prepared, len(sessions), totals),
            **(attrs or {})}
    halves = [s.rate_halves for s in sessions]
    nd = NeuralData.from_rate_maps(
        [s.rate for s in sessions],
        halves=None if any(h is None for h in halves) else halves,
        occupancy=[s.occupancy for s in sessions],
        attrs=meta,
    )
    return nd

