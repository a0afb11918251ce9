"""Integrity of the reference leaderboard shipped in ``leaderboards/``.

Re-running the entries is ``mecbench leaderboard verify`` (minutes per entry); these checks are
the cheap part: every board loads cleanly, covers every built-in model, points to per-cell files
that exist, and its summary numbers are what those per-cell files say.
"""

from __future__ import annotations

import numpy as np
import pytest

from mecbench import leaderboard as lb
from mecbench import registry
from mecbench.benchmarks import get_benchmark

SHIPPED = lb.shipped_board_dir()
MEC_SIM = [name for name in registry.names("benchmark") if name.startswith("mec-sim.")]
MODELS = [name for name in registry.names("model") if not name.endswith("/*")]

pytestmark = pytest.mark.skipif(SHIPPED is None, reason="no shipped leaderboard directory")


#: Boards known not to cover every built-in model yet (strict: the test fails once such a
#: board is complete, so this list cannot go stale). A board rebuilt entry by entry with
#: scripts/make_reference_leaderboard.sh is listed here until its last entry lands.
INCOMPLETE: set[str] = set()


@pytest.mark.parametrize("benchmark", [
    pytest.param(b, marks=pytest.mark.xfail(strict=True, reason="board not complete yet"))
    if b in INCOMPLETE else b for b in MEC_SIM])
def test_every_builtin_model_is_on_every_mec_sim_board(benchmark):
    board = lb.load_board(SHIPPED, benchmark)
    assert not board.problems, board.problems
    on_board = {e["model"] for e in board.entries}
    assert set(MODELS) <= on_board, sorted(set(MODELS) - on_board)
    version = get_benchmark(benchmark).version
    assert {e["benchmark_version"] for e in board.entries} == {version}


