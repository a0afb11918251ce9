"""Shared pytest fixtures and paths."""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Busy-waiting OpenMP workers make torch tens of times slower when the cores are shared.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
REAL_MEC = SHARED_DATA / "real-mec" / "sargolini-1m-box"

#: Package → folder of the project root that an install maps into ``mecbench`` (setup.py).
PLUGIN_FOLDERS = {"mecbench.models": "models", "mecbench.datasets": "datasets",
                  "mecbench.leaderboards": "leaderboards"}


class _PluginFolders(importlib.abc.MetaPathFinder):
    """Finds :data:`PLUGIN_FOLDERS` in the project root, as an editable install does."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        if fullname not in PLUGIN_FOLDERS:
            return None
        folder = REPO / PLUGIN_FOLDERS[fullname]
        return importlib.util.spec_from_file_location(
            fullname, folder / "__init__.py", submodule_search_locations=[str(folder)])


def _map_plugin_folders() -> None:
    """``python -m pytest`` from the project root puts the root first on ``sys.path``, so
    ``mecbench`` is the source folder, which lacks the plugin packages an install adds
    (``models/`` is installed as ``mecbench.models``...): find them in the root then."""
    import mecbench

    if Path(mecbench.__file__).resolve().parent != REPO / "mecbench":
        return  # an installed mecbench: it has them
    if any(importlib.util.find_spec(name) is None for name in PLUGIN_FOLDERS):
        sys.meta_path.append(_PluginFolders())


_map_plugin_folders()


def _env_pointing_to(variable: str, path) -> Iterator[None]:
    """Set ``variable`` to ``path`` for the session, then restore it."""
    old = os.environ.get(variable)
    os.environ[variable] = str(path)
    yield
    if old is None:
        os.environ.pop(variable, None)
    else:
        os.environ[variable] = old


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """The test session caches into its own directory (shared by all tests, so a dataset is
    built once), never the user's. Tests that need an empty cache set their own."""
    yield from _env_pointing_to("MECBENCH_CACHE_DIR", tmp_path_factory.mktemp("cache"))


@pytest.fixture(autouse=True, scope="session")
def _isolated_board(tmp_path_factory):
    """Commands that write a leaderboard or an analysis by default write into the test
    session's own directory, never the user's board. Tests that need one set their own."""
    yield from _env_pointing_to("MECBENCH_LEADERBOARD_DIR", tmp_path_factory.mktemp("board"))


@pytest.fixture
def real_mec_dir() -> Path:
    """The real Sargolini 2006 recordings in ../shared; skips when absent."""
    if not REAL_MEC.is_dir():
        pytest.skip("../shared/data/real-mec is not available")
    return REAL_MEC
