"""Options and helpers shared by the benchmark commands (score, ceiling, leaderboard, compare,
report): ad-hoc benchmark options, parallel options, cache, progress bars and JSON output."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import sys
from collections.abc import Iterator
from typing import Any

from mecbench.formatting import format_ci as fmt_ci  # noqa: F401  (opt.fmt_ci in the commands)
from mecbench.formatting import format_number as fmt  # noqa: F401  (opt.fmt in the commands)
from mecbench.jsonsafe import json_safe

JSON_SCHEMA_VERSION = 1


def add_adhoc_options(parser) -> None:
    """``--mapping``, ``--splits``, ``--ceiling`` for a benchmark given as a data file."""
    group = parser.add_argument_group(
        "ad-hoc benchmark (when BENCHMARK is a path to recordings)")
    group.add_argument("--mapping", default=None, metavar="SPEC",
                       help="mapping NAME[:KEY=VALUE,...], e.g. ridge:alpha=10 or "
                            "pls:n_components=25 (default ridge:alpha=1.0)")
    group.add_argument("--splits", default=None, metavar="SPEC",
                       help="random[:train_frac=0.2,n_splits=10,seed=0], "
                            "blocked[:block_size=4,...], topbottom, leftright, diag1, diag2 or "
                            "quad (default random)")
    group.add_argument("--ceiling", default=None,
                       help="holdout, pairwise, split-half or none (default holdout; "
                            "split-half when an arena has a single animal)")


def add_parallel_options(parser) -> None:
    """``--jobs``, ``--backend``, ``--scheduler``; ``--device`` and ``--dtype`` of the array
    backend (applied by :func:`array_backend_option`)."""
    group = parser.add_argument_group("parallel execution")
    group.add_argument("--jobs", "-j", type=int, default=1, metavar="N",
                       help="work units run at once (-1: one per core; default 1)")
    group.add_argument("--backend", default="loky", choices=("loky", "threading", "dask"),
                       help="where units run (default loky: local processes)")
    group.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="dask.distributed scheduler address (with --backend dask)")
    arrays = parser.add_argument_group(
        "array backend of the ridge fits (other mappings compute with numpy in float64)")
    arrays.add_argument("--device", default=None, metavar="DEVICE",
                        help="cpu (numpy, the default) or cuda[:N] (torch on that GPU); "
                             "default $MECBENCH_DEVICE")
    arrays.add_argument("--dtype", default=None, choices=("float64", "float32"),
                        help="float type of the ridge fits (default $MECBENCH_DTYPE, else "
                             "float64); float32 and GPU scores are cached and labelled apart")


@contextlib.contextmanager
def array_backend_option(device: str | None, dtype: str | None) -> Iterator[None]:
    """Within the block the mapping engine's array backend is the one ``--device`` and
    ``--dtype`` select (through the environment variables of :mod:`mecbench.mapping.backend`,
    which worker processes inherit); the previous values are restored afterwards. Nothing
    changes when both are None.

    Raises
    ------
    ConfigError
        An unknown device or float type, CUDA absent, torch not installed (naming the option).
    """
    if device is None and dtype is None:
        yield
        return
    from mecbench.mapping import backend as bk

    env: dict[str, str] = {}
    if device is not None:
        device = device.strip().lower()
        env[bk.ENV_BACKEND] = "numpy" if device == "cpu" else "torch"
        env[bk.ENV_DEVICE] = device
    if dtype is not None:
        env[bk.ENV_DTYPE] = dtype
    name = env.get(bk.ENV_BACKEND) or os.environ.get(bk.ENV_BACKEND, "").strip() or "numpy"
    text = ":".join(part for part in (name, device, dtype) if part)
    bk.get_backend(text, where="--device/--dtype")  # unusable: fails here, naming the options
    old = {var: os.environ.get(var) for var in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for var, value in old.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def add_cache_option(parser) -> None:
    parser.add_argument("--no-cache", action="store_true",
                        help="neither read nor write the result cache")


def add_board_option(parser, *, write: bool = False) -> None:
    if write:
        text = ("leaderboard directory that --save writes to (default "
                "$MECBENCH_LEADERBOARD_DIR, else ~/.local/share/mecbench/leaderboards)")
    else:
        text = ("leaderboard directory (default $MECBENCH_LEADERBOARD_DIR, else the shipped "
                "reference board plus your own in ~/.local/share/mecbench/leaderboards)")
    parser.add_argument("--leaderboard-dir", default=None, metavar="DIR", help=text)


def add_json_option(parser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print machine-readable JSON (schema: mecbench/cli/schema.md)")


def benchmark_from_args(args):
    """The benchmark named by ``args.benchmark`` (a registered id or a data file)."""
    from mecbench.benchmarks import get_benchmark

    return get_benchmark(args.benchmark, mapping=getattr(args, "mapping", None),
                         splits=getattr(args, "splits", None),
                         ceiling=getattr(args, "ceiling", None))


def parallel_from_args(args):
    from mecbench.parallel import ParallelConfig

    return ParallelConfig(jobs=args.jobs, backend=args.backend, scheduler=args.scheduler)


def cache_from_args(args):
    from mecbench.cache import Cache

    return Cache(enabled=not getattr(args, "no_cache", False))


def command_line() -> str:
    """The command as typed (``mecbench ...``), for leaderboard entries."""
    return "mecbench " + shlex.join(sys.argv[1:]) if sys.argv else "mecbench"


def progress_from_args(args):
    """A ``progress(stage, done, total)`` callback drawing tqdm bars on stderr, or None when
    ``--quiet``, ``--json`` or stderr is not a terminal."""
    if getattr(args, "quiet", False) or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="unit", leave=False,
                                     file=sys.stderr)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return progress


def print_json(doc: dict) -> None:
    """Print one JSON document (NaN written as null)."""
    print(json.dumps(json_safe(doc), indent=2, sort_keys=False, allow_nan=False))
