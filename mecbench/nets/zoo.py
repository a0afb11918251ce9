"""Turning checkpoints and seeds into response providers (used by the ``models/`` plugins).

* :func:`checkpoint_provider` — a saved network (``config.json`` + ``model.safetensors``)
  driven along random walks by :class:`~mecbench.providers.NetworkProvider`; the provider's
  fingerprint is the SHA-256 of the checkpoint files.
* :func:`untrained_network` / :func:`parse_untrained_name` — an untrained network of an
  architecture built from a seed, with the configuration of the shipped trained counterpart
  (so trained and untrained versions differ only in their weights).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from torch import nn

from mecbench.errors import ConfigError, ModelError, UnknownIdentifierError
from mecbench.nets.checkpoint import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    build_network,
    load_network,
    read_config,
    weights_fingerprint,
)
from mecbench.nets.config import NetConfig

__all__ = [
    "UNTRAINED_ARCHS",
    "checkpoint_provider",
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


def checkpoint_provider(directory: str | Path, identifier: str, **kwargs: Any):
    """A :class:`~mecbench.providers.NetworkProvider` over the network saved in ``directory``.

    ``kwargs`` go to the provider (``n_batches``, ``batch_size``, ``n_steps``, ``device``...).
    """
    from mecbench.providers import NetworkProvider

    directory = Path(directory)
    if not (directory / WEIGHTS_FILE).is_file() or not (directory / CONFIG_FILE).is_file():
        raise ModelError(f"model {identifier!r}: no checkpoint in {directory} (train one with "
                         f"'mecbench train {identifier} --out {directory}')")
    module = load_network(directory)
    return NetworkProvider(module, identifier, weights_fingerprint=weights_fingerprint(directory),
                           **kwargs)


def _shipped_dirs() -> dict[str, Path]:
    import mecbench.models as zoo

    root = Path(zoo.__file__).parent
    return {p.parent.name: p.parent for p in root.glob(f"*/*/{CONFIG_FILE}")}


def untrained_config(arch: str, *, seed: int = 0, n_units: int | None = None) -> NetConfig:
    """Configuration of an untrained ``arch`` network (see :data:`UNTRAINED_ARCHS`)."""
    from mecbench.training.presets import preset_config

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
    from mecbench.providers import NetworkProvider

    arch, name_units, name_seed = parse_untrained_name(rest)
    seed = name_seed if seed is None else seed
    units = name_units if n_units is None else n_units
    module = untrained_network(arch, seed=seed, n_units=units)
    ident = f"untrained/{arch}" + (f"-n{units}" if units is not None else "") + \
        (f"-seed{seed}" if seed else "")
    return NetworkProvider(module, ident, **kwargs)
