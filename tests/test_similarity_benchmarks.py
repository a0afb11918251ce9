"""Similarity benchmarks: a similarity metric as a benchmark's comparison (one value per
animal), checked against the metric computed by hand on the same held-out bins; ceilings with
the same metric; the regression benchmarks untouched."""

from __future__ import annotations

import numpy as np
import pytest
from benchkit import load_plugin, make_neural_data

from mecbench import registry
from mecbench.benchmarks import Benchmark, adhoc_benchmark, builtin, get_benchmark, parse_mapping
from mecbench.benchmarks.similarity import SimilaritySpec
from mecbench.benchmarks.specs import MappingSpec
from mecbench.cache import Cache
from mecbench.errors import ConfigError, UnknownIdentifierError
from mecbench.ratemaps import Arena, flat_values
from mecbench.splits import SplitScheme

SPLITS = SplitScheme.random(train_frac=0.5, n_splits=3, seed=0)


@pytest.fixture(scope="module")
def data():
    return make_neural_data()


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    load_plugin(tmp_path_factory.mktemp("plugin"))
    return registry.load("model", "toy-fourier")


def _bench(data, metric="cka", ceiling="holdout", **params):
    return Benchmark(f"toy.{metric}", 0, data, SimilaritySpec(metric, params), SPLITS,
                     ceiling=ceiling, n_boot=200, min_source_cells=0)


def _cka(X, Y):
    """Biased linear CKA by its definition (Kornblith et al. 2019), centred columns."""
    X = X - X.mean(0)
    Y = Y - Y.mean(0)
    return (np.linalg.norm(X.T @ Y) ** 2
            / (np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y)))


def _by_hand(X, Y, splits):
    """CKA per split on the test bins finite in every column of X and Y."""
    ok = np.isfinite(X).all(1) & np.isfinite(Y).all(1)
    return np.array([_cka(X[te[ok[te]]], Y[te[ok[te]]]) for _, te in splits])


def test_per_animal_score_and_holdout_ceiling_match_cka_by_hand(data, toy):
    bench = _bench(data)
    score = bench(toy, cache=Cache(enabled=False))
    assert score.attrs["score_unit"] == "animal" and score.attrs["mapping"] == "cka"
    ids = score["neuroid_id"].values.astype(str)
    assert list(ids) == [f"{a}/r{k}" for a in bench.arenas for k in range(3)]
    ceiling = bench.ceiling(cache=Cache(enabled=False))
    for arena in bench.arenas:
        rate = data.rate(arena)
        Y = flat_values(rate)
        X = flat_values(bench.model_maps(toy, toy.default_layer, arena,
                                         cache=Cache(enabled=False)))
        splits = SPLITS.splits((rate.sizes["x"], rate.sizes["y"]))
        animals = rate["animal"].values.astype(str)
        for k in range(3):
            own = animals == f"r{k}"
            row = list(ids).index(f"{arena}/r{k}")
            np.testing.assert_allclose(score["r"].values[row], _by_hand(X, Y[:, own], splits),
                                       rtol=1e-10)
            np.testing.assert_allclose(ceiling.values[row],
                                       _by_hand(Y[:, ~own], Y[:, own], splits), rtol=1e-10)
    raw = score["r"].values.mean(1)
    np.testing.assert_allclose(score["raw"].values, raw)
    assert float(score["raw_median"]) == pytest.approx(np.median(raw))
    ceil = ceiling.values.mean(1)
    np.testing.assert_allclose(score["ceiled"].values, raw / ceil)
    assert float(score["ceiled_median"]) == pytest.approx(np.median(raw / ceil))
    assert int(score["n_cells"]) == 6
    # the source pool of an animal is the other animals' cells of its arena
    assert set(score["n_source_cells"].values.tolist()) == {12}
    assert set(score["n_source_animals"].values.tolist()) == {2}


def test_pairwise_ceiling_is_mean_over_other_animals(data):
    bench = _bench(data, ceiling="pairwise")
    ceiling = bench.ceiling(cache=Cache(enabled=False))
    arena = bench.arenas[0]
    rate = data.rate(arena)
    Y = flat_values(rate)
    animals = rate["animal"].values.astype(str)
    splits = SPLITS.splits((rate.sizes["x"], rate.sizes["y"]))
    expected = np.mean([_by_hand(Y[:, animals == src], Y[:, animals == "r0"], splits)
                        for src in ("r1", "r2")], axis=0)
    row = list(ceiling["neuroid_id"].values.astype(str)).index(f"{arena}/r0")
    np.testing.assert_allclose(ceiling.values[row], expected, rtol=1e-10)
    assert ceiling.attrs["ceiling"] == "interanimal-pairwise"


