"""Training of the model zoo's networks (``mecbench train``).

Public API
----------
train, TrainResult, evaluate_decoding, batch_seed
    The training loop (Adam, seeded per-step batches, resumable checkpoints).
preset_config, preset_names, parse_overrides, apply_overrides
    Named configurations (``MODEL-ID``) and ``KEY=VALUE`` overrides.
save_training_state, load_training_state, TrainingState
    Optimizer state as safetensors + JSON (never pickle).
"""

from mecbench.nets.presets import PRESETS, preset_config, preset_names
from mecbench.training.presets import apply_overrides, parse_overrides
from mecbench.training.state import TrainingState, load_training_state, save_training_state
from mecbench.training.trainer import (
    TrainResult,
    batch_seed,
    evaluate_decoding,
    stay_at_start_error,
    train,
)

__all__ = [
    "PRESETS",
    "apply_overrides",
    "parse_overrides",
    "preset_config",
    "preset_names",
    "TrainingState",
    "load_training_state",
    "save_training_state",
    "TrainResult",
    "batch_seed",
    "evaluate_decoding",
    "stay_at_start_error",
    "train",
]
