"""The ``sargolini2006`` dataset plugin, built from ../shared/data/real-mec."""

from __future__ import annotations

import numpy as np
import pytest

from mecbench import registry
from mecbench.errors import ConfigError
from mecbench.loaders import load_recordings


def test_plugin_is_registered_with_a_description():
    assert "sargolini2006" in registry.names("dataset")
    assert "Sargolini" in registry.describe("dataset", "sargolini2006")


def test_builds_from_data_dir_with_provenance(real_mec_dir):
    nd = registry.load("dataset", "sargolini2006", data_dir=real_mec_dir.parent)
    assert nd.arena_names == ["1x1m"]
    assert nd.animals("1x1m") == ["10073", "11207", "11343"]
    assert nd.n_neuroids == 10
    assert "10.1126/science.1125572" in nd.attrs["citation"]
    assert "grid-cell data" in nd.attrs["data_source"] and nd.attrs["licence"]
    direct = load_recordings(real_mec_dir, arena=1.0, spikes_outside="drop")
    np.testing.assert_array_equal(nd.rate("1x1m").values, direct.rate("1x1m").values)


def test_env_var_and_its_subfolder(real_mec_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("MECBENCH_DATA", str(real_mec_dir))
    assert registry.load("dataset", "sargolini2006").n_neuroids == 10
    (tmp_path / "sargolini2006").symlink_to(real_mec_dir, target_is_directory=True)
    monkeypatch.setenv("MECBENCH_DATA", str(tmp_path))
    assert registry.load("dataset", "sargolini2006", bin_size=0.1).rate("1x1m").shape == \
        (10, 10, 10)


def test_clear_error_without_data(tmp_path, monkeypatch):
    monkeypatch.delenv("MECBENCH_DATA", raising=False)
    with pytest.raises(ConfigError, match="MECBENCH_DATA"):
        registry.load("dataset", "sargolini2006")
    with pytest.raises(ConfigError, match="no such directory"):
        registry.load("dataset", "sargolini2006", data_dir=tmp_path / "absent")
    monkeypatch.setenv("MECBENCH_DATA", str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match="MECBENCH_DATA=.*no such directory"):
        registry.load("dataset", "sargolini2006")
