"""``mecbench controls BENCHMARK``: is a model's score more than its dimensionality?

Scores control families over a dimension sweep, measures every representation's effective
dimensionality (ED) and fraction of grid-like units, fits ``score ~ log(ED) + grid_fraction``
(OLS, HC3), and compares each model with controls of matched ED by the paired per-cell test of
``mecbench compare`` (see :mod:`mecbench.controls.sweep` for every definition).

``--json`` prints one document (schema 1, fields only ever added)::

    {"schema": 1, "command": "controls", "benchmark": "mec-sim.ridge", "benchmark_version": 1,
     "metric": "raw",              # per-cell value of the paired tests
     "score": "ceiled",            # headline score of every point (ceiled, or raw w/o ceiling)
     "analysis_arena": "2.2x2.2m", # where ED and grid fraction are measured
     "dims": [8, ...], "seeds": [0, 1, 2], "families": ["fourier", ..., "shuffle"],
     "n_cells": 1200, "alpha": 0.05,
     "curves": {"fourier": [{"dim": 8, "n_seeds": 3, "ed_mean", "ed_sd", "score_mean",
                             "score_sd", "score_min", "score_max", "grid_fraction_mean"}]},
     "points": [{"name": "control/fourier-d8-s0", "kind": "control|model|matched",
                 "family", "dim", "seed", "ed", "grid_fraction", "score", "raw",
                 "base" (shuffles), "layer"}],
     "ols": {"formula", "cov_type": "HC3", "n", "r2",
             "table": {"const"|"log_ed"|"grid_fraction": {"coef", "se", "z", "p", "ci_low",
                                                          "ci_high"}},
             "grid_p_one_sided", "grid_effect", "alpha", "note", "grid_reference"},
     "models": [{"model", "layer", "ed", "grid_fraction", "score", "n_units",
                 "beats_random_bases": true|false|null, "verdict",
                 "control_family", "control_score", "control_delta",
                 "comparisons": [{"family", "random_basis", "in_range", "dim", "ed",
                                  "ed_range", "grid_fraction", "control_score",
                                  "control_score_sd", "controls", "n_cells", "delta",
                                  "mean_delta", "ci",
                                  "p", "p_holm", "significant", "better",
                                  "per_seed": [{"seed", "control", "delta", "p_holm",
                                                "better"}], "verdict"
                                  | "reason" (out of range)}]}],
     "notes": [], "seconds": 123.4,
     "saved": {"results": path, "plot": path, "previous": path|null, "entries": [ids]}
              (absent with --no-report; entries only with --save), "plot": path (--plot)}

``--ground-truth`` prints, for ridge and every similarity metric, the rank of the generating
family at matched ED in the two simulated worlds of :mod:`mecbench.controls.worlds` (JSON:
:func:`mecbench.controls.worlds.ground_truth`).

``--panel [BENCHMARK ...]`` runs the sweep (no models) on each benchmark (default
``mec-sim.ridge`` and the similarity benchmarks) and prints one row per benchmark
(:mod:`mecbench.controls.panel`); ``--panel --save`` also writes the document and its figure
to ``controls/panel.json`` and ``controls/panel.png`` of the leaderboard directory, for the
report; with ``--json``::

    {"schema": 1, "command": "controls-panel", "dims": [8, ...], "seeds": 2,
     "families": [...], "min_gain": 0.05, "seconds": 123.4, "plot": path (--plot),
     "saved": {"results": path, "plot": path} (--save),
     "rows": [{"benchmark", "comparison", "score_kind", "slope", "slope_ci": [lo, hi],
               "gain", "best_random", "best_random_family", "best_random_dim",
               "best_relative", "ceiling", "grid_rank", "n_families", "ranks": {family: rank},
               "verdict", "seconds", "curves" (as above), "points" (as above)}]}
"""

from __future__ import annotations

import argparse
import time

