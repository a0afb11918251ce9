"""The :class:`Benchmark`: recorded data + mapping + splits + ceiling, scoring any model.

How a benchmark scores a model (one layer)
------------------------------------------
(This section describes a regression benchmark, whose comparison is a mapping with one value
per recorded cell; a similarity benchmark has one value per recorded animal in place of each
cell, see :mod:`mecbench.benchmarks.similarity`.) For every arena of the benchmark's data,
the model's rate maps on that arena's bin grid are mapped to each animal's cells with the
benchmark's mapping, fitted per animal on the training bins of each split and evaluated on the
test bins (:func:`mecbench.predictivity.score_rate_maps`, the one scoring path). This gives
Pearson r per (cell, split).

The per-cell results of all arenas are then **pooled**: a cell recorded in two arenas counts
once per arena (its pooled ``neuroid_id`` is ``"<arena>/<neuroid_id>"``; coordinates ``arena``
and ``recorded_id`` keep the parts). The pooled r goes to :meth:`mecbench.score.Score.from_results`
with the pooled per-cell ceiling: ``raw_i`` = mean over splits of r, ``raw`` = median over all
pooled cells, ``ceiled_i = raw_i / ceiling_i`` and ``ceiled`` = median of ``ceiled_i`` over cells
with ``ceiling_i > min_ceiling``, 95 % CIs from a seeded bootstrap over cells (formulas in
:mod:`mecbench.ceiling`).

Ceiling
-------
``holdout`` (default; Nayebi et al. 2021): per arena, each animal's cells predicted from all other
animals' cells concatenated, with the **same** mapping and splits as the model. ``pairwise``:
each other animal alone, averaged. ``split-half``: Spearman–Brown corrected split-half
reliability from ``rate_halves``. When an arena has a single animal the inter-animal ceiling is
impossible: the benchmark falls back to ``split-half`` (or to no ceiling when the data have no
halves) and says so in :attr:`Benchmark.notes`.

An inter-animal ceiling is only as good as its source pool: when the smallest pool of other
animals' cells that predicts a target (in any arena) is below ``min_source_cells`` (default
:data:`mecbench.ceiling.MIN_SOURCE_CELLS`, set by ``scripts/ceiling_pool_study.py``), the
benchmark falls back to ``split-half`` where every arena has halves; otherwise it keeps the
inter-animal ceiling, marks it unreliable (:attr:`Benchmark.ceiling_reliable`) and says so in
the notes. :meth:`Benchmark.ceiling_support` reports the pools either way.

Work units and caching
----------------------
Model rate maps are computed once per (layer, arena) in this process (a network's rollout is
shared by its layers) and cached (:mod:`mecbench.cache`). Scoring runs as independent work
units, one per (layer, arena), through :func:`mecbench.parallel.run_units`; a finer split into
(layer, arena, split) would repeat the per-layer decomposition that all splits share, so it is
not done. Ceilings (one unit per arena) and scores are cached too, keyed by everything that
determines them; ``cache=Cache(enabled=False)`` turns caching off.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from mecbench.benchmarks.similarity import SimilaritySpec
from mecbench.benchmarks.specs import MappingSpec, parse_ceiling
from mecbench.cache import Cache
from mecbench.ceiling import MIN_SOURCE_CELLS, pool_reliable, source_pool_sizes
from mecbench.errors import ConfigError, DataError, MecbenchError, UnknownIdentifierError
from mecbench.jsonsafe import json_float
from mecbench.metrics import bootstrap_median_ci, nanmedian
from mecbench.neural_data import NeuralData
from mecbench.parallel import Shared, run_units
from mecbench.predictivity import merge_neuroid_parts
from mecbench.providers.base import check_provider_output
from mecbench.ratemaps import Arena
from mecbench.score import (
    DEFAULT_MIN_CEILING,
    Score,
    cell_mean,
    split_bootstrap,
    support_summary,
)
from mecbench.splits import SplitScheme

__all__ = ["Benchmark", "pool_arenas", "IDENTIFIER_RE"]

#: ``<dataset>.<mapping>[-<splits>]``; ad-hoc benchmarks are named ``adhoc:<file>``.
IDENTIFIER_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)+$")

ProgressFn = Callable[[str, int, int], None]


def _quiet(stage: str, done: int, total: int) -> None:
    return None


#: The environment variables choosing the mapping engine's array backend
#: (:mod:`mecbench.mapping.backend`), read here so that no key imports the engine when none is set.
_BACKEND_VARS = ("MECBENCH_BACKEND", "MECBENCH_DEVICE", "MECBENCH_DTYPE")


def _backend_key() -> str | None:
    """The selected array backend when its results may differ from the default's beyond float
    rounding (float32, a GPU), else None: such scores and ceilings are cached apart."""
    if not any(os.environ.get(v, "").strip() for v in _BACKEND_VARS):
        return None
    from mecbench.mapping.backend import backend_cache_key

    return backend_cache_key()


class Benchmark:
    """A neural-predictivity benchmark.

    Parameters
    ----------
    identifier : str
        ``<dataset>.<mapping>[-<splits>]`` (e.g. ``mec-sim.ridge-blocked``).
    version : int
        Bumped whenever the data, mapping, splits or ceiling change.
    data : NeuralData or callable returning NeuralData
        The recordings (a callable is called once, on first use).
    mapping : MappingSpec or SimilaritySpec
        The comparison: a regression mapping (one value per cell) or a similarity metric
        (one value per animal, :mod:`mecbench.benchmarks.similarity`).
    splits : SplitScheme
    ceiling : {"holdout", "pairwise", "split-half", "none"}
    description : str
        One line for ``mecbench benchmarks``.
    dataset : str
        Name of the dataset (for display).
    n_boot, bootstrap_seed : int
        Bootstrap of the summary CIs.
    min_ceiling : float
        Cells whose ceiling is not above this are excluded from ceiled summaries.
    per_animal : bool
        Fit the mapping per animal (reference behaviour) rather than on all cells at once.
    min_source_cells : int, optional
        Smallest inter-animal source pool (cells) at which an inter-animal ceiling is used;
        default :data:`mecbench.ceiling.MIN_SOURCE_CELLS`, 0 turns the rule off.
    """

    def __init__(
        self,
        identifier: str,
        version: int,
        data: Any,
        mapping: MappingSpec,
        splits: SplitScheme,
        *,
        ceiling: str = "holdout",
        description: str = "",
        dataset: str = "",
        n_boot: int = 1000,
        bootstrap_seed: int = 0,
        min_ceiling: float | None = None,
        per_animal: bool = True,
        min_source_cells: int | None = None,
    ):
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise ConfigError(f"benchmark version must be an integer >= 0, got {version!r}")
        if not isinstance(mapping, (MappingSpec, SimilaritySpec)):
            raise ConfigError(f"mapping must be a MappingSpec or a SimilaritySpec, got "
                              f"{type(mapping).__name__}")
        if not isinstance(splits, SplitScheme):
            raise ConfigError(f"splits must be a SplitScheme, got {type(splits).__name__}")
        self.identifier = str(identifier)
        self.version = version
        self._data = data
        self._data_identity = None
        self.mapping = mapping
        self.splits = splits
        self.requested_ceiling = parse_ceiling(ceiling)
        self.description = description
        self.dataset = dataset
        self.n_boot = int(n_boot)
        self.bootstrap_seed = int(bootstrap_seed)
        self.min_ceiling = DEFAULT_MIN_CEILING if min_ceiling is None else float(min_ceiling)
        self.per_animal = bool(per_animal)
        if mapping.unit == "animal" and not self.per_animal:
            raise ConfigError(f"benchmark {identifier}: a similarity ({mapping.text}) gives "
                              "one value per animal; per_animal=False is not defined for it")

        if min_source_cells is not None and (isinstance(min_source_cells, bool) or not
                                             isinstance(min_source_cells, (int, np.integer))
                                             or min_source_cells < 0):
            raise ConfigError(f"min_source_cells must be an integer >= 0, got "
                              f"{min_source_cells!r}")
        self.min_source_cells = (MIN_SOURCE_CELLS if min_source_cells is None
                                 else int(min_source_cells))
        self._ceiling_reliable: bool | None = None
        self._support: dict | None = None
        self._ceiling_method: str | None = None
        self.notes: list[str] = []
        #: How to rebuild an ad-hoc benchmark (path and specifications); None when registered.
        self.source: dict | None = None

    def __repr__(self) -> str:
        return (f"Benchmark({self.identifier!r}, version={self.version}, "
                f"mapping={self.mapping.text!r}, splits={self.splits.identifier!r}, "
                f"ceiling={self.requested_ceiling!r})")

    # data ---------------------------------------------------------------------------------
    @property
    def neural_data(self):
        """The recordings (loaded on first use)."""
        if not isinstance(self._data, NeuralData):
            data = self._data() if callable(self._data) else self._data
            if not isinstance(data, NeuralData):
                raise DataError(f"benchmark {self.identifier}: its data loader returned "
                                f"{type(data).__name__}, not NeuralData")
            self._data = data
        return self._data

    @property
    def data_identity(self):
        """The recordings' :class:`~mecbench.identity.DataIdentity` (the same on any machine
        for the same data)."""
        if self._data_identity is None:
            self._data_identity = self.neural_data.identity()
        return self._data_identity

    @property
    def data_id(self) -> str:
        """The recordings' identity string (:attr:`DataIdentity.id`)."""
        return self.data_identity.id

    @property
    def arenas(self) -> list[str]:
        """Arena names, in the data's order."""
        return list(self.neural_data.arena_names)

    @property
    def ceiling_method(self) -> str:
        """The ceiling actually used (see the module docstring for the fallback)."""
        if self._ceiling_method is None:
            self._ceiling_method = self._resolve_ceiling()
        return self._ceiling_method

    def _resolve_ceiling(self) -> str:
        method = self.requested_ceiling
        data = self.neural_data
        self._ceiling_reliable = None
        if method in ("holdout", "pairwise"):
            lonely = [a for a in data.arena_names if len(data.animals(a)) < 2]
            has_halves = all(data.halves(a) is not None for a in data.arena_names)
            if lonely:
                which = ", ".join(lonely)
                if has_halves:
                    self.notes.append(
                        f"arena {which} has a single animal, so the inter-animal ceiling is "
                        "impossible; the split-half ceiling (Spearman-Brown corrected) is used")
                    self._ceiling_reliable = True
                    return "split-half"
                self.notes.append(
                    f"arena {which} has a single animal and the data have no split halves: "
                    "no ceiling can be computed, scores are raw only")
                return "none"
            support = self.ceiling_support()
            pool = support["n_source_cells_min"]
            if not pool_reliable(pool, self.min_source_cells):
                why = (f"the {method} inter-animal ceiling would rest on as few as {pool} "
                       f"source cells per target (median {support['n_source_cells_median']:g}, "
                       f"{support['n_animals']} animals), fewer than the "
                       f"{self.min_source_cells} it needs (on mec-sim, pools that small "
                       "underestimate the ceiling; see mecbench.ceiling.MIN_SOURCE_CELLS)")
                if has_halves:
                    self.notes.append(f"{why}: the split-half ceiling (Spearman-Brown "
                                      "corrected) is used instead")
                    self._ceiling_reliable = True
                    return "split-half"
                self.notes.append(f"{why}, and the data have no split halves to fall back on: "
                                  "the ceiling is kept but UNRELIABLE (too low, so 'ceiled' is "
                                  "overstated)")
                self._ceiling_reliable = False
                return method
            self._ceiling_reliable = True
        if method == "split-half":
            missing = [a for a in data.arena_names if data.halves(a) is None]
            if missing:
                raise DataError(f"benchmark {self.identifier}: --ceiling split-half needs "
                                f"'rate_halves', missing in arena(s) {', '.join(missing)}")
            self._ceiling_reliable = True
        return method

    @property
    def ceiling_reliable(self) -> bool | None:
        """False when the ceiling used is an inter-animal one whose smallest source pool is
        below ``min_source_cells`` (no split halves to fall back on); True for any other
        ceiling; None without a ceiling."""
        _ = self.ceiling_method
        return self._ceiling_reliable

    def ceiling_support(self) -> dict[str, Any] | None:
        """What an inter-animal ceiling of these data rests on: per target cell, the number of
        source cells and source animals (:func:`mecbench.ceiling.source_pool_sizes`, mode of
        the requested ceiling, ``holdout`` for ``split-half``), summarised pooled and per
        arena. None when no arena has two animals.

        Returns
        -------
        dict
            ``mode``, ``n_source_cells_min``, ``n_source_cells_median``,
            ``n_source_animals_min``, ``n_animals`` (distinct animals in the data),
            ``min_source_cells`` (the rule), ``reliable_pool`` (the smallest pool meets the
            rule), ``arenas`` (the same per arena) and ``per_cell``: arena ->
            (neuroid ids, n_source_cells, n_source_animals).
        """
        if self._support is not None:
            return self._support
        data = self.neural_data
        mode = self.requested_ceiling if self.requested_ceiling in ("holdout", "pairwise") \
            else "holdout"
        arenas = [a for a in data.arena_names if len(data.animals(a)) >= 2]
        if not arenas:
            return None
        per_cell, per_arena, all_cells, all_animals = {}, {}, [], []
        for arena in arenas:
            rate = data.rate(arena)
            cells, animals = source_pool_sizes(rate, mode)
            per_cell[arena] = (rate["neuroid_id"].values.astype(str), cells, animals)
            per_arena[arena] = support_summary(cells, animals, len(data.animals(arena)))
            all_cells.append(cells)
            all_animals.append(animals)
        names = set()
        for arena in data.arena_names:
            names.update(str(a) for a in data.animals(arena))
        out = {"mode": mode, **support_summary(np.concatenate(all_cells),
                                               np.concatenate(all_animals), len(names))}
        out["min_source_cells"] = self.min_source_cells
        out["reliable_pool"] = pool_reliable(out["n_source_cells_min"], self.min_source_cells)
        out["arenas"] = per_arena
        out["per_cell"] = per_cell
        self._support = out
        return out

    def _source_pool_of(self, r: xr.DataArray) -> tuple[np.ndarray, np.ndarray] | None:
        """Per-cell (per-animal for a similarity) (n_source_cells, n_source_animals) aligned to
        a pooled result ``r``; None unless the ceiling used is an inter-animal one."""
        import pandas as pd

        if self.ceiling_method not in ("holdout", "pairwise"):
            return None
        support = self.ceiling_support()
        n = r.sizes["neuroid"]
        cells = np.zeros(n, dtype=np.int64)
        animals = np.zeros(n, dtype=np.int64)
        arena_of = r["arena"].values.astype(str)
        recorded = r["recorded_id"].values.astype(str)
        by_animal = self.mapping.unit == "animal"
        for arena, (ids, c, a) in support["per_cell"].items():
            rows = np.flatnonzero(arena_of == arena)
            if by_animal:  # every cell of an animal has its animal's pool
                ids = self.neural_data.rate(arena)["animal"].values.astype(str)
                ids, first = np.unique(ids, return_index=True)
                c, a = c[first], a[first]
            pos = pd.Index(ids).get_indexer(recorded[rows])
            if (pos < 0).any():
                raise DataError(f"benchmark {self.identifier}: scored cells missing from the "
                                f"recordings of arena {arena}")
            cells[rows], animals[rows] = c[pos], a[pos]
        return cells, animals

    # keys ---------------------------------------------------------------------------------
    def key_parts(self) -> dict[str, Any]:
        """Everything about the benchmark that determines a ceiling or a score, with the
        array backend when it changes results beyond float rounding (:attr:`array_backend`)."""
        parts = {
            "benchmark": self.identifier,
            "benchmark_version": self.version,
            "data_id": self.data_id,
            "mapping": self.mapping.key(),
            "splits": self.splits.identifier,
            "ceiling": self.ceiling_method,
            # the rule behind the method and its reliability flag, which a score stores
            "ceiling_requested": self.requested_ceiling,
            "min_source_cells": self.min_source_cells,
            "per_animal": self.per_animal,
            "min_ceiling": self.min_ceiling,
            "n_boot": self.n_boot,
            "bootstrap_seed": self.bootstrap_seed,
        }
        backend = self.array_backend
        if backend is not None:
            parts["backend"] = backend
        return parts

    @property
    def array_backend(self) -> str | None:
        """The selected array backend (``name:device:dtype``) when this benchmark's mapping
        runs on it and its results may differ from the reference float64 engine's beyond
        float rounding (float32, a GPU); else None. Such scores are cached apart and carry
        it as ``array_backend``."""
        if not getattr(self.mapping, "uses_array_backend", False):
            return None
        return _backend_key()

    # ceiling ------------------------------------------------------------------------------
    def ceiling(self, *, cache=None, parallel=None, progress: ProgressFn | None = None
                ) -> xr.DataArray | None:
        """Per-cell ceiling pooled over arenas: (neuroid, split) inter-animal r, or (neuroid,)
        split-half reliability; None when no ceiling can be computed."""
        method = self.ceiling_method
        if method == "none":
            return None
        cache = cache if cache is not None else Cache()
        parts = {"what": "ceiling", **self.key_parts()}
        found = cache.get_array("ceiling", parts, guard=self.data_identity)
        if found is not None:
            return found
        progress = progress or _quiet
        data = self.neural_data
        # payloads by reference (a dask cluster gets each once, not inside every task), and
        # only the one the method uses: the rate maps, or the split halves
        halves = method == "split-half"
        kind = "halves" if halves else "rate"
        shared = {(kind, a): data.halves(a) if halves else data.rate(a) for a in self.arenas}
        # inter-animal: one unit per target animal where the mapping allows it
        by_animal = ({a: [None] for a in self.arenas} if halves
                     else self._unit_animals(parallel))
        units = [(method, None if halves else Shared((kind, a)),
                  Shared((kind, a)) if halves else None, self.mapping, self.splits, animal)
                 for a in self.arenas for animal in by_animal[a]]
        progress("ceiling", 0, len(units))
        results = run_units(_ceiling_unit, units, parallel, shared=shared,
                            progress=lambda k: progress("ceiling", k, len(units)))
        (results,) = self._join_animals(results, ["ceiling"], by_animal)
        pooled = pool_arenas(list(zip(self.arenas, results, strict=True)))
        pooled.name = "ceiling"
        pooled.attrs["ceiling"] = results[0].attrs.get("ceiling", method)
        cache.put_array("ceiling", parts, pooled, guard=self.data_identity)
        return pooled

    def ceiling_score(self, *, cache=None, parallel=None, progress: ProgressFn | None = None
                      ) -> dict[str, Any]:
        """Summary of the ceiling: per arena and pooled median with a bootstrap 95 % CI over
        cells and (inter-animal ceilings) over splits (``split_ci``), what it rests on
        (``support``: :meth:`ceiling_support` without the per-cell part), the ceiling asked
        for (``requested``) and whether the one used passed the pool rule (``reliable``)."""
        ceiling = self.ceiling(cache=cache, parallel=parallel, progress=progress)
        support = self.ceiling_support()
        out: dict[str, Any] = {"benchmark": self.identifier, "version": self.version,
                               "method": self.ceiling_method, "notes": list(self.notes),
                               "requested": self.requested_ceiling,
                               "reliable": self.ceiling_reliable,
                               "support": None if support is None else {
                                   k: v for k, v in support.items() if k != "per_cell"},
                               "arenas": {}}
        if ceiling is None:
            out.update(median=None, ci=[None, None], split_ci=[None, None], n_cells=0,
                       n_cells_total=0)
            return out
        per_split = (np.asarray(ceiling.transpose("neuroid", "split").values, dtype=np.float64)
                     if "split" in ceiling.dims else None)
        values = (cell_mean(per_split) if per_split is not None
                  else np.asarray(ceiling.values, dtype=np.float64))
        arenas = ceiling["arena"].values.astype(str)
        groups = [("all", np.ones(values.size, dtype=bool))] + [
            (a, arenas == a) for a in self.arenas]
        for name, mask in groups:
            v = values[mask]
            lo, hi = bootstrap_median_ci(v, n_boot=self.n_boot, seed=self.bootstrap_seed)
            summary = {"median": json_float(nanmedian(v)), "ci": [json_float(lo), json_float(hi)],
                       "n_cells": int(np.isfinite(v).sum()), "n_cells_total": int(v.size),
                       "n_cells_low": int((~(v > self.min_ceiling)).sum())}
            split_ci = [None, None]
            if per_split is not None:
                *_, slo, shi = split_bootstrap(per_split[mask], included=v > self.min_ceiling,
                                               n_boot=self.n_boot, seed=self.bootstrap_seed)
                split_ci = [json_float(slo), json_float(shi)]
            summary["split_ci"] = split_ci
            if name == "all":
                out.update(summary)
            else:
                out["arenas"][name] = summary
        return out

    # model maps ---------------------------------------------------------------------------
    def model_maps(self, provider, layer: str, arena_name: str, *, seed: int = 0,
                   cache=None) -> xr.DataArray:
        """Rate maps of ``provider``'s ``layer`` on an arena's grid (cached)."""
        cache = cache if cache is not None else Cache()
        arena = Arena.of(self.neural_data.arena(arena_name))
        parts = {"model": provider.identifier, "fingerprint": provider.fingerprint(),
                 "arena": [arena.width, arena.height, arena.bin_size], "layer": layer,
                 "seed": int(seed)}
        found = cache.get_array("ratemaps", parts)
        if found is not None:
            return found
        maps = provider.rate_maps(arena, layer, seed=seed)
        maps = check_provider_output(provider, arena, layer, maps)
        cache.put_array("ratemaps", parts, maps)
        return maps

    # scoring ------------------------------------------------------------------------------
    def _score_parts(self, provider, layer: str, seed: int) -> dict[str, Any]:
        return {"what": "score", **self.key_parts(), "model": provider.identifier,
                "fingerprint": provider.fingerprint(), "layer": layer, "model_seed": int(seed)}

    def cached_score(self, provider, layer: str, *, seed: int = 0, cache=None):
        """The cached score of ``layer``, or None."""
        cache = cache if cache is not None else Cache()
        return cache.fetch("score", self._score_parts(provider, layer, seed), Score.load,
                           guard=self.data_identity)

    def score_layers(
        self,
        provider,
        layers: Sequence[str] | None = None,
        *,
        seed: int = 0,
        cache=None,
        parallel=None,
        progress: ProgressFn | None = None,
        errors: str = "raise",
    ) -> dict[str, Any]:
        """Score several layers of one model; returns ``{layer: Score}`` in layer order.

        Parameters
        ----------
        provider : ResponseProvider
        layers : sequence of str, optional
            Default: the provider's default layer.
        seed : int
            Seed of the model's rate maps (trajectories).
        cache : mecbench.cache.Cache, optional
            Default: the user cache; ``Cache(enabled=False)`` to compute everything.
        parallel : mecbench.parallel.ParallelConfig, optional
            How to run the (layer, arena) work units (default serial).
        progress : callable(stage, done, total), optional
        errors : {"raise", "collect"}
            With ``"collect"`` a layer that fails with a :class:`~mecbench.errors.MecbenchError`
            (e.g. a 2-unit readout and 25 PLS components) maps to that error instead of
            stopping the other layers.
        """
        if errors not in ("raise", "collect"):
            raise ConfigError(f"errors must be 'raise' or 'collect', got {errors!r}")
        cache = cache if cache is not None else Cache()
        progress = progress or _quiet
        layers = list(layers) if layers else [provider.default_layer]
        for layer in layers:
            if layer not in provider.layers:
                raise UnknownIdentifierError(f"layer of model {provider.identifier!r}", layer,
                                             provider.layers)
        if len(set(layers)) != len(layers):
            raise ConfigError(f"layers repeated: {layers}")
        scores: dict[str, Any] = {}
        for layer in layers:
            found = self.cached_score(provider, layer, seed=seed, cache=cache)
            if found is not None:
                scores[layer] = found
        todo = [layer for layer in layers if layer not in scores]
        if todo:
            ceiling = self.ceiling(cache=cache, parallel=parallel, progress=progress)
            by_animal = self._unit_animals(parallel)
            units, shared, failed = self._score_units(provider, todo, seed, cache, by_animal,
                                                      errors, progress)
            progress("scoring", 0, len(units))
            results = run_units(_score_unit, units, parallel, shared=shared,
                                progress=lambda k: progress("scoring", k, len(units)))
            per_layer = self._join_animals(results, todo, by_animal)
            for layer, per_arena in zip(todo, per_layer, strict=True):
                err = failed.get(layer) or next(
                    (x for x in per_arena if isinstance(x, MecbenchError)), None)
                if err is not None:
                    scores[layer] = err
                    continue
                r = pool_arenas(list(zip(self.arenas, per_arena, strict=True)))
                score = self._make_score(r, ceiling, provider, layer, seed)
                cache.store("score", self._score_parts(provider, layer, seed), score.save,
                            guard=self.data_identity)
                scores[layer] = score
        return {layer: scores[layer] for layer in layers}

    def _score_units(self, provider, layers: list[str], seed: int, cache, by_animal,
                     errors: str, progress: ProgressFn):
        """The work units of :meth:`score_layers` (one per layer and arena, or per layer, arena
        and animal), the payloads they share and the layers whose rate maps failed."""
        data = self.neural_data
        # payloads by reference: a dask cluster gets each arena's recordings and each
        # layer's maps once, not inside every task
        shared: dict[Any, Any] = {("rate", a): data.rate(a) for a in self.arenas}
        units, total, done = [], len(layers) * len(self.arenas), 0
        progress("rate maps", 0, total)
        failed: dict[str, MecbenchError] = {}
        for layer in layers:
            for arena in self.arenas:
                try:
                    maps = self.model_maps(provider, layer, arena, seed=seed, cache=cache)
                except MecbenchError as err:
                    if errors == "raise":
                        raise
                    failed.setdefault(layer, err)
                    maps = None
                if maps is not None:
                    shared[("maps", layer, arena)] = maps
                    maps = Shared(("maps", layer, arena))
                for animal in by_animal[arena]:
                    units.append((maps, Shared(("rate", arena)), self.mapping, self.splits,
                                  self.per_animal, errors == "collect", animal))
                done += 1
                progress("rate maps", done, total)
        return units, shared, failed

    def _unit_animals(self, parallel) -> dict[str, list[str | None]]:
        """Per arena, the animals that get a work unit of their own (``[None]``: one unit
        for the whole arena). Animals are split apart only when units run in parallel and
        the mapping fits each animal without sharing work across animals, so the numbers do
        not depend on it."""
        workers = 1 if parallel is None else (
            2 if parallel.backend == "dask" else parallel.n_workers)
        if workers < 2 or not self.per_animal or not getattr(
                self.mapping, "fits_animals_apart", False):
            return {a: [None] for a in self.arenas}
        data = self.neural_data
        return {a: [str(x) for x in data.animals(a)] for a in self.arenas}

    def _join_animals(self, results: list, layers: list[str],
                      by_animal: dict[str, list[str | None]]) -> list[list]:
        """Per layer, the per-arena results of :meth:`score_layers`'s units, the animals of
        an arena joined back into one result (an error of any animal stands for the arena)."""
        out, k = [], 0
        for _ in layers:
            per_arena = []
            for arena in self.arenas:
                n = len(by_animal[arena])
                parts, k = results[k:k + n], k + n
                err = next((x for x in parts if isinstance(x, MecbenchError)), None)
                if err is not None or any(x is None for x in parts):
                    per_arena.append(err)
                elif n == 1:
                    per_arena.append(parts[0])
                else:
                    per_arena.append(merge_neuroid_parts(parts, self.neural_data.rate(arena)))
            out.append(per_arena)
        return out

    def _make_score(self, r: xr.DataArray, ceiling, provider, layer: str, seed: int):
        return Score.from_results(
            r, ceiling,
            ceiling_kind=None if ceiling is None else ceiling.attrs.get("ceiling"),
            source_pool=self._source_pool_of(r),
            ceiling_requested=self.requested_ceiling,
            ceiling_reliable=self.ceiling_reliable,
            min_source_cells=self.min_source_cells,
            min_ceiling=self.min_ceiling, n_boot=self.n_boot, seed=self.bootstrap_seed,
            model=provider.identifier, benchmark=self.identifier,
            benchmark_version=self.version, layer=layer, data_id=self.data_id,
            data_fingerprint=json.dumps(list(self.data_identity.fingerprint)),
            weights_hash=provider.fingerprint(), mapping=self.mapping.text,
            splits=self.splits.identifier, ceiling_method=self.ceiling_method,
            model_seed=int(seed), arenas=list(self.arenas), array_backend=self.array_backend,
            notes=" | ".join(self.notes) if self.notes else "",
            benchmark_source=None if self.source is None else json.dumps(self.source,
                                                                           sort_keys=True),
        )

    def __call__(self, provider, layer: str | None = None, **kwargs):
        """Score one layer (default: the provider's default layer); returns a
        :class:`~mecbench.score.Score`. Keyword arguments as for :meth:`score_layers`."""
        layers = [layer] if layer else None
        return next(iter(self.score_layers(provider, layers, **kwargs).values()))


