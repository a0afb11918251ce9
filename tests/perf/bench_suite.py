"""The whole suite for one model: `mecbench score MODEL BENCH --layer all` on every built-in
mec-sim benchmark, cold and warm, and the controls sweep, in one table.

Usage::

    python tests/perf/bench_suite.py                        # rnn-relu-dos, every mec-sim board
    python tests/perf/bench_suite.py --skip mec-sim.enet    # all but the slow elastic net
    python tests/perf/bench_suite.py --model ugrnn-relu-dos --no-controls --json suite.json
    python tests/perf/bench_suite.py --dataset-from ~/.cache/mecbench   # reuse a built mec-sim
    python tests/perf/bench_suite.py --quick                # toy model, tiny recordings (smoke)

The cache is a fresh temporary directory (``--cache-dir`` to choose one; it is then kept), so
"cold" is what a user scoring a new model meets. Step 0 builds the mec-sim dataset into that
cache (or loads the copy ``--dataset-from`` put there) and is timed apart: it is a one-off,
not part of scoring a model. The cold pass then runs ``mecbench -q score MODEL BENCH --layer
all`` for each benchmark in order, each in a new process, as a user would: the first
benchmark computes the model's rate maps and the later ones read them from the cache, while
each computes its own ceiling and scores. The warm pass runs the same commands again (every
result cached). Finally the controls sweep ``mecbench -q controls mec-sim.ridge --models
MODEL`` (default families and dimensions) runs cold then warm; it comes after the scores, so
its benchmark ceiling is already cached, and it writes its analysis to a temporary board.
``--no-controls`` leaves it out.

For each process the table gives its wall time, and for the cold run its CPU time (user +
system) and peak RSS (``os.wait4``: the largest resident set of the process or of any worker
process it waited for). A failed command is reported in the table with its exit status and the
end of its error output, and the script then exits with status 1. The total row (sum of the
cold runs after step 0) is the suite figure; target: under 600 s on 2 cores. On a shared
machine wall time includes waiting for the cores: compare it with the CPU time.

``--quick`` is a smoke run: a toy function-of-position model from a plugin file (two layers)
scored on a small synthetic recordings file (``tests/benchkit.py``) as an ad-hoc benchmark
(ridge, random splits, holdout ceiling); no controls unless ``--controls`` is given, and then
a reduced sweep (one family, dimensions 8 and 16, one seed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

TARGET_S = 600.0
TESTS = Path(__file__).resolve().parents[1]
QUICK_MODEL = "toy-fourier"           # registered by tests/benchkit.py's plugin
QUICK_CONTROLS = ["--families", "fourier", "--dims", "8,16", "--seeds", "1"]
_QUICK_DATA = ("import sys; sys.path.insert(0, sys.argv[1]); "
               "from benchkit import make_neural_data; make_neural_data().save(sys.argv[2])")
_DATASET = "from mecbench import registry; registry.load('dataset', 'mec-sim')"


class Run(NamedTuple):
    """One child process: wall and CPU seconds, peak RSS (MB), exit status, error tail."""

    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    exit: int
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.exit == 0


class Step:
    """A row of the table: a command run cold and (except step 0) warm."""

    def __init__(self, name: str, command: list[str], kind: str = "score") -> None:
        self.name = name
        self.command = command
        self.kind = kind
        self.cold: Run | None = None
        self.warm: Run | None = None


def measure(cmd: list[str], env: dict, log: Path) -> Run:
    """Run ``cmd`` in a new process (output to ``log``, working directory ``log``'s folder)
    and return what it cost.

    ``os.wait4`` gives the rusage of that child alone (including the workers it waited for),
    not of every process this script has started.
    """
    with open(log, "wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                stdin=subprocess.DEVNULL, cwd=log.parent)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code      # reaped here: tell Popen so that it does not wait again
    error = ""
    if code != 0:
        error = log.read_text(errors="replace")[-2000:]
    return Run(wall_s=wall, cpu_s=usage.ru_utime + usage.ru_stime,
               peak_rss_mb=usage.ru_maxrss / 1024, exit=code, error=error)  # KiB on Linux


def mec_sim_benchmarks(env: dict, cwd: Path) -> list[str]:
    """The built-in mec-sim benchmarks, as ``mecbench benchmarks --json`` lists them."""
    proc = subprocess.run([sys.executable, "-m", "mecbench", "benchmarks", "--json"],
                          capture_output=True, text=True, env=env, check=False, cwd=cwd)
    if proc.returncode != 0:
        raise SystemExit(f"mecbench benchmarks --json failed:\n{proc.stderr[-2000:]}")
    names = [b["name"] for b in json.loads(proc.stdout)["benchmarks"]]
    return [n for n in names if n.startswith("mec-sim.")]


def _names(values: list[str] | None) -> list[str]:
    """Repeatable options that also take comma-separated lists."""
    return [v for value in values or [] for v in value.split(",") if v]


def _fmt(run: Run | None, attr: str, digits: int = 1) -> str:
    if run is None:
        return "-"
    value = f"{getattr(run, attr):.{digits}f}"
    return value if run.ok else f"{value}!"


def print_table(steps: list[Step], dataset: Step, args) -> tuple[float, bool, bool]:
    """Print the table; returns (total cold s, every step succeeded, target met)."""
    name_w = max(len(s.name) for s in [dataset, *steps, Step("total (suite figure)", [])])
    head = (f"{'step':<{name_w}}  {'cold s':>8}  {'warm s':>8}  {'cold CPU s':>10}  "
            f"{'cold peak RSS MB':>16}  status")
    print(f"\nmachine: {os.cpu_count()} CPU cores; model {args.model}; jobs {args.jobs}; "
          f"cache {args.cache_dir}")
    print(head)
    print("-" * len(head))

    def row(step: Step) -> None:
        failed = [f"{which} exit {run.exit}" for which, run in (("cold", step.cold),
                                                                  ("warm", step.warm))
                  if run is not None and not run.ok]
        print(f"{step.name:<{name_w}}  {_fmt(step.cold, 'wall_s'):>8}  "
              f"{_fmt(step.warm, 'wall_s'):>8}  {_fmt(step.cold, 'cpu_s'):>10}  "
              f"{_fmt(step.cold, 'peak_rss_mb', 0):>16}  "
              f"{'FAILED: ' + ', '.join(failed) if failed else 'ok'}")

    row(dataset)
    print("-" * len(head))
    for step in steps:
        row(step)
    print("-" * len(head))
    scores = [s for s in steps if s.kind == "score"]
    all_runs = [r for s in [dataset, *steps] for r in (s.cold, s.warm) if r is not None]
    ok = all(r.ok for r in all_runs)
    total = sum(s.cold.wall_s for s in steps)
    total_warm = sum(s.warm.wall_s for s in steps if s.warm is not None)
    if len(scores) < len(steps):
        label = f"scores ({len(scores)} benchmark{'s' * (len(scores) != 1)})"
        print(f"{label:<{name_w}}  "
              f"{sum(s.cold.wall_s for s in scores):>8.1f}  "
              f"{sum(s.warm.wall_s for s in scores):>8.1f}")
    met = ok and total < TARGET_S and not args.quick
    verdict = ("not judged on a --quick smoke run" if args.quick and ok else
               f"{'met' if met else 'NOT met'}" if ok else
               f"not judged: {sum(not r.ok for r in all_runs)} run(s) failed")
    print(f"{'total (suite figure)':<{name_w}}  {total:>8.1f}  {total_warm:>8.1f}  "
          f"{sum(s.cold.cpu_s for s in steps):>10.1f}  "
          f"{max(s.cold.peak_rss_mb for s in steps):>16.0f}  "
          f"(target: < {TARGET_S:.0f} s cold) {verdict}")
    print("(total: the cold runs after step 0; peak RSS column of the total: the largest; "
          "'!' marks a failed run)")
    for step in [dataset, *steps]:
        for which, run in (("cold", step.cold), ("warm", step.warm)):
            if run is not None and not run.ok:
                print(f"\n{step.name} ({which}) failed with exit status {run.exit}: "
                      f"{' '.join(step.command)}\n{run.error.rstrip()}")
    return total, ok, met


def write_json(path: Path, steps: list[Step], dataset: Step, args, total: float, ok: bool,
               met: bool) -> None:
    """Write the numbers atomically (temporary file, then rename)."""
    def step_doc(step: Step) -> dict:
        return {"step": step.name, "kind": step.kind, "command": step.command,
                "cold": step.cold._asdict() if step.cold else None,
                "warm": step.warm._asdict() if step.warm else None}

    doc = {"model": args.model, "benchmarks": args.benchmarks, "jobs": args.jobs,
           "cpu_count": os.cpu_count(), "cache_dir": str(args.cache_dir),
           "quick": args.quick, "dataset": step_doc(dataset),
           "steps": [step_doc(s) for s in steps], "total_cold_s": total,
           "target_s": TARGET_S, "all_succeeded": ok, "target_met": met}
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None,
                        help="model identifier (default rnn-relu-dos; toy-fourier with --quick)")
    parser.add_argument("--benchmarks", action="append", metavar="BENCH[,BENCH...]",
                        help="benchmarks to score, in order (repeatable; default every "
                             "built-in mec-sim benchmark)")
    parser.add_argument("--skip", action="append", metavar="BENCH", default=[],
                        help="leave this benchmark out (repeatable)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="MECBENCH_CACHE_DIR for every command (default: a fresh "
                             "temporary directory, removed at the end)")
    parser.add_argument("--dataset-from", type=Path, metavar="CACHE_DIR", default=None,
                        help="copy CACHE_DIR/datasets (a built mec-sim) into the cache first, "
                             "so that step 0 only loads it; no rate maps, ceilings or scores "
                             "are copied")
    parser.add_argument("--controls", action=argparse.BooleanOptionalAction, default=None,
                        help="run the controls sweep on mec-sim.ridge after the scores "
                             "(default yes; no with --quick)")
    parser.add_argument("--jobs", type=int, default=1, help="--jobs of every command")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the numbers here")
    parser.add_argument("--quick", action="store_true",
                        help="toy model on small synthetic recordings (smoke run)")
    args = parser.parse_args(argv)

    # Every child runs in this folder: run from a source checkout, ``python -m``/``-c`` would
    # otherwise import the checkout's ``mecbench/`` instead of the installed package.
    work = Path(tempfile.mkdtemp(prefix="mecbench-suite-"))
    keep_cache = args.cache_dir is not None
    args.cache_dir = (args.cache_dir or work / "cache").resolve()
    if keep_cache and args.cache_dir.is_dir() and any(args.cache_dir.iterdir()):
        print(f"note: {args.cache_dir} is not empty; 'cold' runs may read earlier entries",
              file=sys.stderr)
    env = {**os.environ, "MECBENCH_CACHE_DIR": str(args.cache_dir)}
    mecbench = [sys.executable, "-m", "mecbench", "-q"]
    try:
        if args.dataset_from is not None:
            source = args.dataset_from.expanduser() / "datasets"
            if not source.is_dir():
                raise SystemExit(f"--dataset-from: no datasets folder in {args.dataset_from}")
            shutil.copytree(source, args.cache_dir / "datasets", dirs_exist_ok=True)
        if args.quick:
            plugin_dir = work / "plugin"
            plugin_dir.mkdir()
            sys.path.insert(0, str(TESTS))
            from benchkit import write_plugin

            mecbench += ["--plugin", str(write_plugin(plugin_dir))]
            data = work / "recordings.nc"
            dataset = Step("0 write small recordings (once)",
                           [sys.executable, "-c", _QUICK_DATA, str(TESTS), str(data)],
                           kind="dataset")
            args.model = args.model or QUICK_MODEL
            args.benchmarks = _names(args.benchmarks) or [str(data)]
            controls_bench, controls_extra = str(data), QUICK_CONTROLS
            controls = bool(args.controls)
        else:
            dataset = Step("0 dataset mec-sim (build or load, once)",
                           [sys.executable, "-c", _DATASET], kind="dataset")
            args.model = args.model or "rnn-relu-dos"
            args.benchmarks = _names(args.benchmarks) or mec_sim_benchmarks(env, work)
            controls_bench, controls_extra = "mec-sim.ridge", []
            controls = args.controls is None or args.controls
        skip = set(_names(args.skip))
        args.benchmarks = [b for b in args.benchmarks if b not in skip]
        if not args.benchmarks:
            raise SystemExit("no benchmark left to score")

        jobs = ["--jobs", str(args.jobs)]
        steps = [Step(Path(b).name if args.quick else b,
                      [*mecbench, "score", args.model, b, "--layer", "all", *jobs])
                 for b in args.benchmarks]
        if controls:
            steps.append(Step(f"controls {Path(controls_bench).name}",
                              [*mecbench, "controls", controls_bench, "--models", args.model,
                               "--leaderboard-dir", str(work / "board"), *controls_extra,
                               *jobs], kind="controls"))

        def run(step: Step, which: str) -> Run:
            result = measure(step.command, env, work / "log.txt")
            print(f"  {which:4s} {step.name}: {result.wall_s:.1f} s"
                  f"{'' if result.ok else f' FAILED (exit {result.exit})'}",
                  file=sys.stderr, flush=True)
            return result

        dataset.cold = run(dataset, "once")
        if dataset.cold.ok:
            scores = [s for s in steps if s.kind == "score"]
            for step in scores:
                step.cold = run(step, "cold")
            for step in scores:
                step.warm = run(step, "warm")
            for step in steps:
                if step.kind == "controls":
                    step.cold = run(step, "cold")
                    step.warm = run(step, "warm")
        else:  # nothing can be scored without the data: report that alone
            print(f"step 0 failed (exit {dataset.cold.exit}): {' '.join(dataset.command)}\n"
                  f"{dataset.cold.error.rstrip()}")
            return 1
        total, ok, met = print_table(steps, dataset, args)
        if args.json:
            write_json(args.json, steps, dataset, args, total, ok, met)
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
