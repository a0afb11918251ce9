"""Representational similarity metrics between model and recorded rate maps.

Each metric compares a model's responses ``X`` (bins × units) with one animal's recorded
responses ``Y`` (bins × cells) on the same spatial bins. Inputs may be 2-D arrays
``(n_bins, n_columns)``, 3-D arrays ``(n_x, n_y, n_columns)`` or rate-map DataArrays
(``("x", "y", "neuroid")``); bins are flattened in C order over ``(x, y)``, the order of
:mod:`mecbench.splits`.

Common input rules (:func:`paired_bins`): a bin is dropped when it is NaN in any column of
either representation (unvisited bins), so both are compared on one set of bins; a column
constant over the kept bins is dropped (a representation left with none is a
:class:`~mecbench.errors.DataError`); infinite values are an error.

Metrics
-------
:func:`linear_cka`
    Linear CKA, biased or debiased (Kornblith et al. 2019; Song et al. 2012).
:func:`rsa`, :func:`rdm`, :func:`compare_rdms`
    RDMs over bins (correlation or squared Euclidean distance, cross-validated between
    halves when given), compared by Spearman r or whitened cosine (Diedrichsen et al. 2021).
:func:`shape_distance`, :class:`ShapeMetric`
    Generalized shape metrics with partial whitening ``alpha`` (Williams et al. 2021).
:func:`soft_matching`, :class:`SoftMatching`
    Soft matching distance: exact optimal transport between units and cells (Khosla &
    Williams 2023).
:func:`cross_validated`
    Any registered metric on held-out bins of the mappings' splits.
:data:`METRICS`
    Registry of named metrics with their direction and a common similarity scale
    (:mod:`mecbench.similarity.registry`).

Raw values keep the direction their papers define: CKA, RSA correlations and the whitened
cosine are similarities (higher is more similar); shape angles and the soft matching distance
are distances (lower is more similar). :meth:`Metric.to_similarity` maps every raw value to
one scale on which higher is more similar and 1 means identical.
"""

from __future__ import annotations

from ._data import PairedBins, bin_splits, paired_bins
from .cka import cka_from_arrays, linear_cka
from .crossval import CrossValidatedSimilarity, cross_validated
from .rdms import compare_rdms, rdm, rsa
from .registry import METRICS, Metric, get_metric, metric_names
from .shape import ShapeMetric, shape_distance
from .transport import SoftMatching, SoftMatchingResult, soft_matching, transport_plan

__all__ = [
    "PairedBins",
    "paired_bins",
    "bin_splits",
    "linear_cka",
    "cka_from_arrays",
    "rdm",
    "compare_rdms",
    "rsa",
    "ShapeMetric",
    "shape_distance",
    "SoftMatching",
    "SoftMatchingResult",
    "soft_matching",
    "transport_plan",
    "METRICS",
    "Metric",
    "get_metric",
    "metric_names",
    "CrossValidatedSimilarity",
    "cross_validated",
]
