"""The layers contract of ``docs/architecture.md``, checked on the import graph of ``mecbench``.

Every module of ``mecbench/`` is parsed with :mod:`ast` (nothing is imported); every import,
at module level or inside a function, becomes an edge. The contract:

1. every module belongs to exactly one layer of :data:`LAYERS`;
2. an import points down: to the importer's own unit (package or module), to another unit of
   the same layer, or to a lower layer — never up;
3. the units of one layer do not import each other in a cycle;
4. an import inside a function is of a heavy optional library (:data:`HEAVY`), of an internal
   module that imports one at module level (deferring it is the point), or sits in the command
   line (``mecbench.cli``), whose commands import the library and its non-standard
   dependencies only when they run so that ``mecbench models`` starts in a blink (but not
   what starting it loads anyway: the facade's and the command modules' own imports).
   Everything else, the standard library included, is imported at module level.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mecbench"

#: Top to bottom; each layer is a list of units (a package or a module, by dotted name).
#: Keep in step with docs/architecture.md.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("entry points", ("mecbench", "mecbench.__main__", "mecbench.models",
                      "mecbench.datasets")),
    ("cli", ("mecbench.cli",)),
    ("report", ("mecbench.report",)),
    ("controls", ("mecbench.controls",)),
    ("results", ("mecbench.leaderboard", "mecbench.verify", "mecbench.run",
                 "mecbench.compare")),
    ("benchmarks", ("mecbench.benchmarks",)),
    ("scoring", ("mecbench.score", "mecbench.predictivity", "mecbench.ceiling",
                 "mecbench.compat", "mecbench.similarity")),
    ("training", ("mecbench.training",)),
    ("nets", ("mecbench.nets",)),
    ("models", ("mecbench.registry", "mecbench.providers")),
    ("mapping", ("mecbench.mapping", "mecbench.metrics", "mecbench.analysis",
                 "mecbench.splits")),
    ("data", ("mecbench.loaders", "mecbench.binning", "mecbench.cache",
              "mecbench.neural_data", "mecbench.ratemaps", "mecbench.trajectories",
              "mecbench.identity")),
    ("utilities", ("mecbench.errors", "mecbench.paths", "mecbench.jsonsafe",
                   "mecbench.parallel", "mecbench.tables", "mecbench.htmlkit",
                   "mecbench._version", "mecbench.formatting",
                   "mecbench.netcdf_attrs", "mecbench.keyvalue")),
]

#: Heavy optional libraries: imported inside the functions that need them (start-up time of
#: the command line, and installs without the extra). See docs/architecture.md.
HEAVY = ("torch", "safetensors", "matplotlib", "statsmodels", "pandas", "sklearn", "scipy",
         "dask", "distributed", "joblib", "pynwb", "h5py", "netCDF4", "tqdm")

#: Deferred imports still to move to module level, as (importer, target); each must still
#: exist (a fixed one is deleted here). Empty is the goal.
PENDING: set[tuple[str, str]] = set()

#: Units whose functions may import lower layers and third-party libraries (numpy, xarray...):
#: the command line, so that listing commands start without them.
DEFERRING_UNITS = ("mecbench.cli",)


@dataclass(frozen=True)
class Import:
    """One import statement's target, as seen in the importer's source."""

    importer: str
    target: str
    path: str
    line: int
    in_function: bool


def module_sources(root: Path = PACKAGE) -> dict[str, tuple[str, str]]:
    """``{dotted module name: (file path, source)}`` for every ``.py`` file under ``root``."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = (str(path.relative_to(root.parent)), path.read_text())
    return out


