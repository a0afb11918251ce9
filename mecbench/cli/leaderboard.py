"""``mecbench leaderboard show|verify``: read a benchmark's leaderboard, or re-run its entries."""

from __future__ import annotations

import sys
import tempfile

from mecbench.cli import _options as opt
from mecbench.errors import ConfigError, UnknownIdentifierError
from mecbench.tables import table

__all__ = ["register"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "leaderboard", help="show or verify leaderboards",
        description="Leaderboards are JSON-Lines files, one per benchmark "
                    "(schema: mecbench/leaderboard.py). Damaged lines are reported with their "
                    "line number; the other entries still load.")
    sub = parser.add_subparsers(dest="leaderboard_command", metavar="SUBCOMMAND")
    sub.required = True

    show = sub.add_parser("show", help="entries of one benchmark, best first",
                          description="Print the entries of a benchmark's leaderboard, sorted "
                                      "by ceiled score (raw when there is no ceiling).")
    show.add_argument("benchmark", help="benchmark identifier")
    show.add_argument("--all", action="store_true",
                      help="every entry (default: the newest of each model and layer at the "
                           "current benchmark version)")
    opt.add_board_option(show)
    opt.add_json_option(show)
    show.set_defaults(func=_show)

    verify = sub.add_parser(
        "verify", help="re-run entries and report those that do not reproduce",
        description="Re-run every entry (fresh computation in a temporary cache) and compare "
                    "raw, ceiling, ceiled and the per-cell scores with the stored ones. Each "
                    "entry is 'ok' (re-computed, equal within the tolerance), 'mismatch' "
                    "(re-computed, different), 'stale' (not re-computed: the data, benchmark "
                    "version or model changed) or 'error'. Entries scored on another machine "
                    "verify here when their data identity matches. Exit code 1 when any entry "
                    "is not 'ok'.")
    verify.add_argument("benchmark", nargs="?", default=None,
                        help="benchmark identifier (default: every board)")
    verify.add_argument("--model", action="append", default=None, metavar="MODEL",
                        help="only entries of this model (repeatable)")
    verify.add_argument("--tolerance", type=float, default=1e-6,
                        help="largest accepted absolute difference (default 1e-6)")
    verify.add_argument("--latest", action="store_true",
                        help="only the newest entry of each model and layer")
    verify.add_argument("--entry", action="append", default=None, metavar="ID",
                        help="only the entry with this id (repeatable)")
    opt.add_board_option(verify)
    opt.add_json_option(verify)
    opt.add_parallel_options(verify)
    verify.set_defaults(func=_verify)


def _report_problems(board) -> None:
    for problem in board.problems:
        print(f"mecbench: warning: {problem}", file=sys.stderr)


def _sort_key(entry: dict):
    value = entry["ceiled"] if entry["ceiled"] is not None else entry["raw"]
    return (value is None, -(value or 0.0))


def _show(args) -> int:
    from mecbench import leaderboard as lb

    dirs = lb.read_dirs(args.leaderboard_dir)
    board = lb.load_boards(dirs, args.benchmark)
    _report_problems(board)
    if not board.entries and not board.problems:
        _unknown_board(args.benchmark, dirs)
    entries = sorted(board.entries if args.all else board.latest(), key=_sort_key)
    if args.json:
        opt.print_json({"schema": opt.JSON_SCHEMA_VERSION, "command": "leaderboard show",
                        "benchmark": args.benchmark, "directories": [str(d) for d in dirs],
                        "entries": entries,
                        "problems": [{"path": p.path, "line": p.line, "message": p.message}
                                     for p in board.problems]})
        return 0
    print(f"leaderboard of {args.benchmark} ({len(entries)} entries; "
          f"{', '.join(str(d) for d in dirs)})")
    rows = [[str(i + 1), lb.model_label(e), e["layer"],
             opt.fmt(e["ceiled"]) + (" (unreliable)" if e.get("ceiling_reliable") is False
                                     else ""), opt.fmt_ci(e["ci"]),
             opt.fmt(e["raw"]), opt.fmt(e["ceiling"]), f"{e['n_cells']}/{e['n_cells_total']}",
             f"v{e['benchmark_version']}", e["date"][:10], e["id"]]
            for i, e in enumerate(entries)]
    header = ["#", "model", "layer", "ceiled", "95% CI", "raw", "ceiling", "cells", "version",
              "date", "id"]
    if any("control_family" in e for e in entries):  # columns of `mecbench controls --save`
        for row, e in zip(rows, entries, strict=True):
            row[8:8] = [e.get("control_family") or "–", opt.fmt(e.get("control_score")),
                        opt.fmt(e.get("control_delta"))]
        header[8:8] = ["matched control", "control", "Δ vs control"]
    print(table(rows, header))
    return 0


def _unknown_board(benchmark: str, dirs) -> None:
    from mecbench import leaderboard as lb
    from mecbench.benchmarks import benchmark_names

    known = set(lb.board_names(dirs))
    if benchmark not in set(benchmark_names()) | known:
        raise UnknownIdentifierError("benchmark", benchmark, set(benchmark_names()) | known)


def _verify(args) -> int:
    from mecbench import leaderboard as lb
    from mecbench.cache import Cache
    from mecbench.verify import verify_entry

    if args.tolerance < 0:
        raise ConfigError(f"--tolerance must be >= 0, got {args.tolerance}")
    dirs = lb.read_dirs(args.leaderboard_dir)
    names = [args.benchmark] if args.benchmark else lb.board_names(dirs)
    if args.benchmark:
        _unknown_board(args.benchmark, dirs)
    parallel = opt.parallel_from_args(args)
    results, problems = [], []
    benchmarks: dict = {}
    with tempfile.TemporaryDirectory(prefix="mecbench-verify-") as tmp:
        cache = Cache(tmp)  # fresh: nothing computed before this run can be reused
        for name in names:
            board = lb.load_boards(dirs, name)
            _report_problems(board)
            problems += board.problems
            entries = board.latest() if args.latest else board.entries
            if args.model:
                entries = [e for e in entries if e["model"] in args.model]
            if args.entry:
                entries = [e for e in entries if e["id"] in args.entry]
            for entry in entries:
                res = verify_entry(entry, tolerance=args.tolerance, cache=cache,
                                   parallel=parallel, benchmarks=benchmarks)
                results.append(res)
                if not args.json:
                    print(f"{res['status']:8s} {name} {res['model']}@{res['layer']} "
                          f"[{res['id']}]: {res['message']}", flush=True)
    failed = [r for r in results if r["status"] != "ok"]
    if args.json:
        opt.print_json({"schema": opt.JSON_SCHEMA_VERSION, "command": "leaderboard verify",
                        "tolerance": args.tolerance, "results": results,
                        "n_ok": len(results) - len(failed), "n_failed": len(failed),
                        "problems": [{"path": p.path, "line": p.line, "message": p.message}
                                     for p in problems]})
    else:
        print(f"{len(results) - len(failed)} of {len(results)} entries reproduce within "
              f"{args.tolerance:g}" + (f"; {len(problems)} unreadable line(s)" if problems
                                       else ""))
    return 1 if failed or problems else 0
