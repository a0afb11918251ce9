"""Head-direction tuning and mean vector length of recorded cells, from the raw recording.

Head direction is a property of the position samples, not of the rate maps, so it is not kept
in :class:`~mecbench.neural_data.NeuralData`. These functions go from the
:class:`~mecbench.loaders.Recording` objects that the loaders produce (``read_moser``,
``read_nwb``) to per-cell head-direction tuning curves and scores, with the conventions of
:mod:`mecbench.binning`, for all cells of a session in one vectorised pass:

- head direction per position sample is the angle of the vector from LED 2 to LED 1,
  ``atan2(y1 - y2, x1 - x2)`` (the rule of :func:`mecbench.binning.bin_session`); sessions
  tracked with one LED have none. Samples where either LED is NaN have no head direction and
  are dropped, with their spikes;
- the speed filter is the binning's: speed is the central difference of the (mean) position
  over time, samples slower than ``speed_min`` (default 2.5 cm/s) or faster than ``speed_max``
  are dropped with their spikes;
- each sample stands for the interval to the next one; intervals longer than ``max_gap``
  (default ten times the median interval) are lost tracking: the sample gets the median
  interval and spikes in the rest of the gap are dropped;
- the tuning curve is occupancy-normalised: spikes in an angular bin divided by the time spent
  facing that way (Sargolini et al. 2006 used 6° bins: ``n_bins=60``);
- the mean vector length (MVL) is ``|Σ_k r_k e^{iθ_k}| / Σ_k r_k`` over bin centres ``θ_k``
  (Sargolini et al. 2006), computed by :func:`mecbench.analysis.mean_vector_length`; the
  preferred direction is the angle of the same sum.

Positions need not be centred on a box and no arena is involved: head direction and speed do
not depend on where the box is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from mecbench.analysis.head_direction import mean_vector_length
from mecbench.binning import (
    DEFAULT_SPEED_MIN,
    _check_positive,
    _count_spikes,
    _sample_intervals,
    _session_positions,
    _speed,
    _vector,
)
from mecbench.errors import ConfigError, DataError
from mecbench.loaders.recording import Recording

__all__ = ["recording_head_direction_tuning", "head_direction_scores"]

_NEUROID_COORDS = ("neuroid_id", "animal", "session", "cell_id")


def _as_recordings(recordings: Recording | Sequence[Recording]) -> list[Recording]:
    if isinstance(recordings, Recording):
        return [recordings]
    if isinstance(recordings, (str, bytes)) or not isinstance(recordings, Sequence):
        raise ConfigError(
            "expected a mecbench.loaders.Recording or a sequence of them (from "
            f"mecbench.loaders.read_moser or read_nwb), got {type(recordings).__name__}"
        )
    recs = list(recordings)
    if not recs:
        raise DataError("no recording given")
    for r in recs:
        if not isinstance(r, Recording):
            raise ConfigError(
                f"expected Recording objects, got a {type(r).__name__} in the sequence"
            )
    return recs


def _circular_mean_window(rates: np.ndarray, half_width: int) -> np.ndarray:
    """Mean of each bin and its ``half_width`` neighbours on each side, wrapping around.

    NaN bins (no occupancy) carry no weight and stay NaN. Vectorised over the columns.
    """
    n = rates.shape[0]
    lag = (np.arange(n)[:, None] - np.arange(n)[None, :]) % n
    lag = np.minimum(lag, n - lag)
    window = (lag <= half_width).astype(np.float64)
    finite = np.isfinite(rates)
    num = window @ np.where(finite, rates, 0.0)
    den = window @ finite.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    return np.where(finite, out, np.nan)


def _session_counts(rec: Recording, n_bins: int, speed_min: float, speed_max: float | None,
                    max_gap: float | None, spikes_outside: str):
    """Spike counts (n_bins, n_cells), occupancy (n_bins,) and drop counts of one session,
    or None when the session has one LED."""
    where = rec.source or f"session {rec.animal}/{rec.session}"
    t, x, y, finite, head = _session_positions(rec.t, rec.x, rec.y, rec.x2, rec.y2, where)
    if head is None:
        return None
    n = t.size
    dt, med = _sample_intervals(t, max_gap)
    t_end = t[-1] + dt[-1]

    has_heading = finite & np.isfinite(head)
    ok = has_heading.copy()
    if speed_min > 0 or speed_max is not None:
        speed = _speed(t, x, y)
        speed[~finite] = np.nan
        with np.errstate(invalid="ignore"):
            fast_enough = speed >= speed_min
            if speed_max is not None:
                fast_enough &= speed <= speed_max
        ok &= fast_enough
    # per sample: its angular bin over [-pi, pi) when usable, n_bins when it has no heading,
    # n_bins + 1 (trash, also where binning's counter puts spikes in lost tracking) otherwise
    code = np.full(n, n_bins + 1, dtype=np.int64)
    code[~has_heading] = n_bins
    frac = (head[ok] + np.pi) * (n_bins / (2 * np.pi))
    code[ok] = np.floor(frac).astype(np.int64) % n_bins
    occupancy = np.bincount(code[ok], weights=dt[ok], minlength=n_bins)[:n_bins]

    n_cells = len(rec.spike_times)
    if n_cells == 0:
        raise DataError(f"{where}: no cells (spike_times is empty)")
    if len(rec.cell_ids) != n_cells:
        raise DataError(f"{where}: {len(rec.cell_ids)} cell ids for {n_cells} spike trains")
    ids = [str(i) for i in rec.cell_ids]
    trains = [_vector(s, f"spike times of cell {ids[c]}", where)
              for c, s in enumerate(rec.spike_times)]
    gaps = bool((dt[:-1] < np.diff(t)).any())
    slots, n_in_gap, n_outside = _count_spikes(trains, ids, t, t_end, dt, med, code, n_bins + 2,
                                               gaps, spikes_outside, where)
    counts = slots[:, :n_bins].T.astype(np.float64)
    info = {
        "n_spikes": int(sum(tr.size for tr in trains)),
        "n_spikes_used": int(counts.sum()),
        "n_spikes_outside_recording": n_outside,
        "n_spikes_in_gaps": n_in_gap,
        "n_spikes_no_heading": int(slots[:, n_bins].sum()),
        "n_samples": int(n),
        "n_samples_used": int(ok.sum()),
        "n_samples_no_heading": int((~has_heading).sum()),
    }
    return counts, occupancy, info


def _check_tuning_options(n_bins, smoothing_bins, speed_min: float | None,
                          speed_max: float | None, min_occupancy: float, max_gap: float | None,
                          spikes_outside: str, one_led: str
                          ) -> tuple[int, float, float | None, float]:
    """Checked ``(n_bins, speed_min, speed_max, min_occupancy)`` of the tuning options."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 4:
        raise ConfigError(f"n_bins must be an integer >= 4, got {n_bins!r}")
    n_bins = int(n_bins)
    if isinstance(smoothing_bins, bool) or not isinstance(smoothing_bins, (int, np.integer)) \
            or smoothing_bins < 0:
        raise ConfigError(f"smoothing_bins must be an integer >= 0, got {smoothing_bins!r}")
    if 2 * smoothing_bins + 1 > n_bins:
        raise ConfigError(
            f"smoothing_bins={smoothing_bins} makes a window wider than the {n_bins} bins"
        )
    vmin = _check_positive(speed_min or 0.0, "speed_min")
    vmax = None if speed_max is None else _check_positive(speed_max, "speed_max", allow_zero=False)
    min_occ = _check_positive(min_occupancy, "min_occupancy")
    if max_gap is not None:
        _check_positive(max_gap, "max_gap", allow_zero=False)
    if spikes_outside not in ("error", "drop"):
        raise ConfigError(f"spikes_outside must be 'error' or 'drop', got {spikes_outside!r}")
    if one_led not in ("error", "skip"):
        raise ConfigError(f"one_led must be 'error' or 'skip', got {one_led!r}")
    return n_bins, vmin, vmax, min_occ


