"""The elastic-net CV's per-target choice: certified error bands and the stable selection rule.

Constructed tables check the rule itself; small simulated problems check the bands against
scikit-learn's ElasticNet fitted per candidate to a far tighter tolerance (the exact validation
errors, up to rounding) and against a generalised eigenvalue problem solved by scipy.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
from benchkit import sklearn_enet_cv_errors

from mecbench.errors import ConfigError
from mecbench.mapping import elastic_net_cv
from mecbench.mapping.enet import select_stable, validation_curvature
from mecbench.mapping.enet_cv import ElasticNetCVMapping

pytestmark = pytest.mark.slow  # elastic-net CV on simulated problems

ALPHAS = [1e-3, 1e-1, 10.0]
L1S = [1e-16, 0.5, 1.0]


def _table(values):
    """(n_l1, n_alphas, 1) from a nested list indexed [l1][alpha]."""
    return np.asarray(values, dtype=float)[..., None]


def _pick(err, band):
    k = int(select_stable(_table(err), _table(band), ALPHAS, L1S)[0])
    return L1S[k // len(ALPHAS)], ALPHAS[k % len(ALPHAS)]


def test_ties_within_the_band_go_to_the_largest_alpha_then_smallest_l1():
    err = [[5.0, 1.00, 9.0],
           [5.0, 1.02, 9.0],
           [0.99, 1.01, 9.0]]
    band = np.full((3, 3), 0.02)
    # best is (l1 1, alpha 1e-3) at 0.99; upper end 1.01; (1e-16, 0.1) reaches 0.98 <= 1.01,
    # (0.5, 0.1) reaches 1.00 and (1, 0.1) 0.99: all three alpha = 0.1 are tied -> smallest l1
    assert _pick(err, band) == (1e-16, 0.1)
    # alpha = 10 joins the ties when its interval reaches the lowest upper end
    err2 = [[5.0, 1.00, 1.03], [5.0, 1.02, 9.0], [0.99, 1.01, 9.0]]
    assert _pick(err2, band) == (1e-16, 10.0)
    # among equal alphas the smallest tied l1_ratio, not the grid's first
    err3 = [[5.0, 1.50, 9.0], [5.0, 1.02, 9.0], [0.99, 1.01, 9.0]]
    assert _pick(err3, band) == (0.5, 0.1)


def test_a_clear_winner_outside_the_band_is_kept():
    err = [[2.0, 1.5, 3.0],
           [2.1, 1.6, 3.0],
           [1.0, 1.7, 3.0]]
    band = np.full((3, 3), 0.01)
    assert _pick(err, band) == (1.0, 1e-3)
    # with zero bands the rule is the arg-min
    rng = np.random.default_rng(0)
    E = rng.random((3, 3, 50))
    got = select_stable(E, np.zeros_like(E), ALPHAS, L1S)
    np.testing.assert_array_equal(got, np.argmin(E.reshape(9, 50), axis=0))


def test_nan_and_unbounded_candidates_are_never_picked():
    band = np.full((3, 3), 0.01)
    # the most regularised candidate has a NaN error, another an unbounded band: both skipped
    err = [[1.0, 1.0, np.nan], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    b = band.copy()
    b[1, 2] = np.inf
    assert _pick(err, b) == (1.0, 10.0)
    b[2, 2] = np.nan
    assert _pick(err, b) == (1e-16, 0.1)
    # no finite candidate at all: the most regularised of the grid
    assert _pick(np.full((3, 3), np.nan), band) == (1e-16, 10.0)
    # an unbounded band does not widen the ties of the others
    err = [[1.0, 3.0, 3.0], [3.0, 3.0, 3.0], [3.0, 3.0, 3.0]]
    b = band.copy()
    b[0, 0] = np.inf
    b[2, 0] = np.inf
    # the finite candidates all tie at 3.0: the most regularised of them
    assert _pick(err, b) == (1e-16, 10.0)


def test_select_stable_rejects_mismatched_shapes():
    with pytest.raises(ConfigError, match="one shape"):
        select_stable(np.zeros((3, 3, 2)), np.zeros((3, 3, 1)), ALPHAS, L1S)
    with pytest.raises(ConfigError, match="do not match"):
        select_stable(np.zeros((2, 3, 1)), np.zeros((2, 3, 1)), ALPHAS, L1S)


@pytest.mark.parametrize("p", [6, 25])
def test_validation_curvature_is_the_generalised_eigenvalue(p):
    rng = np.random.default_rng(p)
    Xf = rng.normal(size=(12, p))
    Xv = rng.normal(size=(7, p))
    xm = Xf.mean(axis=0)
    Xf, Xv = Xf - xm, Xv - xm
    lam2 = np.array([1e-3, 0.1, 2.0, 0.0])
    got = validation_curvature(Xf, Xv, lam2)
    for lam, g in zip(lam2, got, strict=True):
        M = Xf.T @ Xf / 12 + lam * np.eye(p)
        if lam == 0 and p > 11:  # singular: validation rows reach outside the span
            assert g == np.inf
            continue
        ref = sla.eigh(Xv.T @ Xv, M, eigvals_only=True)[-1]
        np.testing.assert_allclose(g, ref, rtol=1e-8)


def _wide_problem(seed=0, n=40, p=80, t=30, noise=1.0):
    """Features on a 5-dimensional subspace plus noise; sparse signals plus noise."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, 5))
    X = Z @ rng.normal(size=(5, p)) + 0.3 * rng.normal(size=(n, p))
    Y = X @ (rng.normal(size=(p, t)) * (rng.random((p, t)) < 0.2)) / 4
    return X, Y + noise * rng.normal(size=(n, t))


