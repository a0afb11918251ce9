"""Entry point of the ``mecbench`` command.

Each sub-command module in :data:`COMMAND_MODULES` exposes ``register(subparsers)`` that adds
its parser and sets ``func`` (called with the parsed arguments, returning an exit code).
Modules import heavy dependencies inside their functions so ``mecbench --help`` stays fast.
Errors from bad input (:class:`~mecbench.errors.MecbenchError`) print one line on stderr and
exit with code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from mecbench import __version__
from mecbench.errors import MecbenchError

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
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 a check failed, 2 bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from mecbench.registry import load_plugin_file

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
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