def test_split_half_ceiling_compares_each_animal_with_its_other_half(data):
    bench = _bench(data, ceiling="split-half")
    ceiling = bench.ceiling(cache=Cache(enabled=False))
    assert ceiling.attrs["ceiling"] == "split-half-uncorrected"
    arena = bench.arenas[1]
    halves = data.halves(arena).transpose("half", "x", "y", "neuroid")
    animals = halves["animal"].values.astype(str)
    a = halves.values[0].reshape(-1, animals.size)[:, animals == "r2"]
    b = halves.values[1].reshape(-1, animals.size)[:, animals == "r2"]
    splits = SPLITS.splits((halves.sizes["x"], halves.sizes["y"]))
    row = list(ceiling["neuroid_id"].values.astype(str)).index(f"{arena}/r2")
    np.testing.assert_allclose(ceiling.values[row], _by_hand(a, b, splits), rtol=1e-10)


def test_identical_maps_score_one_for_free_and_fitted_metrics():
    """A model whose units are an animal's own cells is identical to that animal: similarity
    1 on held-out bins, for a free (CKA) and a fitted (soft matching, Procrustes) metric."""
    from mecbench.controls.runner import FixedMapsProvider
    from mecbench.neural_data import NeuralData
    from mecbench.ratemaps import make_rate_maps

    rng = np.random.default_rng(3)
    values = rng.gamma(2.0, 1.0, (10, 10, 8))
    rates = make_rate_maps(values, arena_width=0.5, bin_size=0.05,
                           animal=["r0"] * 4 + ["r1"] * 4,
                           neuroid_id=[f"c{j}" for j in range(8)])
    recordings = NeuralData.from_rate_maps([rates])
    arena = Arena.of(recordings.arena(recordings.arena_names[0]))
    provider = FixedMapsProvider("same", "f", "l", {arena: rates.isel(neuroid=slice(0, 4))})
    for metric in ("cka", "soft-matching", "shape-procrustes"):
        bench = Benchmark("toy.same", 0, recordings, SimilaritySpec(metric), SPLITS,
                          ceiling="none")
        score = bench(provider, "l", cache=Cache(enabled=False))
        np.testing.assert_allclose(score["r"].values[0], 1.0, atol=1e-9)
        assert np.all(score["r"].values[1] < 0.9)


def test_cache_hits_and_keys(data, toy, tmp_path):
    cache = Cache(tmp_path)
    bench = _bench(data)
    first = bench(toy, cache=cache)
    again = _bench(data)(toy, cache=cache)
    np.testing.assert_array_equal(first["r"].values, again["r"].values)
    assert _bench(data).key_parts()["mapping"] == {"kind": "similarity", "name": "cka",
                                                   "params": {}}
    ridge = Benchmark("toy.cka", 0, data, MappingSpec("ridge", {"alpha": 1.0}), SPLITS,
                      n_boot=200, min_source_cells=0)
    assert ridge.key_parts()["mapping"] != bench.key_parts()["mapping"]
    other = _bench(data, "shape-procrustes")(toy, cache=cache)
    assert not np.allclose(other["r"].values, first["r"].values)


def test_parse_mapping_and_adhoc_similarity_benchmark(data, tmp_path):
    spec = parse_mapping("shape-cca:n_components=3")
    assert isinstance(spec, SimilaritySpec) and spec.params == {"n_components": 3}
    assert parse_mapping(spec.text) == spec
    assert isinstance(parse_mapping("ridge:alpha=1"), MappingSpec)
    path = data.save(tmp_path / "lab.nc")
    bench = adhoc_benchmark(path, mapping="cka")
    assert bench.identifier == "lab.cka" and bench.mapping == SimilaritySpec("cka")
    with pytest.raises(ConfigError, match="no parameter 'alpha'"):
        adhoc_benchmark(path, mapping="cka:alpha=1")
    with pytest.raises(ConfigError, match="per animal"):
        Benchmark("toy.cka", 0, data, SimilaritySpec("cka"), SPLITS, per_animal=False)
    with pytest.raises(ConfigError, match="per animal"):
        SimilaritySpec("cka").score_maps(data.rate(data.arena_names[0]),
                                         data.rate(data.arena_names[0]), SPLITS,
                                         per_animal=False)


def test_builtin_similarity_benchmarks():
    names = registry.names("benchmark")
    for name, metric in (("mec-sim.cka", "cka"), ("mec-sim.rsa", "rsa-whitened-cosine"),
                         ("mec-sim.shape", "shape-procrustes"),
                         ("mec-sim.soft-match", "soft-matching")):
        assert name in names and name in builtin.SIMILARITY_BENCHMARKS
        bench = get_benchmark(name)
        assert bench.mapping == SimilaritySpec(metric) and bench.version == 1
        assert bench.splits == builtin.SPLITS[""] and "per animal" in bench.description
        assert builtin.definition(name)["mapping"]["all_params"] == dict(
            sorted(SimilaritySpec(metric).resolved_params().items()))
    with pytest.raises(UnknownIdentifierError):
        SimilaritySpec("cca").build()
