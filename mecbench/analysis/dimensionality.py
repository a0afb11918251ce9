"""Effective dimensionality of a population of rate maps.

Units are the variables and spatial bins the observations: the covariance is the
``(n_units, n_units)`` covariance across bins of the rate maps, each unit centred on its mean over
bins (no scaling: units that fire more weigh more, as in a regression on raw rates). Its
eigenvalues λ give

- the participation ratio ``PR = (Σλ)² / Σλ²`` (Gao et al. 2017), computed as
  ``tr(C)² / ‖C‖_F²`` from the singular values of the centred data;
- the number of principal components needed to explain a fraction (default 90 %) of variance.

NaN bins: with ``nan_policy="drop_bins"`` (default) a bin is used only if every unit is finite
there (complete cases; rate maps of one animal share their unvisited bins, model maps have none);
``"raise"`` refuses NaN. Fewer than two usable bins is an error.
"""

from __future__ import annotations

import numpy as np

from mecbench.errors import ConfigError, DataError

__all__ = ["eigenspectrum", "participation_ratio", "participation_ratio_of_spectrum",
           "n_components_for_variance"]


def _as_bins_by_units(data) -> np.ndarray:
    if hasattr(data, "dims") and hasattr(data, "transpose"):
        dims = tuple(data.dims)
        if "neuroid" in dims:
            rest = [d for d in dims if d != "neuroid"]
            arr = np.asarray(data.transpose(*rest, "neuroid").values, dtype=np.float64)
            return arr.reshape(-1, arr.shape[-1])
        data = data.values
    arr = np.asarray(data, dtype=np.float64)
    if arr.ndim == 3:        # (x, y, units)
        return arr.reshape(-1, arr.shape[-1])
    if arr.ndim != 2:
        raise DataError(
            f"expected (bins, units), (x, y, units) or a DataArray with a 'neuroid' dim; "
            f"got shape {arr.shape}"
        )
    return arr


def eigenspectrum(data, *, nan_policy: str = "drop_bins") -> np.ndarray:
    """Eigenvalues (descending) of the across-bin covariance of units.

    Parameters
    ----------
    data : array_like or xarray.DataArray
        ``(bins, units)``, ``(x, y, units)`` or rate maps with a ``neuroid`` dim.
    nan_policy : {"drop_bins", "raise"}
        See the module docstring.

    Returns
    -------
    ndarray, shape (min(n_bins - 1, n_units),)
    """
    X = _as_bins_by_units(data)
    if nan_policy not in ("drop_bins", "raise"):
        raise ConfigError(f"nan_policy must be 'drop_bins' or 'raise', got {nan_policy!r}")
    bad = ~np.isfinite(X)
    if bad.any():
        if nan_policy == "raise" or np.isinf(X).any():
            raise DataError("data contain NaN or infinite values")
        X = X[~bad.any(axis=1)]
    if X.shape[0] < 2:
        raise DataError(f"need at least 2 bins where every unit is finite; got {X.shape[0]}")
    Xc = X - X.mean(axis=0)
    s = np.linalg.svd(Xc, compute_uv=False)
    lam = s**2 / (X.shape[0] - 1)
    return lam[: min(X.shape[0] - 1, X.shape[1])]


def participation_ratio_of_spectrum(eigenvalues) -> float:
    """``(Σλ)² / Σλ²`` of a spectrum; NaN when all eigenvalues are zero."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    if (lam < -1e-12 * max(1.0, np.abs(lam).max(initial=0))).any():
        raise DataError("eigenvalues of a covariance must be >= 0")
    lam = np.clip(lam, 0, None)
    den = float((lam**2).sum())
    return float(lam.sum() ** 2 / den) if den > 0 else float("nan")


def participation_ratio(data, *, nan_policy: str = "drop_bins") -> float:
    """Participation ratio of the rate-map covariance (units as variables, centred per unit)."""
    return participation_ratio_of_spectrum(eigenspectrum(data, nan_policy=nan_policy))


def n_components_for_variance(data, fraction: float = 0.9, *,
                              nan_policy: str = "drop_bins") -> int:
    """Smallest number of principal components explaining at least ``fraction`` of variance."""
    if not 0 < fraction <= 1:
        raise ConfigError(f"fraction must be in (0, 1], got {fraction}")
    lam = eigenspectrum(data, nan_policy=nan_policy)
    total = lam.sum()
    if total <= 0:
        raise DataError("the rate maps have no variance across bins")
    cum = np.cumsum(lam) / total
    return int(np.searchsorted(cum, fraction - 1e-12) + 1)
