"""Building networks from configs and saving/loading them without pickle.

A network checkpoint is a directory with

* ``config.json`` — the network configuration (:mod:`mecbench.nets.config`);
* ``model.safetensors`` — every parameter and buffer as float/int/bool tensors, with metadata
  (``format``, ``arch``, ``step``).

Loading reads the config, builds the network from it, then copies the stored tensors in after
checking that the names and shapes match exactly: a missing, unexpected or mis-shaped tensor
raises :class:`~mecbench.errors.ModelError` naming it. Weights are read with
:func:`safetensors.torch.load_file` only — nothing is ever unpickled.

torch is imported by the functions that need it, so reading a checkpoint's configuration
(:func:`read_config`) or fingerprint (:func:`weights_fingerprint`) does not import it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from mecbench.errors import ConfigError, ModelError
from mecbench.nets.config import NetConfig, PathIntegratorConfig, SSLGridConfig, config_from_json
from mecbench.neural_data import atomic_write

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "WEIGHTS_FILE",
    "CONFIG_FILE",
    "FORMAT",
    "build_network",
    "save_network",
    "load_network",
    "read_config",
    "read_weights",
    "load_checked_state",
    "weights_fingerprint",
]

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
FORMAT = "mecbench-net-1"


def build_network(config: NetConfig) -> nn.Module:
    """A freshly initialised network for ``config`` (deterministic given ``config.seed``)."""
    from mecbench.nets.pathint import PathIntegrator
    from mecbench.nets.ssl import SSLGridNet

    if isinstance(config, SSLGridConfig):
        return SSLGridNet(config)
    if isinstance(config, PathIntegratorConfig):
        return PathIntegrator(config)
    raise ConfigError(f"not a network config: {type(config).__name__}")


def _state_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}


def save_network(model: nn.Module, directory: str | Path, *,
                 metadata: dict[str, str] | None = None) -> Path:
    """Write ``config.json`` and ``model.safetensors`` for ``model`` into ``directory``.

    Each file is written atomically (temporary file, then rename). Returns the directory.
    """
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config: NetConfig = model.config
    meta = {"format": FORMAT, "arch": config.arch}
    meta.update({str(k): str(v) for k, v in (metadata or {}).items()})
    tensors = _state_tensors(model)
    atomic_write(directory / WEIGHTS_FILE, lambda tmp: save_file(tensors, tmp, metadata=meta))
    text = config.to_json() + "\n"
    atomic_write(directory / CONFIG_FILE, lambda tmp: Path(tmp).write_text(text))
    return directory


def read_config(directory: str | Path) -> NetConfig:
    """The configuration stored in ``directory/config.json``."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise ModelError(f"checkpoint {directory}: missing {CONFIG_FILE}")
    try:
        return config_from_json(path.read_text())
    except ConfigError as err:
        raise ModelError(f"checkpoint {path}: {err}") from None


def read_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a safetensors file (never unpickles)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"checkpoint weights {path} not found")
    try:
        tensors = load_file(str(path), device="cpu")
        with open(path, "rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            header = json.loads(fh.read(n))
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelError(f"checkpoint weights {path} are not a readable safetensors file: "
                         f"{err}") from None
    return tensors, dict(header.get("__metadata__") or {})


def load_checked_state(model: nn.Module, tensors: dict[str, torch.Tensor], source: str) -> None:
    """Copy ``tensors`` into ``model`` after an exact name/shape/dtype-kind check.

    Raises
    ------
    ModelError
        Naming the first missing, unexpected or mis-shaped tensor and ``source``.
    """
    import torch

    expected = model.state_dict()
    missing = [k for k in expected if k not in tensors]
    if missing:
        raise ModelError(f"{source}: tensor {missing[0]!r} is missing (expected shape "
                         f"{tuple(expected[missing[0]].shape)} for this config)")
    unexpected = [k for k in tensors if k not in expected]
    if unexpected:
        raise ModelError(f"{source}: unexpected tensor {unexpected[0]!r} for this config")
    for name, ref in expected.items():
        got = tensors[name]
        if tuple(got.shape) != tuple(ref.shape):
            raise ModelError(f"{source}: tensor {name!r} has shape {tuple(got.shape)} but the "
                             f"config implies {tuple(ref.shape)}")
        if got.dtype.is_floating_point != ref.dtype.is_floating_point or \
                (got.dtype == torch.bool) != (ref.dtype == torch.bool):
            raise ModelError(f"{source}: tensor {name!r} has dtype {got.dtype}, expected "
                             f"{ref.dtype}")
        if got.dtype.is_floating_point and not bool(torch.isfinite(got).all()):
            raise ModelError(f"{source}: tensor {name!r} holds non-finite values")
    with torch.no_grad():
        for name, ref in expected.items():
            ref.copy_(tensors[name].to(ref.dtype))


def load_network(path: str | Path, *, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild a saved network from its checkpoint directory (or its ``model.safetensors``).

    Returns the network in eval mode on ``device``; ``model.config`` is its configuration and
    ``model.checkpoint_metadata`` the safetensors metadata.
    """
    path = Path(path)
    directory = path.parent if path.suffix == ".safetensors" else path
    config = read_config(directory)
    tensors, meta = read_weights(directory / WEIGHTS_FILE)
    if meta.get("arch", config.arch) != config.arch:
        raise ModelError(f"checkpoint {directory}: weights are for arch {meta['arch']!r} but "
                         f"{CONFIG_FILE} says {config.arch!r}")
    model = build_network(config)
    load_checked_state(model, tensors, f"checkpoint {directory / WEIGHTS_FILE}")
    model.checkpoint_metadata = meta
    return model.to(device).eval()


def weights_fingerprint(path: str | Path) -> str:
    """SHA-256 over the checkpoint's ``config.json`` and ``model.safetensors`` bytes."""
    path = Path(path)
    directory = path.parent if path.suffix == ".safetensors" else path
    h = hashlib.sha256()
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        h.update((directory / name).read_bytes())
    return h.hexdigest()

