"""Adapter for any scikit-learn regressor (the reference's ``sklinear`` map)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone

from mecbench.errors import ConfigError, DataError, UnknownIdentifierError

from ._validation import check_X
from .base import fit_design

__all__ = ["SklearnMapping", "sklearn_linear_regressors"]


def sklearn_linear_regressors() -> list[str]:
    """Names of the regressor classes in :mod:`sklearn.linear_model`."""
    import sklearn.linear_model as lm

    out = []
    for name in lm.__all__:
        obj = getattr(lm, name, None)
        if isinstance(obj, type) and issubclass(obj, RegressorMixin):
            out.append(name)
    return sorted(out)


def _resolve(estimator, params) -> BaseEstimator:
    params = dict(params or {})
    if isinstance(estimator, str):
        import sklearn.linear_model as lm

        names = sklearn_linear_regressors()
        if estimator not in names:
            raise UnknownIdentifierError("sklearn.linear_model regressor", estimator, names)
        cls = getattr(lm, estimator)
        try:
            return cls(**params)
        except TypeError as err:
            raise ConfigError(f"bad parameters for {estimator}: {err}") from None
    if not (hasattr(estimator, "fit") and hasattr(estimator, "predict")):
        raise ConfigError(f"estimator must be a regressor instance or a sklearn.linear_model class "
                          f"name; got {estimator!r}")
    est = clone(estimator)
    if params:
        est.set_params(**params)
    return est


class SklearnMapping(RegressorMixin, BaseEstimator):
    """Wrap a scikit-learn regressor as a mapping (multi-target by default).

    Parameters
    ----------
    estimator : str or estimator
        A regressor instance (cloned), or the name of a :mod:`sklearn.linear_model` class as in
        the reference's ``sklinear`` map (default ``"Ridge"``, i.e. ``Ridge(alpha=1)``).
    params : dict, optional
        Parameters set on the estimator.

    A plain ``Ridge`` (intercept, default solver, not positive) is routed to mecbench's
    :class:`~mecbench.mapping.Ridge` fast path in :func:`~mecbench.mapping.cross_predict`
    (same model, same predictions up to rounding). Estimators without multi-output support
    are fitted once per target through ``MultiOutputRegressor``.
    """

    def __init__(self, estimator="Ridge", params=None):
        self.estimator = estimator
        self.params = params

    def fit(self, X, Y):
        X, Y, was_1d = fit_design(X, Y)
        est = _resolve(self.estimator, self.params)
        if not was_1d and Y.shape[1] > 1 and not _multi_output(est):
            from sklearn.multioutput import MultiOutputRegressor

            est = MultiOutputRegressor(est)
        est.fit(X, Y[:, 0] if was_1d else Y)
        self.estimator_ = est
        self.n_features_in_ = X.shape[1]
        self._y_1d = was_1d
        return self

    def predict(self, X) -> np.ndarray:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "estimator_")
        X = check_X(X)
        if X.shape[1] != self.n_features_in_:
            raise DataError(f"X has {X.shape[1]} features but the mapping was fitted with "
                            f"{self.n_features_in_}")
        P = np.asarray(self.estimator_.predict(X), dtype=np.float64)
        if not self._y_1d and P.ndim == 1:
            P = P[:, None]
        return P

    def _cross_predict(self, cache, Y, splits):
        from sklearn.linear_model import Ridge as SkRidge

        from .ridge import Ridge

        est = _resolve(self.estimator, self.params)
        if type(est) is SkRidge:
            p = est.get_params()
            if (p["fit_intercept"] and not p["positive"] and p["solver"] == "auto"
                    and np.ndim(p["alpha"]) == 0):
                return Ridge(alpha=float(p["alpha"]))._cross_predict(cache, Y, splits)
        return None


def _multi_output(est) -> bool:
    try:
        return bool(est.__sklearn_tags__().target_tags.multi_output)
    except AttributeError:  # pragma: no cover - very old estimators
        return False