@pytest.mark.slow
@pytest.mark.parametrize("benchmark", MEC_SIM)
def test_entries_agree_with_their_per_cell_files(benchmark):
    for entry in lb.load_board(SHIPPED, benchmark).entries:
        ds = lb.load_board_score(lb.entry_score_path(entry))
        raw = ds["raw"].values
        assert raw.size == entry["n_cells_total"]
        np.testing.assert_allclose(np.nanmedian(raw), entry["raw"], rtol=0, atol=1e-12)
        ok = ds["ceiling_ok"].values & np.isfinite(ds["ceiled"].values)
        assert ok.sum() == entry["n_cells"]  # the cells of the ceiled summary
        ceiled = ds["ceiled"].values[ok]
        np.testing.assert_allclose(np.nanmedian(ceiled), entry["ceiled"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(ceiled, (raw / ds["ceiling"].values)[ok], rtol=1e-12)


def test_ridge_board_carries_dimension_matched_controls():
    """`mecbench controls mec-sim.ridge --save` ran on every layer on the board: the analysis
    and its plot ship with it, and the newest entry of every (model, layer) carries the control
    fields of its verdict (margin = ceiled score − control score)."""
    from mecbench.controls.board import controls_path, load_controls

    doc = load_controls(SHIPPED, "mec-sim.ridge")
    assert doc is not None, "no shipped controls analysis for mec-sim.ridge"
    png = controls_path(SHIPPED, "mec-sim.ridge", ".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    verdicts = {(m["model"].partition("@")[0], m["layer"]): m for m in doc["models"]}
    board = lb.load_board(SHIPPED, "mec-sim.ridge")
    latest = board.latest()
    assert set(MODELS) <= {e["model"] for e in latest}
    for entry in latest:
        v = verdicts.get((entry["model"], entry["layer"]))
        assert v is not None, (entry["model"], entry["layer"])
        assert entry["control_family"] == v["control_family"]
        assert entry["ceiled"] == pytest.approx(v["score"], abs=1e-12)
        if v["control_score"] is None:
            assert entry["control_score"] is None and entry["control_delta"] is None
            continue
        assert entry["control_score"] == pytest.approx(v["control_score"], abs=1e-12)
        assert entry["control_delta"] == pytest.approx(entry["ceiled"] - entry["control_score"],
                                                       abs=1e-12)


@pytest.fixture(scope="module")
def mec_sim_identity():
    return registry.load("dataset", "mec-sim", seed=0).identity()


@pytest.mark.slow
@pytest.mark.parametrize("benchmark", MEC_SIM)
def test_every_entry_was_scored_on_the_current_data(benchmark, mec_sim_identity):
    """Schema-2 entries whose data identity is that of the mec-sim the code generates now
    (cheap: no re-computation)."""
    board = lb.load_board(SHIPPED, benchmark)
    assert board.entries or benchmark in INCOMPLETE
    for entry in board.entries:
        assert entry["schema"] == lb.SCHEMA_VERSION
        why = lb.data_difference(entry, mec_sim_identity)
        assert why is None, (entry["id"], why)


#: Another CPU, simulated: numpy on other kernels (NPY_DISABLE_CPU_FEATURES=X86_V3), OpenBLAS
#: on another kernel family (OPENBLAS_CORETYPE=Sandybridge: AVX without FMA, which no current
#: CPU selects by itself, so every matrix product rounds differently) and torch's generic
#: kernels (ATEN_CPU_CAPABILITY=default: the networks' float32 rollouts round differently).
ANOTHER_CPU = {"NPY_DISABLE_CPU_FEATURES": "X86_V3", "OPENBLAS_CORETYPE": "Sandybridge",
               "ATEN_CPU_CAPABILITY": "default"}

#: The entry of each board re-computed under another CPU's kernels: the model whose rate maps
#: are the cheapest to compute (its rollout is shared by all boards in one verify run).
SAMPLE = ("untrained/rnn-tanh", "g")
#: Boards whose whole sample entry is too costly for the suite (tens of CPU-minutes); each has
#: a partial re-computation of its own below.
PARTIAL_SAMPLE: set[str] = {"mec-sim.enet"}


@pytest.mark.slow
def test_a_sample_of_every_board_verifies_on_another_cpu(tmp_path):
    """`mecbench leaderboard verify` re-computes one entry of every complete shipped board as
    on another CPU (``ANOTHER_CPU``), mec-sim generated afresh, from the installed package:
    every one must reproduce within 1e-6. (An
    elastic-net entry costs tens of CPU-minutes, beyond the test suite's budget.)"""
    import json
    import os
    import subprocess
    import sys

    ids = []
    for benchmark in (b for b in MEC_SIM if b not in INCOMPLETE | PARTIAL_SAMPLE):
        found = lb.load_board(SHIPPED, benchmark).find(*SAMPLE)
        assert found, (benchmark, SAMPLE)
        ids.append(found[-1]["id"])
    env = {**os.environ, **ANOTHER_CPU, "MECBENCH_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("MECBENCH_LEADERBOARD_DIR", None)
    argv = [sys.executable, "-m", "mecbench", "-q", "leaderboard", "verify", "--json",
            "--leaderboard-dir", str(SHIPPED)]
    for entry_id in ids:
        argv += ["--entry", entry_id]
    done = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=1800)
    doc = json.loads(done.stdout)
    statuses = {r["id"]: (r["status"], r["message"]) for r in doc["results"]}
    assert set(statuses) == set(ids), done.stderr
    assert all(status == "ok" for status, _ in statuses.values()), statuses
    assert done.returncode == 0


@pytest.mark.slow
def test_an_animal_of_the_enet_sample_entry_reproduces_on_another_cpu(tmp_path):
    """The elastic-net board's drift check, within the suite's budget: one animal of the 1 m
    arena of the sample entry is re-computed (every split, the benchmark's own rate maps,
    mapping and splits; the benchmark fits each animal on its own, so this is the full run's
    work for those cells) under the other CPU kernels of the test above, from the installed
    package, and its per-cell raw scores must match the entry's score file within 1e-6."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    board = lb.load_board(SHIPPED, "mec-sim.enet")
    assert board.find(*SAMPLE), f"{SAMPLE} is not on the mec-sim.enet board"
    env = {**os.environ, **ANOTHER_CPU, "MECBENCH_CACHE_DIR": str(tmp_path / "cache")}
    script = Path(__file__).with_name("enet_board_sample.py")
    done = subprocess.run([sys.executable, str(script), str(SHIPPED), *SAMPLE, "1x1m", "sim01"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout.splitlines()[-1])
    assert doc["n_cells"] == 100
    assert doc["nan_agree"], doc
    assert doc["max_abs_diff"] <= 1e-6, doc
