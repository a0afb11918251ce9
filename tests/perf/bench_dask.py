"""`mecbench score --backend dask` on a local 2-worker cluster: payloads in every task vs sent once.

Usage::

    python tests/perf/bench_dask.py                # rnn-relu-dos on mec-sim.pls, --layer all
    python tests/perf/bench_dask.py --repeat 3     # alternate the two submissions three times
    python tests/perf/bench_dask.py --quick        # toy model and recordings (smoke run)

One ``LocalCluster`` (2 worker processes, 1 thread each) serves every run, through
``--scheduler``. Two submissions of the same work units are timed in the same session:

``embedded``
    every unit resolved in the client and submitted with its payloads (the recordings of its
    arena, the model maps of its layer) inside the task graph, as dask's ``client.map`` of the
    units: the submission pattern before shared payloads. It is installed in the ``mecbench``
    process by a ``--plugin`` file written here; the library has no such path. It submits
    today's units, whose ceiling units carry the split halves only for the split-half
    ceiling: before shared payloads they always did, so the ceiling graph of a holdout
    benchmark was larger than the one measured here (for mec-sim by the halves, about 22 MB).
``shared``
    the library's own: each payload scattered to the cluster once per call, tasks carry keys.

Every run is a separate ``mecbench score`` process with a fresh cache directory holding only
the dataset and the model's rate maps (built once, before timing): its ceiling and scores are
computed cold. The table gives each run's wall time, the smallest per submission, their ratio,
the size of the graph that dask warned about ("Sending large graph", threshold
``--graph-warning-threshold``) and the largest |difference| of every per-cell value of the saved
scores from the first ``shared`` run (0 when bit-identical). ``--with-serial`` adds a
``--jobs 1`` run to the same comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

#: Children run here: from a source checkout, ``python -m mecbench`` would import the
#: checkout's ``mecbench/`` (without the installed built-in models and datasets).
CHILD_CWD = tempfile.gettempdir()

EMBEDDED_PLUGIN = textwrap.dedent('''
    """Replaces mecbench's dask submission by the pattern without shared payloads: every unit
    resolved here and sent with its payloads inside the task graph (client.map)."""
    import mecbench.parallel as parallel


    def _run_dask_embedded(fn, units, shared, config, progress):
        from distributed import Client

        units = [parallel.resolve(unit, shared) for unit in units]
        client = Client(config.scheduler, timeout=config.connect_timeout,
                        set_as_default=False)
        try:
            out = list(client.gather(client.map(fn, units, pure=False)))
        finally:
            client.close()
        if progress:
            progress(len(units))
        return out


    parallel._run_dask = _run_dask_embedded
''')

LARGE_GRAPH = re.compile(r"Sending large graph of size ([\d.]+ \w+)")


def _prepare_cache(prep: Path, benchmark: str, model: str, plugins: list[str],
                   datasets: bool) -> list[str]:
    """Copy the user cache's datasets (with ``datasets``) and the model's rate maps of every
    layer, built there first when missing, into ``prep``; returns the model's layers."""
    user = Path(os.environ.get("MECBENCH_CACHE_DIR") or Path.home() / ".cache/mecbench")
    if datasets and (user / "datasets").is_dir():
        shutil.copytree(user / "datasets", prep / "datasets")
    os.environ["MECBENCH_CACHE_DIR"] = str(prep)
    from mecbench import registry
    from mecbench.benchmarks import get_benchmark
    from mecbench.cache import Cache, cache_key

    for plugin in plugins:
        registry.load_plugin_file(plugin)

    class Recording(Cache):
        """The user cache, remembering the entries it was asked for."""

        def __init__(self, root):
            super().__init__(root)
            self.seen: list[Path] = []

        def fetch(self, kind, parts, read, **kwargs):
            self.seen.append(self.path(kind, cache_key(kind, parts)[0]))
            return super().fetch(kind, parts, read, **kwargs)

    bench = get_benchmark(benchmark)
    provider = registry.load("model", model)
    user_cache = Recording(user)
    for layer in provider.layers:
        for arena in bench.arenas:
            bench.model_maps(provider, layer, arena, cache=user_cache)  # built once if missing
    for path in user_cache.seen:
        for file in (path, path.with_suffix(".json")):
            target = prep / file.relative_to(user)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, target)
    return list(provider.layers)