# work units (module level: picklable) --------------------------------------------------------
def _score_unit(unit):
    maps, neural, mapping, splits, per_animal, collect, animal = unit
    if maps is None:  # its rate maps failed (collected by the caller)
        return None
    if animal is not None:
        neural = neural.isel(neuroid=np.flatnonzero(neural["animal"].values.astype(str)
                                                    == animal))
    try:
        return mapping.score_maps(maps, neural, splits, per_animal=per_animal)
    except MecbenchError as err:
        if collect:
            return err
        raise


def _ceiling_unit(unit):
    method, neural, halves, mapping, splits, animal = unit
    if method == "split-half":
        return mapping.split_half(halves, splits)
    if animal is not None:
        return mapping.interanimal(neural, splits, mode=method, targets=[animal])
    return mapping.interanimal(neural, splits, mode=method)


def pool_arenas(per_arena: Sequence[tuple[str, xr.DataArray]]) -> xr.DataArray:
    """Concatenate per-arena results along ``neuroid``.

    The pooled ``neuroid_id`` is ``"<arena>/<neuroid_id>"``; coordinates ``arena`` and
    ``recorded_id`` hold the parts. Only neuroid coordinates present in every arena are kept;
    integer attributes named ``n_*`` (counts) are summed.
    """
    if not per_arena:
        raise DataError("no arena to pool")
    common = None
    for _, da in per_arena:
        names = {k for k, v in da.coords.items() if v.dims and v.dims[0] == "neuroid"}
        common = names if common is None else common & names
    parts = []
    for arena, da in per_arena:
        ids = da["neuroid_id"].values.astype(str)
        drop = [k for k, v in da.coords.items()
                if v.dims and v.dims[0] == "neuroid" and k not in common]
        da = da.drop_vars(drop).assign_coords(
            neuroid_id=("neuroid", np.array([f"{arena}/{i}" for i in ids])),
            recorded_id=("neuroid", ids),
            arena=("neuroid", np.array([arena] * ids.size)),
        )
        parts.append(da)
    attrs = dict(parts[0].attrs)
    for key, value in list(attrs.items()):
        if key.startswith("n_") and isinstance(value, (int, np.integer)):
            attrs[key] = int(sum(int(p.attrs.get(key, 0)) for p in parts))
    pooled = xr.concat(parts, dim="neuroid", combine_attrs="drop") if len(parts) > 1 \
        else parts[0].copy()
    pooled.attrs = attrs
    return pooled

