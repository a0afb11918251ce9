"""Named network configurations (the ``MODEL-ID`` of ``mecbench train`` and the shapes of the
untrained baselines).

Path integrators default to the CPU-sized configuration of Sorscher et al. (Ng = Np = 256,
10-step sequences, batch 64, Adam 1e-3, weight decay 1e-4 on the recurrence). The vanilla RNNs
use identity-initialised recurrence (the smallest published setting reported to reach grid-like
units); gated cells use orthogonal recurrence. ``ssl-grid`` uses the reported settings of
Schaeffer, Khona et al. 2023 (N = 128, T = 60, B = 130).

A ``MODEL-ID`` may also be the path of a ``config.json`` (as written next to a checkpoint).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mecbench.errors import ConfigError, UnknownIdentifierError
from mecbench.nets.config import NetConfig, PathIntegratorConfig, SSLGridConfig, config_from_json

__all__ = ["PRESETS", "preset_names", "preset_config"]


def _pi(**kw) -> Callable[[], NetConfig]:
    return lambda: PathIntegratorConfig(**kw)


_GATED = dict(recurrent_init="orthogonal")

PRESETS: dict[str, Callable[[], NetConfig]] = {
    "rnn-relu-dos": _pi(arch="rnn", activation="relu", readout="dos"),
    "rnn-tanh-dos": _pi(arch="rnn", activation="tanh", readout="dos"),
    "rnn-relu-gaussian": _pi(arch="rnn", activation="relu", readout="gaussian"),
    "rnn-relu-multifield": _pi(arch="rnn", activation="relu", readout="multifield"),
    "rnn-relu-cartesian": _pi(arch="rnn", activation="relu", readout="cartesian"),
    "rnn-relu-polar": _pi(arch="rnn", activation="relu", readout="polar"),
    "ugrnn-relu-dos": _pi(arch="ugrnn", activation="relu", readout="dos", **_GATED),
    "lstm-dos": _pi(arch="lstm", activation="tanh", readout="dos", **_GATED),
    "gru-dos": _pi(arch="gru", activation="tanh", readout="dos", **_GATED),
    "ssl-grid": lambda: SSLGridConfig(),
}


def preset_names() -> list[str]:
    """Names accepted as ``MODEL-ID``."""
    return sorted(PRESETS)


def preset_config(model_id: str) -> NetConfig:
    """The configuration named ``model_id``, or read from a ``config.json`` path.

    Raises
    ------
    UnknownIdentifierError
        With the closest preset names.
    """
    if model_id in PRESETS:
        return PRESETS[model_id]()
    path = Path(model_id)
    if path.suffix == ".json":
        if not path.is_file():
            raise ConfigError(f"config file {model_id} not found")
        try:
            return config_from_json(path.read_text())
        except ConfigError as err:
            raise ConfigError(f"{model_id}: {err}") from None
    raise UnknownIdentifierError("trainable model", model_id, PRESETS)
