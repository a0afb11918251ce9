"""A provider for any function of position (place cells, ideal grids, random features...)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property

import numpy as np
import xarray as xr

from mecbench.errors import ConfigError, ModelError
from mecbench.providers._common import (
    Hasher,
    as_arena,
    build_maps,
    check_identifier,
    check_layer,
)
from mecbench.ratemaps import Arena

__all__ = ["FunctionProvider"]

# fixed probe points (m) whose responses enter the fingerprint
_PROBE = np.stack(np.meshgrid(np.linspace(-0.45, 0.45, 7), np.linspace(-0.4, 0.5, 7),
                              indexing="ij"), -1).reshape(-1, 2)


def _to_numpy(out) -> np.ndarray:
    if hasattr(out, "detach"):  # torch tensor
        out = out.detach().cpu().numpy()
    return np.asarray(out)


class FunctionProvider:
    """Rate maps of a function of position, evaluated on the arena's bins.

    Parameters
    ----------
    fn : callable
        ``fn(positions) -> responses``: ``positions`` is a float64 array ``(N, 2)`` in metres
        (x, y; box centred on 0); it returns an array ``(N, units)`` (numpy or torch; ``(N,)``
        means one unit), or, for several layers, a dict ``{layer: (N, units)}``.
    identifier : str
        Model name.
    layers : sequence of str
        Layer names; a single-output ``fn`` has one layer (default ``("output",)``); a dict-valued
        ``fn`` must return at least these keys.
    default_layer : str, optional
        Default: the first layer.
    n_units : int or dict, optional
        Expected number of units (per layer): a mismatch raises :class:`ModelError`.
    samples_per_bin : int
        Each bin's value is the mean of ``fn`` over a ``k × k`` regular grid of points at the
        centres of ``k × k`` equal sub-squares of the bin (midpoint rule for the bin average of
        ``fn``, what an infinitely long uniform random walk would measure). ``1`` (default)
        evaluates ``fn`` at the bin centre only.
    chunk_bins : int
        Bins evaluated per call of ``fn`` (bounds memory for many units or samples).
    version : str
        Free text entering the fingerprint (bump it when ``fn`` changes in ways the probe points
        might not reveal).

    Notes
    -----
    The fingerprint hashes the identifier, layers, sampling settings, ``version``, the
    function's qualified name and its responses at 49 fixed probe points in ±0.5 m: code
    changes that alter the responses there change the fingerprint.
    """

    def __init__(self, fn: Callable, identifier: str, *, layers=("output",),
                 default_layer: str | None = None, n_units: int | Mapping | None = None,
                 samples_per_bin: int = 1, chunk_bins: int = 4096, version: str = ""):
        if not callable(fn):
            raise ConfigError(f"fn must be callable, got {type(fn).__name__}")
        self.fn = fn
        self.identifier = check_identifier(identifier)
        if isinstance(layers, str):
            layers = (layers,)
        self.layers = tuple(str(layer) for layer in layers)
        if not self.layers or len(set(self.layers)) != len(self.layers):
            raise ConfigError(f"model {identifier!r}: layers must be unique names, got {layers!r}")
        self.default_layer = check_layer(identifier, self.layers, self.layers[0], default_layer)
        if n_units is not None and not isinstance(n_units, Mapping):
            n_units = {layer: n_units for layer in self.layers}
        self.n_units = None if n_units is None else {k: int(v) for k, v in n_units.items()}
        for name, value in (("samples_per_bin", samples_per_bin), ("chunk_bins", chunk_bins)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        self.samples_per_bin = samples_per_bin
        self.chunk_bins = chunk_bins
        self.version = str(version)

    def _evaluate(self, positions: np.ndarray, layer: str) -> np.ndarray:
        who = f"model {self.identifier!r} layer {layer!r}"
        try:
            out = self.fn(positions)
        except Exception as err:
            raise ModelError(f"{who}: the function raised {type(err).__name__}: {err}") from err
        if isinstance(out, Mapping):
            if layer not in out:
                raise ModelError(f"{who}: the function returned layers {sorted(out)}")
            out = out[layer]
        elif len(self.layers) > 1:
            raise ModelError(f"{who}: the function must return a dict {{layer: array}} for "
                             f"the layers {self.layers}")
        out = _to_numpy(out)
        if out.ndim == 1:
            out = out[:, None]
        if out.ndim != 2 or out.shape[0] != len(positions):
            raise ModelError(f"{who}: the function returned shape {out.shape} for "
                             f"{len(positions)} positions; expected (N, units)")
        if not np.issubdtype(out.dtype, np.number) or np.issubdtype(out.dtype, np.complexfloating):
            raise ModelError(f"{who}: the function returned dtype {out.dtype}; expected reals")
        if self.n_units is not None and layer in self.n_units \
                and out.shape[1] != self.n_units[layer]:
            raise ModelError(f"{who}: the function returned {out.shape[1]} units, "
                             f"declared n_units={self.n_units[layer]}")
        return out.astype(np.float64, copy=False)

    def sample_points(self, arena: Arena) -> np.ndarray:
        """Points where ``fn`` is evaluated, shape (nx·ny, k², 2), bins in C order over (x, y)."""
        k = self.samples_per_bin
        offsets = arena.bin_size * ((np.arange(k) + 0.5) / k - 0.5)
        ox, oy = np.meshgrid(offsets, offsets, indexing="ij")
        cx, cy = np.meshgrid(arena.x, arena.y, indexing="ij")
        px = cx.reshape(-1, 1) + ox.reshape(1, -1)
        py = cy.reshape(-1, 1) + oy.reshape(1, -1)
        return np.stack([px, py], -1)

    def rate_maps(self, arena: Arena | str | float, layer: str | None = None, *,
                  seed: int = 0) -> xr.DataArray:
        """Maps of ``layer`` on ``arena``'s bins (``seed`` is ignored: nothing is random)."""
        arena = as_arena(arena)
        layer = check_layer(self.identifier, self.layers, self.default_layer, layer)
        points = self.sample_points(arena)
        n_bins, n_samples, _ = points.shape
        parts = []
        for start in range(0, n_bins, self.chunk_bins):
            chunk = points[start:start + self.chunk_bins]
            out = self._evaluate(np.ascontiguousarray(chunk.reshape(-1, 2)), layer)
            if parts and out.shape[1] != parts[0].shape[1]:
                raise ModelError(f"model {self.identifier!r} layer {layer!r}: the function "
                                 "returned a different number of units for different positions")
            parts.append(out.reshape(len(chunk), n_samples, -1).mean(axis=1))
        values = np.concatenate(parts, axis=0).reshape(*arena.shape, -1)
        return build_maps(self, arena, layer, values, seed=None)

    def fingerprint(self) -> str:
        """sha256 of the configuration and the responses at fixed probe points."""
        return self._fingerprint

    @cached_property
    def _fingerprint(self) -> str:
        h = Hasher("function")
        h.update_config({
            "identifier": self.identifier, "layers": list(self.layers),
            "default_layer": self.default_layer, "samples_per_bin": self.samples_per_bin,
            "version": self.version,
            # not the module: plugin files get a per-process module name
            "qualname": getattr(self.fn, "__qualname__", type(self.fn).__qualname__),
        })
        for layer in self.layers:
            h.update_array(layer, self._evaluate(_PROBE.copy(), layer))
        return h.hexdigest()

    def __repr__(self) -> str:
        return f"FunctionProvider({self.identifier!r}, layers={self.layers})"
