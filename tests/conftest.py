"""Shared pytest fixtures and paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Busy-waiting OpenMP workers make torch tens of times slower when the cores are shared.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
REAL_MEC = SHARED_DATA / "real-mec" / "sargolini-1m-box"


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """The test session caches into its own directory (shared by all tests, so a dataset is
    built once), never the user's. Tests that need an empty cache set their own."""
    old = os.environ.get("MECBENCH_CACHE_DIR")
    os.environ["MECBENCH_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("MECBENCH_CACHE_DIR", None)
    else:
        os.environ["MECBENCH_CACHE_DIR"] = old


@pytest.fixture(autouse=True, scope="session")
def _isolated_board(tmp_path_factory):
    """Commands that write a leaderboard or an analysis by default write into the test
    session's own directory, never the user's board. Tests that need one set their own."""
    old = os.environ.get("MECBENCH_LEADERBOARD_DIR")
    os.environ["MECBENCH_LEADERBOARD_DIR"] = str(tmp_path_factory.mktemp("board"))
    yield
    if old is None:
        os.environ.pop("MECBENCH_LEADERBOARD_DIR", None)
    else:
        os.environ["MECBENCH_LEADERBOARD_DIR"] = old


@pytest.fixture
def real_mec_dir() -> Path:
    """The real Sargolini 2006 recordings in ../shared; skips when absent."""
    if not REAL_MEC.is_dir():
        pytest.skip("../shared/data/real-mec is not available")
    return REAL_MEC
