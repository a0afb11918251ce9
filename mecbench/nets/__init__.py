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

The names are imported on first use, so ``import mecbench.nets.config`` (or
:mod:`mecbench.nets.zoo`) does not import torch.
"""

import importlib

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

_LAZY = {
    "build_network": "mecbench.nets.checkpoint",
    "load_network": "mecbench.nets.checkpoint",
    "save_network": "mecbench.nets.checkpoint",
    "weights_fingerprint": "mecbench.nets.checkpoint",
    "ACTIVATIONS": "mecbench.nets.config",
    "ARCHITECTURES": "mecbench.nets.config",
    "READOUTS": "mecbench.nets.config",
    "PathIntegratorConfig": "mecbench.nets.config",
    "SSLGridConfig": "mecbench.nets.config",
    "config_from_dict": "mecbench.nets.config",
    "config_from_json": "mecbench.nets.config",
    "PathIntegrator": "mecbench.nets.pathint",
    "SSLGridNet": "mecbench.nets.ssl",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mecbench.nets' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
