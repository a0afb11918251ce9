"""Entry point of the ``mecbench`` command.

Each sub-command module in :data:`COMMAND_MODULES` exposes ``register(subparsers)`` that adds
its parser and sets ``func`` (called with the parsed arguments, returning an exit code).
Modules import heavy dependencies inside their functions so ``mecbench --help`` stays fast.
Errors from bad input (:class:`~mecbench.errors.MecbenchError`) print one line on stderr and
exit with code 2, never a traceback.

Global options (:data:`GLOBAL_OPTIONS`: ``--plugin``, ``--data-dir``, ``-q``/``--quiet``; and
``--version``) mean the same before or after the command and its sub-command: every sub-parser
accepts them too, and :func:`main` merges both positions (``--plugin`` files from both places,
in order; a later ``--data-dir`` wins, as with any repeated option). An option that the
command does not know is reported by name, with the commands that do know it and the closest
known options (:func:`option_problem`), rather than as a bad choice of the next word.

The global option ``--data-dir DIR`` tells dataset plugins where user-supplied recordings are:
it sets :data:`DATA_ENV` (``MECBENCH_DATA``, which the plugins read) for the duration of the
command, so it takes precedence over the variable in the environment.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from mecbench._version import __version__
from mecbench.cli import _options as opt
from mecbench.errors import ConfigError, MecbenchError
from mecbench.registry import load_plugin_file

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


#: Options accepted before and after any command, as (flags, add_argument keywords).
GLOBAL_OPTIONS: list[tuple[tuple[str, ...], dict]] = [
    (("--plugin",), {"action": "append", "metavar": "FILE.py",
                     "help": "import a Python file that registers models (repeatable)"}),
    (("--data-dir",), {"metavar": "DIR",
                       "help": "folder of your local copies of the recorded datasets (e.g. "
                               "sargolini2006), for dataset plugins; overrides $MECBENCH_DATA"}),
    (("-q", "--quiet"), {"action": "store_true", "help": "no progress bars"}),
]

# where a global option given after the command is kept until main() merges it
_LATE = "_late_"


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors name a misplaced or unknown option.

    argparse reports an unknown option indirectly (the word after it becomes a bad
    sub-command choice); :func:`main` sets :attr:`root` and :attr:`argv` on the top parser so
    that any parser of the tree can look at the whole command line when it fails.
    """

    root: _Parser | None = None
    argv: list[str] | None = None

    def error(self, message: str):  # argparse's hook; never returns
        root = self.root or self
        if root.argv is not None:
            better = option_problem(root, root.argv)
            if better is not None:
                parser, text = better
                parser.print_usage(sys.stderr)
                parser.exit(2, f"{parser.prog}: error: {text}\n")
        super().error(message)


def _add_global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    group = parser.add_argument_group("global options (before or after the command)")
    for flags, kwargs in GLOBAL_OPTIONS:
        dest = flags[-1].lstrip("-").replace("-", "_")
        if top:
            default = [] if kwargs.get("action") == "append" else (
                False if kwargs.get("action") == "store_true" else None)
            group.add_argument(*flags, dest=dest, default=default, **kwargs)
        else:  # kept apart so that a sub-parser never overwrites what was given before it
            group.add_argument(*flags, dest=_LATE + dest, default=argparse.SUPPRESS,
                               **kwargs)
    group.add_argument("--version", action="version", version=f"mecbench {__version__}")


