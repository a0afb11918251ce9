"""The benchmark commands of the CLI: output, --json schema, errors, saving, comparing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from benchkit import make_neural_data, write_plugin

from mecbench.benchmarks import get_benchmark
from mecbench.cli.main import build_parser, main
from mecbench.leaderboard import load_board_score

MY_COMMANDS = ["datasets", "benchmarks", "score", "ceiling", "leaderboard", "compare", "report",
               "cache"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    plugin = write_plugin(root)
    data = make_neural_data(n_cells=5).save(root / "lab.nc")
    return {"root": root, "plugin": str(plugin), "data": str(data)}


def run(env, capsys, *args, board=None):
    argv = ["--plugin", env["plugin"], *args]
    if board is not None:
        argv += ["--leaderboard-dir", str(board)]
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def score_args(env, model="toy-fourier", *extra):
    return ["score", model, env["data"], "--splits", "random:train_frac=0.5,n_splits=3",
            *extra]


def test_every_command_has_help(capsys):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in MY_COMMANDS:
        assert name in sub.choices
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0
        assert "usage: mecbench " + name in capsys.readouterr().out
    for sub_args in (["leaderboard", "show"], ["leaderboard", "verify"], ["cache", "info"],
                     ["cache", "clear"]):
        with pytest.raises(SystemExit):
            main([*sub_args, "--help"])
        assert "usage:" in capsys.readouterr().out


def test_lists(capsys):
    assert main(["benchmarks"]) == 0
    out = capsys.readouterr().out
    assert "mec-sim.ridge-blocked" in out and "holdout ceiling" in out
    assert main(["benchmarks", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == 1 and doc["command"] == "benchmarks"
    row = next(r for r in doc["benchmarks"] if r["name"] == "mec-sim.ridge")
    assert row["version"] == get_benchmark("mec-sim.ridge").version and row["description"]
    assert main(["datasets", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["command"] == "datasets" and isinstance(doc["datasets"], list)


def test_score_table_and_json(env, capsys):
    code, out, _ = run(env, capsys, *score_args(env), "--layer", "all", "--no-cache")
    assert code == 0
    assert "toy-fourier on lab.ridge (version 0)" in out
    # 10 source cells per target, below the pool rule: the split-half ceiling, with a note
    assert "ceiling split-half" in out and "source cells per target" in out
    lines = out.splitlines()
    header = next(i for i, x in enumerate(lines) if x.startswith("layer"))
    assert [x.split()[0] for x in lines[header + 2:header + 4]] == ["low", "high"]
    code, out, _ = run(env, capsys, *score_args(env), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["schema"] == 1 and doc["command"] == "score"
    assert doc["model"] == "toy-fourier" and doc["benchmark"] == "lab.ridge"
    assert doc["splits"] == "random-tf0.5-n3-s0" and doc["ceiling_method"] == "split-half"
    assert doc["ceiling_requested"] == "holdout" and doc["ceiling_reliable"] is True
    (layer,) = doc["layers"]
    assert layer["layer"] == "high" and layer["entry_id"] is None
    assert set(layer) >= {"raw", "raw_ci", "ceiling", "ceiled", "ci", "n_cells",
                          "n_cells_total"}
    assert layer["n_cells_total"] == 30 and 0 < layer["n_cells"] <= 30
    assert layer["ci"][0] <= layer["ceiled"] <= layer["ci"][1]


def test_single_animal_output_says_split_half(env, capsys, tmp_path):
    one = make_neural_data(n_animals=1, n_cells=4).save(tmp_path / "one.nc")
    code, out, _ = run(env, capsys, "score", "toy-bumps", str(one), "--no-cache")
    assert code == 0
    assert "ceiling split-half" in out
    assert "note: arena" in out and "single animal" in out
    code, out, _ = run(env, capsys, "ceiling", str(one), "--json", "--no-cache")
    doc = json.loads(out)
    assert doc["ceiling_method"] == "split-half" and doc["notes"]


def test_ceiling_command(env, capsys):
    code, out, _ = run(env, capsys, "ceiling", env["data"], "--splits",
                       "random:train_frac=0.5,n_splits=3", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["command"] == "ceiling" and doc["ceiling_method"] == "split-half"
    assert doc["ceiling_support"]["n_source_cells_min"] == 10
    assert set(doc["arenas"]) == {"0.5x0.5m", "0.6x0.6m"}
    assert doc["n_cells_total"] == 30
    assert doc["ci"][0] <= doc["median"] <= doc["ci"][1]
    code, out, _ = run(env, capsys, "ceiling", env["data"], "--splits",
                       "random:train_frac=0.5,n_splits=3")
    assert "0.5x0.5m" in out and "median" in out


@pytest.mark.slow
def test_save_show_compare_verify_report(env, capsys, tmp_path):
    board = tmp_path / "board"
    for model in ("toy-fourier", "toy-bumps"):
        code, out, _ = run(env, capsys, *score_args(env, model), "--save", "--json",
                           board=board)
        assert code == 0
        entry_id = json.loads(out)["layers"][0]["entry_id"]
        assert entry_id
    lines = (board / "lab.ridge.jsonl").read_text().splitlines()
    assert len(lines) == 2
    entries = [json.loads(x) for x in lines]
    assert [e["model"] for e in entries] == ["toy-fourier", "toy-bumps"]
    assert entries[0]["command"].startswith("mecbench ")
    assert (board / entries[0]["score_file"]).is_file()
    score = load_board_score(board / entries[0]["score_file"])
    assert score.attrs["model"] == "toy-fourier"

    code, out, _ = run(env, capsys, "leaderboard", "show", "lab.ridge", board=board)
    assert code == 0 and "toy-bumps" in out and "toy-fourier" in out
    code, out, _ = run(env, capsys, "leaderboard", "show", "lab.ridge", "--json", board=board)
    doc = json.loads(out)
    ceiled = [e["ceiled"] for e in doc["entries"]]
    assert ceiled == sorted(ceiled, reverse=True) and doc["problems"] == []

    code, out, _ = run(env, capsys, "compare", "toy-fourier", "toy-bumps", "-b", "lab.ridge",
                       "--n-boot", "500", "--json", board=board)
    doc = json.loads(out)
    (pair,) = doc["pairs"]
    a = load_board_score(board / entries[0]["score_file"])["raw"].values
    b = load_board_score(board / entries[1]["score_file"])["raw"].values
    keep = np.isfinite(a) & np.isfinite(b)
    assert pair["n_cells"] == int(keep.sum())
    assert pair["delta"] == pytest.approx(float(np.median(a[keep] - b[keep])))
    code, out, _ = run(env, capsys, "compare", "toy-fourier", "toy-bumps", "-b", "lab.ridge",
                       "--n-boot", "500", board=board)
    assert code == 0 and ("toy-fourier@high" in out.splitlines()[-1])

    code, out, _ = run(env, capsys, "leaderboard", "verify", "lab.ridge", board=board)
    assert code == 0, out
    assert out.count("ok ") == 2 and "2 of 2 entries reproduce" in out

    # a tampered entry does not reproduce; a damaged line is reported with its number
    tampered = dict(entries[1], raw=entries[1]["raw"] + 0.01, id="0123456789ab")
    with open(board / "lab.ridge.jsonl", "a") as fh:
        fh.write(json.dumps(tampered) + "\n{broken\n")
    code, out, err = run(env, capsys, "leaderboard", "verify", "lab.ridge", "--json",
                         board=board)
    doc = json.loads(out)
    assert code == 1
    assert [r["status"] for r in doc["results"]] == ["ok", "ok", "mismatch"]
    assert doc["problems"][0]["line"] == 4
    assert "lab.ridge.jsonl:4:" in err
    code, out, err = run(env, capsys, "leaderboard", "show", "lab.ridge", board=board)
    assert code == 0 and "lab.ridge.jsonl:4: not valid JSON" in err

    report = tmp_path / "r.html"
    code, out, _ = run(env, capsys, "report", "-b", "lab.ridge", "-o", str(report),
                       board=board)
    assert code == 0 and report.read_text().count("<tr>") >= 3


def test_compare_errors(env, capsys, tmp_path):
    board = tmp_path / "b"
    run(env, capsys, *score_args(env), "--layer", "all", "--save", board=board)
    code, _, err = run(env, capsys, "compare", "toy-fourier@high", "toy-bumps", "-b",
                       "lab.ridge", board=board)
    assert code == 2 and "did you mean" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(env, capsys, "compare", "toy-fourier", "toy-fourier@low", "-b",
                       "lab.ridge", board=board)
    assert code == 2 and "layers high, low" in err and "toy-fourier@LAYER" in err
    code, out, _ = run(env, capsys, "compare", "toy-fourier@high", "toy-fourier@low", "-b",
                       "lab.ridge", "--n-boot", "200", board=board)
    assert code == 0 and "toy-fourier@" in out


@pytest.mark.parametrize("args,needle", [
    (["score", "toy-fourier", "mec-sim.rigde"], "did you mean 'mec-sim.ridge'"),
    (["score", "toy-fourrier", "mec-sim.ridge"], "did you mean 'toy-fourier'"),
    (["score", "toy-fourier", "DATA", "--mapping", "rige"], "did you mean"),
    (["score", "toy-fourier", "DATA", "--splits", "leftrigth"], "did you mean 'leftright'"),
    (["score", "toy-fourier", "DATA", "--ceiling", "holdot"], "did you mean 'holdout'"),
    (["score", "toy-fourier", "DATA", "--layer", "hi"], "layer"),
    (["score", "toy-fourier", "DATA", "--scheduler", "tcp://127.0.0.1:1"], "--backend dask"),
    (["score", "toy-fourier", "DATA", "--jobs", "0"], "jobs"),
    (["score", "toy-fourier", "mec-sim.ridge", "--mapping", "pls"], "ad-hoc"),
    (["score", "toy-fourier", "nothere.nc"], "no such file"),
    (["ceiling", "mec-sim.rigde"], "did you mean"),
    (["leaderboard", "show", "mec-sim.rigde"], "did you mean"),
    (["report", "-b", "mec-sim.ridge", "-o", "x.pdf"], "HTML"),
])
def test_bad_input_is_one_line_and_exit_2(env, capsys, args, needle):
    args = [env["data"] if a == "DATA" else a for a in args]
    code, out, err = run(env, capsys, *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mecbench: error: ")
    assert needle in lines[0]
    assert "Traceback" not in err


def test_cache_info_and_clear(env, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MECBENCH_CACHE_DIR", str(tmp_path / "cache"))
    run(env, capsys, *score_args(env))
    code, out, _ = run(env, capsys, "cache", "info", "--json")
    doc = json.loads(out)
    assert doc["kinds"]["score"]["entries"] == 1 and doc["kinds"]["ceiling"]["entries"] == 1
    assert doc["path"] == str(tmp_path / "cache")
    code, out, _ = run(env, capsys, "cache", "clear", "--kind", "score")
    assert code == 0 and "removed 1 entry" in out
    code, out, _ = run(env, capsys, "cache", "clear", "--json")
    assert json.loads(out)["removed"] == 3
    code, out, _ = run(env, capsys, "cache", "info")
    assert "total     0" in out


@pytest.mark.slow
def test_same_command_twice_jobs_and_dask_give_identical_numbers(env, capsys, tmp_path,
                                                                   monkeypatch):
    monkeypatch.setenv("MECBENCH_CACHE_DIR", str(tmp_path / "c"))
    base = [*score_args(env), "--layer", "all", "--json", "--no-cache"]
    outs = [json.loads(run(env, capsys, *base)[1]) for _ in range(2)]
    outs.append(json.loads(run(env, capsys, *base, "--jobs", "2")[1]))
    import distributed  # in the test extra: missing is a failure, not a skip
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        outs.append(json.loads(run(env, capsys, *base, "--backend", "dask", "--scheduler",
                                   cluster.scheduler_address)[1]))
    for doc in outs[1:]:
        assert doc["layers"] == outs[0]["layers"]


def test_layer_all_keeps_layers_that_work(env, capsys, tmp_path):
    board = tmp_path / "b"
    data = make_neural_data(n_cells=10, arenas=((0.5, 0.5),)).save(tmp_path / "lab.nc")
    code, out, err = run(env, capsys, "score", "toy-fourier", str(data), "--mapping",
                         "pls:n_components=12", "--splits", "random:train_frac=0.5,n_splits=2",
                         "--layer", "all", "--save", "--json", "--no-cache", board=board)
    doc = json.loads(out)
    assert code == 2
    assert [d["layer"] for d in doc["layers"]] == ["high"]  # 40 units: 12 components fit
    (fail,) = doc["failed_layers"]
    assert fail["layer"] == "low" and "n_components" in fail["error"]
    assert [json.loads(x)["layer"] for x in
            (board / "lab.pls.jsonl").read_text().splitlines()] == ["high"]
