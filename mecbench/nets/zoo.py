"""Turning checkpoints and seeds into response providers (used by the ``models/`` plugins).

* :func:`checkpoint_provider` — a saved network (``config.json`` + ``model.safetensors``)
  driven along random walks: a :class:`CheckpointProvider`, the
  :class:`~mecbench.providers.NetworkProvider` that builds the network (and imports torch) only
  when rate maps are computed; its name, layers and fingerprint (which uses the SHA-256 of the
  checkpoint files) come from the files, so a fully cached score never imports torch.
* :func:`untrained_provider` / :func:`untrained_network` / :func:`parse_untrained_name` — an
  untrained network of an architecture built from a seed, with the configuration of the
  shipped trained counterpart (so trained and untrained versions differ only in their
  weights): an :class:`UntrainedProvider`, built on first use, whose fingerprint (a hash of
  the built weights) is memoised per machine, so a fully cached score never imports torch.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mecbench.errors import ConfigError, ModelError, UnknownIdentifierError
from mecbench.nets.checkpoint import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    build_network,
    load_network,
    read_config,
    weights_fingerprint,
)
from mecbench.nets.config import NetConfig, PathIntegratorConfig, SSLGridConfig
from mecbench.nets.fingerprint_memo import memoised_fingerprint
from mecbench.nets.presets import preset_config
from mecbench.providers._common import check_identifier
from mecbench.providers.network import DT, NetworkProvider

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "UNTRAINED_ARCHS",
    "CheckpointProvider",
    "UntrainedProvider",
    "checkpoint_provider",
    "network_layout",
    "untrained_config",
    "untrained_network",
    "parse_untrained_name",
    "untrained_provider",
]

#: Untrained architecture → the trained model whose configuration it copies (a shipped
#: checkpoint when one exists, else the training preset of that name).
UNTRAINED_ARCHS: dict[str, str] = {
    "rnn-relu": "rnn-relu-dos",
    "rnn-tanh": "rnn-tanh-dos",
    "ugrnn": "ugrnn-relu-dos",
    "lstm": "lstm-dos",
    "gru": "gru-dos",
    "ssl-grid": "ssl-grid",
}

_NAME = re.compile(r"^(?P<arch>[a-z-]+?)(?:-n(?P<units>\d+))?(?:-seed(?P<seed>\d+))?$")


def network_layout(config: NetConfig) -> tuple[str, tuple[str, ...], str]:
    """Class name, layer names and default layer of the network :func:`build_network` makes
    for ``config``, known without building it (nor importing torch).

    :class:`CheckpointProvider` checks them against the network when it builds it.
    """
    if isinstance(config, SSLGridConfig):
        return "SSLGridNet", ("g",), "g"
    if isinstance(config, PathIntegratorConfig):
        return "PathIntegrator", ("g", "dc") if config.arch == "rnn" else ("pre_g", "g", "dc"), "g"
    raise ConfigError(f"not a network config: {type(config).__name__}")


class _LazyNetworkProvider(NetworkProvider):
    """A :class:`~mecbench.providers.NetworkProvider` whose network is built (and torch
    imported) the first time rate maps are computed or :attr:`module` is read; its identifier,
    layers and default layer come from a :class:`NetConfig`."""

    def _init_lazy(self, identifier: str, config: NetConfig, device: str | torch.device,
                   **protocol: Any) -> None:
        self.identifier = check_identifier(identifier)
        self._set_protocol(**protocol)
        self.config = config
        self._class_name, layers, default_layer = network_layout(config)
        self._set_layers(layers, default_layer)
        self._device_spec = device
        self._module: nn.Module | None = None
        self._device: torch.device | None = None

    def _network_identity(self) -> tuple[str, object]:
        return self._class_name, dataclasses.asdict(self.config)

    @property
    def module(self) -> nn.Module:
        """The network, built on first use (in eval mode on :attr:`device`)."""
        if self._module is None:
            module = self._build()
            self._check_layout(module)
            self._module = module
        return self._module

    @property
    def device(self) -> torch.device:
        """Where the network runs (reading it imports torch)."""
        if self._device is None:
            import torch

            self._device = torch.device(self._device_spec)
        return self._device

    def _build(self) -> nn.Module:
        """The network, on :attr:`device` and in eval mode (subclasses say from what)."""
        raise NotImplementedError

    def _check_layout(self, module: nn.Module) -> None:
        """The built network must be what :func:`network_layout` announced."""
        found = (type(module).__qualname__, tuple(str(x) for x in module.layer_names),
                 module.default_layer)
        expected = (self._class_name, self.layers, self.default_layer)
        if found != expected:
            raise ModelError(f"model {self.identifier!r}: the network built from "
                             f"{self._source()} is {found[0]} with layers {found[1]} "
                             f"(default {found[2]!r}); mecbench.nets.zoo.network_layout says "
                             f"{expected[0]} with layers {expected[1]} (default {expected[2]!r})")

    def _source(self) -> str:
        """Where the network comes from, for error messages."""
        raise NotImplementedError


class CheckpointProvider(_LazyNetworkProvider):
    """A :class:`~mecbench.providers.NetworkProvider` over the network saved in a checkpoint
    directory, built (and torch imported) the first time rate maps are computed or
    :attr:`module` is read.

    Its identifier, layers, default layer and :meth:`fingerprint` come from ``config.json``
    and the SHA-256 of the checkpoint files (:func:`weights_fingerprint`), and equal those of a
    ``NetworkProvider`` over the loaded network with that ``weights_fingerprint``, so cached
    results are found without torch.

    Parameters
    ----------
    directory : str or Path
        The checkpoint (``config.json`` and ``model.safetensors``).
    identifier : str
        Model name.
    device : str or torch.device
        Where the network runs.
    n_batches, batch_size, n_steps, dt, periodic, unvisited, progress
        The trajectory protocol, as for :class:`~mecbench.providers.NetworkProvider`.

    Attributes
    ----------
    directory : Path
    config : NetConfig
        The checkpoint's ``config.json``.

    Raises
    ------
    ModelError
        When a checkpoint file is missing (on creation); when the weights are unreadable or do
        not fit the configuration, or the files changed since the provider was made (when the
        network is built).
    """

    def __init__(self, directory: str | Path, identifier: str, *,
                 device: str | torch.device = "cpu", n_batches: int = 100,
                 batch_size: int = 200, n_steps: int = 20, dt: float = DT,
                 periodic: bool = False, unvisited: str = "error",
                 progress: bool | None = None):
        directory = Path(directory)
        if not (directory / WEIGHTS_FILE).is_file() or not (directory / CONFIG_FILE).is_file():
            raise ModelError(f"model {identifier!r}: no checkpoint in {directory} (train one "
                             f"with 'mecbench train {identifier} --out {directory}')")
        self.directory = directory
        self._init_lazy(identifier, read_config(directory), device, n_batches=n_batches,
                        batch_size=batch_size, n_steps=n_steps, dt=dt, periodic=periodic,
                        unvisited=unvisited, progress=progress)
        self.weights_fingerprint = weights_fingerprint(directory)

    def _source(self) -> str:
        return str(self.directory)

    def _build(self) -> nn.Module:
        if weights_fingerprint(self.directory) != self.weights_fingerprint:
            raise ModelError(f"model {self.identifier!r}: the checkpoint in {self.directory} "
                             "changed after the model was loaded; load it again")
        return load_network(self.directory, device=self.device)


class UntrainedProvider(_LazyNetworkProvider):
    """A :class:`~mecbench.providers.NetworkProvider` over an untrained network built from its
    configuration and seed on first use.

    Its :meth:`fingerprint` hashes the built weights, as a ``NetworkProvider`` over
    :func:`untrained_network` does, and is memoised per machine
    (:mod:`mecbench.nets.fingerprint_memo`), so that a fully cached score of an untrained
    network imports no torch.

    Parameters
    ----------
    config : NetConfig
        From :func:`untrained_config` (the seed is part of it).
    identifier : str
        Model name.
    device, n_batches, batch_size, n_steps, dt, periodic, unvisited, progress
        As for :class:`CheckpointProvider`.
    """

    def __init__(self, config: NetConfig, identifier: str, *,
                 device: str | torch.device = "cpu", n_batches: int = 100,
                 batch_size: int = 200, n_steps: int = 20, dt: float = DT,
                 periodic: bool = False, unvisited: str = "error",
                 progress: bool | None = None):
        self._init_lazy(identifier, config, device, n_batches=n_batches,
                        batch_size=batch_size, n_steps=n_steps, dt=dt, periodic=periodic,
                        unvisited=unvisited, progress=progress)
        self.weights_fingerprint = None

    def _source(self) -> str:
        return f"the untrained configuration of {self.identifier!r}"

    def _build(self) -> nn.Module:
        return build_network(self.config).eval().to(self.device)

    def fingerprint(self) -> str:
        """sha256 of the built weights, the configuration and the trajectory protocol
        (memoised; see the class description)."""
        return memoised_fingerprint(self.identity_document(), super().fingerprint)


def checkpoint_provider(directory: str | Path, identifier: str,
                        **kwargs: Any) -> CheckpointProvider:
    """A :class:`CheckpointProvider` over the network saved in ``directory``.

    ``kwargs`` go to the provider (``n_batches``, ``batch_size``, ``n_steps``, ``device``...).
    Neither this nor reading the provider's layers or fingerprint imports torch.
    """
    return CheckpointProvider(directory, identifier, **kwargs)


def _shipped_dirs() -> dict[str, Path]:
    """The checkpoint folders shipped as data of the plugin package ``mecbench.models``, by
    name; the package is located, not imported (plugins sit above the library)."""
    spec = importlib.util.find_spec("mecbench.models")
    roots = [Path(r) for r in (spec.submodule_search_locations or [])] if spec else []
    return {p.parent.name: p.parent for root in roots for p in root.glob(f"*/*/{CONFIG_FILE}")}


def untrained_config(arch: str, *, seed: int = 0, n_units: int | None = None) -> NetConfig:
    """Configuration of an untrained ``arch`` network (see :data:`UNTRAINED_ARCHS`)."""
    if arch not in UNTRAINED_ARCHS:
        raise UnknownIdentifierError("untrained architecture", arch, UNTRAINED_ARCHS)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    trained = UNTRAINED_ARCHS[arch]
    shipped = _shipped_dirs().get(trained)
    config = read_config(shipped) if shipped is not None else preset_config(trained)
    changes: dict[str, Any] = {"seed": seed}
    if n_units is not None:
        if isinstance(n_units, bool) or not isinstance(n_units, int) or n_units < 1:
            raise ConfigError(f"n_units must be a positive integer, got {n_units!r}")
        changes["n_units" if config.arch == "ssl" else "n_hidden"] = n_units
    return config.replace(**changes)


def untrained_network(arch: str, *, seed: int = 0, n_units: int | None = None) -> nn.Module:
    """An untrained network of ``arch`` with weights drawn from ``seed``."""
    return build_network(untrained_config(arch, seed=seed, n_units=n_units)).eval()


def parse_untrained_name(rest: str) -> tuple[str, int | None, int]:
    """``"rnn-relu-n128-seed3"`` → ``("rnn-relu", 128, 3)``; the parts after the
    architecture are optional."""
    m = _NAME.match(rest)
    if m is None or m.group("arch") not in UNTRAINED_ARCHS:
        arch = m.group("arch") if m else rest
        raise UnknownIdentifierError("untrained architecture", arch, UNTRAINED_ARCHS)
    units = int(m.group("units")) if m.group("units") else None
    return m.group("arch"), units, int(m.group("seed") or 0)


def untrained_provider(rest: str, *, seed: int | None = None, n_units: int | None = None,
                       **kwargs: Any):
    """Provider of ``untrained/<rest>``, rest = ``<arch>[-n<units>][-seed<seed>]``.

    Keyword ``seed`` / ``n_units`` override the name's; the identifier is canonical
    (``untrained/<arch>[-n<units>][-seed<seed>]``, seed 0 and default units omitted).
    """
    arch, name_units, name_seed = parse_untrained_name(rest)
    seed = name_seed if seed is None else seed
    units = name_units if n_units is None else n_units
    ident = f"untrained/{arch}" + (f"-n{units}" if units is not None else "") + \
        (f"-seed{seed}" if seed else "")
    return UntrainedProvider(untrained_config(arch, seed=seed, n_units=units), ident, **kwargs)