from mecbench.cli import _options as opt
from mecbench.errors import ConfigError
from mecbench.formatting import format_p
from mecbench.tables import table

__all__ = ["register"]

DIMS_HELP = "comma-separated numbers of units (default 8,16,32,...,4096: 10 dimensions)"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "controls", help="score dimension-matched control models (is the score more than "
                         "dimensionality?)",
        description="Score random and idealised control bases over a dimension sweep, fit "
                    "score ~ log(ED) + grid_fraction (OLS, HC3 SEs), and compare each model with "
                    "controls of matched effective dimensionality (paired per-cell Wilcoxon, "
                    "Holm-corrected).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="families: fourier[-bw<m>], bumps[-w<m>], relu, grid[-m<n>-sp<m>-r<x>-g<x>-o<deg>],"
               " untrained-<ARCH>\n"
               "examples:\n  mecbench controls mec-sim.ridge --models rnn-relu-dos --plot c.png\n"
               "  mecbench controls mec-sim.ridge --dims 8,32,128,512 --seeds 2 "
               "--families fourier,grid-m3 --json\n"
               "  mecbench controls --panel --plot panel.png\n"
               "  mecbench controls --panel mec-sim.ridge mec-sim.cka --dims 8,64 --seeds 2")
    parser.add_argument("benchmark", nargs="*", metavar="BENCHMARK",
                        help="benchmark identifier or a path to recordings (one; with --panel "
                             "any number, default the panel's benchmarks)")
    parser.add_argument("--panel", action="store_true",
                        help="dimension-sensitivity panel: sweep the controls on each "
                             "benchmark and print one row per benchmark (slope of score vs "
                             "log ED with CI, best random basis, grid rank, verdict); default "
                             "benchmarks mec-sim.ridge, mec-sim.cka, mec-sim.rsa, "
                             "mec-sim.shape, mec-sim.soft-match, default sweep D 8,32,128,256 "
                             "with 2 seeds")
    parser.add_argument("--ground-truth", action="store_true",
                        help="rank the generating family at matched ED in two simulated "
                             "worlds (grid cells; random smooth features) for ridge and every "
                             "similarity metric (default D 4,16,64,256, 2 seeds; no BENCHMARK)")
    parser.add_argument("--models", nargs="+", default=[], metavar="MODEL[@LAYER]",
                        help="models to place among the controls")
    parser.add_argument("--dims", default=None, metavar="D,D,...", help=DIMS_HELP)
    parser.add_argument("--seeds", type=int, default=None, metavar="K",
                        help="seeds 0..K-1 per family and dimension (default 3; 2 with "
                             "--panel)")
    parser.add_argument("--families", nargs="+", default=None, metavar="FAMILY",
                        help="control families, space- or comma-separated (default fourier "
                             "bumps relu grid)")
    parser.add_argument("--no-shuffle", action="store_true",
                        help="do not score the models' spatially shuffled maps")
    parser.add_argument("--metric", default="raw", choices=("raw", "ceiled"),
                        help="per-cell value of the paired tests (default raw, as `compare`)")
    parser.add_argument("--alpha", type=float, default=0.05,
                        help="significance level (default 0.05)")
    parser.add_argument("--grid-units", type=int, default=512, metavar="N",
                        help="grid scores from at most N units per representation (default 512)")
    parser.add_argument("--plot", default=None, metavar="FILE.png",
                        help="also write the plot of score vs effective dimensionality here")
    parser.add_argument("--save", action="store_true",
                        help="also append the models' leaderboard entries with their "
                             "dimension-matched control score; with --panel, write the "
                             "panel to controls/panel.json and panel.png for the report")
    parser.add_argument("--no-report", action="store_true",
                        help="do not write the analysis and its plot next to the leaderboard "
                             "(by default they are, where `mecbench report` shows them; a "
                             "previous analysis of the benchmark is kept under a dated name)")
    opt.add_board_option(parser)
    opt.add_cache_option(parser)
    opt.add_json_option(parser)
    opt.add_parallel_options(parser)
    opt.add_adhoc_options(parser)
    parser.set_defaults(func=_run)


