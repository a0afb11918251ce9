"""``mecbench datasets``: list the registered datasets with a one-line description."""

from __future__ import annotations

from mecbench.cli import _options as opt

__all__ = ["register", "list_datasets"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "datasets", help="list datasets",
        description="List the registered datasets (entry points of the group "
                    "mecbench.datasets) with a one-line description.")
    opt.add_json_option(parser)
    parser.set_defaults(func=_run)


def list_datasets() -> list[dict]:
    """Every registered dataset name with the first line of its loader's docstring."""
    from mecbench import registry

    rows = []
    for name in registry.names("dataset"):
        try:
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
    print(opt.table([[r["name"], r["description"]] for r in rows], ["dataset", "description"]))
    return 0
