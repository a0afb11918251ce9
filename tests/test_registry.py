"""Plugin registry: runtime registration, families, unknown names, plugin files."""

from __future__ import annotations

import pytest

from mecbench import registry
from mecbench.errors import ConfigError, UnknownIdentifierError


def test_register_and_load_runtime_model(monkeypatch):
    monkeypatch.setitem(registry._RUNTIME, "model", {})

    @registry.register_model("unit-test-model")
    def factory(scale=1):
        """A model for the registry test."""
        return ("built", scale)

    assert "unit-test-model" in registry.names("model")
    assert registry.load("model", "unit-test-model", scale=3) == ("built", 3)
    assert registry.describe("model", "unit-test-model") == "A model for the registry test."


def test_family_passes_the_rest_of_the_name(monkeypatch):
    monkeypatch.setitem(registry._RUNTIME, "model", {})
    registry.register("model", "unit-fam/*", lambda rest: ("fam", rest))
    assert registry.load("model", "unit-fam/abc-12") == ("fam", "abc-12")


def test_unknown_name_suggests_closest(monkeypatch):
    monkeypatch.setitem(registry._RUNTIME, "model", {})
    registry.register("model", "grid-model-a", lambda: None)
    with pytest.raises(UnknownIdentifierError, match="grid-model-a"):
        registry.load("model", "grid-modle-a")


def test_bad_names_and_plugin_files(tmp_path):
    with pytest.raises(ConfigError):
        registry.register("model", "has space", lambda: None)
    with pytest.raises(ConfigError, match="not a Python file"):
        registry.load_plugin_file(tmp_path / "missing.py")
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(ConfigError, match="boom"):
        registry.load_plugin_file(broken)
