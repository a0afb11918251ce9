"""The metric registry (directions, common similarity scale), the shared input rules (bins
and constant columns) and cross-validation on the mappings' splits, checked against the
metrics computed by hand on the same bins."""

from __future__ import annotations

import numpy as np
import pytest

from mecbench.errors import ConfigError, DataError, UnknownIdentifierError
from mecbench.ratemaps import make_rate_maps
from mecbench.similarity import (
    METRICS,
    ShapeMetric,
    SoftMatching,
    cross_validated,
    get_metric,
    linear_cka,
    paired_bins,
    rsa,
    shape_distance,
    soft_matching,
)
from mecbench.splits import SplitScheme

NAMES = ["cka", "cka-debiased", "rsa-spearman", "rsa-whitened-cosine", "shape-procrustes",
         "shape-cca", "soft-matching"]


def maps(seed=0, nx=8, ny=6, p=10, q=5, noise=0.5):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((nx * ny, p))
    Y = X[:, :q] @ rng.standard_normal((q, q)) + noise * rng.standard_normal((nx * ny, q))
    return X, Y


def test_registry_names_directions_and_scale():
    assert list(METRICS) == NAMES
    for name in NAMES:
        m = get_metric(name)
        assert m.name == name
        assert m.higher_is_more_similar == name.startswith(("cka", "rsa"))
    assert get_metric("shape-cca").to_similarity(0.0) == 1.0
    assert get_metric("shape-cca").to_similarity(np.pi / 2) == pytest.approx(0.0)
    assert get_metric("soft-matching").to_similarity(2.0) == pytest.approx(-1.0)
    np.testing.assert_allclose(get_metric("shape-procrustes").to_similarity(
        np.array([0.0, np.pi])), [1.0, -1.0])
    with pytest.raises(UnknownIdentifierError, match="did you mean 'soft-matching'"):
        get_metric("soft_matching")
    with pytest.raises(ConfigError, match="no parameter 'alpha'.*n_components"):
        get_metric("shape-cca")(*maps(), alpha=0.5)


@pytest.mark.parametrize("name", NAMES)
def test_identical_representations_score_one(name):
    X, _ = maps(1)
    m = get_metric(name)
    assert m.to_similarity(m(X, X)) == pytest.approx(1.0, abs=1e-6)


def test_registry_calls_the_metric_functions():
    X, Y = maps(2)
    assert METRICS["cka"](X, Y) == linear_cka(X, Y)
    assert METRICS["cka-debiased"](X, Y) == linear_cka(X, Y, debiased=True)
    assert METRICS["rsa-whitened-cosine"](X, Y, distance="euclidean") == rsa(
        X, Y, distance="euclidean", method="whitened_cosine")
    assert METRICS["shape-cca"](X, Y, n_components=3) == shape_distance(X, Y, alpha=0.0,
                                                                         n_components=3)
    assert METRICS["soft-matching"](X, Y) == soft_matching(X, Y).distance
    with pytest.raises(ConfigError, match="does not use second halves"):
        METRICS["cka"](X, Y, Y2=Y)


def test_paired_bins_rules():
    X, Y = maps(3)
    X[[0, 5], 2] = np.nan
    Y[[5, 9], 0] = np.nan
    X[:, 4] = 1.5                   # constant unit
    Y[:, 1] = np.where(np.isnan(Y[:, 0]), 7.0, 2.0)  # constant on the kept bins only
    pb = paired_bins(X, Y)
    np.testing.assert_array_equal(pb.bins, np.setdiff1d(np.arange(48), [0, 5, 9]))
    np.testing.assert_array_equal(pb.units, [0, 1, 2, 3, 5, 6, 7, 8, 9])
    np.testing.assert_array_equal(pb.cells, [0, 2, 3, 4])
    assert pb.X.shape == (45, 9) and pb.Y.shape == (45, 4) and pb.n_bins == 48
    assert np.isfinite(pb.X).all() and np.isfinite(pb.Y).all()


def test_paired_bins_errors_and_rate_maps():
    X, Y = maps(4)
    with pytest.raises(DataError, match="every cell of Y is constant"):
        paired_bins(X, np.ones((48, 3)))
    with pytest.raises(DataError, match="Y2 has shape"):
        paired_bins(X, Y, Y2=Y[:, :2])
    with pytest.raises(DataError, match="Y contains infinite"):
        paired_bins(X, np.where(Y > 2, np.inf, Y))
    with pytest.raises(DataError, match="2-D .* or 3-D"):
        paired_bins(X[:, 0], Y)
    rx = make_rate_maps(X.reshape(8, 6, 10), arena_width=0.8, arena_height=0.6, bin_size=0.1)
    ry = make_rate_maps(Y.reshape(8, 6, 5), arena_width=0.8, arena_height=0.6, bin_size=0.1,
                        animal="a1")
    pb = paired_bins(rx.transpose("neuroid", "y", "x"), ry)
    assert pb.shape == (8, 6)
    np.testing.assert_array_equal(pb.X, X)
    assert linear_cka(rx, Y.reshape(8, 6, 5)) == pytest.approx(linear_cka(X, Y), rel=1e-12)
    rz = make_rate_maps(Y.reshape(6, 8, 5), arena_width=0.6, arena_height=0.8, bin_size=0.1)
    with pytest.raises(DataError, match="differ in arena_width"):
        paired_bins(rx, rz)


