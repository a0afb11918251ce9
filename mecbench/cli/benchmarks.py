"""``mecbench benchmarks``: list the registered benchmarks with a one-line description."""

from __future__ import annotations

from importlib.metadata import entry_points

from mecbench import registry
from mecbench.cli import _options as opt
from mecbench.cli._source import docstring_summary, module_literal
from mecbench.tables import table

__all__ = ["register", "list_benchmarks"]

BUILTIN_MODULE = "mecbench.benchmarks.builtin"


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

    The built-in benchmarks are described from the source of
    :mod:`mecbench.benchmarks.builtin` (their factories' docstrings and its ``VERSIONS``)
    without importing it; any other benchmark is built to be described. A plugin that fails
    to load is listed with ``version`` None and the error as description.
    """
    installed = {ep.name: ep.value for ep in entry_points(group=registry.KINDS["benchmark"])}
    versions = module_literal(BUILTIN_MODULE, "VERSIONS") or {}
    rows = []
    for name in registry.names("benchmark"):
        target = installed.get(name, "")
        summary = (docstring_summary(target)
                   if target.startswith(f"{BUILTIN_MODULE}:") and name in versions else None)
        rows.append({"name": name, "version": versions[name], "description": summary}
                    if summary else _loaded_row(name))
    return rows


def _loaded_row(name: str) -> dict:
    """The listing row of benchmark ``name``, built to be described."""
    from mecbench.benchmarks import Benchmark

    try:
        bench = registry.load("benchmark", name)
        if not isinstance(bench, Benchmark):
            raise TypeError(f"returned {type(bench).__name__}")
        return {"name": name, "version": bench.version,
                "description": bench.description or registry.describe("benchmark", name)}
    except Exception as err:  # one broken third-party plugin must not break the listing
        return {"name": name, "version": None,
                "description": f"(failed to load: {type(err).__name__}: {err})"}


def _run(args) -> int:
    rows = list_benchmarks()
    if args.json:
        opt.print_json({"schema": opt.JSON_SCHEMA_VERSION, "command": "benchmarks",
                        "benchmarks": rows})
        return 0
    print(table([[r["name"], str(r["version"]), r["description"]] for r in rows],
                    ["benchmark", "version", "description"]))
    return 0
