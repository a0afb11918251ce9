"""One-to-one arg-max: the float32 screen with its float64 re-check chooses exactly the source
a brute-force float64 computation (np.corrcoef per source) chooses.

Every test runs the float64 product path and the screened path (``SCREEN_MIN_WORK`` lowered
so that these small problems use it), on data made to defeat a float32 product: near-ties far
below float32 resolution but far above float64 rounding, exact ties (equal columns), constant
sources and targets, columns of very different magnitudes, and sources whose variance on a
target's valid rows is tiny against their norm.
"""

from __future__ import annotations

import numpy as np
import pytest

import mecbench.mapping.one_to_one as oo
from mecbench.mapping import FeatureCache, OneToOne, cross_predict_masked


@pytest.fixture(params=["float64", "screen"])
def path(request, monkeypatch):
    monkeypatch.setattr(oo, "SCREEN_MIN_WORK", 0 if request.param == "screen" else np.inf)
    return request.param


def _reference_best(X, y):
    """Brute force: Pearson r of every source by np.corrcoef; constant sources never chosen,
    the first maximum wins, -1 for a constant target or all-constant sources."""
    if np.ptp(y) == 0:
        return -1
    r = np.array([np.corrcoef(X[:, j], y)[0, 1] if np.ptp(X[:, j]) > 0 else -np.inf
                  for j in range(X.shape[1])])
    return int(np.argmax(r)) if np.isfinite(r).any() else -1


def _near_tie_problem(rng, n=60, p=40, t=12, eps=1e-9):
    """Sources that all correlate with each target to within ~eps (float32 cannot order them;
    float64 can), plus equal columns, constant columns and an offset column."""
    base = rng.standard_normal((n, t))
    Y = base + 0.5 * rng.standard_normal((n, t))
    X = rng.standard_normal((n, p))
    # sources 0..19: target 0's base plus tiny, distinct perturbations
    X[:, :20] = base[:, [0]] + eps * rng.standard_normal((n, 20))
    X[:, 20] = X[:, 7]  # an exact tie with source 7
    X[:, 21] = 3.0  # constant: never chosen
    X[:, 22] = 1e6 + base[:, 1]  # huge offset, same correlation as target 1's base
    X[:, 23] = base[:, 1] * 1e-20  # tiny magnitude, same correlation as source 22
    X[:, 24] = base[:, 2] * 1e20 + 1e-3 * rng.standard_normal(n) * 1e20
    Y[:, 3] = 5.0  # a constant target
    # close to the shared part of sources 0..19 (r far enough from 1 that their differences
    # are of first order in eps, well above float64 rounding)
    Y[:, 4] = base[:, 0] + 0.1 * rng.standard_normal(n)
    return X, Y


@pytest.mark.parametrize("seed", range(4))
def test_best_sources_equals_brute_force(path, seed):
    rng = np.random.default_rng(seed)
    X, Y = _near_tie_problem(rng)
    best = oo.best_sources(X, Y)
    expected = [_reference_best(X, Y[:, j]) for j in range(Y.shape[1])]
    np.testing.assert_array_equal(best, expected)
    assert best[3] == -1
    assert 21 not in best


def test_equal_columns_tie_to_the_lowest_index(path):
    rng = np.random.default_rng(7)
    a = rng.standard_normal(50)
    X = np.column_stack([rng.standard_normal(50), a, rng.standard_normal(50), a, a])
    Y = np.column_stack([2 * a + 1, a + 0.1 * rng.standard_normal(50)])
    np.testing.assert_array_equal(oo.best_sources(X, Y), [1, 1])


def test_many_near_equal_sources_fall_back_to_the_float64_row(path, monkeypatch):
    monkeypatch.setattr(oo, "MAX_CANDIDATES", 4)
    rng = np.random.default_rng(8)
    X, Y = _near_tie_problem(rng, eps=1e-10)
    expected = [_reference_best(X, Y[:, j]) for j in range(Y.shape[1])]
    np.testing.assert_array_equal(oo.best_sources(X, Y), expected)


def test_all_constant_sources_and_targets(path):
    X = np.ones((20, 5))
    Y = np.column_stack([np.arange(20.0), np.full(20, 2.0)])
    np.testing.assert_array_equal(oo.best_sources(X, Y), [-1, -1])
    m = OneToOne().fit(X, Y)
    np.testing.assert_allclose(m.predict(X), np.column_stack([np.full(20, 9.5),
                                                              np.full(20, 2.0)]))