@pytest.mark.parametrize("name", ["cka", "cka-debiased", "rsa-spearman",
                                  "rsa-whitened-cosine"])
def test_parameter_free_metrics_on_test_bins(name):
    X, Y = maps(5)
    Y[[3, 17, 30], 1] = np.nan
    scheme = SplitScheme.random(0.5, n_splits=3, seed=2)
    res = cross_validated(name, X, Y, scheme)
    m = get_metric(name)
    for s, (_, te) in enumerate(scheme.splits((48, 1))):
        te = np.sort(np.setdiff1d(te, [3, 17, 30]))
        assert res.values[s] == pytest.approx(m(X[te], Y[te]), rel=1e-12)
        assert res.n_test[s] == te.size
    assert res.n_train.tolist() == [0, 0, 0]
    np.testing.assert_allclose(res.similarity, m.to_similarity(res.values))
    assert res.higher_is_more_similar and res.n_bins == 45


def test_fitted_metrics_fit_on_train_and_score_test():
    X, Y = maps(6, p=12, q=4)
    X[[2, 40], 0] = np.nan
    scheme = SplitScheme.structured("quad")
    shape_cv = cross_validated("shape-procrustes", X.reshape(8, 6, 12), Y, scheme)
    soft_cv = cross_validated("soft-matching", X, Y, scheme, shape=(8, 6))
    for s, (tr, te) in enumerate(scheme.splits((8, 6))):
        tr, te = np.sort(np.setdiff1d(tr, [2, 40])), np.sort(np.setdiff1d(te, [2, 40]))
        m = ShapeMetric(alpha=1.0).fit(X[tr], Y[tr])
        assert shape_cv.values[s] == pytest.approx(m.score(X[te], Y[te]), rel=1e-10)
        sm = SoftMatching().fit(X[tr], Y[tr])
        r_test = sm.score(X[te], Y[te])
        assert soft_cv.values[s] == pytest.approx(np.sqrt(2 * (1 - r_test)), rel=1e-10)
        assert soft_cv.similarity[s] == pytest.approx(r_test, rel=1e-10)
        assert (shape_cv.n_train[s], shape_cv.n_test[s]) == (tr.size, te.size)
    assert not shape_cv.higher_is_more_similar
    assert shape_cv.mean == pytest.approx(shape_cv.values.mean())


def test_rsa_halves_through_cross_validation():
    X, Y = maps(7)
    rng = np.random.default_rng(0)
    Y2 = Y + 0.3 * rng.standard_normal(Y.shape)
    splits = [(np.arange(0, 24), np.arange(24, 48))]
    res = cross_validated("rsa-whitened-cosine", X, Y, splits, Y2=Y2)
    te = np.arange(24, 48)
    assert res.values[0] == pytest.approx(
        rsa(X[te], Y[te], Y2=Y2[te], method="whitened_cosine"), rel=1e-12)


def test_cross_validation_edge_cases():
    X, Y = maps(8)
    # a split with too few test bins gives NaN, the others are computed
    splits = [(np.arange(40), np.arange(40, 42)), (np.arange(24), np.arange(24, 48))]
    res = cross_validated("shape-cca", X, Y, splits)
    assert np.isnan(res.values[0]) and np.isfinite(res.values[1])
    # test-only evaluation needs no training bins; fitted metrics do
    assert np.isfinite(cross_validated("cka", X, Y, SplitScheme.random(0.0)).values).all()
    with pytest.raises(ConfigError, match="empty training set"):
        cross_validated("soft-matching", X, Y, SplitScheme.random(0.0))
    with pytest.raises(ConfigError, match="needs the grid shape"):
        cross_validated("cka", X, Y, SplitScheme.structured("leftright"))
    with pytest.raises(ConfigError, match="overlap"):
        cross_validated("cka", X, Y, [(np.arange(10), np.arange(5, 20))])
    with pytest.raises(ConfigError, match="outside the 48 bins"):
        cross_validated("cka", X, Y, [(np.arange(10), np.arange(40, 50))])
    with pytest.raises(ConfigError, match="min_train"):
        cross_validated("shape-cca", X, Y, splits, min_train=1)
    with pytest.raises(ConfigError, match="does not use second halves"):
        cross_validated("shape-cca", X, Y, splits, X2=X)
    # a test set on which every cell is constant: undefined for a parameter-free metric
    Yc = Y.copy()
    Yc[24:] = 1.0
    assert np.isnan(cross_validated("cka", X, Yc, splits).values[1])