def _sub_parsers(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    """(name, parser) of the direct sub-commands of ``parser``."""
    out, seen = [], set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if id(sub) not in seen:
                    seen.add(id(sub))
                    out.append((name, sub))
    return out


def _walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Every parser of the tree with its command path, the top parser first."""
    yield path, parser
    for name, sub in _sub_parsers(parser):
        yield from _walk(sub, (*path, name))


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every sub-command; the global options are accepted by
    every parser of the tree."""
    parser = _Parser(
        prog="mecbench",
        description="Neural-predictivity benchmarks for models of the medial entorhinal cortex.",
    )
    _add_global_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    for path, p in _walk(parser):
        p.root = parser
        if path:
            _add_global_options(p, top=False)
    return parser


def merge_global_options(args: argparse.Namespace) -> argparse.Namespace:
    """Fold the global options given after the command into the top-level ones (in place)."""
    for flags, kwargs in GLOBAL_OPTIONS:
        dest = flags[-1].lstrip("-").replace("-", "_")
        late = getattr(args, _LATE + dest, None)
        if late is None:
            continue
        delattr(args, _LATE + dest)
        if kwargs.get("action") == "append":
            setattr(args, dest, [*getattr(args, dest), *late])
        elif kwargs.get("action") == "store_true":
            setattr(args, dest, bool(getattr(args, dest) or late))
        else:
            setattr(args, dest, late)
    return args


def _option_strings(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {s: a for a in parser._actions for s in a.option_strings}


def _known(option: str, known: dict[str, argparse.Action]) -> argparse.Action | None:
    """The action of ``option`` (exact, or an unambiguous prefix of a long option, as
    argparse allows), else None."""
    if option in known:
        return known[option]
    if option.startswith("--"):
        hits = {id(a): a for s, a in known.items() if s.startswith(option)}
        if len(hits) == 1:
            return next(iter(hits.values()))
    return None


def option_problem(root: argparse.ArgumentParser,
                   argv: list[str]) -> tuple[argparse.ArgumentParser, str] | None:
    """The first option of ``argv`` that the command it is given to does not accept, as
    (that command's parser, a message naming the option), or None when every option fits.

    The command is found from the words that name commands and sub-commands (``score``,
    ``models show``); an option belongs to every parser on that path. The values of known
    options are skipped. An option of the command given before the command's name is
    misplaced; any other option is unknown, and its message lists the commands that accept it
    and the closest options of this command.
    """
    parsers = dict(_walk(root))
    path: tuple[str, ...] = ()
    known = _option_strings(root)
    first: str | None = None
    i = 0
    while i < len(argv):
        word = argv[i]
        i += 1
        if word == "--":
            break
        if not _looks_like_option(word):
            if (*path, word) in parsers:
                path = (*path, word)
                known = {**known, **_option_strings(parsers[path])}
            continue
        option = word.split("=", 1)[0]
        action = _known(option, known)
        if action is None and not option.startswith("--") and len(option) > 2:
            if _known(option[:2], known) is not None:
                continue  # -j4: a short option with its value attached
        if action is None:
            first = first or option
            continue
        if "=" in word or action.nargs == 0:
            continue
        if action.nargs is None:
            i += 1
        elif action.nargs == "?":
            i += int(i < len(argv) and not _looks_like_option(argv[i]))
        elif isinstance(action.nargs, int):
            i += action.nargs
        else:  # "+", "*": the values run up to the next option
            while i < len(argv) and not _looks_like_option(argv[i]):
                i += 1
    if first is None:
        return None
    parser = parsers[path]
    command = " ".join(("mecbench", *path))
    if _known(first, known) is not None:
        return parser, (f"{first} is an option of `{command}`: put it after "
                        f"`{path[-1]}`")
    owners = sorted(" ".join(p) for p, q in parsers.items()
                    if p and _known(first, _option_strings(q)) is not None)
    text = f"unrecognized option {first} for `{command}`"
    if owners:
        more = len(owners) - 1
        text += (f"; {first} is an option of `mecbench {owners[0]}`"
                 + (f" and {more} other command{'s' * (more > 1)}" if more else ""))
    close = difflib.get_close_matches(first, [s for s in known if s.startswith("--")], n=3)
    if close:
        text += f"; did you mean {' or '.join(close)}?"
    return parser, text


def _looks_like_option(word: str) -> bool:
    return word.startswith("-") and len(word) > 1 and not _is_number(word)


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


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
    parser.argv = list(sys.argv[1:] if argv is None else argv)
    args = merge_global_options(parser.parse_args(parser.argv))
    try:
        with data_dir_option(args.data_dir), opt.array_backend_option(
                getattr(args, "device", None), getattr(args, "dtype", None)):
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