def _run(cmd: list[str], env: dict) -> tuple[float, str, str]:
    """Wall time, stdout and stderr of ``cmd``; exits on failure."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=CHILD_CWD)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return wall, proc.stdout, proc.stderr


def _per_cell(doc: dict) -> dict:
    """{(layer, variable): float64 array} of the saved per-cell scores of one run."""
    import numpy as np

    from mecbench.leaderboard import load_board_score

    out = {}
    for layer in doc["layers"]:
        ds = load_board_score(layer["score_file"])
        for name, var in ds.data_vars.items():
            if np.issubdtype(var.dtype, np.floating):
                out[(layer["layer"], name)] = np.asarray(var.values, dtype=np.float64)
    return out


def _max_difference(a: dict, b: dict) -> float:
    """Largest |a - b| over every per-cell value; inf when the NaN patterns or names differ."""
    import numpy as np

    if a.keys() != b.keys():
        return float("inf")
    worst = 0.0
    for key, x in a.items():
        y = b[key]
        if x.shape != y.shape or not np.array_equal(np.isnan(x), np.isnan(y)):
            return float("inf")
        finite = np.isfinite(x)
        if finite.any():
            worst = max(worst, float(np.max(np.abs(x[finite] - y[finite]))))
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="toy model and recordings on an in-process cluster (smoke run)")
    parser.add_argument("--model", default="rnn-relu-dos")
    parser.add_argument("--benchmark", default="mec-sim.pls")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each submission, alternating (default 1)")
    parser.add_argument("--with-serial", action="store_true",
                        help="also a --jobs 1 run, compared with the dask scores")
    parser.add_argument("--graph-warning-threshold", default=None,
                        help="dask's large-graph warning threshold (default: dask's own)")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="mecbench-bench-dask-"))
    saved_env = os.environ.get("MECBENCH_CACHE_DIR")
    cluster = None
    try:
        model, benchmark, plugins, extra = args.model, args.benchmark, [], []
        threshold = args.graph_warning_threshold
        if args.quick:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
            from benchkit import make_neural_data, write_plugin

            plugins = [str(write_plugin(work))]
            model = "toy-fourier"
            data = make_neural_data(n_animals=3, n_cells=20, arenas=((1.0, 1.0), (1.2, 1.2)))
            benchmark = str(data.save(work / "toy.nc"))
            extra = ["--mapping", "pls:n_components=5"]
            threshold = threshold or "50kB"
        layers = _prepare_cache(work / "prep", benchmark, model, plugins,
                                datasets=not args.quick)

        import dask
        import distributed

        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=not args.quick, protocol="tcp",
            host="127.0.0.1", dashboard_address=None)
        (work / "embedded.py").write_text(EMBEDDED_PLUGIN)
        mecbench = [sys.executable, "-m", "mecbench"]
        for plugin in plugins:
            mecbench += ["--plugin", plugin]
        score = ["score", model, benchmark, "--layer", "all", "--json", "--save", *extra]
        on_dask = ["--backend", "dask", "--scheduler", cluster.scheduler_address]
        variants = {"embedded": [*mecbench, "--plugin", str(work / "embedded.py"), *score,
                                 *on_dask],
                    "shared": [*mecbench, *score, *on_dask]}
        order = [name for _ in range(args.repeat) for name in variants]
        if args.with_serial:
            variants["serial"] = [*mecbench, *score, "--jobs", "1"]
            order.append("serial")

        rows = []
        for k, name in enumerate(order):
            run_dir = work / f"run{k}"
            shutil.copytree(work / "prep", run_dir / "cache")
            env = {**os.environ, "MECBENCH_CACHE_DIR": str(run_dir / "cache")}
            if threshold:
                env["DASK_DISTRIBUTED__ADMIN__LARGE_GRAPH_WARNING_THRESHOLD"] = threshold
            wall, out, err = _run([*variants[name], "--leaderboard-dir", str(run_dir / "board")],
                                  env)
            doc = json.loads(out)
            graphs = LARGE_GRAPH.findall(err)
            rows.append((name, wall, graphs, _per_cell(doc)))

        reference = next(r[3] for r in rows if r[0] == "shared")
        print(f"\nmachine: {os.cpu_count()} CPU cores; cluster: 2 workers x 1 thread "
              f"({'threads' if args.quick else 'processes'}); model {model}, benchmark "
              f"{Path(benchmark).name}, layers {', '.join(layers)}")
        default = dask.config.get("distributed.admin.large-graph-warning-threshold")
        print(f"large-graph warning threshold: {threshold or default}")
        print(f"{'run':10s} {'wall s':>8s}  {'graphs dask warned about':30s} "
              f"{'max |diff| vs shared':>21s}")
        for name, wall, graphs, cells in rows:
            warned = ", ".join(graphs) if graphs else "none"
            print(f"{name:10s} {wall:8.2f}  {warned:30s} "
                  f"{_max_difference(cells, reference):21.3g}")
        best = {name: min(r[1] for r in rows if r[0] == name) for name in ("embedded",
                                                                            "shared")}
        print(f"\nbest wall s: embedded {best['embedded']:.2f}, shared {best['shared']:.2f}; "
              f"ratio embedded / shared = {best['embedded'] / best['shared']:.2f}")
        worst = max(_max_difference(r[3], reference) for r in rows)
        print(f"max |difference| of per-cell scores over all runs: {worst:.3g}")
    finally:
        if cluster is not None:
            cluster.close()
        if saved_env is None:
            os.environ.pop("MECBENCH_CACHE_DIR", None)
        else:
            os.environ["MECBENCH_CACHE_DIR"] = saved_env
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
