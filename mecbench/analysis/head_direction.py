"""Head-direction tuning and mean vector length, vectorised over cells.

The tuning curve of a cell is its occupancy-normalised rate per head-direction bin: spikes in
the bin divided by the time spent facing that way. The mean vector length (MVL, Rayleigh vector
length) is ``|Σ_b r_b e^{iθ_b}| / Σ_b r_b`` over bin centres ``θ_b`` (Sargolini et al. 2006;
Taube et al. 1990). Normalising by occupancy removes the bias of uneven heading sampling; for a
von Mises tuning ``exp(κ cos(θ − μ))`` the MVL is ``I1(κ)/I0(κ)`` (up to the binning factor
``sinc(Δθ/2)``, 0.9995 for 6° bins).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from mecbench.errors import ConfigError, DataError

__all__ = ["head_direction_tuning", "mean_vector_length", "head_direction_mvl"]


def head_direction_tuning(head_direction, spike_counts, *, n_bins: int = 60,
                          dt: float | np.ndarray = 1.0, min_occupancy: float = 0.0
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Occupancy-normalised head-direction tuning curves of many cells.

    Parameters
    ----------
    head_direction : array_like, shape (T,)
        Head direction (radians) per position sample; NaN samples are ignored.
    spike_counts : array_like, shape (T,) or (T, n_cells)
        Spikes of each cell during each sample.
    n_bins : int
        Angular bins over [−π, π) (60 → 6°).
    dt : float or array (T,)
        Duration of each sample (s); rates are then in Hz.
    min_occupancy : float
        Bins with less time (s) are NaN.

    Returns
    -------
    rates : ndarray, shape (n_bins, n_cells) (or (n_bins,) for 1-D counts)
    centres : ndarray, shape (n_bins,)
        Bin centres (radians).
    occupancy : ndarray, shape (n_bins,)
        Seconds per bin.
    """
    hd = np.asarray(head_direction, dtype=np.float64).ravel()
    counts = np.asarray(spike_counts, dtype=np.float64)
    one = counts.ndim == 1
    if one:
        counts = counts[:, None]
    if counts.ndim != 2 or counts.shape[0] != hd.shape[0]:
        raise DataError(
            f"spike_counts must have shape (T,) or (T, n_cells) with T={hd.shape[0]} samples "
            f"of head_direction; got {np.shape(spike_counts)}"
        )
    if n_bins < 4:
        raise ConfigError(f"n_bins must be >= 4, got {n_bins}")
    w = np.broadcast_to(np.asarray(dt, dtype=np.float64), hd.shape)
    ok = np.isfinite(hd) & np.isfinite(w)
    if not ok.any():
        raise DataError("head_direction has no finite sample")
    ang = np.mod(hd[ok] + np.pi, 2 * np.pi)
    b = np.minimum((ang / (2 * np.pi) * n_bins).astype(np.int64), n_bins - 1)
    onehot = sparse.csr_matrix((np.ones(b.size), (b, np.arange(b.size))),
                               shape=(n_bins, b.size))
    occ = onehot @ w[ok]
    spikes = onehot @ np.nan_to_num(counts[ok])
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.where((occ > min_occupancy)[:, None] & (occ > 0)[:, None],
                         spikes / occ[:, None], np.nan)
    centres = -np.pi + (np.arange(n_bins) + 0.5) * 2 * np.pi / n_bins
    return (rates[:, 0] if one else rates), centres, occ


def mean_vector_length(rates, centres) -> tuple[np.ndarray, np.ndarray]:
    """MVL and preferred direction of tuning curves ``rates`` (n_bins[, n_cells]) sampled at
    angles ``centres`` (radians); NaN bins are ignored."""
    r = np.asarray(rates, dtype=np.float64)
    c = np.asarray(centres, dtype=np.float64)
    one = r.ndim == 1
    if one:
        r = r[:, None]
    if r.shape[0] != c.shape[0]:
        raise DataError(f"rates have {r.shape[0]} bins but centres {c.shape[0]}")
    r0 = np.where(np.isfinite(r), r, 0.0)
    z = (r0 * np.exp(1j * c)[:, None]).sum(axis=0)
    tot = r0.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mvl = np.where(tot > 0, np.abs(z) / tot, np.nan)
    pref = np.angle(z)
    return (mvl[0], pref[0]) if one else (mvl, pref)


def head_direction_mvl(head_direction, spike_counts, *, n_bins: int = 60,
                       dt: float | np.ndarray = 1.0, min_occupancy: float = 0.0
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Mean vector length and preferred direction (radians) of each cell's occupancy-normalised
    head-direction tuning; see :func:`head_direction_tuning` for the arguments."""
    rates, centres, _ = head_direction_tuning(head_direction, spike_counts, n_bins=n_bins,
                                              dt=dt, min_occupancy=min_occupancy)
    return mean_vector_length(rates, centres)
