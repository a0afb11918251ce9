"""A provider for torch path integrators driven along random-walk trajectories.

The protocol is Nayebi et al. (2021)'s: 100 batches × 200 random-walk trajectories × 20 steps
(400 000 positions) in a box centred on 0, each unit's activity averaged per bin. Any arena can
be used, whatever the box the network was trained in.

torch is imported when a provider is made from a network or computes rate maps, not by
importing this module: :class:`NetworkProvider` subclasses whose network is built on first use
(:class:`mecbench.nets.zoo.CheckpointProvider`) know their identity without it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from mecbench.errors import ConfigError, MecbenchError, ModelError, UnknownIdentifierError
from mecbench.providers._common import (
    Hasher,
    as_arena,
    build_maps,
    check_identifier,
    check_layer,
)
from mecbench.ratemaps import Arena

if TYPE_CHECKING:
    import torch
    import xarray as xr

__all__ = ["PathIntegrator", "NetworkProvider", "NETWORK_UNVISITED_POLICIES", "DT"]

NETWORK_UNVISITED_POLICIES = ("error", "nearest")

DT = 0.02
"""Default time step of the trajectories (s): :data:`mecbench.trajectories.DT`, restated so
that a provider's identity needs no torch (tests check that the two are equal)."""


@runtime_checkable
class PathIntegrator(Protocol):
    """What :class:`NetworkProvider` needs from a network (``mecbench.nets`` satisfy it).

    Attributes
    ----------
    layer_names : tuple of str
        Layers that can be scored, e.g. ``("pre_g", "g", "dc")`` for the UGRNN.
    default_layer : str
    """

    layer_names: tuple[str, ...]
    default_layer: str

    def layer_activity(self, start: torch.Tensor,
                       velocities: torch.Tensor) -> dict[str, torch.Tensor]:
        """Activity of each layer after each step.

        Parameters
        ----------
        start : Tensor, shape (B, 2)
            Start positions (m).
        velocities : Tensor, shape (B, T, 2)
            Displacement of each step (m).

        Returns
        -------
        dict of str to Tensor, each of shape (B, T, units)
            Activity at ``positions[:, 1:]``, the positions after each step.
        """
        ...


def _tensor_bytes(t) -> tuple[str, bytes]:
    import torch

    if not isinstance(t, torch.Tensor):  # "extra state" entries
        return type(t).__qualname__, repr(t).encode()
    t = t.detach().to("cpu").contiguous()
    meta = f"{t.dtype}:{tuple(t.shape)}"
    return meta, t.reshape(-1).view(torch.uint8).numpy().tobytes()


def _config_of(module) -> object:
    config = getattr(module, "config", None)
    if config is None:
        return None
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    if isinstance(config, Mapping):
        return dict(config)
    return repr(config)


