"""The array backend seam of the mapping engine (:mod:`mecbench.mapping.backend`).

The torch backend runs the exact ridge path on the CPU here (and on CUDA where there is one);
its numbers are checked against the numpy backend (1e-10 in float64, 1e-4 in float32) and
against scikit-learn's Ridge fitted split by split and cell by cell (an independent reference).
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from benchkit import load_plugin, make_neural_data
from sklearn.base import clone
from sklearn.linear_model import Ridge as SkRidge

from mecbench import registry
from mecbench.benchmarks import Benchmark, parse_mapping
from mecbench.cache import Cache
from mecbench.errors import ConfigError, UnknownIdentifierError
from mecbench.mapping import FeatureCache, Ridge, cross_predict, cross_predict_masked, ridge
from mecbench.mapping.backend import (
    ENV_VARS,
    NumpyBackend,
    TorchBackend,
    backend_cache_key,
    get_backend,
)
from mecbench.predictivity import predictivity
from mecbench.splits import SplitScheme

TORCH_CPU = "torch:cpu:float64"


@pytest.fixture(autouse=True)
def _no_backend_env(monkeypatch):
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _problem(seed: int, n: int, p: int, m: int, nan_frac: float = 0.0):
    """Correlated features with an offset, targets from a few of them plus noise and an
    offset, two random splits; NaN in a fraction of the targets' values (column 0 complete)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) @ rng.normal(size=(p, p)) * 0.3 + rng.normal(size=p)
    Y = X[:, :4] @ rng.normal(size=(4, m)) + rng.normal(size=(n, m)) * 2.0 + 3.0
    if nan_frac:
        Y[rng.random(Y.shape) < nan_frac] = np.nan
        Y[:, 0] = X[:, :4] @ rng.normal(size=4) + rng.normal(size=n)
    perm = rng.permutation(n)
    splits = [(np.sort(perm[: n // 2]), np.sort(perm[n // 2:])),
              (np.sort(perm[n // 3:]), np.sort(perm[: n // 3]))]
    return X, Y, splits


def _sk_predictions(X, Y, splits, alpha):
    """Per split, per cell scikit-learn Ridge on the cell's finite training rows,
    predicting every test row."""
    out = []
    for tr, te in splits:
        P = np.empty((len(te), Y.shape[1]))
        for j in range(Y.shape[1]):
            ok = tr[np.isfinite(Y[tr, j])]
            P[:, j] = SkRidge(alpha=alpha).fit(X[ok], Y[ok, j]).predict(X[te])
        out.append(P)
    return out


def _close(a, b, tol):
    scale = max(np.max(np.abs(b)), 1.0)
    assert np.max(np.abs(a - b)) <= tol * scale, np.max(np.abs(a - b)) / scale


# the same numbers as numpy and scikit-learn -------------------------------------------------
# (n, p): kernel form (features outnumber bins) and covariance form
SHAPES = [(0, 80, 200, 6), (1, 120, 30, 5)]


@pytest.mark.parametrize("seed,n,p,m", SHAPES)
def test_torch_cpu_cross_predict_equals_numpy_and_sklearn(torch, seed, n, p, m):
    X, Y, splits = _problem(seed, n, p, m)
    ref = cross_predict(Ridge(alpha=2.0), X, Y, splits)
    got = cross_predict(Ridge(alpha=2.0, backend=TORCH_CPU), X, Y, splits)
    sk = _sk_predictions(X, Y, splits, 2.0)
    for P, Q, S in zip(got, ref, sk, strict=True):
        assert P.dtype == np.float64 and isinstance(P, np.ndarray)
        _close(P, Q, 1e-10)
        _close(P, S, 1e-8)


@pytest.mark.parametrize("seed,n,p,m", SHAPES)
def test_torch_cpu_masked_path_and_scores_equal_numpy(torch, seed, n, p, m):
    X, Y, splits = _problem(seed, n, p, m, nan_frac=0.15)
    valid = np.isfinite(Y)
    Y0 = np.where(valid, Y, 0.0)
    ref = cross_predict_masked(Ridge(alpha=3.0), FeatureCache(X), Y0, valid, splits)
    got = cross_predict_masked(Ridge(alpha=3.0, backend=TORCH_CPU), FeatureCache(X), Y0, valid,
                               splits)
    sk = _sk_predictions(X, Y, splits, 3.0)
    for P, Q, S in zip(got, ref, sk, strict=True):
        _close(P, Q, 1e-10)
        _close(P, S, 1e-8)
    r_ref = predictivity(X, Y, Ridge(alpha=3.0), splits)
    r_got = predictivity(X, Y, Ridge(alpha=3.0, backend=TORCH_CPU), splits)
    assert np.isfinite(r_ref).all()
    np.testing.assert_allclose(r_got, r_ref, rtol=0, atol=1e-10)


def test_torch_cpu_covariance_form_off_the_gram_matrix(torch, monkeypatch):
    # with more bins than MASKED_MAX_BINS and fewer features than training bins the engine
    # does not form the all-bin Gram matrix: the per-split covariance form runs instead
    monkeypatch.setattr(ridge, "MASKED_MAX_BINS", 50)
    X, Y, splits = _problem(2, 120, 30, 4)
    calls = []
    real = ridge._covariance_split
    monkeypatch.setattr(ridge, "_covariance_split", lambda *a: calls.append(1) or real(*a))
    got = cross_predict(Ridge(alpha=0.5, backend=TORCH_CPU), X, Y, splits)
    assert len(calls) == len(splits)
    for P, Q in zip(got, _sk_predictions(X, Y, splits, 0.5), strict=True):
        _close(P, Q, 1e-8)
    for P, Q in zip(got, cross_predict(Ridge(alpha=0.5), X, Y, splits), strict=True):
        _close(P, Q, 1e-10)


@pytest.mark.parametrize("seed,n,p,m", SHAPES)
@pytest.mark.parametrize("intercept", [True, False])
def test_torch_cpu_fit_equals_numpy_and_sklearn(torch, seed, n, p, m, intercept):
    X, Y, _ = _problem(seed, n, p, m)
    ref = Ridge(alpha=1.5, fit_intercept=intercept).fit(X, Y)
    got = Ridge(alpha=1.5, fit_intercept=intercept, backend=TORCH_CPU).fit(X, Y)
    sk = SkRidge(alpha=1.5, fit_intercept=intercept).fit(X, Y)
    _close(got.coef_, ref.coef_, 1e-10)
    _close(got.intercept_, ref.intercept_, 1e-10)
    _close(got.predict(X), sk.predict(X), 1e-8)
    assert isinstance(got.coef_, np.ndarray) and got.coef_.dtype == np.float64


@pytest.mark.parametrize("spec", ["torch:cpu:float32", "numpy:float32"])
def test_float32_is_close(spec):
    if spec.startswith("torch"):
        pytest.importorskip("torch")
    X, Y, splits = _problem(3, 100, 150, 5, nan_frac=0.1)
    r_ref = predictivity(X, Y, Ridge(alpha=5.0), splits)
    r_got = predictivity(X, Y, Ridge(alpha=5.0, backend=spec), splits)
    np.testing.assert_allclose(r_got, r_ref, rtol=0, atol=1e-4)
    Yc = np.nan_to_num(Y)
    for P, Q in zip(cross_predict(Ridge(alpha=5.0, backend=spec), X, Yc, splits),
                    cross_predict(Ridge(alpha=5.0), X, Yc, splits), strict=True):
        assert P.dtype == np.float64
        _close(P, Q, 1e-4)
        assert not np.array_equal(P, Q)  # float32 did run


def test_per_target_penalties_run_numpy_whatever_the_backend():
    X, Y, splits = _problem(4, 60, 90, 3)
    alphas = np.array([0.5, 2.0, 8.0])
    ref = cross_predict(Ridge(alpha=alphas), X, Y, splits)
    got = cross_predict(Ridge(alpha=alphas, backend="numpy:float32"), X, Y, splits)
    for P, Q in zip(got, ref, strict=True):
        np.testing.assert_array_equal(P, Q)


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.mark.skipif(not _cuda_available(), reason="needs torch with CUDA")
@pytest.mark.parametrize("dtype,tol", [("float64", 1e-10), ("float32", 1e-4)])
def test_cuda_equals_numpy(dtype, tol):
    X, Y, splits = _problem(5, 150, 400, 6, nan_frac=0.1)
    spec = f"torch:cuda:{dtype}"
    r_ref = predictivity(X, Y, Ridge(alpha=2.0), splits)
    r_got = predictivity(X, Y, Ridge(alpha=2.0, backend=spec), splits)
    np.testing.assert_allclose(r_got, r_ref, rtol=0, atol=tol)
    Yc = np.nan_to_num(Y)
    for P, Q in zip(cross_predict(Ridge(alpha=2.0, backend=spec), X, Yc, splits),
                    cross_predict(Ridge(alpha=2.0), X, Yc, splits), strict=True):
        _close(P, Q, tol)
    assert get_backend(spec).cache_key() == spec


# selection ---------------------------------------------------------------------------------
def test_default_is_numpy_float64_on_the_cpu():
    bk = get_backend()
    assert isinstance(bk, NumpyBackend) and (bk.device, bk.dtype) == ("cpu", "float64")
    assert bk.is_reference and bk.cache_key() is None and backend_cache_key() is None


def test_environment_selects_the_backend(torch, monkeypatch):
    monkeypatch.setenv("MECBENCH_BACKEND", "Torch")
    bk = get_backend()
    assert isinstance(bk, TorchBackend) and bk.ident == TORCH_CPU
    assert bk.cache_key() is None  # float64 on the CPU: the default's numbers up to rounding
    monkeypatch.setenv("MECBENCH_DTYPE", "float32")
    assert get_backend().ident == "torch:cpu:float32"
    assert backend_cache_key() == "torch:cpu:float32"
    # an explicit backend text wins; the parts it leaves out come from the environment
    assert get_backend("numpy").ident == "numpy:cpu:float32"
    assert get_backend("numpy:float64").ident == "numpy:cpu:float64"
    # Ridge() follows the environment: its Cholesky factorisations run on torch
    calls = []
    real = TorchBackend.cho_factor
    monkeypatch.setattr(TorchBackend, "cho_factor", lambda self, A: calls.append(self.ident)
                        or real(self, A))
    X, Y, splits = _problem(6, 40, 60, 2)
    cross_predict(Ridge(alpha=1.0), X, Y, splits)
    assert calls == ["torch:cpu:float32"] * len(splits)


@pytest.mark.parametrize("var,value,error,words", [
    ("MECBENCH_BACKEND", "jax", UnknownIdentifierError, ["MECBENCH_BACKEND", "jax"]),
    ("MECBENCH_DEVICE", "gpu", ConfigError, ["MECBENCH_DEVICE", "gpu"]),
    ("MECBENCH_DEVICE", "cuda", ConfigError, ["MECBENCH_DEVICE", "torch"]),  # numpy on cuda
    ("MECBENCH_DTYPE", "float16", ConfigError, ["MECBENCH_DTYPE", "float16"]),
])
def test_bad_environment_values_name_the_variable(monkeypatch, var, value, error, words):
    monkeypatch.setenv(var, value)
    with pytest.raises(error) as info:
        get_backend()
    for word in words:
        assert word in str(info.value)
    X, Y, splits = _problem(7, 30, 40, 2)
    with pytest.raises(error, match=var):
        cross_predict(Ridge(alpha=1.0), X, Y, splits)


def test_bad_backend_parameter_names_it():
    X, Y, splits = _problem(7, 30, 40, 2)
    with pytest.raises(UnknownIdentifierError, match="Ridge backend"):
        cross_predict(Ridge(alpha=1.0, backend="tensorflow"), X, Y, splits)
    with pytest.raises(ConfigError, match="Ridge backend.*float8"):
        Ridge(alpha=1.0, backend="numpy:cpu:float8").fit(X, Y)


def test_cuda_absent_is_a_clear_error(torch, monkeypatch):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    monkeypatch.setenv("MECBENCH_BACKEND", "torch")
    monkeypatch.setenv("MECBENCH_DEVICE", "cuda:0")
    with pytest.raises(ConfigError, match="MECBENCH_DEVICE.*CUDA is not available"):
        get_backend()


def test_backend_parameter_clones_and_pickles():
    est = Ridge(alpha=3.0, backend="numpy:float32")
    assert clone(est).get_params()["backend"] == "numpy:float32"
    bk = get_backend("numpy:float32")
    assert pickle.loads(pickle.dumps(bk)) == bk and hash(bk) == hash(get_backend("numpy:float32"))
    assert bk != get_backend()


# cache keys --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    load_plugin(tmp_path_factory.mktemp("plugin"))
    return registry.load("model", "toy-fourier")


def _bench():
    return Benchmark("toy.ridge", 0, make_neural_data(n_cells=4), parse_mapping("ridge:alpha=1.0"),
                     SplitScheme.random(train_frac=0.5, n_splits=2, seed=0), ceiling="holdout",
                     n_boot=50, min_source_cells=0)


def test_only_results_beyond_rounding_get_their_own_cache_keys(monkeypatch):
    bench = _bench()
    default = bench.key_parts()
    assert "backend" not in default
    monkeypatch.setenv("MECBENCH_DTYPE", "float64")
    assert bench.key_parts() == default
    monkeypatch.setenv("MECBENCH_DTYPE", "float32")
    assert bench.key_parts() == {**default, "backend": "numpy:cpu:float32"}


def test_a_float32_score_is_never_served_as_the_default(toy, tmp_path, monkeypatch):
    cache = Cache(tmp_path)
    ref = _bench()(toy, cache=cache)
    monkeypatch.setenv("MECBENCH_DTYPE", "float32")
    low = _bench()(toy, cache=cache)
    raw_ref = ref.dataset["raw"].values
    raw_low = low.dataset["raw"].values
    assert not np.array_equal(raw_low, raw_ref, equal_nan=True)  # computed, not served
    np.testing.assert_allclose(raw_low, raw_ref, rtol=0, atol=1e-4)
    assert cache.info()["kinds"]["score"]["entries"] == 2
    monkeypatch.delenv("MECBENCH_DTYPE")
    again = _bench()(toy, cache=cache)
    np.testing.assert_array_equal(again.dataset["raw"].values, raw_ref)