@pytest.mark.parametrize("shape", [(40, 12, 4), (30, 50, 4)])
def test_bands_hold_the_exact_validation_errors(shape):
    # the certificate: every candidate solved to a gap of 1e-4 has its exact CV error (sklearn,
    # tol 1e-12) inside its band
    n, p, t = shape
    X, Y = _wide_problem(seed=3, n=n, p=p, t=t)
    alphas, l1s = [1e-3, 0.03, 1.0], [1e-16, 0.5, 1.0]
    got = elastic_net_cv(X, Y, alphas=alphas, l1_ratios=l1s, seed=5, tol=1e-4)
    exact = sklearn_enet_cv_errors(X, Y, alphas, l1s, seed=5, tol=1e-12, max_iter=1_000_000)
    band = got["cv_band"]
    finite = np.isfinite(band)
    assert np.all(np.abs(got["cv_error"] - exact)[finite] <= band[finite])
    # lasso candidates are unbounded exactly when there are more features than fitting rows
    assert np.all(np.isfinite(band[:2]))
    assert np.all(np.isfinite(band[2])) == (p < n // 2)
    # the band is a real constraint, not a blanket: far below the errors where the ridge
    # part is large
    assert np.all(band[0, 2] < 0.2 * got["cv_error"][0, 2])


def _exact_cv_errors(X, Y, alphas, l1s, seed):
    """CV errors from scikit-learn's ElasticNet fitted per candidate (tol 1e-10) on the same
    folds; NaN for pure lasso candidates (their bands are unbounded here, so the rule never
    reads their errors, and coordinate descent is slowest on them)."""
    return sklearn_enet_cv_errors(X, Y, alphas, l1s, seed=seed, tol=1e-10, max_iter=100_000,
                                  skip_lasso=True)


@pytest.mark.slow
def test_two_tolerances_pick_the_same_where_the_arg_min_does_not():
    X, Y = _wide_problem(seed=2, noise=0.3)
    t = Y.shape[1]
    alphas, l1s = list(np.geomspace(1e-4, 100, 7)), [1e-16, 0.5, 1.0]
    runs = {tol: elastic_net_cv(X, Y, alphas=alphas, l1_ratios=l1s, tol=tol, select_tol=1e-4)
            for tol in (1e-4, 1e-7)}
    # the arg-min rule reads every candidate (the stable rule leaves the lasso ones unsolved)
    old = {tol: elastic_net_cv(X, Y, alphas=alphas, l1_ratios=l1s, tol=tol, select="min")
           for tol in (1e-4, 1e-7)}
    old = {tol: np.argmin(r["cv_error"].reshape(-1, t), axis=0) for tol, r in old.items()}
    flips = np.flatnonzero(old[1e-4] != old[1e-7])
    assert flips.size >= 3  # the problem the rule is for
    new = {tol: select_stable(r["cv_error"], r["cv_band"], alphas, l1s)
           for tol, r in runs.items()}
    np.testing.assert_array_equal(new[1e-4], new[1e-7])
    assert len(set(new[1e-4].tolist())) > 1  # not one blanket choice
    for tol, r in runs.items():  # elastic_net_cv's own pick is the stable rule's
        np.testing.assert_array_equal(r["alpha"], np.asarray(alphas)[new[tol] % 7])
        np.testing.assert_array_equal(r["l1_ratio"], np.asarray(l1s)[new[tol] // 7])
    # on the targets where the arg-min flips: the exact errors (scikit-learn) lie in the bands,
    # and the rule applied to them picks what both tolerances picked
    exact = _exact_cv_errors(X, Y[:, flips], alphas, l1s, seed=0)
    band = runs[1e-4]["cv_band"][..., flips]
    assert np.all(np.isinf(band[2])) and np.all(np.isfinite(band[:2]))
    assert np.all(np.abs(runs[1e-4]["cv_error"][:2, :, flips] - exact[:2]) <= band[:2])
    np.testing.assert_array_equal(select_stable(exact, band, alphas, l1s), new[1e-4][flips])


def test_select_tol_below_tol_and_unknown_rule_are_refused():
    X, Y = _wide_problem(seed=1, n=12, p=5, t=2)
    with pytest.raises(ConfigError, match="select_tol"):
        elastic_net_cv(X, Y, alphas=[0.1], l1_ratios=[0.5], tol=1e-3, select_tol=1e-4)
    with pytest.raises(ConfigError, match="select must be"):
        elastic_net_cv(X, Y, alphas=[0.1], l1_ratios=[0.5], select="smallest")


def test_min_rule_is_the_arg_min_and_mapping_uses_the_stable_rule():
    X, Y = _wide_problem(seed=2, n=30, p=10, t=5)
    alphas, l1s = [1e-3, 0.1, 1.0], [0.2, 1.0]
    r = elastic_net_cv(X, Y, alphas=alphas, l1_ratios=l1s, select="min", tol=1e-6)
    best = np.argmin(r["cv_error"].reshape(-1, 5), axis=0)
    np.testing.assert_array_equal(r["alpha"], np.asarray(alphas)[best % 3])
    m = ElasticNetCVMapping(alphas=alphas, l1_ratios=l1s).fit(X, Y)
    s = elastic_net_cv(X, Y, alphas=alphas, l1_ratios=l1s, tol=1e-4, max_iter=5000,
                       select_tol=1e-4)
    np.testing.assert_array_equal(m.alpha_, s["alpha"])
    np.testing.assert_array_equal(m.l1_ratio_, s["l1_ratio"])
    np.testing.assert_allclose(m.predict(X), m.estimator_.predict(X))


def _exact_pick(X, Y, alphas, l1s, *, seed, select_tol):
    """The stable rule applied to exact CV errors: scikit-learn's ElasticNet per candidate and
    fold at tol 1e-10, bands from those errors (pure lasso candidates, whose bands are
    unbounded on a wide problem, are never tied and are not fitted)."""
    import warnings

    import sklearn.linear_model as lm

    from mecbench.mapping.enet import cv_error_band

    n, t = Y.shape
    folds = np.array_split(np.random.default_rng(seed).permutation(n), 2)
    err = np.zeros((len(l1s), len(alphas), t))
    band = np.zeros_like(err)
    lam2 = np.outer(1.0 - np.asarray(l1s), alphas)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for val in folds:
            fit = np.setdiff1d(np.arange(n), val)
            xm, ym = X[fit].mean(axis=0), Y[fit].mean(axis=0)
            mu = validation_curvature(X[fit] - xm, X[val] - xm, lam2)
            gap_max = select_tol * np.sum((Y[fit] - ym) ** 2, axis=0) / fit.size
            for i, l1 in enumerate(l1s):
                for k, a in enumerate(alphas):
                    if l1 == 1.0:
                        err[i, k], band[i, k] = np.nan, np.inf
                        continue
                    m = lm.ElasticNet(alpha=a, l1_ratio=l1, tol=1e-10, max_iter=100_000)
                    e = ((Y[val] - m.fit(X[fit], Y[fit]).predict(X[val])) ** 2).sum(axis=0)
                    err[i, k] += e
                    band[i, k] += cv_error_band(e, gap_max, mu[i, k])
    return select_stable(err, band, alphas, l1s)


@pytest.mark.slow
def test_refined_picks_are_those_of_the_exact_errors():
    """The search's errors are only as accurate as its tolerance, so a candidate close to the
    tie boundary can land on either side; elastic_net_cv re-solves exactly those candidates
    more accurately, and its pick is then the rule applied to the exact errors, at either
    search tolerance."""
    X, Y = _wide_problem(seed=2, noise=0.3)
    alphas, l1s = list(np.geomspace(1e-4, 100, 7)), [1e-16, 0.5, 1.0]
    exact = _exact_pick(X, Y, alphas, l1s, seed=0, select_tol=1e-4)
    na = len(alphas)
    refined = {}
    for tol in (1e-4, 1e-7):
        r = elastic_net_cv(X, Y, alphas=alphas, l1_ratios=l1s, tol=tol, select_tol=1e-4)
        assert r["open_targets"].size == 0
        np.testing.assert_array_equal(r["alpha"], np.asarray(alphas)[exact % na])
        np.testing.assert_array_equal(r["l1_ratio"], np.asarray(l1s)[exact // na])
        refined[tol] = r["n_refined"]
    assert refined[1e-4] > 0  # at the search tolerance 1e-4 some sides were open


def test_mapping_refits_the_picks_to_a_tight_gap():
    """The final fit is solved to refit_tol (1e-12), not the search's tol: its predictions are
    those of the exact minimiser (scikit-learn's ElasticNet run to a 1e-14 gap per target,
    an independent solver) to ~1e-7, where a 1e-4 refit may be off by orders of magnitude
    more."""
    import warnings

    import sklearn.linear_model as lm

    X, Y = _wide_problem(seed=4, n=40, p=12, t=6)
    alphas, l1s = [1e-3, 0.03, 1.0], [0.1, 0.7]
    m = ElasticNetCVMapping(alphas=alphas, l1_ratios=l1s).fit(X, Y)
    assert m.estimator_.tol == m.refit_tol == 1e-12
    exact = np.empty_like(Y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for j in range(Y.shape[1]):
            exact[:, j] = lm.ElasticNet(alpha=m.alpha_[j], l1_ratio=m.l1_ratio_[j], tol=1e-14,
                                        max_iter=1_000_000).fit(X, Y[:, j]).predict(X)
    scale = np.abs(Y - Y.mean(axis=0)).max()
    np.testing.assert_allclose(m.predict(X), exact, rtol=0, atol=1e-6 * scale)


def test_candidates_the_rule_cannot_use_are_not_solved_and_picks_do_not_change():
    # wide: 20 fitting rows, 80 features, so the lasso candidates' bands are unbounded
    X, Y = _wide_problem(seed=4, n=40, p=80, t=12, noise=0.5)
    alphas, l1s = list(np.geomspace(1e-3, 10, 5)), [1e-16, 0.5, 1.0]
    kw = dict(alphas=alphas, l1_ratios=l1s, tol=1e-4, select_tol=1e-4)
    skipped = elastic_net_cv(X, Y, **kw)
    everything = elastic_net_cv(X, Y, **kw, solve_unusable=True)
    assert np.all(np.isnan(skipped["cv_error"][2]))
    assert np.all(np.isfinite(everything["cv_error"]))
    assert np.all(np.isinf(everything["cv_band"][2]))  # solved, but never usable
    np.testing.assert_array_equal(skipped["cv_error"][:2], everything["cv_error"][:2])
    np.testing.assert_array_equal(skipped["cv_band"], everything["cv_band"])
    for key in ("alpha", "l1_ratio", "open_targets"):
        np.testing.assert_array_equal(skipped[key], everything[key])
    assert skipped["n_refined"] == everything["n_refined"]
    # narrow: the lasso's band is bounded, so its candidates are solved and can be picked
    X, Y = _wide_problem(seed=4, n=60, p=12, t=6, noise=0.5)
    narrow = elastic_net_cv(X, Y, **kw)
    assert np.all(np.isfinite(narrow["cv_error"])) and np.all(np.isfinite(narrow["cv_band"]))
