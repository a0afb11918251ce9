"""Effective dimensionality and grid fraction of nested control populations.

The definitions are those of :mod:`mecbench.analysis` (participation ratio of the across-bin
covariance of units, centred per unit, no scaling; grid score in the Sargolini min–max form,
threshold 0.3). This module only adds fast paths for a *sweep over nested prefixes* of one
population (the first D units for every D of the sweep):

- :func:`nested_participation_ratios` uses ``PR = tr(C)² / ‖C‖_F²`` (the definition: for the
  eigenvalues λ of C, ``Σλ = tr C`` and ``Σλ² = ‖C‖_F²``) with the smaller of the two Gram
  matrices of the centred data (units × units or bins × bins), so no eigendecomposition is
  needed; tests check it against :func:`mecbench.analysis.participation_ratio`.
- :func:`prefix_grid_fractions` scores the first ``max_units`` units once with
  :func:`mecbench.analysis.grid_scores` and reads every prefix's fraction off those scores: the
  fraction at D is exact for D <= ``max_units`` and, beyond, the fraction among the first
  ``max_units`` units (an unbiased estimate for the random families, whose units are i.i.d., and
  for the grid family, whose modules are assigned round-robin).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from mecbench.errors import DataError

__all__ = [
    "GRID_THRESHOLD",
    "GRID_FORM",
    "nested_participation_ratios",
    "prefix_grid_fractions",
    "grid_fraction",
]

#: Grid-score threshold of a "grid-like" unit (lenient threshold of the literature).
GRID_THRESHOLD = 0.3
#: Grid-score form (the min–max form of Sargolini et al. 2006, the experimental standard).
GRID_FORM = "sargolini"


def nested_participation_ratios(values: np.ndarray, dims: Sequence[int]) -> np.ndarray:
    """Participation ratio of the first ``D`` units, for every ``D`` in ``dims``.

    Parameters
    ----------
    values : ndarray, shape (n_bins, n_units)
        Finite responses (bins as observations).
    dims : sequence of int
        Prefix sizes, each in ``[1, n_units]``.

    Returns
    -------
    ndarray of float, one PR per entry of ``dims`` (NaN when the prefix has no variance).
    """
    X = np.asarray(values, dtype=np.float64)
    if X.ndim != 2:
        raise DataError(f"values must be (n_bins, n_units), got shape {X.shape}")
    if not np.isfinite(X).all():
        raise DataError("values must be finite to compute a participation ratio")
    n_bins, n_units = X.shape
    if n_bins < 2:
        raise DataError(f"need at least 2 bins, got {n_bins}")
    Xc = X - X.mean(axis=0)
    out = np.empty(len(dims))
    for k, d in enumerate(dims):
        d = int(d)
        if not 1 <= d <= n_units:
            raise DataError(f"prefix size {d} outside [1, {n_units}]")
        P = Xc[:, :d]
        gram = P.T @ P if d <= n_bins else P @ P.T
        trace = float(np.trace(gram))
        frob = float(np.sum(gram * gram))
        out[k] = trace**2 / frob if frob > 0 else np.nan
    return out


def _scores(maps: xr.DataArray) -> np.ndarray:
    from mecbench.analysis import grid_scores

    return np.asarray(grid_scores(maps, form=GRID_FORM).values, dtype=np.float64)


def prefix_grid_fractions(maps: xr.DataArray, dims: Sequence[int], *, max_units: int = 512,
                          threshold: float = GRID_THRESHOLD) -> np.ndarray:
    """Fraction of grid-like units among the first ``min(D, max_units)`` units, per ``D``.

    NaN grid scores (e.g. a flat map) count as not grid-like, as in
    :func:`mecbench.analysis.fraction_grid`.
    """
    n = maps.sizes["neuroid"]
    top = min(n, max(int(d) for d in dims), int(max_units))
    is_grid = np.nan_to_num(_scores(maps.isel(neuroid=slice(0, top))), nan=-np.inf) > threshold
    cum = np.cumsum(is_grid)
    return np.array([cum[min(int(d), top) - 1] / min(int(d), top) for d in dims])


def grid_fraction(maps: xr.DataArray, *, max_units: int = 512, seed: int = 0,
                  threshold: float = GRID_THRESHOLD) -> float:
    """Fraction of grid-like units of a model's maps, from at most ``max_units`` units.

    With more units than ``max_units``, a seeded random subset (without replacement) is scored.
    """
    n = maps.sizes["neuroid"]
    if n > max_units:
        keep = np.sort(np.random.default_rng(seed).choice(n, size=int(max_units), replace=False))
        maps = maps.isel(neuroid=keep)
    scores = _scores(maps)
    return float(np.mean(np.nan_to_num(scores, nan=-np.inf) > threshold))