def _families(values: list[str] | None) -> list[str]:
    from mecbench.controls.sweep import DEFAULT_FAMILIES

    if values is None:
        return list(DEFAULT_FAMILIES)
    out = [f.strip() for v in values for f in v.split(",") if f.strip()]
    if not out:
        raise ConfigError("--families is empty")
    return out


def _run_panel(args) -> int:
    from mecbench.controls import panel

    if args.models:
        raise ConfigError("--panel sweeps control families only: drop --models")
    if args.save and args.no_report:
        raise ConfigError("--panel --save writes the panel for the report: drop --no-report")
    benches = [opt.benchmark_from_args(argparse.Namespace(**{**vars(args), "benchmark": b}))
               for b in args.benchmark] or list(panel.PANEL_BENCHMARKS)
    doc = panel.run_panel(
        benches, families=(list(panel.PANEL_FAMILIES) if args.families is None
                           else _families(args.families)),
        dims=args.dims if args.dims is not None else panel.PANEL_DIMS,
        seeds=args.seeds if args.seeds is not None else panel.PANEL_SEEDS,
        grid_units=args.grid_units, cache=opt.cache_from_args(args),
        jobs=args.jobs if args.backend == "loky" else 1,
        progress=None if args.json else opt.progress_from_args(args))
    if args.plot:
        doc["plot"] = str(panel.save_panel_plot(doc, args.plot))
    if args.save:
        doc["saved"] = panel.save_panel(doc, args.leaderboard_dir)
    if args.json:
        opt.print_json(doc)
        return 0
    print(panel.format_panel(doc))
    if args.save:
        print(f"saved for the report: {doc['saved']['results']} and {doc['saved']['plot']}")
    return 0


def _run_ground_truth(args) -> int:
    from mecbench.controls import worlds

    if args.benchmark or args.models or args.panel or args.save:
        raise ConfigError("--ground-truth builds its own worlds: drop BENCHMARK, --models, "
                          "--panel and --save")
    t0 = time.perf_counter()
    doc = worlds.ground_truth(dims=args.dims if args.dims is not None else (4, 16, 64, 256),
                              seeds=args.seeds if args.seeds is not None else 2,
                              cache=opt.cache_from_args(args))
    doc["seconds"] = time.perf_counter() - t0
    if args.json:
        opt.print_json(doc)
        return 0
    print(worlds.format_ground_truth(doc))
    print(f"time: {doc['seconds']:.1f} s")
    return 0


def _run(args) -> int:
    from mecbench.controls.sweep import DEFAULT_DIMS, ControlsOptions, run_controls

    if args.ground_truth:
        return _run_ground_truth(args)
    if args.panel:
        return _run_panel(args)
    if len(args.benchmark) != 1:
        raise ConfigError(f"mecbench controls takes one BENCHMARK (got {len(args.benchmark)}); "
                          "several only with --panel")
    args.benchmark = args.benchmark[0]
    bench = opt.benchmark_from_args(args)
    options = ControlsOptions(
        models=args.models, families=_families(args.families),
        dims=args.dims if args.dims is not None else DEFAULT_DIMS,
        seeds=args.seeds if args.seeds is not None else 3,
        metric=args.metric, grid_units=args.grid_units, alpha=args.alpha,
        shuffle=not args.no_shuffle,
        # local processes run whole sweep units (family × seed); other backends run the
        # benchmark's own (arena) units
        jobs=args.jobs if args.backend == "loky" else 1)
    result = run_controls(
        bench, options, cache=opt.cache_from_args(args),
        parallel=None if args.backend == "loky" else opt.parallel_from_args(args),
        progress=None if args.json else opt.progress_from_args(args))
    doc = {"schema": 1, "command": "controls", **result.to_dict()}
    if args.plot:
        from mecbench.controls.plot import save_plot

        doc["plot"] = str(save_plot(doc, args.plot))
    if args.save and args.no_report:
        raise ConfigError("--save writes the analysis for the report: drop --no-report")
    if not args.no_report:
        from mecbench.controls.board import save_analysis

        doc["saved"] = {**save_analysis(doc, args.leaderboard_dir), "entries": []}
    if args.save:
        from mecbench.controls.board import save_controls

        doc["saved"] = save_controls(result, doc, args.leaderboard_dir,
                                     command=opt.command_line(), analysis=doc["saved"])
    if args.json:
        opt.print_json(doc)
        return 0
    print(format_text(doc))
    return 0


