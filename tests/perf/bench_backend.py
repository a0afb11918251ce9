"""Array backends of the ridge path: numpy against torch on the CPU and, where there is one,
on a CUDA GPU, timed in one run on the same problem.

Workload (the reference scale of ``bench_scoring.py``): one model layer of 4096 units on
44×44 bins, 6 animals × 100 cells (each animal with its own unvisited bins), ``Ridge(alpha=1)``,
train on 20 % of the bins, 10 splits — :func:`mecbench.predictivity.score_rate_maps` end to
end, building the layer's feature cache (its Gram matrix included) in every run.

Rows: numpy float64 (the reference), torch CPU float64 and float32, and with CUDA torch GPU
float64 and float32. Columns: best-of-``--repeats`` wall time, speed-up over numpy on this
machine's CPU in the same run, and max |Δr| against numpy over every (cell, split). Each
backend first scores a small problem once (library loading, CUDA context), not timed.

``--side`` and ``--units`` change the scale (e.g. ``--side 88``: 7744 bins). To compare a GPU
with a small CPU in one run, pin the process, e.g. ``taskset -c 0,1`` with
``OMP_NUM_THREADS=2``.

Usage: ``python tests/perf/bench_backend.py [--quick] [--repeats N] [--side N] [--units N]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

# busy-waiting OpenMP workers make torch on a shared CPU many times slower (tests/conftest.py)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from mecbench.mapping import Ridge
from mecbench.predictivity import score_rate_maps
from mecbench.ratemaps import make_rate_maps
from mecbench.splits import SplitScheme


def make_problem(n_side: int, n_units: int, n_animals: int, n_cells: int, seed: int = 0):
    """Smooth features (rectified plane waves over the arena) and cells mixing a few of them
    with noise; each animal misses a few random bins (NaN)."""
    rng = np.random.default_rng(seed)
    width = 2.2
    c = -width / 2 + width / n_side * (np.arange(n_side) + 0.5)
    px, py = (a.ravel() for a in np.meshgrid(c, c, indexing="ij"))
    k = rng.normal(0.0, 6.0, (2, n_units))
    X = np.maximum(np.cos(np.outer(px, k[0]) + np.outer(py, k[1])
                          + rng.uniform(0, 2 * np.pi, n_units)), 0.0)
    X += 0.05 * rng.standard_normal(X.shape)
    cells, animals = [], []
    for a in range(n_animals):
        w = rng.gamma(1.0, 1.0, (n_units, n_cells)) * (rng.random((n_units, n_cells)) < 0.01)
        rates = X @ w
        rates = 10 * rates / np.maximum(rates.max(axis=0), 1e-9)
        rates = np.maximum(rates + rng.normal(0.0, 1.0 + 0.3 * rates), 0.0)
        rates[rng.choice(px.size, int(0.03 * px.size) + a, replace=False)] = np.nan
        cells.append(rates)
        animals += [f"rat{a}"] * n_cells
    Y = np.concatenate(cells, axis=1)
    model = make_rate_maps(X.reshape(n_side, n_side, n_units), arena_width=width,
                           bin_size=width / n_side)
    neural = make_rate_maps(Y.reshape(n_side, n_side, -1), arena_width=width,
                            bin_size=width / n_side, animal=animals,
                            neuroid_id=[f"c{i}" for i in range(Y.shape[1])])
    return model, neural


def backends() -> list[str]:
    """The backends this machine can run, the reference first."""
    out = ["numpy:cpu:float64"]
    try:
        import torch
    except ImportError:
        return out
    out += ["torch:cpu:float64", "torch:cpu:float32"]
    if torch.cuda.is_available():
        out += ["torch:cuda:float64", "torch:cuda:float32"]
    return out


def score(model, neural, scheme, backend: str) -> tuple[float, np.ndarray]:
    """(seconds, r (neuroid, split)) of one end-to-end ridge scoring on ``backend``."""
    t0 = time.perf_counter()
    r = score_rate_maps(model, neural, Ridge(alpha=1.0, backend=backend), scheme)
    return time.perf_counter() - t0, np.asarray(r.values)


def device_name(backend: str) -> str:
    if ":cuda" not in backend:
        return f"CPU, {os.cpu_count()} cores"
    import torch

    return torch.cuda.get_device_name(0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small smoke run")
    ap.add_argument("--repeats", type=int, default=None,
                    help="timed runs per backend, best kept (default 3; 1 with --quick)")
    ap.add_argument("--side", type=int, default=None, help="bins per side (default 44)")
    ap.add_argument("--units", type=int, default=None, help="model units (default 4096)")
    args = ap.parse_args(argv)
    if args.quick:
        n_side, n_units, n_animals, n_cells, n_splits = 22, 512, 3, 20, 3
    else:
        n_side, n_units, n_animals, n_cells, n_splits = 44, 4096, 6, 100, 10
    n_side, n_units = args.side or n_side, args.units or n_units
    repeats = args.repeats or (1 if args.quick else 3)
    model, neural = make_problem(n_side, n_units, n_animals, n_cells)
    small_model, small_neural = make_problem(8, 16, 2, 3, seed=1)
    scheme = SplitScheme.random(0.2, n_splits, seed=0)
    print(f"problem: {n_units} units, {n_side}x{n_side} bins, {n_animals} animals x {n_cells} "
          f"cells, Ridge(alpha=1), train_frac 0.2, {n_splits} splits; best of {repeats}")
    rows = []
    ref_time = ref_r = None
    for backend in backends():
        score(small_model, small_neural, SplitScheme.random(0.5, 2, seed=0), backend)  # warm-up
        best, r = min((score(model, neural, scheme, backend) for _ in range(repeats)),
                      key=lambda pair: pair[0])
        if ref_r is None:
            ref_time, ref_r = best, r
        delta = float(np.nanmax(np.abs(r - ref_r))) if np.isfinite(r).any() else float("nan")
        rows.append((backend, device_name(backend), best, ref_time / best, delta))
    print(f"{'backend':<20}{'device':<28}{'time (s)':>10}{'vs numpy':>10}{'max |Δr|':>12}")
    for backend, dev, t, speedup, delta in rows:
        print(f"{backend:<20}{dev[:27]:<28}{t:>10.3f}{speedup:>9.2f}x{delta:>12.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
