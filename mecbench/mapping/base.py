"""Mapping base class, the per-split design helper, and :func:`cross_predict`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone

from mecbench.errors import DataError

from ._linalg import index_digest, mm, shifted_eigh, single_thread
from ._validation import check_X, check_Y
from .cache import FeatureCache

__all__ = ["MappingBase", "cross_predict", "Design"]


class MappingBase(RegressorMixin, BaseEstimator):
    """Common behaviour: linear prediction from ``coef_`` (n_targets, n_features) and
    ``intercept_`` (n_targets,), and 1-D ``y`` round-tripping."""

    def predict(self, X) -> np.ndarray:
        """Predict targets for ``X`` (n_samples, n_features)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "coef_")
        X = check_X(X)
        if X.shape[1] != self.n_features_in_:
            raise DataError(f"X has {X.shape[1]} features but the mapping was fitted with "
                            f"{self.n_features_in_}")
        coef = np.reshape(self.coef_, (-1, self.n_features_in_))
        P = X @ coef.T + np.reshape(self.intercept_, -1)
        return P[:, 0] if self._y_1d else P

    def _set_linear(self, coef: np.ndarray, intercept: np.ndarray, n_features: int,
                    was_1d: bool) -> None:
        """Store ``coef`` (n_targets, n_features) and ``intercept`` (n_targets,) the way
        scikit-learn does (1-D / scalar when ``y`` was 1-D)."""
        self.coef_ = np.ascontiguousarray(coef[0]) if was_1d else coef
        self.intercept_ = float(intercept[0]) if was_1d else intercept
        self.n_features_in_ = n_features
        self._y_1d = was_1d

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class Design:
    """Per-split views of one layer's features, memoised in a :class:`FeatureCache`.

    ``fit`` and ``evl`` are row indices into ``cache.X``. Everything returned depends on ``X``
    and the indices only, so it is shared by every target set fitted on the same rows.
    """

    def __init__(self, cache: FeatureCache):
        self.cache = cache

    def kernel(self, n_fit: int) -> bool:
        return self.cache.use_kernel(n_fit)

    @staticmethod
    def key(name, fit, evl=None, *extra):
        return (name, index_digest(fit), None if evl is None else index_digest(evl), *extra)

    # -- kernel (n x n) form -------------------------------------------------------------
    def kff(self, fit):
        """``(Kff, row, tot)``: the train-centred train kernel and the centring statistics."""
        def compute():
            K = self.cache.gram
            Kff = K[np.ix_(fit, fit)]
            row = Kff.mean(axis=0)
            tot = row.mean()
            Kff -= row[:, None]
            Kff -= row[None, :]
            Kff += tot
            return 0.5 * (Kff + Kff.T), row, tot
        return self.cache.memo(self.key("kff", fit), compute)

    def kef_dot(self, fit, evl, A):
        """``Kc @ A``, ``Kc`` the cross kernel of eval rows against fit rows centred on the
        fit-row mean, without forming ``Kc``.

        With ``Kc = K - m 1ᵀ - 1 rᵀ + t 11ᵀ`` (``m`` the eval rows' means over the fit
        columns, ``r``/``t`` the fit-kernel centring statistics),
        ``Kc A = K A - m (1ᵀA) - 1 (rᵀA) + t 1 (1ᵀA)``; ``m`` comes out of the same product
        as an extra column of ones / n_fit. No centred eval × fit block is formed.
        """
        _, row, tot = self.kff(fit)
        n = len(fit)
        Ae = np.empty((n, A.shape[1] + 1))
        Ae[:, :-1] = A
        Ae[:, -1] = 1.0 / n
        P = mm(self.cache.gram[np.ix_(evl, fit)], Ae)
        s1 = A.sum(axis=0)
        out = P[:, :-1]
        out -= P[:, -1:] * s1[None, :]
        out -= (row @ A - tot * s1)[None, :]
        return out

    def keig(self, fit):
        """``(s, V)``: eigen-decomposition of the centred train kernel, constant direction at
        index 0 (see :func:`shifted_eigh`)."""
        return self.cache.memo(self.key("keig", fit), lambda: shifted_eigh(self.kff(fit)[0]))

    def kefV(self, fit, evl):
        """Eval cross kernel projected on the train-kernel eigenvectors."""
        return self.cache.memo(self.key("kefV", fit, evl),
                               lambda: self.kef_dot(fit, evl, self.keig(fit)[1]))

    # -- covariance (p x p) form ---------------------------------------------------------
    def pstats(self, fit):
        """``(Xf, mu)``: fit rows centred on their mean ``mu``."""
        def compute():
            Xf = self.cache.X0[fit]
            mu = Xf.mean(axis=0)
            Xf -= mu
            return Xf, mu
        return self.cache.memo(self.key("pstats", fit), compute)

    def pcov(self, fit):
        """``C = Xfᵀ Xf`` (p × p) of the centred fit rows."""
        def compute():
            Xf = self.pstats(fit)[0]
            C = mm(Xf.T, Xf)
            return 0.5 * (C + C.T)
        return self.cache.memo(self.key("pcov", fit), compute)

    def xe_dot(self, fit, evl, M):
        """``(X0[evl] - mu) @ M``, eval rows centred on the fit-row mean ``mu``, computed as
        ``X0[evl] @ M - mu @ M`` so that no centred copy of the eval rows is made."""
        P = mm(self.cache.X0[evl], M)
        P -= self.pstats(fit)[1] @ M
        return P

    def peig(self, fit):
        """``(s, W, keep, U)``: ``C = W diag(s) Wᵀ`` and left singular vectors
        ``U = Xf W[:, keep] / sqrt(s[keep])`` for the numerically non-zero ``s``."""
        def compute():
            import scipy.linalg as sla

            from ._linalg import single_thread

            Xf = self.pstats(fit)[0]
            C = self.pcov(fit)
            with single_thread():
                s, W = sla.eigh(C, driver="evd", check_finite=False)
            np.maximum(s, 0.0, out=s)
            tol = s.max(initial=0.0) * max(C.shape[0], Xf.shape[0]) * np.finfo(float).eps
            keep = s > tol
            U = (Xf @ W[:, keep]) / np.sqrt(s[keep])
            return s, W, keep, U
        return self.cache.memo(self.key("peig", fit), compute)


