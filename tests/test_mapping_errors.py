"""Bad input to the mapping engine fails with errors that name the problem."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from mecbench.errors import ConfigError, DataError, UnknownIdentifierError
from mecbench.mapping import (
    MAPPING_NAMES,
    PLS,
    REFERENCE_ALPHAS,
    REFERENCE_ALPHAS_SHORT,
    REFERENCE_L1_RATIOS,
    REFERENCE_L1_RATIOS_SHORT,
    ElasticNet,
    FeatureCache,
    Lasso,
    OneToOne,
    Ridge,
    RidgeCV,
    SklearnMapping,
    cross_predict,
    get_mapping,
)

RNG = np.random.default_rng(0)
X = RNG.normal(size=(20, 6))
Y = RNG.normal(size=(20, 2))
ALL = [Ridge(), RidgeCV(), PLS(2), ElasticNet(alpha=0.1), Lasso(alpha=0.1), OneToOne(),
       SklearnMapping()]


@pytest.mark.parametrize("mapping", ALL, ids=lambda m: type(m).__name__)
def test_bad_data_named(mapping):
    with pytest.raises(DataError, match="X must be 2-D"):
        clone(mapping).fit(X[:, 0], Y)
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(DataError, match="X contains 1 non-finite"):
        clone(mapping).fit(bad, Y)
    badY = Y.copy()
    badY[0, 0] = np.inf
    with pytest.raises(DataError, match="Y contains 1 non-finite"):
        clone(mapping).fit(X, badY)
    with pytest.raises(DataError, match="different numbers of samples"):
        clone(mapping).fit(X, Y[:-1])
    with pytest.raises(DataError, match="Y must be 1-D or 2-D"):
        clone(mapping).fit(X, Y[:, :, None])
    fitted = clone(mapping).fit(X, Y)
    with pytest.raises(DataError, match="features"):
        fitted.predict(X[:, :3])


@pytest.mark.parametrize("mapping, param", [
    (Ridge(alpha=-1.0), "alpha"),
    (Ridge(alpha=[1.0, 2.0, 3.0]), "alpha"),  # 3 values for 2 targets
    (RidgeCV(alphas=[0.0, 1.0]), "alphas"),
    (RidgeCV(cv=1), "cv"),
    (PLS(n_components=0), "n_components"),
    (PLS(n_components=7), "n_components"),  # > n_features
    (ElasticNet(alpha=-0.1), "alpha"),
    (ElasticNet(l1_ratio=1.5), "l1_ratio"),
    (ElasticNet(l1_ratio=[0.5, -0.1]), "l1_ratio"),
    (Lasso(alpha=[0.1, 0.2, 0.3]), "alpha"),
])
def test_bad_parameters_named(mapping, param):
    with pytest.raises(ConfigError, match=param):
        mapping.fit(X, Y)
    with pytest.raises(ConfigError, match=param):
        cross_predict(mapping, FeatureCache(X), Y, [(np.arange(15), np.arange(15, 20))])


def test_pls_rank_limit_from_samples():
    with pytest.raises(ConfigError, match=r"n_components=5 exceeds .*n_train_samples - 1=4"):
        PLS(5).fit(X[:5], Y[:5])


def test_unknown_names_suggest_closest():
    with pytest.raises(UnknownIdentifierError, match="ridge"):
        get_mapping("ridgee")
    with pytest.raises(UnknownIdentifierError, match="alpha"):
        get_mapping("ridge", alpah=1.0)
    with pytest.raises(UnknownIdentifierError, match="Ridge"):
        SklearnMapping("Ridgee").fit(X, Y)
    assert set(MAPPING_NAMES) == {"ridge", "ridgecv", "pls", "enet", "enet-cv", "lasso",
                                  "one-to-one", "sklinear"}
    for name in MAPPING_NAMES:
        est = get_mapping(name)
        assert clone(est).get_params() == est.get_params()
    assert get_mapping("sklinear", estimator="Lasso", alpha=0.5).fit(X, Y).estimator_.alpha == 0.5
    assert get_mapping("One_To_One").__class__ is OneToOne


def test_cross_predict_bad_input():
    cache = FeatureCache(X)
    with pytest.raises(DataError, match="Y has 19 rows"):
        cross_predict(Ridge(), cache, Y[:-1], [(np.arange(10), np.arange(10, 20))])
    with pytest.raises(DataError, match="out of range"):
        cross_predict(Ridge(), cache, Y, [(np.arange(10), np.arange(15, 25))])
    with pytest.raises(DataError, match="boolean"):
        cross_predict(Ridge(), cache, Y, [(np.arange(20) < 10, np.arange(10, 20))])
    badY = Y.copy()
    badY[12, 1] = np.nan
    with pytest.raises(DataError, match="non-finite"):
        cross_predict(Ridge(), cache, badY, [(np.arange(10), np.arange(10, 20))])
    # NaN rows outside every split are allowed
    got = cross_predict(Ridge(), cache, badY, [(np.arange(10), np.arange(13, 20))])
    assert np.isfinite(got[0]).all()
    with pytest.raises(DataError, match="X contains"):
        FeatureCache(np.full((3, 3), np.nan))


def test_reference_grids():
    assert len(REFERENCE_ALPHAS) == 99
    np.testing.assert_allclose([REFERENCE_ALPHAS[0], REFERENCE_ALPHAS[-1]], [1e-9, 1e9])
    np.testing.assert_allclose(np.diff(np.log10(REFERENCE_ALPHAS)), 18 / 98)
    assert len(REFERENCE_L1_RATIOS) == 100 and REFERENCE_L1_RATIOS[0] == 1e-16
    np.testing.assert_allclose(REFERENCE_L1_RATIOS[1:], np.linspace(0.01, 1, 99))
    assert len(REFERENCE_ALPHAS_SHORT) == 9 and len(REFERENCE_L1_RATIOS_SHORT) == 10
    np.testing.assert_allclose(REFERENCE_L1_RATIOS_SHORT[1:], np.linspace(0.01, 1, 9))
