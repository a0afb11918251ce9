"""Helpers shared by the provider adapters: arena parsing, layer checks, output arrays, hashing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

import numpy as np
import xarray as xr

from mecbench.errors import ConfigError, DataError, ModelError, UnknownIdentifierError
from mecbench.providers.base import check_provider_output
from mecbench.ratemaps import Arena, make_rate_maps, parse_arena_key

__all__ = ["as_arena", "check_layer", "check_identifier", "build_maps", "Hasher"]


def as_arena(arena: Arena | str | float, bin_size: float = 0.05) -> Arena:
    """An :class:`Arena` from an Arena, an arena key (``"1x1m"``) or a side length (m)."""
    if isinstance(arena, Arena):
        return arena
    try:
        width, height = parse_arena_key(arena)
        return Arena(width, height, bin_size)
    except DataError as err:
        raise ConfigError(f"arena: {err}") from None


def check_identifier(identifier: object) -> str:
    """A model identifier must be a non-empty string without spaces."""
    if not isinstance(identifier, str) or not identifier or any(c.isspace() for c in identifier):
        raise ConfigError(f"identifier must be a non-empty string without spaces, got "
                          f"{identifier!r}")
    return identifier


def check_layer(identifier: str, layers: tuple[str, ...], default: str,
                layer: str | None) -> str:
    """Resolve ``layer`` (None means the default) or raise with the valid names."""
    if layer is None:
        return default
    if layer not in layers:
        raise UnknownIdentifierError(f"layer of model {identifier!r}", layer, layers)
    return layer


def build_maps(provider, arena: Arena, layer: str, values: np.ndarray, seed: int | None,
               neuroid_id: Iterable[str] | None = None) -> xr.DataArray:
    """Wrap (nx, ny, units) values as validated model rate maps of ``provider``'s ``layer``.

    Neuroid ids are ``"<layer>/<index>"`` unless given; the neuroid coordinate ``layer`` and the
    attributes ``model``, ``layer`` (and ``seed`` where one was used) are set.
    """
    who = f"model {provider.identifier!r} layer {layer!r}"
    values = np.asarray(values)
    if values.ndim != 3 or values.shape[:2] != arena.shape:
        raise ModelError(f"{who} produced maps of shape {values.shape}; expected "
                         f"{arena.shape + ('units',)} for arena {arena.key}")
    n = values.shape[2]
    ids = [f"{layer}/{i}" for i in range(n)] if neuroid_id is None else list(neuroid_id)
    attrs = {"model": provider.identifier, "layer": layer}
    if seed is not None:
        attrs["seed"] = int(seed)
    maps = make_rate_maps(values, arena_width=arena.width, arena_height=arena.height,
                          bin_size=arena.bin_size, neuroid_id=ids, layer=[layer] * n,
                          attrs=attrs)

    return check_provider_output(provider, arena, layer, maps)


class Hasher:
    """sha256 over a sequence of labelled parts (JSON config, arrays), order-sensitive."""

    def __init__(self, kind: str):
        self._h = hashlib.sha256()
        self.update_text(f"mecbench-fingerprint/{kind}/v1")

    def update_text(self, text: str) -> None:
        data = text.encode()
        self._h.update(len(data).to_bytes(8, "little"))
        self._h.update(data)

    def update_config(self, config: dict) -> None:
        self.update_text(json.dumps(config, sort_keys=True, default=str))

    def update_array(self, name: str, array: np.ndarray) -> None:
        array = np.ascontiguousarray(array)
        self.update_text(f"{name}:{array.dtype.str}:{array.shape}")
        self._h.update(array.tobytes())

    def update_bytes(self, name: str, meta: str, data: bytes) -> None:
        self.update_text(f"{name}:{meta}")
        self._h.update(len(data).to_bytes(8, "little"))
        self._h.update(data)

    def hexdigest(self) -> str:
        return self._h.hexdigest()
