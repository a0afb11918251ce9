"""Saving a controls analysis next to a leaderboard.

``mecbench controls BENCHMARK`` writes, in the leaderboard directory (``--leaderboard-dir``,
``$MECBENCH_LEADERBOARD_DIR`` or the user's board):

- ``controls/<benchmark>.json``: the analysis document (``--json`` output), read by the HTML
  report's "controls" section;
- ``controls/<benchmark>.png``: the plot of score vs effective dimensionality.

A previous analysis of the same benchmark is not lost: it is renamed to
``controls/<benchmark>.<its modification time>.json`` (and ``.png``) first.

With ``--save`` it also appends one leaderboard entry per model (its per-cell score file as
``mecbench score --save`` writes it) carrying three optional fields: ``control_family`` (the
dimension-matched random basis with the highest score, e.g. ``"fourier-d37"``),
``control_score`` (that control's headline score, mean over seeds; the same kind of number as
the entry's ``ceiled``, or ``raw`` without a ceiling) and ``control_delta`` (the entry's score
minus ``control_score``). They are null when no random basis reaches the model's effective
dimensionality.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from mecbench import leaderboard as lb
from mecbench.controls.plot import save_plot
from mecbench.errors import ConfigError, DataError
from mecbench.jsonsafe import json_safe
from mecbench.neural_data import atomic_write

__all__ = ["CONTROL_FIELDS", "controls_path", "load_controls", "save_analysis",
           "save_controls", "control_fields"]

#: Optional leaderboard fields written by ``mecbench controls --save``.
CONTROL_FIELDS = ("control_family", "control_score", "control_delta")


def controls_path(directory: str | os.PathLike, benchmark: str, suffix: str = ".json") -> Path:
    """``<directory>/controls/<benchmark><suffix>``."""
    lb.board_path(directory, benchmark)  # validates the benchmark name (no path tricks)
    return Path(directory) / "controls" / f"{benchmark}{suffix}"


def load_controls(directory: str | os.PathLike, benchmark: str) -> dict | None:
    """The saved analysis of ``benchmark`` in ``directory``, or None if there is none.

    Raises
    ------
    DataError
        When the file exists but is not a controls document.
    """
    path = controls_path(directory, benchmark)
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: not a readable controls analysis ({err})") from err
    if not isinstance(doc, dict) or doc.get("command") != "controls" or "points" not in doc:
        raise DataError(f"{path}: not a controls analysis (no 'points')")
    return doc


def control_fields(verdict: Any) -> dict:
    """The optional leaderboard fields of one model's :class:`ModelVerdict`."""
    return {"control_family": verdict.control_family,
            "control_score": lb.clean_float(verdict.control_score),
            "control_delta": lb.clean_float(verdict.control_delta)}


def _keep_previous(path: Path, plot: Path) -> str | None:
    """Rename an existing analysis (and its plot) to a name stamped with its modification
    time; returns the new name of the analysis, or None when there was none."""
    if not path.is_file():
        return None
    stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(path.stat().st_mtime))
    k = 0
    while True:
        suffix = f".{stamp}" + (f"-{k}" if k else "")
        old = path.with_name(f"{path.stem}{suffix}.json")
        old_plot = plot.with_name(f"{plot.stem}{suffix}.png")
        if not old.exists() and not old_plot.exists():
            break
        k += 1
    path.rename(old)
    if plot.is_file():
        plot.rename(old_plot)
    return str(old)


def save_analysis(doc: dict, directory: str | os.PathLike | None) -> dict:
    """Write the analysis document and its plot for the report (see the module docstring).

    Returns ``{"results": path, "plot": path, "previous": path or None}``.
    """
    directory = lb.write_dir(directory)
    path = controls_path(directory, doc["benchmark"])
    plot_path = controls_path(directory, doc["benchmark"], ".png")
    text = json.dumps(json_safe(doc), indent=1, allow_nan=False)  # fails before anything moves
    path.parent.mkdir(parents=True, exist_ok=True)
    # two runs on one board must not interleave (one would rename the other's fresh files)
    lock = FileLock(str(path) + ".lock", timeout=lb.LOCK_TIMEOUT_S)
    try:
        with lock:
            previous = _keep_previous(path, plot_path)
            atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
            plot = save_plot(doc, plot_path)
    except Timeout:
        raise ConfigError(f"{path}: could not lock the analysis within "
                          f"{lb.LOCK_TIMEOUT_S:g} s (remove {path}.lock if no mecbench "
                          "process is running)") from None
    return {"results": str(path), "plot": str(plot), "previous": previous}


def save_controls(result: Any, doc: dict, directory: str | os.PathLike | None, *,
                  command: str, analysis: dict | None = None) -> dict:
    """Write the analysis, its plot (unless ``analysis``, what :func:`save_analysis` returned,
    says they are written) and the models' entries (see the module docstring).

    Returns ``{"results": path, "plot": path, "previous": path or None,
    "entries": [entry ids]}``.
    """
    out = dict(analysis) if analysis is not None else save_analysis(doc, directory)
    directory = lb.write_dir(directory)
    ids = []
    for verdict in result.models:
        score = result.scores[verdict.model]
        entry = lb.entry_from_score(score, command=command)
        entry.update(control_fields(verdict))
        score_path = lb.score_file_path(directory, entry["benchmark"], entry["id"])
        score_path.parent.mkdir(parents=True, exist_ok=True)
        score.save(score_path)
        entry["score_file"] = score_path.relative_to(directory).as_posix()
        lb.append_entry(directory, entry)
        ids.append(entry["id"])
    return {**out, "entries": ids}
