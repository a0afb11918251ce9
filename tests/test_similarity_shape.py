"""Generalized shape metrics: closed forms (Procrustes nuclear norm, mean canonical
correlation from QR + SVD and from scikit-learn's CCA), a dense reference for partial
whitening after scikit-learn's PCA, metric properties and held-out scoring."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
from scipy.stats import ortho_group
from sklearn.cross_decomposition import CCA
from sklearn.decomposition import PCA

from mecbench.errors import ConfigError, DataError
from mecbench.similarity import ShapeMetric, shape_distance


def pair(seed, n=80, p=6, q=6, noise=0.7):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) @ rng.standard_normal((p, p)) + 2.0
    Y = X[:, : min(p, q)] @ rng.standard_normal((min(p, q), q)) \
        + noise * rng.standard_normal((n, q))
    return X, Y


def canonical_correlations(X, Y):
    """Björck–Golub: singular values of Qxᵀ Qy, Q from QR of the centred data."""
    Qx, _ = np.linalg.qr(X - X.mean(axis=0))
    Qy, _ = np.linalg.qr(Y - Y.mean(axis=0))
    return sla.svdvals(Qx.T @ Qy)


def dense_reference(X, Y, alpha, k):
    """PCA to k (scikit-learn), scores scaled to mean variance 1, whitened by the dense
    inverse square root of alpha I + (1 - alpha) Cov, then arccos of the nuclear norm."""
    out = []
    for A in (X, Y):
        Z = PCA(n_components=k, svd_solver="full").fit_transform(A)
        Z = Z / np.sqrt(np.mean(Z.var(axis=0)))
        C = Z.T @ Z / Z.shape[0]
        w, V = np.linalg.eigh(alpha * np.eye(k) + (1 - alpha) * C)
        out.append(Z @ V @ np.diag(w ** -0.5) @ V.T)
    A, B = out
    cos = sla.svdvals(A.T @ B).sum() / np.linalg.norm(A) / np.linalg.norm(B)
    return np.arccos(np.clip(cos, -1, 1))


def test_procrustes_closed_form():
    X, Y = pair(0)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    cos = sla.svdvals(Xc.T @ Yc).sum() / np.linalg.norm(Xc) / np.linalg.norm(Yc)
    assert shape_distance(X, Y, alpha=1.0) == pytest.approx(np.arccos(cos), rel=1e-10)


def test_cca_closed_form_mean_canonical_correlation():
    X, Y = pair(1, p=4, q=4)
    rho = canonical_correlations(X, Y)
    assert shape_distance(X, Y, alpha=0.0) == pytest.approx(np.arccos(rho.mean()), rel=1e-9)
    cca = CCA(n_components=4, scale=False, max_iter=5000, tol=1e-14).fit(X, Y)
    xs, ys = cca.transform(X, Y)
    rho_sk = [np.corrcoef(xs[:, i], ys[:, i])[0, 1] for i in range(4)]
    np.testing.assert_allclose(np.sort(rho_sk), np.sort(rho), rtol=1e-6)


def test_cca_after_pca_truncation():
    """Different sizes: both are reduced to k = min(p, q, n-1) principal components first."""
    X, Y = pair(2, p=10, q=4)
    Zx = PCA(n_components=4, svd_solver="full").fit_transform(X)
    rho = canonical_correlations(Zx, Y)
    assert shape_distance(X, Y, alpha=0.0) == pytest.approx(np.arccos(rho.mean()), rel=1e-9)


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.7, 1.0])
@pytest.mark.parametrize("p,q", [(6, 6), (12, 5), (5, 90)])
def test_matches_dense_reference(alpha, p, q):
    X, Y = pair(3 + p, n=60, p=p, q=q)
    k = min(p, q, 59)
    assert shape_distance(X, Y, alpha=alpha) == pytest.approx(dense_reference(X, Y, alpha, k),
                                                              rel=1e-8, abs=1e-10)


def test_n_components_parameter():
    X, Y = pair(4, p=10, q=8)
    assert shape_distance(X, Y, alpha=0.5, n_components=3) == pytest.approx(
        dense_reference(X, Y, 0.5, 3), rel=1e-8)
    assert ShapeMetric(n_components=50).fit(X, Y).n_components_ == 8


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_zero_for_rotation_scaling_translation(alpha):
    X, _ = pair(5, p=7)
    Q = ortho_group.rvs(7, random_state=3)
    assert shape_distance(X, 4.0 * X @ Q - 3.0, alpha=alpha) == pytest.approx(0.0, abs=1e-6)


def test_cca_invariant_to_invertible_maps_procrustes_not():
    X, Y = pair(6)
    M = np.random.default_rng(0).standard_normal((6, 6))
    assert shape_distance(X @ M, Y, alpha=0.0) == pytest.approx(
        shape_distance(X, Y, alpha=0.0), rel=1e-9)
    assert abs(shape_distance(X @ M, Y, alpha=1.0) - shape_distance(X, Y, alpha=1.0)) > 1e-3


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_symmetry(alpha):
    X, Y = pair(7, p=9, q=5)
    assert shape_distance(X, Y, alpha=alpha) == pytest.approx(
        shape_distance(Y, X, alpha=alpha), rel=1e-12)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_triangle_inequality(alpha):
    rng = np.random.default_rng(9)
    base = rng.standard_normal((40, 5))
    for _ in range(15):
        reps = [base @ rng.standard_normal((5, p)) + s * rng.standard_normal((40, p))
                for p, s in zip(rng.integers(4, 9, 3), rng.uniform(0.2, 2.0, 3), strict=True)]
        d = {(i, j): shape_distance(reps[i], reps[j], alpha=alpha, n_components=4)
             for i in range(3) for j in range(3) if i != j}
        for i, j, m in [(0, 1, 2), (0, 2, 1), (1, 2, 0)]:
            assert d[i, j] <= d[i, m] + d[m, j] + 1e-12


def test_heldout_score():
    X, Y = pair(10, n=120, p=8, q=5)
    tr, te = np.arange(0, 120, 2), np.arange(1, 120, 2)
    m = ShapeMetric(alpha=0.5).fit(X[tr], Y[tr])
    # on its own training bins the fitted alignment attains the optimum
    assert m.score(X[tr], Y[tr]) == pytest.approx(m.distance_, rel=1e-10)
    # the held-out angle is never below that of the best alignment of the same held-out maps
    A, B = m.transform(X[te], Y[te])
    best = np.arccos(sla.svdvals(A.T @ B).sum() / np.linalg.norm(A) / np.linalg.norm(B))
    assert m.score(X[te], Y[te]) >= best - 1e-12
    assert m.score(X[te], Y[te]) == pytest.approx(
        np.arccos(np.sum(A * B) / np.linalg.norm(A) / np.linalg.norm(B)), rel=1e-12)
    # a rotated copy is recovered on held-out bins
    Q = ortho_group.rvs(8, random_state=0)
    m1 = ShapeMetric(alpha=1.0).fit(X[tr], X[tr] @ Q)
    assert m1.score(X[te], X[te] @ Q) == pytest.approx(0.0, abs=1e-6)
    assert A.shape == B.shape == (60, 5)


def test_nan_bins_dropped():
    X, Y = pair(11, n=50)
    Yn = Y.copy()
    Yn[[1, 2], 3] = np.nan
    keep = np.setdiff1d(np.arange(50), [1, 2])
    assert shape_distance(X, Yn) == pytest.approx(shape_distance(X[keep], Y[keep]), rel=1e-12)


def test_errors():
    X, Y = pair(12)
    with pytest.raises(ConfigError, match="alpha"):
        shape_distance(X, Y, alpha=1.5)
    with pytest.raises(ConfigError, match="n_components"):
        shape_distance(X, Y, n_components=0)
    with pytest.raises(ConfigError, match="not fitted"):
        ShapeMetric().score(X, Y)
    m = ShapeMetric().fit(X, Y)
    with pytest.raises(DataError, match="X has 3 columns"):
        m.score(X[:, :3], Y)
    with pytest.raises(DataError, match="Y contains NaN"):
        ShapeMetric().fit(X, np.full_like(Y, np.nan))
