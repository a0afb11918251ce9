"""Training speed (optimisation steps per second) of the CPU configurations.

Run: ``python tests/perf/bench_training.py [--quick] [--threads 1] [--device cpu]``

Each configuration is a path integrator's training preset (10-step walks, batches of 64) or,
for ssl-grid, the configuration its shipped checkpoint was trained with on a CPU. The timing
covers the whole training step as :func:`mecbench.training.train` runs it (batch generation,
forward, backward, Adam) and excludes set-up and checkpoint writing: it is the difference of the
``elapsed_s`` of two history records.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
MODELS = ["rnn-relu-dos", "rnn-relu-cartesian", "rnn-relu-gaussian", "ugrnn-relu-dos",
          "lstm-dos", "ssl-grid"]


def _config(name: str):
    """The CPU configuration of ``name``: ssl-grid's shipped one (it was trained on a CPU), a
    path integrator's preset (the shipped path integrators were trained on a GPU on 20-step
    walks in batches of 200)."""
    from mecbench.nets.checkpoint import read_config
    from mecbench.training import preset_config

    shipped = list((REPO / "models").glob(f"*/{name}/config.json"))
    if shipped and read_config(shipped[0].parent).arch == "ssl":
        return read_config(shipped[0].parent), "shipped"
    return preset_config(name), "preset"


def _describe(c) -> str:
    if c.arch == "ssl":
        return f"ssl N={c.n_units} H={c.mlp_hidden} T={c.seq_len} B={c.n_permutations}"
    return (f"{c.arch}-{c.activation} {c.readout} Ng={c.n_hidden} Np={c.n_place} "
            f"B={c.batch_size} T={c.seq_len}")


def main(argv: list[str] | None = None) -> int:
    from mecbench.training import train

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="few steps (smoke run)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--models", nargs="*", default=MODELS)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    warm, steps = (2, 6) if args.quick else (10, 60)
    print(f"torch {torch.__version__}, {args.threads} thread(s), device {args.device}")
    print(f"{'model':20s} {'config':48s} {'source':8s} {'ms/step':>8s} {'steps/s':>8s}")
    for name in args.models:
        config, source = _config(name)
        if config.arch == "ssl":
            warm, n = (1, 3) if args.quick else (3, 15)
        else:
            n = steps
        with tempfile.TemporaryDirectory() as tmp:
            result = train(config, Path(tmp) / "run", warm + n, device=args.device,
                           progress=False, log_every=warm, checkpoint_every=10**9)
        times = {h["step"]: h["elapsed_s"] for h in result.history}
        dt = (times[warm + n] - times[warm]) / n
        print(f"{name:20s} {_describe(config):48s} {source:8s} {dt * 1e3:8.1f} {1 / dt:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
