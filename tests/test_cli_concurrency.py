"""Several `mecbench score --save` processes writing into one leaderboard at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from benchkit import make_neural_data, write_plugin

from mecbench.leaderboard import load_board

pytestmark = pytest.mark.slow  # several mecbench processes at once


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    plugin = write_plugin(root)
    data = make_neural_data(n_cells=5).save(root / "lab.nc")
    return {"root": root, "plugin": str(plugin), "data": str(data)}


def score_args(env, model):
    return ["score", model, env["data"], "--splits", "random:train_frac=0.5,n_splits=3"]


def _subprocess_score(env, board, model, layer):
    cmd = [sys.executable, "-m", "mecbench", "--plugin", env["plugin"], *score_args(env, model),
           "--layer", layer, "--save", "--leaderboard-dir", str(board), "--no-cache"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONHASHSEED": "0"})


def test_four_processes_save_into_one_board(env, tmp_path):
    board = tmp_path / "board"
    jobs = [("toy-fourier", "low"), ("toy-fourier", "high"), ("toy-bumps", "output"),
            ("toy-fourier", "low")]
    procs = [_subprocess_score(env, board, m, la) for m, la in jobs]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
    loaded = load_board(board, "lab.ridge")
    assert not loaded.problems
    assert sorted((e["model"], e["layer"]) for e in loaded.entries) == sorted(jobs)
    for line in (board / "lab.ridge.jsonl").read_text().splitlines():
        json.loads(line)
    for e in loaded.entries:
        assert (board / e["score_file"]).is_file()
    lows = [e for e in loaded.entries if e["layer"] == "low"]
    assert lows[0]["raw"] == lows[1]["raw"] and lows[0]["id"] != lows[1]["id"]


def test_process_killed_mid_run_leaves_the_board_loadable(env, tmp_path):
    board = tmp_path / "board"
    steady = [_subprocess_score(env, board, "toy-bumps", "output") for _ in range(2)]
    victim = _subprocess_score(env, board, "toy-fourier", "high")
    time.sleep(3.0)  # somewhere in start-up, scoring or saving: any moment must be safe
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)
    for p in steady:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
    loaded = load_board(board, "lab.ridge")
    lines = (board / "lab.ridge.jsonl").read_bytes().rstrip(b"\n").split(b"\n")
    assert [p.line for p in loaded.problems] in ([], [len(lines)])  # at most a torn last line
    assert sum(e["model"] == "toy-bumps" for e in loaded.entries) == 2
    for e in loaded.entries:
        assert (board / e["score_file"]).is_file()
