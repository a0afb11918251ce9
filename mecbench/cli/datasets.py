"""``mecbench datasets``: list the registered datasets with a one-line description."""

from __future__ import annotations

import ast
import importlib.util
import sys
from importlib.metadata import entry_points
from pathlib import Path

from mecbench import registry
from mecbench.cli import _options as opt
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
            description = (_source_summary(installed[name].value) if name in installed
                           else None)
            if description is None:
                description = registry.describe("dataset", name)
        except Exception as err:  # a broken plugin must not break the listing
            description = f"(failed to load: {type(err).__name__}: {err})"
        rows.append({"name": name, "description": description})
    return rows


def _source_summary(target: str) -> str | None:
    """First line of the docstring of the function or class an entry point names
    (``"package.module:name"``), read from the module's source file without executing it.

    None when the module has no Python source or does not define ``name`` by a top-level
    ``def`` or ``class`` that nothing after it rebinds.
    """
    module, _, attr = (part.strip() for part in target.partition(":"))
    if not attr.isidentifier() or module in sys.modules:
        return None  # an attribute path, or a module that is already loaded: ask it
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    try:
        tree = ast.parse(Path(spec.origin).read_bytes(), filename=spec.origin)
    except (OSError, SyntaxError, ValueError):
        return None
    found = None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name == attr:
                found = node
        elif any(isinstance(n, ast.Name) and n.id == attr and isinstance(n.ctx, ast.Store)
                 for n in ast.walk(node)) or (
                isinstance(node, (ast.Import, ast.ImportFrom))
                and any((a.asname or a.name.split(".")[0]) == attr for a in node.names)):
            found = None  # rebound at module level: only running the module says what it is
    if found is None:
        return None
    doc = (ast.get_docstring(found) or "").strip()
    return doc.splitlines()[0] if doc else ""


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
