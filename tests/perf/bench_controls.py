"""Speed of the controls sweep on mec-sim.ridge (not collected by pytest).

The acceptance workload: 3 random-basis families (fourier, bumps, relu) × 10 dimensions
(8 … 4096) × 3 seeds = 90 scorings on ``mec-sim.ridge`` (600 cells in a 1 m and 600 in a 2.2 m
arena, ridge, 10 random splits), with effective dimensionality and grid fraction of every
control, from a cold cache (the inter-animal ceiling included). Target: under 10 minutes on 2
cores. Prints the wall time and the score-vs-dimension curves with their seed spread.

    python tests/perf/bench_controls.py            # the acceptance workload
    python tests/perf/bench_controls.py --quick    # 3 families × 3 dims × 2 seeds
    python tests/perf/bench_controls.py --jobs 2 --plot controls.png
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--benchmark", default="mec-sim.ridge")
    parser.add_argument("--families", default="fourier,bumps,relu")
    parser.add_argument("--dims", default="8,16,32,64,128,256,512,1024,2048,4096")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1,
                        help="sweep tasks (family × seed) run at once (default 1)")
    parser.add_argument("--plot", default=None, metavar="FILE.png")
    args = parser.parse_args(argv)
    if args.quick:
        args.dims, args.seeds = "8,64,512", 2

    from mecbench.benchmarks import get_benchmark
    from mecbench.cache import Cache
    from mecbench.cli.controls import format_text
    from mecbench.controls.sweep import ControlsOptions, run_controls

    bench = get_benchmark(args.benchmark)
    t0 = time.perf_counter()
    data = bench.neural_data          # built once and cached by the dataset plugin
    t_data = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        cache = Cache(tmp)            # cold: ceiling and scores computed in this run
        t0 = time.perf_counter()
        options = ControlsOptions(families=args.families.split(","), dims=args.dims,
                                  seeds=args.seeds, jobs=args.jobs)
        result = run_controls(bench, options, cache=cache)
        wall = time.perf_counter() - t0
    n = sum(1 for p in result.points if p.kind == "control")
    doc = {"schema": 1, "command": "controls", **result.to_dict()}
    print(format_text(doc))
    if args.plot:
        from mecbench.controls.plot import save_plot

        print(f"plot: {save_plot(doc, args.plot)}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print()
    print(f"benchmark            {bench.identifier} (version {bench.version}): {data}")
    print(f"loading the data     {t_data:8.1f} s (not counted)")
    print(f"controls scored      {n} ({len(result.families)} families × {len(result.dims)} "
          f"dims × {len(result.seeds)} seeds), jobs={args.jobs}")
    print(f"sweep wall time      {wall:8.1f} s  ({wall / 60:.2f} min; target < 10 min)")
    print(f"per control          {wall / max(n, 1):8.2f} s")
    print(f"peak RSS (main)      {peak:8.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
