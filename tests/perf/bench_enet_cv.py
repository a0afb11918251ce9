"""The per-cell cross-validated elastic net (the ``enet`` benchmarks' search) on one (animal,
split), against the alternatives, in one run.

Workloads:

- ``reference`` (default): the reference scale of ``bench_scoring.py`` (one layer of 4096
  units on 44×44 bins, 100 cells of one animal), the training bins of one random 20 % split;
- ``mec-sim``: a built-in model's default layer and one animal of the built-in ``mec-sim``
  data (``--model``, ``--arena``, ``--animal``), the training bins of the ``mec-sim.enet``
  benchmark's first split (the model's rate maps are computed or read from the cache).

Rows, all on the same training bins, folds and grids (the reference's short grids, 9 alphas ×
10 l1_ratios, 2-fold CV, relative duality gap 1e-4):

- ``mecbench``: :func:`mecbench.mapping.elastic_net_cv` as the ``enet-cv`` mapping runs it
  (stable rule with refinement; candidates the rule can never use are not solved);
- ``mecbench, all candidates``: the same with ``solve_unusable=True`` (every candidate solved,
  as the search did before it skipped the unusable ones); its picks must be identical;
- ``scikit-learn``: ``ElasticNet(alpha, l1_ratio, tol=1e-4)`` fitted per cell, fold and
  candidate, as a per-cell grid search does; timed on ``--sk-cells`` cells and extrapolated to
  all cells (marked ``*``). Its column ``|Δ err| / band`` is the largest difference of its CV
  errors from mecbench's (all candidates solved) in units of mecbench's certified band at the
  same gap (:func:`mecbench.mapping.enet.cv_error_band`), over the candidates with a finite
  band that scikit-learn converged (those stopped at ``max_iter`` are counted apart). Both
  solutions are within one band of the exact error, so the ratio is at most 2 when both
  solvers keep their certificates.

Every row prints its wall time for the (animal, split) and that time × 60 (6 animals × 10
splits: one layer of the reference workload, single-threaded, as each work unit runs). Run it
on a quiet machine; the ratios are what the README and ``docs/performance.md`` quote.

Usage: ``python tests/perf/bench_enet_cv.py [--workload mec-sim --model untrained/rnn-tanh]``
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

UNITS_PER_LAYER = 60  # 6 animals × 10 splits


def reference_problem(n_units: int, n_cells: int, seed: int = 0):
    """Training rows (X, Y) of one animal and one random 20 % split, reference scale."""
    from bench_scoring import make_problem

    _, _, X, Y, animals = make_problem(44, n_units, 1, n_cells, seed=seed)
    ok = ~np.isnan(Y).any(axis=1)
    rng = np.random.default_rng(seed)
    rows = np.flatnonzero(ok)
    train = np.sort(rng.choice(rows, int(0.2 * X.shape[0]), replace=False))
    return X[train], Y[train]


def mec_sim_problem(model: str, arena: str, animal: str):
    """Training rows (X, Y) of ``animal`` in the ``mec-sim.enet`` benchmark's first split, as
    the benchmark passes them to its mapping."""
    from mecbench.benchmarks import get_benchmark
    from mecbench.mapping import enet_cv
    from mecbench.registry import load_model

    bench = get_benchmark("mec-sim.enet")
    provider = load_model(model)
    layer = provider.default_layer
    maps = bench.model_maps(provider, layer, arena, seed=0)
    rate = bench.neural_data.rate(arena)
    rate = rate.isel(neuroid=np.flatnonzero(rate["animal"].values.astype(str) == animal))
    if rate.sizes["neuroid"] == 0:
        raise SystemExit(f"no cells of animal {animal!r} in arena {arena!r}")
    captured = {}

    def capture(X, Y, **_):
        captured["X"], captured["Y"] = np.array(X), np.array(Y)
        raise _Captured

    original = enet_cv.elastic_net_cv
    enet_cv.elastic_net_cv = capture
    try:
        bench.mapping.score_maps(maps, rate, _first_split(bench.splits), per_animal=True)
    except _Captured:
        pass
    finally:
        enet_cv.elastic_net_cv = original
    return captured["X"], captured["Y"]


class _Captured(Exception):
    """Raised once the mapping has been handed its first training rows."""


def _first_split(scheme):
    import dataclasses

    return dataclasses.replace(scheme, n_splits=1)


def sklearn_search_seconds(X, Y, cells, alphas, l1s, seed: int, tol: float):
    """Time scikit-learn's per-cell, per-fold, per-candidate ElasticNet fits on ``cells``;
    returns (seconds, CV errors (n_l1, n_alphas, len(cells)), converged: no
    ConvergenceWarning in either fold (same shape))."""
    import sklearn.linear_model as lm
    from sklearn.exceptions import ConvergenceWarning

    n = X.shape[0]
    folds = np.array_split(np.random.default_rng(seed).permutation(n), 2)
    err = np.zeros((len(l1s), len(alphas), len(cells)))
    converged = np.ones(err.shape, dtype=bool)
    start = time.perf_counter()
    for j, cell in enumerate(cells):
        for val in folds:
            fit = np.setdiff1d(np.arange(n), val)
            for i, l1 in enumerate(l1s):
                for k, a in enumerate(alphas):
                    m = lm.ElasticNet(alpha=a, l1_ratio=l1, tol=tol, max_iter=5000)
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always", ConvergenceWarning)
                        pred = m.fit(X[fit], Y[fit, cell]).predict(X[val])
                    err[i, k, j] += np.sum((Y[val, cell] - pred) ** 2)
                    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
                        converged[i, k, j] = False
    return time.perf_counter() - start, err, converged


def main(argv=None) -> int:
    from mecbench.mapping import elastic_net_cv
    from mecbench.mapping._linalg import single_thread
    from mecbench.mapping.enet import REFERENCE_ALPHAS_SHORT, REFERENCE_L1_RATIOS_SHORT

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workload", choices=("reference", "mec-sim"), default="reference")
    ap.add_argument("--units", type=int, default=4096, help="reference workload: layer width")
    ap.add_argument("--cells", type=int, default=100, help="reference workload: cells")
    ap.add_argument("--model", default="untrained/rnn-tanh")
    ap.add_argument("--arena", default="2.2x2.2m")
    ap.add_argument("--animal", default="sim01")
    ap.add_argument("--sk-cells", type=int, default=2,
                    help="cells timed with scikit-learn (0: no scikit-learn row)")
    args = ap.parse_args(argv)

    if args.workload == "reference":
        X, Y = reference_problem(args.units, args.cells)
        what = f"reference workload, {args.units} units, {args.cells} cells"
    else:
        X, Y = mec_sim_problem(args.model, args.arena, args.animal)
        what = f"mec-sim.enet, {args.model}, {args.arena}, {args.animal}, split 0"
    alphas, l1s = REFERENCE_ALPHAS_SHORT, REFERENCE_L1_RATIOS_SHORT
    kw = dict(alphas=alphas, l1_ratios=l1s, cv=2, seed=0, tol=1e-4, select_tol=1e-4)
    print(f"{what}: {X.shape[0]} training bins, {X.shape[1]} features, {Y.shape[1]} cells; "
          f"{len(alphas)} alphas x {len(l1s)} l1_ratios, 2 folds", flush=True)

    rows = []
    results = {}
    for name, extra in (("mecbench", {}), ("mecbench, all candidates",
                                          {"solve_unusable": True})):
        with single_thread():
            start = time.perf_counter()
            results[name] = elastic_net_cv(X, Y, **kw, **extra)
            rows.append((name, time.perf_counter() - start, False, ""))
        print(f"  {name}: {rows[-1][1]:.1f} s", flush=True)
    ours, full = results["mecbench"], results["mecbench, all candidates"]
    same = np.mean((ours["alpha"] == full["alpha"]) & (ours["l1_ratio"] == full["l1_ratio"]))
    solved = np.isfinite(ours["cv_error"])
    err_same = np.array_equal(ours["cv_error"][solved], full["cv_error"][solved])

    if args.sk_cells > 0:
        cells = np.linspace(0, Y.shape[1] - 1, args.sk_cells).round().astype(int)
        t_sk, err_sk, sk_ok = sklearn_search_seconds(X, Y, cells, alphas, l1s, seed=0,
                                                     tol=1e-4)
        mine = full["cv_error"][..., cells]
        band = full["cv_band"][..., cells]
        judged = sk_ok & np.isfinite(band) & (band > 0)
        delta = np.max(np.abs(err_sk - mine)[judged] / band[judged], initial=0.0)
        rows.append(("scikit-learn", t_sk * Y.shape[1] / len(cells), True,
                     f"{delta:.2f}"))
        sk_note = (f"scikit-learn: {int((~sk_ok).sum())} of {sk_ok.size} (candidate, cell) "
                   "fits stopped at max_iter=5000 short of tol (left out of |Δ err| / band)")

    t_ours = rows[0][1]
    print()
    print(f"{'method':<28}{'s per unit':>12}{'x 60 units':>12}{'vs mecbench':>13}"
          f"{'|Δ err| / band':>16}")
    for name, secs, extrapolated, delta in rows:
        mark = "*" if extrapolated else " "
        print(f"{name:<28}{secs:>11.1f}{mark}{secs * UNITS_PER_LAYER:>11.0f}{mark}"
              f"{secs / t_ours:>12.2f}x{delta:>16}")
    if args.sk_cells > 0:
        print("* extrapolated from", args.sk_cells, "cells" if args.sk_cells != 1 else "cell")
        print(sk_note)
    print(f"\npicks identical with and without the unusable candidates: {same:.1%} of "
          f"{Y.shape[1]} cells; CV errors of the solved candidates bit-identical: {err_same}")
    print(f"candidates not solved (band unbounded): {int((~solved).sum())} of {solved.size} "
          f"(candidate, cell) pairs; refined: {ours['n_refined']}")
    return 0 if same == 1.0 and err_same else 1


if __name__ == "__main__":
    raise SystemExit(main())
