"""Start-up cost of the CLI: listing commands and a warm (fully cached) score, against
``python -c pass``, in one run.

Usage::

    python tests/perf/bench_startup.py                  # listings + warm scores, 5 runs each
    python tests/perf/bench_startup.py --repeats 9
    python tests/perf/bench_startup.py --quick          # listings only, 1 run (smoke run)

Every command runs in a new process (a cold start of the interpreter and of mecbench; the
operating system's file cache is whatever it is). For each command the table gives the median
wall time over the runs, its ratio to the median of ``python -c pass`` measured in the same
run, the time spent importing modules (``python -X importtime``: the sum over top-level
imports, measured in one extra run), and which heavy libraries the command imported.

The warm scores use ``$MECBENCH_CACHE_DIR`` (default ``~/.cache/mecbench``): one untimed run
fills the cache first if needed (building ``mec-sim`` and its ceiling the first time takes
minutes). "without dask installed" runs the same score with dask made unimportable, as in an
install without the ``distributed`` extra: with dask installed, xarray imports ``dask.array``
when it decodes the first string variable of a netCDF file. ``my-grid-model`` is a function
of position registered by a plugin file (no torch); ``rnn-relu-dos`` is a shipped torch
network, whose provider reads its name, layers and fingerprint from the checkpoint files and
imports torch only to compute rate maps (so not in a warm score).
On a shared machine wall time includes waiting for the cores; compare ratios within one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

#: Children run here: from a source checkout, ``python -m mecbench`` would import the
#: checkout's ``mecbench/`` (without the installed built-in models and datasets).
CHILD_CWD = tempfile.gettempdir()

HEAVY = ("sklearn", "scipy.stats", "scipy.signal", "torch", "matplotlib", "statsmodels",
         "dask", "pynwb", "xarray", "netCDF4")

PLUGIN = textwrap.dedent('''
    import numpy as np

    import mecbench
    from mecbench.providers import FunctionProvider


    @mecbench.register_model("my-grid-model")
    def my_grid_model():
        """Twelve idealised grid cells: two spacings, six phases."""
        spacing = np.repeat([0.35, 0.5], 6)
        phase = np.random.default_rng(0).uniform(0, 0.3, (12, 2))
        angle = np.deg2rad([0.0, 60.0, 120.0])
        wave = np.stack([np.cos(angle), np.sin(angle)], axis=1)
        k = 4 * np.pi / (np.sqrt(3) * spacing)

        def responses(positions):
            rel = positions[:, None, :] - phase[None]
            return np.maximum(np.cos(k[None, :, None] * (rel @ wave.T)).sum(-1), 0.0)

        return FunctionProvider(responses, identifier="my-grid-model", n_units=12)
''')


def _mecbench(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "mecbench", *args]


# As installed without the `distributed` extra: dask cannot be imported. With dask installed,
# xarray imports dask.array when it decodes the first string variable of a netCDF file.
_WITHOUT_DASK = ("import sys; sys.modules['dask'] = None; from mecbench.cli.main import main; "
                 "sys.exit(main(sys.argv[1:]))")


def _mecbench_without_dask(args: list[str]) -> list[str]:
    return [sys.executable, "-c", _WITHOUT_DASK, *args]


def wall(cmd: list[str], env: dict) -> float:
    """Wall time of one run of ``cmd`` in a new process (it must succeed)."""
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=CHILD_CWD)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return elapsed


def import_profile(cmd: list[str], env: dict) -> tuple[float, list[str]]:
    """(seconds spent importing, heavy libraries imported) from ``python -X importtime``."""
    proc = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], capture_output=True,
                          text=True, env=env, cwd=CHILD_CWD)
    total = 0.0
    names = set()
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if cumulative.strip().isdigit():
            names.add(name.strip())
            if not name.startswith("  "):       # a top-level import: its cumulative time
                total += int(cumulative) / 1e6   # microseconds
    return total, [h for h in HEAVY if h in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per command")
    parser.add_argument("--quick", action="store_true",
                        help="listing commands only, one run each (smoke run)")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else max(1, args.repeats)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.TemporaryDirectory(prefix="mecbench-startup-") as tmp:
        plugin = Path(tmp, "my_grid_model.py")
        plugin.write_text(PLUGIN)
        commands = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("mecbench --help", _mecbench(["--help"])),
            ("mecbench models", _mecbench(["models"])),
            ("mecbench benchmarks", _mecbench(["benchmarks"])),
            ("mecbench datasets", _mecbench(["datasets"])),
        ]
        if not args.quick:
            for model, extra in (("my-grid-model", ["--plugin", str(plugin)]),
                                 ("rnn-relu-dos", [])):
                cmd = _mecbench(["-q", "score", model, "mec-sim.ridge", *extra])
                wall(cmd, env)  # fills the cache when it is cold; not timed
                commands.append((f"warm score {model} mec-sim.ridge", cmd))
                if model == "my-grid-model":
                    commands.append(("  the same without dask installed",
                                     _mecbench_without_dask(cmd[3:])))
        rows = []
        for name, cmd in commands:
            times = [wall(cmd, env) for _ in range(repeats)]
            seconds, heavy = import_profile(cmd, env)
            rows.append((name, statistics.median(times), seconds, heavy))
    base = rows[0][1]
    width = max(len(r[0]) for r in rows)
    print(f"{'command':<{width}}  {'wall (median)':>13}  {'x python -c pass':>16}  "
          f"{'imports':>8}  heavy libraries imported")
    for name, median, seconds, heavy in rows:
        print(f"{name:<{width}}  {median:>11.3f} s  {median / base:>16.1f}  "
              f"{seconds:>6.3f} s  {', '.join(heavy) or 'none'}")
    print(f"({repeats} run{'s' * (repeats > 1)} per command; imports from one "
          "`python -X importtime` run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
