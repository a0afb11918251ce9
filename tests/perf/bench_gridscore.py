"""Speed of the vectorised grid-score analysis against a per-map reference.

The reference computes, for one map at a time, a NaN-aware autocorrelogram with
``scipy.signal.correlate`` sums and the rotated copies with ``scipy.ndimage.rotate`` (order 1),
then both score forms over the same annuli: the straightforward way to write it.

Run: ``python tests/perf/bench_gridscore.py [--quick]``.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from scipy import ndimage, signal

from mecbench.analysis import grid_analysis


def reference_scores(m: np.ndarray) -> tuple[float, float]:
    """Per-map grid score (min–max over expanding annuli, mean over 10 annuli)."""
    mask = np.isfinite(m).astype(float)
    v = np.where(mask > 0, m, 0.0)
    N = np.rint(signal.correlate(mask, mask, method="fft"))
    s1 = signal.correlate(v, mask, method="fft")
    s2 = signal.correlate(mask, v, method="fft")
    s11 = signal.correlate(v * v, mask, method="fft")
    s22 = signal.correlate(mask, v * v, method="fft")
    s12 = signal.correlate(v, v, method="fft")
    with np.errstate(invalid="ignore", divide="ignore"):
        ac = (N * s12 - s1 * s2) / np.sqrt((N * s11 - s1**2) * (N * s22 - s2**2))
    ac[N < 20] = np.nan
    X = m.shape[0]
    c = X - 1
    ii, jj = np.meshgrid(np.arange(2 * X - 1) - c, np.arange(2 * X - 1) - c, indexing="ij")
    rad = np.hypot(ii, jj)
    rot = {a: ndimage.rotate(np.nan_to_num(ac), a, reshape=False, order=1)
           for a in (30, 60, 90, 120, 150)}

    def r(a, ring):
        x, y = ac[ring], rot[a][ring]
        ok = np.isfinite(x)
        return np.corrcoef(x[ok], y[ok])[0, 1]

    mm, dm = -np.inf, -np.inf
    for outer in range(8, X):
        ring = (rad > 5) & (rad <= outer)
        rs = {a: r(a, ring) for a in rot}
        mm = max(mm, min(rs[60], rs[120]) - max(rs[30], rs[90], rs[150]))
    for outer in np.linspace(0.4, 1.0, 10) * X:
        ring = (rad > 0.2 * X) & (rad <= outer)
        rs = {a: r(a, ring) for a in rot}
        dm = max(dm, (rs[60] + rs[120]) / 2 - (rs[30] + rs[90] + rs[150]) / 3)
    return mm, dm


def maps(n: int, size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = np.arange(size) * 0.05
    X, Y = np.meshgrid(c, c, indexing="ij")
    sp = rng.uniform(0.3, 0.8, n)
    ori = rng.uniform(0, np.pi / 3, n)
    k = 4 * np.pi / (np.sqrt(3) * sp)
    out = np.zeros((size, size, n))
    for a in (0, 1, 2):
        t = ori + a * np.pi / 3
        out += np.cos(k * (np.cos(t) * X[..., None] + np.sin(t) * Y[..., None]))
    out += rng.normal(scale=0.5, size=out.shape)
    out[rng.random(out.shape) < 0.1] = np.nan
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    args = parser.parse_args(argv)
    sizes = [(256, 20), (256, 44)] if args.quick else [(4096, 20), (4096, 44), (1024, 64)]
    n_ref = 4 if args.quick else 16
    print(f"{'maps':>6} {'bins':>6} {'vectorised s':>13} {'maps/s':>9} {'reference s/map':>16} "
          f"{'speed-up':>9}")
    for n, size in sizes:
        stack = maps(n, size)
        t0 = time.perf_counter()
        grid_analysis(stack, bin_size=0.05)
        t_vec = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(n_ref):
            reference_scores(stack[..., i])
        t_ref = (time.perf_counter() - t0) / n_ref
        print(f"{n:>6} {size:>3}x{size:<2} {t_vec:>13.2f} {n / t_vec:>9.0f} {t_ref:>16.4f} "
              f"{t_ref * n / t_vec:>8.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
