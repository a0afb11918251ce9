"""Trainable networks of the model zoo: supervised path integrators and the SSL grid model.

Public API
----------
PathIntegratorConfig, SSLGridConfig, config_from_dict, config_from_json
    Configurations (JSON round trip).
PathIntegrator
    Vanilla RNN / UGRNN / LSTM / GRU with place-cell or metric readouts.
SSLGridNet
    Self-supervised grid model (Schaeffer, Khona et al. 2023).
build_network, save_network, load_network, weights_fingerprint
    Checkpoints as safetensors + JSON (never pickle).

Every network exposes ``layer_names``, ``default_layer`` and
``layer_activity(start (B, 2), velocities (B, T, 2)) -> {layer: (B, T, units)}``.
"""

from mecbench.nets.checkpoint import (
    build_network,
    load_network,
    save_network,
    weights_fingerprint,
)
from mecbench.nets.config import (
    ACTIVATIONS,
    ARCHITECTURES,
    READOUTS,
    PathIntegratorConfig,
    SSLGridConfig,
    config_from_dict,
    config_from_json,
)
from mecbench.nets.pathint import PathIntegrator
from mecbench.nets.ssl import SSLGridNet

__all__ = [
    "ACTIVATIONS",
    "ARCHITECTURES",
    "READOUTS",
    "PathIntegratorConfig",
    "SSLGridConfig",
    "config_from_dict",
    "config_from_json",
    "PathIntegrator",
    "SSLGridNet",
    "build_network",
    "save_network",
    "load_network",
    "weights_fingerprint",
]
