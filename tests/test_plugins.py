"""Model plugins: the README's "Register your model" example, ``mecbench models``, failures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import mecbench
from mecbench import registry
from mecbench.cli.main import main
from mecbench.cli.models import list_models
from mecbench.ratemaps import Arena

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "tests" / "data" / "example_plugin.py"


@pytest.fixture
def tiny():
    registry.load_plugin_file(EXAMPLE)
    return registry.load("model", "my-tiny-model")


def _readme_example() -> str:
    readme = (REPO / "docs" / "models.md").read_text()
    section = readme[readme.index("## Register your model"):]
    block = section[section.index("```python\n") + len("```python\n"):]
    return block[:block.index("```")]


def test_readme_shows_exactly_the_example_the_tests_run():
    """The documentation's "Register your model" code (docs/models.md) is the plugin file these
    tests load (whose module docstring the documentation leaves out)."""
    text = EXAMPLE.read_text()
    body = text[text.index('"""', 3) + 3:].lstrip("\n")
    assert _readme_example() == body


@pytest.mark.slow
def test_readme_example_runs_as_written(tmp_path):
    """The code block itself, saved as a file: listed by ``mecbench models``, makes rate maps."""
    plugin = tmp_path / "example_plugin.py"
    plugin.write_text(_readme_example())
    out = tmp_path / "maps.nc"

    def run(*args):
        proc = subprocess.run([sys.executable, "-m", "mecbench", "--plugin", str(plugin), *args],
                              capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    assert any(r.startswith("my-tiny-model") for r in run("models").splitlines())
    run("models", "ratemaps", "my-tiny-model", "--arena", "1x1m", "-o", str(out))
    with xr.open_dataarray(out) as maps:
        assert maps.sizes == {"x": 20, "y": 20, "neuroid": 9}
        assert np.isfinite(maps.values).all() and maps.values.max() > 0


def test_register_model_is_exported():
    assert mecbench.register_model is registry.register_model


def test_readme_example_in_python(tiny):
    assert "my-tiny-model" in registry.names("model")
    assert tiny.layers == ("output",) and tiny.default_layer == "output"
    maps = tiny.rate_maps(Arena(1.0, 1.0))
    assert maps.sizes == {"x": 20, "y": 20, "neuroid": 9}
    assert np.isfinite(maps.values).all() and (maps.values >= 0).all()
    # closed form of a three-cosine grid of spacing λ: the peak (value 3) at its phase repeats
    # at λ·(cos 30°, sin 30°) and λ·(0, 1) from it, and the value at the centre of a lattice
    # triangle is the minimum, 3·cos(2π/3) = −1.5, rectified to 0
    spacing = 0.30  # cell 0: phase (0, 0)
    a1 = spacing * np.array([np.cos(np.pi / 6), np.sin(np.pi / 6)])
    a2 = spacing * np.array([0.0, 1.0])
    out = tiny.fn(np.array([[0.0, 0.0], a1, a2, (a1 + a2) / 3]))[:, 0]
    np.testing.assert_allclose(out[:3], 3.0, atol=1e-12)
    assert out[3] == 0.0


@pytest.mark.slow
def test_readme_example_listed_by_the_cli_in_a_subprocess():
    proc = subprocess.run(
        [sys.executable, "-m", "mecbench", "--plugin", str(EXAMPLE), "models"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    line = next(r for r in proc.stdout.splitlines() if r.startswith("my-tiny-model"))
    assert "Nine idealised grid cells" in line


def test_readme_example_rate_maps_via_cli(tiny, tmp_path, capsys):
    out = tmp_path / "maps.nc"
    code = main(["--plugin", str(EXAMPLE), "models", "ratemaps", "my-tiny-model",
                 "--arena", "1x1m", "-o", str(out)])
    assert code == 0
    assert "wrote 9 units" in capsys.readouterr().out
    with xr.open_dataarray(out) as saved:
        saved = saved.load()
    expected = tiny.rate_maps(Arena(1.0, 1.0))
    np.testing.assert_array_equal(saved.values, expected.values)
    assert saved.attrs["fingerprint"] == tiny.fingerprint()
    assert list(saved["neuroid_id"].values) == list(expected["neuroid_id"].values)


def test_models_show_json(tiny, capsys):
    assert main(["--plugin", str(EXAMPLE), "models", "show", "my-tiny-model", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["layers"] == ["output"] and info["default_layer"] == "output"
    assert info["fingerprint"] == tiny.fingerprint() and info["type"] == "FunctionProvider"
    assert main(["--plugin", str(EXAMPLE), "models", "show", "my-tiny-model"]) == 0
    text = capsys.readouterr().out
    assert "default layer" in text and tiny.fingerprint() in text


def test_models_list_json(tiny, capsys):
    assert main(["models", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == 1 and doc["command"] == "models"
    rows = {r["name"]: r["description"] for r in doc["models"]}
    assert rows["my-tiny-model"].startswith("Nine idealised grid cells")


class _BrokenEntryPoint:
    name = "broken-model"

    def load(self):
        raise ImportError("No module named 'not_installed_dependency'")


def test_a_broken_plugin_is_listed_not_fatal(monkeypatch, capsys):
    real = registry._entry_points

    def with_broken(kind):
        eps = dict(real(kind))
        if kind == "model":
            eps["broken-model"] = _BrokenEntryPoint()
        return eps

    monkeypatch.setattr(registry, "_entry_points", with_broken)
    rows = {r["name"]: r["description"] for r in list_models()}
    assert rows["broken-model"].startswith("(failed to load: ImportError")
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert any(line.startswith("broken-model ") and "(failed to load: ImportError" in line
               for line in out.splitlines())
    assert main(["models", "show", "broken-model"]) == 2
    assert "not_installed_dependency" in capsys.readouterr().err


def test_unknown_model_suggests_names(tiny, capsys):
    assert main(["models", "show", "my-tiny-modle"]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'my-tiny-modle'" in err and "'my-tiny-model'" in err


def test_factory_that_raises_is_a_model_error(monkeypatch, capsys):
    def exploding():
        """Raises on construction."""
        raise RuntimeError("weights file missing")

    monkeypatch.setitem(registry._RUNTIME["model"], "exploding", exploding)
    assert main(["models", "show", "exploding"]) == 2
    assert "model 'exploding' failed to load: RuntimeError: weights file missing" \
        in capsys.readouterr().err


def test_plugin_file_that_fails_to_import(tmp_path, capsys):
    bad = tmp_path / "bad_plugin.py"
    bad.write_text("import not_a_real_module_xyz\n")
    assert main(["--plugin", str(bad), "models"]) == 2
    assert "failed to import" in capsys.readouterr().err
