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
