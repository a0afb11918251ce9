"""``mecbench benchmarks``: list the registered benchmarks with a one-line description."""

from __future__ import annotations

from mecbench import registry
from mecbench.cli import _options as opt
from mecbench.tables import table

__all__ = ["register", "list_benchmarks"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "benchmarks", help="list benchmarks",
        description="List the registered benchmarks (identifier <dataset>.<mapping>[-<splits>], "
                    "version, description). Any command that takes a benchmark also accepts a "
                    "path to recordings with --mapping/--splits/--ceiling.")
    opt.add_json_option(parser)
    parser.set_defaults(func=_run)


def list_benchmarks() -> list[dict]:
    """Every registered benchmark: name, version and description (no data is loaded).

    A plugin that fails to load is listed with ``version`` None and the error as description.
    """
    from mecbench.benchmarks import Benchmark

    rows = []
    for name in registry.names("benchmark"):
        try:
            bench = registry.load("benchmark", name)
            if not isinstance(bench, Benchmark):
                raise TypeError(f"returned {type(bench).__name__}")
            rows.append({"name": name, "version": bench.version,
                         "description": bench.description or registry.describe("benchmark",
                                                                               name)})
        except Exception as err:  # one broken third-party plugin must not break the listing
            rows.append({"name": name, "version": None,
                         "description": f"(failed to load: {type(err).__name__}: {err})"})
    return rows


def _run(args) -> int:
    rows = list_benchmarks()
    if args.json:
        opt.print_json({"schema": opt.JSON_SCHEMA_VERSION, "command": "benchmarks",
                        "benchmarks": rows})
        return 0
    print(table([[r["name"], str(r["version"]), r["description"]] for r in rows],
                    ["benchmark", "version", "description"]))
    return 0
