"""``mecbench ceiling BENCHMARK``: the noise ceiling of a benchmark, pooled and per arena."""

from __future__ import annotations

from mecbench.cli import _options as opt
from mecbench.tables import table

__all__ = ["register"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "ceiling", help="noise ceiling of a benchmark",
        description="Compute (or read from the cache) a benchmark's per-cell ceiling and print "
                    "its median over cells with a 95 % bootstrap CI, pooled and per arena. "
                    "Inter-animal ceilings use the benchmark's own mapping and splits.")
    parser.add_argument("benchmark",
                        help="benchmark identifier or a path to recordings (NeuralData .nc)")
    opt.add_cache_option(parser)
    opt.add_json_option(parser)
    opt.add_parallel_options(parser)
    opt.add_adhoc_options(parser)
    parser.set_defaults(func=_run)


def _run(args) -> int:
    bench = opt.benchmark_from_args(args)
    progress = None if args.json else opt.progress_from_args(args)
    summary = bench.ceiling_score(cache=opt.cache_from_args(args),
                                  parallel=opt.parallel_from_args(args), progress=progress)
    doc = {"schema": opt.JSON_SCHEMA_VERSION, "command": "ceiling",
           "benchmark": bench.identifier, "benchmark_version": bench.version,
           "mapping": bench.mapping.text, "splits": bench.splits.identifier,
           "ceiling_method": summary["method"], "ceiling_requested": summary["requested"],
           "ceiling_reliable": summary["reliable"], "ceiling_support": summary["support"],
           "notes": summary["notes"],
           "min_ceiling": bench.min_ceiling, "data_id": bench.data_id,
           "median": summary["median"], "ci": summary["ci"], "split_ci": summary["split_ci"],
           "n_cells": summary["n_cells"],
           "n_cells_total": summary["n_cells_total"],
           "n_cells_low": summary.get("n_cells_low", 0),
           "arenas": summary["arenas"]}
    if args.json:
        opt.print_json(doc)
        return 0
    print(f"ceiling of {bench.identifier} (version {bench.version}): {summary['method']} "
          f"with mapping {bench.mapping.text}, splits {bench.splits.identifier}")
    for note in summary["notes"]:
        print(f"note: {note}")
    support = summary["support"]
    if support is not None:
        used = summary["method"] in ("holdout", "pairwise")
        state = ("" if not used else
                 " (reliable)" if summary["reliable"] else " (UNRELIABLE)")
        print(f"inter-animal source pool{state}: source cells per target min "
              f"{support['n_source_cells_min']}, median {support['n_source_cells_median']:g} "
              f"(rule: >= {support['min_source_cells']}), at least "
              f"{support['n_source_animals_min']} source animals of {support['n_animals']}"
              + ("" if used else "; not used"))
    if summary["method"] == "none":
        return 0
    rows = [["all", opt.fmt(doc["median"]), opt.fmt_ci(doc["ci"]),
             opt.fmt_ci(doc["split_ci"]),
             f"{doc['n_cells']}/{doc['n_cells_total']}", str(doc["n_cells_low"])]]
    for name, a in summary["arenas"].items():
        rows.append([name, opt.fmt(a["median"]), opt.fmt_ci(a["ci"]), opt.fmt_ci(a["split_ci"]),
                     f"{a['n_cells']}/{a['n_cells_total']}", str(a["n_cells_low"])])
    units = f"{bench.mapping.unit}s"  # cells, or (arena, animal) pairs of a similarity
    print(table(rows, ["arena", "median", f"95% CI ({units})", "95% CI (splits)", units,
                           f"ceiling <= {bench.min_ceiling:g}"]))
    print(f"{units.capitalize()} whose ceiling is not above the threshold are left out of "
          "ceiled scores.")
    return 0
