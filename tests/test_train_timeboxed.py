"""scripts/train_timeboxed.py: chunked, deadline-bound training with learning curves."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mecbench.nets import PathIntegratorConfig, load_network
from mecbench.training import train
from mecbench.training.measure import measure_checkpoint, readme_text

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train_timeboxed.py"
TINY = dict(n_hidden=24, n_place=32, batch_size=24, seq_len=5, seed=1)


@pytest.mark.slow
def test_chunks_give_the_weights_of_one_uninterrupted_run(tmp_path):
    overrides = ",".join(f"{k}={v}" for k, v in TINY.items())
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "runs"), "--seconds", "25",
         "--device", "cpu", "--curve-batches", "2", "--first-chunk", "5",
         "--run", f"tiny:rnn-relu-dos:{overrides}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    run_dir = tmp_path / "runs" / "tiny"
    curve = json.loads((run_dir / "curve.json").read_text())
    steps = [p["step"] for p in curve]
    assert steps[0] == 5 and steps == sorted(set(steps)) and len(steps) >= 2
    assert all("error" not in p for p in curve), curve
    chunked = load_network(run_dir)
    assert int(chunked.checkpoint_metadata["step"]) == steps[-1]
    assert set(curve[-1]) >= {"decoding_cm_T5", "stay_at_start_cm_T5", "decoding_cm_T20",
                              "stay_at_start_cm_T20", "grid_g_sargolini", "grid_dc_deepmind"}

    config = PathIntegratorConfig(arch="rnn", activation="relu", readout="dos", **TINY)
    assert chunked.config == config
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the script's workers train on one thread
    try:
        whole = train(config, tmp_path / "whole", steps[-1], progress=False).model
    finally:
        torch.set_num_threads(threads)
    a, b = chunked.state_dict(), whole.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    state = json.loads((run_dir / "training_state.json").read_text())
    assert len(state["commands"]) == 1 and "tiny:rnn-relu-dos:" in state["commands"][0]


def test_readme_shows_the_learning_curve(tmp_path):
    config = PathIntegratorConfig(arch="rnn", **TINY)
    train(config, tmp_path / "m", 2, progress=False)
    curve = [{"step": 1, "wall_time_s": 0.4, "decoding_cm_T5": 41.25, "stay_at_start_cm_T5": 9.0,
              "grid_g_sargolini": 0.125},
             {"step": 2, "wall_time_s": 0.9, "decoding_cm_T5": 30.0, "stay_at_start_cm_T5": 9.0,
              "grid_g_sargolini": 0.25, "grid_dc_sargolini": 0.5}]
    (tmp_path / "m" / "curve.json").write_text(json.dumps(curve))
    result = measure_checkpoint(tmp_path / "m", arena_width=0.5, n_batches=2, decode_batches=1,
                                untrained_control=False)
    text = readme_text(tmp_path / "m", result, how_trained="Trained on a test bench.")
    assert "Trained on a test bench." in text and "2-core CPU" not in text
    assert ("| step | wall time (s) | decoding error T=5 (cm) | stay at start T=5 (cm) "
            "| grid fraction dc | grid fraction g |") in text
    assert "| 1 | 0 | 41.2 | 9.0 | - | 0.125 |" in text
    assert "| 2 | 1 | 30.0 | 9.0 | 0.500 | 0.250 |" in text
