"""RSA over bins against scipy (pdist, spearmanr), the whitened cosine against an explicit
(pairs x pairs) covariance built from the contrast matrix, and the cross-validated RDM against
a pairwise loop and a simulation with known distances."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform
from scipy.stats import spearmanr

from mecbench.errors import DataError, UnknownIdentifierError
from mecbench.similarity import compare_rdms, rdm, rsa


def data(seed=0, n=25, p=12, q=8):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    Y = X[:, :q] + 0.8 * rng.standard_normal((n, q))
    return X, Y


def explicit_whitened_cosine(D1, D2):
    """Whitened cosine with V = (C Cᵀ) ∘ (C Cᵀ), C the (pairs x bins) contrast matrix,
    solved densely."""
    n = D1.shape[0]
    pairs = list(itertools.combinations(range(n), 2))
    C = np.zeros((len(pairs), n))
    for k, (i, j) in enumerate(pairs):
        C[k, i], C[k, j] = 1.0, -1.0
    CC = C @ C.T
    V = CC * CC
    d1 = np.array([D1[i, j] for i, j in pairs])
    d2 = np.array([D2[i, j] for i, j in pairs])
    w1, w2 = np.linalg.solve(V, d1), np.linalg.solve(V, d2)
    return (d1 @ w2) / np.sqrt((d1 @ w1) * (d2 @ w2))


def test_rdm_matches_pdist():
    X, _ = data()
    np.testing.assert_allclose(rdm(X), squareform(pdist(X, "correlation")), atol=1e-12)
    np.testing.assert_allclose(rdm(X, distance="euclidean"),
                               squareform(pdist(X, "sqeuclidean")) / X.shape[1], atol=1e-12)


@pytest.mark.parametrize("distance", ["correlation", "euclidean"])
def test_crossvalidated_rdm_matches_pairwise_loop(distance):
    rng = np.random.default_rng(4)
    A, B = rng.standard_normal((9, 6)), rng.standard_normal((9, 6))

    def norm(M):
        if distance == "euclidean":
            return M, M.shape[1]
        U = M - M.mean(axis=1, keepdims=True)
        return U / np.linalg.norm(U, axis=1, keepdims=True), 2.0

    (U, s), (V, _) = norm(A), norm(B)
    ref = np.zeros((9, 9))
    for i in range(9):
        for j in range(9):
            ref[i, j] = (U[i] - U[j]) @ (V[i] - V[j]) / s
    np.testing.assert_allclose(rdm(A, B, distance=distance), ref, atol=1e-12)
    # identical halves: the plain RDM
    np.testing.assert_allclose(rdm(A, A, distance=distance), rdm(A, distance=distance),
                               atol=1e-12)


def test_crossvalidated_rdm_is_unbiased():
    """Two noisy halves of known patterns: the plain squared distance per unit is inflated by
    2 sigma², the cross-validated one is not (20000 units: standard error about 0.03)."""
    rng = np.random.default_rng(8)
    M = rng.standard_normal((6, 20000))
    true = squareform(pdist(M, "sqeuclidean")) / M.shape[1]
    h1 = M + rng.standard_normal(M.shape)
    h2 = M + rng.standard_normal(M.shape)
    off = ~np.eye(6, dtype=bool)
    cv = rdm(h1, h2, distance="euclidean")
    plain = rdm(h1, distance="euclidean")
    assert np.abs(cv - true)[off].max() < 0.15
    assert np.abs(plain - true - 2.0)[off].max() < 0.2


def test_rsa_spearman_matches_scipy():
    X, Y = data(1)
    ref = spearmanr(pdist(X, "correlation"), pdist(Y, "correlation")).statistic
    assert rsa(X, Y) == pytest.approx(ref, rel=1e-12)
    ref_e = spearmanr(pdist(X, "sqeuclidean"), pdist(Y, "sqeuclidean")).statistic
    assert rsa(X, Y, distance="euclidean") == pytest.approx(ref_e, rel=1e-12)


def test_spearman_with_ties_matches_scipy():
    D1 = squareform(np.array([1, 1, 2, 3, 3, 3, 0.5, 2, 2, 1.0]))
    D2 = squareform(np.array([2, 1, 2, 4, 3, 3, 0.1, 2, 5, 1.0]))
    ref = spearmanr(squareform(D1), squareform(D2)).statistic
    assert compare_rdms(D1, D2) == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("distance", ["correlation", "euclidean"])
def test_whitened_cosine_matches_explicit_covariance(distance):
    X, Y = data(2, n=11)
    D1, D2 = rdm(X, distance=distance), rdm(Y, distance=distance)
    ref = explicit_whitened_cosine(D1, D2)
    assert compare_rdms(D1, D2, method="whitened_cosine") == pytest.approx(ref, rel=1e-10)
    assert rsa(X, Y, distance=distance, method="whitened_cosine") == pytest.approx(ref,
                                                                                  rel=1e-10)


def test_whitened_cosine_closed_forms():
    X, Y = data(3)
    D1, D2 = rdm(X), rdm(Y)
    assert compare_rdms(D1, D1, method="whitened_cosine") == pytest.approx(1.0, rel=1e-12)
    assert compare_rdms(D1, 5 * D2, method="whitened_cosine") == pytest.approx(
        compare_rdms(D1, D2, method="whitened_cosine"), rel=1e-12)
    # whitening matters: differs from the plain cosine of the upper triangles
    u1, u2 = squareform(D1, checks=False), squareform(D2, checks=False)
    plain = u1 @ u2 / np.linalg.norm(u1) / np.linalg.norm(u2)
    assert abs(compare_rdms(D1, D2, method="whitened_cosine") - plain) > 1e-3


def test_rsa_with_halves_uses_crossvalidated_rdms():
    X, Y = data(5)
    rng = np.random.default_rng(0)
    Y1 = Y + 0.3 * rng.standard_normal(Y.shape)
    Y2 = Y + 0.3 * rng.standard_normal(Y.shape)
    ref = compare_rdms(rdm(X), rdm(Y1, Y2), method="whitened_cosine")
    assert rsa(X, Y1, Y2=Y2, method="whitened_cosine") == pytest.approx(ref, rel=1e-12)
    assert rsa(X, Y1, Y2=Y1) == pytest.approx(rsa(X, Y1), rel=1e-12)


def test_rsa_drops_nan_and_constant_bins():
    X, Y = data(6, n=30)
    Xn, Yn = X.copy(), Y.copy()
    Xn[4, 1] = np.nan
    Yn[9, 0] = np.nan
    Yn[12] = 2.0                        # a bin where every cell fires the same
    keep = np.setdiff1d(np.arange(30), [4, 9, 12])
    ref = spearmanr(pdist(X[keep], "correlation"), pdist(Y[keep], "correlation")).statistic
    assert rsa(Xn, Yn) == pytest.approx(ref, rel=1e-12)


def test_errors():
    X, Y = data()
    with pytest.raises(UnknownIdentifierError, match="whitened_cosine"):
        rsa(X, Y, method="whitened-cosin")
    with pytest.raises(UnknownIdentifierError, match="RDM distance"):
        rdm(X, distance="cosine")
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(DataError, match="X has 1 bins with NaN"):
        rdm(Xn)
    with pytest.raises(DataError, match="X2 has shape"):
        rdm(X, X[:, :3])
    X[2] = 1.0
    with pytest.raises(DataError, match="constant"):
        rdm(X)
    with pytest.raises(DataError, match="Y has 1 varying column"):
        rsa(X, Y[:, :1])
    assert np.isfinite(rsa(X, Y[:, :1], distance="euclidean"))
    with pytest.raises(DataError, match="D2"):
        compare_rdms(np.zeros((4, 4)), np.zeros((4, 3)))
