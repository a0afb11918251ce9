"""Entry point of the ``mecbench`` command.

Each sub-command module in :data:`COMMAND_MODULES` exposes ``register(subparsers)`` that adds
its parser and sets ``func`` (called with the parsed arguments, returning an exit code).
Modules import heavy dependencies inside their functions so ``mecbench --help`` stays fast.
Errors from bad input (:class:`~mecbench.errors.MecbenchError`) print one line on stderr and
exit with code 2, never a traceback.

The global option ``--data-dir DIR`` tells dataset plugins where user-supplied recordings are:
it sets :data:`DATA_ENV` (``MECBENCH_DATA``, which the plugins read) for the duration of the
command, so it takes precedence over the variable in the environment.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from mecbench import __version__
from mecbench.errors import ConfigError, MecbenchError

DATA_ENV = "MECBENCH_DATA"

COMMAND_MODULES: list[str] = [
    "mecbench.cli.models",
    "mecbench.cli.datasets",
    "mecbench.cli.benchmarks",
    "mecbench.cli.score",
    "mecbench.cli.ceiling",
    "mecbench.cli.leaderboard",
    "mecbench.cli.compare",
    "mecbench.cli.report",
    "mecbench.cli.cache",
    "mecbench.cli.data",
    "mecbench.cli.train",
    "mecbench.cli.controls",
]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="mecbench",
        description="Neural-predictivity benchmarks for models of the medial entorhinal cortex.",
    )
    parser.add_argument("--version", action="version", version=f"mecbench {__version__}")
    parser.add_argument("--plugin", action="append", default=[], metavar="FILE.py",
                        help="import a Python file that registers models (repeatable)")
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="folder of your local copies of the recorded datasets (e.g. "
                             "sargolini2006), for dataset plugins; overrides $MECBENCH_DATA")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


@contextlib.contextmanager
def data_dir_option(data_dir: str | None) -> Iterator[None]:
    """Within the block, ``$MECBENCH_DATA`` is ``data_dir`` (made absolute); the previous value
    (or its absence) is restored afterwards. Nothing changes when ``data_dir`` is None.

    Raises
    ------
    ConfigError
        When ``data_dir`` is given but is not an existing directory.
    """
    if data_dir is None:
        yield
        return
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        problem = "not a directory" if path.exists() else "no such directory"
        raise ConfigError(f"--data-dir {data_dir}: {problem}")
    old = os.environ.get(DATA_ENV)
    os.environ[DATA_ENV] = str(path.resolve())
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(DATA_ENV, None)
        else:
            os.environ[DATA_ENV] = old


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 a check failed, 2 bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from mecbench.registry import load_plugin_file

        with data_dir_option(args.data_dir):
            for path in args.plugin:
                load_plugin_file(path)
            code = args.func(args)
    except MecbenchError as err:
        print(f"mecbench: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mecbench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`mecbench ... | head`): stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