def _imports(module: str, path: str, source: str, modules: set[str]) -> Iterator[Import]:
    is_package = path.endswith("__init__.py")
    tree = ast.parse(source, filename=path)
    parents: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node

    def in_function(node: ast.AST) -> bool:
        while node in parents:
            node = parents[node]
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                return True
        return False

    def under_type_checking(node: ast.AST) -> bool:
        while node in parents:
            node = parents[node]
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                return True
        return False

    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)) or under_type_checking(node):
            continue
        deferred = in_function(node)
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, path, node.lineno, deferred)
            continue
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[:len(base) - node.level + 1]
            origin = ".".join(base + ([node.module] if node.module else []))
        else:
            origin = node.module or ""
        for alias in node.names:
            sub = f"{origin}.{alias.name}"
            yield Import(module, sub if sub in modules else origin, path, node.lineno, deferred)


def layer_of(module: str) -> tuple[int, str] | None:
    """(layer index, unit) of a dotted module name: the longest unit that contains it."""
    best = None
    for index, (_, units) in enumerate(LAYERS):
        for unit in units:
            if (module == unit or module.startswith(unit + ".")) and unit != "mecbench":
                if best is None or len(unit) > len(best[1]):
                    best = (index, unit)
    if best is None and module == "mecbench":
        return 0, "mecbench"
    return best


def _in_units(module: str, units: tuple[str, ...]) -> bool:
    return any(module == u or module.startswith(u + ".") for u in units)


def check(sources: Mapping[str, tuple[str, str]],
          pending: set[tuple[str, str]] = frozenset()) -> list[str]:
    """Every breach of the contract in ``sources`` (see :func:`module_sources`), as text;
    deferred imports listed in ``pending`` are let through."""
    modules = set(sources)
    problems: list[str] = []
    edges = [imp for name, (path, text) in sources.items()
             for imp in _imports(name, path, text, modules)]
    for name in sorted(modules):
        if layer_of(name) is None:
            problems.append(f"{sources[name][0]}: module {name} belongs to no layer "
                            "(add it to LAYERS here and to docs/architecture.md)")
    # modules that import a heavy library at module level, directly or through our modules
    heavy = {e.importer for e in edges
             if not e.in_function and e.target.split(".")[0] in HEAVY}
    grew = True
    while grew:
        more = {e.importer for e in edges if not e.in_function and e.target in heavy}
        grew = not more <= heavy
        heavy |= more
    # what starting the command line loads: the facade and every command module, at module level
    startup = {m for m in modules if m == "mecbench" or _in_units(m, DEFERRING_UNITS)}
    grew = True
    while grew:
        more = {e.target for e in edges if not e.in_function and e.importer in startup}
        grew = not more <= startup
        startup |= more
    unit_edges: dict[str, set[str]] = {}
    for e in edges:
        where = f"{e.path}:{e.line}"
        internal = e.target == "mecbench" or e.target.startswith("mecbench.")
        if e.in_function and (e.importer, e.target) in pending:
            continue
        if not internal:
            deferring = _in_units(e.importer, DEFERRING_UNITS)
            top = e.target.split(".")[0]
            if e.in_function and top not in HEAVY and (
                    not deferring or top in sys.stdlib_module_names):
                problems.append(f"{where}: `import {e.target}` inside a function; only the "
                                f"heavy optional libraries {', '.join(HEAVY)} may be")
            continue
        src, dst = layer_of(e.importer), layer_of(e.target)
        if src is None or dst is None:
            if dst is None:
                problems.append(f"{where}: {e.target} belongs to no layer")
            continue
        if dst[0] < src[0]:
            problems.append(f"{where}: upward import {e.importer} -> {e.target} "
                            f"(layer {LAYERS[src[0]][0]!r} -> {LAYERS[dst[0]][0]!r})")
        elif src[1] != dst[1]:
            unit_edges.setdefault(src[1], set()).add(dst[1])
        if e.in_function and e.target not in heavy and (
                not _in_units(e.importer, DEFERRING_UNITS) or e.target in startup):
            problems.append(f"{where}: `import {e.target}` inside a function of "
                            f"{e.importer}; import it at module level (it imports no heavy "
                            "library, or the command line has loaded it already)")
    problems += [f"import cycle between units: {' -> '.join(c)}" for c in _cycles(unit_edges)]
    return list(dict.fromkeys(problems))  # one line per statement, not per imported name


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                out.append(sorted(component) + [sorted(component)[0]])

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def test_mecbench_keeps_its_layers():
    problems = check(module_sources(), PENDING)
    assert not problems, "\n".join(problems)


