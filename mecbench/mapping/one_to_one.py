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
    R = mm(Xz.T, Yz)  # (p, t) Pearson correlations
    R[xconst, :] = -np.inf
    best = np.argmax(R, axis=0)
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
        P = _take(X, None, self._best, self._mean)
        return P[:, 0] if self._y_1d else P

    def _cross_predict(self, cache: FeatureCache, Y: np.ndarray, splits):
        d = Design(cache)
        out = []
        for tr, te in splits:
            Xz, xconst = cache.memo(d.key("zscore", tr),
                                    lambda tr=tr: _zscore_columns(cache.X[tr]))
            best = best_sources(Xz, xconst, Y[tr])
            out.append(_take(cache.X, te, best, Y[tr].mean(axis=0)))
        return out


def _take(X: np.ndarray, rows, best: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Columns ``best`` of ``X`` (rows ``rows``, all if None); -1 columns get ``mean``."""
    cols = np.maximum(best, 0)
    P = X[:, cols] if rows is None else X[np.ix_(rows, cols)]
    none = best < 0
    if none.any():
        P[:, none] = mean[none]
    return P
