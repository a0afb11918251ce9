"""Spikes and positions in, rate maps out: occupancy-normalised, smoothed, split-half.

:func:`bin_session` turns one recording session (position samples and the spike times of any
number of cells) into rate maps on the bin grid of a box centred on 0, in ONE vectorised pass
for all cells (a single :func:`numpy.bincount` over combined (cell, half, bin) indices; no
Python loop over cells). :func:`bin_samples` averages arbitrary per-sample values (model unit
activity along a trajectory) per bin, also in one pass (a sparse one-hot matrix product).

Defaults (all in metres and seconds) and where they come from:

- ``bin_size = 0.05`` m: the 5 cm bins of the data of Nayebi et al. 2021 (REFERENCE.md §1).
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

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from mecbench.errors import ConfigError, DataError
from mecbench.ratemaps import DIMS, Arena, grid_shape, make_rate_maps

__all__ = [
    "BinnedSession",
    "bin_session",
    "bin_samples",
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


def _sample_intervals(t: np.ndarray, max_gap: float | None) -> tuple[np.ndarray, float]:
    diffs = np.diff(t)
    med = float(np.median(diffs))
    limit = 10.0 * med if max_gap is None else float(max_gap)
    dt = np.empty_like(t)
    dt[:-1] = np.where(diffs > limit, med, diffs)
    dt[-1] = med
    return dt, med


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
    ok = ok.copy()
    xs = np.where(ok, x, 0.0)
    ys = np.where(ok, y, 0.0)
    out = ok & ((np.abs(xs) > half_w) | (np.abs(ys) > half_h))
    if out.any():
        if outside == "drop":
            ok &= ~out
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
    ix = np.clip(np.floor((xs + half_w) / arena.bin_size).astype(np.int64), 0, nx - 1)
    iy = np.clip(np.floor((ys + half_h) / arena.bin_size).astype(np.int64), 0, ny - 1)
    return ix * ny + iy, ok


# --------------------------------------------------------------------------------------------
# the session binner
# --------------------------------------------------------------------------------------------
def bin_session(
    t,
    x,
    y,
    spike_times: Sequence[np.ndarray],
    *,
    arena_width: float,
    arena_height: float | None = None,
    bin_size: float = DEFAULT_BIN_SIZE,
    x2=None,
    y2=None,
    smoothing_sigma: float | None = DEFAULT_SMOOTHING_SIGMA,
    min_occupancy: float = DEFAULT_MIN_OCCUPANCY,
    speed_min: float | None = DEFAULT_SPEED_MIN,
    speed_max: float | None = None,
    halves: bool = True,
    neuroid_id: Sequence[str] | None = None,
    animal: str = "animal",
    session: str = "session",
    outside: str = "clip",
    outside_tolerance: float = DEFAULT_OUTSIDE_TOLERANCE,
    max_gap: float | None = None,
    spikes_outside: str = "error",
    where: str | None = None,
    **neuroid_coords: Sequence,
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
    bin_size : float
        Side of a square bin (m), default 0.05.
    x2, y2 : array_like, optional
        Positions of a second LED: the position becomes the mean of the two and
        ``head_direction`` is returned. Empty arrays mean one LED.
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
    neuroid_id : sequence of str, optional
        Unique ids; default ``"<animal>/<session>/<i>"``.
    animal, session : str
        Labels stored as neuroid coordinates.
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
    where : str, optional
        Name of the source (a file) used in error messages.
    **neuroid_coords
        More coordinates along ``neuroid`` (``cell_id``, ``cell_type``...), one entry per cell.

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
    where = where or f"session {animal}/{session}"
    arena_height = arena_width if arena_height is None else arena_height
    try:
        arena = Arena(float(arena_width), float(arena_height), float(bin_size))
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where}: {err}") from None
    if outside not in ("clip", "drop", "error"):
        raise ConfigError(f"outside must be 'clip', 'drop' or 'error', got {outside!r}")
    if spikes_outside not in ("error", "drop"):
        raise ConfigError(f"spikes_outside must be 'error' or 'drop', got {spikes_outside!r}")
    sigma = _check_positive(smoothing_sigma or 0.0, "smoothing_sigma")
    min_occ = _check_positive(min_occupancy, "min_occupancy")
    vmin = _check_positive(speed_min or 0.0, "speed_min")
    vmax = None if speed_max is None else _check_positive(speed_max, "speed_max", False)
    tol = _check_positive(outside_tolerance, "outside_tolerance")
    if max_gap is not None:
        _check_positive(max_gap, "max_gap", allow_zero=False)

    t, x, y, finite, head = _session_positions(t, x, y, x2, y2, where)
    n = t.size
    dt, med = _sample_intervals(t, max_gap)
    t_end = t[-1] + dt[-1]

    # speed from central differences of the mean position (NaN next to lost tracking)
    with np.errstate(invalid="ignore"):
        vx = np.gradient(x, t)
        vy = np.gradient(y, t)
    speed = np.hypot(vx, vy)
    speed[~finite] = np.nan
    ok = finite.copy()
    if vmin > 0 or vmax is not None:
        with np.errstate(invalid="ignore"):
            fast_enough = speed >= vmin
            if vmax is not None:
                fast_enough &= speed <= vmax
        ok &= fast_enough
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
    if n_cells == 0:
        raise DataError(f"{where}: no cells (spike_times is empty)")
    ids = (
        [f"{animal}/{session}/{i}" for i in range(n_cells)]
        if neuroid_id is None else [str(i) for i in neuroid_id]
    )
    if len(ids) != n_cells:
        raise DataError(f"{where}: {len(ids)} neuroid ids for {n_cells} cells")
    trains = [_vector(s, f"spike times of {ids[c]}", where) for c, s in enumerate(spike_times)]
    lengths = np.array([tr.size for tr in trains], dtype=np.int64)
    spikes = np.concatenate(trains) if lengths.sum() else np.zeros(0)
    cell = np.repeat(np.arange(n_cells, dtype=np.int64), lengths)
    if not np.isfinite(spikes).all():
        c = int(cell[~np.isfinite(spikes)][0])
        raise DataError(f"{where}: spike times of cell {ids[c]!r} contain non-finite values")
    early = spikes < t[0]
    late = spikes > t_end
    n_outside = int(early.sum() + late.sum())
    if n_outside:
        if spikes_outside == "error":
            c = int(cell[early | late][0])
            s = spikes[early | late][0]
            raise DataError(
                f"{where}: cell {ids[c]!r} has {int(((early | late) & (cell == c)).sum())} "
                f"spike(s) outside the position recording [{t[0]:g}, {t_end:g}] s "
                f"(e.g. {s:g} s)"
            )
        inside = ~(early | late)
        spikes, cell = spikes[inside], cell[inside]
    sample = np.clip(np.searchsorted(t, spikes, side="right") - 1, 0, n - 1)
    in_gap = (spikes - t[sample]) > dt[sample]
    use = ok[sample] & ~in_gap
    counts = np.bincount(
        cell[use] * (n_halves * nb) + slot[sample[use]], minlength=n_cells * n_halves * nb
    ).reshape(n_cells, n_halves, nx, ny).astype(np.float64)

    def rates(c: np.ndarray, o: np.ndarray) -> np.ndarray:
        """Rate (cells, x, y) from counts (cells, x, y) and occupancy (x, y)."""
        sc, so = smooth_normalised(c, o, sigma / arena.bin_size)
        valid = (o >= min_occ) & (o > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = sc / so
        return np.where(valid, r, np.nan)

    total_occ = occ.sum(axis=0)
    if not ((total_occ >= min_occ) & (total_occ > 0)).any():
        raise DataError(
            f"{where}: no bin has {min_occ:g} s of occupancy (min_occupancy) after the speed "
            f"filter; {int(ok.sum())} of {n} position samples were usable"
        )
    rate = rates(counts.sum(axis=1), total_occ)
    coords = {"session": [str(session)] * n_cells, **neuroid_coords}
    rate_da = make_rate_maps(
        np.moveaxis(rate, 0, -1), arena_width=arena.width, arena_height=arena.height,
        bin_size=arena.bin_size, neuroid_id=ids, animal=str(animal), **coords,
    )
    halves_da = None
    if halves:
        h = np.stack([rates(counts[:, k], occ[k]) for k in range(2)])  # (half, cell, x, y)
        halves_da = xr.DataArray(
            np.moveaxis(h, 1, -1), dims=("half", *DIMS), coords=rate_da.coords,
            name="rate_halves", attrs=dict(rate_da.attrs),
        )
    occ_da = xr.DataArray(
        np.repeat(total_occ[:, :, None], n_cells, axis=2), dims=DIMS, coords=rate_da.coords,
        name="occupancy", attrs=dict(rate_da.attrs),
    )
    info = {
        "n_samples": int(n),
        "n_samples_used": int(ok.sum()),
        "duration_s": float(t_end - t[0]),
        "time_used_s": float(total_occ.sum()),
        "sampling_interval_s": med,
        "n_spikes": int(lengths.sum()),
        "n_spikes_used": int(use.sum()),
        "n_spikes_outside_recording": n_outside,
        "n_spikes_in_gaps": int(in_gap.sum()),
        "two_leds": head is not None,
    }
    return BinnedSession(rate_da, halves_da, occ_da, head, speed, info)


# --------------------------------------------------------------------------------------------
# per-bin mean of arbitrary samples
# --------------------------------------------------------------------------------------------
def bin_samples(
    x,
    y,
    values,
    arena: Arena,
    *,
    min_count: int = 1,
    outside: str = "clip",
    return_counts: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Mean of per-sample values in each bin of ``arena``, for all units in one pass.

    Used for model rate maps: drive a model along trajectories, then average each unit's
    activity per 5 cm bin (Nayebi et al. 2021's model maps). The sums are one sparse
    (bins × samples) one-hot matrix times ``values``.

    Parameters
    ----------
    x, y : array_like, shape (n_samples,)
        Positions (m), box centred on 0. Samples with non-finite positions are ignored.
    values : array_like, shape (n_samples, n_units) or (n_samples,)
        Activity per sample.
    arena : Arena
        Box and bin size.
    min_count : int
        Bins with fewer samples are NaN.
    outside : {"clip", "drop"}
        Samples outside the box are clipped into the edge bins or ignored.
    return_counts : bool
        Also return the number of samples per bin, shape (n_x, n_y).

    Returns
    -------
    ndarray, shape (n_x, n_y, n_units)
        Mean value per bin, NaN where fewer than ``min_count`` samples fell.
    """
    from scipy import sparse

    if outside not in ("clip", "drop"):
        raise ConfigError(f"outside must be 'clip' or 'drop', got {outside!r}")
    x = _vector(x, "x", "bin_samples")
    y = _vector(y, "y", "bin_samples")
    values = np.asarray(values)
    squeeze = values.ndim == 1
    if squeeze:
        values = values[:, None]
    if values.ndim != 2 or values.shape[0] != x.size or y.size != x.size:
        raise DataError(
            f"bin_samples: x ({x.size}), y ({y.size}) and values {values.shape} must share "
            "the number of samples"
        )
    nx, ny = grid_shape(arena.width, arena.height, arena.bin_size)
    ok = np.isfinite(x) & np.isfinite(y)
    bins, ok = _bin_index(x, y, ok, arena, "drop" if outside == "drop" else "clip",
                          np.inf, "bin_samples")
    cols = np.flatnonzero(ok)
    onehot = sparse.csr_matrix(
        (np.ones(cols.size), (bins[cols], cols)), shape=(nx * ny, x.size)
    )
    sums = np.asarray(onehot @ values.astype(np.float64, copy=False))
    counts = np.bincount(bins[cols], minlength=nx * ny)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / counts[:, None]
    mean[counts < max(int(min_count), 1)] = np.nan
    mean = mean.reshape(nx, ny, -1)
    if squeeze:
        mean = mean[..., 0:1]
    if return_counts:
        return mean, counts.reshape(nx, ny)
    return mean
