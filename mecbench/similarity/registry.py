"""Named similarity metrics with a declared direction and a common similarity scale.

Every metric in :data:`METRICS` is a :class:`Metric`: call it on a model's and an animal's
rate maps to get its **raw value** (the number the paper defines: a similarity for CKA and
RSA, a distance for shape metrics and soft matching), read
:attr:`Metric.higher_is_more_similar` for its direction, and use :meth:`Metric.to_similarity`
to put any value on one scale on which **higher is more similar and 1 means identical**:

=======================  ===============================  ==============================
name                     raw value (range)                ``to_similarity``
=======================  ===============================  ==============================
``cka``                  biased linear CKA ([0, 1])       the value
``cka-debiased``         debiased linear CKA (≈[0, 1])    the value
``rsa-spearman``         Spearman r of RDMs ([-1, 1])     the value
``rsa-whitened-cosine``  whitened cosine ([-1, 1])        the value
``shape-procrustes``     angle θ, α = 1 ([0, π/2])        ``1 - 2θ/π``
``shape-cca``            angle θ, α = 0 ([0, π/2])        ``1 - 2θ/π`` (mean canon. r
                                                          would be ``cos θ``)
``soft-matching``        distance d ([0, 2])              ``1 - d²/2`` (weighted mean r)
=======================  ===============================  ==============================

On held-out bins (:func:`mecbench.similarity.cross_validated`) shape angles lie in
``[0, π]``, so their similarity lies in ``[-1, 1]``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from mecbench.errors import ConfigError, UnknownIdentifierError

from ._data import PairedBins, paired_bins
from .cka import cka_from_arrays
from .rdms import rsa_from_arrays
from .shape import ShapeMetric
from .transport import SoftMatching, _distance

__all__ = ["Metric", "METRICS", "get_metric", "metric_names"]

Evaluator = Callable[[PairedBins], float]


@dataclass(frozen=True)
class Metric:
    """A named similarity metric.

    Attributes
    ----------
    name : str
        Registry name.
    description : str
        One line naming the method and paper.
    higher_is_more_similar : bool
        Direction of the raw value.
    value_range : (float, float)
        Range of the raw value on the bins it is computed on.
    params : dict
        Default keyword parameters; callers may override these keys only.
    compute : callable (PairedBins, **params) -> float
        Raw value on all bins of a :class:`PairedBins`.
    fit : callable (PairedBins, **params) -> (PairedBins -> float), or None
        For metrics with fitted parts (alignment, PCA, transport plan): fit on training bins
        and return an evaluator of the raw value on other bins. None for parameter-free
        metrics, which are evaluated on the test bins alone.
    similarity : callable (value) -> similarity
        Map of the raw value to the common scale (module docstring).
    min_bins : int
        Fewest bins the metric is computed on.
    halves : bool
        Whether the metric uses second halves ``X2`` / ``Y2``.
    """

    name: str
    description: str
    higher_is_more_similar: bool
    value_range: tuple[float, float]
    compute: Callable[..., float]
    similarity: Callable[[float], float]
    params: Mapping[str, object] = field(default_factory=dict)
    fit: Callable[..., Evaluator] | None = None
    min_bins: int = 3
    halves: bool = False

    def resolve_params(self, params: Mapping[str, object]) -> dict:
        """Default parameters updated with ``params``; unknown keys raise ConfigError."""
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            allowed = ", ".join(sorted(self.params)) or "none"
            raise ConfigError(f"metric {self.name!r} has no parameter "
                              f"{', '.join(map(repr, unknown))} (parameters: {allowed})")
        return {**self.params, **params}

    def __call__(self, X, Y, *, X2=None, Y2=None, **params) -> float:
        """Raw value of the metric between model responses ``X`` and recorded responses
        ``Y`` (arrays (n_bins, n_columns), (n_x, n_y, n_columns) or rate-map DataArrays;
        NaN bins and constant columns are dropped as in
        :func:`mecbench.similarity.paired_bins`)."""
        kw = self.resolve_params(params)
        if (X2 is not None or Y2 is not None) and not self.halves:
            raise ConfigError(f"metric {self.name!r} does not use second halves X2/Y2")
        pb = paired_bins(X, Y, X2=X2, Y2=Y2, min_bins=self.min_bins)
        return float(self.compute(pb, **kw))

    def to_similarity(self, value):
        """``value`` (raw; float or array) on the common scale: higher is more similar,
        1 = identical."""
        return self.similarity(value)


def _cka(pb: PairedBins, *, debiased: bool) -> float:
    return cka_from_arrays(pb.X, pb.Y, debiased=debiased)


def _rsa(method: str):
    def compute(pb: PairedBins, *, distance: str) -> float:
        return rsa_from_arrays(pb.X, pb.Y, pb.X2, pb.Y2, distance=distance, method=method)
    return compute


def _shape_compute(alpha: float):
    def compute(pb: PairedBins, *, n_components: int | None) -> float:
        return ShapeMetric(alpha, n_components).fit(pb.X, pb.Y).distance_
    return compute


def _shape_fit(alpha: float):
    def fit(pb: PairedBins, *, n_components: int | None) -> Evaluator:
        m = ShapeMetric(alpha, n_components).fit(pb.X, pb.Y)
        return lambda test: m.score(test.X, test.Y)
    return fit


def _soft_compute(pb: PairedBins, *, solver: str) -> float:
    return SoftMatching(solver).fit(pb.X, pb.Y).distance_


def _soft_fit(pb: PairedBins, *, solver: str) -> Evaluator:
    m = SoftMatching(solver).fit(pb.X, pb.Y)
    return lambda test: _distance(m.score(test.X, test.Y))


def _identity(v):
    return v


def _angle_similarity(theta):
    return 1.0 - 2.0 * np.asarray(theta, dtype=np.float64) / np.pi if np.ndim(theta) \
        else 1.0 - 2.0 * float(theta) / np.pi


def _soft_similarity(d):
    return 1.0 - np.square(d) / 2.0 if np.ndim(d) else 1.0 - float(d) ** 2 / 2.0


_ALL = (
    Metric("cka", "linear CKA, biased HSIC (Kornblith et al. 2019)", True, (0.0, 1.0),
           lambda pb: _cka(pb, debiased=False), _identity, min_bins=3),
    Metric("cka-debiased", "linear CKA, unbiased HSIC (Song et al. 2012; Nguyen et al. 2021)",
           True, (-1.0, 1.0), lambda pb: _cka(pb, debiased=True), _identity, min_bins=4),
    Metric("rsa-spearman", "RSA: Spearman r of correlation-distance RDMs over bins",
           True, (-1.0, 1.0), _rsa("spearman"), _identity, {"distance": "correlation"},
           halves=True),
    Metric("rsa-whitened-cosine", "RSA: whitened cosine of RDMs (Diedrichsen et al. 2021)",
           True, (-1.0, 1.0), _rsa("whitened_cosine"), _identity, {"distance": "correlation"},
           halves=True),
    Metric("shape-procrustes", "angular Procrustes shape distance, alpha=1 "
           "(Williams et al. 2021)", False, (0.0, np.pi / 2), _shape_compute(1.0),
           _angle_similarity, {"n_components": None}, _shape_fit(1.0), min_bins=3),
    Metric("shape-cca", "angular shape distance, alpha=0: arccos of mean canonical r "
           "(Williams et al. 2021)", False, (0.0, np.pi / 2), _shape_compute(0.0),
           _angle_similarity, {"n_components": None}, _shape_fit(0.0), min_bins=3),
    Metric("soft-matching", "soft matching distance between tuning curves "
           "(Khosla & Williams 2023)", False, (0.0, 2.0), _soft_compute, _soft_similarity,
           {"solver": "auto"}, _soft_fit, min_bins=3),
)

#: Registry name → :class:`Metric` (read-only).
METRICS: Mapping[str, Metric] = MappingProxyType({m.name: m for m in _ALL})


def metric_names() -> list[str]:
    """Names of the registered metrics."""
    return list(METRICS)


def get_metric(name: str | Metric) -> Metric:
    """The :class:`Metric` called ``name`` (a Metric is returned as is)."""
    if isinstance(name, Metric):
        return name
    try:
        return METRICS[name]
    except (KeyError, TypeError):
        raise UnknownIdentifierError("similarity metric", str(name), METRICS) from None
