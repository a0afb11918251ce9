"""``mecbench compare MODEL... --benchmark B``: paired per-cell tests between leaderboard
entries (Wilcoxon signed-rank, bootstrap CI of the median difference, Holm correction)."""

from __future__ import annotations

from mecbench.cli import _options as opt
from mecbench.cli.leaderboard import _unknown_board
from mecbench.errors import ConfigError, DataError

__all__ = ["register", "entry_cells"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare", help="statistical comparison of models on one benchmark",
        description="Compare leaderboard entries cell by cell: for every pair, the median "
                    "difference of per-cell scores with a seeded bootstrap 95 % CI, a Wilcoxon "
                    "signed-rank test, and Holm's correction across all pairs. MODEL is a model "
                    "identifier, MODEL@LAYER, or an entry id.")
    parser.add_argument("models", nargs="+", metavar="MODEL",
                        help="two or more models (MODEL, MODEL@LAYER or an entry id)")
    parser.add_argument("--benchmark", "-b", required=True, help="benchmark identifier")
    parser.add_argument("--metric", default="raw", choices=("raw", "ceiled"),
                        help="per-cell value compared: raw (mean over splits of r; default) or "
                             "ceiled (raw / ceiling, cells with a low ceiling dropped)")
    parser.add_argument("--alpha", type=float, default=0.05,
                        help="family-wise error rate (default 0.05)")
    parser.add_argument("--n-boot", type=int, default=10_000,
                        help="bootstrap resamples (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    opt.add_board_option(parser)
    opt.add_json_option(parser)
    parser.set_defaults(func=_run)


def entry_cells(entry: dict, metric: str = "raw"):
    """(cell ids, per-cell values) of a leaderboard entry, from its score file."""
    from mecbench import leaderboard as lb

    path = lb.entry_score_path(entry)
    if path is None:
        raise DataError(f"entry {entry['id']} ({entry['model']}@{entry['layer']}) has no "
                        "per-cell score file; re-run `mecbench score ... --save`")
    score = lb.load_board_score(path)
    if metric not in score:
        raise DataError(f"{path}: no per-cell {metric!r} scores (no ceiling?)")
    return score["neuroid_id"].values.astype(str), score[metric].values


def _run(args) -> int:
    from mecbench import leaderboard as lb
    from mecbench.compare import compare_cells

    if len(args.models) < 2:
        raise ConfigError("compare needs at least two models")
    if len(set(args.models)) != len(args.models):
        raise ConfigError(f"a model is named twice: {args.models}")
    board = lb.load_boards(lb.read_dirs(args.leaderboard_dir), args.benchmark)
    if not board.entries:
        _unknown_board(args.benchmark, lb.read_dirs(args.leaderboard_dir))
        raise ConfigError(f"the leaderboard of {args.benchmark} has no entry to compare")
    entries = [lb.select_entry(board, spec) for spec in args.models]
    labels = [f"{e['model']}@{e['layer']}" for e in entries]
    if len(set(labels)) != len(labels):
        labels = [f"{e['model']}@{e['layer']}[{e['id']}]" for e in entries]
    why = lb.entries_on_same_data(entries)
    if why is not None:
        raise ConfigError(f"{why}; re-score them to compare")
    scores = {label: entry_cells(e, args.metric) for label, e in zip(labels, entries,
                                                                      strict=True)}
    results = compare_cells(scores, alpha=args.alpha, n_boot=args.n_boot, seed=args.seed)
    if args.json:
        opt.print_json({"schema": opt.JSON_SCHEMA_VERSION, "command": "compare",
                        "benchmark": args.benchmark, "metric": args.metric,
                        "alpha": args.alpha, "n_boot": args.n_boot, "seed": args.seed,
                        "entries": [{"label": lab, "id": e["id"], "model": e["model"],
                                     "layer": e["layer"], "ceiled": e["ceiled"],
                                     "raw": e["raw"]} for lab, e in zip(labels, entries,
                                                                        strict=True)],
                        "pairs": [r.to_dict() for r in results]})
        return 0
    note = lb.backend_note(entries)
    if note is not None:
        print(note)
    print(f"{args.benchmark}: paired per-cell {args.metric} scores; Wilcoxon signed-rank, "
          f"Holm-corrected over {len(results)} pair(s), 95% bootstrap CI of the median "
          "difference")
    for r in results:
        print(r.verdict)
    return 0
