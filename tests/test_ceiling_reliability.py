"""What a ceiling rests on: source pools, the bootstrap over splits, the pool rule and its
fallback, the warnings that go with a ceiled score, and the ceiling-versus-pool curve."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
from conftest import REPO

from mecbench.benchmarks import Benchmark, get_benchmark
from mecbench.benchmarks.specs import parse_mapping
from mecbench.cache import Cache
from mecbench.ceiling import (
    CEILED_WARN_ABOVE,
    MIN_SOURCE_CELLS,
    ceiling_warnings,
    fit_saturating,
    interanimal_consistency,
    pool_curve,
    saturating,
    source_pool_sizes,
    split_half_reliability,
)
from mecbench.cli.main import main
from mecbench.errors import DataError, UnknownIdentifierError
from mecbench.neural_data import NeuralData
from mecbench.ratemaps import make_rate_maps
from mecbench.score import Score, cell_mean, split_bootstrap
from mecbench.splits import SplitScheme

pytestmark = pytest.mark.slow  # ceiling pools, bootstraps and the pool study on mec-sim

SPLITS = SplitScheme.random(train_frac=0.5, n_splits=3, seed=0)


def test_a_cached_score_is_not_served_under_another_pool_rule(tmp_path):
    """The same data, mapping, splits and resolved ceiling method under two pool rules: the
    second score is computed for its own rule, not read back with the first one's flag."""
    from mecbench.providers import FunctionProvider

    toy = FunctionProvider(lambda pos: np.cos(pos @ np.array([[9.0, 2.0], [3.0, 7.0]])),
                           "toy-cos")
    data = _latent_data(4, halves=False)
    cache = Cache(tmp_path / "cache")
    strict = _bench(data)(toy, cache=cache)
    lenient = _bench(data, min_source_cells=0)(toy, cache=cache)
    assert strict.attrs["ceiling_method"] == lenient.attrs["ceiling_method"] == "holdout"
    assert strict.attrs["ceiling_reliable"] == 0 and lenient.attrs["ceiling_reliable"] == 1
    assert lenient.attrs["min_source_cells"] == 0
    assert _bench(data)(toy, cache=cache).attrs["ceiling_reliable"] == 0   # each its own entry


def test_board_entries_carry_an_unreliable_ceiling_to_the_tables(tmp_path, capsys):
    from mecbench import leaderboard as lb
    from mecbench.cli.main import main
    from mecbench.providers import FunctionProvider
    from mecbench.report import ReportContext
    from mecbench.report.sections import leaderboard_table

    toy = FunctionProvider(lambda pos: np.cos(pos @ np.array([[9.0, 2.0], [3.0, 7.0]])),
                           "toy-cos")
    data = _latent_data(4, halves=False)
    for rule, reliable in ((None, False), (0, True)):
        bench = _bench(data, min_source_cells=rule)
        score = bench(toy, cache=Cache(enabled=False))
        entry = lb.save_entry(tmp_path / f"board{rule}", score, command="test")
        assert entry["ceiling_reliable"] is reliable
        (stored,) = lb.load_board(tmp_path / f"board{rule}", "toy.ridge").entries
        assert stored["ceiling_reliable"] is reliable
        assert main(["leaderboard", "show", "toy.ridge", "--leaderboard-dir",
                     str(tmp_path / f"board{rule}")]) == 0
        assert ("(unreliable)" in capsys.readouterr().out) is not reliable
        context = ReportContext("toy.ridge", board=None, entries=[stored])
        assert ("unreliable ceiling" in leaderboard_table(context).body) is not reliable