def _collect_sessions(recs: list[Recording], n_bins: int, vmin: float, vmax: float | None,
                      max_gap: float | None, spikes_outside: str, one_led: str):
    """Counts and occupancy (n_bins, all cells), labels, totals and skipped one-LED sessions."""
    counts, occupancy, labels = [], [], {k: [] for k in _NEUROID_COORDS}
    totals: dict[str, int] = {}
    skipped: list[str] = []
    for rec in recs:
        result = _session_counts(rec, n_bins, vmin, vmax, max_gap, spikes_outside)
        name = f"{rec.animal}/{rec.session}"
        if result is None:
            if one_led == "error":
                raise DataError(
                    f"{rec.source or 'session ' + name}: session {name} has one LED (no "
                    "second LED positions x2/y2, or they are all NaN), so it has no head "
                    "direction; pass one_led='skip' to leave such sessions out"
                )
            skipped.append(name)
            continue
        c, occ, info = result
        counts.append(c)
        occupancy.append(np.repeat(occ[:, None], c.shape[1], axis=1))
        cell_ids = [str(i) for i in rec.cell_ids]
        labels["neuroid_id"] += [f"{name}/{i}" for i in cell_ids]
        labels["animal"] += [str(rec.animal)] * len(cell_ids)
        labels["session"] += [str(rec.session)] * len(cell_ids)
        labels["cell_id"] += cell_ids
        for k, v in info.items():
            totals[k] = totals.get(k, 0) + v
    if not counts:
        raise DataError(
            f"none of the {len(recs)} session(s) has two LEDs, so there is no head direction "
            f"(sessions with one LED: {skipped})"
        )
    spikes = np.concatenate(counts, axis=1)
    occ = np.concatenate(occupancy, axis=1)
    return spikes, occ, labels, totals, skipped


