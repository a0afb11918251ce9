"""Vectorised scoring metrics: column-wise Pearson r, medians over cells, bootstrap CIs and the
Spearman–Brown correction."""

from __future__ import annotations

import warnings

import numpy as np

from mecbench.errors import ConfigError, DataError

__all__ = [
    "constant_columns",
    "pearson_columns",
    "masked_pearson_columns",
    "nanmedian",
    "bootstrap_median_ci",
    "spearman_brown",
    "MIN_BINS",
]

#: Fewest bins on which a correlation is computed; fewer give NaN.
MIN_BINS = 3

# A column whose spread is below this fraction of its magnitude is treated as constant: its
# correlation is numerically meaningless (think of a ridge prediction that is the training mean
# plus rounding error).
_CONST_RTOL = 1e-12


def _as_2d(a, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise DataError(f"{name} must be 1-D or 2-D (rows, columns); got shape {a.shape}")
    return a


def _constant(centred: np.ndarray, raw: np.ndarray, axis: int = 0,
              n_rows: np.ndarray | int | None = None) -> np.ndarray:
    """Spread below ``_CONST_RTOL`` of the magnitude; ``n_rows`` counts the rows that hold
    data when the arrays are zero-filled elsewhere (default: all rows)."""
    spread = np.sqrt(np.sum(centred * centred, axis=axis))
    n = raw.shape[axis] if n_rows is None else n_rows
    scale = np.max(np.abs(raw), axis=axis) * np.sqrt(n)
    return spread <= _CONST_RTOL * scale


def constant_columns(a) -> np.ndarray:
    """Boolean per column: constant to within 1e-12 of its magnitude (or fewer than 2 rows)."""
    a = _as_2d(a, "a")
    if a.shape[0] < 2:
        return np.ones(a.shape[1], dtype=bool)
    return _constant(a - a.mean(axis=0), a)


def pearson_columns(pred, data, *, min_rows: int = MIN_BINS) -> np.ndarray:
    """Pearson r between matching columns of two arrays, in one vectorised pass.

    Parameters
    ----------
    pred, data : array (n_rows, n_columns)
        Finite values (e.g. predicted and recorded rates on the test bins).
    min_rows : int
        Fewer rows give NaN.

    Returns
    -------
    r : ndarray (n_columns,)
        NaN where either column is constant (to within 1e-12 of its magnitude) or where there are
        fewer than ``min_rows`` rows. Equal to :func:`scipy.stats.pearsonr` elsewhere.
    """
    pred = _as_2d(pred, "pred")
    data = _as_2d(data, "data")
    if pred.shape != data.shape:
        raise DataError(f"pred {pred.shape} and data {data.shape} must have the same shape")
    n, t = pred.shape
    if n < min_rows:
        return np.full(t, np.nan)
    pc = pred - pred.mean(axis=0)
    dc = data - data.mean(axis=0)
    # normalise before multiplying, as scipy does, for accuracy with large offsets
    pn = np.sqrt(np.sum(pc * pc, axis=0))
    dn = np.sqrt(np.sum(dc * dc, axis=0))
    bad = _constant(pc, pred) | _constant(dc, data) | ~np.isfinite(pn) | ~np.isfinite(dn)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.sum((pc / pn) * (dc / dn), axis=0)
    r = np.clip(r, -1.0, 1.0)
    r[bad] = np.nan
    return r


def masked_pearson_columns(a, b, *, min_rows: int = MIN_BINS) -> np.ndarray:
    """Pearson r between matching columns over the rows where both are finite.

    Each column uses its own set of rows (those finite in both ``a`` and ``b``) and gets what
    :func:`pearson_columns` gives on those rows. Vectorised: no loop over columns. NaN where
    fewer than ``min_rows`` rows remain or a column is constant on them.
    """
    a = _as_2d(a, "a")
    b = _as_2d(b, "b")
    if a.shape != b.shape:
        raise DataError(f"a {a.shape} and b {b.shape} must have the same shape")
    return masked_pearson_details(a, b, np.isfinite(a) & np.isfinite(b), min_rows=min_rows)[0]


def masked_pearson_details(a: np.ndarray, b: np.ndarray, mask: np.ndarray, *,
                           min_rows: int = MIN_BINS
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pearson r per column over the rows where ``mask`` is True, with the reasons.

    Returns ``(r, constant_a, constant_b)``: r is NaN where fewer than ``min_rows`` rows are
    masked in, where either column is constant on them, or where r is not finite; the two
    boolean arrays flag the constant columns (as :func:`constant_columns` on those rows).
    Values outside the mask are ignored (they may be NaN).
    """
    n = mask.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ac, a_mean = _masked_centred(a, mask, n)
        bc, b_mean = _masked_centred(b, mask, n)
        an = np.sqrt(np.einsum("ij,ij->j", ac, ac))
        bn = np.sqrt(np.einsum("ij,ij->j", bc, bc))
        r = np.einsum("ij,ij->j", ac, bc) / (an * bn)
        r = np.clip(r, -1.0, 1.0)
        const_a = _masked_constant(an, a_mean, a, mask, n)
        const_b = _masked_constant(bn, b_mean, b, mask, n)
    bad = (n < min_rows) | const_a | const_b | ~np.isfinite(r)
    r[bad] = np.nan
    return r, const_a, const_b


def _masked_centred(a: np.ndarray, mask: np.ndarray, n: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``a`` minus its mean over the masked rows, zero elsewhere, and that mean per column."""
    centred = np.where(mask, a, 0.0)
    mean = centred.sum(axis=0) / n
    np.subtract(centred, mean, out=centred)  # in place: these arrays are the largest here
    centred *= mask
    return centred, mean


#: Relative slack of the bounds in :func:`_masked_constant`: far above their rounding errors.
_BOUND_SLACK = 1e-6


def _masked_constant(spread: np.ndarray, mean: np.ndarray, a: np.ndarray, mask: np.ndarray,
                     n: np.ndarray) -> np.ndarray:
    """:func:`_constant` on the masked rows, from the spread and mean already at hand.

    The rule compares ``spread`` with ``_CONST_RTOL * sqrt(n)`` times the largest magnitude
    ``m`` on the masked rows, and ``|mean| <= m <= |mean| + spread``. Only a column whose
    spread lies between the thresholds those bounds give (a relative spread near 1e-12) needs
    ``m`` itself, which costs two passes over the column.
    """
    threshold = _CONST_RTOL * np.sqrt(n)
    magnitude = np.abs(mean)
    surely_not = spread > threshold * (magnitude + spread) * (1 + _BOUND_SLACK)
    surely = spread < threshold * magnitude * (1 - _BOUND_SLACK)
    const = (n < 2) | surely
    undecided = np.flatnonzero(~(surely_not | surely))
    if undecided.size:
        m = np.abs(np.where(mask[:, undecided], a[:, undecided], 0.0)).max(axis=0)
        const[undecided] = (n[undecided] < 2) | (
            spread[undecided] <= _CONST_RTOL * m * np.sqrt(n[undecided]))
    return const


def nanmedian(values, axis=None):
    """Median ignoring NaN; NaN (without a warning) where every value is NaN."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(values, axis=axis)


def bootstrap_median_ci(values, *, n_boot: int = 1000, ci: float = 0.95, seed: int = 0,
                        chunk: int | None = None) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the median over cells.

    Cells (finite entries of ``values``) are resampled with replacement ``n_boot`` times with a
    ``numpy.random.default_rng(seed)`` generator (resample ``k`` is row ``k`` of
    ``rng.integers(0, n, size=(n_boot, n))``); the interval is the ``(1-ci)/2`` and
    ``(1+ci)/2`` quantiles (linear interpolation) of the resampled medians. NaN entries are
    dropped first. This is the one bootstrap of a median in mecbench: the CIs of scores,
    ceilings and of :func:`mecbench.compare.compare_cells` all come from it.
    (:func:`scipy.stats.bootstrap` with ``method="percentile"`` draws the same resamples but
    interpolates its percentiles differently, so its ends can differ in the last bits.)

    Parameters
    ----------
    values : array-like
        Per-cell values (any shape; flattened).
    n_boot : int
        Resamples.
    ci : float
        Confidence level in (0, 1).
    seed : int
        Seed of the generator; the result is a deterministic function of ``values`` and
        ``seed``.
    chunk : int, optional
        Resamples drawn at a time (memory ``chunk × n`` indices); default about 2 million
        indices at a time. The result does not depend on it.

    Returns
    -------
    (low, high) : tuple of float
        ``(nan, nan)`` when there is no finite value.
    """
    if not (0 < ci < 1):
        raise ConfigError(f"ci must lie in (0, 1); got {ci!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ConfigError(f"n_boot must be a positive integer; got {n_boot!r}")
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return (np.nan, np.nan)
    if chunk is None:
        chunk = max(1, 2_000_000 // v.size)  # bound memory: chunk * n_cells indices at a time
    elif isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ConfigError(f"chunk must be a positive integer; got {chunk!r}")
    rng = np.random.default_rng(seed)
    medians = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, v.size, size=(stop - start, v.size))
        medians[start:stop] = np.median(v[idx], axis=1)
    lo, hi = np.quantile(medians, [(1 - ci) / 2, (1 + ci) / 2])
    return float(lo), float(hi)


def spearman_brown(r, factor: float = 2.0):
    """Spearman–Brown prophecy: reliability of a measurement ``factor`` times as long.

    ``factor * r / (1 + (factor - 1) * r)``; with ``factor = 2`` this is the split-half
    correction ``2r / (1 + r)``. NaN where the denominator is not positive (``r <= -1`` for
    ``factor = 2``).
    """
    r = np.asarray(r, dtype=np.float64)
    if not factor > 0:
        raise ConfigError(f"factor must be positive; got {factor!r}")
    den = 1.0 + (factor - 1.0) * r
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(den > 0, factor * r / np.where(den > 0, den, 1.0), np.nan)
    return out if out.ndim else float(out)
