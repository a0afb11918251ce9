"""Decoding error of the shipped path integrators against the stay-at-start baseline.

Prints, for every shipped path integrator, the mean position-decoding error on fresh random
walks of its training length and of the 20 steps the rate-map rollouts use (Nayebi et al.'s
protocol), beside the error of reporting the start position (``stay_at_start_error``) on the
same walks, and, for place-cell readouts, the floor of their decoder (the mean of the top-3
cells' centres) applied to the true target code. Run: ``python scripts/decoding_baselines.py``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from mecbench.nets import load_network
from mecbench.nets.config import PathIntegratorConfig
from mecbench.training import batch_seed, evaluate_decoding, stay_at_start_error
from mecbench.training.trainer import PathIntegrationTask

ROLLOUT_STEPS = 20  # NetworkProvider's default n_steps


def main() -> None:
    root = Path(__file__).resolve().parents[1] / "models"
    print(f"{'model':<20} {'T':>3} {'decoding (cm)':>14} {'stay at start (cm)':>19} "
          f"{'decoder floor (cm)':>19}")
    for folder in sorted(p.parent for p in root.glob("*/*/config.json")):
        model = load_network(folder)
        if not isinstance(model.config, PathIntegratorConfig):
            continue
        for t in sorted({model.config.seq_len, ROLLOUT_STEPS}):
            err = evaluate_decoding(model, seq_len=t)
            base = stay_at_start_error(model.config, seq_len=t)
            floor = _decoder_floor(model, t)
            print(f"{folder.name:<20} {t:>3} {100 * err:>14.1f} {100 * base:>19.1f} "
                  f"{'-' if floor is None else f'{100 * floor:.1f}':>19}")


def _decoder_floor(model, seq_len: int, n_batches: int = 10, seed: int = 12345):
    """Decoding error of the readout's decoder on the true target code (None without one)."""
    readout = model.readout
    if not hasattr(readout, "centres"):
        return None
    task = PathIntegrationTask(model.config.replace(seq_len=seq_len), torch.device("cpu"))
    errors = []
    for k in range(n_batches):
        positions = task.batch(batch_seed(seed, k, stream=1))["positions"]
        errors.append(float(readout.decoding_error(readout.targets(positions), positions)))
    return sum(errors) / len(errors)


if __name__ == "__main__":
    main()