def _tuning_dataset(rate: np.ndarray, occ: np.ndarray, spikes: np.ndarray,
                    labels: dict[str, list], n_bins: int, attrs: dict) -> xr.Dataset:
    """The tuning Dataset: rate, occupancy and spike count over (direction, neuroid)."""
    centres = -np.pi + (np.arange(n_bins) + 0.5) * (2 * np.pi / n_bins)
    coords = {"direction": ("direction", centres)}
    coords.update({k: ("neuroid", np.asarray(v)) for k, v in labels.items()})
    dims = ("direction", "neuroid")
    return xr.Dataset(
        {
            "rate": (dims, rate, {"units": "Hz"}),
            "occupancy": (dims, occ, {"units": "s"}),
            "spike_count": (dims, spikes),
        },
        coords=coords,
        attrs=attrs,
    )


def recording_head_direction_tuning(
    recordings: Recording | Sequence[Recording],
    *,
    n_bins: int = 60,
    smoothing_bins: int = 0,
    speed_min: float | None = DEFAULT_SPEED_MIN,
    speed_max: float | None = None,
    min_occupancy: float = 0.0,
    max_gap: float | None = None,
    spikes_outside: str = "error",
    one_led: str = "error",
) -> xr.Dataset:
    """Occupancy-normalised head-direction tuning curves of every cell of some recordings.

    Parameters
    ----------
    recordings : Recording or sequence of Recording
        Sessions as the loaders return them (:func:`mecbench.loaders.read_moser`,
        :func:`mecbench.loaders.read_nwb`), in metres and seconds, with a second LED
        (``x2``/``y2``).
    n_bins : int
        Angular bins over [−π, π); 60 gives the 6° bins of Sargolini et al. 2006.
    smoothing_bins : int
        Half-width (bins) of a circular mean window applied to each rate curve: every bin
        becomes the mean of itself and ``smoothing_bins`` neighbours on each side (bins without
        occupancy carry no weight). 0 (default) leaves the curves unsmoothed. For a curve
        without empty bins this multiplies the MVL by exactly
        ``sin(wΔ/2) / (w sin(Δ/2))`` with ``w = 2·smoothing_bins + 1`` and ``Δ`` the bin width.
    speed_min, speed_max : float or None
        Speed filter of :func:`mecbench.binning.bin_session` (m/s): samples slower than
        ``speed_min`` (default 0.025) or faster than ``speed_max`` (default: no limit) are
        dropped with their spikes; None or 0 turns the lower limit off.
    min_occupancy : float
        Seconds per angular bin below which its rate is NaN (default 0: only bins never faced).
    max_gap : float, optional
        Intervals between position samples longer than this (s) are lost tracking (default ten
        times the median interval), as in the binning.
    spikes_outside : {"error", "drop"}
        Spikes before the first or after the last position sample: an error naming the cell,
        or dropped (counted in ``attrs["n_spikes_outside_recording"]``).
    one_led : {"error", "skip"}
        Sessions tracked with a single LED have no head direction: raise, or leave them out
        (named in ``attrs["skipped_sessions"]``).

    Returns
    -------
    xarray.Dataset
        ``rate`` (direction, neuroid) in Hz (NaN where the occupancy is below
        ``min_occupancy`` or zero), ``occupancy`` (direction, neuroid) seconds of the cell's
        session per bin, ``spike_count`` (direction, neuroid) spikes used. ``direction`` holds
        the bin centres (radians); neuroid coordinates ``neuroid_id``
        (``"<animal>/<session>/<cell>"``, as :func:`mecbench.loaders.load_recordings` names
        them), ``animal``, ``session`` and ``cell_id``; ``attrs`` hold the parameters and the
        spike and sample counts (used, dropped for lost tracking, for missing heading, outside
        the recording).

    Raises
    ------
    DataError
        A session with one LED (with ``one_led="error"``, or every session with
        ``"skip"``), mismatched lengths, non-increasing times, non-finite spike times or spikes
        outside the recording (naming the file and cell).
    ConfigError
        Bad parameters.
    """
    n_bins, vmin, vmax, min_occ = _check_tuning_options(
        n_bins, smoothing_bins, speed_min, speed_max, min_occupancy, max_gap, spikes_outside,
        one_led)
    recs = _as_recordings(recordings)
    spikes, occ, labels, totals, skipped = _collect_sessions(
        recs, n_bins, vmin, vmax, max_gap, spikes_outside, one_led)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where((occ > 0) & (occ >= min_occ), spikes / occ, np.nan)
    if smoothing_bins:
        rate = _circular_mean_window(rate, int(smoothing_bins))
    attrs = {
        "n_bins": n_bins,
        "bin_width_deg": 360.0 / n_bins,
        "smoothing_bins": int(smoothing_bins),
        "speed_min": vmin,
        "speed_max": "none" if vmax is None else vmax,
        "min_occupancy": min_occ,
        "max_gap": "10 x median interval" if max_gap is None else float(max_gap),
        "spikes_outside": spikes_outside,
        "skipped_sessions": ", ".join(skipped),
        **totals,
    }
    return _tuning_dataset(rate, occ, spikes, labels, n_bins, attrs)


