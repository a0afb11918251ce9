"""Elastic-net Newton refinement (SSNAL) and warm starts vs scikit-learn and closed forms.

The problems are wide (p > n) and ill-conditioned with small penalties: the lasso-like regime in
which ADMM alone crawls and the Newton refinement does the work (as on mec-sim rate maps).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sklearn.linear_model as lm
from benchkit import sklearn_enet_cv_errors

from mecbench.mapping import ElasticNet, Lasso, elastic_net_cv
from mecbench.mapping import enet as E

pytestmark = pytest.mark.slow  # ill-conditioned elastic nets against scikit-learn


def _ill_conditioned(n, p, t, seed, decay=4.0):
    """Features with singular values spread over ``10**decay`` and sparse signals."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.normal(size=(n, min(n, p))))
    V, _ = np.linalg.qr(rng.normal(size=(p, min(n, p))))
    s = np.logspace(0, -decay, min(n, p))
    X = (U * s) @ V.T * np.sqrt(n) + rng.normal(size=p)
    B = rng.normal(size=(p, t)) * (rng.random((p, t)) < 0.3)
    Y = X @ B + 0.1 * rng.normal(size=(n, t)) + 2.0
    return X, Y


def _sk(X, Y, alpha, l1):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.column_stack([
            lm.ElasticNet(alpha=alpha[j], l1_ratio=l1[j], tol=1e-13, max_iter=1_000_000)
            .fit(X, Y[:, j]).predict(X) for j in range(Y.shape[1])])


def _rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


def _kkt(Xc, yc, w, lam1, lam2):
    """Largest violation of the elastic-net optimality conditions, relative to lam1."""
    n = len(yc)
    g = Xc.T @ (yc - Xc @ w) / n - lam2 * w  # must equal lam1·sign(w) on the support
    on = w != 0
    v_on = np.abs(g[on] - lam1 * np.sign(w[on])).max(initial=0.0)
    v_off = np.maximum(np.abs(g[~on]) - lam1, 0.0).max(initial=0.0)
    return max(v_on, v_off) / lam1


def _problem(X, Y):
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    return Xc, Yc, E._make_problem(Xc, Yc)


@pytest.mark.parametrize("n,p", [(24, 60), (40, 30)])
def test_ssnal_reaches_kkt_point_from_zero(n, p):
    X, Y = _ill_conditioned(n, p, 4, seed=n + p)
    Xc, Yc, prob = _problem(X, Y)
    amax = np.abs(Xc.T @ Yc).max(0) / n
    lam1 = amax * np.array([1e-4, 1e-3, 1e-2, 3e-5])
    lam2 = lam1 * np.array([0.0, 0.0, 0.5, 1e-3])
    thresh = 1e-8 * np.sum(Yc**2, 0) / n  # stricter than ElasticNet's default tol
    W, gap = E._ssnal(prob, np.zeros((p, 4)), lam1, lam2, np.arange(4), thresh, outer=60)
    assert np.all(gap <= thresh)
    for j in range(4):
        assert _kkt(Xc, Yc[:, j], W[:, j], lam1[j], lam2[j]) < 1e-3
    alpha = lam1 + lam2
    pred = Xc @ W + Y.mean(0)
    assert _rel(pred, _sk(X, Y, alpha, lam1 / alpha)) < 1e-3


