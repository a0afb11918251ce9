"""Benchmarks: scores against plain scikit-learn, ceilings, pooling, caching, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from benchkit import load_plugin, make_neural_data
from scipy.stats import pearsonr
from sklearn.linear_model import Ridge

from mecbench import registry
from mecbench.benchmarks import (
    Benchmark,
    adhoc_benchmark,
    builtin,
    get_benchmark,
    parse_mapping,
    parse_splits,
)
from mecbench.benchmarks.base import IDENTIFIER_RE
from mecbench.cache import Cache
from mecbench.errors import ConfigError, DataError, UnknownIdentifierError
from mecbench.parallel import ParallelConfig
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


def _bench(data, ceiling="holdout", splits=SPLITS, mapping="ridge:alpha=1.0"):
    # a few cells per animal: the pool rule (tests/test_ceiling_reliability.py) is off here so
    # that the inter-animal ceilings themselves are checked
    return Benchmark("toy.ridge", 0, data, parse_mapping(mapping), splits, ceiling=ceiling,
                     n_boot=200, min_source_cells=0)


def _sk_r(X, Y, splits):
    """Per-cell r by a plain loop over cells and splits with scikit-learn's Ridge(alpha=1):
    each cell trains and tests on its own visited bins."""
    out = np.full((Y.shape[1], len(splits)), np.nan)
    for j in range(Y.shape[1]):
        valid = np.isfinite(Y[:, j]) & np.isfinite(X).all(axis=1)
        for s, (train, test) in enumerate(splits):
            tr, te = train[valid[train]], test[valid[test]]
            pred = Ridge(alpha=1.0).fit(X[tr], Y[tr, j]).predict(X[te])
            out[j, s] = pearsonr(pred, Y[te, j])[0]
    return out


def test_model_score_and_holdout_ceiling_match_plain_sklearn(data, toy):
    bench = _bench(data)
    score = bench(toy, cache=Cache(enabled=False))
    r_ref, c_ref, ids = [], [], []
    for arena in data.arena_names:
        rate = data.rate(arena)
        Y = flat_values(rate)
        X = flat_values(toy.rate_maps(Arena.of(rate), "high"))
        splits = SPLITS.splits((rate.sizes["x"], rate.sizes["y"]))
        r_ref.append(_sk_r(X, Y, splits))
        animals = rate["animal"].values.astype(str)
        ceil = np.full((Y.shape[1], len(splits)), np.nan)
        for a in sorted(set(animals)):
            tgt = animals == a
            ceil[tgt] = _sk_r(Y[:, ~tgt], Y[:, tgt], splits)
        c_ref.append(ceil)
        ids += [f"{arena}/{i}" for i in rate["neuroid_id"].values.astype(str)]
    r_ref, c_ref = np.concatenate(r_ref), np.concatenate(c_ref)
    assert score["neuroid_id"].values.astype(str).tolist() == ids
    np.testing.assert_allclose(score["r"].values, r_ref, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(score["raw"].values, np.nanmean(r_ref, axis=1), rtol=1e-6,
                               atol=1e-9)
    np.testing.assert_allclose(score["ceiling"].values, np.nanmean(c_ref, axis=1), rtol=1e-6,
                               atol=1e-9)
    raw, ceiling = np.nanmean(r_ref, axis=1), np.nanmean(c_ref, axis=1)
    ok = ceiling > 0.1
    assert float(score["raw_median"]) == pytest.approx(np.median(raw))
    assert float(score["ceiled_median"]) == pytest.approx(np.median(raw[ok] / ceiling[ok]))
    assert score.attrs["model"] == "toy-fourier" and score.attrs["layer"] == "high"
    assert score.attrs["benchmark"] == "toy.ridge" and score.attrs["ceiling_method"] == "holdout"
    assert score.attrs["data_id"] == data.identity().id
    assert score.attrs["weights_hash"] == toy.fingerprint()


def test_pooled_coordinates(data, toy):
    score = _bench(data)(toy, "low", cache=Cache(enabled=False))
    arenas = score["arena"].values.astype(str)
    assert sorted(set(arenas)) == sorted(data.arena_names)
    assert (score["recorded_id"].values.astype(str)[arenas == "0.5x0.5m"]
            == data.rate("0.5x0.5m")["neuroid_id"].values.astype(str)).all()
    assert score.attrs["layer"] == "low"


def test_single_animal_falls_back_to_split_half_and_says_so(data, toy):
    one = data.select(animals=["r1"])
    bench = _bench(one)
    assert bench.ceiling_method == "split-half"
    assert any("single animal" in n and "split-half" in n for n in bench.notes)
    score = bench(toy, cache=Cache(enabled=False))
    halves = one.halves("0.5x0.5m").values
    n = halves.shape[-1]
    a, b = halves[0].reshape(-1, n), halves[1].reshape(-1, n)
    ok = np.isfinite(a[:, 0]) & np.isfinite(b[:, 0])
    r = pearsonr(a[ok, 0], b[ok, 0])[0]
    assert float(score["ceiling"].values[0]) == pytest.approx(2 * r / (1 + r))
    assert "split-half" in score.attrs["notes"]


def test_single_animal_without_halves_has_no_ceiling(toy):
    one = make_neural_data(n_animals=1, halves=False)
    bench = _bench(one)
    assert bench.ceiling_method == "none"
    assert any("no ceiling" in n for n in bench.notes)
    score = bench(toy, cache=Cache(enabled=False))
    assert "ceiling" not in score and np.isfinite(float(score["raw_median"]))


def test_explicit_split_half_needs_halves(toy):
    bench = _bench(make_neural_data(halves=False), ceiling="split-half")
    with pytest.raises(DataError, match="rate_halves"):
        _ = bench.ceiling_method


def test_pairwise_ceiling_is_mean_over_source_animals(data):
    bench = _bench(data.select(arenas=["0.5x0.5m"]), ceiling="pairwise")
    ceiling = bench.ceiling(cache=Cache(enabled=False))
    rate = data.rate("0.5x0.5m")
    Y = flat_values(rate)
    animals = rate["animal"].values.astype(str)
    splits = SPLITS.splits((10, 10))
    tgt = animals == "r0"
    per_source = [_sk_r(Y[:, animals == s], Y[:, tgt], splits) for s in ("r1", "r2")]
    ref = np.nanmean(np.stack(per_source), axis=0)
    np.testing.assert_allclose(ceiling.values[tgt], ref, rtol=1e-6, atol=1e-9)


@pytest.mark.slow
def test_cache_hits_are_identical_and_keys_cover_layer_and_seed(data, toy, tmp_path):
    cache = Cache(tmp_path)
    bench = _bench(data)
    first = bench(toy, cache=cache)
    n_after_first = cache.info()["entries"]
    assert cache.info()["kinds"]["ceiling"]["entries"] == 1
    assert cache.info()["kinds"]["ratemaps"]["entries"] == len(data.arena_names)
    again = _bench(data)(toy, cache=cache)
    assert cache.info()["entries"] == n_after_first
    xr.testing.assert_identical(first.dataset, again.dataset)
    _bench(data)(toy, "low", cache=cache)
    _bench(data)(toy, seed=1, cache=cache)
    assert cache.info()["kinds"]["score"]["entries"] == 3
    # another mapping or splits must not reuse the ceiling
    _bench(data, mapping="ridge:alpha=10.0")(toy, cache=cache)
    _bench(data, splits=SplitScheme.random(0.5, 2, 1))(toy, cache=cache)
    assert cache.info()["kinds"]["ceiling"]["entries"] == 3


def test_cache_is_keyed_by_data_content(toy, tmp_path):
    cache = Cache(tmp_path)
    a = _bench(make_neural_data(seed=1))(toy, cache=cache)
    b = _bench(make_neural_data(seed=2))(toy, cache=cache)
    assert not np.array_equal(a["raw"].values, b["raw"].values, equal_nan=True)


@pytest.mark.slow
def test_parallel_runs_are_bit_identical(data, toy):
    bench = _bench(data)
    serial = bench.score_layers(toy, ["low", "high"], cache=Cache(enabled=False))
    for config in (ParallelConfig(jobs=2), ParallelConfig(jobs=2, backend="threading")):
        other = _bench(data).score_layers(toy, ["low", "high"], cache=Cache(enabled=False),
                                          parallel=config)
        for layer in serial:
            xr.testing.assert_identical(serial[layer].dataset, other[layer].dataset)


def test_dask_local_cluster_is_bit_identical(data, toy):
    import distributed  # in the test extra: missing is a failure, not a skip
    serial = _bench(data)(toy, cache=Cache(enabled=False))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        config = ParallelConfig(backend="dask", scheduler=cluster.scheduler_address)
        other = _bench(data)(toy, cache=Cache(enabled=False), parallel=config)
    xr.testing.assert_identical(serial.dataset, other.dataset)


def test_unknown_layer_suggests(data, toy):
    with pytest.raises(UnknownIdentifierError, match="did you mean 'high'"):
        _bench(data)(toy, "hihg", cache=Cache(enabled=False))


def test_adhoc_benchmark_from_file(data, tmp_path):
    path = data.save(tmp_path / "my_lab.nc")
    bench = get_benchmark(str(path), mapping="pls:n_components=3", splits="leftright")
    assert bench.identifier == "my_lab.pls-leftright" and bench.version == 0
    assert bench.splits == SplitScheme.structured("leftright")
    assert bench.mapping.params == {"n_components": 3}
    assert bench.data_identity == data.identity()
    default = adhoc_benchmark(path)
    assert default.mapping.text == "ridge:alpha=1.0" and default.splits.kind == "random"
    with pytest.raises(DataError, match="no such file"):
        get_benchmark(str(tmp_path / "missing.nc"))


def test_registered_benchmarks_reject_adhoc_options():
    with pytest.raises(ConfigError, match="only apply to an ad-hoc benchmark"):
        get_benchmark("mec-sim.ridge", mapping="pls")


def test_unknown_benchmark_suggests_closest():
    with pytest.raises(UnknownIdentifierError, match="did you mean 'mec-sim.ridge'"):
        get_benchmark("mec-sim.rigde")


def test_spec_parsing():
    assert parse_mapping("ridge:alpha=10,fit_intercept=false").params == {
        "alpha": 10, "fit_intercept": False}
    assert parse_mapping("ridge:alpha=10").text == "ridge:alpha=10"
    assert parse_splits("blocked:block_size=2,n_splits=3") == SplitScheme.blocked(2, 0.2, 3, 0)
    assert parse_splits("random") == SplitScheme.random()
    with pytest.raises(UnknownIdentifierError, match="leftright"):
        parse_splits("leftrigth")
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_mapping("ridge:alpha")
    with pytest.raises(ConfigError, match="unknown parameter"):
        parse_splits("random:block_size=3")


def test_mapping_specs_resolve_through_the_mapping_registry():
    from mecbench.mapping import MAPPING_NAMES, ElasticNetCVMapping

    assert set(MAPPING_NAMES) >= {"ridge", "enet-cv"}
    est = parse_mapping("enet-cv:cv=3,seed=4").build()
    assert isinstance(est, ElasticNetCVMapping) and (est.cv, est.seed) == (3, 4)
    with pytest.raises(UnknownIdentifierError, match="did you mean 'enet-cv'"):
        parse_mapping("enet-vc").build()
    with pytest.raises(UnknownIdentifierError, match="parameter of mapping 'enet-cv'.*'seed'"):
        parse_mapping("enet-cv:sed=1").build()


def test_builtin_identifiers_and_registry():
    names = registry.names("benchmark")
    expected = {"mec-sim.ridge", "mec-sim.ridgecv", "mec-sim.pls", "mec-sim.enet",
                "mec-sim.one-to-one", "mec-sim.ridge-blocked", "mec-sim.ridge-leftright"}
    assert expected <= set(names)
    for name in builtin.VERSIONS:
        assert IDENTIFIER_RE.match(name), name
        assert name in names
        bench = registry.load("benchmark", name)
        assert bench.identifier == name and bench.version == builtin.VERSIONS[name]
        assert bench.requested_ceiling == "holdout"


def test_definitions_change_only_with_a_version_bump():
    hashes = {name: builtin.spec_hash(name) for name in builtin.VERSIONS}
    assert len(set(hashes.values())) == len(hashes)  # every benchmark is a distinct definition
    for name, digest in builtin.SPEC_HASHES.items():
        assert hashes[name] == digest, (
            f"{name} changed definition without a version bump (version "
            f"{builtin.VERSIONS[name]}): bump VERSIONS and update SPEC_HASHES")
    assert set(builtin.SPEC_HASHES) == set(builtin.VERSIONS)


def test_sargolini2006_on_the_real_sample(real_mec_dir, toy, monkeypatch):
    monkeypatch.setenv("MECBENCH_DATA", str(real_mec_dir))
    bench = get_benchmark("sargolini2006.ridge")
    # 2-9 source cells per target: the pool rule falls back to the split-half ceiling
    assert bench.ceiling_method == "split-half" and bench.arenas == ["1x1m"]
    assert bench.neural_data.n_neuroids == 10 and len(bench.neural_data.animals("1x1m")) == 3
    score = bench(registry.load("model", "toy-bumps"), cache=Cache(enabled=False))
    assert np.isfinite(score["ceiling"].values).sum() >= 8
    assert np.isfinite(float(score["raw_median"]))