def head_direction_scores(
    tuning_or_recordings: xr.Dataset | Recording | Sequence[Recording], **kw
) -> xr.Dataset:
    """Mean vector length and preferred head direction of every cell.

    Parameters
    ----------
    tuning_or_recordings : xarray.Dataset, Recording or sequence of Recording
        The result of :func:`recording_head_direction_tuning`, or recordings to compute it
        from.
    **kw
        Options of :func:`recording_head_direction_tuning` (``n_bins``, ``smoothing_bins``,
        ``speed_min``, ``one_led``...) when recordings are given.

    Returns
    -------
    xarray.Dataset
        Along ``neuroid`` (with the tuning's neuroid coordinates): ``mvl``, the mean vector
        length ``|Σ_k r_k e^{iθ_k}| / Σ_k r_k`` in [0, 1] over bins with a rate (NaN for a cell
        without spikes in the used samples); ``preferred_direction``, the angle of that sum
        (radians, in (−π, π]); ``n_spikes``, the spikes used; ``peak_rate`` and ``mean_rate``
        (Hz) of the tuning curve.

    Raises
    ------
    ConfigError
        Options given together with an already computed tuning, or a Dataset that is not one.
    """
    if isinstance(tuning_or_recordings, xr.Dataset):
        if kw:
            raise ConfigError(
                f"options {sorted(kw)} apply when computing the tuning; this Dataset is already "
                "computed (pass recordings instead, or compute the tuning with them)"
            )
        tuning = tuning_or_recordings
        missing = {"rate", "spike_count"} - set(tuning.data_vars)
        if missing or "direction" not in tuning.coords:
            raise ConfigError(
                "expected the Dataset of recording_head_direction_tuning (variables 'rate' and "
                f"'spike_count' along 'direction'); missing {sorted(missing) or ['direction']}"
            )
    else:
        tuning = recording_head_direction_tuning(tuning_or_recordings, **kw)
    rate = tuning["rate"].transpose("direction", "neuroid")
    mvl, pref = mean_vector_length(rate.values, tuning["direction"].values)
    with np.errstate(invalid="ignore"):
        peak = np.nanmax(np.where(np.isfinite(rate.values), rate.values, -np.inf), axis=0)
        peak = np.where(np.isfinite(peak), peak, np.nan)
    finite = np.isfinite(rate.values)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(finite, rate.values, 0.0).sum(axis=0) / finite.sum(axis=0)
    n_spikes = tuning["spike_count"].transpose("direction", "neuroid").values.sum(axis=0)
    pref = np.where(np.isfinite(mvl), pref, np.nan)
    coords = {k: ("neuroid", c.values) for k, c in rate.coords.items() if c.dims == ("neuroid",)}
    return xr.Dataset(
        {
            "mvl": ("neuroid", np.asarray(mvl, dtype=np.float64)),
            "preferred_direction": ("neuroid", np.asarray(pref, dtype=np.float64),
                                    {"units": "rad"}),
            "n_spikes": ("neuroid", n_spikes.astype(np.int64)),
            "peak_rate": ("neuroid", peak, {"units": "Hz"}),
            "mean_rate": ("neuroid", mean, {"units": "Hz"}),
        },
        coords=coords,
        attrs=dict(tuning.attrs),
    )
