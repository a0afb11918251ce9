"""NaN-aware spatial autocorrelograms of rate maps, many maps at once.

The autocorrelogram at lag ``(dx, dy)`` is the Pearson correlation between a map and the same map
shifted by ``(dx, dy)`` bins, computed over the bins that are visited (finite) in *both* copies
(Sargolini et al. 2006; Hafting et al. 2005). Unvisited bins are excluded, never zero-filled.
All six sums that Pearson's r needs (counts, sums, sums of squares, cross products) are
cross-correlations of masked maps, computed with one batch of FFTs for a whole stack of maps.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft

from mecbench.errors import ConfigError, DataError

__all__ = ["autocorrelogram", "as_map_stack"]


def as_map_stack(maps, name: str = "maps") -> tuple[np.ndarray, bool]:
    """Return ``maps`` as a float64 ``(n, X, Y)`` array and whether the input was one 2-D map.

    Accepts one map ``(X, Y)``, a stack ``(X, Y, n)`` (the layout of rate-map arrays), or an
    :class:`xarray.DataArray` with dims including ``x``, ``y`` (and ``neuroid``).
    """
    if hasattr(maps, "dims") and hasattr(maps, "transpose"):
        dims = tuple(maps.dims)
        if "x" not in dims or "y" not in dims:
            raise DataError(f"{name} must have dims 'x' and 'y'; got {dims}")
        order = ["x", "y"] + [d for d in dims if d not in ("x", "y")]
        maps = maps.transpose(*order).values
    arr = np.asarray(maps, dtype=np.float64)
    if arr.ndim == 2:
        return arr[None], True
    if arr.ndim == 3:
        return np.ascontiguousarray(np.moveaxis(arr, 2, 0)), False
    if arr.ndim > 3:
        lead = arr.shape[2:]
        flat = arr.reshape(arr.shape[0], arr.shape[1], int(np.prod(lead)))
        return np.ascontiguousarray(np.moveaxis(flat, 2, 0)), False
    raise DataError(f"{name} must be a 2-D map or an (x, y, n) stack; got shape {arr.shape}")


def _xcorr(fa: np.ndarray, fb: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """sum_i a[i] b[i + lag] for all lags (circular in the padded FFT size)."""
    return sfft.irfft2(np.conj(fa) * fb, s=shape, axes=(-2, -1))


def _autocorr_chunk(stack: np.ndarray, min_overlap: int) -> np.ndarray:
    n, X, Y = stack.shape
    px, py = sfft.next_fast_len(2 * X - 1, real=True), sfft.next_fast_len(2 * Y - 1, real=True)
    mask = np.isfinite(stack)
    counts = mask.sum(axis=(1, 2))
    means = np.where(counts > 0, np.nansum(stack, axis=(1, 2)) / np.maximum(counts, 1), 0.0)
    # centring each map first makes the sums small and the subtraction below well conditioned
    v = np.where(mask, stack - means[:, None, None], 0.0)
    m = mask.astype(np.float64)
    shape = (px, py)
    fm = sfft.rfft2(m, s=shape, axes=(1, 2))
    fv = sfft.rfft2(v, s=shape, axes=(1, 2))
    fvv = sfft.rfft2(v * v, s=shape, axes=(1, 2))
    ix = np.arange(-(X - 1), X) % px
    iy = np.arange(-(Y - 1), Y) % py

    def crop(a):
        return a[:, ix[:, None], iy[None, :]]

    N = np.rint(crop(_xcorr(fm, fm, shape)))
    s1 = crop(_xcorr(fv, fm, shape))     # sum over the overlap of the unshifted copy
    s11 = crop(_xcorr(fvv, fm, shape))
    s12 = crop(_xcorr(fv, fv, shape))
    # the shifted copy's sums at lag d are the unshifted copy's sums at lag -d
    s2 = s1[:, ::-1, ::-1]
    s22 = s11[:, ::-1, ::-1]
    var1 = N * s11 - s1 * s1
    var2 = N * s22 - s2 * s2
    cov = N * s12 - s1 * s2
    # relative tolerance against FFT round-off: a constant overlap has zero variance
    tol = 1e-10 * np.maximum(N * np.abs(s11) + s1 * s1, 1e-300)
    tol2 = 1e-10 * np.maximum(N * np.abs(s22) + s2 * s2, 1e-300)
    ok = (N >= min_overlap) & (var1 > tol) & (var2 > tol2)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(ok, cov / np.sqrt(np.where(ok, var1 * var2, 1.0)), np.nan)
    return np.clip(r, -1.0, 1.0)


def autocorrelogram(maps, *, min_overlap: int = 20, chunk_size: int = 256,
                    layout: str = "xyn") -> np.ndarray:
    """Spatial autocorrelogram of one rate map or of a stack of maps, ignoring unvisited bins.

    Parameters
    ----------
    maps : array_like or xarray.DataArray
        One map ``(X, Y)`` or a stack ``(X, Y, n)``; NaN marks unvisited bins.
    min_overlap : int
        Lags where fewer than this many bins are visited in both copies are NaN.
    chunk_size : int
        Maps processed per FFT batch (bounds memory: about 60·chunk_size·X·Y bytes).
    layout : {"xyn", "nxy"}
        Layout of the returned stack: ``(2X-1, 2Y-1, n)`` (default, like the input) or
        ``(n, 2X-1, 2Y-1)`` (what the grid-score code uses internally).

    Returns
    -------
    ndarray
        ``(2X-1, 2Y-1)`` for one map, else a stack in ``layout``. Lag 0 is at index
        ``(X-1, Y-1)``; entry ``(X-1+dx, Y-1+dy)`` correlates bin ``(i, j)`` with bin
        ``(i+dx, j+dy)``. NaN where the overlap is too small or has no variance.
    """
    stack, single = as_map_stack(maps)
    if min_overlap < 2:
        raise ConfigError(f"min_overlap must be >= 2 bins, got {min_overlap}")
    if chunk_size < 1:
        raise ConfigError(f"chunk_size must be >= 1, got {chunk_size}")
    if layout not in ("xyn", "nxy"):
        raise ConfigError(f"layout must be 'xyn' or 'nxy', got {layout!r}")
    if np.isinf(stack).any():
        raise DataError("maps contain infinite values")
    n, X, Y = stack.shape
    out = np.empty((n, 2 * X - 1, 2 * Y - 1))
    for start in range(0, n, chunk_size):
        out[start:start + chunk_size] = _autocorr_chunk(stack[start:start + chunk_size],
                                                        min_overlap)
    if single:
        return out[0]
    return out if layout == "nxy" else np.moveaxis(out, 0, 2)
