"""Rate-map extraction speed: mecbench's vectorised binning vs per-unit scipy.

The network is a stand-in whose forward pass is cheap, so that the timing is about rate-map
extraction: 4096 units = ReLU(W·p + b) of the position p obtained by integrating the
velocities from the start (it has the ``layer_activity(start, velocities)`` interface of a
path integrator, not its recurrence). It is driven along Nayebi et al. (2021)'s protocol:
100 batches x 200 trajectories x 20 steps = 400 000 positions in a 2.2 m box with 5 cm bins.
mecbench bins every unit at once per batch (``RateMapAccumulator``, one ``index_add_``); the
baseline is
``scipy.stats.binned_statistic_2d(..., "mean")`` called once per unit over all positions.

By default scipy bins every unit (their float32 activity over all positions is kept while
mecbench runs: 4096 x 400 000 x 4 bytes = 6.6 GB) and all maps are compared with mecbench's
(max |Δ|). ``--scipy-units K`` times K evenly spaced units instead and extrapolates linearly.

Run:  python tests/perf/bench_ratemaps.py [--quick] [--device cuda] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from scipy.stats import binned_statistic_2d

from mecbench.providers import NetworkProvider
from mecbench.providers.accumulator import RateMapAccumulator, arena_edges
from mecbench.ratemaps import Arena
from mecbench.trajectories import make_generator, random_walk


class RandomReLULayer(torch.nn.Module):
    """Units = ReLU(W·position + b), position integrated from the start and velocities."""

    layer_names = ("relu",)
    default_layer = "relu"

    def __init__(self, n_units: int, seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.weight = torch.nn.Parameter(torch.randn(n_units, 2, generator=gen) * 4)
        self.bias = torch.nn.Parameter(torch.randn(n_units, generator=gen))

    def layer_activity(self, start, velocities):
        pos = start[:, None, :] + torch.cumsum(velocities, dim=1)
        act = torch.addmm(self.bias, pos.reshape(-1, 2), self.weight.T).relu_()
        return {"relu": act.reshape(*pos.shape[:2], -1)}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--scipy-units", type=int, default=None,
                        help="units binned with scipy (default: all)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    n_units, n_batches = (256, 10) if args.quick else (4096, 100)
    batch_size, n_steps = 200, 20
    n_scipy = min(args.scipy_units or n_units, n_units)
    device = torch.device(args.device)
    arena = Arena(2.2, 2.2, 0.05)
    module = RandomReLULayer(n_units).to(device)
    subset = np.linspace(0, n_units - 1, n_scipy).round().astype(int)
    n_pos = n_batches * batch_size * n_steps
    print(f"{n_units} units, {n_batches} x {batch_size} trajectories x {n_steps} steps = "
          f"{n_pos} positions, arena {arena.key}, {arena.shape[0]}x{arena.shape[1]} bins, "
          f"device {device}, torch threads {torch.get_num_threads()}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}")

    # --- mecbench, step by step (the NetworkProvider loop, timed per stage) ---------------
    gen = make_generator(0)
    acc = RateMapAccumulator(arena, n_units, device=device)
    t_traj = t_fwd = t_bin = 0.0
    kept_pos = []
    per_batch = batch_size * n_steps
    kept_act = np.empty((n_scipy, n_batches * per_batch), dtype=np.float32)  # unit-major
    with torch.no_grad():
        for _ in range(n_batches):
            t0 = time.perf_counter()
            tr = random_walk(batch_size, n_steps, arena_width=arena.width, generator=gen).to(device)
            sync(device)
            t1 = time.perf_counter()
            act = module.layer_activity(tr.start, tr.velocities)["relu"]
            sync(device)
            t2 = time.perf_counter()
            acc.add(tr.positions[:, 1:], act)
            sync(device)
            t3 = time.perf_counter()
            t_traj, t_fwd, t_bin = t_traj + t1 - t0, t_fwd + t2 - t1, t_bin + t3 - t2
            kept_pos.append(tr.positions[:, 1:].reshape(-1, 2).double().cpu().numpy())
            b = len(kept_pos) - 1
            kept_act[:, b * per_batch:(b + 1) * per_batch] = \
                act[..., subset].reshape(-1, n_scipy).cpu().numpy().T
    t0 = time.perf_counter()
    ours = acc.rate_maps("error")
    t_bin += time.perf_counter() - t0

    # --- the same through NetworkProvider (trajectories + forward + binning + DataArray) ----
    provider = NetworkProvider(module, "bench", n_batches=n_batches, batch_size=batch_size,
                               n_steps=n_steps, device=device, progress=False)
    t0 = time.perf_counter()
    maps = provider.rate_maps(arena, seed=0)
    sync(device)
    t_provider = time.perf_counter() - t0
    assert np.array_equal(maps.values, ours) or device.type != "cpu"

    # --- scipy, one unit at a time --------------------------------------------------------
    pos = np.concatenate(kept_pos)
    act = kept_act
    ex, ey = arena_edges(arena)
    # float32 positions on a wall can round to just outside the float64 edge, where scipy
    # would drop them; they lie on the wall by construction
    pos = np.column_stack([np.clip(pos[:, 0], ex[0], ex[-1]), np.clip(pos[:, 1], ey[0], ey[-1])])
    t0 = time.perf_counter()
    ref = np.stack([binned_statistic_2d(pos[:, 0], pos[:, 1], act[j].astype(np.float64),
                                        "mean", bins=[ex, ey]).statistic
                    for j in range(n_scipy)], -1)
    t_scipy_subset = time.perf_counter() - t0
    t_scipy = t_scipy_subset / n_scipy * n_units
    max_diff = float(np.abs(ref - ours[..., subset]).max())
    rel_diff = max_diff / float(np.abs(ref).max())

    rows = [
        ("trajectories (mecbench)", t_traj),
        ("network forward (mecbench)", t_fwd),
        ("binning, all units (mecbench)", t_bin),
        ("NetworkProvider.rate_maps end to end", t_provider),
        (f"scipy binned_statistic_2d, {n_scipy} units (measured)", t_scipy_subset),
    ] + ([] if n_scipy == n_units else [
        (f"scipy binned_statistic_2d, {n_units} units (extrapolated)", t_scipy),
    ])
    print()
    print(f"{'stage':<58} {'seconds':>9}")
    for name, sec in rows:
        print(f"{name:<58} {sec:>9.2f}")
    print()
    print(f"speed-up, binning only         : {t_scipy / t_bin:8.1f}x   (target >= 20x)")
    print(f"speed-up, end to end           : {(t_traj + t_fwd + t_scipy) / t_provider:8.1f}x   "
          "(scipy side also pays trajectories + forward)")
    print(f"max |delta| on {n_scipy} units      : {max_diff:.3e}  (relative {rel_diff:.1e})")
    print(f"per-unit scipy time            : {1e3 * t_scipy_subset / n_scipy:.1f} ms")


if __name__ == "__main__":
    main()