def _f(x, digits: int = 3) -> str:
    if x is not None and x != x:   # NaN (e.g. the SD of a single seed): shown as missing
        x = None
    return opt.fmt(x, digits)


def format_text(doc: dict) -> str:
    """The human-readable report of a controls analysis."""
    from mecbench.controls.matching import comparison_result
    from mecbench.controls.stats import OlsFit

    lines = [f"controls on {doc['benchmark']} (version {doc['benchmark_version']}): "
             f"{doc['score']} score, {doc['n_cells']} cells; ED and grid fraction on the "
             f"{doc['analysis_arena']} arena; paired tests on per-cell {doc['metric']} scores"]
    rows = []
    for family, curve in doc["curves"].items():
        for r in curve:
            rows.append([family, str(r["dim"]), f"{_f(r['ed_mean'], 1)} ± {_f(r['ed_sd'], 1)}",
                         _f(r["grid_fraction_mean"], 2),
                         f"{_f(r['score_mean'])} ± {_f(r['score_sd'])}",
                         f"[{_f(r['score_min'])}, {_f(r['score_max'])}]", str(r["n_seeds"])])
    if rows:
        lines += ["", table(rows, ["family", "D", "ED (mean ± sd)", "grid frac",
                                       "score (mean ± sd)", "seed range", "seeds"])]
    models = [p for p in doc["points"] if p["kind"] == "model"]
    if models:
        rows = [[p["name"], str(p["dim"]), _f(p["ed"], 1), _f(p["grid_fraction"], 2),
                 _f(p["score"])] for p in models]
        lines += ["", table(rows, ["model", "units", "ED", "grid frac", "score"])]
    if doc.get("ols"):
        fit = OlsFit.from_dict(doc["ols"])
        lines += ["", fit.format(), fit.grid_sentence()]
    for m in doc["models"]:
        lines += ["", f"{m['model']}: dimension-matched controls"]
        rows = []
        for c in m["comparisons"]:
            if not c["in_range"]:
                rows.append([c["family"], "–", "–", "–", "–", "–", f"out of range: {c['reason']}"])
                continue
            rows.append([c["family"], str(c["dim"]), _f(c["ed"], 1), _f(c["control_score"]),
                         f"{_f(c['delta'])} {opt.fmt_ci(c['ci'])}", format_p(c["p_holm"]),
                         comparison_result(c)])
        lines.append(table(rows, ["control", "D", "ED", "score", "Δ median [95% CI]",
                                      "p_holm", "result"]))
        lines.append(m["verdict"])
    if doc.get("notes"):
        lines += [""] + [f"note: {n}" for n in doc["notes"]]
    if doc.get("plot"):
        lines.append(f"plot: {doc['plot']}")
    if doc.get("saved"):
        saved = doc["saved"]
        lines.append(f"saved for the report: {saved['results']} and {saved['plot']}")
        if saved.get("previous"):
            lines.append(f"the previous analysis is kept as {saved['previous']}")
        if saved.get("entries"):
            lines.append(f"leaderboard entries: {', '.join(saved['entries'])}")
    lines.append(f"time: {doc['seconds']:.1f} s")
    return "\n".join(lines)
