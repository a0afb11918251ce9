#!/usr/bin/env python
"""How stable are the per-cell (alpha, l1_ratio) picks of ``mec-sim.enet`` against the solver?

For each model's default layer on ``mec-sim``, runs the benchmark's cross-validated search
(:class:`mecbench.mapping.enet_cv.ElasticNetCVMapping`: 2-fold CV over the reference's short
grids on a split's training bins) twice, with the solver stopping at a relative duality gap of
``--tols`` (default 1e-4, the benchmark's, and 1e-7), and compares:

- the share of cells whose pick is identical under both tolerances, with the old rule (smallest
  CV error) and the new one (the most regularised candidate within the certified band of the
  best, bands at the benchmark's ``select_tol`` = 1e-4 in both runs);
- per-cell test scores (Pearson r on the split's test bins, after the benchmark's refit on the
  training bins with the picked values): the largest |difference| between the two tolerances.

Both rules' picks come from one search per tolerance (the old rule is the arg-min of the same
CV errors). Subset: the benchmark scores each animal's cells on the bins that animal visited;
this script takes, per arena, the first ``--animals`` animals (all their cells, 100 each) and
the first ``--splits`` splits, and refits per animal, as the benchmark does.

Usage::

    python scripts/enet_pick_stability.py [--models a,b] [--animals 2] [--splits 1]
        [--arenas 1x1m,2.2x2.2m] [--out FILE.json] [--progress FILE]

Set ``NPY_DISABLE_CPU_FEATURES=X86_V3`` to run numpy's other kernels ("another CPU") and
compare the JSON with a run without it (``--compare OTHER.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT_MODELS = ("rnn-relu-dos", "untrained/rnn-relu", "lstm-dos")


def _log(msg: str, progress: Path | None) -> None:
    line = f"{time.strftime('%H:%M:%S')} {msg}"
    print(line, flush=True)
    if progress is not None:
        with open(progress, "a") as f:
            f.write(line + "\n")


def _pearson(P: np.ndarray, Y: np.ndarray) -> np.ndarray:
    Pc = P - P.mean(axis=0)
    Yc = Y - Y.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sum(Pc * Yc, 0) / np.sqrt(np.sum(Pc * Pc, 0) * np.sum(Yc * Yc, 0))


def run_unit(X: np.ndarray, Y: np.ndarray, train: np.ndarray, test: np.ndarray,
             tol: float) -> dict[str, np.ndarray]:
    """One search at ``tol`` on the training rows; both rules' picks and test scores."""
    from mecbench.mapping.enet import (
        REFERENCE_ALPHAS_SHORT,
        REFERENCE_L1_RATIOS_SHORT,
        select_stable,
    )
    from mecbench.mapping.enet_cv import ElasticNetCVMapping

    m = ElasticNetCVMapping(tol=tol).fit(X[train], Y[train])
    err, band = m.cv_["cv_error"], m.cv_["cv_band"]
    n_l1, n_a, t = err.shape
    grid_a = np.asarray(REFERENCE_ALPHAS_SHORT)
    grid_l1 = np.asarray(REFERENCE_L1_RATIOS_SHORT)
    old = np.argmin(err.reshape(-1, t), axis=0)  # the old rule (select="min")
    new = select_stable(err, band, grid_a, grid_l1)
    out = {"old_pick": old, "new_pick": new}
    for rule, pick in (("old", old), ("new", new)):
        f = ElasticNetCVMapping(tol=tol).refit(X[train], Y[train], grid_a[pick % n_a],
                                               grid_l1[pick // n_a])
        out[f"{rule}_r"] = _pearson(f.predict(X[test]), Y[test])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS))
    ap.add_argument("--arenas", default=None, help="comma-separated (default: all of mec-sim)")
    ap.add_argument("--animals", type=int, default=2, help="animals per arena (first N)")
    ap.add_argument("--splits", type=int, default=1, help="splits (first N of the benchmark's)")
    ap.add_argument("--tols", default="1e-4,1e-7")
    ap.add_argument("--out", type=Path, default=None, help="write per-cell results as JSON")
    ap.add_argument("--compare", type=Path, default=None,
                    help="a JSON of another run (e.g. other CPU features): compare picks/scores")
    ap.add_argument("--progress", type=Path, default=None, help="append progress lines here")
    args = ap.parse_args(argv)

    from mecbench import registry
    from mecbench.benchmarks.builtin import build
    from mecbench.predictivity import resolve_splits

    tols = [float(t) for t in args.tols.split(",")]
    if len(tols) != 2:
        ap.error("--tols takes two tolerances")
    bench = build("mec-sim.enet")
    data = bench.neural_data
    arenas = args.arenas.split(",") if args.arenas else bench.arenas
    env = os.environ.get("NPY_DISABLE_CPU_FEATURES", "")
    _log(f"mec-sim.enet v{bench.version}; tols {tols}; NPY_DISABLE_CPU_FEATURES={env!r}; "
         f"{args.animals} animal(s)/arena, {args.splits} split(s)", args.progress)
    results: dict[str, dict] = {}
    for name in args.models.split(","):
        provider = registry.load("model", name)
        layer = provider.default_layer
        per = {f"{k}_{i}": [] for k in ("old_pick", "new_pick", "old_r", "new_r")
               for i in range(2)}
        for arena in arenas:
            ds = data.arena(arena)
            maps = bench.model_maps(provider, layer, arena)
            X_all = np.asarray(maps.values, dtype=np.float64).reshape(-1, maps.shape[-1])
            rate = np.asarray(ds["rate"].values)
            rate = rate.reshape(-1, rate.shape[-1])
            animals = list(dict.fromkeys(ds["animal"].values.tolist()))[: args.animals]
            splits = resolve_splits(bench.splits, (ds.sizes["x"], ds.sizes["y"]))
            for s, (train, test) in enumerate(splits[: args.splits]):
                for animal in animals:
                    cols = np.flatnonzero(ds["animal"].values == animal)
                    Y = rate[:, cols]
                    valid = np.all(np.isfinite(Y), axis=1) & np.all(np.isfinite(X_all), axis=1)
                    tr = np.intersect1d(train, np.flatnonzero(valid))
                    te = np.intersect1d(test, np.flatnonzero(valid))
                    for i, tol in enumerate(tols):
                        t0 = time.time()
                        u = run_unit(X_all, Y, tr, te, tol)
                        for k, v in u.items():
                            per[f"{k}_{i}"].append(v)
                        _log(f"{name}@{layer} {arena} split {s} {animal}: tol {tol:g}, "
                             f"{cols.size} cells, {tr.size} training bins, "
                             f"{time.time() - t0:.0f} s", args.progress)
        res = {k: np.concatenate(v).tolist() for k, v in per.items()}
        results[f"{name}@{layer}"] = res
        _summary(f"{name}@{layer}", res, tols, args.progress)
    if args.out is not None:
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps({"env": env, "tols": tols, "results": results}))
        os.replace(tmp, args.out)
    if args.compare is not None:
        other = json.loads(args.compare.read_text())
        for key, res in results.items():
            if key not in other["results"]:
                continue
            o = other["results"][key]
            for i, tol in enumerate(tols):
                for rule in ("old", "new"):
                    a = np.asarray(res[f"{rule}_pick_{i}"])
                    b = np.asarray(o[f"{rule}_pick_{i}"])
                    ra = np.asarray(res[f"{rule}_r_{i}"], dtype=float)
                    rb = np.asarray(o[f"{rule}_r_{i}"], dtype=float)
                    _log(f"vs {args.compare.name} (NPY_DISABLE_CPU_FEATURES={other['env']!r}) "
                         f"{key} tol {tol:g} {rule} rule: identical picks "
                         f"{np.mean(a == b):.2%}, max |Δr| {_maxdiff(ra, rb):.3g}",
                         args.progress)
    return 0


def _maxdiff(a: np.ndarray, b: np.ndarray) -> float:
    both = np.isfinite(a) & np.isfinite(b)
    if np.any(np.isfinite(a) != np.isfinite(b)):
        return float("inf")
    return float(np.max(np.abs(a[both] - b[both]), initial=0.0))


def _summary(key: str, res: dict, tols: list[float], progress: Path | None) -> None:
    n = len(res["old_pick_0"])
    for rule in ("old", "new"):
        same = np.asarray(res[f"{rule}_pick_0"]) == np.asarray(res[f"{rule}_pick_1"])
        r0 = np.asarray(res[f"{rule}_r_0"], dtype=float)
        r1 = np.asarray(res[f"{rule}_r_1"], dtype=float)
        _log(f"SUMMARY {key} ({n} cells) {rule} rule: identical picks at tol {tols[0]:g} and "
             f"{tols[1]:g}: {same.mean():.2%}; max |Δr| {_maxdiff(r0, r1):.3g} (all cells), "
             f"{_maxdiff(r0[same], r1[same]):.3g} (same picks); median r {np.nanmedian(r0):.4f}",
             progress)


if __name__ == "__main__":
    sys.exit(main())
