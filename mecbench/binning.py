"""Spikes and positions in, rate maps out: occupancy-normalised, smoothed, split-half.

:func:`bin_session` turns one recording session (position samples and the spike times of any
number of cells) into rate maps on the bin grid of a box centred on 0, in ONE vectorised pass
for all cells (a single :func:`numpy.bincount` over combined (cell, half, bin) indices; no
Python loop over cells). Model activity sampled along trajectories is averaged per bin by
:mod:`mecbench.providers.accumulator`.

Defaults (all in metres and seconds) and where they come from:

- ``bin_size = 0.05`` m: the 5 cm bins of the data of Nayebi et al. 2021.
- ``smoothing_sigma = 0.05`` m (one 5 cm bin): Gaussian smoothing of the spike-count and the
  occupancy maps separately, then their ratio ("adaptive"/normalised-convolution smoothing of
  Hafting et al. 2005 and Sargolini et al. 2006, who smoothed count and time maps separately).
  One bin keeps the smallest grid fields (spacing ~0.3 m, Stensola et al. 2012) resolved.
  The kernel is truncated at 4 sigma (as :func:`scipy.ndimage.gaussian_filter`), zero-padded
  at the walls; zeros outside the box or in unvisited bins add nothing to either map, so they
  never pull rates towards zero (the normalisation divides them out).
- ``min_occupancy = 0.1`` s: bins where the animal spent less time (after the speed filter)
  are NaN. At 50 Hz tracking this is 5 position samples: fewer give rates dominated by one or
  two spikes. Set 0 to keep every visited bin.
- ``speed_min = 0.025`` m/s: samples slower than 2.5 cm/s are excluded from occupancy and
  their spikes dropped (immobility; the 2.5 cm/s threshold is a common convention of
  open-field grid-cell analyses). ``speed_max`` (None) can drop tracking jumps.
- ``max_gap``: an interval between position samples longer than this (default ten times the
  median sampling interval) is treated as lost tracking: the sample before it is given the
  median interval and spikes in the rest of the gap are dropped. Shorter gaps (a missing
  sample or two) count in full for the sample before them.

Positions outside the box are, by default, clipped into the edge bins when they lie within
``outside_tolerance`` (a fraction of the box side, 10 %) of a wall: tracked LEDs on the head
overhang the wall by a few centimetres. Positions further out raise :class:`DataError` (a
wrong arena or positions in cm); ``outside="drop"`` instead excludes every sample outside.

Time: each position sample ``i`` stands for the interval ``[t_i, t_{i+1})`` (``dt_i`` from the
time vector; the last sample gets the median interval). A spike belongs to the sample whose
interval holds it (``searchsorted``), so occupancy and spikes are counted consistently.
Spikes before ``t_0`` or after ``t_end = t_last + dt_last`` raise :class:`DataError` (or are
dropped with ``spikes_outside="drop"``). Split halves are by session time: samples starting
before the midpoint of ``[t_0, t_end)`` form the first half.

Two LEDs: the position is their mean (or the one that is tracked when the other is NaN); the
head direction is the angle of the vector from LED 2 to LED 1 (``atan2(y1 - y2, x1 - x2)``,
radians): in the Sargolini et al. 2006 release this agrees with the direction of running
(the first LED is at the front).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import xarray as xr

from mecbench.errors import ConfigError, DataError, UnknownIdentifierError
from mecbench.ratemaps import DIMS, Arena, make_rate_maps

__all__ = [
    "BinningOptions",
    "BinnedSession",
    "SessionArrays",
    "bin_session",
    "bin_session_arrays",
    "smooth_normalised",
    "gaussian_kernel_matrix",
    "DEFAULT_BIN_SIZE",
    "DEFAULT_SMOOTHING_SIGMA",
    "DEFAULT_MIN_OCCUPANCY",
    "DEFAULT_SPEED_MIN",
    "DEFAULT_OUTSIDE_TOLERANCE",
]

DEFAULT_BIN_SIZE = 0.05
DEFAULT_SMOOTHING_SIGMA = 0.05
DEFAULT_MIN_OCCUPANCY = 0.1
DEFAULT_SPEED_MIN = 0.025
DEFAULT_OUTSIDE_TOLERANCE = 0.1
_TRUNCATE = 4.0


@dataclass(frozen=True)
class BinningOptions:
    """How positions and spikes become rate maps: every setting of :func:`bin_session` and
    :func:`bin_session_arrays` other than the data, the box and the labels.

    The defaults and where they come from are in the module docstring. Invalid settings raise
    :class:`~mecbench.errors.ConfigError` when the options are made (``bin_size`` is checked
    with the box, by the binner).

    Attributes
    ----------
    bin_size : float
        Side of a square bin (m), default 0.05.
    smoothing_sigma : float or None
        Gaussian standard deviation in metres (default 0.05 = one 5 cm bin); 0 or None for
        no smoothing. Counts and occupancy are smoothed separately (normalised convolution).
    min_occupancy : float
        Seconds per bin below which the rate is NaN (default 0.1); the threshold applies to
        the unsmoothed occupancy, separately in each half.
    speed_min, speed_max : float or None
        Samples slower than ``speed_min`` (default 0.025 m/s) or faster than ``speed_max``
        (default None: no limit) are excluded, with their spikes. Speed is the central
        difference of the (mean) position over time; samples next to lost tracking have no
        speed and are excluded when a speed filter is on.
    halves : bool
        Also compute maps of the first and second half of the session.
    outside : {"clip", "drop", "error"}
        Positions outside the box: clipped into the edge bins (when within
        ``outside_tolerance`` of a wall, else DataError), dropped, or an error.
    outside_tolerance : float
        Largest overhang beyond a wall, as a fraction of the box side, that ``"clip"`` accepts.
    max_gap : float, optional
        Intervals between samples longer than this (s) are lost tracking (default ten times
        the median interval).
    spikes_outside : {"error", "drop"}
        What to do with spikes before the first sample or after the end of the recording.
    """

    bin_size: float = DEFAULT_BIN_SIZE
    smoothing_sigma: float | None = DEFAULT_SMOOTHING_SIGMA
    min_occupancy: float = DEFAULT_MIN_OCCUPANCY
    speed_min: float | None = DEFAULT_SPEED_MIN
    speed_max: float | None = None
    halves: bool = True
    outside: str = "clip"
    outside_tolerance: float = DEFAULT_OUTSIDE_TOLERANCE
    max_gap: float | None = None
    spikes_outside: str = "error"

    def __post_init__(self) -> None:
        if self.outside not in ("clip", "drop", "error"):
            raise ConfigError(f"outside must be 'clip', 'drop' or 'error', got {self.outside!r}")
        if self.spikes_outside not in ("error", "drop"):
            raise ConfigError(
                f"spikes_outside must be 'error' or 'drop', got {self.spikes_outside!r}")
        _check_positive(self.smoothing_sigma or 0.0, "smoothing_sigma")
        _check_positive(self.min_occupancy, "min_occupancy")
        _check_positive(self.speed_min or 0.0, "speed_min")
        if self.speed_max is not None:
            _check_positive(self.speed_max, "speed_max", False)
        _check_positive(self.outside_tolerance, "outside_tolerance")
        if self.max_gap is not None:
            _check_positive(self.max_gap, "max_gap", allow_zero=False)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The names of the settings, in the order of the fields."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def merge(cls, options: BinningOptions | None = None,
              settings: Mapping[str, Any] | None = None) -> BinningOptions:
        """``options`` (default: all defaults) with the keyword ``settings`` applied on top.

        Raises
        ------
        UnknownIdentifierError
            A setting that is not a field, with the closest names.
        ConfigError
            ``options`` is not a :class:`BinningOptions`, or a setting is invalid.
        """
        if options is None:
            options = cls()
        elif not isinstance(options, cls):
            raise ConfigError(f"options must be a BinningOptions, got {type(options).__name__}")
        settings = dict(settings or {})
        for name in settings:
            if name not in cls.names():
                raise UnknownIdentifierError("binning option", name, cls.names())
        return replace(options, **settings) if settings else options


@dataclass
class BinnedSession:
    """Rate maps of all cells of one session.

    Attributes
    ----------
    rate : xarray.DataArray
        (x, y, neuroid) rates in Hz, NaN where occupancy < ``min_occupancy``.
    rate_halves : xarray.DataArray or None
        (half=2, x, y, neuroid): maps from the first and second half of the session (by time).
    occupancy : xarray.DataArray
        (x, y, neuroid) seconds spent per bin after the speed filter (the session's map,
        repeated for every neuroid, as :class:`~mecbench.neural_data.NeuralData` stores it).
    head_direction : ndarray or None
        Head direction (rad) per position sample when two LEDs exist, NaN where either LED
        is missing.
    speed : ndarray
        Running speed (m/s) per position sample, NaN where the position is missing.
    info : dict
        Counts for provenance: samples used, spikes used and dropped (speed, gaps), duration.
    """

    rate: xr.DataArray
    rate_halves: xr.DataArray | None
    occupancy: xr.DataArray
    head_direction: np.ndarray | None
    speed: np.ndarray
    info: dict = field(default_factory=dict)


@dataclass
class SessionArrays:
    """Rate maps of one session as numpy arrays (see :func:`bin_session_arrays`).

    Attributes
    ----------
    rate : ndarray, shape (n_x, n_y, n_cells)
        Hz, NaN where occupancy < ``min_occupancy``.
    rate_halves : ndarray, shape (2, n_x, n_y, n_cells), or None
    occupancy : ndarray, shape (n_x, n_y)
        Seconds per bin after the speed filter.
    head_direction, speed : ndarray or None, ndarray
        Per position sample, as in :class:`BinnedSession`.
    info : dict
        Sample and spike counts.
    """

    rate: np.ndarray
    rate_halves: np.ndarray | None
    occupancy: np.ndarray
    head_direction: np.ndarray | None
    speed: np.ndarray
    info: dict


# --------------------------------------------------------------------------------------------
# smoothing
# --------------------------------------------------------------------------------------------
def gaussian_kernel_matrix(n: int, sigma_bins: float, truncate: float = _TRUNCATE) -> np.ndarray:
    """Matrix ``K`` (n, n) with ``(K @ v)`` = v convolved with a Gaussian, zero-padded.

    The kernel is ``exp(-d² / 2σ²)`` for ``|d| <= int(truncate·σ + 0.5)`` bins, normalised to
    sum 1 over that window (the normalisation cancels in normalised convolution).
    """
    d = np.arange(n)[:, None] - np.arange(n)[None, :]
    radius = int(truncate * float(sigma_bins) + 0.5)
    k = np.exp(-0.5 * (d / float(sigma_bins)) ** 2)
    k[np.abs(d) > radius] = 0.0
    window = np.arange(-radius, radius + 1)
    return k / np.exp(-0.5 * (window / float(sigma_bins)) ** 2).sum()


def smooth_normalised(
    counts: np.ndarray,
    occupancy: np.ndarray,
    sigma_bins: float,
    *,
    truncate: float = _TRUNCATE,
) -> tuple[np.ndarray, np.ndarray]:
    """Smooth spike counts and occupancy with the same separable Gaussian kernel.

    Parameters
    ----------
    counts : ndarray, shape (..., n_x, n_y)
        Spike counts (any leading dims: cells, halves).
    occupancy : ndarray, shape (..., n_x, n_y)
        Seconds per bin, broadcastable to ``counts``; 0 in unvisited bins.
    sigma_bins : float
        Standard deviation of the kernel in bins; 0 returns the inputs unchanged.

    Returns
    -------
    smoothed_counts, smoothed_occupancy : ndarray
        Their ratio is the normalised-convolution rate; bins outside the box and unvisited
        bins contribute zero to both, so they do not bias rates towards zero.
    """
    counts = np.asarray(counts, dtype=np.float64)
    occupancy = np.asarray(occupancy, dtype=np.float64)
    if not sigma_bins:
        return counts, occupancy
    nx, ny = counts.shape[-2:]
    kx = gaussian_kernel_matrix(nx, sigma_bins, truncate)
    ky = gaussian_kernel_matrix(ny, sigma_bins, truncate)
    return kx @ counts @ ky.T, kx @ occupancy @ ky.T


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------
def _vector(value, name: str, where: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{where}: {name!r} must be numeric") from None
    if arr.ndim > 1:
        if sum(s > 1 for s in arr.shape) > 1:
            raise DataError(f"{where}: {name!r} must be a vector, got shape {arr.shape}")
        arr = arr.reshape(-1)
    return arr.reshape(-1)


def _check_positive(value, name: str, allow_zero: bool = True) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ConfigError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return v


def _session_positions(t, x, y, x2, y2, where):
    t = _vector(t, "t", where)
    x = _vector(x, "x", where)
    y = _vector(y, "y", where)
    if t.size < 2:
        raise DataError(f"{where}: 't' has {t.size} samples; at least 2 are needed")
    for name, arr in (("x", x), ("y", y)):
        if arr.size != t.size:
            raise DataError(
                f"{where}: position {name!r} has {arr.size} samples but time 't' has {t.size}"
            )
    if not np.isfinite(t).all():
        raise DataError(f"{where}: time 't' contains non-finite values")
    if (np.diff(t) <= 0).any():
        i = int(np.flatnonzero(np.diff(t) <= 0)[0])
        raise DataError(
            f"{where}: time 't' must be strictly increasing (sample {i + 1}: {t[i + 1]} s "
            f"after {t[i]} s)"
        )
    head = None
    if (x2 is None) != (y2 is None):
        raise DataError(f"{where}: give both 'x2' and 'y2' for a second LED, or neither")
    if x2 is not None:
        x2 = _vector(x2, "x2", where)
        y2 = _vector(y2, "y2", where)
        if x2.size == 0 and y2.size == 0:
            x2 = y2 = None
    if x2 is not None:
        for name, arr in (("x2", x2), ("y2", y2)):
            if arr.size != t.size:
                raise DataError(
                    f"{where}: position {name!r} has {arr.size} samples but time 't' has "
                    f"{t.size}"
                )
        two = np.isfinite(x2) & np.isfinite(y2)
        if two.any():
            one = np.isfinite(x) & np.isfinite(y)
            both = one & two
            head = np.full(t.size, np.nan)
            head[both] = np.arctan2(y[both] - y2[both], x[both] - x2[both])
            mx = np.where(both, 0.5 * (x + x2), np.where(one, x, x2))
            my = np.where(both, 0.5 * (y + y2), np.where(one, y, y2))
            x, y = mx, my
    finite = np.isfinite(x) & np.isfinite(y)
    if not finite.any():
        raise DataError(f"{where}: positions 'x'/'y' are all NaN (no tracked sample)")
    return t, x, y, finite, head


def _speed(t: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Speed per sample: |p[i+1] - p[i-1]| / (t[i+1] - t[i-1]) (one-sided at the ends)."""
    dx = np.empty_like(x)
    dy = np.empty_like(y)
    span = np.empty_like(t)
    for d, v in ((dx, x), (dy, y), (span, t)):
        np.subtract(v[2:], v[:-2], out=d[1:-1])
        d[0], d[-1] = v[1] - v[0], v[-1] - v[-2]
    with np.errstate(invalid="ignore"):
        dx *= dx
        dy *= dy
        dx += dy
        np.sqrt(dx, out=dx)
        dx /= span
    return dx


