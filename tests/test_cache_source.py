"""Which source the cache keys hash: :data:`mecbench.cache.SOURCE_NEUTRAL` against the layers of
``docs/architecture.md`` (``LAYERS`` of ``tests/test_layers.py``) and the import graph.

A unit left out of the source hash must be one that cannot change a cached value: presentation
(the layers above the benchmarks that only read results) or an input whose output is hashed
into the keys anyway. The code that computes ceilings, scores and rate maps -- the layers from
'benchmarks' down and the model plugins (``mecbench.models``) -- must not import presentation
code, and must not import the training code (weights reach a model as files, fingerprinted).
"""

from __future__ import annotations

from pathlib import Path

from test_layers import LAYERS, _imports, layer_of, module_sources

from mecbench.cache import SOURCE_EXCLUDED, SOURCE_NEUTRAL, hash_source_files

ROOT = Path(__file__).resolve().parents[1]
PRESENTATION_LAYERS = ("cli", "report", "results")
LAYER_NAMES = [name for name, _ in LAYERS]


def _layer_name(unit: str) -> str:
    found = layer_of(unit)
    assert found is not None, f"{unit} belongs to no layer"
    return LAYER_NAMES[found[0]]


def _graph() -> tuple[set[str], dict[str, set[str]]]:
    """Every module of ``mecbench`` and of the model plugins, and what each imports."""
    sources = dict(module_sources(ROOT / "mecbench"))
    for name, (path, text) in module_sources(ROOT / "models").items():
        sources["mecbench." + name] = (path, text)   # models/x.py is mecbench.models.x
    modules = set(sources)
    edges = {name: {imp.target for imp in _imports(name, path, text, modules)}
             for name, (path, text) in sources.items()}
    return modules, edges


def _within(module: str, units) -> bool:
    return any(module == u or module.startswith(u + ".") for u in units)


def test_the_rule_is_one_prefix_pair_per_unit():
    units = [u for group in SOURCE_NEUTRAL.values() for u in group]
    assert len(units) == len(set(units))
    assert set(SOURCE_NEUTRAL) == {"presentation", "hashed inputs"}
    assert set(SOURCE_EXCLUDED) == {p for u in units for p in (u.replace(".", "/") + "/",
                                                               u.replace(".", "/") + ".py")}


def test_every_neutral_unit_exists():
    modules = set(module_sources(ROOT / "mecbench"))
    missing = [u for group in SOURCE_NEUTRAL.values() for u in group if u not in modules]
    assert missing == [], "renamed or deleted: update SOURCE_NEUTRAL in mecbench/cache.py"


def test_neutral_units_follow_the_layers():
    presentation = SOURCE_NEUTRAL["presentation"]
    # every unit of the presentation layers is left out ...
    expected = {u for name, units in LAYERS if name in PRESENTATION_LAYERS for u in units}
    assert expected <= set(presentation), sorted(expected - set(presentation))
    # ... and otherwise only the entry point `python -m mecbench` and utilities
    for unit in presentation:
        layer = _layer_name(unit)
        assert layer in PRESENTATION_LAYERS + ("utilities",) or unit == "mecbench.__main__", (
            unit, layer)
    for unit in SOURCE_NEUTRAL["hashed inputs"]:
        assert _layer_name(unit) in ("training", "data"), unit
    # the controls compute the rate maps they score (served under the model's key): hashed
    assert not any(_layer_name(u) == "controls" for g in SOURCE_NEUTRAL.values() for u in g)


def test_code_that_computes_cached_values_runs_no_neutral_code():
    modules, edges = _graph()
    lowest = LAYER_NAMES.index("benchmarks")
    neutral = [u for group in SOURCE_NEUTRAL.values() for u in group]
    roots = [m for m in modules if not _within(m, neutral) and (
        _within(m, ("mecbench.models",))
        or (m != "mecbench" and layer_of(m) is not None and layer_of(m)[0] >= lowest))]
    inputs = SOURCE_NEUTRAL["hashed inputs"]
    reached, stack = set(), list(roots)
    while stack:
        module = stack.pop()
        if module in reached or module not in modules:
            continue
        reached.add(module)
        if not _within(module, inputs):     # what the loaders run is hashed with their output
            stack.extend(edges[module])
    assert any(m.startswith("mecbench.controls.") for m in reached)   # via the control plugin
    bad = sorted(m for m in reached if _within(m, SOURCE_NEUTRAL["presentation"])
                 or _within(m, ("mecbench.training",)))
    assert bad == [], f"imported by code that computes cached values: {bad}"


def test_an_edit_to_a_neutral_unit_leaves_the_hash_and_any_other_edit_changes_it(tmp_path):
    pkg = tmp_path / "mecbench"
    for rel in ("cli/main.py", "loaders/x.py", "compare.py", "controls/sweep.py", "cache.py"):
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text("x = 1\n")
    base = hash_source_files([("mecbench", pkg)], SOURCE_EXCLUDED)
    for rel in ("cli/main.py", "loaders/x.py", "compare.py"):
        (pkg / rel).write_text("x = 2\n")
        assert hash_source_files([("mecbench", pkg)], SOURCE_EXCLUDED) == base, rel
    for rel in ("controls/sweep.py", "cache.py"):
        (pkg / rel).write_text("x = 3\n")
        assert hash_source_files([("mecbench", pkg)], SOURCE_EXCLUDED) != base, rel
        base = hash_source_files([("mecbench", pkg)], SOURCE_EXCLUDED)
