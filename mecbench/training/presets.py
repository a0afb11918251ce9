"""``KEY=VALUE`` overrides of the named configurations (``mecbench train MODEL-ID --set ...``).

The named configurations themselves live in :mod:`mecbench.nets.presets`; ``PRESETS``,
``preset_names`` and ``preset_config`` are imported here as well so that
``mecbench.training.presets`` keeps offering the whole ``MODEL-ID`` vocabulary.
VALUE is parsed as JSON, else kept as text.
"""

from __future__ import annotations

from collections.abc import Iterable

from mecbench.errors import ConfigError
from mecbench.keyvalue import parse_key_values
from mecbench.nets.config import NetConfig, config_from_dict
from mecbench.nets.presets import PRESETS, preset_config, preset_names

__all__ = ["PRESETS", "preset_names", "preset_config", "parse_overrides", "apply_overrides"]


def parse_overrides(items: Iterable[str]) -> dict[str, object]:
    """``["n_hidden=128", "readout=gaussian"]`` → ``{"n_hidden": 128, "readout": "gaussian"}``
    (:func:`mecbench.keyvalue.parse_key_values`)."""
    return parse_key_values(items, option="--set")


def apply_overrides(config: NetConfig, overrides: dict[str, object]) -> NetConfig:
    """A validated copy of ``config`` with ``overrides`` applied."""
    if not overrides:
        return config
    data = config.to_dict()
    data.update(overrides)
    if data.get("arch") != config.arch:
        raise ConfigError(f"cannot change 'arch' of a preset ({config.arch!r}); pick another "
                          f"MODEL-ID")
    return config_from_dict(data)
