"""A provider of precomputed rate maps (saved from any model; Nayebi-style ``model_resp``)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property

import numpy as np
import xarray as xr

from mecbench.errors import ConfigError, DataError, ModelError, UnknownIdentifierError
from mecbench.providers._common import Hasher, as_arena, check_identifier, check_layer
from mecbench.providers.base import check_provider_output
from mecbench.ratemaps import DIMS, Arena, make_rate_maps, parse_arena_key, validate_rate_maps

__all__ = ["ArrayProvider"]


def _grid_key(arena: Arena) -> tuple[float, float, float]:
    return (round(arena.width, 9), round(arena.height, 9), round(arena.bin_size, 9))


class ArrayProvider:
    """Rate maps given as arrays, one per arena (and per layer).

    Parameters
    ----------
    maps : mapping
        Either ``{arena: maps}`` (one layer, named ``layer``) or ``{layer: {arena: maps}}``.
        Arena keys are arena names (``"1x1m"``, ``"2.2x2.2m"``) or side lengths in metres
        (``2.2``, as in Nayebi et al. 2021's ``model_resp``). Maps are
        :class:`xarray.DataArray` rate maps (dims ``x, y, neuroid``; their neuroid coordinates
        are kept) or arrays of shape ``(x_bins, y_bins, units)`` or ``(x_bins·y_bins, units)``
        (bins in C order over (x, y)) on the arena's grid with ``bin_size`` bins.
    identifier : str
        Model name.
    layer : str
        Name of the single layer when ``maps`` is not nested.
    default_layer : str, optional
        Default: ``layer``, or the first layer of a nested mapping.
    bin_size : float
        Bin size (m) of plain arrays (DataArrays carry their own).

    Raises
    ------
    ModelError
        When an array does not fit its arena's grid or holds non-finite values (model rate maps
        have a value in every bin), naming the layer and arena.

    Examples
    --------
    >>> provider = ArrayProvider.from_nayebi({2.2: resp}, "my-model")   # doctest: +SKIP
    >>> provider.rate_maps(Arena(2.2, 2.2)).sizes                        # doctest: +SKIP
    """

    def __init__(self, maps: Mapping, identifier: str, *, layer: str = "output",
                 default_layer: str | None = None, bin_size: float = 0.05):
        self.identifier = check_identifier(identifier)
        if not isinstance(maps, Mapping) or not maps:
            raise ConfigError(f"model {identifier!r}: maps must be a non-empty mapping "
                              "{arena: array} or {layer: {arena: array}}")
        nested = all(isinstance(v, Mapping) for v in maps.values())
        if not nested and any(isinstance(v, Mapping) for v in maps.values()):
            raise ConfigError(f"model {identifier!r}: maps mixes nested and plain values")
        by_layer = {str(k): v for k, v in maps.items()} if nested else {layer: maps}
        self._maps: dict[str, dict[tuple, xr.DataArray]] = {}
        for name, per_arena in by_layer.items():
            if not per_arena:
                raise ConfigError(f"model {identifier!r}: layer {name!r} has no arenas")
            self._maps[name] = {}
            for key, values in per_arena.items():
                da = self._as_maps(name, key, values, bin_size)
                self._maps[name][_grid_key(Arena.of(da))] = da
        self.layers = tuple(self._maps)
        self.default_layer = self.layers[0] if default_layer is None else default_layer
        if self.default_layer not in self.layers:
            raise UnknownIdentifierError(f"default layer of model {identifier!r}",
                                         self.default_layer, self.layers)

    @classmethod
    def from_nayebi(cls, model_resp: Mapping, identifier: str, *, layer: str = "output",
                    bin_size: float = 0.05) -> ArrayProvider:
        """From a Nayebi et al. (2021) ``model_resp`` dict ``{arena_size_m: (x, y, units)}``."""
        return cls(model_resp, identifier, layer=layer, bin_size=bin_size)

    def _as_maps(self, layer: str, key, values, bin_size: float) -> xr.DataArray:
        where = f"model {self.identifier!r} layer {layer!r} arena {key!r}"
        try:
            width, height = parse_arena_key(key)
        except DataError as err:
            raise ConfigError(f"{where}: {err}") from None
        try:
            if isinstance(values, xr.DataArray):
                da = values
                if not {"arena_width", "arena_height", "bin_size"} <= set(da.attrs):
                    da = da.assign_attrs(arena_width=width, arena_height=height,
                                         bin_size=da.attrs.get("bin_size", bin_size))
                da = validate_rate_maps(da, where)
                arena = Arena.of(da)
                if not np.allclose((arena.width, arena.height), (width, height), rtol=1e-6):
                    raise ModelError(f"{where}: the maps are of a {arena.key} arena")
                da = da.copy()
            else:
                values = np.asarray(values, dtype=np.float64)
                arena = Arena(width, height, bin_size)
                if values.ndim == 2 and values.shape[0] == arena.shape[0] * arena.shape[1]:
                    values = values.reshape(*arena.shape, values.shape[1])
                if values.ndim != 3 or values.shape[:2] != arena.shape:
                    raise ModelError(
                        f"{where}: array of shape {values.shape} does not fit the "
                        f"{arena.shape[0]}x{arena.shape[1]} grid of {bin_size} m bins; expected "
                        f"(x, y, units) or (x*y, units)"
                    )
                da = make_rate_maps(values, arena_width=width, arena_height=height,
                                    bin_size=bin_size,
                                    neuroid_id=[f"{layer}/{i}" for i in range(values.shape[2])],
                                    layer=[layer] * values.shape[2])
        except DataError as err:
            raise ModelError(str(err)) from None
        vals = np.asarray(da.values)
        if da.sizes["neuroid"] == 0:
            raise ModelError(f"{where}: no units")
        if not np.isfinite(vals).all():
            n_bad = int((~np.isfinite(vals)).any(axis=(0, 1)).sum())
            raise ModelError(f"{where}: {n_bad} units hold non-finite values; model maps need "
                             "a value in every bin")
        return da.transpose(*DIMS)

    @property
    def arenas(self) -> dict[str, list[Arena]]:
        """Arenas available per layer."""
        return {layer: [Arena.of(da) for da in per.values()] for layer, per in self._maps.items()}

    def rate_maps(self, arena: Arena | str | float, layer: str | None = None, *,
                  seed: int = 0) -> xr.DataArray:
        """The stored maps of ``layer`` on ``arena`` (``seed`` is ignored: nothing is random).

        Raises
        ------
        UnknownIdentifierError
            For an unknown layer, or an arena (with its bin size) that was not given.
        """
        arena = as_arena(arena)
        layer = check_layer(self.identifier, self.layers, self.default_layer, layer)
        per_arena = self._maps[layer]
        key = _grid_key(arena)
        if key not in per_arena:
            def label(a):
                return f"{a.key} ({a.bin_size:g} m bins)"

            raise UnknownIdentifierError(
                f"arena of model {self.identifier!r} layer {layer!r}", label(arena),
                [label(Arena.of(da)) for da in per_arena.values()])
        da = per_arena[key].copy()
        da.attrs.update(model=self.identifier, layer=layer)
        return check_provider_output(self, arena, layer, da)

    def fingerprint(self) -> str:
        """sha256 of every stored value, neuroid id, grid and layer name."""
        return self._fingerprint

    @cached_property
    def _fingerprint(self) -> str:
        h = Hasher("array")
        h.update_config({"default_layer": self.default_layer, "layers": list(self.layers)})
        for layer in sorted(self._maps):
            for key in sorted(self._maps[layer]):
                da = self._maps[layer][key]
                h.update_text(f"{layer}:{key}")
                h.update_array("values", np.asarray(da.values, dtype=np.float64))
                h.update_text("\n".join(np.asarray(da["neuroid_id"].values).astype(str)))
        return h.hexdigest()

    def __repr__(self) -> str:
        return f"ArrayProvider({self.identifier!r}, layers={self.layers})"
