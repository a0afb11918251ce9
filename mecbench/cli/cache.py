"""``mecbench cache info|clear``: inspect or empty the result cache."""

from __future__ import annotations

from mecbench.cli import _options as opt
from mecbench.tables import table

__all__ = ["register"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "cache", help="inspect or clear the result cache",
        description="The cache holds model rate maps, ceilings and scores under "
                    "$MECBENCH_CACHE_DIR (default ~/.cache/mecbench), keyed by everything that "
                    "determines them; stale entries are never returned, so clearing is only "
                    "needed to free disk space.")
    sub = parser.add_subparsers(dest="cache_command", metavar="SUBCOMMAND")
    sub.required = True
    info = sub.add_parser("info", help="entries and size per kind")
    opt.add_json_option(info)
    info.set_defaults(func=_info)
    clear = sub.add_parser("clear", help="delete cached entries")
    clear.add_argument("--kind", default=None, choices=("ratemaps", "ceiling", "score"),
                       help="delete only this kind (default: everything)")
    opt.add_json_option(clear)
    clear.set_defaults(func=_clear)


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


def _info(args) -> int:
    from mecbench.cache import Cache

    info = Cache().info()
    if args.json:
        opt.print_json({"schema": opt.JSON_SCHEMA_VERSION, "command": "cache info", **info})
        return 0
    print(f"cache directory: {info['path']}")
    rows = [[kind, str(v["entries"]), _size(v["bytes"])] for kind, v in info["kinds"].items()]
    rows.append(["total", str(info["entries"]), _size(info["bytes"])])
    print(table(rows, ["kind", "entries", "size"]))
    return 0


def _clear(args) -> int:
    from mecbench.cache import Cache

    cache = Cache()
    removed = cache.clear(args.kind)
    if args.json:
        opt.print_json({"schema": opt.JSON_SCHEMA_VERSION, "command": "cache clear",
                        "path": str(cache.root), "kind": args.kind, "removed": removed})
        return 0
    print(f"removed {removed} {'entry' if removed == 1 else 'entries'} from {cache.root}")
    return 0
