"""Reading what a plugin module declares from its source, without running it: listing
commands describe installed entry points this way, so that they start without the libraries
the modules import (xarray, numpy, torch)."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from typing import Any

__all__ = ["docstring_summary", "module_literal"]


def _package_locations(package: str) -> list[Path]:
    """The directories of ``package``: from the imported package, else looked up in its
    parent's directories, else from :func:`importlib.util.find_spec` (which imports only the
    packages above it, by then found the same way or already imported)."""
    loaded = sys.modules.get(package)
    if loaded is not None:
        return [Path(p) for p in getattr(loaded, "__path__", None) or []]
    parent, _, leaf = package.rpartition(".")
    if parent:
        found = [loc / leaf for loc in _package_locations(parent)
                 if (loc / leaf / "__init__.py").is_file()]
        if found:
            return found
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return []
    return [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []


def _source_file(module: str) -> Path | None:
    """The ``.py`` file of ``module``, located without running the ``__init__`` of packages
    above it that can be found on disk (``find_spec`` of a submodule would import them)."""
    parent, _, leaf = module.rpartition(".")
    if parent:
        for loc in _package_locations(parent):
            for candidate in (loc / f"{leaf}.py", loc / leaf / "__init__.py"):
                if candidate.is_file():
                    return candidate
        return None
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    origin = spec.origin if spec else None
    return Path(origin) if origin and origin.endswith(".py") else None


def _module_tree(module: str) -> ast.Module | None:
    """The parsed source of ``module`` (found, not imported); None without Python source."""
    path = _source_file(module)
    if path is None:
        return None
    try:
        return ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return None


def docstring_summary(target: str) -> str | None:
    """First line of the docstring of the function or class an entry point names
    (``"package.module:name"``), read from the module's source file without executing it.

    None when the module has no Python source or does not define ``name`` by a top-level
    ``def`` or ``class`` that nothing after it rebinds.
    """
    module, _, attr = (part.strip() for part in target.partition(":"))
    if not attr.isidentifier() or module in sys.modules:
        return None  # an attribute path, or a module that is already loaded: ask it
    tree = _module_tree(module)
    if tree is None:
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


def module_literal(module: str, name: str) -> Any | None:
    """The value of a top-level ``name = <literal>`` (or annotated) assignment in ``module``'s
    source, evaluated with :func:`ast.literal_eval` without running the module.

    None when the module is already imported (ask it), has no Python source, or binds
    ``name`` other than by exactly one literal assignment.
    """
    if module in sys.modules:
        return None
    tree = _module_tree(module)
    if tree is None:
        return None
    values = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] \
                == [name]:
            values.append(node.value)
        elif isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == name \
                and node.value is not None:
            values.append(node.value)
        elif any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store)
                 for n in ast.walk(node)):
            return None
    if len(values) != 1:
        return None
    try:
        return ast.literal_eval(values[0])
    except ValueError:
        return None
