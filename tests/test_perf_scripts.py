"""The benchmark scripts of ``tests/perf`` still run (a smoke run each: no timing is checked)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # smoke runs of the benchmark scripts

PERF = Path(__file__).parent / "perf"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, PERF / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_scoring_quick_run_prints_the_table_and_the_bounds(capsys):
    bench = _load("bench_scoring")
    assert bench.main(["--quick", "--skip", "enet,pls,himalaya"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0] for line in out.splitlines() if line[:1].isalpha()}
    assert {"ridge", "ridgecv", "one-to-one"} <= rows
    assert "enet" not in rows and "pls" not in rows
    assert "ridge path / floor" in out
    assert "least ridge path / floor" in out
    assert "faster than the reference for any map computing every correlation" in out
    # mecbench and the reference agree on every score that ran (the max |Δr| column)
    exact = ("ridge", "ridgecv", "one-to-one", "one-to-one vs cell loop")
    checked = 0
    for line in out.splitlines():
        name = re.split(r"\s{2,}", line.strip())[0]
        if name in exact:
            delta = re.search(r"\s(\d\.\d+e[-+]\d+)(\s|$)", line)
            assert delta is not None and float(delta.group(1)) < 1e-8, line
            checked += 1
    assert checked == len(exact)


def test_bench_dask_quick_run_times_both_submissions_with_identical_scores(capsys):
    bench = _load("bench_dask")
    assert bench.main(["--quick", "--with-serial"]) == 0
    out = capsys.readouterr().out
    rows = {}
    for line in out.splitlines():
        parts = re.split(r"\s{2,}", line.strip())
        if parts[0] in ("embedded", "shared", "serial") and len(parts) == 4:
            rows[parts[0]] = parts
    assert set(rows) == {"embedded", "shared", "serial"}
    # the payloads inside the tasks make dask warn about the graph; sent once, they do not
    assert rows["embedded"][2] != "none" and rows["shared"][2] == "none"
    # scores bit-identical between the two submissions and the serial run
    assert all(float(row[3]) == 0.0 for row in rows.values())
    assert "ratio embedded / shared" in out
    assert "max |difference| of per-cell scores over all runs: 0" in out


def test_bench_suite_quick_run_prints_the_table_and_writes_the_numbers(capsys, tmp_path):
    bench = _load("bench_suite")
    assert bench.main(["--quick", "--controls", "--json", str(tmp_path / "suite.json")]) == 0
    out = capsys.readouterr().out
    rows = {re.split(r"\s{2,}", line.strip())[0]: line for line in out.splitlines()}
    assert {"0 write small recordings (once)", "recordings.nc", "controls recordings.nc",
            "total (suite figure)"} <= set(rows)
    assert ("(target: < 600 s cold) not judged on a --quick smoke run"
            in rows["total (suite figure)"])
    assert "FAILED" not in out and "run(s) failed" not in out
    doc = json.loads((tmp_path / "suite.json").read_text())
    assert [s["kind"] for s in doc["steps"]] == ["score", "controls"]
    runs = [s[which] for s in doc["steps"] for which in ("cold", "warm")]
    assert all(run["exit"] == 0 and run["peak_rss_mb"] > 0 for run in runs)
    assert doc["all_succeeded"] and doc["dataset"]["cold"]["exit"] == 0
    # the total is the sum of the cold runs after step 0
    assert doc["total_cold_s"] == sum(s["cold"]["wall_s"] for s in doc["steps"])


def test_bench_suite_children_run_outside_the_current_directory(tmp_path, monkeypatch):
    # run from a source checkout, `python -c`/`-m` would import its mecbench/ (which lacks the
    # installed mecbench.datasets) instead of the installed package
    bench = _load("bench_suite")
    monkeypatch.chdir(Path(__file__).parents[1])
    work = tmp_path / "work"
    work.mkdir()
    log = work / "log.txt"
    run = bench.measure([sys.executable, "-c", "import os; print(os.getcwd())"],
                        dict(os.environ), log)
    assert run.exit == 0
    assert Path(log.read_text().strip()).resolve() == work.resolve()
