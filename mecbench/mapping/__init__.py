"""Mapping engine: fast multi-target regressions from model features to neural responses.

Every mapping follows the scikit-learn estimator API (``fit(X, Y)``, ``predict(X)``,
``get_params``, cloneable) and is multi-target native. :func:`cross_predict` fits one over many
train/test splits of the same features, sharing everything that depends only on the features
through a :class:`FeatureCache` (one Gram matrix per layer, one decomposition per split).
"""

from __future__ import annotations

from mecbench.errors import UnknownIdentifierError

from .base import MappingBase, cross_predict
from .cache import FeatureCache
from .enet import (
    REFERENCE_ALPHAS,
    REFERENCE_ALPHAS_SHORT,
    REFERENCE_L1_RATIOS,
    REFERENCE_L1_RATIOS_SHORT,
    ElasticNet,
    Lasso,
    elastic_net_cv,
)
from .enet_cv import ElasticNetCVMapping
from .masked import cross_predict_masked
from .one_to_one import OneToOne
from .pls import PLS
from .ridge import DEFAULT_RIDGE_ALPHAS, Ridge, RidgeCV
from .sklearn_wrap import SklearnMapping

__all__ = [
    "FeatureCache", "cross_predict", "cross_predict_masked", "MappingBase", "Ridge", "RidgeCV",
    "PLS", "ElasticNet", "ElasticNetCVMapping",
    "Lasso", "OneToOne", "SklearnMapping", "elastic_net_cv", "get_mapping", "MAPPING_NAMES",
    "DEFAULT_RIDGE_ALPHAS", "REFERENCE_ALPHAS", "REFERENCE_L1_RATIOS", "REFERENCE_ALPHAS_SHORT",
    "REFERENCE_L1_RATIOS_SHORT",
]

_CLASSES = {
    "ridge": Ridge,
    "ridgecv": RidgeCV,
    "pls": PLS,
    "enet": ElasticNet,
    "enet-cv": ElasticNetCVMapping,
    "lasso": Lasso,
    "one-to-one": OneToOne,
    "sklinear": SklearnMapping,
}

#: Names accepted by :func:`get_mapping`: the one registry of mapping names (the benchmarks'
#: ``--mapping`` specs resolve through it).
MAPPING_NAMES = tuple(_CLASSES)


def get_mapping(name: str, **params):
    """Build a mapping by name (one of :data:`MAPPING_NAMES`) with its parameters.

    ``get_mapping("sklinear", estimator="Lasso", alpha=0.1)`` wraps
    ``sklearn.linear_model.Lasso(alpha=0.1)``; for the other names ``params`` are the class's
    own (e.g. ``get_mapping("pls", n_components=25)``).

    Raises
    ------
    UnknownIdentifierError
        Unknown mapping name or parameter (with the closest valid names).
    """
    key = str(name).strip().lower().replace("_", "-")
    if key not in _CLASSES:
        raise UnknownIdentifierError("mapping", str(name), MAPPING_NAMES)
    cls = _CLASSES[key]
    if cls is SklearnMapping:
        estimator = params.pop("estimator", "Ridge")
        return SklearnMapping(estimator, params=params or None)
    known = cls().get_params(deep=False) if cls is not PLS else PLS().get_params(deep=False)
    for param in params:
        if param not in known:
            raise UnknownIdentifierError(f"parameter of mapping {key!r}", param, known)
    return cls(**params)
