"""Global options (--plugin, --data-dir, -q) before or after every command, and usage errors
that name the option at fault."""

from __future__ import annotations

import argparse

import pytest
from benchkit import write_plugin

from mecbench.cli.main import (
    GLOBAL_OPTIONS,
    _walk,
    build_parser,
    main,
    merge_global_options,
)


def _leaf_commands() -> list[tuple[str, ...]]:
    """Every command path that runs something (a parser without sub-commands, or one whose
    sub-command is optional)."""
    out = []
    for path, parser in _walk(build_parser()):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if path and (not subs or not subs[0].required):
            out.append(path)
    return out


LEAVES = _leaf_commands()


def _required_args(path: tuple[str, ...]) -> list[str]:
    """The least a command needs to parse: a word for each positional, each required option
    with a value."""
    parser = dict(_walk(build_parser()))[path]
    args: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        if not action.option_strings:
            if action.nargs not in ("?", "*"):
                args.append(str(action.choices[0]) if action.choices else "x1")
        elif action.required:
            args += [action.option_strings[0], "x2.html" if "report" in path else "x2.nc"]
    return args


def _parse(argv: list[str]) -> argparse.Namespace:
    return merge_global_options(build_parser().parse_args(argv))


def test_every_command_is_covered():
    top = {p[0] for p in LEAVES}
    assert top == {"models", "datasets", "benchmarks", "score", "ceiling", "leaderboard",
                   "compare", "report", "cache", "data", "train", "controls"}
    assert {("models", "show"), ("models", "ratemaps"), ("leaderboard", "verify"),
            ("cache", "clear"), ("data", "import"), ("data", "info")} <= set(LEAVES)


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_global_options_before_and_after_the_command(path):
    rest = _required_args(path)
    globals_ = ["--plugin", "a.py", "--data-dir", "d", "-q"]
    before = _parse([*globals_, *path, *rest])
    after = _parse([*path, *rest, *globals_])
    between = _parse([path[0], *globals_, *path[1:], *rest]) if len(path) > 1 else after
    for args in (before, after, between):
        assert args.plugin == ["a.py"] and args.data_dir == "d" and args.quiet is True
    assert vars(before) == vars(after) == vars(between)
    plain = _parse([*path, *rest])
    assert plain.plugin == [] and plain.data_dir is None and plain.quiet is False
    assert not any(k.startswith("_late_") for k in vars(plain))


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_both_positions_add_up(path):
    rest = _required_args(path)
    args = _parse(["--plugin", "a.py", "--data-dir", "first", *path, *rest,
                   "--plugin=b.py", "--data-dir", "second", "--quiet"])
    assert args.plugin == ["a.py", "b.py"]   # every file, in the order given
    assert args.data_dir == "second"         # a repeated option: the last one counts
    assert args.quiet is True


def test_every_global_option_is_in_every_help(capsys):
    flags = [f for flags, _ in GLOBAL_OPTIONS for f in flags] + ["--version"]
    for path in LEAVES:
        with pytest.raises(SystemExit) as exc:
            main([*path, "--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert "global options" in out
        assert all(f in out for f in flags), path


def test_version_anywhere(capsys):
    from mecbench import __version__

    for argv in (["--version"], ["models", "--version"], ["leaderboard", "show", "--version"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 0
        assert capsys.readouterr().out == f"mecbench {__version__}\n"


def test_plugin_after_the_command_runs(tmp_path, capsys):
    plugin = write_plugin(tmp_path)
    assert main(["models", "--plugin", str(plugin)]) == 0
    assert "toy-fourier" in capsys.readouterr().out
    assert main(["models", "show", "toy-bumps", "--plugin", str(plugin), "--json"]) == 0
    assert '"name": "toy-bumps"' in capsys.readouterr().out


def test_data_dir_after_the_command_is_checked(tmp_path, capsys):
    missing = tmp_path / "nothing"
    for argv in (["--data-dir", str(missing), "ceiling", "sargolini2006.ridge"],
                 ["ceiling", "sargolini2006.ridge", "--data-dir", str(missing)]):
        assert main(argv) == 2
        assert f"--data-dir {missing}: no such directory" in capsys.readouterr().err


def _usage_error(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: mecbench")
    return err.strip().splitlines()[-1]


def test_unknown_option_is_named_not_a_subcommand_choice(capsys):
    line = _usage_error(capsys, ["models", "--plug", "x.py", "--frobnicate", "my_model.py"])
    assert line == "mecbench models: error: unrecognized option --frobnicate for " \
                   "`mecbench models`"
    line = _usage_error(capsys, ["score", "m", "mec-sim.ridge", "--lyer", "g"])
    # the closest option first (other close ones may follow)
    assert "unrecognized option --lyer for `mecbench score`; did you mean --layer" in line
    line = _usage_error(capsys, ["cache", "info", "--kind", "score"])
    assert "unrecognized option --kind for `mecbench cache info`; --kind is an option of " \
           "`mecbench cache clear`" in line
    assert "invalid choice" not in line


def test_misplaced_option_is_named(capsys):
    line = _usage_error(capsys, ["--layer", "all", "score", "m", "mec-sim.ridge"])
    assert line == "mecbench score: error: --layer is an option of `mecbench score`: " \
                   "put it after `score`"
    line = _usage_error(capsys, ["--json", "models", "list"])
    assert "--json is an option of `mecbench models list`" in line


def test_option_values_are_not_taken_for_commands_or_options(capsys):
    # the value of --layer is a command's name, the value of --mapping looks like nothing
    # argparse knows: neither is reported; the genuinely bad option is
    line = _usage_error(capsys, ["score", "m", "b.nc", "--layer", "score", "--mapping",
                                 "ridge:alpha=1", "-j", "-1", "--nope"])
    assert "unrecognized option --nope for `mecbench score`" in line


def test_other_usage_errors_keep_argparse_messages(capsys):
    line = _usage_error(capsys, ["models", "my_model.py"])
    assert "invalid choice: 'my_model.py'" in line
    line = _usage_error(capsys, ["score", "only-a-model"])
    assert "the following arguments are required: benchmark" in line
