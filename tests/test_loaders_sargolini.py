"""The ``sargolini2006`` dataset plugin, built from ../shared/data/real-mec."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from mecbench import registry
from mecbench.cli.main import main
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


def _ceiling_doc(capsys, *global_args):
    code = main(["-q", *global_args, "ceiling", "sargolini2006.ridge", "--json", "--no-cache"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_cli_data_dir_takes_precedence_over_the_env_var(real_mec_dir, tmp_path, monkeypatch,
                                                        capsys):
    # MECBENCH_DATA: 9 of the 10 cells (two animals); --data-dir: a folder holding the whole
    # release under sargolini2006/
    subset = tmp_path / "subset"
    subset.mkdir()
    for f in sorted(real_mec_dir.glob("*.mat")):
        if not f.name.startswith("11343"):
            (subset / f.name).symlink_to(f)
    full = tmp_path / "full"
    full.mkdir()
    (full / "sargolini2006").symlink_to(real_mec_dir, target_is_directory=True)
    monkeypatch.setenv("MECBENCH_DATA", str(subset))

    doc = _ceiling_doc(capsys, "--data-dir", str(full))
    expected = registry.load("dataset", "sargolini2006", data_dir=real_mec_dir)
    assert doc["data_id"] == expected.identity().id
    assert doc["n_cells_total"] == expected.n_neuroids == 10
    assert os.environ["MECBENCH_DATA"] == str(subset)  # restored after the command

    doc = _ceiling_doc(capsys)  # without the option: the environment variable
    assert doc["data_id"] == registry.load("dataset", "sargolini2006",
                                           data_dir=subset).identity().id
    assert doc["n_cells_total"] == 9

    monkeypatch.delenv("MECBENCH_DATA")
    assert _ceiling_doc(capsys, "--data-dir", str(real_mec_dir))["n_cells_total"] == 10
    assert "MECBENCH_DATA" not in os.environ


def test_cli_data_dir_that_is_not_a_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MECBENCH_DATA", raising=False)
    absent = tmp_path / "absent"
    assert main(["--data-dir", str(absent), "ceiling", "sargolini2006.ridge"]) == 2
    err = capsys.readouterr().err
    assert f"mecbench: error: --data-dir {absent}: no such directory" in err
    afile = tmp_path / "file.mat"
    afile.write_bytes(b"")
    assert main(["--data-dir", str(afile), "ceiling", "sargolini2006.ridge"]) == 2
    assert f"--data-dir {afile}: not a directory" in capsys.readouterr().err
    assert "MECBENCH_DATA" not in os.environ
    # without the option or the variable, the plugin's error names both ways to give the data
    assert main(["ceiling", "sargolini2006.ridge"]) == 2
    err = capsys.readouterr().err
    assert "--data-dir" in err and "MECBENCH_DATA" in err
