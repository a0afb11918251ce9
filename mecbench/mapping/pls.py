"""PLS regression (PLS2, all targets jointly) by the improved kernel algorithm.

Same predictions as :class:`sklearn.linear_model`'s ``PLSRegression(n_components, scale=False)``
with its power iterations run to convergence, but computed from ``XᵀX`` and ``XᵀY`` (Dayal &
MacGregor 1997, "Improved PLS algorithms", J. Chemometrics 11:73) when features are few, or from
the kernel ``XXᵀ`` (Lindgren, Geladi & Wold 1993; Rännar et al. 1994) when features outnumber
training bins. Only the small target cross-product ``YᵀXXᵀY`` is deflated, by rank-two updates,
so a component costs O(n² + n·t + t³) in the kernel form instead of NIPALS power iterations over
the full ``n × p`` matrix.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from mecbench.errors import ConfigError

from ._linalg import single_thread
from ._validation import check_positive_int
from .base import Design, MappingBase, fit_design
from .cache import FeatureCache

__all__ = ["PLS"]

_EPS = np.finfo(np.float64).eps


def _top_eigvec(S: np.ndarray) -> tuple[float, np.ndarray]:
    """Largest eigenvalue and its eigenvector of a small symmetric matrix."""
    m = S.shape[0]
    if m == 1:
        return float(S[0, 0]), np.ones(1)
    with single_thread():
        w, v = sla.eigh(S, subset_by_index=[m - 1, m - 1], check_finite=False)
    return float(w[0]), v[:, 0]


def _zero_constant_targets(Yc: np.ndarray) -> np.ndarray:
    """Zero centred target columns that are constant up to rounding (as scikit-learn does)."""
    flat = np.all(np.abs(Yc) < 10 * _EPS, axis=0)
    if flat.any():
        Yc = Yc.copy()
        Yc[:, flat] = 0.0
    return Yc


def pls_kernel(K: np.ndarray, Yc: np.ndarray, n_components: int) -> tuple[np.ndarray, int]:
    """Dual PLS2 coefficients ``D`` (n × t) from a centred kernel (predictions are ``Kₑ D``)
    and the number of components used.

    ``B = Xᵀ U (Tᵀ K U)⁻¹ Tᵀ Y`` with ``U`` the y-scores and ``T`` the x-scores of NIPALS
    (Rosipal & Trejo 2001, J. Mach. Learn. Res. 2:97), so ``D = U (Tᵀ K U)⁻¹ Tᵀ Y``.
    """
    n, t = Yc.shape
    Ka = K.copy()
    Ya = Yc.copy()
    Z = K @ Yc
    S = Yc.T @ Z
    S = 0.5 * (S + S.T)
    T = np.zeros((n, n_components))
    U = np.zeros((n, n_components))
    lam0 = None
    used = 0
    for a in range(n_components):
        lam, c = _top_eigvec(S)
        if lam0 is None:
            lam0 = lam
        if not lam > (1e3 * _EPS) ** 2 * max(lam0, 1e-300) or lam <= 0:
            break  # Y residual (seen through X) is exhausted
        u = Ya @ c
        tv = Ka @ u
        nt = np.linalg.norm(tv)
        if not nt > 0:
            break
        tv /= nt
        T[:, a] = tv
        U[:, a] = u
        used = a + 1
        # deflate with P = I - t tᵀ: S' = S - b gᵀ - g bᵀ + κ b bᵀ
        k = Ka @ tv
        kappa = float(tv @ k)
        b = Ya.T @ tv
        g = Ya.T @ k
        S -= np.outer(b, g)
        S -= np.outer(g, b)
        S += kappa * np.outer(b, b)
        S = 0.5 * (S + S.T)
        Ka -= np.outer(tv, k)
        Ka -= np.outer(k, tv)
        Ka += kappa * np.outer(tv, tv)
        Ya -= np.outer(tv, b)
    T = T[:, :used]
    U = U[:, :used]
    if used == 0:
        return np.zeros((n, t)), 0
    M = T.T @ (K @ U)
    return U @ np.linalg.solve(M, T.T @ Yc), used


def pls_primal(C: np.ndarray, XtY: np.ndarray, n_components: int) -> tuple[np.ndarray, int]:
    """PLS2 regression coefficients ``B`` (p × t) from ``C = XᵀX`` and ``XᵀY`` (both centred),
    Dayal–MacGregor improved kernel algorithm (only ``XᵀY`` is deflated), and the number of
    components used."""
    p, t = XtY.shape
    M = XtY.copy()
    R = np.zeros((p, n_components))
    P = np.zeros((p, n_components))
    Q = np.zeros((t, n_components))
    lam0 = None
    used = 0
    for a in range(n_components):
        if t <= p:
            lam, c = _top_eigvec(M.T @ M)
            w = M @ c
        else:
            lam, w = _top_eigvec(M @ M.T)
        if lam0 is None:
            lam0 = lam
        if not lam > (1e3 * _EPS) ** 2 * max(lam0, 1e-300) or lam <= 0:
            break
        w /= np.linalg.norm(w)
        r = w - R[:, :a] @ (P[:, :a].T @ w)
        Cr = C @ r
        tt = float(r @ Cr)
        if not tt > 0:
            break
        P[:, a] = Cr / tt
        Q[:, a] = (M.T @ r) / tt
        R[:, a] = r
        M -= tt * np.outer(P[:, a], Q[:, a])
        used = a + 1
    return R[:, :used] @ Q[:, :used].T, used


class PLS(MappingBase):
    """Partial least squares regression, fitted jointly on all targets (PLS2).

    Same model as ``sklearn.cross_decomposition.PLSRegression(n_components, scale=scale)``
    (NIPALS, mode A, regression deflation), computed by kernel PLS. With ``scale=False``
    (the reference's setting) ``X`` and ``Y`` are only centred.

    Parameters
    ----------
    n_components : int
        1 <= n_components <= min(n_features, n_train_samples - 1). Fewer are used if the
        residual of ``Y`` (or of ``X``) is exhausted earlier (``n_components_`` tells).
    scale : bool
        Divide ``X`` and ``Y`` by their standard deviations (ddof=1) first.
    """

    def __init__(self, n_components: int = 2, scale: bool = False):
        self.n_components = n_components
        self.scale = scale

    def _check(self, n: int, p: int) -> int:
        k = check_positive_int(self.n_components, "n_components")
        limit = min(p, n - 1)
        if k > limit:
            raise ConfigError(f"n_components={k} exceeds the rank limit min(n_features={p}, "
                              f"n_train_samples - 1={n - 1}) = {limit}")
        return k

    def fit(self, X, Y):
        """Fit on ``X`` (n_samples, n_features) and ``Y`` (n_samples, n_targets) or (n_samples,)."""
        X, Y, was_1d = fit_design(X, Y)
        n, p = X.shape
        k = self._check(n, p)
        xm = X.mean(axis=0)
        ym = Y.mean(axis=0)
        Xc = X - xm
        Yc = _zero_constant_targets(Y - ym)
        xs = np.ones(p)
        ys = np.ones(Y.shape[1])
        if self.scale:
            xs = X.std(axis=0, ddof=1)
            xs[xs == 0] = 1.0
            ys = Y.std(axis=0, ddof=1)
            ys[ys == 0] = 1.0
            Xc = Xc / xs
            Yc = Yc / ys
        if p > n:
            K = Xc @ Xc.T
            D, used = pls_kernel(0.5 * (K + K.T), Yc, k)
            B = Xc.T @ D
        else:
            C = Xc.T @ Xc
            B, used = pls_primal(0.5 * (C + C.T), Xc.T @ Yc, k)
        coef = (B * ys).T / xs
        self._set_linear(np.ascontiguousarray(coef), ym - coef @ xm, p, was_1d)
        self.n_components_ = used
        return self

    def _cross_predict(self, cache: FeatureCache, Y: np.ndarray, splits):
        if self.scale:
            return None
        d = Design(cache)
        out = []
        for tr, te in splits:
            k = self._check(len(tr), cache.n_features)
            Ytr = Y[tr]
            ym = Ytr.mean(axis=0)
            Yc = _zero_constant_targets(Ytr - ym)
            if d.kernel(len(tr)):
                D, _ = pls_kernel(d.kff(tr)[0], Yc, k)
                P = d.kef_dot(tr, te, D)
            else:
                Xf = d.pstats(tr)[0]
                P = d.xe_dot(tr, te, pls_primal(d.pcov(tr), Xf.T @ Yc, k)[0])
            P += ym
            out.append(P)
        return out