@pytest.mark.parametrize("n,p", [(24, 60), (50, 20)])
def test_newton_direction_matches_dense_solve(n, p):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(n, p))
    _, _, prob = _problem(X, rng.normal(size=(n, 6)))
    A = prob.Xf / np.sqrt(n)
    sizes = [0, 3, min(n, p), p - 2, p, max(1, p // 2)]
    Jm = np.zeros((p, 6), dtype=bool)
    for j, k in enumerate(sizes):
        Jm[rng.permutation(p)[:k], j] = True
    grad = rng.normal(size=(n, 6))
    kappa = np.array([1.0, 10.0, 1e3, 1e5, 0.1, 3.0])
    d = E._newton_direction(prob, Jm, grad, kappa)
    for j in range(6):
        AJ = A[:, Jm[:, j]]
        H = np.eye(n) + kappa[j] * AJ @ AJ.T
        ref = -np.linalg.solve(H, grad[:, j])
        np.testing.assert_allclose(d[:, j], ref, rtol=1e-7, atol=1e-9 * np.abs(ref).max())


def test_ill_conditioned_lasso_and_enet_match_sklearn():
    X, Y = _ill_conditioned(30, 70, 5, seed=11)
    Xc = X - X.mean(0)
    amax = np.abs(Xc.T @ (Y - Y.mean(0))).max(0) / len(X)
    alpha = amax * np.array([1e-4, 1e-3, 3e-3, 1e-2, 1e-3])
    l1 = np.array([1.0, 1.0, 0.9, 0.5, 0.99])
    ours = ElasticNet(alpha=alpha, l1_ratio=l1).fit(X, Y)
    assert np.all(ours.dual_gap_ <= 1e-7 * np.sum((Y - Y.mean(0)) ** 2, 0) / len(X))
    np.testing.assert_array_less(_rel(ours.predict(X), _sk(X, Y, alpha, l1)), 1e-3)
    lasso = Lasso(alpha=alpha[:2]).fit(X, Y[:, :2])
    assert _rel(lasso.predict(X), _sk(X, Y[:, :2], alpha[:2], np.ones(2))) < 1e-3


def test_warm_start_same_optimum_and_immediate_return():
    X, Y = _ill_conditioned(26, 50, 3, seed=5)
    Xc, Yc, prob = _problem(X, Y)
    n = len(X)
    amax = np.abs(Xc.T @ Yc).max(0) / n
    lam1 = amax * 1e-3
    lam2 = np.zeros(3)
    cold, gc = E.enet_solve(prob, lam1, lam2, tol=1e-10, max_iter=20000)
    # warm start from the solution for a different penalty mix (as the CV does)
    other, _ = E.enet_solve(prob, lam1 * 0.8, lam1 * 0.5, tol=1e-10, max_iter=20000)
    warm, gw = E.enet_solve(prob, lam1, lam2, tol=1e-10, max_iter=20000, W0=other)
    thresh = 1e-10 * np.sum(Yc**2, 0) / n
    assert np.all(gc <= thresh) and np.all(gw <= thresh)
    assert _rel(Xc @ warm, Xc @ cold) < 1e-4
    # from the optimum itself: returned unchanged, gap already within tolerance
    again, ga = E.enet_solve(prob, lam1, lam2, tol=1e-10, max_iter=1, W0=cold)
    np.testing.assert_array_equal(again, cold)
    assert np.all(ga <= thresh)


def test_elastic_net_cv_ill_conditioned_matches_sklearn_grid():
    X, Y = _ill_conditioned(36, 60, 3, seed=21, decay=3.0)
    n, t = Y.shape
    Xc = X - X.mean(0)
    amax = float(np.abs(Xc.T @ (Y - Y.mean(0))).max()) / n
    alphas = list(amax * np.array([1e-4, 1e-2, 0.3]))
    l1s = [0.5, 0.9, 1.0]
    got = elastic_net_cv(X, Y, alphas=alphas, l1_ratios=l1s, cv=2, seed=3, tol=1e-9,
                         select="min")
    err = sklearn_enet_cv_errors(X, Y, alphas, l1s, seed=3, tol=1e-13, max_iter=1_000_000)
    np.testing.assert_allclose(got["cv_error"], err, rtol=1e-3)
    # the stable rule never uses the lasso candidates of a wide problem and leaves them
    # unsolved; the others are solved as for the arg-min
    stable = elastic_net_cv(X, Y, alphas=alphas, l1_ratios=l1s, cv=2, seed=3, tol=1e-9)
    assert np.all(np.isnan(stable["cv_error"][2])) and np.all(np.isinf(stable["cv_band"][2]))
    np.testing.assert_array_equal(stable["cv_error"][:2], got["cv_error"][:2])
    best = np.argmin(err.reshape(-1, t), axis=0)
    np.testing.assert_array_equal(got["alpha"], np.asarray(alphas)[best % len(alphas)])
    np.testing.assert_array_equal(got["l1_ratio"], np.asarray(l1s)[best // len(alphas)])


def _certified_gap(Xc, yc, w, lam1):
    """Lasso duality gap from a dual point built here: the residual scaled into the dual ball."""
    n = len(yc)
    r = yc - Xc @ w
    primal = r @ r / (2 * n) + lam1 * np.abs(w).sum()
    theta = r / n
    theta *= min(1.0, lam1 / np.abs(Xc.T @ theta).max())
    dual = theta @ yc - n / 2 * theta @ theta
    return primal - dual


@pytest.mark.parametrize("max_iter", [60, 5000])
def test_tiny_penalty_lasso_on_interpolating_features_is_certified(max_iter):
    # the mec-sim regime where ADMM stalls: more features than rows, features that interpolate
    # the rows, a lasso with a tiny penalty (the CV grid's smallest alphas). With max_iter below
    # the point where Newton would be considered, only the last-resort Newton pass can finish.
    X, Y = _ill_conditioned(30, 60, 4, seed=7, decay=4.0)
    Xc, Yc, prob = _problem(X, Y)
    n = len(X)
    assert np.linalg.matrix_rank(Xc) == n - 1  # centred: interpolates every centred target
    amax = np.abs(Xc.T @ Yc).max(0) / n
    lam1 = amax * np.array([1e-9, 1e-7, 1e-6, 1e-5])
    W, gap = E.enet_solve(prob, lam1, np.zeros(4), tol=1e-4, max_iter=max_iter)
    thresh = 1e-4 * np.sum(Yc**2, 0) / n
    assert np.all(gap <= thresh)
    for j in range(4):
        assert _certified_gap(Xc, Yc[:, j], W[:, j], lam1[j]) <= thresh[j] * (1 + 1e-9)


def test_rows_in_the_kernel_eigenbasis_give_the_same_elastic_net():
    # the CV search solves its wide folds with the rows rotated into the kernel's eigenbasis
    # (no n × n products per ADMM step); the fits are those of the original rows
    X, Y = _ill_conditioned(30, 70, 4, seed=5, decay=2.0)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    prob = E._make_problem(Xc, Yc, rotate=True)
    s, V = prob.eig
    assert V is None and prob.rotation is not None
    np.testing.assert_allclose(prob.Xf @ prob.Xf.T, np.diag(s), atol=1e-10 * s.max())
    np.testing.assert_allclose(prob.rotation @ prob.Yc, Yc, atol=1e-12 * np.abs(Yc).max())
    alpha = np.array([1e-3, 1e-2, 0.1, 1.0])
    l1 = np.array([0.2, 0.5, 0.9, 0.7])
    W, gaps = E.enet_solve(prob, alpha * l1, alpha * (1 - l1), tol=1e-12, max_iter=100_000)
    assert np.all(gaps <= 1e-12 * E._gap_scale(Yc))
    ref = _sk(X, Y, alpha, l1)  # scikit-learn on the original rows, with an intercept
    pred = Xc @ W + Y.mean(0)
    np.testing.assert_allclose(pred, ref, atol=1e-5 * np.abs(ref).max())
