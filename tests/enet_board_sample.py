"""Re-compute part of a shipped ``mec-sim.enet`` entry and print how far it is from the board.

Usage: ``python tests/enet_board_sample.py BOARD_DIR MODEL LAYER ARENA ANIMAL``

The elastic-net benchmark fits every animal's cells on their own (per-cell CV within each
animal's fit), so one animal of one arena is re-computed exactly as in the full run: the
benchmark's rate maps of the model, that animal's recordings, the benchmark's splits and
mapping. Prints one JSON object: the number of cells compared, the largest |difference| of
their per-cell raw scores against the entry's score file, and whether their undefined cells
(NaN) agree. Used by ``tests/test_reference_board.py`` under other CPU kernels; a full
``mecbench leaderboard verify`` of an elastic-net entry costs tens of CPU-minutes.
"""

from __future__ import annotations

import json
import sys

import numpy as np


def main(board_dir: str, model: str, layer: str, arena: str, animal: str) -> int:
    from mecbench import leaderboard as lb
    from mecbench.benchmarks import get_benchmark
    from mecbench.registry import load_model
    from mecbench.score import cell_mean

    board = lb.load_board(board_dir, "mec-sim.enet")
    found = board.find(model, layer)
    if not found:
        raise SystemExit(f"{model}@{layer} is not on the mec-sim.enet board in {board_dir}")
    entry = found[-1]
    bench = get_benchmark("mec-sim.enet")
    if bench.version != entry["benchmark_version"]:
        raise SystemExit(f"benchmark version {bench.version}, entry {entry['benchmark_version']}")
    why = lb.data_difference(entry, bench.data_identity)
    if why is not None:
        raise SystemExit(f"the data changed: {why}")
    provider = load_model(model)
    if provider.fingerprint() != entry["weights_hash"]:
        raise SystemExit("the model's weights or configuration changed")
    rate = bench.neural_data.rate(arena)
    rate = rate.isel(neuroid=np.flatnonzero(rate["animal"].values.astype(str) == animal))
    maps = bench.model_maps(provider, layer, arena, seed=entry["seeds"]["model"])
    r = bench.mapping.score_maps(maps, rate, bench.splits, per_animal=bench.per_animal)
    fresh = cell_mean(r)
    ids = [f"{arena}/{i}" for i in r["neuroid_id"].values.astype(str)]
    stored = lb.load_board_score(lb.entry_score_path(entry))
    where = {str(i): k for k, i in enumerate(stored["neuroid_id"].values)}
    old = np.asarray(stored["raw"].values, dtype=float)[[where[i] for i in ids]]
    both = np.isfinite(old) & np.isfinite(fresh)
    print(json.dumps({
        "entry": entry["id"], "n_cells": len(ids),
        "nan_agree": bool(np.array_equal(np.isnan(old), np.isnan(fresh))),
        "max_abs_diff": float(np.max(np.abs(old[both] - fresh[both]), initial=0.0)),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:6]))
