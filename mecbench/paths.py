"""Where mecbench keeps files: the user cache directory."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir"]


def cache_dir(*parts: str) -> Path:
    """The cache directory (``$MECBENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/mecbench``, else
    ``~/.cache/mecbench``), joined with ``parts`` and created."""
    root = os.environ.get("MECBENCH_CACHE_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
        root = os.path.join(base, "mecbench")
    path = Path(root, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
