"""The elastic net's float32 ADMM products: same certified optimum as float64, safe fallbacks.

In kernel form (more features than rows) the two big products of an ADMM iteration run in
float32 while the duality gaps are large; gaps are always computed in float64. These tests
certify the results with a duality gap built independently here and compare with scikit-learn.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sklearn.linear_model as lm

from mecbench.mapping import enet as E


def _wide(n=60, p=300, t=6, seed=0):
    rng = np.random.default_rng(seed)
    X = np.maximum(rng.normal(size=(n, p)) + 0.5 * rng.normal(size=(n, 1)), 0.0)
    B = rng.normal(size=(p, t)) * (rng.random((p, t)) < 0.05)
    Y = X @ B + rng.normal(size=(n, t)) + 1.0
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    amax = np.abs(Xc.T @ Yc).max(0) / n
    l1 = np.array([1.0, 0.9, 0.5, 0.5, 0.2, 0.1])[:t]
    alpha = amax * np.array([1e-2, 3e-2, 0.1, 3e-3, 0.3, 1e-2])[:t] / l1
    return X, Y, Xc, Yc, alpha * l1, alpha * (1 - l1)


def _primal(Xc, yc, w, lam1, lam2):
    r = yc - Xc @ w
    return r @ r / (2 * len(yc)) + lam1 * np.abs(w).sum() + 0.5 * lam2 * w @ w


def _sklearn_coef(X, Y, lam1, lam2):
    """scikit-learn's coordinate descent run to a 1e-13 gap: the optimum, independently."""
    alpha = lam1 + lam2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.column_stack([
            lm.ElasticNet(alpha=alpha[j], l1_ratio=lam1[j] / alpha[j], tol=1e-13,
                          max_iter=1_000_000).fit(X, Y[:, j]).coef_
            for j in range(Y.shape[1])])


def _assert_within_gap(X, Y, W, lam1, lam2, thresh):
    """The objective of every column of ``W`` is within ``thresh`` of scikit-learn's optimum."""
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    sk = _sklearn_coef(X, Y, lam1, lam2)
    for j in range(Y.shape[1]):
        excess = (_primal(Xc, Yc[:, j], W[:, j], lam1[j], lam2[j])
                  - _primal(Xc, Yc[:, j], sk[:, j], lam1[j], lam2[j]))
        assert excess <= thresh[j] * (1 + 1e-6) + 1e-13, (j, excess, thresh[j])
    return sk


def _solve(Xc, Yc, lam1, lam2, tol, *, float64_only=False, monkeypatch=None):
    prob = E._make_problem(Xc, Yc)
    assert prob.kernel_eig and prob.K is not None  # the form with float32 products
    if float64_only:
        monkeypatch.setattr(E, "_LOWP_GAP", np.inf)
    assert E._lowp_safe(prob) is not float64_only
    return E.enet_solve(prob, lam1, lam2, tol=tol, max_iter=20000)


@pytest.mark.slow
@pytest.mark.parametrize("tol", [1e-4, 1e-7, 1e-10])
def test_float32_products_reach_a_certified_optimum(tol, monkeypatch):
    X, Y, Xc, Yc, lam1, lam2 = _wide()
    n = len(X)
    thresh = tol * np.sum(Yc**2, 0) / n
    W32, gap32 = _solve(Xc, Yc, lam1, lam2, tol)
    W64, gap64 = _solve(Xc, Yc, lam1, lam2, tol, float64_only=True, monkeypatch=monkeypatch)
    for W, gap in ((W32, gap32), (W64, gap64)):
        assert np.all(gap <= thresh)
        sk = _assert_within_gap(X, Y, W, lam1, lam2, thresh)
    if tol <= 1e-7:  # converged: the same predictions as scikit-learn
        for W in (W32, W64):
            np.testing.assert_allclose(Xc @ W, Xc @ sk, rtol=0,
                                       atol=1e-3 * np.abs(Xc @ sk).max())


def test_non_finite_float32_products_fall_back_to_float64():
    X, Y, Xc, Yc, lam1, lam2 = _wide(seed=1)
    tol = 1e-7
    prob = E._make_problem(Xc, Yc)
    X32 = prob.X32.copy()
    X32[0, :] = np.inf  # as if the float32 copy had overflowed
    prob._x32 = X32
    W, gap = E.enet_solve(prob, lam1, lam2, tol=tol, max_iter=20000)
    thresh = tol * np.sum(Yc**2, 0) / len(X)
    assert np.all(np.isfinite(W))
    assert np.all(gap <= thresh)
    _assert_within_gap(X, Y, W, lam1, lam2, thresh)


@pytest.mark.parametrize("x_scale,y_scale,safe", [
    (1.0, 1.0, True), (1e-14, 1.0, False), (1e14, 1.0, False), (1.0, 1e-14, False),
    (1.0, 1e14, False), (1e-6, 1e6, True)])
def test_float32_products_only_at_moderate_scales(x_scale, y_scale, safe):
    _, _, Xc, Yc, _, _ = _wide(seed=2)
    assert E._lowp_safe(E._make_problem(Xc * x_scale, Yc * y_scale)) is safe


@pytest.mark.slow
def test_extreme_feature_scale_still_matches_float64(monkeypatch):
    # features at 1e14: the solver stays in float64 and reaches the same fit as the unscaled
    # problem (features X·c with penalties lam1·c, lam2·c² have the solution w / c)
    X, Y, Xc, Yc, lam1, lam2 = _wide(seed=3)
    c = 1e14
    prob = E._make_problem(Xc * c, Yc)
    assert not E._lowp_safe(prob)
    V, gap = E.enet_solve(prob, lam1 * c, lam2 * c * c, tol=1e-9, max_iter=20000)
    W, _ = _solve(Xc, Yc, lam1, lam2, 1e-9, float64_only=True, monkeypatch=monkeypatch)
    assert np.all(gap <= 1e-9 * np.sum(Yc**2, 0) / len(X))
    np.testing.assert_allclose((Xc * c) @ V, Xc @ W, rtol=0, atol=1e-4 * np.abs(Xc @ W).max())


def test_unconverged_fit_warns_and_converged_fit_does_not():
    from mecbench.errors import ConvergenceWarning
    from mecbench.mapping import ElasticNet

    X, Y, _, _, lam1, lam2 = _wide(seed=4)
    alpha = lam1 + lam2
    with pytest.warns(ConvergenceWarning, match=r"of 6 targets did not reach"):
        est = ElasticNet(alpha=alpha, l1_ratio=lam1 / alpha, tol=1e-12, max_iter=2).fit(X, Y)
    assert np.any(est.dual_gap_ > 1e-12 * np.sum((Y - Y.mean(0))**2, 0) / len(Y))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ElasticNet(alpha=alpha, l1_ratio=lam1 / alpha, tol=1e-7).fit(X, Y)
