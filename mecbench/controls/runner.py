"""Scoring one representation of the controls analysis through the benchmark's own path.

:class:`FixedMapsProvider` serves maps computed once (a prefix of a nested control draw, a
shuffled copy, a model's maps) under the real model's identifier and fingerprint, so the
benchmark's cache keys and score attributes are exactly those of ``mecbench score``;
:data:`SWEEP_POLICY` keeps the sweep from writing every control's rate maps to disk;
:class:`Runner` bundles what a (possibly remote) sweep worker needs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from mecbench import registry
from mecbench.cache import CachePolicy
from mecbench.controls.providers import model_rate_maps
from mecbench.errors import DataError, ModelError, UnknownIdentifierError
from mecbench.ratemaps import Arena

__all__ = ["FixedMapsProvider", "SWEEP_POLICY", "Runner", "load_model"]

#: The sweep's cache (:meth:`mecbench.cache.Cache.with_policy` of the user's): model rate maps
#: are never stored (the sweep would write gigabytes), ceilings are also kept in memory
#: (computed once, even when the on-disk cache is off, and shipped to parallel sweep workers
#: with the cache object), scores are cached as usual.
SWEEP_POLICY = CachePolicy(on_disk=("ceiling", "score"), in_memory=("ceiling",))


class FixedMapsProvider:
    """Maps computed once, served under a real model's identifier and fingerprint (so the
    benchmark's cache keys are those of scoring the model itself)."""

    def __init__(self, identifier: str, fingerprint: str, layer: str,
                 maps: dict[Arena, xr.DataArray]):
        self.identifier = identifier
        self._fingerprint = fingerprint
        self.layers = (layer,)
        self.default_layer = layer
        self._maps = maps

    def fingerprint(self) -> str:
        return self._fingerprint

    def rate_maps(self, arena: Arena, layer: str | None = None, *, seed: int = 0
                  ) -> xr.DataArray:
        if arena not in self._maps:
            raise ModelError(f"model {self.identifier!r} has no rate maps for arena {arena.key}")
        return self._maps[arena]


class Runner:
    """What scoring one representation needs (picklable: sent to parallel sweep workers)."""

    def __init__(self, benchmark, *, metric: str, grid_units: int, cache, parallel):
        self.bench = benchmark
        self.metric = metric
        self.grid_units = grid_units
        self.cache = cache
        self.parallel = parallel
        data = benchmark.neural_data
        self.arenas = [Arena.of(data.arena(a)) for a in benchmark.arenas]
        self.analysis_arena = max(self.arenas, key=lambda a: a.shape[0] * a.shape[1])
        self.cell_ids: np.ndarray | None = None
        self.score_kind = "raw"

    def score(self, provider, layer: str):
        score = self.bench(provider, layer, cache=self.cache, parallel=self.parallel)
        ids = score["neuroid_id"].values.astype(str)
        if self.metric not in score:
            raise DataError(f"benchmark {self.bench.identifier} gives no per-cell "
                            f"{self.metric!r} scores (no ceiling?); use --metric raw")
        if self.cell_ids is None:
            self.cell_ids = ids
            self.score_kind = "ceiled" if "ceiled_median" in score else "raw"
        elif not np.array_equal(ids, self.cell_ids):
            raise DataError("scores of one benchmark list different cells")
        cells = np.asarray(score[self.metric].values, dtype=np.float64)
        raw = float(score["raw_median"].values)
        return score, float(score.value), raw, cells

    def maps_of(self, provider, layer: str, what: str) -> dict[Arena, xr.DataArray]:
        return {a: model_rate_maps(provider, a, layer, what=what) for a in self.arenas}


def load_model(spec: Any):
    """(provider, layer, label) from a provider object or ``"NAME[@LAYER]"``."""
    if not isinstance(spec, str):
        return spec, spec.default_layer, spec.identifier
    name, _, layer = spec.partition("@")
    provider = registry.load_model(name)
    layer = layer or provider.default_layer
    if layer not in provider.layers:
        raise UnknownIdentifierError(f"layer of model {name!r}", layer, provider.layers)
    label = name if layer == provider.default_layer else f"{name}@{layer}"
    return provider, layer, label
