"""Full `mecbench score` runs: cold cache, warm cache, peak memory, and a check against get_fits.

Usage::

    python tests/perf/bench_score_cli.py            # rnn-relu-dos on mec-sim.ridge (default)
    python tests/perf/bench_score_cli.py --quick    # reduced data and trajectories (smoke run)
    python tests/perf/bench_score_cli.py --model ugrnn-relu-dos --benchmark mec-sim.pls

Every run uses a fresh cache directory. The dataset is built (or copied from the user cache)
first and timed separately: "cold" means no cached model rate maps, ceiling or score, which is
what a user scoring a new model meets. Each `mecbench` command runs in its own process; wall
time, CPU time (user + system) and that process's peak RSS are printed: on a shared machine
wall time includes waiting for the cores. Targets: cold < 120 s on 2 cores, peak
RSS < 4 GB, warm < 5 s. Finally the saved per-cell scores are compared with
`mecbench.compat.get_fits` on the same data, model rate maps and splits (ridge benchmarks).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

#: Children run here: from a source checkout, ``python -m mecbench`` would import the
#: checkout's ``mecbench/`` (without the installed built-in models and datasets).
CHILD_CWD = tempfile.gettempdir()

QUICK_PLUGIN = textwrap.dedent('''
    from pathlib import Path

    import mecbench.models.pathint as pathint
    from mecbench import register_model
    from mecbench.nets.zoo import checkpoint_provider


    @register_model("rnn-relu-dos-quick")
    def quick():
        """The shipped rnn-relu-dos checkpoint with 20 000 trajectory positions."""
        return checkpoint_provider(Path(pathint.__file__).parent / "rnn-relu-dos",
                                   "rnn-relu-dos-quick", n_batches=5)
''')

_RUNNER = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
           "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
           "w = time.perf_counter() - t; "
           "u = resource.getrusage(resource.RUSAGE_CHILDREN); m = u.ru_maxrss; "
           "c = u.ru_utime + u.ru_stime; "
           "sys.stderr.write(r.stderr); sys.stdout.write(r.stdout); "
           "print('@@', w, m, c, r.returncode)")


def measured(cmd: list[str], env: dict) -> tuple[float, float, float, str]:
    """Run ``cmd`` in a child process; returns (wall s, peak RSS MB, CPU s, stdout)."""
    proc = subprocess.run([sys.executable, "-c", _RUNNER, *cmd], capture_output=True,
                          text=True, env=env, cwd=CHILD_CWD)
    lines = proc.stdout.rstrip().splitlines()
    wall, rss_kb, cpu, code = lines[-1].split()[1:]
    if int(code) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return float(wall), float(rss_kb) / 1024, float(cpu), "\n".join(lines[:-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--model", default="rnn-relu-dos")
    parser.add_argument("--benchmark", default="mec-sim.ridge")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mecbench-bench-"))
    env = {**os.environ, "MECBENCH_CACHE_DIR": str(work / "cache")}
    mecbench = [sys.executable, "-m", "mecbench"]
    rows = []

    # the dataset: reuse the user's built copy when there is one (it is not part of scoring)
    user_cache = Path(os.environ.get("MECBENCH_CACHE_DIR") or Path.home() / ".cache/mecbench")
    if (user_cache / "datasets").is_dir():
        shutil.copytree(user_cache / "datasets", work / "cache" / "datasets")
    wall, rss, cpu, _ = measured([sys.executable, "-c", "from mecbench import registry; "
                                  "registry.load('dataset', 'mec-sim')"], env)
    rows.append(("dataset mec-sim (load or build, once)", wall, cpu, rss, "-"))

    model, benchmark = args.model, args.benchmark
    if args.quick:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        (work / "quick.py").write_text(QUICK_PLUGIN)
        mecbench += ["--plugin", str(work / "quick.py")]
        model = "rnn-relu-dos-quick"
        os.environ["MECBENCH_CACHE_DIR"] = env["MECBENCH_CACHE_DIR"]
        from mecbench import registry

        data = registry.load("dataset", "mec-sim")
        small = data.select(arenas=["1x1m"], animals=data.animals("1x1m")[:3])
        benchmark = str(small.save(work / "mec-sim-small.nc"))

    board = work / "board"
    score = [*mecbench, "score", model, benchmark, "--json", "--jobs", str(args.jobs)]
    wall, rss, cpu, out = measured([*score, "--save", "--leaderboard-dir", str(board)], env)
    doc = json.loads(out)
    rows.append((f"score {model} {Path(benchmark).name} (cold)", wall, cpu, rss, "< 120 s"))
    wall, rss, cpu, out2 = measured(score, env)
    rows.append((f"score {model} {Path(benchmark).name} (warm)", wall, cpu, rss, "< 5 s"))
    assert json.loads(out2)["layers"][0]["raw"] == doc["layers"][0]["raw"]

    print(f"\nmachine: {os.cpu_count()} CPU cores; jobs {args.jobs}")
    print(f"{'stage':50s} {'wall s':>7s} {'CPU s':>7s} {'peak RSS MB':>12s} {'target':>8s}")
    for name, wall, cpu, rss, target in rows:
        print(f"{name:50s} {wall:7.1f} {cpu:7.1f} {rss:12.0f} {target:>8s}")
    layer = doc["layers"][0]
    print(f"\nraw {layer['raw']:.4f}, ceiling {layer['ceiling']:.4f}, ceiled "
          f"{layer['ceiled']:.4f} [{layer['ci'][0]:.4f}, {layer['ci'][1]:.4f}], "
          f"{layer['n_cells']}/{layer['n_cells_total']} cells")

    if doc["mapping"].startswith("ridge:") and doc["splits"].startswith("random-"):
        check_against_get_fits(doc, model, benchmark, work, env)
    shutil.rmtree(work, ignore_errors=True)


def check_against_get_fits(doc: dict, model: str, benchmark: str, work: Path, env: dict
                           ) -> None:
    """Per-cell scores of the saved run vs get_fits on the same data, maps and splits."""
    import numpy as np

    os.environ["MECBENCH_CACHE_DIR"] = env["MECBENCH_CACHE_DIR"]
    if model.endswith("-quick"):
        from mecbench.registry import load_plugin_file

        load_plugin_file(work / "quick.py")
    from mecbench import registry
    from mecbench.benchmarks import get_benchmark
    from mecbench.cache import Cache
    from mecbench.compat import get_fits
    from mecbench.leaderboard import load_board_score

    bench = get_benchmark(benchmark)
    provider = registry.load("model", model)
    layer = doc["layers"][0]
    score = load_board_score(layer["score_file"])
    alpha = float(doc["mapping"].split("alpha=")[1])
    tf = bench.splits
    data = bench.neural_data
    got = dict(zip(score["neuroid_id"].values.astype(str), score["raw"].values, strict=True))
    worst, n = 0.0, 0
    for arena in data.arena_names:
        maps = bench.model_maps(provider, layer["layer"], arena, cache=Cache())  # cached
        sub = data.select(arenas=[arena])
        size = float(sub.rate(arena).attrs["arena_width"])
        fits = get_fits(sub.to_nayebi_dict(), model_resp={size: maps.values},
                        map_type="sklinear",
                        map_kwargs={"regression_type": "Ridge",
                                    "regression_kwargs": {"alpha": alpha}},
                        train_frac=tf.train_frac, num_train_test_splits=tf.n_splits,
                        split_start_seed=tf.seed)
        rate = sub.rate(arena)
        ids = rate["neuroid_id"].values.astype(str)
        cell_ids = rate["cell_id"].values.astype(str) if "cell_id" in rate.coords else ids
        animals = rate["animal"].values.astype(str)
        for animal, per in fits[size].items():
            for cid, value in zip(per["corr"]["units"].values.astype(str), per["corr"].values,
                                  strict=True):
                pos = np.flatnonzero((animals == str(animal)) & (cell_ids == cid))[0]
                mine = got[f"{arena}/{ids[pos]}"]
                if np.isnan(mine) != np.isnan(value):
                    raise SystemExit(f"NaN mismatch for {arena}/{ids[pos]}")
                if np.isfinite(value):
                    worst = max(worst, abs(mine - value))
                n += 1
    print(f"get_fits check: {n} cells, max |Δr| = {worst:.2e} "
          f"({'OK' if worst < 1e-9 and n == len(got) else 'MISMATCH'})")


if __name__ == "__main__":
    main()