class NetworkProvider:
    """Rate maps of a :class:`PathIntegrator`'s layers along random-walk trajectories.

    For each of ``n_batches`` batches, ``batch_size`` trajectories of ``n_steps`` steps are
    simulated in the arena (:func:`mecbench.trajectories.random_walk`, on the CPU from one
    generator seeded with ``seed`` for all batches, then moved to ``device``), the network is
    run on their start positions and velocities, and every unit's activity after each step is
    added to the bin of the position reached (one ``index_add_`` over all units per batch; only
    one batch of activity exists at a time).
    Maps are the per-bin means.

    Parameters
    ----------
    module : PathIntegrator
        Usually a ``torch.nn.Module``; it is moved to ``device`` and run in eval mode under
        ``torch.no_grad()`` (its training flag is restored afterwards).
    identifier : str
        Model name.
    n_batches, batch_size, n_steps : int
        The protocol; defaults are Nayebi et al. (2021)'s (400 000 positions).
    device : str or torch.device
        Where trajectories, network and accumulation run.
    weights_fingerprint : str, optional
        Use this instead of hashing the state dict (e.g. a checkpoint's sha256).
    dt : float
        Time step of the trajectories (s).
    periodic : bool
        Periodic box instead of walls.
    unvisited : {"error", "nearest"}
        Model maps must be finite in every bin. With the default protocol every 5 cm bin of a
        box up to several metres is visited hundreds of times; if some bin is never visited,
        ``"error"`` (default) raises :class:`ModelError` suggesting more batches, and
        ``"nearest"`` fills it with the values of the nearest visited bin.
    progress : bool, optional
        Show a progress bar over batches; default: only on a terminal.

    Notes
    -----
    On a GPU, ``index_add_`` accumulates in a non-deterministic order: maps agree with the CPU
    ones to float64 rounding of the float32 activity, not bit for bit.
    """

    def __init__(self, module: PathIntegrator, identifier: str, *, n_batches: int = 100,
                 batch_size: int = 200, n_steps: int = 20, device: str | torch.device = "cpu",
                 weights_fingerprint: str | None = None, dt: float = DT, periodic: bool = False,
                 unvisited: str = "error", progress: bool | None = None):
        import torch

        self.identifier = check_identifier(identifier)
        for name in ("layer_names", "default_layer", "layer_activity"):
            if not hasattr(module, name):
                raise ModelError(f"model {identifier!r}: the network has no {name!r}; it must "
                                 "satisfy mecbench.providers.PathIntegrator")
        self._set_protocol(n_batches=n_batches, batch_size=batch_size, n_steps=n_steps, dt=dt,
                           periodic=periodic, unvisited=unvisited, progress=progress)
        if weights_fingerprint is None and not hasattr(module, "state_dict"):
            raise ConfigError(f"model {identifier!r}: the network has no state_dict; pass "
                              "weights_fingerprint")
        self.device = torch.device(device)
        self.module = module.to(self.device) if hasattr(module, "to") else module
        self._set_layers(module.layer_names, module.default_layer)
        self.weights_fingerprint = weights_fingerprint

    def _set_protocol(self, *, n_batches: int, batch_size: int, n_steps: int, dt: float,
                      periodic: bool, unvisited: str, progress: bool | None) -> None:
        """Check and store the trajectory protocol (see the class parameters)."""
        for name, value in (("n_batches", n_batches), ("batch_size", batch_size),
                            ("n_steps", n_steps)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if unvisited not in NETWORK_UNVISITED_POLICIES:
            raise UnknownIdentifierError("unvisited policy", unvisited,
                                         NETWORK_UNVISITED_POLICIES)
        self.n_batches, self.batch_size, self.n_steps = n_batches, batch_size, n_steps
        self.dt, self.periodic, self.unvisited = float(dt), bool(periodic), unvisited
        self.progress = progress

    def _set_layers(self, layer_names, default_layer: str) -> None:
        """Store the network's layers and check its default layer."""
        self.layers = tuple(str(x) for x in layer_names)
        self.default_layer = check_layer(self.identifier, self.layers, self.layers[0],
                                         default_layer)

    def _network_identity(self) -> tuple[str, object]:
        """The network's class name and configuration, as :meth:`fingerprint` hashes them."""
        return type(self.module).__qualname__, _config_of(self.module)

    @property
    def n_positions(self) -> int:
        """Positions sampled per rate-map computation."""
        return self.n_batches * self.batch_size * self.n_steps

    def _dtype(self) -> torch.dtype:
        import torch

        params = getattr(self.module, "parameters", None)
        if params is not None:
            for p in params():
                if p.is_floating_point():
                    return p.dtype
        return torch.float32

    def _activity(self, start: torch.Tensor, velocities: torch.Tensor,
                  layer: str) -> torch.Tensor:
        import torch

        who = f"model {self.identifier!r} layer {layer!r}"
        try:
            out = self.module.layer_activity(start, velocities)
        except MecbenchError:
            raise
        except Exception as err:
            raise ModelError(f"model {self.identifier!r}: layer_activity raised "
                             f"{type(err).__name__}: {err}") from err
        if not isinstance(out, Mapping):
            raise ModelError(f"model {self.identifier!r}: layer_activity returned "
                             f"{type(out).__name__}, expected a dict {{layer: tensor}}")
        if layer not in out:
            raise ModelError(f"{who}: layer_activity returned only the layers {sorted(out)}")
        act = out[layer]
        if not isinstance(act, torch.Tensor):
            raise ModelError(f"{who}: layer_activity returned {type(act).__name__}, "
                             "expected a torch.Tensor")
        B, T = velocities.shape[:2]
        if act.ndim != 3 or act.shape[:2] != (B, T) or act.shape[2] < 1:
            raise ModelError(f"{who}: layer_activity returned shape {tuple(act.shape)} for "
                             f"{B} trajectories of {T} steps; expected ({B}, {T}, units)")
        return act

    def rate_maps(self, arena: Arena | str | float, layer: str | None = None, *,
                  seed: int = 0) -> xr.DataArray:
        """Rate maps of ``layer`` on ``arena``, from trajectories seeded with ``seed``.

        The same seed gives the same trajectories and (on CPU) identical maps.

        Raises
        ------
        UnknownIdentifierError
            For an unknown layer (with the valid names).
        ModelError
            When the network's output has the wrong type or shape, is not finite, or a bin was
            never visited with ``unvisited="error"``.
        """
        arena = as_arena(arena)
        layer = check_layer(self.identifier, self.layers, self.default_layer, layer)
        import torch
        from tqdm.auto import tqdm

        from mecbench.providers.accumulator import RateMapAccumulator
        from mecbench.trajectories import make_generator, random_walk

        # trajectories always come from a CPU generator (cheap), so that the same seed gives
        # the same trajectories, hence the same maps to float tolerance, on every device
        gen = make_generator(seed, "cpu")
        dtype = self._dtype()
        acc = None
        training = getattr(self.module, "training", None)
        if training is not None:
            self.module.eval()
        try:
            with torch.no_grad():
                bar = tqdm(range(self.n_batches), desc=f"{self.identifier} {layer} rate maps",
                           unit="batch", leave=False,
                           disable=None if self.progress is None else not self.progress)
                for _ in bar:
                    tr = random_walk(self.batch_size, self.n_steps, arena_width=arena.width,
                                     arena_height=arena.height, dt=self.dt, device="cpu",
                                     periodic=self.periodic, dtype=dtype, generator=gen)
                    if self.device.type != "cpu":
                        tr = tr.to(self.device)
                    act = self._activity(tr.start, tr.velocities, layer)
                    if acc is None:
                        acc = RateMapAccumulator(arena, int(act.shape[2]), device=self.device)
                    elif act.shape[2] != acc.n_units:
                        raise ModelError(f"model {self.identifier!r} layer {layer!r}: "
                                         f"{act.shape[2]} units in one batch, {acc.n_units} in "
                                         "another")
                    acc.add(tr.positions[:, 1:], act)
        finally:
            if training is not None:
                self.module.train(training)
        try:
            values = acc.rate_maps(self.unvisited)
        except ModelError as err:
            raise ModelError(
                f"model {self.identifier!r} layer {layer!r}: {err} ({self.n_batches} batches "
                f"x {self.batch_size} trajectories x {self.n_steps} steps); increase n_batches "
                "or pass unvisited='nearest'"
            ) from None
        return build_maps(self, arena, layer, values, seed=seed)

    def identity_document(self) -> dict:
        """Everything :meth:`fingerprint` hashes besides the weights: the network's class and
        configuration, its layers and the trajectory protocol (JSON-serialisable)."""
        network_class, config = self._network_identity()
        return {
            "class": network_class,
            "config": config,
            "layers": list(self.layers), "default_layer": self.default_layer,
            "n_batches": self.n_batches, "batch_size": self.batch_size,
            "n_steps": self.n_steps, "dt": self.dt, "periodic": self.periodic,
            "unvisited": self.unvisited,
        }

    def fingerprint(self) -> str:
        """sha256 of the weights (every state-dict tensor, or ``weights_fingerprint``), the
        network's class and ``config`` attribute, and the trajectory protocol."""
        h = Hasher("network")
        h.update_config(self.identity_document())
        if self.weights_fingerprint is not None:
            h.update_text(f"weights:{self.weights_fingerprint}")
        else:
            state = self.module.state_dict()
            for name in sorted(state):
                meta, data = _tensor_bytes(state[name])
                h.update_bytes(name, meta, data)
        return h.hexdigest()

    def __repr__(self) -> str:
        return (f"NetworkProvider({self.identifier!r}, layers={self.layers}, "
                f"n_positions={self.n_positions})")
