"""Leaderboard files: schema, locked atomic appends, damaged lines, directory resolution."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from mecbench import leaderboard as lb
from mecbench.errors import ConfigError, DataError


def _entry(model="m", layer="g", raw=0.5, benchmark="mec-sim.ridge", **extra):
    entry = {
        "schema": 2, "model": model, "benchmark": benchmark, "benchmark_version": 1,
        "layer": layer, "raw": raw, "ceiling": 0.8,
        "ceiled": raw / 0.8 if isinstance(raw, float) else None, "ci": [0.5, 0.7],
        "raw_ci": [0.4, 0.6], "n_cells": 10, "n_cells_total": 12,
        "ceiling_method": "holdout", "mapping": "ridge(alpha=1.0)",
        "splits": "random-tf0.2-n10-s0", "mecbench_version": "0.1.0", "data_id": "d" * 64,
        "data_fingerprint": [1.0, 0.0], "weights_hash": "w" * 64,
        "seeds": {"model": 0, "splits": 0, "bootstrap": 0},
        "command": "mecbench score m mec-sim.ridge --save", "date": lb.utc_now(),
        "score_file": None,
    }
    entry.update(extra)
    entry["id"] = lb.make_entry_id(entry)
    return entry


def test_append_and_load_round_trip(tmp_path):
    a, b = _entry("a"), _entry("b", raw=0.25)
    lb.append_entry(tmp_path, a)
    path = lb.append_entry(tmp_path, b)
    assert path == tmp_path / "mec-sim.ridge.jsonl"
    lines = path.read_text().splitlines()
    assert [json.loads(x)["model"] for x in lines] == ["a", "b"]
    board = lb.load_board(tmp_path, "mec-sim.ridge")
    assert not board.problems
    assert [e["model"] for e in board.entries] == ["a", "b"]
    assert board.entries[1]["raw"] == 0.25 and board.entries[1]["_line"] == 2
    assert lb.board_names([tmp_path]) == ["mec-sim.ridge"]


def test_nan_becomes_null_and_invalid_entries_are_refused(tmp_path):
    entry = _entry(raw=lb.clean_float(float("nan")), ceiled=None)
    lb.append_entry(tmp_path, entry)
    assert lb.load_board(tmp_path, "mec-sim.ridge").entries[0]["raw"] is None
    with pytest.raises(DataError, match="'n_cells'"):
        lb.append_entry(tmp_path, {k: v for k, v in _entry().items() if k != "n_cells"})
    with pytest.raises(DataError, match="'raw'"):
        lb.append_entry(tmp_path, _entry(raw="high"))
    with pytest.raises(DataError, match="schema"):
        lb.append_entry(tmp_path, _entry(schema=3))
    with pytest.raises(DataError, match="'data_hash'"):  # schema 1 had another data field
        lb.append_entry(tmp_path, _entry(schema=1))
    with pytest.raises(DataError, match="data_fingerprint"):
        lb.append_entry(tmp_path, _entry(data_fingerprint=["x"]))
    with pytest.raises(ConfigError, match="benchmark"):
        lb.append_entry(tmp_path, _entry(benchmark="../evil"))


def test_corrupted_lines_are_reported_with_numbers_and_others_load(tmp_path):
    lb.append_entry(tmp_path, _entry("a"))
    path = tmp_path / "mec-sim.ridge.jsonl"
    with open(path, "ab") as fh:
        fh.write(b'{"schema": 1, "model": "torn', )  # a torn write without newline
    lb.append_entry(tmp_path, _entry("b"))  # must start on a fresh line
    with open(path, "ab") as fh:
        fh.write(b'{"schema": 1}\n\xff\xfe\n')
    lb.append_entry(tmp_path, _entry("c"))
    board = lb.load_board(tmp_path, "mec-sim.ridge")
    assert [e["model"] for e in board.entries] == ["a", "b", "c"]
    assert [p.line for p in board.problems] == [2, 4, 5]
    assert "not valid JSON" in board.problems[0].message
    assert "missing field" in board.problems[1].message
    assert "UTF-8" in board.problems[2].message
    assert str(board.problems[0]).startswith(f"{path}:2:")


def test_entry_of_another_benchmark_is_a_problem(tmp_path):
    path = tmp_path / "mec-sim.pls.jsonl"
    path.write_text(json.dumps(_entry()) + "\n")
    board = lb.load_board(tmp_path, "mec-sim.pls")
    assert not board.entries and "benchmark 'mec-sim.ridge'" in board.problems[0].message


def test_latest_keeps_newest_entry_of_current_version():
    board = lb.Board("b", entries=[
        _entry("a", raw=0.1), _entry("a", raw=0.2), _entry("b", raw=0.3, benchmark_version=0),
        _entry("a", layer="pre_g", raw=0.4)])
    latest = {(e["model"], e["layer"]): e["raw"] for e in board.latest()}
    assert latest == {("a", "g"): 0.2, ("a", "pre_g"): 0.4}


def test_directory_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv(lb.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert lb.write_dir() == tmp_path / "xdg" / "mecbench" / "leaderboards"
    shipped = lb.shipped_board_dir()
    assert shipped is not None and shipped.name == "leaderboards"
    assert lb.read_dirs() == [shipped]  # the user board does not exist yet
    lb.user_board_dir().mkdir(parents=True)
    assert lb.read_dirs() == [shipped, lb.user_board_dir()]
    monkeypatch.setenv(lb.ENV_VAR, str(tmp_path / "lab"))
    assert lb.read_dirs() == [tmp_path / "lab"] and lb.write_dir() == tmp_path / "lab"
    assert lb.read_dirs(tmp_path / "x") == [tmp_path / "x"]


_WRITER = textwrap.dedent("""
    import sys
    from mecbench import leaderboard as lb
    sys.path.insert(0, {tests!r})
    from test_leaderboard import _entry
    directory, model, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    for i in range(n):
        lb.append_entry(directory, _entry(model, layer=str(i), command="x" * 3000))
