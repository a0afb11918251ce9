"""``mecbench datasets``: list the registered datasets with a one-line description."""

from __future__ import annotations

from importlib.metadata import entry_points

from mecbench import registry
from mecbench.cli import _options as opt
from mecbench.cli._source import docstring_summary
from mecbench.tables import table

__all__ = ["register", "list_datasets"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "datasets", help="list datasets",
        description="List the registered datasets (entry points of the group "
                    "mecbench.datasets) with a one-line description.")
    opt.add_json_option(parser)
    parser.set_defaults(func=_run)


def list_datasets() -> list[dict]:
    """Every registered dataset name with the first line of its loader's docstring.

    The docstring of an installed loader is read from its module's source without running
    the module (dataset modules import xarray and numerics); a loader that is not a plain
    top-level function or class there is imported to be described.
    """
    installed = {ep.name: ep for ep in entry_points(group=registry.KINDS["dataset"])}
    rows = []
    for name in registry.names("dataset"):
        try:
            description = (docstring_summary(installed[name].value) if name in installed
                           else None)
            if description is None:
                description = registry.describe("dataset", name)
        except Exception as err:  # a broken plugin must not break the listing
            description = f"(failed to load: {type(err).__name__}: {err})"
        rows.append({"name": name, "description": description})
    return rows


def _run(args) -> int:
    rows = list_datasets()
    if args.json:
        opt.print_json({"schema": opt.JSON_SCHEMA_VERSION, "command": "datasets",
                        "datasets": rows})
        return 0
    if not rows:
        print("no dataset registered")
        return 0
    print(table([[r["name"], r["description"]] for r in rows], ["dataset", "description"]))
    return 0