def test_pending_deferred_imports_still_exist():
    sources = module_sources()
    deferred = {(e.importer, e.target) for name, (path, text) in sources.items()
                for e in _imports(name, path, text, set(sources)) if e.in_function}
    assert PENDING <= deferred, f"fixed, delete from PENDING: {sorted(PENDING - deferred)}"


def test_every_layer_unit_exists():
    modules = set(module_sources())
    plugins = {"mecbench.models", "mecbench.datasets", "mecbench"}
    missing = [unit for _, units in LAYERS for unit in units
               if unit not in plugins and unit not in modules]
    assert missing == []


def _fake(**files: str) -> dict[str, tuple[str, str]]:
    return {name: (name.replace(".", "/") + ".py", text) for name, text in files.items()}


def test_an_upward_import_is_reported_with_file_line_and_layers():
    problems = check(_fake(**{
        "mecbench.errors": "",
        "mecbench.ratemaps": "import numpy\n\nfrom mecbench.cli.main import main\n",
        "mecbench.cli.main": "from mecbench.errors import MecbenchError\n",
    }))
    assert problems == ["mecbench/ratemaps.py:3: upward import mecbench.ratemaps -> "
                        "mecbench.cli.main (layer 'data' -> 'cli')"]


def test_an_upward_import_inside_a_function_is_reported():
    problems = check(_fake(**{
        "mecbench.leaderboard": "def f():\n    from mecbench.cli import models\n",
        "mecbench.cli": "", "mecbench.cli.models": "",
    }))
    assert problems[0].startswith("mecbench/leaderboard.py:2: upward import "
                                  "mecbench.leaderboard -> mecbench.cli.models")


def test_a_cycle_inside_a_layer_is_reported():
    problems = check(_fake(**{
        "mecbench.leaderboard": "import mecbench.verify\n",
        "mecbench.verify": "import mecbench.leaderboard\n",
    }))
    assert problems == ["import cycle between units: mecbench.leaderboard -> mecbench.verify "
                        "-> mecbench.leaderboard"]


@pytest.mark.parametrize(("source", "allowed"), [
    ("def f():\n    import torch\n", True),
    ("def f():\n    import json\n", False),
    ("def f():\n    from mecbench.errors import DataError\n", False),
    ("def f():\n    from mecbench.trajectories import random_walk\n", True),  # imports torch
])
def test_deferred_imports_are_for_heavy_libraries_only(source, allowed):
    problems = check(_fake(**{
        "mecbench.providers": source,
        "mecbench.errors": "",
        "mecbench.trajectories": "import torch\n",
    }))
    assert (problems == []) is allowed, problems


def test_the_command_line_may_defer_the_library():
    sources = _fake(**{"mecbench.cli.score": "def f():\n    from mecbench import errors\n",
                       "mecbench.errors": ""})
    assert check(sources) == []


def test_the_command_line_imports_what_it_loads_anyway_at_module_level():
    sources = _fake(**{"mecbench.cli.score": "def f():\n    from mecbench import errors\n",
                       "mecbench": "from mecbench import errors\n",
                       "mecbench.errors": ""})
    assert check(sources) == [
        "mecbench/cli/score.py:2: `import mecbench.errors` inside a function of "
        "mecbench.cli.score; import it at module level (it imports no heavy library, or the "
        "command line has loaded it already)"]


def test_relative_imports_and_unknown_modules():
    problems = check(_fake(**{
        "mecbench.nets.zoo": "from ..cli import main\n",
        "mecbench.cli.main": "",
        "mecbench.gadgets": "",
    }))
    assert "mecbench/gadgets.py: module mecbench.gadgets belongs to no layer" in problems[0]
    assert any("upward import mecbench.nets.zoo -> mecbench.cli.main" in p for p in problems)
