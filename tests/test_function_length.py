"""No function of the shipped package is over 100 lines (``docs/architecture.md``): long
functions are split into named steps. Checked on the source with :mod:`ast` (nothing is
imported) over ``mecbench/`` and the plugin packages ``models/`` and ``datasets/``."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("mecbench", "models", "datasets")
MAX_LINES = 100


def _long_functions(path: Path, limit: int, root: Path = ROOT) -> list[str]:
    """``"path:line name (N lines)"`` (path relative to ``root``) for every function or
    method of ``path`` longer than ``limit`` lines, from ``def`` (decorators excluded) to its
    last line."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines = node.end_lineno - node.lineno + 1
            if lines > limit:
                rel = path.relative_to(root).as_posix()
                found.append(f"{rel}:{node.lineno} {node.name} ({lines} lines)")
    return found


def _sources() -> list[Path]:
    return sorted(p for package in PACKAGES if (ROOT / package).is_dir()
                  for p in (ROOT / package).rglob("*.py"))


def test_the_packages_are_found():
    names = {p.relative_to(ROOT).parts[0] for p in _sources()}
    assert names == set(PACKAGES)


def test_no_function_is_over_the_limit():
    offenders = [f for path in _sources() for f in _long_functions(path, MAX_LINES)]
    assert offenders == []


def test_the_check_sees_a_long_method(tmp_path):
    body = "".join(f"        x{i} = {i}\n" for i in range(MAX_LINES))
    source = tmp_path / "long.py"
    source.write_text(f"class A:\n    def method(self):\n{body}")
    assert _long_functions(source, MAX_LINES, tmp_path) == \
        [f"long.py:2 method ({MAX_LINES + 1} lines)"]
    assert _long_functions(source, MAX_LINES + 1, tmp_path) == []
