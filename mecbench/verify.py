"""Re-scoring a leaderboard entry to check that the code still gives its numbers
(``mecbench leaderboard verify``). Storage lives in :mod:`mecbench.leaderboard`; this module
rebuilds the entry's benchmark and model and compares."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from mecbench.benchmarks import benchmark_for_entry
from mecbench.errors import MecbenchError
from mecbench.leaderboard import (
    data_difference,
    entry_from_score,
    entry_score_path,
    load_board_score,
)
from mecbench.registry import load_model

__all__ = ["verify_entry"]


def verify_entry(entry: Mapping[str, Any], *, tolerance: float = 1e-6, cache=None,
                 parallel=None, benchmarks: dict | None = None) -> dict:
    """Re-run an entry and compare it with what the board says.

    Returns a dict with ``status``, ``message`` and, when re-computed, ``max_abs_diff`` (over
    raw, ceiling, ceiled and, when the score file exists, every per-cell raw score):

    ``"ok"``
        re-computed, equal within ``tolerance`` (on any machine: the entry's data identity
        matches the benchmark's, see :mod:`mecbench.identity`);
    ``"mismatch"``
        re-computed, different: the code no longer gives the entry's scores;
    ``"stale"``
        not re-computed: the data, the benchmark (version) or the model (weights or
        configuration) changed since the entry was scored, so it cannot reproduce;
    ``"error"``
        the entry could not be re-computed (a missing model or data, a failing mapping, or an
        array backend other than the entry's: a float32 or GPU entry is re-computed only with
        the same ``--device``/``--dtype``, a reference entry only without them).
    """
    out = {"id": entry["id"], "model": entry["model"], "layer": entry["layer"],
           "benchmark": entry["benchmark"], "max_abs_diff": None}
    try:
        benchmarks = {} if benchmarks is None else benchmarks
        key = json.dumps([entry["benchmark"], entry.get("benchmark_source")], sort_keys=True)
        if key not in benchmarks:
            benchmarks[key] = benchmark_for_entry(entry)
        bench = benchmarks[key]
        if bench.version != entry["benchmark_version"]:
            return {**out, "status": "stale", "message": (
                f"not re-computed: the benchmark changed (version {bench.version} now, "
                f"{entry['benchmark_version']} in the entry)")}
        why = data_difference(entry, bench.data_identity)
        if why is not None:
            return {**out, "status": "stale",
                    "message": f"not re-computed: the benchmark data changed ({why})"}
        why = _backend_difference(entry.get("array_backend"), bench.array_backend)
        if why is not None:
            return {**out, "status": "error", "message": why}
        provider = load_model(entry["model"])
        if provider.fingerprint() != entry["weights_hash"]:
            return {**out, "status": "stale",
                    "message": "not re-computed: the model's weights or configuration changed"}
        score = bench.score_layers(provider, [entry["layer"]], seed=entry["seeds"]["model"],
                                   cache=cache, parallel=parallel)[entry["layer"]]
    except MecbenchError as err:
        return {**out, "status": "error", "message": str(err)}
    fresh = entry_from_score(score, command="")
    diffs = {}
    for name in ("raw", "ceiling", "ceiled"):
        a, b = entry[name], fresh[name]
        if (a is None) != (b is None):
            diffs[name] = float("inf")
        elif a is not None:
            diffs[name] = abs(float(a) - float(b))
    path = entry_score_path(entry) if "_dir" in entry else None
    if path is not None and path.is_file():
        try:
            stored = load_board_score(path)
            old = np.asarray(stored["raw"].values, dtype=float)
            new = np.asarray(score["raw"].values, dtype=float)
            if old.shape != new.shape or not np.array_equal(np.isnan(old), np.isnan(new)):
                diffs["per-cell raw"] = float("inf")
            elif old.size:
                both = np.isfinite(old)
                diffs["per-cell raw"] = float(np.max(np.abs(old[both] - new[both]), initial=0.0))
        except MecbenchError as err:
            return {**out, "status": "error", "message": f"score file: {err}"}
    worst = max(diffs.values(), default=0.0)
    out["max_abs_diff"] = worst
    if worst <= tolerance:
        return {**out, "status": "ok", "message": (
            f"re-computed, equal within {tolerance:g} (max |diff| {worst:.1e})")}
    bad = ", ".join(f"{k} {entry.get(k, '')}->{fresh.get(k, '')}" if k in fresh
                    else f"{k} |diff| {v:.2e}" for k, v in diffs.items() if v > tolerance)
    return {**out, "status": "mismatch", "message": (
        f"re-computed, different (max |diff| {worst:.1e} > {tolerance:g}): {bad}")}


def _backend_difference(scored: str | None, selected: str | None) -> str | None:
    """Why an entry scored on array backend ``scored`` cannot be re-computed on ``selected``
    (None: the reference float64 engine), or None when they are the same."""
    if scored == selected:
        return None

    def name(backend: str | None) -> str:
        return "the reference float64 engine" if backend is None else f"array backend {backend}"

    hint = ("run verify without --device/--dtype" if scored is None else
            "select it with --device/--dtype (or MECBENCH_BACKEND, MECBENCH_DEVICE, "
            "MECBENCH_DTYPE)")
    return (f"not re-computed: the entry was scored on {name(scored)} and this run selects "
            f"{name(selected)}; {hint}")
