"""The ResponseProvider protocol that every model, control and adapter satisfies."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import xarray as xr

from mecbench.errors import ModelError, UnknownIdentifierError
from mecbench.ratemaps import DIMS, Arena

__all__ = ["ResponseProvider", "check_provider_output"]


@runtime_checkable
class ResponseProvider(Protocol):
    """A model as mecbench sees it: binned spatial responses per layer.

    Attributes
    ----------
    identifier : str
        Registry name of the model (``"rnn-relu-dos"``, ``"control/fourier-64"``...).
    layers : tuple of str
        Layers that can be scored.
    default_layer : str
        The layer scored when none is named.
    """

    identifier: str
    layers: tuple[str, ...]
    default_layer: str

    def rate_maps(self, arena: Arena, layer: str, *, seed: int = 0) -> xr.DataArray:
        """Rate maps (x, y, neuroid) of ``layer`` on ``arena``'s grid; ``seed`` drives any
        randomness (trajectories). Must be deterministic for a given seed."""
        ...

    def fingerprint(self) -> str:
        """A hash of everything that determines the output besides arena, layer and seed
        (weights, configuration): part of every cache key."""
        ...


def check_provider_output(
    provider: ResponseProvider, arena: Arena, layer: str, maps: object
) -> xr.DataArray:
    """Validate what a provider returned, raising :class:`ModelError` that names the model.

    Checks the type, dims, the grid against ``arena`` and finiteness (model features must be
    finite in every bin: a model has no unvisited bins).
    """
    if layer not in provider.layers:
        raise UnknownIdentifierError(f"layer of model {provider.identifier!r}", layer,
                                     provider.layers)
    who = f"model {provider.identifier!r} layer {layer!r}"
    if not isinstance(maps, xr.DataArray):
        raise ModelError(f"{who} returned {type(maps).__name__}, expected an xarray.DataArray")
    if set(maps.dims) != set(DIMS):
        raise ModelError(f"{who} returned dims {maps.dims}, expected {DIMS}")
    maps = maps.transpose(*DIMS)
    if (maps.sizes["x"], maps.sizes["y"]) != arena.shape:
        raise ModelError(
            f"{who} returned a {maps.sizes['x']}x{maps.sizes['y']} grid for arena {arena.key} "
            f"with {arena.bin_size} m bins, which needs {arena.shape[0]}x{arena.shape[1]}"
        )
    if maps.sizes["neuroid"] == 0:
        raise ModelError(f"{who} returned no units")
    values = np.asarray(maps.values)
    if not np.isfinite(values).all():
        n_bad = int((~np.isfinite(values)).any(axis=(0, 1)).sum())
        raise ModelError(f"{who} returned non-finite values in {n_bad} units")
    return maps
