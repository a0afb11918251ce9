"""The training loop shared by every trainable network.

* Adam on all parameters; the loss is the network's own objective (readout loss plus weight
  decay on the recurrence for path integrators; the four SSL losses for the grid model).
* Batch ``k`` is drawn from its own generator seeded by ``(seed, k)``
  (:func:`batch_seed`): a run resumed at step ``k`` sees exactly the batches an uninterrupted
  run would, so resuming gives bit-identical weights on CPU.
* On CPU, :func:`torch.use_deterministic_algorithms` is switched on for the duration of the
  run (and restored after). Results are reproducible for a given seed, device and number of
  threads.
* Checkpoints (:mod:`mecbench.training.state`) every ``checkpoint_every`` steps, at the end,
  and when interrupted with Ctrl-C.
* A tqdm progress bar shows loss and position-decoding error; quiet when not a TTY or asked.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from mecbench.errors import ConfigError
from mecbench.nets.checkpoint import build_network, read_config
from mecbench.nets.config import NetConfig, PathIntegratorConfig, SSLGridConfig
from mecbench.nets.ssl import nearest_neighbour_error, ssl_batch, ssl_losses
from mecbench.training.state import (
    TrainingState,
    has_checkpoint,
    load_training_state,
    save_training_state,
)

__all__ = ["TrainResult", "train", "batch_seed", "task_for", "evaluate_decoding",
           "stay_at_start_error"]


def batch_seed(seed: int, step: int, stream: int = 0) -> int:
    """Seed of the batch of training ``step`` (independent streams via ``stream``)."""
    return int(np.random.SeedSequence([int(seed), int(stream), int(step)]).generate_state(1)[0])


class PathIntegrationTask:
    """Random-walk batches and the supervised objective of a :class:`PathIntegrator`."""

    def __init__(self, config: PathIntegratorConfig, device: torch.device):
        self.config, self.device = config, device

    def batch(self, seed: int) -> dict[str, Tensor]:
        from mecbench.trajectories import random_walk

        c = self.config
        # Drawn on the CPU and then moved, as the SSL batches and the network provider do: a
        # CUDA generator's stream differs from the CPU one, so drawing on the device would train
        # a --device cuda run (or a run resumed on another device) on different data.
        traj = random_walk(c.batch_size, c.seq_len, arena_width=c.arena_width,
                           arena_height=c.arena_height, dt=c.dt, seed=seed, device="cpu",
                           periodic=c.periodic)
        batch = {"start": traj.start, "velocities": traj.velocities,
                 "positions": traj.positions[:, 1:]}
        if self.device.type != "cpu":
            batch = {k: v.to(self.device) for k, v in batch.items()}
        return batch

    def losses(self, model: nn.Module, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return model.loss_terms(batch["start"], batch["velocities"], batch["positions"])

    def decoding_error(self, model: nn.Module, batch: dict[str, Tensor],
                       terms: dict[str, Tensor]) -> float:
        return model.decoding_error(terms["dc"].detach(), batch["positions"])


class SSLTask:
    """Permuted-trajectory batches and the self-supervised objective of :class:`SSLGridNet`."""

    def __init__(self, config: SSLGridConfig, device: torch.device):
        self.config, self.device = config, device

    def batch(self, seed: int) -> dict[str, Tensor]:
        steps, perms = ssl_batch(self.config, seed, self.device)
        velocities = steps[perms]
        return {"steps": steps, "perms": perms, "velocities": velocities,
                "positions": velocities.cumsum(1)}

    def losses(self, model: nn.Module, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        g = model.integrate_permutations(batch["steps"], batch["perms"])
        g_prev = torch.cat([model.g0.expand(g.shape[0], 1, -1), g[:, :-1]], 1)
        out = ssl_losses(g, batch["positions"], batch["velocities"], g_prev, self.config)
        out["g"] = g
        return out

    def decoding_error(self, model: nn.Module, batch: dict[str, Tensor],
                       terms: dict[str, Tensor]) -> float:
        return nearest_neighbour_error(terms["g"].detach(), batch["positions"])


def task_for(config: NetConfig, device: str | torch.device = "cpu"):
    """The training task of a configuration."""
    device = torch.device(device)
    if isinstance(config, SSLGridConfig):
        return SSLTask(config, device)
    return PathIntegrationTask(config, device)


@dataclass
class TrainResult:
    """Outcome of :func:`train`."""

    model: nn.Module
    step: int
    wall_time_s: float
    history: list[dict[str, float]]
    out_dir: Path


@contextlib.contextmanager
def _deterministic(device: torch.device):
    if device.type != "cpu":
        yield
        return
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)


def _check_device(device: str | torch.device) -> torch.device:
    from mecbench.trajectories import usable_device

    return usable_device(device, "--device")


def _check_train_args(config: NetConfig | None, out_dir: Path, steps: int,
                      device: str | torch.device, resume: bool, checkpoint_every: int,
                      log_every: int) -> tuple[NetConfig, torch.device]:
    """The configuration to train and the device, after checking :func:`train`'s arguments."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ConfigError(f"steps must be a non-negative integer, got {steps!r}")
    for name, value in (("checkpoint_every", checkpoint_every), ("log_every", log_every)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    dev = _check_device(device)
    if resume:
        saved = read_config(out_dir)
        if config is not None and config != saved:
            diff = sorted(k for k, v in config.to_dict().items() if saved.to_dict().get(k) != v)
            raise ConfigError(f"cannot resume {out_dir} with a different configuration "
                              f"(fields {diff} differ from the saved run)")
        config = saved
    elif config is None:
        raise ConfigError("a configuration is required unless resuming")
    elif has_checkpoint(out_dir):
        raise ConfigError(f"{out_dir} already holds a checkpoint; pass --resume to continue it "
                          f"or choose another --out")
    return config, dev


def _start_run(config: NetConfig, out_dir: Path, steps: int, dev: torch.device, resume: bool,
               command: str | None) -> tuple[nn.Module, torch.optim.Optimizer, TrainingState]:
    """Network, Adam optimiser and training state, fresh or restored from ``out_dir``."""
    model = build_network(config).to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    if resume:
        state = load_training_state(out_dir, model, optimizer)
        if state.step > steps:
            raise ConfigError(f"{out_dir} is already at step {state.step} > --steps {steps}")
    else:
        state = TrainingState(step=0, seed=config.seed)
    if command:
        state.commands.append(command)
    return model, optimizer, state


def _history_record(task: PathIntegrationTask | SSLTask, model: nn.Module,
                    batch: dict[str, Tensor], terms: dict[str, Tensor],
                    step: int, elapsed_s: float) -> dict[str, float]:
    """History entry of ``step``: elapsed time, decoding error and the scalar loss terms."""
    record = {"step": step, "elapsed_s": elapsed_s,
              "decoding_error_m": task.decoding_error(model, batch, terms)}
    record.update({k: float(v.detach()) for k, v in terms.items() if v.ndim == 0})
    return record


def train(config: NetConfig | None, out_dir: str | Path, steps: int, *,
          device: str | torch.device = "cpu", resume: bool = False,
          checkpoint_every: int = 1000, log_every: int = 50, progress: bool = True,
          command: str | None = None) -> TrainResult:
    """Train a network and keep checkpoints in ``out_dir``.

    Parameters
    ----------
    config : NetConfig or None
        What to train. With ``resume`` it may be None (the saved config is used); otherwise it
        must equal the saved one.
    out_dir : path
        Checkpoint directory. Without ``resume`` it must not hold a checkpoint already.
    steps : int
        Total number of optimisation steps (including those done before a resume).
    device : "cpu" or "cuda"
    resume : bool
        Continue the run saved in ``out_dir``.
    checkpoint_every : int
        Steps between checkpoints (one is always written at the end).
    log_every : int
        Steps between history records (loss terms and decoding error on the current batch).
    progress : bool
        Show a progress bar (only on a TTY).
    command : str, optional
        The command line, recorded in ``training_state.json``.

    Returns
    -------
    TrainResult
    """
    out_dir = Path(out_dir)
    config, dev = _check_train_args(config, out_dir, steps, device, resume, checkpoint_every,
                                    log_every)
    model, optimizer, state = _start_run(config, out_dir, steps, dev, resume, command)
    task = task_for(config, dev)

    bar = None
    if progress and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=steps, initial=state.step, desc=f"train {config.arch}", unit="step",
                   dynamic_ncols=True)
    t_start = time.perf_counter()
    wall_before = state.wall_time_s
    model.train()

    def checkpoint() -> None:
        state.wall_time_s = wall_before + time.perf_counter() - t_start
        save_training_state(out_dir, model, optimizer, state)

    clean = True  # False while an update is half applied
    try:
        with _deterministic(dev):
            while state.step < steps:
                batch = task.batch(batch_seed(state.seed, state.step))
                terms = task.losses(model, batch)
                loss = terms["loss"]
                if not math.isfinite(float(loss.detach())):
                    raise ConfigError(f"training diverged at step {state.step} (loss {loss}); "
                                      f"try a smaller learning rate")
                clean = False
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                state.step += 1
                clean = True
                if state.step % log_every == 0 or state.step == steps:
                    record = _history_record(task, model, batch, terms, state.step,
                                             wall_before + time.perf_counter() - t_start)
                    state.history.append(record)
                    if bar is not None:
                        bar.set_postfix(loss=f"{record['loss']:.4f}",
                                        err=f"{record['decoding_error_m'] * 100:.1f}cm")
                if bar is not None:
                    bar.update(1)
                if state.step % checkpoint_every == 0 and state.step < steps:
                    checkpoint()
    except KeyboardInterrupt:
        if clean:
            checkpoint()
        raise
    finally:
        if bar is not None:
            bar.close()
    checkpoint()
    model.eval()
    return TrainResult(model=model, step=state.step, wall_time_s=state.wall_time_s,
                       history=state.history, out_dir=out_dir)


