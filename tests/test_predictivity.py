"""The scoring path: ground truth, undefined cells, NaN-mask grouping, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from benchkit import ridge_r_per_cell
from scipy import stats
from sklearn.cross_decomposition import PLSRegression

from mecbench.errors import ConfigError, DataError, ModelError
from mecbench.mapping import FeatureCache, get_mapping
from mecbench.predictivity import (
    REASONS,
    predictivity,
    predictivity_details,
    prepare_source,
    score_rate_maps,
)
from mecbench.ratemaps import make_rate_maps
from mecbench.splits import SplitScheme

# scikit-learn's NIPALS stops its power iterations at tol=1e-6 (predictions then differ from the
# exact PLS solution by ~1e-5 relative); iterate it to convergence for an exact reference
_PLS_EXACT = {"tol": 1e-14, "max_iter": 100_000}


def _maps(values, animal="model", prefix="u"):
    n = values.shape[-1]
    return make_rate_maps(values, arena_width=1.0, bin_size=0.1,
                          neuroid_id=[f"{prefix}{i}" for i in range(n)], animal=animal)


def test_linear_ground_truth_recovers_known_r():
    # y = X w + noise with var(X w) = 1 and noise s.d. sigma: the best possible r is
    # 1 / sqrt(1 + sigma^2). Ridge on half of 2500 bins with 8 features must come within
    # sampling error of it and within 0.01 of the oracle predictor X w on the same test bins.
    rng = np.random.default_rng(0)
    n, p, t = 2500, 8, 20
    X = rng.normal(size=(n, p))
    w = rng.normal(size=(p, t))
    w /= np.linalg.norm(w, axis=0)
    noise_sd = np.linspace(0.3, 2.0, t)
    Y = X @ w + rng.normal(size=(n, t)) * noise_sd
    scheme = SplitScheme.random(0.5, n_splits=3)
    r = predictivity(X, Y, get_mapping("ridge", alpha=1e-3), scheme, shape=(50, 50))
    assert r.shape == (3, t)
    oracle = np.array([[stats.pearsonr((X @ w)[te, c], Y[te, c])[0] for c in range(t)]
                       for _, te in scheme.splits((50, 50))])
    np.testing.assert_allclose(r, oracle, atol=0.01)
    se = (1 - (1 / (1 + noise_sd**2))) / np.sqrt(n / 2)
    np.testing.assert_allclose(r.mean(axis=0), 1 / np.sqrt(1 + noise_sd**2), atol=4 * se.max())


def test_constant_and_empty_cells_are_nan_and_counted():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(100, 5))
    Y = X @ rng.normal(size=(5, 4)) + rng.normal(size=(100, 4))
    Y[:, 1] = 3.0          # constant everywhere: constant test data
    Y[:, 2] = np.nan       # never visited
    Y[:97, 3] = np.nan     # 3 finite bins: too few to train on for most splits
    res = predictivity_details(X, Y, get_mapping("ridge", alpha=1.0),
                               SplitScheme.random(0.5, 4), shape=(10, 10))
    assert np.isfinite(res.r[:, 0]).all()
    assert np.isnan(res.r[:, 1:]).all()
    assert {REASONS[c] for c in res.reason[:, 1]} == {"constant_data"}
    assert {REASONS[c] for c in res.reason[:, 2]} == {"few_train"}
    counts = res.counts()
    assert counts["undefined"] == 12 and counts["cells_undefined"] == 3
    assert counts["few_train"] >= 4 and counts["constant_data"] == 4
    # constant on the training bins only: ridge predicts a constant
    Z = Y[:, :1].copy()
    train0 = SplitScheme.random(0.5, 1).splits((10, 10))[0][0]
    Z[train0, 0] = 1.0
    res = predictivity_details(X, Z, get_mapping("ridge", alpha=1.0),
                               SplitScheme.random(0.5, 1), shape=(10, 10))
    assert np.isnan(res.r[0, 0]) and REASONS[res.reason[0, 0]] == "constant_prediction"


def test_grouping_by_nan_mask_equals_per_cell_loop():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(144, 30))
    Y = X[:, :6] @ rng.normal(size=(6, 12)) + rng.normal(size=(144, 12))
    shared = rng.choice(144, 10, replace=False)
    Y[shared, :6] = np.nan                       # one mask shared by 6 cells
    Y[rng.choice(144, 5, replace=False), 6] = np.nan   # cell-specific masks
    Y[rng.choice(144, 20, replace=False), 7] = np.nan
    X[rng.choice(144, 3, replace=False), 4] = np.nan  # unvisited source bins hit every cell
    splits = SplitScheme.blocked(3, 0.3, 3, 1).splits((12, 12))
    res = predictivity_details(X, Y, get_mapping("ridge", alpha=2.0), splits)
    assert res.n_groups == 4
    np.testing.assert_allclose(res.r, ridge_r_per_cell(X, Y, splits, 2.0), rtol=1e-7, atol=1e-9)
    # the NaN of one cell never removes a bin from another
    assert (res.n_test[:, 8:] > res.n_test[:, :1]).all()


def test_splits_defined_before_nan_removal():
    # topbottom on a 4x4 grid: half 1 = x index 0..1 (bins 0..7). NaN in bins 0 and 9 of one
    # cell leaves 7 train / 7 test bins in split 0 -- the geometry does not move.
    rng = np.random.default_rng(3)
    X = rng.normal(size=(16, 3))
    Y = X @ rng.normal(size=(3, 2)) + 0.1 * rng.normal(size=(16, 2))
    Y[[0, 9], 0] = np.nan
    res = predictivity_details(X, Y, get_mapping("ridge", alpha=1.0),
                               SplitScheme.structured("topbottom"), shape=(4, 4))
    assert res.n_train[:, 0].tolist() == [7, 7] and res.n_test[:, 0].tolist() == [7, 7]
    assert res.n_train[:, 1].tolist() == [8, 8]


def test_feature_cache_and_prepared_source_give_same_scores():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(100, 40))
    Y = X[:, :5] @ rng.normal(size=(5, 6)) + rng.normal(size=(100, 6))
    splits = SplitScheme.random(0.3, 3)
    m = get_mapping("ridge", alpha=1.0)
    a = predictivity(X, Y, m, splits)
    b = predictivity(FeatureCache(X), Y, m, splits)
    c = predictivity(prepare_source(X), Y, m, splits)
    np.testing.assert_allclose(a, b, rtol=1e-10)
    np.testing.assert_allclose(a, c, rtol=1e-10)


def test_score_rate_maps_fits_pls_per_animal():
    rng = np.random.default_rng(5)
    model = rng.normal(size=(10, 10, 20))
    cells = model.reshape(100, 20)[:, :4] @ rng.normal(size=(4, 6)) + rng.normal(size=(100, 6))
    cells = cells.reshape(10, 10, 6)
    cells[2, 3, :3] = np.nan  # animal "a" misses a bin
    neural = _maps(cells, animal=["a"] * 3 + ["b"] * 3, prefix="c")
    split_scheme = SplitScheme.random(0.5, 2)
    r = score_rate_maps(_maps(model), neural, get_mapping("pls", n_components=2, scale=False),
                        split_scheme)
    assert r.dims == ("neuroid", "split") and r.shape == (6, 2)
    assert r["neuroid_id"].values.tolist() == [f"c{i}" for i in range(6)]
    X = model.reshape(100, 20)
    Y = cells.reshape(100, 6)
    for cols in ([0, 1, 2], [3, 4, 5]):
        ok = np.isfinite(Y[:, cols]).all(axis=1)
        for s, (tr, te) in enumerate(split_scheme.splits((10, 10))):
            tr, te = tr[ok[tr]], te[ok[te]]
            pls = PLSRegression(2, scale=False, **_PLS_EXACT).fit(X[tr], Y[np.ix_(tr, cols)])
            pred = pls.predict(X[te])
            for k, c in enumerate(cols):
                assert r.values[c, s] == pytest.approx(stats.pearsonr(pred[:, k], Y[te, c])[0],
                                                       rel=1e-6)


def test_bad_input_errors():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(100, 5))
    Y = rng.normal(size=(100, 3))
    m = get_mapping("ridge")
    s = SplitScheme.random(0.2, 2)
    Xi = X.copy()
    Xi[0, 0] = np.inf
    with pytest.raises(DataError, match="infinite"):
        predictivity(Xi, Y, m, s)
    with pytest.raises(DataError, match="bins"):
        predictivity(X[:90], Y, m, s)
    with pytest.raises(DataError, match="2-D"):
        predictivity(X[None], Y, m, s)
    with pytest.raises(ConfigError, match="train_frac=0"):
        predictivity(X, Y, m, SplitScheme.random(0.0))
    with pytest.raises(ConfigError, match="grid shape"):
        predictivity(X, Y, m, SplitScheme.structured("quad"))
    with pytest.raises(ConfigError, match="outside"):
        predictivity(X, Y, m, [(np.arange(10), np.arange(10, 200))])
    with pytest.raises(ConfigError, match="overlap"):
        predictivity(X, Y, m, [(np.arange(10), np.arange(5, 20))])
    model = rng.normal(size=(10, 10, 5))
    neural = _maps(rng.normal(size=(10, 10, 3)), animal="a", prefix="c")
    bad = model.copy()
    bad[1, 1, 2] = np.nan
    with pytest.raises(ModelError, match="non-finite"):
        score_rate_maps(_maps(bad), neural, m, s)
    other = make_rate_maps(rng.normal(size=(5, 5, 5)), arena_width=1.0, bin_size=0.2)
    with pytest.raises(DataError, match="bin_size|grid"):
        score_rate_maps(other, neural, m, s)
    with pytest.raises(ModelError, match="DataArray"):
        score_rate_maps(model, neural, m, s)
    wrong = xr.DataArray(model, dims=("a", "b", "c"))
    with pytest.raises(ModelError, match="dims"):
        score_rate_maps(wrong, neural, m, s)


def test_group_specific_fit_failure_is_nan_but_systematic_failure_raises():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(100, 20))
    Y = X[:, :3] @ rng.normal(size=(3, 3)) + rng.normal(size=(100, 3))
    Y[:88, 2] = np.nan  # 12 bins: too few training bins for 8 PLS components
    scheme = SplitScheme.random(0.5, 2)
    res = predictivity_details(X, Y, get_mapping("pls", n_components=8), scheme)
    assert np.isfinite(res.r[:, :2]).all()
    assert {REASONS[c] for c in res.reason[:, 2]} == {"fit_failed"}
    assert res.counts()["fit_failed"] == 2 and "n_components" in res.extra["fit_errors"][0]
    with pytest.raises(ConfigError, match="n_components"):
        predictivity(X, Y, get_mapping("pls", n_components=80), scheme)
