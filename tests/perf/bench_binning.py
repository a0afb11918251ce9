"""Spike binning speed: ``mecbench.binning.bin_session`` vs ``scipy.stats.binned_statistic_2d``
called once per cell.

One session of 30 000 position samples (600 s at 50 Hz, a jittered Lissajous path covering a
1 m box, 5 cm bins) and 100 cells with Poisson spike trains (1–10 Hz). Both sides compute
unsmoothed, occupancy-normalised rate maps without speed filter or halves (what scipy can do):

- mecbench: one ``bin_session`` call for all cells (one ``bincount`` over (cell, bin) indices);
- scipy: occupancy with one ``binned_statistic_2d(..., "sum")`` call, then for each cell the
  position sample of every spike (``searchsorted``) and ``binned_statistic_2d(..., "count")``.

Each side is timed as the best of ``--repeats`` runs (default 3) in this one process, by the wall
clock or, with ``--cpu-time``, by the process CPU clock (fairer on a machine shared with other
jobs: numpy's bincount/gather and scipy's loop are single-threaded). The maps are compared (max
|Δ| over finite bins, and identical NaN masks). The full default pipeline (smoothing, speed
filter, split halves) is timed too, for information.

Run:  python tests/perf/bench_binning.py [--quick] [--repeats N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.stats import binned_statistic_2d

from mecbench.binning import bin_session, bin_session_arrays


def make_session(n_samples: int, n_cells: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    dt = 0.02
    t = np.arange(n_samples) * dt
    x = 0.47 * np.sin(2 * np.pi * 0.031 * t) + rng.normal(0, 0.01, n_samples)
    y = 0.47 * np.sin(2 * np.pi * 0.047 * t + 1.0) + rng.normal(0, 0.01, n_samples)
    x, y = np.clip(x, -0.499, 0.499), np.clip(y, -0.499, 0.499)
    duration = n_samples * dt
    rates = rng.uniform(1, 10, n_cells)
    spikes = [np.sort(rng.uniform(0, duration, rng.poisson(r * duration))) for r in rates]
    return t, x, y, spikes


def scipy_per_cell(t, x, y, spikes, edges):
    dt = np.append(np.diff(t), np.median(np.diff(t)))
    occ = binned_statistic_2d(x, y, dt, "sum", bins=[edges, edges]).statistic
    maps = np.empty((edges.size - 1, edges.size - 1, len(spikes)))
    for c, s in enumerate(spikes):
        idx = np.searchsorted(t, s, side="right") - 1
        counts = binned_statistic_2d(x[idx], y[idx], None, "count",
                                     bins=[edges, edges]).statistic
        with np.errstate(invalid="ignore", divide="ignore"):
            maps[..., c] = np.where(occ > 0, counts / occ, np.nan)
    return maps


def best_of(fn, repeats: int, clock=time.perf_counter):
    times, out = [], None
    for _ in range(repeats):
        start = clock()
        out = fn()
        times.append(clock() - start)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 cells x 3000 samples")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cpu-time", action="store_true",
                        help="time with the process CPU clock (robust on a loaded machine)")
    args = parser.parse_args()
    n_cells, n_samples = (10, 3_000) if args.quick else (100, 30_000)
    t, x, y, spikes = make_session(n_samples, n_cells)
    n_spikes = sum(s.size for s in spikes)
    edges = np.linspace(-0.5, 0.5, 21)

    def ours():
        return bin_session(t, x, y, spikes, arena_width=1.0, bin_size=0.05, smoothing_sigma=0,
                           min_occupancy=0, speed_min=0, halves=False).rate.values

    def core():
        return bin_session_arrays(t, x, y, spikes, arena_width=1.0, bin_size=0.05,
                                  smoothing_sigma=0, min_occupancy=0, speed_min=0,
                                  halves=False).rate

    def full():
        return bin_session(t, x, y, spikes, arena_width=1.0, bin_size=0.05)

    ours()  # warm-up (imports, first allocation)
    clock = time.process_time if args.cpu_time else time.perf_counter
    t_ours, m_ours = best_of(ours, args.repeats, clock)
    t_ref, m_ref = best_of(lambda: scipy_per_cell(t, x, y, spikes, edges), args.repeats, clock)
    t_core, m_core = best_of(core, args.repeats, clock)
    t_full, _ = best_of(full, args.repeats, clock)
    same_nan = all(bool((np.isnan(m) == np.isnan(m_ref)).all()) for m in (m_ours, m_core))
    finite = np.isfinite(m_ref)
    max_diff = max(float(np.max(np.abs(m[finite] - m_ref[finite]))) if finite.any() else 0.0
                   for m in (m_ours, m_core))

    print(f"binning {n_cells} cells x {n_samples} positions ({n_spikes} spikes), "
          f"20x20 bins, best of {args.repeats} ({'CPU' if args.cpu_time else 'wall'} time)")
    print(f"{'method':<52}{'time (ms)':>12}{'speed-up':>10}")
    print(f"{'scipy binned_statistic_2d, one call per cell':<52}{t_ref * 1e3:>12.1f}"
          f"{1.0:>10.1f}")
    print(f"{'mecbench bin_session_arrays (numpy core, one pass)':<52}{t_core * 1e3:>12.1f}"
          f"{t_ref / t_core:>10.1f}")
    print(f"{'mecbench bin_session (+ xarray output, one pass)':<52}{t_ours * 1e3:>12.1f}"
          f"{t_ref / t_ours:>10.1f}")
    print(f"{'mecbench bin_session (defaults: smoothing, halves)':<52}{t_full * 1e3:>12.1f}"
          f"{t_ref / t_full:>10.1f}")
    print(f"identical NaN masks: {same_nan}; max |delta| over finite bins: {max_diff:.3g} Hz")
    exact = same_nan and max_diff < 1e-9
    for name, tm in (("bin_session_arrays", t_core), ("bin_session", t_ours)):
        met = "met" if t_ref / tm >= 10 and exact else "NOT met"
        print(f"target >= 10x faster with identical maps, {name}: {met}")


if __name__ == "__main__":
    main()
