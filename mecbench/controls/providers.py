"""Control models as :class:`~mecbench.providers.ResponseProvider` objects.

- :class:`PositionControl`: the position families (``fourier``, ``bumps``, ``relu``, ``grid``),
  evaluated at the bin centres of any arena; one layer, ``"features"``.
- :class:`ShuffleControl`: any provider's maps with each unit's bins permuted (seeded); it has
  the wrapped model's layers.
- :func:`untrained_control`: an ``untrained/<ARCH>`` network with D hidden units.

The ``seed`` argument of ``rate_maps`` is the trajectory seed of the protocol: position controls
have no trajectories and ignore it; the random draw of a control is fixed by the seed in its
name (``-s<SEED>``).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import xarray as xr

from mecbench import registry
from mecbench.controls import features
from mecbench.controls.names import POSITION_FAMILIES, ControlSpec, parse_control_name
from mecbench.errors import ConfigError, MecbenchError, ModelError, UnknownIdentifierError
from mecbench.nets.zoo import parse_untrained_name
from mecbench.providers.base import check_provider_output
from mecbench.ratemaps import Arena, flat_values, make_rate_maps

__all__ = [
    "GENERATOR_VERSION",
    "LAYER",
    "PositionControl",
    "ShuffleControl",
    "bin_positions",
    "control_provider",
    "untrained_control",
    "model_rate_maps",
]

#: Bumped whenever a generator changes its output: part of every control's fingerprint.
GENERATOR_VERSION = "1"
#: The single layer of a position control.
LAYER = "features"


def bin_positions(arena: Arena) -> np.ndarray:
    """Bin centres of ``arena`` as (n_bins, 2) metres, bins in C order over (x, y)."""
    gx, gy = np.meshgrid(arena.x, arena.y, indexing="ij")
    return np.column_stack([gx.ravel(), gy.ravel()])


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


class PositionControl:
    """A random or idealised basis of position with D units (see :mod:`.features`).

    Parameters
    ----------
    spec : ControlSpec or str
        A position family (``fourier``, ``bumps``, ``relu``, ``grid``), D, seed and options.

    Examples
    --------
    >>> ctrl = PositionControl("control/fourier-d64-s0")
    >>> maps = ctrl.rate_maps(Arena(1.0, 1.0, 0.05), "features")
    >>> maps.sizes["neuroid"]
    64
    """

    layers = (LAYER,)
    default_layer = LAYER

    def __init__(self, spec: ControlSpec | str):
        spec = parse_control_name(spec) if isinstance(spec, str) else spec
        if spec.family not in POSITION_FAMILIES:
            raise ConfigError(f"{spec.name} is not a function of position; "
                              f"use control_provider() for family {spec.family!r}")
        self.spec = spec
        self.identifier = spec.name

    def __repr__(self) -> str:
        return f"PositionControl({self.identifier!r})"

    def fingerprint(self) -> str:
        """Hash of the canonical name and the generator version."""
        return _hash("control", GENERATOR_VERSION, self.identifier)

    def responses(self, arena: Arena, dim: int | None = None) -> np.ndarray:
        """Responses (n_bins, D) at the bin centres, bins in C order over (x, y).

        ``dim`` < D gives the first ``dim`` units (identical to the control with D = ``dim``).
        """
        dim = self.spec.dim if dim is None else features.check_dim(dim)
        xy = bin_positions(arena)
        kw: dict[str, Any] = dict(self.spec.kwargs)
        family = self.spec.family
        if family == "grid":
            kw["n_modules"] = int(kw["n_modules"])
        if family in ("bumps", "relu"):
            kw["extent"] = (arena.width, arena.height)
        generator = {"fourier": features.fourier_features, "bumps": features.gaussian_bumps,
                     "relu": features.relu_features, "grid": features.grid_population}[family]
        return generator(xy, dim, self.spec.seed, **kw)

    def rate_maps(self, arena: Arena, layer: str | None = None, *, seed: int = 0
                  ) -> xr.DataArray:
        """Rate maps (x, y, neuroid) of the D units on ``arena``'s grid (``seed`` is unused)."""
        layer = self.default_layer if layer is None else layer
        if layer not in self.layers:
            raise UnknownIdentifierError(f"layer of model {self.identifier!r}", layer,
                                         self.layers)
        values = self.responses(arena)
        coords: dict[str, Any] = {}
        if self.spec.family == "grid":
            kw = self.spec.kwargs
            p = features.grid_module_parameters(self.spec.dim, self.spec.seed,
                                                n_modules=int(kw["n_modules"]),
                                                spacing=kw["spacing"], ratio=kw["ratio"],
                                                orientation=kw["orientation"])
            coords = {"module": p["module"], "grid_spacing": p["spacing"],
                      "grid_orientation": p["orientation"]}
        return make_rate_maps(
            values.reshape(*arena.shape, -1),
            arena_width=arena.width, arena_height=arena.height, bin_size=arena.bin_size,
            neuroid_id=[f"{self.spec.family}{i}" for i in range(values.shape[1])],
            animal="model", attrs={"model": self.identifier, "layer": layer}, **coords,
        )


