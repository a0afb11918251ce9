"""scripts/nfl_sweep.py: the No-Free-Lunch sweep (training, resuming, measuring, summarising)."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mecbench.analysis import fraction_grid, grid_scores
from mecbench.nets import load_network
from mecbench.nets.checkpoint import build_network
from mecbench.providers import NetworkProvider
from mecbench.ratemaps import Arena, make_rate_maps
from mecbench.training import evaluate_decoding, stay_at_start_error, train

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "nfl_sweep.py"


@pytest.fixture(scope="module")
def nfl():
    spec = importlib.util.spec_from_file_location("nfl_sweep", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["nfl_sweep"] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("nfl_sweep", None)


def _maps_with_lattices(spacings, n_noise, seed=0):
    """Hexagonal lattices (three plane waves 60° apart, rectified) of known spacing, then
    white-noise maps, in a 1.5 m box with 5 cm bins."""
    rng = np.random.default_rng(seed)
    centres = (np.arange(30) + 0.5) * 0.05 - 0.75
    X, Y = np.meshgrid(centres, centres, indexing="ij")
    maps = []
    for lam in spacings:
        k = 4 * np.pi / (np.sqrt(3) * lam)  # peaks of the sum lie `lam` apart
        theta, phase = rng.uniform(0, np.pi / 3), rng.uniform(-0.5, 0.5, 2)
        wave = sum(np.cos(k * (np.cos(theta + a) * (X - phase[0])
                               + np.sin(theta + a) * (Y - phase[1])))
                   for a in (0, np.pi / 3, 2 * np.pi / 3))
        maps.append(np.maximum(wave, 0))
    maps += [rng.random((30, 30)) for _ in range(n_noise)]
    return make_rate_maps(np.stack(maps, -1), arena_width=1.5, bin_size=0.05)


def test_grid_summary_matches_fraction_grid_and_the_lattice_spacing(nfl):
    spacings = [0.35, 0.40, 0.45, 0.50, 0.55]
    maps = _maps_with_lattices(spacings, n_noise=11)
    got = nfl.grid_summary(maps, 0.3)
    assert got["n_units"] == 16
    for form in ("sargolini", "deepmind"):
        assert got[f"fraction_grid_{form}"] == fraction_grid(maps, 0.3, form=form)
        scores = grid_scores(maps, form=form).values
        assert got[f"max_score_{form}"] == pytest.approx(np.nanmax(scores))
        assert got[f"median_score_{form}"] == pytest.approx(np.nanmedian(scores))
    # the lattices, and only they, are grid-like: the spacing is theirs
    grid = np.flatnonzero(grid_scores(maps).values > 0.3)
    assert grid.tolist() == list(range(len(spacings)))
    assert got["n_spacing"] == len(spacings)
    assert got["median_spacing_m"] == pytest.approx(np.median(spacings), abs=0.03)


def test_half_box_fraction_keeps_lattices_with_two_periods_across_the_box(nfl):
    spacings = [0.4, 0.5, 0.9, 1.0]  # the box is 1.5 m: half of it is 0.75 m
    maps = _maps_with_lattices(spacings, n_noise=6, seed=1)
    got = nfl.grid_summary(maps, 0.3)
    grid = grid_scores(maps).values > 0.3
    assert grid[:4].all() and not grid[4:].any()
    truth = np.concatenate([np.array(spacings) <= 0.75, np.zeros(6, bool)])
    assert got["fraction_grid_half_box"] == np.mean(grid & truth) == 0.2
    assert got["fraction_grid_sargolini"] == 0.4


def test_grid_summary_without_grid_units_has_no_spacing(nfl):
    got = nfl.grid_summary(_maps_with_lattices([], n_noise=6), 0.3)
    assert got["fraction_grid_sargolini"] == 0.0 and got["n_spacing"] == 0
    assert got["fraction_grid_half_box"] == 0.0
    assert math.isnan(got["median_spacing_m"])


def test_aggregate_matches_numpy(nfl):
    values = [0.2, float("nan"), 0.5, 0.35, None]
    a = np.array([0.2, np.nan, 0.5, 0.35, np.nan])
    got = nfl.aggregate(values)
    assert got["mean"] == pytest.approx(np.nanmean(a))
    assert got["sd"] == pytest.approx(np.nanstd(a, ddof=1))
    assert (got["min"], got["max"]) == (np.nanmin(a), np.nanmax(a))
    assert (got["n"], got["n_runs"]) == (3, 5)
    assert nfl.aggregate([0.7]) | {"values": None} == {
        "mean": 0.7, "sd": 0.0, "min": 0.7, "max": 0.7, "n": 1, "n_runs": 1, "values": None}
    empty = nfl.aggregate([float("nan"), None])
    assert empty["n"] == 0 and math.isnan(empty["mean"]) and math.isnan(empty["sd"])


def test_summarise_groups_runs_by_configuration_in_table_order(nfl):
    rng = np.random.default_rng(3)
    names = ["cartesian", "dos-sigma0.12"]
    runs = []
    for name in names:
        for seed in (2, 0, 1):
            runs.append({"config_name": name, "seed": seed,
                         **{k: float(rng.random()) for k in nfl.AGGREGATED}})
    runs[0]["median_spacing_m"] = float("nan")  # cartesian seed 2 has no grid unit
    summary = nfl.summarise(runs[::-1])
    assert [c["name"] for c in summary] == ["dos-sigma0.12", "cartesian"]  # order of CONFIGS
    for c in summary:
        mine = [r for r in runs if r["config_name"] == c["name"]]
        assert c["seeds"] == [0, 1, 2] and [r["seed"] for r in c["runs"]] == [0, 1, 2]
        for key in nfl.AGGREGATED:
            v = np.array([r[key] for r in sorted(mine, key=lambda r: r["seed"])])
            s = c["summary"][key]
            assert s["mean"] == pytest.approx(np.nanmean(v))
            assert s["sd"] == pytest.approx(np.nanstd(v, ddof=1))
            assert (s["min"], s["max"]) == (np.nanmin(v), np.nanmax(v))
    table = nfl.format_table(summary)
    dos = next(c for c in summary if c["name"] == "dos-sigma0.12")
    f = np.array([r["fraction_grid_sargolini"] for r in dos["runs"]])
    row = next(line for line in table.splitlines() if line.startswith("| DoS σ=0.12 s=2 |"))
    assert (f"{f.mean():.3f} ± {f.std(ddof=1):.3f} ({f.min():.3f}–{f.max():.3f})") in row
    cart = next(line for line in table.splitlines() if line.startswith("| cartesian"))
    assert "[2/3]" in cart  # the spacing is over the two seeds that have one


def _quick(nfl, out: Path, *extra: str) -> int:
    return nfl.main(["--quick", "--out", str(out), "--jobs", "1", "--quiet",
                     "--configs", "dos-sigma0.12", "--seeds", "1", *extra])


def test_resume_skips_finished_runs_and_continues_interrupted_ones(nfl, tmp_path, capsys):
    out = tmp_path / "runs"
    run_dir = out / "dos-sigma0.12" / "seed0"
    assert _quick(nfl, out, "--steps", "2") == 0
    files = ["model.safetensors", "training_state.safetensors", "training_state.json",
             "metrics.json"]
    before = {f: (run_dir / f).stat().st_mtime_ns for f in files}
    assert json.loads((run_dir / "metrics.json").read_text())["step"] == 2

    assert _quick(nfl, out, "--steps", "2") == 0  # finished: nothing is rewritten
    assert {f: (run_dir / f).stat().st_mtime_ns for f in files} == before
    assert "[dos-sigma0.12/seed0] finished earlier (step 2): skipped" in \
        (out / "sweep.log").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["configs"][0]["runs"][0]["skipped"] is True

    # more steps: the run resumes from step 2 and ends with the weights of one 4-step run
    assert _quick(nfl, out, "--steps", "4") == 0
    assert "[dos-sigma0.12/seed0] resuming at step 2 (4 steps)" in (out / "sweep.log").read_text()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["step"] == 4
    summary = json.loads((out / "summary.json").read_text())
    assert summary["configs"][0]["runs"][0]["skipped"] is False
    resumed = load_network(run_dir)
    config = resumed.config
    assert config.seed == 0 and config.place_sigma == 0.12 and config.readout == "dos"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the sweep trains
    try:
        whole = train(config, tmp_path / "whole", 4, progress=False).model
    finally:
        torch.set_num_threads(threads)
    a, b = resumed.state_dict(), whole.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    state = json.loads((run_dir / "training_state.json").read_text())
    assert len(state["commands"]) == 2 and "--steps 4" in state["commands"][1]
    capsys.readouterr()

    # a folder holding another configuration is refused before any work
    assert _quick(nfl, out, "--steps", "4", "--set", "n_hidden=20") == 2
    err = capsys.readouterr().err
    assert "n_hidden" in err and str(run_dir) in err and "another --out" in err
    assert load_network(run_dir).config == config


def test_bad_arguments_exit_2_with_one_line(nfl, tmp_path, capsys):
    assert nfl.main(["--quick", "--out", str(tmp_path), "--configs", "dos-sigma0.1"]) == 2
    err = capsys.readouterr().err
    assert "dos-sigma0.12" in err and err.count("\n") == 1
    assert nfl.main(["--quick", "--out", str(tmp_path), "--set", "readout=polar"]) == 2
    assert "readout" in capsys.readouterr().err
    assert nfl.main(["--quick", "--out", str(tmp_path), "--set", "n_hidden=-1"]) == 2
    assert "n_hidden" in capsys.readouterr().err
    assert nfl.main(["--quick", "--out", str(tmp_path), "--seeds", "0"]) == 2
    assert nfl.main(["--quick", "--out", str(tmp_path), "--device", "tpu"]) == 2
    assert "--device" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing was started


@pytest.mark.slow
def test_quick_sweep_runs_end_to_end_in_two_jobs(nfl, tmp_path):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", "runs", "--jobs", "2",
         "--json", "nfl.json"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "nfl.json").read_text())
    assert result == json.loads((tmp_path / "runs" / "summary.json").read_text())
    assert result["failed"] == []
    assert [c["name"] for c in result["configs"]] == [v.name for v in nfl.CONFIGS]
    table = (tmp_path / "runs" / "table.md").read_text()
    assert done.stdout == table
    assert len(table.splitlines()) == 2 + len(nfl.CONFIGS)
    assert "| decoding error T=5 (cm) |" in table and "| stay at start T=20 (cm) |" in table
    log = (tmp_path / "runs" / "sweep.log").read_text()
    analysis = result["analysis"]
    for c in result["configs"]:
        assert c["seeds"] == [0, 1]
        assert f"| {c['label']} | 2 |" in table
        for run in c["runs"]:
            assert run["step"] == nfl.QUICK.steps and not run["skipped"]
            assert f"[{c['name']}/seed{run['seed']}] done:" in log
            # the table's grid fractions are fraction_grid on the rate maps of the checkpoint
            model = load_network(tmp_path / "runs" / c["name"] / f"seed{run['seed']}")
            assert model.config.seed == run["seed"]
            provider = NetworkProvider(model, "check", n_batches=analysis["map_batches"],
                                       batch_size=analysis["map_batch_size"],
                                       n_steps=analysis["map_steps"], unvisited="nearest")
            arena = Arena(model.config.arena_width, model.config.arena_height,
                          analysis["bin_size"])
            maps = provider.rate_maps(arena, "g", seed=analysis["map_seed"])
            for form in ("sargolini", "deepmind"):
                assert run[f"fraction_grid_{form}"] == fraction_grid(maps, 0.3, form=form)
            assert run["stay_at_start_cm"] < run["decoding_error_cm"]  # 4 steps: untrained
            # decoding over the training length (5 steps) and over the 20-step rollouts
            for key, length in (("", None), ("_rollout", 20)):
                assert run[f"decoding_error{key}_cm"] == pytest.approx(100 * evaluate_decoding(
                    model, n_batches=analysis["decode_batches"], seq_len=length), rel=1e-5)
                assert run[f"stay_at_start{key}_cm"] == pytest.approx(100 * stay_at_start_error(
                    model.config, n_batches=analysis["decode_batches"], seq_len=length))
            assert run["stay_at_start_rollout_cm"] > run["stay_at_start_cm"]
        s = c["summary"]["fraction_grid_sargolini"]
        assert s["mean"] == pytest.approx(np.mean([r["fraction_grid_sargolini"]
                                                   for r in c["runs"]]))


def test_zero_steps_measures_the_untrained_networks(nfl, tmp_path):
    assert nfl.main(["--quick", "--out", str(tmp_path), "--jobs", "1", "--quiet", "--steps",
                     "0", "--configs", "cartesian", "--seeds", "1"]) == 0
    run_dir = tmp_path / "cartesian" / "seed0"
    assert json.loads((run_dir / "metrics.json").read_text())["step"] == 0
    saved = load_network(run_dir)
    fresh = build_network(saved.config)
    a, b = saved.state_dict(), fresh.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
