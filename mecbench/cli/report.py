"""``mecbench report --benchmark B -o FILE.html [--title TEXT] [--show-paths]``: a static HTML
report of a leaderboard, naming the boards it read by role (paths only with --show-paths)."""

from __future__ import annotations

from mecbench.cli import _options as opt
from mecbench.cli.leaderboard import _unknown_board
from mecbench.errors import ConfigError

__all__ = ["register"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "report", help="write a static HTML report of a leaderboard",
        description="Write one self-contained HTML file (figures embedded, no server): the "
                    "leaderboard table (with each entry's dimension-matched control where "
                    "`mecbench controls --save` added one), per-model score distributions, "
                    "score vs layer, the saved controls analysis (score vs effective "
                    "dimensionality) if any, and a rate-map gallery of the recorded cells "
                    "each top model predicts best.")
    parser.add_argument("--benchmark", "-b", required=True, help="benchmark identifier")
    parser.add_argument("-o", "--output", required=True, metavar="FILE.html",
                        help="output file (written atomically)")
    parser.add_argument("--gallery-models", type=int, default=3, metavar="N",
                        help="models in the rate-map gallery (0: no gallery; default 3)")
    parser.add_argument("--gallery-cells", type=int, default=4, metavar="N",
                        help="cells per model in the gallery (default 4)")
    parser.add_argument("--metric", default=None, choices=("ceiled", "raw"),
                        help="score shown in figures (default ceiled when available)")
    parser.add_argument("--title", default=None, metavar="TEXT",
                        help="title of the page (default: mecbench report: BENCHMARK)")
    parser.add_argument("--show-paths", action="store_true",
                        help="name the boards and files read with their local paths (by "
                             "default they are named by role: the shipped reference board, "
                             "your board, a directory you passed)")
    opt.add_board_option(parser)
    opt.add_cache_option(parser)
    opt.add_json_option(parser)
    parser.set_defaults(func=_run)


def _run(args) -> int:
    from mecbench import leaderboard as lb
    from mecbench.report import write_report

    if args.gallery_models < 0 or args.gallery_cells < 0:
        raise ConfigError("--gallery-models and --gallery-cells must be >= 0")
    if not str(args.output).endswith((".html", ".htm")):
        raise ConfigError(f"-o {args.output}: the report is HTML; name it FILE.html")
    dirs = lb.read_dirs(args.leaderboard_dir)
    _unknown_board(args.benchmark, dirs)
    path = write_report(args.benchmark, args.output, directories=dirs,
                        options={"gallery_models": args.gallery_models,
                                 "gallery_cells": args.gallery_cells, "metric": args.metric},
                        cache=opt.cache_from_args(args), title=args.title,
                        show_paths=args.show_paths, passed=bool(args.leaderboard_dir))
    if args.json:
        opt.print_json({"schema": opt.JSON_SCHEMA_VERSION, "command": "report",
                        "benchmark": args.benchmark, "output": str(path.resolve())})
    else:
        print(f"wrote {path}")
    return 0