def model_rate_maps(provider: Any, arena: Arena, layer: str | None = None, *, seed: int = 0,
                    what: str = "benchmark") -> xr.DataArray:
    """A provider's validated maps on ``arena``, with a clear error when it has none there.

    Raises
    ------
    ModelError
        Naming the model, the layer and the arena when the provider cannot produce maps for
        this arena (it raised an error or returned maps on another grid).
    """
    layer = provider.default_layer if layer is None else layer
    name = getattr(provider, "identifier", repr(provider))
    if layer not in provider.layers:
        raise UnknownIdentifierError(f"layer of model {name!r}", layer, provider.layers)
    try:
        maps = provider.rate_maps(arena, layer, seed=seed)
    except MecbenchError as err:
        raise ModelError(f"model {name!r} has no rate maps for arena {arena.key} "
                         f"({arena.bin_size:g} m bins) of the {what}: {err}") from err
    except Exception as err:  # a plugin's own bug: name the model, not a traceback
        raise ModelError(f"model {name!r} failed to produce rate maps for arena {arena.key} "
                         f"of the {what}: {type(err).__name__}: {err}") from err
    try:
        return check_provider_output(provider, arena, layer, maps)
    except ModelError as err:
        raise ModelError(f"model {name!r} has no usable rate maps for arena {arena.key} of the "
                         f"{what}: {err}") from err


class ShuffleControl:
    """A model's own maps with each unit's bins permuted (Schaeffer et al. 2023 control).

    Every unit keeps exactly its values (mean, variance, sparsity) while its spatial structure
    is destroyed; units are permuted independently, by a seeded permutation per unit.

    Parameters
    ----------
    base : ResponseProvider
        The model to shuffle.
    seed : int
        Seed of the permutations.
    """

    def __init__(self, base: Any, seed: int = 0):
        self.spec = ControlSpec.make("shuffle", None, seed, base=base.identifier)
        self.base = base
        self.identifier = self.spec.name
        self.layers = tuple(base.layers)
        self.default_layer = base.default_layer

    def __repr__(self) -> str:
        return f"ShuffleControl({self.identifier!r})"

    def fingerprint(self) -> str:
        """Hash of the wrapped model's fingerprint, the seed and the generator version."""
        return _hash("shuffle", GENERATOR_VERSION, self.identifier, self.base.fingerprint())

    def rate_maps(self, arena: Arena, layer: str | None = None, *, seed: int = 0
                  ) -> xr.DataArray:
        """The wrapped model's maps of ``layer`` with every unit's bins permuted."""
        layer = self.default_layer if layer is None else layer
        maps = model_rate_maps(self.base, arena, layer, seed=seed, what="shuffle control")
        return self.shuffle(maps)

    def shuffle(self, maps: xr.DataArray) -> xr.DataArray:
        """``maps`` (x, y, neuroid) with each unit's bins permuted by this control's seed."""
        shuffled = features.shuffle_bins(flat_values(maps), self.spec.seed)
        out = maps.transpose("x", "y", "neuroid").copy(data=shuffled.reshape(
            maps.sizes["x"], maps.sizes["y"], -1))
        out.attrs = {**maps.attrs, "model": self.identifier}
        return out


def untrained_factory(arch: str) -> tuple[Any, tuple]:
    """The factory of ``untrained/<arch>`` and its arguments.

    Raises
    ------
    UnknownIdentifierError
        When no such untrained architecture is registered (listing those that are).
    """
    known = [n[len("untrained/"):] for n in registry.names("model")
             if n.startswith("untrained/") and n != "untrained/*"]
    try:
        factory = registry.get_factory("model", f"untrained/{arch}")
    except UnknownIdentifierError as err:
        raise UnknownIdentifierError("untrained architecture", arch, known) from err
    if arch not in known:
        # the zoo's "untrained/*" pattern accepts any name and fails only when the network is
        # built; parse the name the way it will, so a typo fails before a long sweep

        try:
            parse_untrained_name(arch)
        except UnknownIdentifierError as err:
            raise UnknownIdentifierError("untrained architecture", arch, known) from err
    return factory


def untrained_control(spec: ControlSpec) -> Any:
    """An ``untrained/<ARCH>`` network with D hidden units and the control's seed."""
    name = f"untrained/{spec.base}"
    factory, args = untrained_factory(spec.base)
    try:
        provider = factory(*args, n_units=spec.dim, seed=spec.seed)
    except TypeError as err:
        raise ConfigError(f"{name} cannot be built with n_units={spec.dim}, seed={spec.seed}: "
                          f"{err}") from err
    provider.identifier = spec.name
    return provider


def control_provider(name: str | ControlSpec, **kwargs: Any) -> Any:
    """Build the provider of any control identifier (see :mod:`mecbench.controls.names`).

    ``kwargs`` are passed to the wrapped model's factory for ``shuffle``.
    """
    spec = parse_control_name(name) if isinstance(name, str) else name
    if spec.family in POSITION_FAMILIES:
        return PositionControl(spec)
    if spec.family == "shuffle":
        return ShuffleControl(registry.load("model", spec.base, **kwargs), spec.seed)
    return untrained_control(spec)
