"""One-to-one mapping: each target is predicted by its best-correlated source unit."""

from __future__ import annotations

import numpy as np

from mecbench.errors import DataError

from ._linalg import mm
from ._validation import check_X
from .base import Design, MappingBase, fit_design
from .cache import FeatureCache

__all__ = ["OneToOne"]


def _zscore_columns(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centred, unit-norm columns and a mask of columns that are constant (ptp == 0)."""
    Ac = A - A.mean(axis=0)
    const = np.ptp(A, axis=0) == 0
    norm = np.sqrt(np.einsum("ij,ij->j", Ac, Ac))
    norm[const] = 1.0
    return Ac / norm, const


def best_sources(Xz: np.ndarray, xconst: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Index of the source column with the highest Pearson r for each target (-1 if none).

    ``Xz`` holds unit-norm centred sources; constant sources are never chosen, ties go to the
    lowest index, constant targets get -1.
    """
    Yz, yconst = _zscore_columns(Y)
    R = mm(Yz.T, Xz)  # (t, p) Pearson correlations: the arg-max runs along contiguous rows
    R[:, xconst] = -np.inf
    best = np.argmax(R, axis=1)
    best[yconst | xconst.all()] = -1
    return best


class OneToOne(MappingBase):
    """Per target, the source column with the highest Pearson r on the training rows.

    The prediction is that column's raw values (the reference's ``corr`` map; no rescaling).
    Constant source columns are never chosen (r is undefined); ties go to the lowest index.
    A constant target (or all-constant sources) is predicted by its training mean and gets
    ``best_source_ = -1``.

    Attributes
    ----------
    best_source_ : int array (n_targets,) (int for 1-D ``y``)
    """

    def __init__(self):
        pass

    def fit(self, X, Y):
        """Choose the source for each target of ``Y`` from ``X``'s columns."""
        X, Y, was_1d = fit_design(X, Y)
        Xz, xconst = _zscore_columns(X)
        best = best_sources(Xz, xconst, Y)
        self._best = best
        self._mean = Y.mean(axis=0)
        self.best_source_ = int(best[0]) if was_1d else best
        self.n_features_in_ = X.shape[1]
        self._y_1d = was_1d
        return self

    def predict(self, X) -> np.ndarray:
        """The chosen source columns of ``X`` (training mean for targets with no source)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "best_source_")
        X = check_X(X)
        if X.shape[1] != self.n_features_in_:
            raise DataError(f"X has {X.shape[1]} features but the mapping was fitted with "
                            f"{self.n_features_in_}")
        P = _take(X, self._best, self._mean)
        return P[:, 0] if self._y_1d else P

    def _cross_predict(self, cache: FeatureCache, Y: np.ndarray, splits):
        d = Design(cache)
        out = []
        for tr, te in splits:
            Xz, xconst = cache.memo(d.key("zscore", tr),
                                    lambda tr=tr: _zscore_columns(cache.X[tr]))
            best = best_sources(Xz, xconst, Y[tr])
            out.append(_take(cache.X, best, Y[tr].mean(axis=0), te))
        return out


    def _cross_predict_masked(self, cache: FeatureCache, Y: np.ndarray, valid: np.ndarray,
                              splits):
        """Best source per target on ``train ∩ valid_j``, one product per split.

        With ``y₀`` the target centred on its valid training rows ``S`` and zero elsewhere,
        ``xᵀy₀`` is the covariance of any source ``x`` with ``y`` over ``S`` (no centring of
        ``x`` needed), so one product ``X_tᵀ Y₀`` serves every target; the sources' variances
        over ``S`` are their variances over all training rows downdated by the few rows the
        target misses (near-constant ones re-checked exactly). Pearson r only rescales the
        covariance per target, so the arg-max needs ``cov / sd_x``. Constant sources
        (peak-to-peak 0 on ``S``) are never chosen.
        """
        from .masked import missing_row_groups

        X0 = cache.X0  # globally centred: keeps the variance downdates well conditioned
        out = []
        for tr, te in splits:
            Xt = X0[tr]
            Wt = valid[tr]
            Yt = Y[tr]
            n_s = Wt.sum(axis=0)
            with np.errstate(divide="ignore", invalid="ignore"):
                ybar = Yt.sum(axis=0) / n_s
            Y0 = np.where(Wt, Yt - ybar, 0.0)
            # (t, p): each target's covariances (times n_s) in one contiguous row, so the
            # per-target scaling and arg-max below run along rows
            CT = mm(Y0.T, Xt)
            sx = Xt.sum(axis=0)
            sxx = np.einsum("ij,ij->j", Xt, Xt)
            best = np.empty(Y.shape[1], dtype=np.intp)
            complete = np.ones(Y.shape[1], dtype=bool)
            for cols, D in missing_row_groups(Wt):
                complete[cols] = False
                XD = Xt[D]
                inv_sd = _inv_sd(Xt, D, sxx - np.einsum("ij,ij->j", XD, XD),
                                 sx - XD.sum(axis=0), sxx)
                best[cols] = _best_scaled(CT[cols], inv_sd)
            if complete.any():
                cols = np.flatnonzero(complete)
                inv_sd = _inv_sd(Xt, None, sxx, sx, sxx)
                best[cols] = _best_scaled(CT if cols.size == CT.shape[0] else CT[cols], inv_sd)
            hi = np.where(Wt, Yt, -np.inf).max(axis=0)
            lo = np.where(Wt, Yt, np.inf).min(axis=0)
            best[~(hi > lo)] = -1  # constant target (as :func:`best_sources`)
            out.append(_take(cache.X, best, ybar, te))
        return out


def _best_scaled(cov: np.ndarray, inv_sd: np.ndarray) -> np.ndarray:
    """Arg-max over sources (columns) of ``cov * inv_sd`` per target (row), overwriting
    ``cov``; -1 where every source is constant (``inv_sd`` NaN: never chosen)."""
    const = np.isnan(inv_sd)
    if const.all():
        return np.full(cov.shape[0], -1, dtype=np.intp)
    cov *= np.where(const, 0.0, inv_sd)
    if const.any():
        cov[:, const] = -np.inf
    return np.argmax(cov, axis=1)


def _inv_sd(Xt: np.ndarray, missing: np.ndarray | None, sxx: np.ndarray, sx: np.ndarray,
            sxx_all: np.ndarray) -> np.ndarray:
    """``1 / sqrt(sum of squared deviations)`` of each column of ``Xt`` over its rows minus
    ``missing``, from the raw sums ``sxx`` and ``sx`` over those rows; NaN for constant
    columns.

    Downdated sums carry rounding errors relative to ``sxx_all`` (the sums before the
    downdate), so columns whose variance is tiny against it are re-checked on the rows
    themselves: exactly constant (peak-to-peak 0, as :func:`_zscore_columns`) or not."""
    n = Xt.shape[0] - (0 if missing is None else missing.size)
    ss = sxx - sx * sx / max(n, 1)
    suspect = np.flatnonzero(ss <= 1e-8 * sxx_all)
    if suspect.size:
        keep = np.ones(Xt.shape[0], dtype=bool)
        if missing is not None:
            keep[missing] = False
        sub = Xt[np.ix_(keep, suspect)]
        dev = sub - sub.mean(axis=0)
        ss[suspect] = np.where(np.ptp(sub, axis=0) == 0, 0.0, np.einsum("ij,ij->j", dev, dev))
    out = np.full_like(ss, np.nan)
    ok = ss > 0
    out[ok] = 1.0 / np.sqrt(ss[ok])
    return out


def _take(X: np.ndarray, best: np.ndarray, mean: np.ndarray,
          rows: np.ndarray | None = None) -> np.ndarray:
    """Columns ``best`` of ``X`` (at ``rows`` if given); -1 columns get ``mean``."""
    # ``take`` along the columns, then the rows: a 2-D fancy index costs several times more,
    # and a transposed copy of X made for row gathers costs as much as ten splits of this and
    # doubles the layer's memory
    P = X.take(np.maximum(best, 0), axis=1)
    if rows is not None:
        P = P.take(rows, axis=0)
    none = best < 0
    if none.any():
        P[:, none] = mean[none]
    return P
