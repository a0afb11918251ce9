"""``mecbench score MODEL BENCHMARK``: score a model (one layer or all) on a benchmark.

Prints one row per layer: raw (median over cells of the per-cell Pearson r), ceiling (median
per-cell ceiling), ceiled (median over cells of raw_i / ceiling_i) with its 95 % bootstrap CI,
and the number of cells. ``--save`` writes each layer's per-cell score next to the leaderboard
and appends an entry; ``--json`` prints the document described in ``mecbench/cli/schema.md``.
BENCHMARK may be a registered identifier or a path to recordings (with ``--mapping``,
``--splits``, ``--ceiling``).
"""

from __future__ import annotations

import argparse

from mecbench.cli import _options as opt

__all__ = ["register", "run_score"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "score", help="score a model on a benchmark",
        description="Score a model on a benchmark: per layer, the raw score (median over cells "
                    "of the cross-validated Pearson r), the ceiling, the ceiled score and its "
                    "95 % bootstrap CI.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  mecbench score rnn-relu-dos mec-sim.ridge\n"
               "  mecbench score rnn-relu-dos mec-sim.ridge --layer all --jobs 2 --save\n"
               "  mecbench score my-model my_recordings.nc --mapping pls:n_components=10")
    parser.add_argument("model", help="model identifier (see `mecbench models`)")
    parser.add_argument("benchmark",
                        help="benchmark identifier (see `mecbench benchmarks`) or a path to "
                             "recordings (NeuralData .nc)")
    parser.add_argument("--layer", default=None, metavar="NAME|all",
                        help="layer to score, or 'all' (default: the model's default layer)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the model's rate maps (trajectories; default 0)")
    parser.add_argument("--save", action="store_true",
                        help="save the per-cell scores and append entries to the leaderboard")
    opt.add_board_option(parser, write=True)
    opt.add_cache_option(parser)
    opt.add_json_option(parser)
    opt.add_parallel_options(parser)
    opt.add_adhoc_options(parser)
    parser.set_defaults(func=_run)


def run_score(model: str, benchmark, *, layer: str | None = None, seed: int = 0,
              cache=None, parallel=None, progress=None):
    """Score ``model`` on ``benchmark`` (a Benchmark); returns (provider, {layer: Score}).

    With several layers, a layer that fails maps to its :class:`MecbenchError` instead (the
    other layers are still scored)."""
    from mecbench.cli.models import load_model
    from mecbench.errors import ConfigError

    provider = load_model(model)
    if layer == "all":
        layers = list(provider.layers)
    elif layer:
        layers = [layer]
    else:
        layers = [provider.default_layer]
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"--seed must be a non-negative integer, got {seed!r}")
    scores = benchmark.score_layers(provider, layers, seed=seed, cache=cache, parallel=parallel,
                                    progress=progress,
                                    errors="collect" if len(layers) > 1 else "raise")
    return provider, scores


def _layer_doc(layer: str, score, entry: dict | None) -> dict:
    from mecbench.leaderboard import clean_float

    s = score.summary()
    return {
        "layer": layer,
        "raw": clean_float(s.get("raw_median")),
        "raw_ci": [clean_float(s.get("raw_ci_low")), clean_float(s.get("raw_ci_high"))],
        "ceiling": clean_float(s.get("ceiling_median")),
        "ceiled": clean_float(s.get("ceiled_median")),
        "ci": [clean_float(s.get("ceiled_ci_low")), clean_float(s.get("ceiled_ci_high"))],
        "n_cells": int(s.get("n_cells_ceiled", s.get("n_cells_scored", 0))),
        "n_cells_scored": int(s.get("n_cells_scored", 0)),
        "n_cells_total": int(s.get("n_cells", 0)),
        "frac_ceiled_above_1": clean_float(s.get("frac_ceiled_above_1")),
        "entry_id": entry["id"] if entry else None,
        "score_file": (f"{entry['_dir']}/{entry['score_file']}" if entry else None),
    }


def _run(args) -> int:
    from mecbench import leaderboard as lb

    bench = opt.benchmark_from_args(args)
    cache = opt.cache_from_args(args)
    parallel = opt.parallel_from_args(args)
    progress = None if args.json else opt.progress_from_args(args)
    provider, scores = run_score(args.model, bench, layer=args.layer, seed=args.seed,
                                 cache=cache, parallel=parallel, progress=progress)
    from mecbench.errors import MecbenchError

    failed = {layer: err for layer, err in scores.items() if isinstance(err, MecbenchError)}
    scores = {layer: s for layer, s in scores.items() if layer not in failed}
    entries: dict[str, dict] = {}
    if args.save:
        directory = lb.write_dir(args.leaderboard_dir)
        command = opt.command_line()
        for layer, score in scores.items():
            entries[layer] = lb.save_entry(directory, score, command=command)
    layers = [_layer_doc(layer, score, entries.get(layer)) for layer, score in scores.items()]
    doc = {
        "schema": opt.JSON_SCHEMA_VERSION,
        "command": "score",
        "model": provider.identifier,
        "benchmark": bench.identifier,
        "benchmark_version": bench.version,
        "mapping": bench.mapping.text,
        "splits": bench.splits.identifier,
        "ceiling_method": bench.ceiling_method,
        "notes": list(bench.notes),
        "data_hash": bench.data_hash,
        "weights_hash": provider.fingerprint(),
        "seeds": {"model": args.seed, "splits": bench.splits.seed,
                  "bootstrap": bench.bootstrap_seed},
        "layers": layers,
        "failed_layers": [{"layer": layer, "error": str(err)} for layer, err in failed.items()],
    }
    if args.json:
        opt.print_json(doc)
        return 2 if failed else 0
    print(f"{provider.identifier} on {bench.identifier} (version {bench.version}): mapping "
          f"{bench.mapping.text}, splits {bench.splits.identifier}, ceiling "
          f"{bench.ceiling_method}")
    for note in bench.notes:
        print(f"note: {note}")
    rows = [[d["layer"], opt.fmt(d["raw"]), opt.fmt(d["ceiling"]), opt.fmt(d["ceiled"]),
             opt.fmt_ci(d["ci"]), f"{d['n_cells']}/{d['n_cells_total']}"] for d in layers]
    print(opt.table(rows, ["layer", "raw", "ceiling", "ceiled", "95% CI (ceiled)", "cells"]))
    if bench.ceiling_method == "none":
        print("no ceiling: 'ceiled' is undefined; 'raw' is the median per-cell Pearson r")
    for layer, entry in entries.items():
        print(f"saved {layer}: entry {entry['id']} in "
              f"{lb.board_path(entry['_dir'], entry['benchmark'])}")
    if failed:
        import sys

        for layer, err in failed.items():
            print(f"mecbench: error: layer {layer}: {err}", file=sys.stderr)
        return 2
    return 0