def _latent_data(n_cells, *, n_animals=3, halves=True, side=20, noise=1.5, seed=0):
    """Every cell is one shared latent map plus independent noise of SD ``noise`` (latent
    variance 1): the best read-out of ``k`` source cells is their mean, whose correlation with
    a target is ``c_inf * sqrt(k / (k + noise**2))`` with ``c_inf = 1 / sqrt(1 + noise**2)``.
    Halves are the rate map plus or minus half-session noise."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(side, side))
    rates, halves_list = [], []
    for a in range(n_animals):
        values = latent[..., None] + noise * rng.normal(size=(side, side, n_cells))
        da = make_rate_maps(values, arena_width=1.0, bin_size=1.0 / side,
                            neuroid_id=[f"a{a}/c{i}" for i in range(n_cells)], animal=f"a{a}")
        rates.append(da)
        wiggle = 0.3 * rng.normal(size=(side, side, n_cells))
        halves_list.append(da.expand_dims(half=2).copy(
            data=np.stack([values + wiggle, values - wiggle])))
    return NeuralData.from_rate_maps(rates, halves=halves_list if halves else None)


def _bench(data, **kw):
    return Benchmark("toy.ridge", 0, data, parse_mapping("ridge:alpha=1.0"), SPLITS,
                     n_boot=200, **kw)


# pools and the bootstrap over splits ---------------------------------------------------------
def test_source_pool_sizes_count_the_other_animals():
    values = np.zeros((4, 4, 9))
    animals = ["A"] * 3 + ["B"] * 5 + ["C"]
    da = make_rate_maps(values, arena_width=1.0, bin_size=0.25,
                        neuroid_id=[f"c{i}" for i in range(9)], animal=animals)
    cells, n_animals = source_pool_sizes(da, "holdout")
    assert cells.tolist() == [6] * 3 + [4] * 5 + [8]          # 9 cells minus their own animal's
    assert n_animals.tolist() == [2] * 9
    cells, _ = source_pool_sizes(da, "pairwise")               # smallest other animal
    assert cells.tolist() == [1] * 3 + [1] * 5 + [3]
    lone = make_rate_maps(values[..., :2], arena_width=1.0, bin_size=0.25,
                          neuroid_id=["x", "y"], animal="A")
    assert source_pool_sizes(lone)[0].tolist() == [0, 0]
    with pytest.raises(UnknownIdentifierError):
        source_pool_sizes(da, "everyone")


def test_split_bootstrap_matches_a_plain_loop():
    rng = np.random.default_rng(3)
    values = rng.normal(0.5, 0.2, (6, 5))
    values[0, 1] = np.nan
    values[2, :] = np.nan
    values[4] = 0.7                                           # the same in every split
    low, high, plow, phigh = split_bootstrap(values, n_boot=300, ci=0.9, seed=11)
    draws = np.random.default_rng(11).integers(0, 5, size=(300, 5))
    means = np.full((6, 300), np.nan)
    for b in range(300):
        for c in range(6):
            v = values[c, draws[b]]
            if np.isfinite(v).any():
                means[c, b] = np.nanmean(v)
    for c in (0, 1, 3, 4, 5):
        lo, hi = np.quantile(means[c], [0.05, 0.95])
        assert low[c] == pytest.approx(lo, abs=1e-12) and high[c] == pytest.approx(hi, abs=1e-12)
        assert lo <= np.nanmean(values[c]) <= hi
    assert np.isnan(low[2]) and np.isnan(high[2])
    assert low[4] == pytest.approx(0.7) and high[4] == pytest.approx(0.7)
    medians = np.nanmedian(means[[0, 1, 3, 4, 5]], axis=0)
    assert (plow, phigh) == pytest.approx(tuple(np.quantile(medians, [0.05, 0.95])), abs=1e-12)


# the pool rule and its fallback -------------------------------------------------------------
def test_few_source_cells_fall_back_to_split_half():
    data = _latent_data(4)                                   # 8 source cells per target
    bench = _bench(data)
    assert bench.ceiling_method == "split-half" and bench.ceiling_reliable is True
    assert bench.requested_ceiling == "holdout"
    assert any("8 source cells" in note and "split-half" in note for note in bench.notes)
    support = bench.ceiling_support()
    assert support["n_source_cells_min"] == 8 and support["reliable_pool"] is False
    assert support["n_animals"] == 3 and support["min_source_cells"] == MIN_SOURCE_CELLS
    # the ceiling used is each cell's split-half reliability
    ceiling = bench.ceiling(cache=Cache(enabled=False))
    expected = split_half_reliability(data.halves(data.arena_names[0]))
    np.testing.assert_allclose(ceiling.values, expected.values, rtol=1e-12)


def test_few_source_cells_without_halves_are_flagged():
    bench = _bench(_latent_data(4, halves=False))
    assert bench.ceiling_method == "holdout" and bench.ceiling_reliable is False
    assert any("UNRELIABLE" in note for note in bench.notes)
    summary = bench.ceiling_score(cache=Cache(enabled=False))
    assert summary["reliable"] is False and summary["support"]["n_source_cells_min"] == 8
    assert summary["split_ci"][0] <= summary["split_ci"][1]


def test_many_source_cells_keep_the_inter_animal_ceiling():
    bench = _bench(_latent_data(70))                          # 140 source cells per target
    assert MIN_SOURCE_CELLS <= 140
    assert bench.ceiling_method == "holdout" and bench.ceiling_reliable is True
    assert bench.notes == []
    # the rule can be moved: above 140 the same data fall back
    assert _bench(_latent_data(70), min_source_cells=141).ceiling_method == "split-half"
    assert _bench(_latent_data(4), min_source_cells=0).ceiling_method == "holdout"


def test_score_carries_support_and_split_ci(tmp_path):
    data = _latent_data(4, halves=False)
    bench = _bench(data)
    from mecbench.providers import FunctionProvider

    toy = FunctionProvider(lambda pos: np.cos(pos @ np.array([[9.0, 2.0], [3.0, 7.0]])),
                           "toy-cos")
    score = bench(toy, cache=Cache(enabled=False))
    assert score["n_source_cells"].values.tolist() == [8] * 12
    assert score["n_source_animals"].values.tolist() == [2] * 12
    s = score.summary()
    assert s["ceiling_n_source_cells_min"] == 8 and s["ceiling_n_source_animals_min"] == 2
    assert s["ceiling_split_ci_low"] <= s["ceiling_median"] <= s["ceiling_split_ci_high"]
    low, high = score["ceiling_ci_low"].values, score["ceiling_ci_high"].values
    ok = np.isfinite(low)
    assert np.all(low[ok] <= score["ceiling"].values[ok] + 1e-12)
    assert np.all(score["ceiling"].values[ok] <= high[ok] + 1e-12)
    assert score.attrs["ceiling_reliable"] == 0 and score.attrs["ceiling_requested"] == "holdout"
    again = Score.load(score.save(tmp_path / "s.nc"))
    assert again.summary() == pytest.approx(s, nan_ok=True)
    with pytest.raises(DataError, match="source_pool"):
        Score.from_results(score["r"], score["ceiling"], source_pool=(np.zeros(3), np.zeros(3)))


def test_ceiling_warnings():
    calm = {"ceiled_median": 0.9, "frac_ceiled_above_1": 0.1, "ceiling_median": 0.7}
    assert ceiling_warnings(calm, method="holdout", reliable=True,
                            support={"n_source_cells_min": 500}) == []
    flagged = ceiling_warnings(calm, method="holdout", reliable=False,
                               support={"n_source_cells_min": 6})
    assert len(flagged) == 1 and "6 source cells" in flagged[0]
    high = {"ceiled_median": 1.6, "frac_ceiled_above_1": 0.75, "ceiling_median": 0.25}
    (text,) = ceiling_warnings(high, method="split-half", reliable=True)
    assert f"above {CEILED_WARN_ABOVE:g}" in text and "75%" in text and "split-half" in text
    assert "median ceiling is low" in text
    both = ceiling_warnings(high, method="holdout", reliable=False,
                            support={"n_source_cells_min": 6})
    assert len(both) == 2 and "unreliable" in both[1]


# the ceiling-versus-pool curve --------------------------------------------------------------
def test_pool_curve_full_pool_is_the_holdout_ceiling_and_grows():
    data = _latent_data(12, n_animals=2, halves=False, side=16)
    rate = data.rate(data.arena_names[0])
    mapping = parse_mapping("ridge").build()
    curve = pool_curve(rate, mapping, SPLITS, [1, 4, 12, 13], seeds=[0, 1])
    full = cell_mean(interanimal_consistency(rate, mapping, SPLITS))
    np.testing.assert_allclose(curve[:, 2], np.broadcast_to(full, curve[:, 2].shape),
                               rtol=1e-10, atol=1e-12)
    assert np.isnan(curve[:, 3]).all()                        # larger than the pool
    med = np.nanmedian(curve[:, :3], axis=2)
    assert np.all(med[:, 0] < med[:, 1]) and np.all(med[:, 1] < med[:, 2])
    with pytest.raises(DataError, match="two animals"):
        pool_curve(rate.isel(neuroid=slice(0, 12)), mapping, SPLITS, [1])


def test_extrapolation_recovers_a_known_asymptote():
    noise = 1.5
    data = _latent_data(32, n_animals=2, halves=False, side=48, noise=noise, seed=5)
    rate = data.rate(data.arena_names[0])
    sizes = [1, 2, 4, 8, 16]
    curve = pool_curve(rate, parse_mapping("ridge").build(), SPLITS, sizes, seeds=[0, 1, 2])
    means = np.nanmedian(curve, axis=2).mean(axis=0)
    fit = fit_saturating(sizes, means, "sqrt-snr")
    c_inf = 1 / np.sqrt(1 + noise ** 2)
    assert fit["c_inf"] == pytest.approx(c_inf, rel=0.05)
    assert fit["n_half"] == pytest.approx(noise ** 2, rel=0.3)
    # the closed form itself, and a fit to exact points
    exact = saturating(np.array(sizes), 0.8, 3.0, "sqrt-snr")
    assert exact == pytest.approx(0.8 * np.sqrt(np.array(sizes) / (np.array(sizes) + 3.0)))
    assert fit_saturating(sizes, exact, "sqrt-snr")["c_inf"] == pytest.approx(0.8, rel=1e-6)
    hyper = saturating(np.array(sizes), 0.6, 5.0, "hyperbolic")
    assert fit_saturating(sizes, hyper, "hyperbolic")["n_half"] == pytest.approx(5.0, rel=1e-6)
    with pytest.raises(UnknownIdentifierError):
        saturating(np.array([1.0]), 1.0, 1.0, "logistic")
    with pytest.raises(DataError, match="3 finite points"):
        fit_saturating([1, 2], [0.1, 0.2])


# the command line ---------------------------------------------------------------------------
def _grating_plugin(tmp_path, waves, phases):
    source = textwrap.dedent(f'''
        import numpy as np
        from mecbench import register_model
        from mecbench.providers import FunctionProvider

        _K = np.array({waves.tolist()!r})
        _P = np.array({phases.tolist()!r})

        def _features(pos):
            return np.concatenate([np.cos(pos @ _K.T + _P), np.cos(3 * pos[:, :1])], axis=1)

        @register_model("toy-gratings")
        def toy_gratings():
            """The gratings the test cells are made of."""
            return FunctionProvider(_features, "toy-gratings")
    ''')
    path = tmp_path / "gratings.py"
    path.write_text(source)
    return path


def test_cli_explains_a_ceiled_score_above_the_limit(tmp_path, capsys):
    """Cells = a shared slow map + their own grating: the model has every grating, the other
    animals' few cells only the shared part, so the model beats the (unreliable) ceiling."""
    rng = np.random.default_rng(2)
    side, n_animals, n_cells = 20, 3, 3
    waves = rng.uniform(-25, 25, (n_animals * n_cells, 2))
    phases = rng.uniform(0, 2 * np.pi, n_animals * n_cells)
    x = -0.5 + (np.arange(side) + 0.5) / side
    pos = np.stack(np.meshgrid(x, x, indexing="ij"), axis=-1).reshape(-1, 2)
    shared = np.cos(3 * pos[:, 0])
    rates = []
    for a in range(n_animals):
        k = slice(a * n_cells, (a + 1) * n_cells)
        v = shared[:, None] + np.cos(pos @ waves[k].T + phases[k])
        v = v + 0.1 * rng.normal(size=v.shape)
        rates.append(make_rate_maps(v.reshape(side, side, n_cells), arena_width=1.0,
                                    bin_size=1.0 / side, animal=f"a{a}",
                                    neuroid_id=[f"a{a}/c{i}" for i in range(n_cells)]))
    path = NeuralData.from_rate_maps(rates).save(tmp_path / "gratings.nc")
    plugin = _grating_plugin(tmp_path, waves, phases)
    args = ["--plugin", str(plugin), "score", "toy-gratings", str(path), "--no-cache"]
    assert main(args + ["--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    layer = doc["layers"][0]
    assert doc["ceiling_method"] == "holdout" and doc["ceiling_reliable"] is False
    assert layer["ceiled"] > CEILED_WARN_ABOVE
    assert layer["ceiling_support"]["n_source_cells_min"] == 6
    assert any("unreliable ceiling" in w for w in layer["warnings"])
    assert any(f"above {CEILED_WARN_ABOVE:g}" in w for w in layer["warnings"])
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "(unreliable)" in out and "ceiling (UNRELIABLE)" in out
    assert f"warning: layer output: ceiled score {layer['ceiled']:.3f} is above" in out


# the real recordings and mec-sim ------------------------------------------------------------
def test_sargolini2006_ridge_is_honest_on_the_real_sample(real_mec_dir, capsys, monkeypatch):
    monkeypatch.setenv("MECBENCH_DATA", str(real_mec_dir))
    args = ["score", "rnn-relu-dos", "sargolini2006.ridge", "--no-cache"]
    assert main(["-q", *args, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ceiling_requested"] == "holdout" and doc["ceiling_method"] == "split-half"
    support = doc["ceiling_support"]
    assert support["n_source_cells_min"] == 2 and support["n_animals"] == 3
    assert support["reliable_pool"] is False
    assert any("2 source cells" in note for note in doc["notes"])
    (layer,) = doc["layers"]
    assert layer["ceiled"] <= CEILED_WARN_ABOVE and layer["warnings"] == []
    # the ceiling is the split-half reliability, recomputed here from the halves by hand
    bench = get_benchmark("sargolini2006.ridge")
    halves = bench.neural_data.halves("1x1m").transpose("half", "x", "y", "neuroid").values
    a, b = halves[0].reshape(-1, 10), halves[1].reshape(-1, 10)
    ref = []
    for c in range(10):
        ok = np.isfinite(a[:, c]) & np.isfinite(b[:, c])
        r = np.corrcoef(a[ok, c], b[ok, c])[0, 1]
        ref.append(2 * r / (1 + r))
    assert layer["ceiling"] == pytest.approx(np.median(ref), rel=1e-9)
    assert main(["-q", *args]) == 0
    out = capsys.readouterr().out
    assert "ceiling split-half" in out and "source cells per target: min 2" in out


def test_the_rule_leaves_mec_sim_unchanged():
    bench = get_benchmark("mec-sim.ridge")
    support = bench.ceiling_support()
    assert support["n_source_cells_min"] == 500 and support["n_animals"] == 6
    assert bench.ceiling_method == "holdout" and bench.ceiling_reliable is True
    assert bench.notes == []
    board = [json.loads(line) for line in
             (REPO / "leaderboards" / "mec-sim.ridge.jsonl").read_text().splitlines()
             if line.strip()]
    current = [e for e in board if e["benchmark_version"] == bench.version]
    if not current:
        pytest.skip("the shipped mec-sim.ridge board predates this benchmark version")
    ceiling = cell_mean(bench.ceiling(cache=Cache(enabled=False)))
    ok = np.isfinite(ceiling) & (ceiling > bench.min_ceiling)
    for entry in current:
        assert entry["ceiling"] == pytest.approx(float(np.median(ceiling[ok])), abs=1e-9)


def test_pool_study_script_supports_the_rule(tmp_path, capsys):
    """A small run of scripts/ceiling_pool_study.py (1 seed, 2 splits): it writes its numbers
    and plot, and in the 1 m arena the rule's pool is within the tolerance of the full pool
    while the pools of the real sample (<= 9 cells) are far below it."""
    import importlib.util

    from mecbench.ceiling import POOL_TOLERANCE

    spec = importlib.util.spec_from_file_location(
        "ceiling_pool_study", REPO / "scripts" / "ceiling_pool_study.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--seeds", "1", "--splits", "2", "--out-dir", str(tmp_path)]) == 0
    assert "MIN_SOURCE_CELLS" in capsys.readouterr().out
    result = json.loads((tmp_path / "ceiling_pool_study.json").read_text())
    assert (tmp_path / "ceiling_pool_study.png").stat().st_size > 10_000
    one_m = result["arenas"]["1x1m"]
    assert result["min_source_cells_rule"] == MIN_SOURCE_CELLS
    assert one_m["ratio_at_rule_min_over_seeds"] >= 1 - POOL_TOLERANCE
    ratio = dict(zip(result["sizes"], one_m["ratio_min_over_seeds"], strict=True))
    assert ratio[8] < 0.6 and ratio[result["sizes"][-1]] == 1.0
