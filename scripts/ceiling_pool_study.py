"""How the inter-animal ceiling grows with the size of its source pool (mec-sim, ridge).

For every arena of mec-sim (6 animals x 100 cells per arena), each animal's cells are predicted
from a random subset of ``n`` cells of the other five animals (pools nested within a seed:
``n`` = 1, 2, 4, ..., 256 and the full 500), with the ``mec-sim.ridge`` mapping (ridge,
alpha = 1) and random splits (train 20 %, test 80 %) — :func:`mecbench.ceiling.pool_curve`.
The statistic is the median over cells of each cell's ceiling (mean over splits), as in a
benchmark. The study uses 3 splits instead of the benchmark's 10 to stay cheap; the full pool
is also scored with the benchmark's 10 splits (``full_pool_benchmark_splits`` in the JSON) to
show how little that changes.

Two ways to use the curve are checked:

- **Extrapolation.** Fit a saturating form (:func:`mecbench.ceiling.saturating`:
  ``hyperbolic`` c·n/(n+h) and ``sqrt-snr`` c·sqrt(n/(n+h))) to the small pools only and
  predict the held-out larger pools; a real lab has the small pools only.
- **Minimum pool.** The smallest pool whose median ceiling is within
  :data:`mecbench.ceiling.POOL_TOLERANCE` of the full pool's in every seed, per arena; the
  rule the benchmarks apply, :data:`mecbench.ceiling.MIN_SOURCE_CELLS`, is the 1 m arena's
  (the real recordings' box), and the JSON gives each arena's shortfall at that pool.

Writes ``docs/ceiling_pool_study.json`` (every number) and ``docs/ceiling_pool_study.png``.
Run: ``python scripts/ceiling_pool_study.py`` (about a minute on 2 cores once mec-sim is
cached; ``--seeds`` and ``--splits`` trade time for precision).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from mecbench import registry
from mecbench.benchmarks.specs import MappingSpec
from mecbench.ceiling import (
    MIN_SOURCE_CELLS,
    POOL_TOLERANCE,
    SATURATING_FORMS,
    fit_saturating,
    interanimal_consistency,
    pool_curve,
    saturating,
)
from mecbench.metrics import nanmedian
from mecbench.neural_data import atomic_write
from mecbench.score import cell_mean
from mecbench.splits import SplitScheme

ROOT = Path(__file__).resolve().parents[1]
SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 500)
#: Pools a fit may see ("what a small lab has") and the held-out pools it must predict.
FIT_UP_TO = (8, 32)
#: Source pools of the shared Sargolini 2006 sample (10 cells in 3 rats: 8 + 1 + 1).
REAL_POOLS = (2, 9)


def run(seeds: int, n_splits: int, dataset_seed: int) -> dict:
    data = registry.load("dataset", "mec-sim", seed=dataset_seed)
    mapping = MappingSpec("ridge", {"alpha": 1.0})
    splits = SplitScheme.random(train_frac=0.2, n_splits=n_splits, seed=0)
    out: dict = {"dataset": f"mec-sim (seed {dataset_seed})", "mapping": mapping.text,
                 "splits": splits.identifier, "seeds": list(range(seeds)), "sizes": list(SIZES),
                 "pool_tolerance": POOL_TOLERANCE, "min_source_cells_rule": MIN_SOURCE_CELLS,
                 "real_pools": list(REAL_POOLS), "arenas": {}}
    reference = SplitScheme.random(train_frac=0.2, n_splits=10, seed=0)
    for arena in data.arena_names:
        full10 = float(nanmedian(cell_mean(interanimal_consistency(
            data.rate(arena), mapping.build(), reference))))
        curve = pool_curve(data.rate(arena), mapping.build(), splits, SIZES,
                           seeds=range(seeds))
        medians = np.nanmedian(curve, axis=2)                    # (seeds, sizes)
        full = medians[:, -1:]
        ratio = medians / full
        mean = medians.mean(axis=0)
        fits = {}
        for form in SATURATING_FORMS:
            everything = fit_saturating(SIZES, mean, form)
            held = {}
            for limit in FIT_UP_TO:
                small = [i for i, n in enumerate(SIZES) if n <= limit]
                rest = [i for i, n in enumerate(SIZES) if n > limit]
                fit = fit_saturating([SIZES[i] for i in small], mean[small], form)
                pred = saturating(np.array([SIZES[i] for i in rest]), fit["c_inf"],
                                  fit["n_half"], form)
                rel = (pred - mean[rest]) / mean[rest]
                held[f"fit_up_to_{limit}"] = {
                    **fit, "predicted": dict(zip([str(SIZES[i]) for i in rest],
                                                 pred.tolist(), strict=True)),
                    "relative_error": dict(zip([str(SIZES[i]) for i in rest], rel.tolist(),
                                               strict=True)),
                    "max_abs_relative_error": float(np.abs(rel).max()),
                    "c_inf_over_full_pool": fit["c_inf"] / float(mean[-1])}
            fits[form] = {"all_sizes": everything, **held}
        within = np.all(ratio >= 1 - POOL_TOLERANCE, axis=0)
        ok_from = next((SIZES[i] for i in range(len(SIZES)) if within[i:].all()), None)
        at_rule = int(np.searchsorted(SIZES, MIN_SOURCE_CELLS))
        out["arenas"][arena] = {
            "full_pool_benchmark_splits": full10,
            "ratio_at_rule_min_over_seeds": (float(ratio[:, at_rule].min())
                                             if SIZES[at_rule] == MIN_SOURCE_CELLS else None),
            "n_cells": int(curve.shape[2]),
            "median_ceiling": medians.tolist(),
            "median_ceiling_mean_over_seeds": mean.tolist(),
            "ratio_to_full_pool": ratio.tolist(),
            "ratio_min_over_seeds": ratio.min(axis=0).tolist(),
            "smallest_pool_within_tolerance": ok_from,
            "fits": fits,
        }
    return out


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = np.array(result["sizes"], dtype=float)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:purple"]
    grid = np.geomspace(1, 2000, 200)
    for (arena, a), color in zip(result["arenas"].items(), colors, strict=False):
        med = np.array(a["median_ceiling"])
        for row in med:
            axes[0].plot(sizes, row, color=color, alpha=0.25, lw=0.8)
        axes[0].plot(sizes, med.mean(axis=0), "o-", color=color, lw=2,
                     label=f"{arena}: median ceiling (mean of {med.shape[0]} seeds)")
        fit = a["fits"]["hyperbolic"]["fit_up_to_32"]
        axes[0].plot(grid, saturating(grid, fit["c_inf"], fit["n_half"], "hyperbolic"), "--",
                     color=color, lw=1.2,
                     label=f"{arena}: hyperbolic fit to n ≤ 32 (c∞ = {fit['c_inf']:.2f})")
        ratio = np.array(a["ratio_to_full_pool"])
        axes[1].fill_between(sizes, ratio.min(axis=0), ratio.max(axis=0), color=color,
                             alpha=0.2)
        axes[1].plot(sizes, ratio.mean(axis=0), "o-", color=color, lw=2, label=arena)
    for ax in axes:
        ax.set_xscale("log")
        ax.axvspan(min(result["real_pools"]), max(result["real_pools"]), color="red",
                   alpha=0.1, label="pools of the shared Sargolini sample (2-9 cells)")
        ax.axvline(result["min_source_cells_rule"], color="black", ls=":", lw=1.5,
                   label=f"rule: MIN_SOURCE_CELLS = {result['min_source_cells_rule']}")
        ax.set_xlabel("source cells in the pool (log scale)")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("median inter-animal ceiling (r)")
    axes[0].set_title("Inter-animal ceiling vs source pool (mec-sim, ridge α=1)")
    axes[0].set_ylim(0, None)
    axes[0].legend(fontsize=7.5, loc="lower right")
    axes[1].axhline(1 - result["pool_tolerance"], color="grey", ls="--", lw=1,
                    label=f"{1 - result['pool_tolerance']:.0%} of the full pool")
    axes[1].set_ylabel("ceiling / full-pool (500 cells) ceiling")
    axes[1].set_title("Shortfall of small pools (band: range over seeds)")
    axes[1].set_ylim(0, 1.05)
    axes[1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="pool orders (default 5)")
    parser.add_argument("--splits", type=int, default=3, help="random splits (default 3)")
    parser.add_argument("--dataset-seed", type=int, default=0, help="mec-sim seed (default 0)")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "docs",
                        help="where the JSON and PNG go (default docs/)")
    args = parser.parse_args(argv)
    result = run(args.seeds, args.splits, args.dataset_seed)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=1, sort_keys=True)
    atomic_write(args.out_dir / "ceiling_pool_study.json",
                 lambda tmp: Path(tmp).write_text(text + "\n"))
    plot(result, args.out_dir / "ceiling_pool_study.png")
    for name in ("ceiling_pool_study.json", "ceiling_pool_study.png"):
        os.chmod(args.out_dir / name, 0o644)
    for arena, a in result["arenas"].items():
        print(f"{arena}: median ceiling by pool size "
              + ", ".join(f"{n}: {v:.3f}" for n, v in zip(result["sizes"],
                                                          a["median_ceiling_mean_over_seeds"],
                                                          strict=True)))
        for form in SATURATING_FORMS:
            for limit in FIT_UP_TO:
                f = a["fits"][form][f"fit_up_to_{limit}"]
                print(f"  {form} fit to n <= {limit}: c_inf {f['c_inf']:.3f} "
                      f"({f['c_inf_over_full_pool']:.2f} x full pool), held-out max |rel. "
                      f"error| {f['max_abs_relative_error']:.2f}")
        print(f"  smallest pool within {result['pool_tolerance']:.0%} of the full pool "
              f"(every seed): {a['smallest_pool_within_tolerance']}; at MIN_SOURCE_CELLS = "
              f"{MIN_SOURCE_CELLS}: {a['ratio_at_rule_min_over_seeds']:.2f} of the full pool "
              f"(worst seed); full pool with the benchmark's 10 splits: "
              f"{a['full_pool_benchmark_splits']:.3f}")
    print(f"wrote {args.out_dir / 'ceiling_pool_study.json'} and "
          f"{args.out_dir / 'ceiling_pool_study.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
