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
import sys

from mecbench.cli import _options as opt
from mecbench.errors import MecbenchError
from mecbench.tables import table

__all__ = ["register"]


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


def _layer_doc(layer: str, score, entry: dict | None, bench=None) -> dict:
    from mecbench.ceiling import ceiling_warnings
    from mecbench.leaderboard import clean_float
    from mecbench.score import undefined_cells_warning

    s = score.summary()
    support = None
    if "ceiling_n_source_cells_min" in s:
        support = {"n_source_cells_min": s["ceiling_n_source_cells_min"],
                   "n_source_cells_median": clean_float(s["ceiling_n_source_cells_median"]),
                   "n_source_animals_min": s["ceiling_n_source_animals_min"]}
    method = bench.ceiling_method if bench is not None else None
    warnings = [] if bench is None else ceiling_warnings(
        s, method=method, reliable=bench.ceiling_reliable,
        support=_public_support(bench), requested=bench.requested_ceiling,
        min_source_cells=bench.min_source_cells)
    undefined = undefined_cells_warning(s)
    if undefined is not None:
        warnings.append(undefined)
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
        "ceiling_split_ci": [clean_float(s.get("ceiling_split_ci_low")),
                             clean_float(s.get("ceiling_split_ci_high"))],
        "ceiling_support": support,
        "warnings": warnings,
    }


def _public_support(bench) -> dict | None:
    """The benchmark's ceiling support without its per-cell arrays (JSON-ready)."""
    support = bench.ceiling_support()
    if support is None:
        return None
    return {k: v for k, v in support.items() if k != "per_cell"}


def _run(args) -> int:
    from mecbench import leaderboard as lb
    from mecbench.run import run_score

    bench = opt.benchmark_from_args(args)
    cache = opt.cache_from_args(args)
    parallel = opt.parallel_from_args(args)
    progress = None if args.json else opt.progress_from_args(args)
    provider, scores = run_score(args.model, bench, layer=args.layer, seed=args.seed,
                                 cache=cache, parallel=parallel, progress=progress)

    failed = {layer: err for layer, err in scores.items() if isinstance(err, MecbenchError)}
    scores = {layer: s for layer, s in scores.items() if layer not in failed}
    entries: dict[str, dict] = {}
    if args.save:
        directory = lb.write_dir(args.leaderboard_dir)
        command = opt.command_line()
        for layer, score in scores.items():
            entries[layer] = lb.save_entry(directory, score, command=command)
    layers = [_layer_doc(layer, score, entries.get(layer), bench)
              for layer, score in scores.items()]
    doc = {
        "schema": opt.JSON_SCHEMA_VERSION,
        "command": "score",
        "model": provider.identifier,
        "benchmark": bench.identifier,
        "benchmark_version": bench.version,
        "mapping": bench.mapping.text,
        "splits": bench.splits.identifier,
        "ceiling_method": bench.ceiling_method,
        "ceiling_requested": bench.requested_ceiling,
        "ceiling_reliable": bench.ceiling_reliable,
        "ceiling_support": _public_support(bench),
        "notes": list(bench.notes),
        "data_id": bench.data_id,
        "array_backend": bench.array_backend,
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
    mark = " (unreliable)" if bench.ceiling_reliable is False else ""
    rows = [[d["layer"], opt.fmt(d["raw"]), opt.fmt(d["ceiling"]) + mark, opt.fmt(d["ceiled"]),
             opt.fmt_ci(d["ci"]), f"{d['n_cells']}/{d['n_cells_total']}"] for d in layers]
    units = f"{bench.mapping.unit}s"  # cells, or (arena, animal) pairs of a similarity
    print(table(rows, ["layer", "raw", "ceiling", "ceiled", "95% CI (ceiled)", units]))
    _print_ceiling_basis(bench, layers)
    if bench.ceiling_method == "none":
        print("no ceiling: 'ceiled' is undefined; 'raw' is the median per-cell Pearson r")
    for layer, entry in entries.items():
        print(f"saved {layer}: entry {entry['id']} in "
              f"{lb.board_path(entry['_dir'], entry['benchmark'])}")
    if failed:
        for layer, err in failed.items():
            print(f"mecbench: error: layer {layer}: {err}", file=sys.stderr)
        return 2
    return 0


def _print_ceiling_basis(bench, layers: list[dict]) -> None:
    """What the ceiling rests on, and every warning of every layer."""
    method = bench.ceiling_method
    support = _public_support(bench)
    if method in ("holdout", "pairwise") and support is not None:
        lo, hi = layers[0]["ceiling_split_ci"] if layers else (None, None)
        state = "reliable" if bench.ceiling_reliable else "UNRELIABLE"
        print(f"ceiling ({state}): {method} inter-animal; source cells per target: min "
              f"{support['n_source_cells_min']}, median {support['n_source_cells_median']:g} "
              f"(rule: >= {bench.min_source_cells}), from at least "
              f"{support['n_source_animals_min']} other animals of {support['n_animals']}; "
              f"95% CI of the median ceiling over splits {opt.fmt_ci([lo, hi])}")
    elif method == "split-half":
        pool = ("" if support is None else
                f"; the inter-animal ceiling was not used (source cells per target: min "
                f"{support['n_source_cells_min']}, median {support['n_source_cells_median']:g})")
        print(f"ceiling: split-half reliability (Spearman-Brown corrected) per cell{pool}")
    for d in layers:
        for text in d["warnings"]:
            print(f"warning: layer {d['layer']}: {text}")
