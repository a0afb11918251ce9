"""Training checkpoints: weights + config + optimizer state, without pickle.

A training directory holds the network checkpoint of :mod:`mecbench.nets.checkpoint`
(``model.safetensors`` + ``config.json``) and

* ``training_state.safetensors`` — every tensor of the optimizer state, named
  ``state/<parameter name>/<key>`` (Adam: ``exp_avg``, ``exp_avg_sq``, ``step``);
* ``training_state.json`` — the step, the seed, non-tensor optimizer settings (``param_groups``),
  the accumulated wall time and the metric history.

Each file is written atomically and carries the step; :func:`load_training_state` refuses a
directory whose files disagree (a crash between two writes) with a :class:`ModelError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

from mecbench.errors import ModelError
from mecbench.nets.checkpoint import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    load_checked_state,
    read_config,
    read_weights,
    save_network,
)
from mecbench.nets.config import NetConfig
from mecbench.neural_data import atomic_write

__all__ = [
    "STATE_TENSORS",
    "STATE_JSON",
    "TrainingState",
    "has_checkpoint",
    "save_training_state",
    "load_training_state",
    "optimizer_tensors",
    "restore_optimizer",
]

STATE_TENSORS = "training_state.safetensors"
STATE_JSON = "training_state.json"
STATE_FORMAT = "mecbench-train-1"


@dataclass
class TrainingState:
    """Scalars of a training run that are not tensors."""

    step: int = 0
    seed: int = 0
    wall_time_s: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)
    param_groups: list[dict[str, Any]] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)


def has_checkpoint(directory: str | Path) -> bool:
    """Whether ``directory`` already holds any checkpoint file."""
    directory = Path(directory)
    return any((directory / n).exists() for n in (WEIGHTS_FILE, CONFIG_FILE, STATE_TENSORS,
                                                  STATE_JSON))


def optimizer_tensors(model: nn.Module, optimizer: torch.optim.Optimizer
                      ) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    """Split an optimizer's state into named tensors and JSON-able param groups."""
    names = {id(p): n for n, p in model.named_parameters()}
    tensors: dict[str, torch.Tensor] = {}
    for param, entry in optimizer.state.items():
        name = names.get(id(param))
        if name is None:
            raise ModelError("optimizer holds a parameter that is not part of the model")
        for key, value in entry.items():
            if not isinstance(value, torch.Tensor):
                raise ModelError(f"optimizer state {name}/{key} is not a tensor "
                                 f"({type(value).__name__}); cannot store it without pickle")
            tensors[f"state/{name}/{key}"] = value.detach().to("cpu").contiguous().clone()
    groups = []
    for group in optimizer.param_groups:
        g = {k: (list(v) if isinstance(v, tuple) else v) for k, v in group.items()
             if k != "params"}
        g["params"] = [names[id(p)] for p in group["params"]]
        groups.append(g)
    return tensors, groups


def restore_optimizer(model: nn.Module, optimizer: torch.optim.Optimizer,
                      tensors: dict[str, torch.Tensor], groups: list[dict[str, Any]],
                      source: str) -> None:
    """Inverse of :func:`optimizer_tensors` (checks every parameter name and shape)."""
    params = dict(model.named_parameters())
    if len(groups) != len(optimizer.param_groups):
        raise ModelError(f"{source}: {len(groups)} optimizer param groups, expected "
                         f"{len(optimizer.param_groups)}")
    for group, saved in zip(optimizer.param_groups, groups, strict=True):
        expected = [n for n, p in params.items() if any(p is q for q in group["params"])]
        if list(saved.get("params", [])) != expected:
            raise ModelError(f"{source}: optimizer parameters {saved.get('params')} do not "
                             f"match the model's {expected}")
        for key, value in saved.items():
            if key != "params":
                group[key] = tuple(value) if isinstance(value, list) else value
    optimizer.state.clear()
    for key, value in tensors.items():
        parts = key.split("/")
        if len(parts) != 3 or parts[0] != "state" or parts[1] not in params:
            raise ModelError(f"{source}: unexpected optimizer tensor {key!r}")
        param = params[parts[1]]
        if parts[2] in ("exp_avg", "exp_avg_sq") and value.shape != param.shape:
            raise ModelError(f"{source}: optimizer tensor {key!r} has shape "
                             f"{tuple(value.shape)}, parameter has {tuple(param.shape)}")
        dev = param.device if value.ndim else value.device  # Adam keeps `step` on the CPU
        optimizer.state[param][parts[2]] = value.to(dev)


def save_training_state(directory: str | Path, model: nn.Module,
                        optimizer: torch.optim.Optimizer, state: TrainingState) -> None:
    """Write the full training checkpoint for ``state.step`` into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors, groups = optimizer_tensors(model, optimizer)
    state.param_groups = groups
    meta = {"format": STATE_FORMAT, "step": str(state.step)}
    atomic_write(directory / STATE_TENSORS, lambda tmp: save_file(tensors, tmp, metadata=meta))
    payload = {"format": STATE_FORMAT, **state.__dict__}
    text = json.dumps(payload, indent=1, sort_keys=True) + "\n"
    atomic_write(directory / STATE_JSON, lambda tmp: Path(tmp).write_text(text))
    save_network(model, directory, metadata={"step": str(state.step)})


def load_training_state(directory: str | Path, model: nn.Module,
                        optimizer: torch.optim.Optimizer) -> TrainingState:
    """Restore weights and optimizer from ``directory``; returns the scalar state.

    The caller builds ``model`` from :func:`~mecbench.nets.checkpoint.read_config` of the same
    directory.
    """
    directory = Path(directory)
    for name in (WEIGHTS_FILE, CONFIG_FILE, STATE_TENSORS, STATE_JSON):
        if not (directory / name).is_file():
            raise ModelError(f"cannot resume from {directory}: {name} is missing")
    try:
        payload = json.loads((directory / STATE_JSON).read_text())
    except json.JSONDecodeError as err:
        raise ModelError(f"{directory / STATE_JSON}: not valid JSON ({err})") from None
    if payload.pop("format", None) != STATE_FORMAT:
        raise ModelError(f"{directory / STATE_JSON}: not a mecbench training state")
    known = set(TrainingState.__dataclass_fields__)
    state = TrainingState(**{k: v for k, v in payload.items() if k in known})
    weights, wmeta = read_weights(directory / WEIGHTS_FILE)
    opt_tensors, ometa = read_weights(directory / STATE_TENSORS)
    steps = {WEIGHTS_FILE: wmeta.get("step"), STATE_TENSORS: ometa.get("step"),
             STATE_JSON: str(state.step)}
    if len(set(steps.values())) != 1:
        raise ModelError(f"checkpoint {directory} is inconsistent (files from different steps: "
                         f"{steps}); it was interrupted while being written")
    load_checked_state(model, weights, f"checkpoint {directory / WEIGHTS_FILE}")
    restore_optimizer(model, optimizer, opt_tensors, state.param_groups,
                      f"checkpoint {directory / STATE_TENSORS}")
    return state


def saved_config(directory: str | Path) -> NetConfig:
    """The configuration of the training run in ``directory``."""
    return read_config(directory)
