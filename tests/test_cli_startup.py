"""Listing commands and a warm score import no heavy library that their work does not need
(the import graph is checked, not time: tests/perf/bench_startup.py measures the time)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from benchkit import make_neural_data, write_plugin

from mecbench.cli.main import main

PERF = Path(__file__).parent / "perf"

# imported only where work needs them (the layering contract allows them inside functions)
HEAVY = ("sklearn", "scipy.stats", "scipy.signal", "torch", "matplotlib", "statsmodels",
         "pynwb")

_PROBE = ("import json, sys; from mecbench.cli.main import main; code = main(sys.argv[1:]); "
          "sys.stdout.flush(); print('@@' + json.dumps([code, sorted(sys.modules)]))")


def _imported(argv: list[str], cwd: Path) -> set[str]:
    """The modules a `mecbench` command imported, run in a new process."""
    proc = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True,
                          text=True, cwd=cwd, timeout=600)
    marker = [line for line in proc.stdout.splitlines() if line.startswith("@@")]
    assert marker, proc.stderr[-2000:]
    code, modules = json.loads(marker[-1][2:])
    assert code == 0, proc.stderr[-2000:]
    return set(modules)


@pytest.mark.parametrize("argv", [["models"], ["benchmarks"], ["datasets"], ["cache", "info"]],
                         ids=" ".join)
def test_listings_import_no_heavy_library(argv, tmp_path):
    modules = _imported(argv, tmp_path)
    assert [h for h in (*HEAVY, "dask") if h in modules] == []
    if argv[0] in ("models", "datasets", "benchmarks"):   # read from source: no data library
        assert [h for h in ("xarray", "netCDF4", "numpy") if h in modules] == []


def test_the_datasets_listing_reads_the_loaders_docstrings(tmp_path):
    """Read from the source, the descriptions are those of the imported loaders."""
    from mecbench import registry
    from mecbench.cli.datasets import list_datasets

    rows = {row["name"]: row["description"] for row in list_datasets()}
    assert {"mec-sim", "sargolini2006"} <= set(rows)
    assert rows == {name: registry.describe("dataset", name) for name in rows}
    assert all(rows.values())


def test_the_benchmarks_listing_reads_the_builtin_definitions():
    """Read from the source, each built-in benchmark's version and description are those of
    the built benchmark and of its factory's docstring."""
    from mecbench import registry
    from mecbench.benchmarks.builtin import VERSIONS
    from mecbench.cli.benchmarks import list_benchmarks

    rows = {row["name"]: row for row in list_benchmarks()}
    assert set(VERSIONS) <= set(rows)
    for name in VERSIONS:
        assert rows[name]["version"] == registry.load("benchmark", name).version == \
            VERSIONS[name], name
        assert rows[name]["description"] == registry.describe("benchmark", name) == \
            registry.load("benchmark", name).description, name


