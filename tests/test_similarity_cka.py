"""Linear CKA against plain kernel-matrix formulas (biased: tr(KHLH); debiased: Song et al.'s
closed form on uncentred kernels and the U-statistic over all 4-tuples), invariances and
closed forms."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import ortho_group

from mecbench.errors import DataError
from mecbench.similarity import cka_from_arrays, linear_cka


def kernel_cka(X, Y):
    """Biased linear CKA from the n x n kernel matrices, written plainly."""
    n = X.shape[0]
    H = np.eye(n) - np.ones((n, n)) / n
    K, L = X @ X.T, Y @ Y.T

    def hsic(A, B):
        return np.trace(A @ H @ B @ H) / (n - 1) ** 2

    return hsic(K, L) / np.sqrt(hsic(K, K) * hsic(L, L))


def song_hsic(K, L):
    """Unbiased HSIC, eq. 5 of Song et al. (2012), on kernels with zeroed diagonals."""
    n = K.shape[0]
    K, L = K.copy(), L.copy()
    np.fill_diagonal(K, 0)
    np.fill_diagonal(L, 0)
    one = np.ones(n)
    return (np.trace(K @ L) + (one @ K @ one) * (one @ L @ one) / ((n - 1) * (n - 2))
            - 2 / (n - 2) * one @ K @ L @ one) / (n * (n - 3))


def ustat_hsic(K, L):
    """Unbiased HSIC as the U-statistic: the mean over ordered 4-tuples of distinct indices
    of k_ij l_ij + k_ij l_qr - 2 k_ij l_iq."""
    n = K.shape[0]
    total, count = 0.0, 0
    for i, j, q, r in itertools.permutations(range(n), 4):
        total += K[i, j] * L[i, j] + K[i, j] * L[q, r] - 2 * K[i, j] * L[i, q]
        count += 1
    return total / count


def debiased_reference(X, Y, hsic):
    K, L = X @ X.T, Y @ Y.T
    return hsic(K, L) / np.sqrt(hsic(K, K) * hsic(L, L))


def related(rng, n, p, q, noise=1.0):
    X = rng.standard_normal((n, p)) + 3.0
    Y = X[:, : min(p, q)] @ rng.standard_normal((min(p, q), q)) + noise * rng.standard_normal(
        (n, q)) - 1.0
    return X, Y


@pytest.mark.parametrize("p,q", [(5, 7), (40, 6), (6, 40), (45, 50)],
                         ids=["features", "kernel-X", "kernel-Y", "kernel-both"])
def test_biased_matches_kernel_form(p, q):
    X, Y = related(np.random.default_rng(p * 100 + q), 30, p, q)
    assert linear_cka(X, Y) == pytest.approx(kernel_cka(X, Y), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("p,q", [(5, 7), (40, 6), (45, 50)])
def test_debiased_matches_song_closed_form(p, q):
    X, Y = related(np.random.default_rng(7 + p), 30, p, q)
    assert linear_cka(X, Y, debiased=True) == pytest.approx(
        debiased_reference(X, Y, song_hsic), rel=1e-9, abs=1e-12)


def test_debiased_matches_u_statistic():
    X, Y = related(np.random.default_rng(3), 8, 3, 4, noise=0.5)
    ref = debiased_reference(X, Y, ustat_hsic)
    assert linear_cka(X, Y, debiased=True) == pytest.approx(ref, rel=1e-9)
    # and the Song closed form is that U-statistic (checks the reference itself)
    assert debiased_reference(X, Y, song_hsic) == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize("debiased", [False, True])
def test_invariances_and_identity(debiased):
    rng = np.random.default_rng(11)
    X, Y = related(rng, 60, 12, 9)
    base = linear_cka(X, Y, debiased=debiased)
    Q = ortho_group.rvs(12, random_state=1)
    assert linear_cka(X @ Q, Y, debiased=debiased) == pytest.approx(base, rel=1e-10)
    assert linear_cka(7.5 * X, 0.01 * Y, debiased=debiased) == pytest.approx(base, rel=1e-10)
    assert linear_cka(X + rng.standard_normal(12), Y, debiased=debiased) == pytest.approx(
        base, rel=1e-10)
    assert linear_cka(X, X, debiased=debiased) == pytest.approx(1.0, rel=1e-12)
    assert linear_cka(X, 3 * X @ Q + 1, debiased=debiased) == pytest.approx(1.0, rel=1e-12)
    # not invariant to anisotropic scaling: CKA is not CCA
    D = np.diag(np.linspace(0.1, 10, 12))
    assert abs(linear_cka(X @ D, Y, debiased=debiased) - base) > 1e-3


def test_debiased_removes_bias_of_independent_data():
    """Independent representations: population CKA is 0. With few bins and many units the
    biased estimate is far above 0; the debiased one averages to 0 (30 draws: standard error
    about 0.007, the bound is 4 of them)."""
    rng = np.random.default_rng(5)
    biased, debiased = [], []
    for _ in range(30):
        X = rng.standard_normal((40, 200))
        Y = rng.standard_normal((40, 150))
        biased.append(linear_cka(X, Y))
        debiased.append(linear_cka(X, Y, debiased=True))
    assert np.mean(biased) > 0.7
    assert abs(np.mean(debiased)) < 0.03
    assert np.std(debiased) < 0.1


def test_nan_bins_and_constant_columns_dropped():
    rng = np.random.default_rng(2)
    X, Y = related(rng, 50, 10, 6)
    ref = linear_cka(X, Y)
    Xn = np.column_stack([X, np.full(50, 4.0)])   # a constant unit
    Yn = Y.copy()
    Xn[[3, 8], 0] = np.nan                        # unvisited in the model ...
    Yn[[8, 20], 2] = np.nan                       # ... and in the animal
    keep = np.setdiff1d(np.arange(50), [3, 8, 20])
    assert linear_cka(Xn, Yn) == pytest.approx(linear_cka(X[keep], Y[keep]), rel=1e-12)
    assert linear_cka(np.column_stack([X, np.full(50, 4.0)]), Y) == pytest.approx(ref,
                                                                                  rel=1e-12)


def test_errors_name_the_input():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 3))
    with pytest.raises(DataError, match="Y has 9"):
        linear_cka(X, rng.standard_normal((9, 2)))
    with pytest.raises(DataError, match="every cell of Y is constant"):
        linear_cka(X, np.ones((10, 2)))
    Y = rng.standard_normal((10, 2))
    Y[:8] = np.nan
    with pytest.raises(DataError, match="only 2 of 10 bins"):
        linear_cka(X, Y, debiased=True)
    X[0, 0] = np.inf
    with pytest.raises(DataError, match="X contains infinite"):
        linear_cka(X, rng.standard_normal((10, 2)))


def test_core_returns_nan_for_zero_representation():
    assert np.isnan(cka_from_arrays(np.ones((5, 2)), np.arange(10.0).reshape(5, 2)))
