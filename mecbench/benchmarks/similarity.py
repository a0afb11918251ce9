"""Similarity benchmarks: a similarity metric as a benchmark's comparison.

A :class:`~mecbench.benchmarks.Benchmark` compares model rate maps with recordings through its
*comparison*: a regression mapping (:class:`~mecbench.benchmarks.specs.MappingSpec`, one value
per recorded cell) or a representational similarity metric (:class:`SimilaritySpec`, one value
per recorded animal). Everything else (data, splits, ceiling methods, pooling over arenas,
medians, bootstrap CIs, caching, leaderboard entries) is shared.

Per-animal values
-----------------
For each arena and each animal, the metric compares the model's rate maps (all units) with that
animal's cells, cross-validated on the benchmark's splits
(:func:`mecbench.similarity.cross_validated`: fitted metrics are fitted on the training bins
and evaluated on the test bins, parameter-free ones are computed on the test bins), on the
common similarity scale (:meth:`mecbench.similarity.Metric.to_similarity`: higher is more
similar, 1 = identical). The result has the layout of a regression result with the animal in
place of the cell: dims ``(neuroid, split)``, ``neuroid_id`` = ``animal`` = the animal's name
(pooled over arenas as ``"<arena>/<animal>"``), with ``n_train``, ``n_test`` and
``undefined_reason`` per (animal, split) and ``n_cells`` per animal. So a
:class:`~mecbench.score.Score` of a similarity benchmark holds one value per (arena, animal):
``raw`` is the mean over splits, ``raw_median`` the median over (arena, animal) pairs, with the
same seeded bootstrap CI; its ``n_cells*`` counts count animals (attribute
``score_unit = "animal"``).

Ceiling
-------
``holdout``: each animal compared, with the same metric and splits, with all other animals of
the arena pooled (their cells concatenated as if they were one model's units); ``pairwise``:
with each other animal alone, averaged over them. ``split-half``: each animal's first-half
maps compared with its second-half maps (no Spearman-Brown correction: it does not apply to
population metrics). ``ceiled = raw / ceiling`` per (arena, animal) and its median over the
pairs with ``ceiling > min_ceiling``, exactly as for cells.

The inter-animal ceiling of a similarity is the similarity of two *recorded* populations, both
noisy and of different sizes, while a model is compared with one noisy population: for metrics
that saturate with the size or noise of the representation (CKA, RSA) or that fit an alignment
on the training bins (shape metrics, soft matching), the model can be more similar to an
animal than another animal is, and ``ceiled`` can exceed 1. The ceiling is also only as good
as its source pool (the same rule as for cells, :data:`mecbench.ceiling.MIN_SOURCE_CELLS`),
and it rests on few values: one per (arena, animal), so its bootstrap CI is wide with few
animals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import xarray as xr

from mecbench.benchmarks._values import format_value, jsonable
from mecbench.ceiling import INTERANIMAL_MODES, _animal_order
from mecbench.errors import ConfigError, DataError, UnknownIdentifierError
from mecbench.predictivity import _check_model_maps, resolve_splits
from mecbench.ratemaps import DIMS, check_same_grid, validate_rate_maps
from mecbench.similarity import METRICS, cross_validated, get_metric
from mecbench.splits import Split, SplitScheme

__all__ = ["SimilaritySpec", "similarity_by_animal", "interanimal_similarity",
           "split_half_similarity", "is_similarity_name"]

#: Values of ``undefined_reason`` of a similarity result.
UNDEFINED = "undefined"


def is_similarity_name(name: str) -> bool:
    """Whether ``name`` is a registered similarity metric (:data:`mecbench.similarity.METRICS`)."""
    return name in METRICS


@dataclass(frozen=True)
class SimilaritySpec:
    """A similarity metric as a benchmark's comparison, e.g. ``SimilaritySpec("cka")``.

    Parameters
    ----------
    name : str
        A metric of :data:`mecbench.similarity.METRICS`.
    params : dict
        Overrides of the metric's parameters (:attr:`mecbench.similarity.Metric.params`).
    """

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    #: What one value of a score is computed for.
    unit: ClassVar[str] = "animal"
    kind: ClassVar[str] = "similarity"

    def __hash__(self) -> int:
        return hash(self.text)

    @property
    def text(self) -> str:
        """``name[:key=value,...]`` with sorted keys (round-trips through
        :func:`mecbench.benchmarks.parse_mapping`)."""
        if not self.params:
            return self.name
        return self.name + ":" + ",".join(f"{k}={format_value(v)}"
                                          for k, v in sorted(self.params.items()))

    def build(self):
        """The :class:`mecbench.similarity.Metric` (checks the parameters)."""
        metric = get_metric(self.name)
        metric.resolve_params(self.params)
        return metric

    def resolved_params(self) -> dict[str, Any]:
        """The metric's parameters, defaults included."""
        return self.build().resolve_params(self.params)

    def key(self) -> dict[str, Any]:
        """What identifies the comparison in cache keys: kind, name, explicit parameters."""
        return {"kind": self.kind, "name": self.name,
                "params": {k: jsonable(v) for k, v in sorted(self.params.items())}}

    def full_key(self) -> dict[str, Any]:
        """:meth:`key` plus every parameter (defaults included) and the metric's direction."""
        metric = self.build()
        return {**self.key(), "all_params": {k: jsonable(v) for k, v in
                                             sorted(self.resolved_params().items())},
                "higher_is_more_similar": metric.higher_is_more_similar,
                "scale": "to_similarity"}

    # the comparison protocol of Benchmark --------------------------------------------------
    def score_maps(self, maps: xr.DataArray, neural: xr.DataArray,
                   splits: SplitScheme | Sequence[Split], *, per_animal: bool = True
                   ) -> xr.DataArray:
        """Per-(animal, split) similarity of ``maps`` to each animal's cells
        (:func:`similarity_by_animal`); ``per_animal`` must be True."""
        if not per_animal:
            raise ConfigError(f"similarity benchmark ({self.text}): values are per animal; "
                              "per_animal=False is not defined for a similarity")
        return similarity_by_animal(self, maps, neural, splits)

    def interanimal(self, neural: xr.DataArray, splits: SplitScheme | Sequence[Split], *,
                    mode: str = "holdout") -> xr.DataArray:
        """Inter-animal ceiling (:func:`interanimal_similarity`)."""
        return interanimal_similarity(self, neural, splits, mode=mode)

    def split_half(self, halves: xr.DataArray, splits: SplitScheme | Sequence[Split]
                   ) -> xr.DataArray:
        """Split-half ceiling (:func:`split_half_similarity`)."""
        return split_half_similarity(self, halves, splits)