""")


def _writer(tmp_path, model, n):
    # Each writer gets its own script file: rewriting a shared one while an earlier writer
    # is still starting up hands that writer an empty (truncated) script.
    script = tmp_path / f"writer-{model}.py"
    script.write_text(_WRITER.format(tests=os.path.dirname(__file__)))
    return subprocess.Popen([sys.executable, str(script), str(tmp_path / "board"), model, str(n)])


@pytest.mark.slow
def test_concurrent_appends_from_processes_all_land_intact(tmp_path):
    procs = [_writer(tmp_path, f"model{k}", 25) for k in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    board = lb.load_board(tmp_path / "board", "mec-sim.ridge")
    assert not board.problems
    assert len(board.entries) == 100
    for k in range(4):
        assert sorted(int(e["layer"]) for e in board.find(f"model{k}")) == list(range(25))


@pytest.mark.slow
def test_writer_killed_mid_run_leaves_a_loadable_board(tmp_path):
    proc = _writer(tmp_path, "victim", 100_000)
    board_file = tmp_path / "board" / "mec-sim.ridge.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and (not board_file.exists() or board_file.stat().st_size < 2e5):
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    board = lb.load_board(tmp_path / "board", "mec-sim.ridge")
    assert len(board.entries) > 10
    # Linux may cut a write short on SIGKILL (page by page): at most the last line is torn
    n_lines = len(board_file.read_bytes().rstrip(b"\n").split(b"\n"))
    assert [p.line for p in board.problems] in ([], [n_lines])
    lb.append_entry(tmp_path / "board", _entry("after"))
    board2 = lb.load_board(tmp_path / "board", "mec-sim.ridge")
    assert board2.entries[-1]["model"] == "after"
    assert len(board2.entries) == len(board.entries) + 1
    assert board2.problems == board.problems


def test_board_score_file_keeps_per_cell_values_exactly(tmp_path):
    import numpy as np
    import xarray as xr

    from mecbench.score import Score

    rng = np.random.default_rng(0)
    n = 40
    r = xr.DataArray(rng.uniform(-0.2, 0.9, (n, 5)), dims=("neuroid", "split"),
                     coords={"neuroid_id": ("neuroid", [f"1x1m/a{i % 3}/c{i}" for i in range(n)]),
                             "animal": ("neuroid", [f"a{i % 3}" for i in range(n)]),
                             "arena": ("neuroid", ["1x1m"] * n),
                             "recorded_id": ("neuroid", [f"a{i % 3}/c{i}" for i in range(n)]),
                             "true_spacing": ("neuroid", rng.uniform(0.3, 1, n)),
                             "n_train": (("neuroid", "split"), np.full((n, 5), 80)),
                             "split": np.arange(5)})
    r[3, :] = np.nan
    score = Score.from_results(r, rng.uniform(0.05, 1.0, n), n_boot=100, model="m",
                               benchmark="b")
    path = lb.write_board_score(tmp_path / "s.nc", score)
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    back = lb.load_board_score(path)
    for name in ("raw", "ceiling", "ceiled"):
        np.testing.assert_array_equal(back[name].values, score[name].values)
    assert back["ceiling_ok"].dtype == bool
    assert (back["ceiling_ok"].values == score["ceiling_ok"].values).all()
    assert back["neuroid_id"].values.tolist() == score["neuroid_id"].values.tolist()
    assert back["recorded_id"].dtype.kind == "U"
    assert "r" not in back and "true_spacing" not in back.coords and "n_train" not in back.coords
    assert float(back["raw_median"]) == float(score["raw_median"])
    assert back.attrs["model"] == "m"
    with pytest.raises(DataError, match="no such file"):
        lb.load_board_score(tmp_path / "missing.nc")
    (tmp_path / "bad.nc").write_bytes(b"junk")
    with pytest.raises(DataError, match="not a readable"):
        lb.load_board_score(tmp_path / "bad.nc")
