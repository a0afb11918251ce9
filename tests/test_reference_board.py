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
#: board is complete, so this list cannot go stale). Every mec-sim board is complete.
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
