"""``mecbench train``: train a network of the model zoo and keep resumable checkpoints."""

from __future__ import annotations

import argparse
import shlex
import sys

from mecbench.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` sub-command."""
    p = subparsers.add_parser(
        "train",
        help="train a path integrator or the SSL grid model",
        description=(
            "Train a network with Adam and write checkpoints (model.safetensors, config.json, "
            "training_state.*) into --out. MODEL-ID is a preset (see --list) or the path of a "
            "config.json. Runs are deterministic for a given seed on CPU (same device and "
            "thread count)."
        ),
    )
    p.add_argument("model_id", metavar="MODEL-ID", nargs="?",
                   help="preset name or config.json path (omit with --resume)")
    p.add_argument("--out", required=False, metavar="DIR", help="checkpoint directory")
    p.add_argument("--steps", type=int, default=1000, help="total optimisation steps "
                   "(default 1000)")
    p.add_argument("--seed", type=int, default=None, help="seed of weights, place cells and "
                   "batches (default: the preset's, 0)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="trajectories per step (SSL: permutations per batch)")
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, e.g. --set n_hidden=512 (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    p.add_argument("--checkpoint-every", type=int, default=1000, metavar="N",
                   help="steps between checkpoints (default 1000)")
    p.add_argument("--log-every", type=int, default=50, metavar="N",
                   help="steps between history records (default 50)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (results are reproducible for a fixed count)")
    p.add_argument("--list", action="store_true", help="list the presets and exit")
    p.set_defaults(func=run)


def _config_from_args(args: argparse.Namespace):
    from mecbench.training import apply_overrides, parse_overrides, preset_config

    overrides = parse_overrides(args.set)
    config = preset_config(args.model_id)
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.lr is not None:
        overrides["lr"] = args.lr
    if args.batch_size is not None:
        overrides["n_permutations" if config.arch == "ssl" else "batch_size"] = args.batch_size
    return apply_overrides(config, overrides)


def _command_line(args: argparse.Namespace) -> str:
    """The canonical command that reproduces this run (recorded in the checkpoint)."""
    parts = ["mecbench", "train"]
    if args.model_id is not None:
        parts.append(args.model_id)
    parts += ["--out", args.out, "--steps", str(args.steps), "--device", args.device]
    for flag, value in (("--seed", args.seed), ("--batch-size", args.batch_size),
                        ("--lr", args.lr), ("--threads", args.threads)):
        if value is not None:
            parts += [flag, str(value)]
    for item in args.set:
        parts += ["--set", item]
    parts += ["--checkpoint-every", str(args.checkpoint_every)]
    if args.resume:
        parts.append("--resume")
    return " ".join(shlex.quote(p) for p in parts)


def run(args: argparse.Namespace) -> int:
    """Run ``mecbench train``."""
    if args.list:
        from mecbench.training import PRESETS

        for name in sorted(PRESETS):
            c = PRESETS[name]()
            what = (f"SSL N={c.n_units} T={c.seq_len} B={c.n_permutations}" if c.arch == "ssl"
                    else f"{c.arch} {c.activation} readout={c.readout} Ng={c.n_hidden} "
                         f"Np={c.n_place}")
            print(f"{name:22s} {what}")
        return 0
    if not args.out:
        raise ConfigError("--out DIR is required")
    if args.threads is not None:
        if args.threads < 1:
            raise ConfigError(f"--threads must be >= 1, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    from mecbench.training import train

    if args.model_id is None and not args.resume:
        raise ConfigError("MODEL-ID is required unless --resume is given")
    config = _config_from_args(args) if args.model_id is not None else None
    if args.steps == 0 and not args.resume:
        print("note: --steps 0 saves the network's initial (untrained) weights; for an "
              "untrained baseline on a benchmark, score untrained/<arch> (see `mecbench models`)",
              file=sys.stderr)
    command = _command_line(args)
    result = train(config, args.out, args.steps, device=args.device, resume=args.resume,
                   checkpoint_every=args.checkpoint_every, log_every=args.log_every,
                   progress=not args.quiet, command=command)
    last = result.history[-1] if result.history else {}
    summary = f"trained {result.model.config.arch}: step {result.step}, " \
              f"{result.wall_time_s:.0f} s"
    if last:
        summary += (f", loss {last['loss']:.4f}, decoding error "
                    f"{last['decoding_error_m'] * 100:.1f} cm (training batch)")
    if not args.quiet:
        print(f"{summary} -> {result.out_dir}")
    return 0
