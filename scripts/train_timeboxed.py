"""Train several network configurations at once for a fixed wall time, with learning curves.

Each configuration runs in its own process (one torch thread) through
:func:`mecbench.training.train`, in chunks of steps sized so that the last chunk ends before
the deadline; the run is resumed from its own checkpoint between chunks, so the weights are
those of one uninterrupted run. After every chunk the process records a learning-curve
point in ``OUT/NAME/curve.json``:

* decoding error on fresh walks of the training length and of the 20-step rate-map rollout,
  beside the stay-at-start baseline on the same walks (path integrators);
* fraction of units with grid score > 0.3 (min–max and mean forms) per layer, from rate maps
  of a reduced protocol (``--curve-batches`` batches × 200 walks × 20 steps, 5 cm bins, the
  training box).

Usage::

    python scripts/train_timeboxed.py OUT --seconds 360 --device cuda \\
        --run rnn-relu-dos:rnn-relu-dos:seq_len=20,batch_size=200 \\
        --run ssl-grid:ssl-grid

``--run NAME:MODEL-ID[:KEY=VALUE,...]`` names a run, its ``mecbench train`` preset and its
overrides. A run directory that already holds a checkpoint is resumed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
from pathlib import Path

ROLLOUT_STEPS = 20


def _parse_run(text: str) -> tuple[str, str, dict[str, object]]:
    from mecbench.training.presets import parse_overrides

    parts = text.split(":", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise SystemExit(f"--run {text!r}: expected NAME:MODEL-ID[:KEY=VALUE,...]")
    overrides = parse_overrides(parts[2].split(",")) if len(parts) == 3 and parts[2] else {}
    return parts[0], parts[1], overrides


def _curve_point(model, device: str, n_batches: int) -> dict[str, object]:
    import numpy as np

    from mecbench.analysis import grid_scores
    from mecbench.nets.config import PathIntegratorConfig
    from mecbench.providers import NetworkProvider
    from mecbench.ratemaps import Arena
    from mecbench.training import evaluate_decoding, stay_at_start_error

    config = model.config
    model.eval()
    point: dict[str, object] = {}
    lengths = sorted({config.seq_len, ROLLOUT_STEPS})
    if isinstance(config, PathIntegratorConfig):
        for t in lengths:
            point[f"decoding_cm_T{t}"] = 100 * evaluate_decoding(model, seq_len=t,
                                                                 device=device)
            point[f"stay_at_start_cm_T{t}"] = 100 * stay_at_start_error(config, seq_len=t)
    else:
        point[f"decoding_cm_T{config.seq_len}"] = 100 * evaluate_decoding(model, device=device)
    arena = Arena(float(config.arena_width), float(config.arena_height), 0.05)
    provider = NetworkProvider(model, "curve", n_batches=n_batches, device=device,
                               unvisited="nearest", progress=False)
    for layer in provider.layers:
        maps = provider.rate_maps(arena, layer, seed=0)
        for form in ("sargolini", "deepmind"):
            scores = np.nan_to_num(grid_scores(maps, form=form).values, nan=-np.inf)
            point[f"grid_{layer}_{form}"] = float(np.mean(scores > 0.3))
    model.train()
    return point


def _worker(name: str, model_id: str, overrides: dict, out: str, deadline: float,
            device: str, curve_batches: int, first_chunk: int) -> None:
    import torch

    from mecbench.nets.checkpoint import load_network
    from mecbench.training import train
    from mecbench.training.presets import apply_overrides, preset_config
    from mecbench.training.state import has_checkpoint

    torch.set_num_threads(1)
    run_dir = Path(out) / name
    run_dir.mkdir(parents=True, exist_ok=True)
    curve_file = run_dir / "curve.json"
    curve = json.loads(curve_file.read_text()) if curve_file.is_file() else []
    resume = has_checkpoint(run_dir)
    config = None if resume else apply_overrides(preset_config(model_id), overrides)
    step = load_network(run_dir).checkpoint_metadata["step"] if resume else 0
    step, chunk, rate = int(step), first_chunk, None
    command = (f"scripts/train_timeboxed.py --device {device} --run "
               f"{name}:{model_id}:{','.join(f'{k}={v}' for k, v in overrides.items())} "
               f"(until {time.strftime('%H:%M:%S', time.gmtime(deadline))} UTC)")
    while True:
        left = deadline - time.time()
        if rate is not None:
            # a chunk per ~1/4 of what is left, ending before the deadline
            chunk = int(rate * left / 4) if left > 40 else int(rate * (left - 5) * 0.8)
        if chunk < 1 or left <= 0:
            break
        t0 = time.time()
        result = train(config, run_dir, step + chunk, device=device, resume=resume,
                       checkpoint_every=10**9, log_every=100, progress=False,
                       command=command)
        command = None  # recorded once per invocation, not per chunk
        rate = chunk / (time.time() - t0)
        step, resume, config = result.step, True, None
        point = {"step": step, "wall_time_s": result.wall_time_s}
        try:
            point.update(_curve_point(result.model, device, curve_batches))
        except Exception as err:  # a failed measurement must not stop the training
            point["error"] = f"{type(err).__name__}: {err}"
        curve.append(point)
        curve_file.write_text(json.dumps(curve, indent=1) + "\n")
        print(f"[{name}] {json.dumps(point)}", flush=True)
        if time.time() > deadline - 10:
            break


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out")
    p.add_argument("--seconds", type=float, required=True, help="wall time for training")
    p.add_argument("--device", default="cpu")
    p.add_argument("--run", action="append", required=True, metavar="NAME:MODEL-ID[:K=V,...]")
    p.add_argument("--curve-batches", type=int, default=20)
    p.add_argument("--first-chunk", type=int, default=200)
    args = p.parse_args()
    runs = [_parse_run(text) for text in args.run]
    deadline = time.time() + args.seconds
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_worker, name=name,
                         args=(name, model_id, overrides, args.out, deadline, args.device,
                               args.curve_batches, args.first_chunk))
             for name, model_id, overrides in runs]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
        print(f"[{proc.name}] exit {proc.exitcode}", flush=True)


if __name__ == "__main__":
    main()
