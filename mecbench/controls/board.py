"""Saving a controls analysis next to a leaderboard.

``mecbench controls BENCHMARK --save`` writes, in the leaderboard directory (``--leaderboard-dir``,
``$MECBENCH_LEADERBOARD_DIR`` or the user's board):

- ``controls/<benchmark>.json``: the analysis document (``--json`` output), read by the HTML
  report's "controls" section;
- ``controls/<benchmark>.png``: the plot of score vs effective dimensionality;
- one leaderboard entry per model (its per-cell score file as ``mecbench score --save`` writes
  it) carrying three optional fields: ``control_family`` (the dimension-matched random basis
  with the highest score, e.g. ``"fourier-d37"``), ``control_score`` (that control's headline
  score, mean over seeds; the same kind of number as the entry's ``ceiled``, or ``raw`` without
  a ceiling) and ``control_delta`` (the entry's score minus ``control_score``). They are null
  when no random basis reaches the model's effective dimensionality.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mecbench.errors import DataError

__all__ = ["CONTROL_FIELDS", "controls_path", "load_controls", "save_controls",
           "control_fields"]

#: Optional leaderboard fields written by ``mecbench controls --save``.
CONTROL_FIELDS = ("control_family", "control_score", "control_delta")


def controls_path(directory: str | os.PathLike, benchmark: str, suffix: str = ".json") -> Path:
    """``<directory>/controls/<benchmark><suffix>``."""
    from mecbench.leaderboard import board_path

    board_path(directory, benchmark)  # validates the benchmark name (no path tricks)
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
    from mecbench.leaderboard import clean_float

    return {"control_family": verdict.control_family,
            "control_score": clean_float(verdict.control_score),
            "control_delta": clean_float(verdict.control_delta)}


def save_controls(result: Any, doc: dict, directory: str | os.PathLike | None, *,
                  command: str) -> dict:
    """Write the analysis, its plot and the models' entries (see the module docstring).

    Returns ``{"results": path, "plot": path, "entries": [entry ids]}``.
    """
    from mecbench import leaderboard as lb
    from mecbench.cli._options import _clean
    from mecbench.controls.plot import save_plot
    from mecbench.neural_data import atomic_write

    directory = lb.write_dir(directory)
    path = controls_path(directory, result.benchmark)
    text = json.dumps(_clean(doc), indent=1, allow_nan=False)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    plot = save_plot(doc, controls_path(directory, result.benchmark, ".png"))
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
    return {"results": str(path), "plot": str(plot), "entries": ids}