def _animals(neural: xr.DataArray) -> tuple[np.ndarray, list[str]]:
    if "animal" not in neural.coords:
        raise DataError("neural rate maps lack the 'animal' coordinate")
    return _animal_order(neural)


def _one(spec: SimilaritySpec, X, Y, split_list: list[Split], shape, *, X2=None, Y2=None
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(similarity, n_train, n_test) per split of one comparison; NaN where undefined,
    including a population left without a varying column on the common bins."""

    n = len(split_list)
    try:
        cv = cross_validated(spec.name, X, Y, split_list, shape=shape, X2=X2, Y2=Y2,
                             **spec.params)
    except DataError:
        return np.full(n, np.nan), np.zeros(n, np.int64), np.zeros(n, np.int64)
    return (np.asarray(cv.similarity, dtype=np.float64), np.asarray(cv.n_train, np.int64),
            np.asarray(cv.n_test, np.int64))


def _package(values: np.ndarray, n_train: np.ndarray, n_test: np.ndarray, animals: list[str],
             n_cells: list[int], attrs: dict) -> xr.DataArray:
    reason = np.where(np.isfinite(values), "", UNDEFINED).astype(str)
    names = np.asarray(animals, dtype=str)
    return xr.DataArray(
        values, dims=("neuroid", "split"),
        coords={"neuroid_id": ("neuroid", names), "animal": ("neuroid", names),
                "n_cells": ("neuroid", np.asarray(n_cells, dtype=np.int64)),
                "split": np.arange(values.shape[1]),
                "n_train": (("neuroid", "split"), n_train),
                "n_test": (("neuroid", "split"), n_test),
                "undefined_reason": (("neuroid", "split"), reason)},
        name="r", attrs={"score_unit": "animal",
                         "n_undefined": int((~np.isfinite(values)).sum()), **attrs})


def similarity_by_animal(spec: SimilaritySpec, maps: xr.DataArray, neural: xr.DataArray,
                         splits: SplitScheme | Sequence[Split]) -> xr.DataArray:
    """Similarity of a model's rate maps to each animal's population, per split.

    Parameters
    ----------
    spec : SimilaritySpec
    maps : DataArray (x, y, unit)
        Model rate maps (finite).
    neural : DataArray (x, y, neuroid)
        One arena's recordings with an ``animal`` coordinate; NaN in unvisited bins.
    splits : SplitScheme or list of (train, test)

    Returns
    -------
    DataArray (neuroid, split)
        One row per animal (sorted names), on the common similarity scale (module docstring).
    """

    maps = _check_model_maps(maps, "model rate maps")
    neural = validate_rate_maps(neural, "neural rate maps")
    check_same_grid(maps, neural, ("model rate maps", "neural rate maps"))
    shape = (neural.sizes["x"], neural.sizes["y"])
    split_list = resolve_splits(splits, shape)
    animals, order = _animals(neural)
    rows = [_one(spec, maps, neural.isel(neuroid=np.flatnonzero(animals == a)), split_list,
                 shape) for a in order]
    return _package(np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows]),
                    np.stack([r[2] for r in rows]), order,
                    [int((animals == a).sum()) for a in order],
                    {"metric": spec.text})


def interanimal_similarity(spec: SimilaritySpec, neural: xr.DataArray,
                           splits: SplitScheme | Sequence[Split], *, mode: str = "holdout"
                           ) -> xr.DataArray:
    """Inter-animal similarity per (animal, split): each animal against the other animals
    pooled (``holdout``) or against each other animal alone, averaged ignoring NaN
    (``pairwise``). An animal alone in its arena gets NaN (reason ``no_other_animal``)."""

    if mode not in INTERANIMAL_MODES:
        raise UnknownIdentifierError("interanimal_mode", mode, INTERANIMAL_MODES)
    neural = validate_rate_maps(neural, "neural rate maps")
    shape = (neural.sizes["x"], neural.sizes["y"])
    split_list = resolve_splits(splits, shape)
    n = len(split_list)
    animals, order = _animals(neural)
    values = np.full((len(order), n), np.nan)
    n_train = np.zeros((len(order), n), np.int64)
    n_test = np.zeros((len(order), n), np.int64)

    def cells(names):
        return neural.isel(neuroid=np.flatnonzero(np.isin(animals, names)))

    for i, target in enumerate(order):
        others = [a for a in order if a != target]
        if not others:
            continue
        sources = [others] if mode == "holdout" else [[o] for o in others]
        runs = [_one(spec, cells(src), cells([target]), split_list, shape) for src in sources]
        stack = np.stack([r[0] for r in runs])
        with np.errstate(invalid="ignore"):
            count = np.isfinite(stack).sum(axis=0)
            values[i] = np.where(count > 0, np.nansum(stack, axis=0) / np.maximum(count, 1),
                                 np.nan)
        n_train[i] = np.min([r[1] for r in runs], axis=0)
        n_test[i] = np.min([r[2] for r in runs], axis=0)
    da = _package(values, n_train, n_test, order, [int((animals == a).sum()) for a in order],
                  {"ceiling": f"interanimal-{mode}", "metric": spec.text,
                   "splits": splits.identifier if isinstance(splits, SplitScheme)
                   else "explicit"})
    if len(order) < 2:
        da = da.assign_coords(undefined_reason=(("neuroid", "split"),
                                                np.full(values.shape, "no_other_animal")))
    return da


def split_half_similarity(spec: SimilaritySpec, halves: xr.DataArray,
                          splits: SplitScheme | Sequence[Split]) -> xr.DataArray:
    """Each animal's first-half maps compared with its second-half maps, per split (the
    reliability of the population under the metric; no Spearman-Brown correction)."""

    if not isinstance(halves, xr.DataArray) or set(halves.dims) != {"half", *DIMS} \
            or halves.sizes.get("half") != 2:
        raise DataError("halves must be a DataArray with dims (half=2, x, y, neuroid)")
    halves = halves.transpose("half", *DIMS)
    shape = (halves.sizes["x"], halves.sizes["y"])
    split_list = resolve_splits(splits, shape)
    animals, order = _animals(halves)
    rows = []
    for a in order:
        sub = halves.isel(neuroid=np.flatnonzero(animals == a))
        rows.append(_one(spec, sub.isel(half=0).drop_vars("half", errors="ignore"),
                         sub.isel(half=1).drop_vars("half", errors="ignore"), split_list,
                         shape))
    return _package(np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows]),
                    np.stack([r[2] for r in rows]), order,
                    [int((animals == a).sum()) for a in order],
                    {"ceiling": "split-half-uncorrected", "metric": spec.text})