def _sample_intervals(t: np.ndarray, max_gap: float | None) -> tuple[np.ndarray, float]:
    diffs = np.diff(t)
    med = float(np.median(diffs))
    limit = 10.0 * med if max_gap is None else float(max_gap)
    dt = np.empty_like(t)
    dt[:-1] = np.where(diffs > limit, med, diffs)
    dt[-1] = med
    return dt, med


class _SampleLocator:
    """Index of the last position sample at or before each time (``t[0] <= s``).

    Equal to ``clip(searchsorted(t, s, side="right") - 1, 0, n - 1)`` but linear in the number
    of spikes, in three regimes chosen from the time vector once:

    - ``"grid"`` (every ``t_i`` within 1 % of an interval of ``t_0 + i·Δ``, e.g. clock-driven
      tracking): ``floor((s - t_0)/Δ)`` is exact unless ``s`` lies within the sampling jitter
      (plus floating-point error) of a sample time; only those spikes are checked;
    - ``"regular"`` (within 0.45 of an interval): the same guess is off by at most one sample,
      fixed with one comparison on each side;
    - ``"table"`` (missing samples, irregular clocks): a lookup table on a regular grid of
      ``step`` (the median interval) gives the answer up to the few samples inside one grid
      cell, which are stepped over; anything unresolved after a few steps, and pathological
      time vectors, fall back to ``searchsorted``.
    """

    def __init__(self, t: np.ndarray, step: float):
        self.t = t
        self.t_pad = np.append(t, np.inf)
        self.t_next = self.t_pad[1:]  # t_next[i] = t[i + 1], +inf after the last sample
        n = self.n = t.size
        self.mode = "search"
        if n < 3:
            return
        self.slope = (t[-1] - t[0]) / (n - 1)
        deviation = np.abs(t - (t[0] + self.slope * np.arange(n))).max()
        n_grid = int(np.ceil((t[-1] - t[0]) / step)) + 2
        if deviation < 0.01 * self.slope:
            self.mode = "grid"
            self.thr = deviation / self.slope + 64 * np.finfo(float).eps * (n + 1)
        elif deviation < 0.45 * self.slope:
            self.mode = "regular"
        elif n_grid <= 4 * n + 16:  # else the table would be large: searchsorted
            self.mode = "table"
            self.step, self.n_grid = step, n_grid
            self.table = np.searchsorted(t, t[0] + step * np.arange(n_grid), "right") - 1

    def _guess(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``floor((s - t_0)/Δ)`` clipped to the samples, and the fractional part."""
        u = s - self.t[0]
        u *= 1.0 / self.slope
        idx = u.astype(np.intp)
        np.minimum(idx, self.n - 1, out=idx)
        u -= idx
        return idx, u

    def _one_step(self, s: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Exact index when ``idx`` is off by at most one sample (in place).

        ``t[g] > s`` means the answer is ``g - 1`` (then ``t[g + 1] > s`` too); otherwise it
        is ``g + (t[g + 1] <= s)``. Never below 0 as ``t[0] <= s``.
        """
        before = np.take(self.t_pad, idx) > s
        after = np.take(self.t_next, idx) <= s
        np.subtract(idx, before, out=idx, casting="unsafe")
        np.add(idx, after, out=idx, casting="unsafe")
        return idx

    def __call__(self, s: np.ndarray) -> np.ndarray:
        """Sample indices of times ``s``, all ``>= t[0]``."""
        t, n = self.t, self.n
        if self.mode == "search" or s.size == 0:
            return np.clip(np.searchsorted(t, s, side="right") - 1, 0, n - 1)
        if self.mode == "grid":
            idx, frac = self._guess(s)
            near = (frac < self.thr) | (frac >= 1.0 - self.thr)
            if near.any():
                idx[near] = self._one_step(s[near], idx[near])
            return idx
        if self.mode == "regular":
            return self._one_step(s, self._guess(s)[0])
        k = np.floor((s - t[0]) / self.step).astype(np.intp)
        np.clip(k, 0, self.n_grid - 1, out=k)
        idx = np.maximum(self.table[k], 0)
        idx -= t[idx] > s
        np.maximum(idx, 0, out=idx)
        for _ in range(4):
            nxt = np.minimum(idx + 1, n - 1)
            ahead = (nxt > idx) & (t[nxt] <= s)
            if not ahead.any():
                break
            idx += ahead
        nxt = np.minimum(idx + 1, n - 1)
        wrong = ((t[idx] > s) & (idx > 0)) | ((nxt > idx) & (t[nxt] <= s))
        if wrong.any():
            idx[wrong] = np.clip(np.searchsorted(t, s[wrong], side="right") - 1, 0, n - 1)
        return idx


def _sample_index(t: np.ndarray, s: np.ndarray, step: float) -> np.ndarray:
    """``clip(searchsorted(t, s, side="right") - 1, 0, n - 1)`` via :class:`_SampleLocator`."""
    return _SampleLocator(t, step)(s)


_CHUNK = 16_384  # spikes per pass: the working arrays of one chunk stay in the CPU cache


def _count_spikes(trains, ids, t, t_end, dt, med, code, n_slots, gaps, spikes_outside, where):
    """Spike counts (n_cells, n_slots) by (cell, slot) in one vectorised pass over all cells.

    The spike trains are consumed in cache-sized chunks of consecutive spikes (a chunk spans as
    many cells as it needs; no step works cell by cell): each spike gets its position sample
    (:class:`_SampleLocator`), the sample's slot from ``code`` (the last slot collects excluded
    samples and, with ``gaps``, spikes in lost tracking) and its cell's offset; one ``bincount``
    per chunk adds them up. Returns counts, spikes in gaps, spikes outside the recording.
    """
    n_cells = len(trains)
    lengths = np.fromiter((tr.size for tr in trains), dtype=np.int64, count=n_cells)
    starts = np.zeros(n_cells + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    total = int(starts[-1])
    counts = np.zeros(n_cells * n_slots, dtype=np.int64)
    locate = _SampleLocator(t, med)
    t0 = t[0]
    n_in_gap = n_outside = 0
    for a in range(0, total, _CHUNK):
        b = min(a + _CHUNK, total)
        c0 = int(np.searchsorted(starts, a, side="right")) - 1
        c1 = int(np.searchsorted(starts, b - 1, side="right")) - 1
        pieces = [trains[c][max(a - starts[c], 0):min(b, starts[c + 1]) - starts[c]]
                  for c in range(c0, c1 + 1)]
        s = np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
        local = np.repeat(np.arange(c1 - c0 + 1, dtype=np.int32) * np.int32(n_slots),
                          [p.size for p in pieces])
        if not (t0 <= s.min() and s.max() <= t_end):  # NaN fails this test too
            bad = ~np.isfinite(s)
            if bad.any():
                c = c0 + int(local[bad][0]) // n_slots
                raise DataError(f"{where}: spike times of cell {ids[c]!r} contain non-finite "
                                "values (NaN or inf)")
            out = (s < t0) | (s > t_end)
            if spikes_outside == "error":
                c = c0 + int(local[out][0]) // n_slots
                n_bad = int(((trains[c] < t0) | (trains[c] > t_end)).sum())
                raise DataError(
                    f"{where}: cell {ids[c]!r} has {n_bad} spike(s) outside the position "
                    f"recording [{t0:g}, {t_end:g}] s (e.g. {s[out][0]:g} s); pass "
                    "spikes_outside='drop' to ignore them"
                )
            n_outside += int(out.sum())
            s, local = s[~out], local[~out]
        sample = locate(s)
        sc = np.take(code, sample)
        if gaps:
            in_gap = (s - t[sample]) > dt[sample]
            n_in_gap += int(in_gap.sum())
            sc[in_gap] = n_slots - 1
        sc += local  # int64 += int32: in place
        counts[c0 * n_slots:(c1 + 1) * n_slots] += np.bincount(
            sc, minlength=(c1 - c0 + 1) * n_slots
        )
    return counts.reshape(n_cells, n_slots), n_in_gap, n_outside


def _bin_index(
    x: np.ndarray,
    y: np.ndarray,
    ok: np.ndarray,
    arena: Arena,
    outside: str,
    tolerance: float,
    where: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Flat bin index (C order over x, y) per sample and the updated mask of usable samples."""
    nx, ny = arena.shape
    half_w, half_h = arena.width / 2, arena.height / 2
    xs = np.where(ok, x, 0.0)
    ys = np.where(ok, y, 0.0)
    if xs.min() < -half_w or xs.max() > half_w or ys.min() < -half_h or ys.max() > half_h:
        out = ok & ((np.abs(xs) > half_w) | (np.abs(ys) > half_h))
        if outside == "drop":
            ok = ok & ~out
        else:
            over = max(
                float(np.max(np.abs(xs[out]) - half_w)) / arena.width,
                float(np.max(np.abs(ys[out]) - half_h)) / arena.height,
            )
            if outside == "error" or over > tolerance:
                raise DataError(
                    f"{where}: {int(out.sum())} position samples lie outside the "
                    f"{arena.width:g}x{arena.height:g} m arena (up to {over:.0%} of its side "
                    "beyond a wall); check the arena size and that positions are in metres "
                    "centred on 0, or pass outside='drop'"
                )
    # truncation equals floor for values >= 0; anything below 0 is clipped to bin 0 anyway
    xs += half_w
    xs *= 1.0 / arena.bin_size
    ix = xs.astype(np.intp)
    np.clip(ix, 0, nx - 1, out=ix)
    ys += half_h
    ys *= 1.0 / arena.bin_size
    iy = ys.astype(np.intp)
    np.clip(iy, 0, ny - 1, out=iy)
    ix *= ny
    ix += iy
    return ix, ok


# --------------------------------------------------------------------------------------------
# the session binner
# --------------------------------------------------------------------------------------------
def _speed_filter(speed: np.ndarray, finite: np.ndarray, vmin: float,
                  vmax: float | None) -> np.ndarray:
    """Samples with a finite position and a speed within ``[vmin, vmax]`` (when filtering)."""
    ok = finite.copy()
    if vmin > 0 or vmax is not None:
        with np.errstate(invalid="ignore"):
            fast_enough = speed >= vmin
            if vmax is not None:
                fast_enough &= speed <= vmax
        ok &= fast_enough
    return ok


def _spike_trains(spike_times: Sequence[np.ndarray], cell_names: Sequence[str] | None,
                  where: str) -> tuple[list[str], list[np.ndarray]]:
    """Cell labels and checked spike-time vectors of a session."""
    n_cells = len(spike_times)
    if n_cells == 0:
        raise DataError(f"{where}: no cells (spike_times is empty)")
    ids = [f"cell {i}" for i in range(n_cells)] if cell_names is None else \
        [str(c) for c in cell_names]
    if len(ids) != n_cells:
        raise DataError(f"{where}: {len(ids)} neuroid ids for {n_cells} cells")
    trains = [_vector(s, f"spike times of {ids[c]}", where) for c, s in enumerate(spike_times)]
    return ids, trains


def _rates(c: np.ndarray, o: np.ndarray, width: float, min_occ: float) -> np.ndarray:
    """Smoothed rate (cells, x, y) from counts and occupancy (x, y); NaN below ``min_occ``."""
    sc, so = smooth_normalised(c, o, width)
    valid = (o >= min_occ) & (o > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = sc / so
    return np.where(valid, r, np.nan)


def bin_session_arrays(
    t,
    x,
    y,
    spike_times: Sequence[np.ndarray],
    *,
    arena_width: float,
    arena_height: float | None = None,
    x2=None,
    y2=None,
    options: BinningOptions | None = None,
    where: str | None = None,
    cell_names: Sequence[str] | None = None,
    **settings: Any,
) -> SessionArrays:
    """The numeric core of :func:`bin_session`: the same maps as plain numpy arrays.

    Takes the arguments of :func:`bin_session` (``cell_names`` only label error messages) and
    returns a :class:`SessionArrays`; no xarray objects are built, which matters when binning
    many short sessions (simulations). See :func:`bin_session` for the parameters.
    """
    opts = BinningOptions.merge(options, settings)
    where = where or "session"
    arena_height = arena_width if arena_height is None else arena_height
    try:
        arena = Arena(float(arena_width), float(arena_height), float(opts.bin_size))
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where}: {err}") from None
    sigma = float(opts.smoothing_sigma or 0.0)
    min_occ = float(opts.min_occupancy)
    vmin = float(opts.speed_min or 0.0)
    vmax = None if opts.speed_max is None else float(opts.speed_max)
    tol = float(opts.outside_tolerance)
    halves, outside, max_gap = opts.halves, opts.outside, opts.max_gap
    spikes_outside = opts.spikes_outside

    t, x, y, finite, head = _session_positions(t, x, y, x2, y2, where)
    n = t.size
    dt, med = _sample_intervals(t, max_gap)
    t_end = t[-1] + dt[-1]

    # speed from central differences of the mean position (NaN next to lost tracking)
    speed = _speed(t, x, y)
    speed[~finite] = np.nan
    ok = _speed_filter(speed, finite, vmin, vmax)
    bins, ok = _bin_index(x, y, ok, arena, outside, tol, where)

    nx, ny = arena.shape
    nb = nx * ny
    n_halves = 2 if halves else 1
    half_of = (t >= t[0] + 0.5 * (t_end - t[0])).astype(np.int64) if halves else \
        np.zeros(n, dtype=np.int64)
    slot = half_of * nb + bins  # per sample: (half, bin)

    occ = np.bincount(slot[ok], weights=dt[ok], minlength=n_halves * nb)
    occ = occ.reshape(n_halves, nx, ny)

    # spikes of all cells at once
    n_cells = len(spike_times)
    ids, trains = _spike_trains(spike_times, cell_names, where)
    # per sample: its (half, bin) slot, or the trash slot K - 1 when excluded
    n_slots = n_halves * nb + 1
    code = np.where(ok, slot, n_slots - 1)
    gaps = bool((dt[:-1] < np.diff(t)).any())  # lost tracking: spikes past a sample's interval
    counts, n_in_gap, n_outside = _count_spikes(
        trains, ids, t, t_end, dt, med, code, n_slots, gaps, spikes_outside, where
    )
    n_used = int(counts[:, :-1].sum())
    counts = counts[:, :-1].reshape(n_cells, n_halves, nx, ny).astype(np.float64)

    total_occ = occ.sum(axis=0)
    if not ((total_occ >= min_occ) & (total_occ > 0)).any():
        raise DataError(
            f"{where}: no bin has {min_occ:g} s of occupancy (min_occupancy) after the speed "
            f"filter; {int(ok.sum())} of {n} position samples were usable"
        )
    width = sigma / arena.bin_size
    rate = _rates(counts.sum(axis=1), total_occ, width, min_occ)
    rate_halves = None
    if halves:
        rate_halves = np.stack([_rates(counts[:, k], occ[k], width, min_occ) for k in range(2)])
        rate_halves = np.moveaxis(rate_halves, 1, -1)  # (half, x, y, cell)
    info = {
        "n_samples": int(n),
        "n_samples_used": int(ok.sum()),
        "duration_s": float(t_end - t[0]),
        "time_used_s": float(total_occ.sum()),
        "sampling_interval_s": med,
        "n_spikes": int(sum(tr.size for tr in trains)),
        "n_spikes_used": n_used,
        "n_spikes_in_gaps": n_in_gap,
        "n_spikes_outside_recording": n_outside,
        "two_leds": head is not None,
    }
    return SessionArrays(np.moveaxis(rate, 0, -1), rate_halves, total_occ, head, speed, info)


def bin_session(
    t,
    x,
    y,
    spike_times: Sequence[np.ndarray],
    *,
    arena_width: float,
    arena_height: float | None = None,
    x2=None,
    y2=None,
    options: BinningOptions | None = None,
    neuroid_id: Sequence[str] | None = None,
    animal: str = "animal",
    session: str = "session",
    where: str | None = None,
    **more: Any,
) -> BinnedSession:
    """Occupancy-normalised, smoothed rate maps of every cell of one session.

    Parameters
    ----------
    t : array_like, shape (n_samples,)
        Times of the position samples (s), strictly increasing.
    x, y : array_like, shape (n_samples,)
        Positions (m) of a box centred on 0 (of the first LED when two exist); NaN marks
        lost tracking. Row or column vectors are accepted.
    spike_times : sequence of array_like
        Spike times (s) of each cell, on the clock of ``t``.
    arena_width, arena_height : float
        Size of the box (m); height defaults to width.
    x2, y2 : array_like, optional
        Positions of a second LED: the position becomes the mean of the two and
        ``head_direction`` is returned. Empty arrays mean one LED.
    options : BinningOptions, optional
        Bin size, smoothing, occupancy and speed thresholds, halves and the handling of
        positions and spikes outside the box or the recording (default: the defaults of
        :class:`BinningOptions`).
    neuroid_id : sequence of str, optional
        Unique ids; default ``"<animal>/<session>/<i>"``.
    animal, session : str
        Labels stored as neuroid coordinates.
    where : str, optional
        Name of the source (a file) used in error messages.
    **more
        Settings of :class:`BinningOptions` by name (``bin_size=0.04``, ``speed_min=0``...),
        applied on top of ``options``; every other keyword is one more coordinate along
        ``neuroid`` (``cell_id``, ``cell_type``...), one entry per cell.

    Returns
    -------
    BinnedSession

    Raises
    ------
    DataError
        Mismatched lengths, non-increasing time, all-NaN positions, positions far outside the
        box, no bin with enough occupancy, non-finite spike times, or spikes outside the
        recording (naming the cell).
    ConfigError
        Bad parameters.
    """
    names = BinningOptions.names()
    opts = BinningOptions.merge(options, {k: v for k, v in more.items() if k in names})
    neuroid_coords = {k: v for k, v in more.items() if k not in names}
    where = where or f"session {animal}/{session}"
    n_cells = len(spike_times)
    ids = (
        [f"{animal}/{session}/{i}" for i in range(n_cells)]
        if neuroid_id is None else [str(i) for i in neuroid_id]
    )
    arrays = bin_session_arrays(
        t, x, y, spike_times, arena_width=arena_width, arena_height=arena_height, x2=x2, y2=y2,
        options=opts, where=where, cell_names=ids,
    )
    arena_height = arena_width if arena_height is None else arena_height
    coords = {"session": [str(session)] * n_cells, **neuroid_coords}
    rate_da = make_rate_maps(
        arrays.rate, arena_width=float(arena_width), arena_height=float(arena_height),
        bin_size=float(opts.bin_size), neuroid_id=ids, animal=str(animal), **coords,
    )
    halves_da = None
    if arrays.rate_halves is not None:
        halves_da = xr.DataArray(
            arrays.rate_halves, dims=("half", *DIMS), coords=rate_da.coords,
            name="rate_halves", attrs=dict(rate_da.attrs),
        )
    # shallow: the new array shares the (immutable) coordinates instead of deep-copying them
    occ_da = rate_da.copy(
        deep=False, data=np.repeat(arrays.occupancy[:, :, None], n_cells, axis=2)
    ).rename("occupancy")
    return BinnedSession(rate_da, halves_da, occ_da, arrays.head_direction, arrays.speed,
                         arrays.info)

