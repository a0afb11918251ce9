"""The dimension-sensitivity panel (slope with a curve bootstrap, rank at matched ED, verdict
rule), the simulated worlds, and the ground-truth verdicts theory fixes, on small worlds."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mecbench.cache import Cache
from mecbench.cli.main import main
from mecbench.controls.panel import (
    DOES_NOT,
    MIN_GAIN,
    REWARDS,
    dimension_slope,
    matched_rank,
    panel_row,
)
from mecbench.controls.results import ControlsResult, Point
from mecbench.controls.worlds import generating_family_rank, world_benchmark, world_data
from mecbench.errors import ConfigError

SMALL = {"dims": (4, 16, 64), "seeds": 2, "n_cells": 20}


def test_slope_matches_polyfit_and_bootstraps_whole_curves():
    rng = np.random.default_rng(0)
    ed = np.tile([2.0, 8.0, 32.0, 128.0], 6)
    curve = np.repeat(np.arange(6), 4)
    score = 0.1 * np.log(ed) + rng.normal(0, 0.02, ed.size) + 0.05 * curve
    slope, lo, hi = dimension_slope(ed, score, curve, n_boot=500, seed=1)
    # independent reference: least squares with one dummy per curve and a common slope
    design = np.column_stack([np.log(ed), np.eye(6)[curve]])
    assert slope == pytest.approx(np.linalg.lstsq(design, score, rcond=None)[0][0], rel=1e-10)
    assert lo < slope < hi and lo > 0.05
    # curve offsets do not enter the within-curve slope (a pooled fit would see them)
    offset = score + 3.0 * curve
    assert dimension_slope(ed, offset, curve)[0] == pytest.approx(slope, rel=1e-10)
    # one curve: no CI; curves that disagree in sign: a CI across 0
    assert np.isnan(dimension_slope(ed[:4], score[:4], curve[:4])[1])
    flip = np.where(curve % 2 == 0, 1.0, -1.0) * np.log(ed)
    _, lo, hi = dimension_slope(ed, flip, curve, n_boot=500)
    assert lo < 0 < hi


def _curve(dims, eds, scores):
    return [{"dim": d, "ed_mean": e, "score_mean": s} for d, e, s in
            zip(dims, eds, scores, strict=True)]


def test_matched_rank_interpolates_in_log_ed_and_skips_out_of_range():
    curves = {"a": _curve([1, 2, 3], [2.0, 4.0, 8.0], [0.5, 0.6, 0.7]),
              "b": _curve([1, 2, 3], [1.0, 4.0, 16.0], [0.4, 0.65, 0.9]),
              "c": _curve([1, 2], [1.0, 1.5], [0.9, 0.95])}
    # a at ED 2: b interpolated at log 2 between (1, .4) and (4, .65) = .525 > .5 -> rank 2;
    # at ED 4: b .65 > .6 -> 2; at ED 8: b .775 > .7 -> 2; c never in range
    assert matched_rank(curves, "a") == (2.0, 3)
    assert matched_rank(curves, "c") == (1.0, 2)   # only b reaches ED 1-1.5, lower there
    assert matched_rank({"a": curves["a"], "c": curves["c"]}, "a") == (None, 0)
    with pytest.raises(ConfigError, match="no curve"):
        matched_rank(curves, "grid")


def _result(score_of):
    points = []
    for fam in ("fourier", "bumps", "grid"):
        for seed in (0, 1):
            for dim in (4, 16, 64, 256):
                ed = dim ** 0.5 * (1.2 if fam == "bumps" else 1.0)
                points.append(Point(f"{fam}-{dim}-{seed}", "control", fam, dim, seed, ed, 0.0,
                                    score_of(fam, ed, seed), 0.0, np.zeros(1)))
    return ControlsResult("toy", 0, "raw", "raw", "a", [4, 16, 64, 256], [0, 1],
                          ["fourier", "bumps", "grid"], np.array(["c"]), points, None, [], 0.05)


def test_verdict_rule():
    rising = panel_row(_result(lambda f, ed, s: 0.2 + 0.1 * np.log(ed) + 0.01 * s),
                       ceiling=0.8, n_boot=300)
    assert rising.verdict == REWARDS and rising.slope == pytest.approx(0.1)
    assert rising.gain == pytest.approx(0.1 * np.log(256 ** 0.5 * 1.2 / 2.0))
    assert rising.best_random_family == "bumps" and rising.best_random_dim == 256
    assert rising.best_relative == pytest.approx(rising.best_random / 0.8)
    # a significant but tiny slope is not a reward: the gain is below MIN_GAIN
    tiny = panel_row(_result(lambda f, ed, s: 0.5 + MIN_GAIN / 20 * np.log(ed) + 1e-4 * s),
                     n_boot=300)
    assert tiny.slope_ci[0] > 0 and tiny.gain < MIN_GAIN and tiny.verdict == DOES_NOT
    flat = panel_row(_result(lambda f, ed, s: 0.5 + (0.3 if f == "grid" else 0.0)
                             + 0.01 * (-1) ** s), n_boot=300)
    assert flat.verdict == DOES_NOT and flat.grid_rank == 1.0 and flat.best_relative is None


def test_world_data_is_built_from_the_generating_population():
    grid = world_data("grid", n_animals=2, n_cells=8)
    rate = grid.rate(grid.arena_names[0])
    assert rate.sizes["neuroid"] == 16 and sorted(grid.animals(grid.arena_names[0])) == [
        "rat0", "rat1"]
    # noise-free cells are exact mixtures of the population: a least-squares fit recovers them
    clean = world_data("random", n_cells=4, noise=0.0)
    noisy = world_data("random", n_cells=4, noise=0.3)
    a = clean.rate(clean.arena_names[0]).values.reshape(-1, 8)
    b = noisy.rate(noisy.arena_names[0]).values.reshape(-1, 8)
    r = [np.corrcoef(a[:, j], b[:, j])[0, 1] for j in range(8)]
    assert 0.9 < min(r) < 1.0
    with pytest.raises(ConfigError):
        world_data("grid", n_cells=0)


@pytest.mark.parametrize("kind", ["grid", "random"])
def test_ridge_ranks_the_generating_family_first_and_rewards_dimensionality(kind):
    """Ridge (alpha = 1) on smooth maps: random features approximate a kernel regression that
    improves with their number, so random bases gain with ED (the reward the panel measures);
    at matched ED the family that generated the world is ranked first."""
    out = generating_family_rank(kind, "ridge:alpha=1.0", dims=SMALL["dims"],
                                 seeds=SMALL["seeds"], n_cells=SMALL["n_cells"])
    assert out["first"] and out["n_matched"] >= 2
    if kind == "random":
        assert out["row"].verdict == REWARDS


@pytest.mark.parametrize("metric", ["cka", "shape-procrustes", "soft-matching"])
def test_similarity_metrics_rank_grid_first_in_the_grid_world(metric):
    """The grid world's cells are mixtures of grid cells of the swept grid geometry: at matched
    ED a grid population shares their spatial frequencies and orientations, which random
    bases do not, so every metric must rank the grid family first."""
    out = generating_family_rank("grid", metric, dims=SMALL["dims"], seeds=SMALL["seeds"],
                                 n_cells=SMALL["n_cells"])
    assert out["generating"] == "grid-o7.5" and out["first"], out["ranks"]


def test_panel_cli_on_a_world_file(tmp_path, capsys):
    path = world_data("grid", n_cells=10).save(tmp_path / "world.nc")
    plot = tmp_path / "panel.png"
    assert main(["controls", "--panel", str(path), "--mapping", "cka", "--dims", "4,16",
                 "--seeds", "2", "--families", "fourier,grid", "--plot", str(plot), "--json",
                 "--no-cache"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["command"] == "controls-panel" and doc["dims"] == [4, 16]
    (row,) = doc["rows"]
    assert row["benchmark"] == "world.cka" and row["comparison"] == "cka"
    assert set(row["ranks"]) == {"fourier", "grid"} and row["verdict"] in (REWARDS, DOES_NOT)
    assert plot.stat().st_size > 0
    assert main(["controls", "--panel", str(path), "--mapping", "cka", "--dims", "4,16",
                 "--seeds", "2", "--families", "fourier,grid", "--no-cache"]) == 0
    text = capsys.readouterr().out
    assert "world.cka" in text and "rule:" in text
    assert main(["controls", str(path), str(path)]) == 2
    assert "one BENCHMARK" in capsys.readouterr().err


def test_world_benchmark_scores_any_comparison():
    bench = world_benchmark("random", "soft-matching", n_cells=6)
    assert bench.mapping.text == "soft-matching"
    assert bench.identifier == "world-random.soft-matching"
    assert bench.ceiling(cache=Cache(enabled=False)).sizes["neuroid"] == 2


def test_ground_truth_table(capsys):
    from mecbench.controls.worlds import format_ground_truth, ground_truth

    doc = ground_truth(["ridge:alpha=1.0", "cka"], dims=(4, 16, 64), seeds=2,
                       n_cells=SMALL["n_cells"])
    assert [r["comparison"] for r in doc["rows"]] == ["ridge:alpha=1.0", "cka"]
    for row in doc["rows"]:
        assert row["grid"]["generating"] == "grid-o7.5"
        assert row["random"]["generating"] == "fourier"
        assert row["recovers_both"] == (row["grid"]["first"] and row["random"]["first"])
        assert row["grid"]["first"]
    text = format_ground_truth(doc)
    assert "rank of grid" in text and "cka" in text
    assert main(["controls", "--ground-truth", "mec-sim.ridge"]) == 2
    assert "drop BENCHMARK" in capsys.readouterr().err
