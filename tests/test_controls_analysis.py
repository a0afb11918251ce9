"""The controls analysis: OLS and ED matching against closed forms, the sweep against direct
scoring, bad input, and the ``mecbench controls`` command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from mecbench import registry
from mecbench.analysis import participation_ratio
from mecbench.benchmarks import Benchmark, MappingSpec
from mecbench.cache import Cache
from mecbench.cli.main import main
from mecbench.controls import features
from mecbench.controls.providers import PositionControl, bin_positions
from mecbench.controls.stats import fit_ols, match_dimension
from mecbench.controls.sweep import ControlsOptions, parse_dims, parse_family, run_controls
from mecbench.errors import ConfigError, DataError, ModelError, UnknownIdentifierError
from mecbench.neural_data import NeuralData
from mecbench.ratemaps import Arena, make_rate_maps
from mecbench.splits import SplitScheme

SMALL = Arena(0.6, 0.6, 0.05)
LARGE = Arena(1.0, 1.0, 0.05)


def _data(seed: int = 0) -> NeuralData:
    rng = np.random.default_rng(seed)
    rates = []
    for arena in (SMALL, LARGE):
        xy = bin_positions(arena)
        pop = features.gaussian_bumps(xy, 40, 50 + seed, width=0.1,
                                      extent=(arena.width, arena.height))
        cells = pop @ rng.uniform(0, 1, (40, 16)) + 0.1 * rng.standard_normal((len(xy), 16))
        rates.append(make_rate_maps(cells.reshape(*arena.shape, 16), arena_width=arena.width,
                                    bin_size=arena.bin_size,
                                    animal=np.repeat(["ratA", "ratB"], 8),
                                    neuroid_id=[f"c{i}" for i in range(16)]))
    return NeuralData.from_rate_maps(rates)


@pytest.fixture(scope="module")
def bench() -> Benchmark:
    return Benchmark("toy.ridge", 0, _data(), MappingSpec("ridge", {"alpha": 1.0}),
                     SplitScheme.random(train_frac=0.3, n_splits=2, seed=0))


# statistics --------------------------------------------------------------------------------
def test_ols_matches_hc3_closed_form():
    rng = np.random.default_rng(3)
    n = 60
    ed = np.exp(rng.uniform(0, 5, n))
    gf = rng.uniform(0, 1, n)
    y = 0.2 + 0.1 * np.log(ed) + 0.3 * gf + rng.standard_normal(n) * (0.05 + 0.1 * gf)
    fit = fit_ols(y, ed, gf)
    X = np.column_stack([np.ones(n), np.log(ed), gf])
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    resid = y - X @ beta
    xtx_inv = np.linalg.inv(X.T @ X)
    h = np.einsum("ij,jk,ik->i", X, xtx_inv, X)
    meat = X.T @ (X * (resid**2 / (1 - h) ** 2)[:, None])
    se = np.sqrt(np.diag(xtx_inv @ meat @ xtx_inv))          # HC3 (MacKinnon & White 1985)
    for k, term in enumerate(("const", "log_ed", "grid_fraction")):
        row = fit.table[term]
        assert row["coef"] == pytest.approx(beta[k], rel=1e-10)
        assert row["se"] == pytest.approx(se[k], rel=1e-8)
        assert row["p"] == pytest.approx(2 * stats.norm.sf(abs(beta[k] / se[k])), rel=1e-6)
    assert fit.grid_p_one_sided == pytest.approx(stats.norm.sf(beta[2] / se[2]), rel=1e-6)
    assert fit.grid_effect
    assert "grid_fraction" in fit.format()


def test_ols_without_grid_variation_and_too_few_points():
    fit = fit_ols([0.1, 0.2, 0.3, 0.35, 0.4], [1, 2, 4, 8, 16], [0, 0, 0, 0, 0])
    assert np.isnan(fit.table["grid_fraction"]["coef"])
    assert not fit.grid_effect and "cannot be estimated" in fit.note
    with pytest.raises(DataError, match="at least 4"):
        fit_ols([0.1, 0.2, np.nan], [1, 2, 3], [0, 1, 0])
    with pytest.raises(DataError, match="same effective"):
        fit_ols([0.1, 0.2, 0.3, 0.4], [2, 2, 2, 2], [0, 1, 0, 1])


def test_match_dimension_on_a_power_law():
    dims = [4, 16, 64, 256]
    eds = np.sqrt(dims)                      # ED = D^0.5: exact under log-log interpolation
    assert match_dimension(5.0, dims, eds) == (25, True)
    assert match_dimension(1.5, dims, eds) == (2, True)      # anchored at ED(1) = 1
    assert match_dimension(8.0, dims, eds) == (64, True)
    assert match_dimension(20.0, dims, eds) == (256, False)  # beyond the family's reach
    # a dip from seed noise does not break the search (running maximum)
    assert match_dimension(7.0, dims, [2.0, 4.5, 4.0, 16.0])[1]


def test_parse_helpers():
    assert parse_dims("64, 8,16,8") == [8, 16, 64]
    for bad in ("0,8", "8,-1", "a,b", ""):
        with pytest.raises(ConfigError):
            parse_dims(bad)
    assert parse_family("grid-m3").kwargs["n_modules"] == 3
    with pytest.raises(UnknownIdentifierError):
        parse_family("wavelets")
    with pytest.raises(ConfigError, match="--models"):
        parse_family("shuffle")


# the sweep -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def result(bench):
    options = ControlsOptions(models=["control/grid-d12-s0"], families=["fourier", "grid"],
                              dims=[3, 10], seeds=2, n_boot=200)
    return run_controls(bench, options, cache=Cache(enabled=False))


@pytest.mark.slow
def test_sweep_points_equal_direct_scoring(bench, result):
    # a nested prefix of the sweep is scored exactly as `score control/fourier-d3-s1`
    point = next(p for p in result.points if p.name == "control/fourier-d3-s1")
    direct = bench(PositionControl("control/fourier-d3-s1"), cache=Cache(enabled=False))
    assert np.array_equal(direct["raw"].values, point.cells)
    assert point.score == direct.value
    assert np.array_equal(direct["neuroid_id"].values.astype(str), result.cell_ids)
    # ED and grid fraction measured on the larger arena, with mecbench.analysis's definitions
    assert result.analysis_arena == LARGE.key
    maps = PositionControl("control/fourier-d3-s1").rate_maps(LARGE)
    assert point.ed == pytest.approx(participation_ratio(maps), rel=1e-9)


@pytest.mark.slow
def test_parallel_sweep_gives_identical_numbers(bench, result):
    par = run_controls(bench, ControlsOptions(families=["fourier", "grid"], dims=[3, 10],
                                              seeds=2, jobs=2), cache=Cache(enabled=False))
    serial = {p.name: p for p in result.points}
    assert len(par.points) == 8
    for p in par.points:
        q = serial[p.name]
        assert np.array_equal(p.cells, q.cells, equal_nan=True)
        assert (p.score, p.ed, p.grid_fraction) == pytest.approx((q.score, q.ed,
                                                                  q.grid_fraction), rel=1e-12)


def test_sweep_result_contents(result):
    doc = result.to_dict()
    assert doc["dims"] == [3, 10] and doc["seeds"] == [0, 1]
    assert doc["families"] == ["fourier", "grid", "shuffle"]
    kinds = [(p["family"], p["dim"], p["seed"]) for p in doc["points"] if p["kind"] == "control"]
    assert ("shuffle", 12, 0) in kinds and ("grid", 10, 1) in kinds
    assert len([k for k in kinds if k[0] == "fourier"]) == 4
    curve = doc["curves"]["fourier"]
    assert [r["dim"] for r in curve] == [3, 10] and all(r["n_seeds"] == 2 for r in curve)
    pts = [p for p in doc["points"] if p["family"] == "fourier" and p["dim"] == 10]
    assert curve[1]["score_mean"] == pytest.approx(np.mean([p["score"] for p in pts]))
    assert curve[1]["score_min"] <= curve[1]["score_mean"] <= curve[1]["score_max"]
    (verdict,) = result.models
    families = {c["family"] for c in verdict.comparisons}
    assert families == {"fourier", "grid", "shuffle"}
    json.dumps(doc)                                   # JSON-ready (NaN aside)
    fitted = [p for p in doc["points"] if p["family"] != "shuffle" and p["kind"] != "matched"]
    assert doc["ols"]["n"] == len(fitted) == 1 + 2 * 2 * 2


@pytest.mark.slow
def test_matched_comparison_uses_compare_cells(result):
    from mecbench.compare import compare_cells

    (verdict,) = result.models
    c = next(c for c in verdict.comparisons if c["family"] == "fourier")
    if not c["in_range"]:
        pytest.skip("fourier out of range on this toy problem")
    model = next(p for p in result.points if p.kind == "model")
    matched = [p for p in result.points
               if p.family == "fourier" and p.dim == c["dim"] and p.kind in ("control", "matched")]
    assert sorted(p.seed for p in matched) == [0, 1]
    ref = compare_cells({"m": (result.cell_ids, model.cells),
                         "c": (result.cell_ids, np.mean([p.cells for p in matched], axis=0))},
                        n_boot=200)[0]
    assert c["delta"] == pytest.approx(ref.delta)
    assert c["p"] == pytest.approx(ref.p)
    # and against each seed's control on its own: "better" needs the seed mean and every seed
    assert [r["seed"] for r in c["per_seed"]] == [0, 1]
    for row, point in zip(c["per_seed"], sorted(matched, key=lambda p: p.seed), strict=True):
        one = compare_cells({"m": (result.cell_ids, model.cells),
                             "c": (result.cell_ids, point.cells)}, n_boot=200)[0]
        assert row["control"] == point.name and row["delta"] == pytest.approx(one.delta)
        assert row["p_holm"] >= one.p - 1e-15          # Holm-corrected with the others
    assert c["better"] == bool(c["significant"] and c["delta"] > 0 and c["ci"][0] > 0
                               and all(r["better"] for r in c["per_seed"]))


@pytest.mark.slow
def test_untrained_family_sweep(bench):
    """Untrained networks as a control family: one network per (D, seed), built with D hidden
    units, scored through the benchmark like any model."""
    from mecbench import registry as reg

    res = run_controls(bench, ControlsOptions(families=["untrained-rnn-relu"], dims=[4, 8],
                                              seeds=1, n_boot=100), cache=Cache(enabled=False))
    points = {p.name: p for p in res.points}
    assert set(points) == {"control/untrained-rnn-relu-d4-s0", "control/untrained-rnn-relu-d8-s0"}
    factory, args = reg.get_factory("model", "untrained/rnn-relu")
    net = factory(*args, n_units=8, seed=0)
    direct = bench(net, cache=Cache(enabled=False))
    point = points["control/untrained-rnn-relu-d8-s0"]
    assert np.array_equal(direct["raw"].values, point.cells, equal_nan=True)
    maps = net.rate_maps(LARGE, net.default_layer)
    assert maps.sizes["neuroid"] == 8
    assert point.ed == pytest.approx(participation_ratio(maps), rel=1e-9)


def test_unknown_untrained_architecture_fails_before_scoring(bench, monkeypatch):
    from mecbench.controls import runner

    def no_scoring(*args, **kwargs):
        raise AssertionError("scored before the families were validated")

    monkeypatch.setattr(runner.Runner, "score", no_scoring)
    with pytest.raises(UnknownIdentifierError, match="untrained architecture 'foo'") as info:
        run_controls(bench, ControlsOptions(families=["fourier", "untrained-foo"], dims=[4],
                                            seeds=1), cache=Cache(enabled=False))
    assert "rnn-relu" in str(info.value)


# bad input -----------------------------------------------------------------------------------
class _OneArena:
    identifier = "one-arena-model"
    layers = ("out",)
    default_layer = "out"

    def fingerprint(self):
        return "one-arena"

    def rate_maps(self, arena, layer=None, *, seed=0):
        if arena != SMALL:
            raise ConfigError(f"no recording in {arena.key}")
        return PositionControl("control/relu-d4-s0").rate_maps(arena)


@pytest.mark.parametrize("kwargs,error,match", [
    ({"dims": "0,8"}, ConfigError, "positive"),
    ({"dims": [8, -2]}, ConfigError, "positive"),
    ({"families": ["wavelets"]}, UnknownIdentifierError, "control family"),
    ({"families": ["fourier-w3"]}, UnknownIdentifierError, "fourier control option"),
    ({"models": ["no-such-model"]}, UnknownIdentifierError, "unknown model"),
    ({"models": ["control/grid-d4-s0@g"]}, UnknownIdentifierError, "layer"),
    ({"models": [_OneArena()]}, ModelError, "has no rate maps for arena 1x1m"),
    ({"seeds": 0}, ConfigError, "seeds"),
    ({"metric": "r2"}, UnknownIdentifierError, "metric"),
    ({"families": ["fourier", "fourier"]}, ConfigError, "twice"),
    ({"families": []}, ConfigError, "nothing to do"),
    ({"grid_units": 0}, ConfigError, "grid_units"),
    ({"alpha": 1.0}, ConfigError, "alpha"),
    ({"n_boot": 0}, ConfigError, "n_boot"),
    ({"jobs": 0}, ConfigError, "jobs"),
    ({"jobs": -2}, ConfigError, "jobs"),
])
def test_bad_input(bench, kwargs, error, match):
    args = {"dims": [4], "seeds": 1, "families": ["fourier"], **kwargs}
    with pytest.raises(error, match=match):
        run_controls(bench, ControlsOptions(**args), cache=Cache(enabled=False))


def test_options_normalise_and_are_frozen(bench):
    import dataclasses

    options = ControlsOptions(families=["grid-m3", "fourier"], dims="64, 8,8", seeds=2,
                              models=["control/relu-d4-s0"])
    assert options.dims == (8, 64) and options.models == ("control/relu-d4-s0",)
    assert options.labels == ("grid-m3", "fourier")
    assert [t.kwargs.get("n_modules") for t in options.templates] == [3, None]
    assert options == ControlsOptions(families=("grid-m3", "fourier"), dims=[64, 8], seeds=2,
                                      models=("control/relu-d4-s0",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.seeds = 3
    with pytest.raises(ConfigError, match="ControlsOptions"):
        run_controls(bench, {"dims": [4]}, cache=Cache(enabled=False))


@pytest.mark.slow
def test_sweep_cache_keeps_no_rate_maps_and_computes_the_ceiling_once(bench, tmp_path,
                                                                      monkeypatch):
    from mecbench.benchmarks import base

    calls = []
    unit = base._ceiling_unit

    def counted(task):
        calls.append(1)
        return unit(task)

    monkeypatch.setattr(base, "_ceiling_unit", counted)
    options = ControlsOptions(families=["fourier"], dims=[3, 10], seeds=2, match=False)
    res = run_controls(bench, options, cache=Cache(enabled=False))
    assert len(res.points) == 4 and len(calls) == len(bench.arenas)   # one ceiling, 4 scores
    cache = Cache(tmp_path)
    run_controls(bench, options, cache=cache)
    kinds = cache.info()["kinds"]
    assert kinds["ratemaps"]["entries"] == 0 and kinds["score"]["entries"] == 4
    assert kinds["ceiling"]["entries"] == 1


# the command ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("controls") / "toy.nc"
    _data(1).save(path)
    return path


@pytest.mark.slow
def test_cli_json_plot_save_and_report(data_file, tmp_path, capsys):
    board = tmp_path / "board"
    plot = tmp_path / "controls.png"
    code = main(["controls", str(data_file), "--models", "control/grid-d12-s0",
                 "--dims", "3,10", "--seeds", "2", "--families", "fourier,bumps", "grid",
                 "--splits", "random:train_frac=0.3,n_splits=2,seed=0", "--no-cache",
                 "--json", "--plot", str(plot), "--save", "--leaderboard-dir", str(board)])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["command"] == "controls" and doc["schema"] == 1
    assert doc["families"] == ["fourier", "bumps", "grid", "shuffle"]
    assert set(doc["ols"]["table"]) == {"const", "log_ed", "grid_fraction"}
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # saved analysis, plot and a leaderboard entry carrying the control fields
    from mecbench import leaderboard as lb
    from mecbench.controls.board import load_controls

    saved = load_controls(board, doc["benchmark"])
    assert saved["points"] == doc["points"]
    entries = lb.load_board(board, doc["benchmark"]).entries
    assert len(entries) == 1
    (model,) = doc["models"]
    entry = entries[0]
    assert entry["model"] == "control/grid-d12-s0"
    assert entry["control_family"] == model["control_family"]
    if model["control_score"] is not None:
        assert entry["control_delta"] == pytest.approx(entry["ceiled"] - entry["control_score"])
    # `leaderboard show` lists the control columns; the schema checks their types
    capsys.readouterr()
    assert main(["leaderboard", "show", doc["benchmark"], "--leaderboard-dir", str(board)]) == 0
    shown = capsys.readouterr().out
    assert "matched control" in shown and "Δ vs control" in shown
    bad = {k: v for k, v in entry.items() if not k.startswith("_")}
    bad["control_score"] = "high"
    with pytest.raises(DataError, match="control_score"):
        lb.validate_entry(bad)
    # the HTML report shows the saved analysis
    from mecbench.report import build_report

    html = build_report(doc["benchmark"], directories=[board])
    assert 'id="controls"' in html and "data:image/png;base64" in html
    assert "dimension-matched" in html
    # and its leaderboard table carries the entry's matched control and margin
    table = html[html.index('id="leaderboard"'):]
    table = table[:table.index("</table>")]
    assert "matched control" in table and "Δ vs control" in table
    assert model["control_family"] is not None      # fourier reaches the model's ED here
    assert model["control_family"] in table
    assert f"{entry['control_delta']:+.3f}" in table


@pytest.mark.slow
def test_cli_saves_analysis_and_plot_for_the_report_by_default(data_file, tmp_path, capsys):
    board = tmp_path / "board"
    argv = ["controls", str(data_file), "--dims", "4,8", "--seeds", "1", "--families",
            "fourier", "--no-cache", "--leaderboard-dir", str(board)]
    assert main(argv) == 0
    first = capsys.readouterr().out
    (analysis,) = board.glob("controls/*.json")
    plot = analysis.with_suffix(".png")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"saved for the report: {analysis}" in first
    assert not list(board.glob("*.jsonl"))                 # no leaderboard entry without --save
    before = analysis.read_bytes()
    # a second run keeps the first analysis under a dated name, plot included
    assert main(argv[:3] + ["4,16"] + argv[4:]) == 0
    second = capsys.readouterr().out
    kept = sorted(p for p in board.glob("controls/*.json") if p != analysis)
    assert len(kept) == 1 and kept[0].read_bytes() == before
    assert kept[0].with_suffix(".png").is_file()
    assert f"the previous analysis is kept as {kept[0]}" in second
    assert json.loads(analysis.read_text())["dims"] == [4, 16]
    # --no-report writes nothing
    other = tmp_path / "other"
    assert main(argv[:-1] + [str(other), "--no-report"]) == 0
    assert not other.exists()


@pytest.mark.slow
def test_cli_text_output_with_a_model(data_file, capsys):
    code = main(["controls", str(data_file), "--models", "control/grid-d12-s0", "--dims",
                 "3,10,30", "--seeds", "2", "--families", "fourier", "grid", "--splits",
                 "random:train_frac=0.3,n_splits=2,seed=0", "--no-cache"])
    out = capsys.readouterr().out
    assert code == 0
    assert "OLS: score ~ log(ED) + grid_fraction" in out
    assert "grid-like structure predicts the score beyond effective dimensionality:" in out
    assert "control/grid-d12-s0: dimension-matched controls" in out
    header = next(line for line in out.splitlines() if line.startswith("control "))
    assert "Δ median [95% CI]" in header and "p_holm" in header
    rows = [line.split() for line in out.splitlines()]
    assert any(r[:1] == ["shuffle"] for r in rows) and any(r[:1] == ["fourier"] for r in rows)
    verdict = [line for line in out.splitlines() if line.startswith("control/grid-d12-s0 (ED")]
    assert len(verdict) == 1
    assert ("beats dimension-matched random bases" in verdict[0]
            or "does NOT beat" in verdict[0] or "cannot be compared" in verdict[0])


@pytest.mark.slow
def test_cli_text_output(data_file, capsys):
    code = main(["controls", str(data_file), "--dims", "4,8,16,32", "--seeds", "1",
                 "--families", "relu", "--no-cache"])
    out = capsys.readouterr().out
    assert code == 0
    lines = [line.split() for line in out.splitlines()]
    assert ["relu", "4"] == lines[4][:2] and ["relu", "8"] == lines[5][:2]
    # only random bases without grid-like units: the grid term cannot be estimated
    assert "OLS: score ~ log(ED) + grid_fraction" in out
    assert "grid term cannot be estimated" in out


@pytest.mark.parametrize("argv,match", [
    (["--dims", "0,8"], "positive"),
    (["--families", "fourrier"], "did you mean 'fourier'"),
    (["--models", "no-such-model"], "unknown model"),
    (["--seeds", "0"], "seeds"),
])
def test_cli_bad_input_is_one_line(data_file, capsys, argv, match):
    code = main(["controls", str(data_file), "--no-cache", *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("mecbench: error:") and match in err
    assert len(err.strip().splitlines()) == 1


def test_cli_model_without_maps_in_arena(data_file, capsys):
    registry.register("model", "test-one-arena-model", _OneArena)
    try:
        code = main(["controls", str(data_file), "--models", "test-one-arena-model",
                     "--dims", "4", "--seeds", "1", "--no-cache"])
    finally:
        registry._RUNTIME["model"].pop("test-one-arena-model", None)
    err = capsys.readouterr().err
    assert code == 2 and "has no rate maps for arena 1x1m" in err


@pytest.mark.slow
def test_concurrent_saves_keep_both_analyses_whole(tmp_path):
    """Two runs saving the same benchmark's analysis at once: one ends current, the other is
    kept under a dated name, each with its own plot (the lock serialises rename + write)."""
    import threading

    from mecbench.controls.board import save_analysis

    base = {"schema": 1, "command": "controls", "benchmark": "toy.ridge", "points": [],
            "curves": {}, "models": [], "ols": None, "score": "raw", "analysis_arena": "1x1m"}
    docs = [{**base, "seconds": float(k)} for k in range(2)]
    errors = []

    def run(doc):
        try:
            save_analysis(doc, tmp_path)
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(d,)) for d in docs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    analyses = sorted((tmp_path / "controls").glob("*.json"))
    assert len(analyses) == 2
    assert {json.loads(p.read_text())["seconds"] for p in analyses} == {0.0, 1.0}
    for p in analyses:
        assert p.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ols_grid_term_is_not_interpreted_without_a_grid_like_representation():
    """With grid fractions all below 0.5 (incidental grid scores of random bases), a
    'significant' grid coefficient is not reported as a grid effect."""
    rng = np.random.default_rng(5)
    n = 40
    ed = np.exp(rng.uniform(0, 4, n))
    gf = rng.choice([0.0, 0.1, 0.2, 0.3], n)
    y = 0.1 * np.log(ed) + 0.8 * gf + 0.01 * rng.standard_normal(n)
    fit = fit_ols(y, ed, gf)
    assert fit.table["grid_fraction"]["coef"] > 0 and fit.grid_p_one_sided < 1e-6
    assert not fit.grid_reference and not fit.grid_effect
    assert "not interpreted" in fit.grid_sentence()
    # the same points plus one grid-like representation: interpreted
    fit2 = fit_ols(np.append(y, 0.1 * np.log(20) + 0.8), np.append(ed, 20.0), np.append(gf, 1.0))
    assert fit2.grid_reference and fit2.grid_effect
    assert fit2.grid_sentence().endswith(")") and ": yes" in fit2.grid_sentence()