@torch.no_grad()
def evaluate_decoding(model: nn.Module, *, n_batches: int = 10, seed: int = 12345,
                      device: str | torch.device = "cpu", seq_len: int | None = None) -> float:
    """Mean position-decoding error (m) on fresh batches the network was not trained on.

    Path integrators: decoded from the readout along random walks of the training length (or
    ``seq_len`` steps) and batch size. SSL grid model: nearest-neighbour decoding across
    permutations (:func:`~mecbench.nets.ssl.nearest_neighbour_error`).
    """
    config = model.config
    if seq_len is not None:
        config = config.replace(seq_len=int(seq_len))
    task = task_for(config, device)
    errors = []
    for k in range(n_batches):
        batch = task.batch(batch_seed(seed, k, stream=1))
        terms = task.losses(model, batch)
        errors.append(task.decoding_error(model, batch, terms))
    return float(np.mean(errors))


def stay_at_start_error(config: PathIntegratorConfig, *, n_batches: int = 10,
                        seed: int = 12345, seq_len: int | None = None) -> float:
    """Mean distance (m) between the start and the true positions along the batches of
    :func:`evaluate_decoding`: the error of a "decoder" that ignores the velocities and
    reports the start position (which a path integrator is given). A path integrator must do
    better than this to be integrating at all.
    """
    if seq_len is not None:
        config = config.replace(seq_len=int(seq_len))
    task = PathIntegrationTask(config, torch.device("cpu"))
    errors = []
    for k in range(n_batches):
        batch = task.batch(batch_seed(seed, k, stream=1))
        errors.append(float((batch["positions"] - batch["start"][:, None, :])
                            .norm(dim=-1).mean()))
    return float(np.mean(errors))