def _as_splits(splits, n: int):
    out = []
    for k, pair in enumerate(splits):
        try:
            tr, te = pair
        except (TypeError, ValueError):
            raise DataError(f"splits[{k}] must be a (train_idx, test_idx) pair") from None
        tr = np.asarray(tr)
        te = np.asarray(te)
        for name, idx in (("train", tr), ("test", te)):
            if idx.dtype == bool:
                raise DataError(f"splits[{k}] {name} indices must be integers, not a boolean mask")
            if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
                raise DataError(f"splits[{k}] {name} indices must be a 1-D integer array")
            if idx.size and (idx.min() < -n or idx.max() >= n):
                raise DataError(f"splits[{k}] {name} indices out of range for {n} rows")
        if tr.size < 2:
            raise DataError(f"splits[{k}] has {tr.size} train rows; at least 2 are needed")
        out.append((tr.astype(np.intp) % n if tr.size else tr.astype(np.intp),
                    te.astype(np.intp) % n if te.size else te.astype(np.intp)))
    return out


def cross_predict(mapping, cache: FeatureCache | np.ndarray, Y: np.ndarray,
                  splits: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """Fit ``mapping`` on the train rows of every split and predict its test rows.

    Equal, up to float rounding, to
    ``[clone(mapping).fit(X[tr], Y[tr]).predict(X[te]) for tr, te in splits]`` but shares all
    work that depends only on ``X`` (Gram matrix, per-split decompositions) through ``cache``.
    Mappings with a ``_cross_predict(cache, Y, splits)`` method use it; others are looped.

    Parameters
    ----------
    mapping : estimator
        A mecbench mapping or any scikit-learn regressor (cloned, never modified).
    cache : FeatureCache or array (n_bins, n_features)
    Y : array (n_bins, n_targets) or (n_bins,)
        Targets; finite on every train and test row.
    splits : sequence of (train_idx, test_idx)
        Integer row indices into ``cache.X`` and ``Y``.

    Returns
    -------
    list of arrays, one per split, each (len(test_idx), n_targets) (1-D if ``Y`` is 1-D).
    """
    if not isinstance(cache, FeatureCache):
        cache = FeatureCache(cache)
    Yarr, was_1d = _check_rows_Y(Y, cache.n_samples)
    splits = _as_splits(splits, cache.n_samples)
    used = np.unique(np.concatenate([np.concatenate(p) for p in splits])) if splits else []
    if len(used) and not np.isfinite(Yarr[used]).all():
        raise DataError("Y contains non-finite values in rows used by the splits")
    fast = getattr(mapping, "_cross_predict", None)
    preds = None
    if fast is not None:
        # small factorisations and products on one BLAS thread; big products and the Gram
        # matrix switch back to all threads (see _linalg.mm)
        with single_thread():
            preds = fast(cache, Yarr, splits)
    if preds is None:
        preds = []
        for tr, te in splits:
            est = clone(mapping).fit(cache.X[tr], Yarr[tr])
            P = np.asarray(est.predict(cache.X[te]), dtype=np.float64)
            preds.append(P.reshape(len(te), -1))
    if was_1d:
        preds = [P[:, 0] for P in preds]
    return preds


def _check_rows_Y(Y, n: int) -> tuple[np.ndarray, bool]:
    arr = np.asarray(Y, dtype=np.float64)
    if arr.ndim not in (1, 2):
        raise DataError(f"Y must be 1-D or 2-D (n_bins, n_targets); got shape {arr.shape}")
    was_1d = arr.ndim == 1
    arr = arr[:, None] if was_1d else arr
    if arr.shape[0] != n:
        raise DataError(f"Y has {arr.shape[0]} rows but the features have {n} bins")
    if arr.shape[1] < 1:
        raise DataError("Y has no target column")
    return np.ascontiguousarray(arr), was_1d


def fit_design(X, Y):
    """Checked (X, Y 2-D, was_1d, FeatureCache over X, all-row index) for a plain ``fit``."""
    X = check_X(X)
    Y, was_1d = check_Y(Y)
    if X.shape[0] != Y.shape[0]:
        raise DataError(f"X and Y have different numbers of samples: {X.shape[0]} != {Y.shape[0]}")
    if X.shape[0] < 2:
        raise DataError(f"X needs at least 2 samples to fit; got {X.shape[0]}")
    return X, Y, was_1d