def test_the_source_reader_finds_modules_without_running_them(tmp_path, monkeypatch):
    from mecbench.cli._source import docstring_summary, module_literal

    pkg = tmp_path / "probe_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise RuntimeError('the package ran')\n")
    (pkg / "defs.py").write_text(
        'raise RuntimeError("the module ran")\nTABLE: dict = {"a": 1, "b": (2, 3)}\n'
        'TWICE = 1\nTWICE = 2\nCOMPUTED = len("x")\n'
        'def factory():\n    """Makes things.\n\n    More."""\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    assert module_literal("probe_pkg.defs", "TABLE") == {"a": 1, "b": (2, 3)}
    assert module_literal("probe_pkg.defs", "TWICE") is None      # bound twice: ambiguous
    assert module_literal("probe_pkg.defs", "COMPUTED") is None   # not a literal
    assert module_literal("probe_pkg.defs", "MISSING") is None
    assert docstring_summary("probe_pkg.defs:factory") == "Makes things."
    assert module_literal("probe_pkg.nothing", "TABLE") is None
    assert "probe_pkg" not in sys.modules


BENCHMARK_PLUGIN = """
from mecbench import registry
from mecbench.benchmarks import Benchmark
from mecbench.benchmarks.specs import MappingSpec
from mecbench.neural_data import NeuralData
from mecbench.splits import SplitScheme


def lab_ridge():
    \"\"\"A lab's own benchmark: its recordings, ridge, random splits.\"\"\"
    return Benchmark("lab.ridge", 1, lambda: NeuralData.load({data!r}),
                     MappingSpec("ridge", {{"alpha": 1.0}}),
                     SplitScheme("random", train_frac=0.5, n_splits=3), ceiling="split-half")


registry.register("benchmark", "lab.ridge", lab_ridge)
"""


@pytest.mark.slow
def test_warm_score_imports_no_heavy_library(tmp_path, capsys):
    models = write_plugin(tmp_path)
    data = make_neural_data(n_cells=5).save(tmp_path / "lab.nc")
    bench = tmp_path / "lab_benchmark.py"
    bench.write_text(BENCHMARK_PLUGIN.format(data=str(data)))
    argv = ["--plugin", str(models), "-q", "score", "toy-fourier", "lab.ridge",
            "--plugin", str(bench)]
    assert main(argv) == 0                    # fills the cache (this process imports all)
    computed = capsys.readouterr().out
    assert "toy-fourier on lab.ridge (version 1)" in computed
    modules = _imported(argv, tmp_path)       # a new process finds every result cached
    assert [h for h in HEAVY if h in modules] == []
    # control: the same probe sees the libraries a computation needs
    assert "sklearn" in _imported([*argv, "--no-cache"], tmp_path)
    assert main(argv) == 0
    assert capsys.readouterr().out == computed   # the cached result is the computed one


MODEL_PLUGIN = """
from pathlib import Path

import mecbench.models.pathint as pathint
from mecbench import register_model
from mecbench.nets.zoo import checkpoint_provider


@register_model("rnn-relu-dos-quick")
def quick():
    \"\"\"The shipped rnn-relu-dos network on 2 000 trajectory positions.\"\"\"
    return checkpoint_provider(Path(pathint.__file__).parent / "rnn-relu-dos",
                               "rnn-relu-dos-quick", n_batches=2, batch_size=100, n_steps=10,
                               unvisited="nearest")
"""


def _warm_network_score(tmp_path: Path, capsys, plugin: str, model: str, *options: str
                        ) -> tuple[str, set[str], set[str]]:
    """Score a network model from a plugin on a small lab benchmark (which fills the cache),
    then probe in new processes: (printed scores, modules of a warm run, modules of a run
    without the cache)."""
    models = tmp_path / "network_model.py"
    models.write_text(plugin)
    data = make_neural_data(n_cells=5).save(tmp_path / "lab.nc")
    bench = tmp_path / "lab_benchmark.py"
    bench.write_text(BENCHMARK_PLUGIN.format(data=str(data)))
    argv = ["--plugin", str(models), "--plugin", str(bench), "-q", "score", model, "lab.ridge",
            *options]
    assert main(argv) == 0                    # computes the rate maps with the network
    computed = capsys.readouterr().out
    return computed, _imported(argv, tmp_path), _imported([*argv, "--no-cache"], tmp_path)


@pytest.mark.slow
def test_warm_score_of_a_torch_network_imports_no_torch(tmp_path, capsys):
    computed, warm, uncached = _warm_network_score(tmp_path, capsys, MODEL_PLUGIN,
                                                   "rnn-relu-dos-quick", "--layer", "all")
    assert "rnn-relu-dos-quick on lab.ridge" in computed and "\ndc " in computed
    assert [h for h in HEAVY if h in warm] == []   # every layer found in the cache
    assert "safetensors" not in warm
    assert "torch" in uncached                # control: the probe sees torch when it is used


UNTRAINED_PLUGIN = """
from mecbench import register_model
from mecbench.nets.zoo import untrained_provider


@register_model("untrained-quick")
def quick():
    \"\"\"A small untrained ReLU RNN on 2 000 trajectory positions.\"\"\"
    return untrained_provider("rnn-relu-n16", n_batches=2, batch_size=100, n_steps=10,
                              unvisited="nearest")
"""


@pytest.mark.slow
def test_warm_score_of_an_untrained_network_imports_no_torch(tmp_path, capsys):
    computed, warm, uncached = _warm_network_score(tmp_path, capsys, UNTRAINED_PLUGIN,
                                                   "untrained-quick")
    assert "untrained/rnn-relu-n16 on lab.ridge" in computed
    assert [h for h in HEAVY if h in warm] == []   # fingerprint memoised, score cached
    assert "torch" in uncached


@pytest.mark.slow
def test_bench_startup_quick_run_prints_the_table(capsys):
    spec = importlib.util.spec_from_file_location("bench_startup", PERF / "bench_startup.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--quick"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["command", "wall"]
    rows = {line.split("  ")[0].strip(): line for line in lines[1:-1]}
    assert set(rows) == {"python -c pass", "mecbench --help", "mecbench models",
                         "mecbench benchmarks", "mecbench datasets"}
    # the baseline's ratio to itself, and every listing's heavy libraries at most xarray
    assert rows["python -c pass"].split()[5] == "1.0"
    assert all(line.rstrip().endswith(("none", "xarray", "xarray, netCDF4"))
               for line in rows.values())