def test_fit_and_cross_predict_agree_with_brute_force(path):
    from mecbench.mapping import cross_predict

    rng = np.random.default_rng(9)
    X, Y = _near_tie_problem(rng, n=80)
    m = OneToOne().fit(X, Y)
    np.testing.assert_array_equal(m.best_source_,
                                  [_reference_best(X, Y[:, j]) for j in range(Y.shape[1])])
    perm = rng.permutation(80)
    splits = [(np.sort(perm[:50]), np.sort(perm[50:])), (np.sort(perm[30:]), np.sort(perm[:30]))]
    for (tr, te), P in zip(splits, cross_predict(OneToOne(), FeatureCache(X), Y, splits),
                           strict=True):
        for j in range(Y.shape[1]):
            k = _reference_best(X[tr], Y[tr, j])
            ref = X[te, k] if k >= 0 else np.full(te.size, Y[tr, j].mean())
            np.testing.assert_array_equal(P[:, j], ref)


@pytest.mark.parametrize("seed", range(3))
def test_masked_path_equals_brute_force_on_each_targets_rows(path, seed):
    """NaN (invalid) rows per target; a source that varies almost only on the rows some
    targets miss (its float32 error bound is wide for them) and one constant on their rows."""
    rng = np.random.default_rng(seed)
    n = 90
    X, Y = _near_tie_problem(rng, n=n, p=48, t=16)
    valid = np.ones(Y.shape, dtype=bool)
    miss_a = rng.choice(n, 6, replace=False)
    valid[miss_a, 5:9] = False
    valid[rng.choice(n, 3, replace=False), 10] = False
    valid[:, 11] = rng.random(n) > 0.3
    X[:, 30] = 1.0 + 1e-7 * rng.standard_normal(n)  # tiny variance on the kept rows ...
    X[miss_a, 30] = 50.0 * rng.standard_normal(miss_a.size)  # ... large on the missed ones
    X[:, 31] = 2.0
    X[miss_a, 31] = rng.standard_normal(miss_a.size)  # constant where targets 5..8 are valid
    Y[:, 5] = X[:, 30] + 1e-9 * rng.standard_normal(n)  # best explained by source 30
    Yn = np.where(valid, Y, np.nan)
    perm = rng.permutation(n)
    splits = [(np.sort(perm[:60]), np.sort(perm[60:])), (np.sort(perm[25:]), np.sort(perm[:25]))]
    preds = cross_predict_masked(OneToOne(), FeatureCache(X), Yn, valid, splits)
    for (tr, te), P in zip(splits, preds, strict=True):
        for j in range(Y.shape[1]):
            s = tr[valid[tr, j]]
            k = _reference_best(X[s], Y[s, j])
            ref = X[te, k] if k >= 0 else np.full(te.size, Y[s, j].mean())
            np.testing.assert_array_equal(P[:, j], ref, err_msg=f"target {j}")
            if j in (5, 6, 7, 8):
                assert k != 31


def test_screen_and_float64_paths_choose_the_same_sources(monkeypatch):
    """A layer-like problem big enough for the screen at the default threshold."""
    rng = np.random.default_rng(11)
    n, p, t = 300, 1200, 150
    assert n * p * t >= oo.SCREEN_MIN_WORK
    latent = rng.standard_normal((n, 30))
    X = np.maximum(latent @ rng.standard_normal((30, p)), 0) + 0.01 * rng.standard_normal((n, p))
    Y = latent @ rng.standard_normal((30, t)) + rng.standard_normal((n, t))
    X[:, 5] = X[:, 900]  # an exact tie
    screened = oo.best_sources(X, Y)
    monkeypatch.setattr(oo, "SCREEN_MIN_WORK", np.inf)
    np.testing.assert_array_equal(screened, oo.best_sources(X, Y))
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    R = (Yc / np.linalg.norm(Yc, axis=0)).T @ (Xc / np.linalg.norm(Xc, axis=0))
    np.testing.assert_array_equal(screened, np.argmax(R, axis=1))
    assert 900 not in screened


@pytest.mark.parametrize("wide_rho,max_candidates", [(0.0, 64), (1.0 + 1e-12, 200)])
def test_sources_with_a_wide_bound_are_rechecked_or_decided_in_float64(monkeypatch, wide_rho,
                                                                      max_candidates):
    """Sources whose float32 bound is too wide skip the screen: every such source is
    re-checked in float64 for every target (or, when there are many, the group's targets are
    decided by their float64 product rows)."""
    monkeypatch.setattr(oo, "SCREEN_MIN_WORK", 0)
    monkeypatch.setattr(oo, "WIDE_RHO", wide_rho)
    monkeypatch.setattr(oo, "MAX_CANDIDATES", max_candidates)
    rng = np.random.default_rng(12)
    X, Y = _near_tie_problem(rng, n=70)
    expected = [_reference_best(X, Y[:, j]) for j in range(Y.shape[1])]
    np.testing.assert_array_equal(oo.best_sources(X, Y), expected)
