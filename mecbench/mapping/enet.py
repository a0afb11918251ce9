"""Elastic net and lasso with per-target penalties, solved for all targets at once.

Objective per target (scikit-learn's, exactly)::

    1/(2n) ||y - X w - b||² + alpha * l1_ratio * ||w||_1 + alpha * (1 - l1_ratio) / 2 * ||w||²

with the intercept ``b`` fitted by centring ``X`` and ``y`` on the training rows.

Solver: ADMM vectorised across targets (one penalty and one ADMM parameter per target); its
ridge-like step reuses the split's cached eigen-decomposition (the same one Ridge/RidgeCV use).
Every few iterations each unfinished target is *polished*: with its current support and signs
fixed, the optimality conditions are a linear system, solved exactly (in batch for small
supports; through the cached eigen-decomposition for full supports). A target stops when its
Fenchel duality gap is below ``tol · ||y - ȳ||² / n``.
"""

from __future__ import annotations

import numpy as np

from mecbench.errors import ConfigError

from ._linalg import mm, single_thread
from ._validation import check_fraction, check_nonneg, check_positive_int, per_target
from .base import Design, MappingBase, fit_design
from .cache import FeatureCache

__all__ = [
    "ElasticNet", "Lasso", "elastic_net_cv", "enet_solve", "REFERENCE_ALPHAS",
    "REFERENCE_L1_RATIOS", "REFERENCE_ALPHAS_SHORT", "REFERENCE_L1_RATIOS_SHORT",
]

#: Nayebi et al. 2021 grids: 99 alphas geometrically spaced over [1e-9, 1e9] ...
REFERENCE_ALPHAS = tuple(float(a) for a in np.geomspace(1e-9, 1e9, 99))
#: ... and l1_ratio = [1e-16] + 99 values linearly spaced over [0.01, 1].
REFERENCE_L1_RATIOS = (1e-16,) + tuple(float(r) for r in np.linspace(0.01, 1.0, 99))
#: Short grids: 9 alphas over the same range; l1_ratio = [1e-16] + 9 values over [0.01, 1].
REFERENCE_ALPHAS_SHORT = tuple(float(a) for a in np.geomspace(1e-9, 1e9, 9))
REFERENCE_L1_RATIOS_SHORT = (1e-16,) + tuple(float(r) for r in np.linspace(0.01, 1.0, 9))

_CHECK_EVERY = 10


class _Problem:
    """Centred least-squares data of one fit, in Gram form (p <= n) or X form (p > n)."""

    def __init__(self, Xf: np.ndarray, Yc: np.ndarray, *, gram: np.ndarray | None,
                 eig: tuple[np.ndarray, np.ndarray] | None, kernel_eig: bool,
                 K: np.ndarray | None = None):
        self.Xf = Xf
        self.K = K  # centred kernel X Xᵀ (kernel form only)
        self.n, self.p = Xf.shape
        self.Yc = Yc
        self.G = gram  # XᵀX (unscaled) or None
        self.c = Xf.T @ Yc / self.n  # (p, t)
        # eig: (s, V) of XᵀX (primal) or of the centred kernel X Xᵀ (kernel_eig)
        self.eig = eig
        self.kernel_eig = kernel_eig
        self.L = float(eig[0].max(initial=0.0)) / self.n  # Lipschitz constant of the loss

    def XtR(self, W: np.ndarray, cols=slice(None)) -> np.ndarray:
        """``Xᵀ(y - X w) / n`` for the given target columns."""
        if self.G is not None:
            return self.c[:, cols] - mm(self.G, W) / self.n
        return mm(self.Xf.T, self.Yc[:, cols] - mm(self.Xf, W)) / self.n

    def solve_full(self, B: np.ndarray, lam2: np.ndarray) -> np.ndarray:
        """``(XᵀX/n + lam2 I)⁻¹ B`` column by column through the cached eigen-decomposition."""
        s, V = self.eig
        if not self.kernel_eig:  # V holds eigenvectors of XᵀX
            return V @ ((V.T @ B) / (s[:, None] / self.n + lam2[None, :]))
        # Woodbury: (XᵀX/n + l I)⁻¹ = (I - Xᵀ (n l I + X Xᵀ)⁻¹ X) / l
        XB = mm(self.Xf, B)
        Z = V @ ((V.T @ XB) / (s[:, None] + self.n * lam2[None, :]))
        return (B - mm(self.Xf.T, Z)) / lam2[None, :]

    def gram_block(self, S: list[np.ndarray], m: int) -> np.ndarray:
        """Padded batch of ``X_Sᵀ X_S / n`` for the supports ``S`` (identity padding)."""
        out = np.zeros((len(S), m, m))
        for i, idx in enumerate(S):
            k = idx.size
            if self.G is not None:
                out[i, :k, :k] = self.G[np.ix_(idx, idx)] / self.n
            else:
                Xs = self.Xf[:, idx]
                out[i, :k, :k] = Xs.T @ Xs / self.n
            out[i, range(k, m), range(k, m)] = 1.0
        return out


def _gap(prob: _Problem, W, XtR, lam1, lam2, cols) -> np.ndarray:
    """Fenchel duality gap per target, from the residual dual point ``θ = (y - Xw) / n`` and its
    rescaling into the lasso dual ball (the better bound of the two)."""
    n = prob.n
    y2 = np.sum(prob.Yc[:, cols] ** 2, axis=0)
    wc = n * np.sum(W * prob.c[:, cols], axis=0)  # wᵀXᵀy
    if prob.G is None:
        R2 = np.sum((prob.Yc[:, cols] - mm(prob.Xf, W)) ** 2, axis=0)
    else:
        R2 = np.maximum(y2 - 2 * wc + np.sum(W * (prob.G @ W), axis=0), 0.0)
    Rty = y2 - wc
    primal = R2 / (2 * n) + lam1 * np.sum(np.abs(W), axis=0) + 0.5 * lam2 * np.sum(W * W, 0)
    dual_norm = np.max(np.abs(XtR), axis=0, initial=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(dual_norm > lam1, lam1 / np.where(dual_norm > 0, dual_norm, 1.0), 1.0)
    d_ball = scale * Rty / n - scale**2 * R2 / (2 * n)
    if np.any(lam2 > 0):
        soft = np.maximum(np.abs(XtR) - lam1, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            pen = np.where(lam2 > 0, np.sum(soft * soft, axis=0) / (2 * lam2), np.inf)
        d_full = Rty / n - R2 / (2 * n) - pen
        dual = np.maximum(d_ball, d_full)
    else:
        dual = d_ball
    return primal - dual


def enet_solve(prob: _Problem, lam1: np.ndarray, lam2: np.ndarray, *, tol: float,
               max_iter: int) -> tuple[np.ndarray, np.ndarray]:
    """Minimise the elastic-net objective for every target; returns (W (p, t), gap (t,)).

    ADMM (Boyd et al. 2011, §6.4) splitting the smooth part from the l1 term: the w-update
    ``(XᵀX/n + (lam2 + ρ) I) w = Xᵀy/n + ρ (z - u)`` is solved exactly for every target and
    every ``ρ`` through the one cached eigen-decomposition of the split (kernel form with the
    Woodbury identity when features outnumber samples), so an iteration costs four matrix
    products shared by all targets. ``ρ`` is adapted per target by residual balancing. Every
    few iterations unfinished targets are polished (exact solve on a stable support) and
    checked against the duality gap; finished targets leave the batch.
    """
    p, t = prob.p, prob.Yc.shape[1]
    W = np.zeros((p, t))
    gaps = np.full(t, np.inf)
    scale = np.sum(prob.Yc**2, axis=0) / prob.n
    thresh = tol * np.maximum(scale, np.finfo(float).tiny)
    # exact zero solutions: max |xⱼᵀy| / n <= lam1
    zero = (np.max(np.abs(prob.c), axis=0, initial=0.0) <= lam1) | (scale == 0)
    gaps[zero] = 0.0
    act = np.flatnonzero(~zero)
    if act.size == 0:
        return W, gaps
    # initial ADMM parameter: 0.3·sqrt(L·alpha), between the penalty and the largest curvature
    # of the loss (tuned on rate-map problems; residual balancing adapts it afterwards)
    rho = np.maximum(0.3 * np.sqrt(prob.L * (lam1[act] + lam2[act])),
                     1e-6 * max(prob.L, 1e-300))
    Z = np.zeros((p, act.size))
    U = np.zeros((p, act.size))
    kernel = prob.kernel_eig and prob.K is not None
    if kernel:  # X z, X u and X c tracked in sample space: one p×n product per iteration
        s_, V = prob.eig
        Xc_ = mm(prob.Xf, prob.c[:, act])
        XZ = np.zeros((prob.n, act.size))
        XU = np.zeros((prob.n, act.size))
    last = None
    it = 0
    while act.size and it < max_iter:
        l1a, l2a = lam1[act], lam2[act]
        lam = l2a + rho
        B = Z - U
        B *= rho
        B += prob.c[:, act]
        if kernel:
            XB = Xc_ + rho * (XZ - XU)
            Q = V @ ((V.T @ XB) / (s_[:, None] + prob.n * lam[None, :]))
            Wk = B
            Wk -= mm(prob.Xf.T, Q)
            Wk /= lam
            XW = (XB - prob.K @ Q) / lam
        else:
            Wk = prob.solve_full(B, lam)
        # over-relaxation: Wk <- a Wk + (1 - a) Z
        Wk *= _RELAX
        Wk += (1 - _RELAX) * Z
        Zo = Z
        Z = Wk + U
        thr = l1a / rho
        mag = np.abs(Z)
        mag -= thr
        np.maximum(mag, 0.0, out=mag)
        np.copysign(mag, Z, out=Z)
        U += Wk
        U -= Z
        if kernel:
            XW = _RELAX * XW + (1 - _RELAX) * XZ
            XZ = mm(prob.Xf, Z)
            XU += XW - XZ
        it += 1
        if it % _CHECK_EVERY == 0:  # residual balancing
            rp = np.linalg.norm(Wk - Z, axis=0)
            rd = rho * np.linalg.norm(Z - Zo, axis=0)
            up = rp > 10 * rd
            down = rd > 10 * rp
            factor = np.where(up, 2.0, np.where(down, 0.5, 1.0))
            rho = rho * factor
            U = U / factor
            if kernel:
                XU = XU / factor
        if it % (2 * _CHECK_EVERY) and it < max_iter:
            continue
        XtR = prob.XtR(Z, act)
        g = _gap(prob, Z, XtR, l1a, l2a, act)
        support = Z != 0
        if last is not None:
            stable = np.all(support == last, axis=0) & (g > thresh[act])
            Wp, gp = _polish(prob, Z, support, stable, l1a, l2a, act)
            better = gp < g
            if better.any():
                Z[:, better] = Wp[:, better]
                g[better] = gp[better]
                if kernel:
                    XZ[:, better] = mm(prob.Xf, Wp[:, better])
        last = support
        W[:, act] = Z
        gaps[act] = g
        keep = g > thresh[act]
        if not keep.all():
            act, Z, U, rho, last = act[keep], Z[:, keep], U[:, keep], rho[keep], last[:, keep]
            if kernel:
                Xc_, XZ, XU = Xc_[:, keep], XZ[:, keep], XU[:, keep]
        if kernel and act.size:  # re-synchronise the tracked products (rounding drift)
            XU = mm(prob.Xf, U)
    return W, gaps


#: ADMM over-relaxation parameter (Boyd et al. 2011, §3.4.3: 1.5-1.8 usually speeds it up).
_RELAX = 1.6


def _polish(prob, Wa, support, stable, lam1, lam2, cols):
    """Exact solution on the current support/signs where that is cheap; (W, gap)."""
    p = prob.p
    Wp = Wa.copy()
    gp = np.full(Wa.shape[1], np.inf)
    sizes = support.sum(axis=0)
    full = stable & (sizes == p) & (lam2 > 0)
    small = stable & (sizes > 0) & (sizes <= min(prob.n, 256)) & ~full
    if full.any():
        idx = np.flatnonzero(full)
        B = prob.c[:, cols[idx]] - lam1[idx] * np.sign(Wa[:, idx])
        Wp[:, idx] = prob.solve_full(B, lam2[idx])
    if small.any():
        idx = np.flatnonzero(small)
        S = [np.flatnonzero(support[:, j]) for j in idx]
        m = max(s.size for s in S)
        A = prob.gram_block(S, m)
        rhs = np.zeros((idx.size, m))
        for i, (j, s) in enumerate(zip(idx, S, strict=True)):
            A[i, range(s.size), range(s.size)] += lam2[j]
            rhs[i, : s.size] = prob.c[s, cols[j]] - lam1[j] * np.sign(Wa[s, j])
        try:
            sol = np.linalg.solve(A, rhs[..., None])[..., 0]
        except np.linalg.LinAlgError:
            sol = None
        if sol is not None:
            for i, (j, s) in enumerate(zip(idx, S, strict=True)):
                w = np.zeros(p)
                w[s] = sol[i, : s.size]
                Wp[:, j] = w
    tried = np.flatnonzero(full | small)
    if tried.size:
        sub = Wp[:, tried]
        ok = np.all((np.sign(sub) == np.sign(Wa[:, tried])), axis=0)
        tried = tried[ok]
    if tried.size:
        sub = Wp[:, tried]
        XtR = prob.XtR(sub, cols[tried])
        gp[tried] = _gap(prob, sub, XtR, lam1[tried], lam2[tried], cols[tried])
        # KKT: on the zero coefficients |xⱼᵀr/n| <= lam1 (on the support it holds by
        # construction); then the polished point is optimal up to rounding.
        viol = np.where(sub == 0, np.abs(XtR) - lam1[tried], -np.inf)
        slack = 1e-9 * (lam1[tried] + np.max(np.abs(prob.c[:, cols[tried]]), axis=0))
        kkt = np.max(viol, axis=0, initial=-np.inf) <= slack
        gp[tried[kkt]] = 0.0
    return Wp, gp


class ElasticNet(MappingBase):
    """Elastic net with one ``alpha`` / ``l1_ratio`` per target (scikit-learn's objective).

    Parameters
    ----------
    alpha : float or array (n_targets,)
        Overall penalty, >= 0.
    l1_ratio : float or array (n_targets,)
        Mix in [0, 1]: 1 is the lasso, 0 ridge (with sklearn's ``alpha / 2`` scaling).
    fit_intercept : bool
        Centre ``X`` and ``Y`` on the training rows.
    max_iter : int
        Maximum proximal-gradient iterations.
    tol : float
        Stop a target when its duality gap is below ``tol · ||y - ȳ||² / n`` (scikit-learn's
        criterion; the default is stricter than scikit-learn's 1e-4 so predictions match a
        converged solver to about 1e-3).

    Attributes
    ----------
    coef_, intercept_ : as scikit-learn; ``dual_gap_`` (n_targets,): final duality gaps.
    """

    def __init__(self, alpha=1.0, l1_ratio=0.5, fit_intercept: bool = True,
                 max_iter: int = 20000, tol: float = 1e-7):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol

    def _penalties(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        alpha = per_target(check_nonneg(self.alpha, "alpha"), t, "alpha")
        l1 = per_target(check_fraction(self._l1(), "l1_ratio"), t, "l1_ratio")
        return alpha * l1, alpha * (1.0 - l1)

    def _l1(self):
        return self.l1_ratio

    def _opts(self) -> dict:
        tol = float(check_nonneg(self.tol, "tol").reshape(-1)[0])
        return {"tol": tol, "max_iter": check_positive_int(self.max_iter, "max_iter")}

    def fit(self, X, Y):
        """Fit on ``X`` (n_samples, n_features) and ``Y`` (n_samples, n_targets) or (n_samples,)."""
        X, Y, was_1d = fit_design(X, Y)
        lam1, lam2 = self._penalties(Y.shape[1])
        opts = self._opts()
        n, p = X.shape
        xm = X.mean(axis=0) if self.fit_intercept else np.zeros(p)
        ym = Y.mean(axis=0) if self.fit_intercept else np.zeros(Y.shape[1])
        Xc = X - xm
        with single_thread():
            prob = _make_problem(Xc, Y - ym)
            W, gaps = enet_solve(prob, lam1, lam2, **opts)
        coef = np.ascontiguousarray(W.T)
        self._set_linear(coef, ym - coef @ xm, p, was_1d)
        self.dual_gap_ = gaps
        return self

    def _cross_predict(self, cache: FeatureCache, Y: np.ndarray, splits):
        if not self.fit_intercept:
            return None
        lam1, lam2 = self._penalties(Y.shape[1])
        opts = self._opts()
        d = Design(cache)
        out = []
        for tr, te in splits:
            Ytr = Y[tr]
            ym = Ytr.mean(axis=0)
            prob = _design_problem(d, tr, Ytr - ym)
            W, _ = enet_solve(prob, lam1, lam2, **opts)
            P = d.xe(tr, te) @ W
            P += ym
            out.append(P)
        return out


class Lasso(ElasticNet):
    """Lasso: :class:`ElasticNet` with ``l1_ratio = 1`` (per-target ``alpha``)."""

    def __init__(self, alpha=1.0, fit_intercept: bool = True, max_iter: int = 20000,
                 tol: float = 1e-7):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol

    def _l1(self):
        return 1.0


def _make_problem(Xc: np.ndarray, Yc: np.ndarray) -> _Problem:
    import scipy.linalg as sla

    from ._linalg import shifted_eigh

    n, p = Xc.shape
    if p <= n:
        C = Xc.T @ Xc
        C = 0.5 * (C + C.T)
        with single_thread():
            s, V = sla.eigh(C, driver="evd", check_finite=False)
        return _Problem(Xc, Yc, gram=C, eig=(np.maximum(s, 0), V), kernel_eig=False)
    K = Xc @ Xc.T
    K = 0.5 * (K + K.T)
    return _Problem(Xc, Yc, gram=None, eig=shifted_eigh(K), kernel_eig=True, K=K)


def _design_problem(d: Design, tr, Yc) -> _Problem:
    Xf = d.pstats(tr)[0]
    if d.kernel(len(tr)):
        return _Problem(Xf, Yc, gram=None, eig=d.keig(tr), kernel_eig=True, K=d.kff(tr)[0])
    s, W, _, _ = d.peig(tr)
    return _Problem(Xf, Yc, gram=d.pcov(tr), eig=(s, W), kernel_eig=False)


def elastic_net_cv(X, Y, alphas=REFERENCE_ALPHAS, l1_ratios=REFERENCE_L1_RATIOS, cv: int = 2,
                   seed: int | np.random.Generator | None = 0, *, tol: float = 1e-4,
                   max_iter: int = 5000) -> dict[str, np.ndarray]:
    """Choose ``alpha`` and ``l1_ratio`` per target by ``cv``-fold CV on the given rows only.

    Rows are shuffled with ``seed`` and cut into ``cv`` folds; for every (alpha, l1_ratio) the
    elastic net is fitted on the other folds (all targets and all alphas of one ``l1_ratio`` in
    one vectorised solve) and scored by summed squared error on the held-out fold. Ties go to
    the first grid entry (l1_ratio-major). Pass only training rows (e.g. the 20 % training
    bins of a split, as suggested by Nayebi et al. 2021).

    Returns
    -------
    dict with ``alpha`` and ``l1_ratio``, arrays (n_targets,), and ``cv_error``
    (n_l1_ratios, n_alphas, n_targets).
    """
    X, Y, _ = fit_design(X, Y)
    cv = check_positive_int(cv, "cv", minimum=2)
    alphas = check_nonneg(alphas, "alphas").reshape(-1)
    l1s = check_fraction(l1_ratios, "l1_ratios").reshape(-1)
    n, t = Y.shape
    if n < 2 * cv:
        raise ConfigError(f"cv={cv} needs >= {2 * cv} rows; got {n}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    folds = np.array_split(rng.permutation(n), cv)
    na = alphas.size
    err = np.zeros((l1s.size, na, t))
    a_col = np.repeat(alphas, t)  # column k = (alpha k // t, target k % t)
    for val in folds:
        fit = np.setdiff1d(np.arange(n), val)
        xm = X[fit].mean(axis=0)
        ym = Y[fit].mean(axis=0)
        Yc = np.tile(Y[fit] - ym, (1, na))
        prob = _make_problem(X[fit] - xm, Yc)
        Xv = X[val] - xm
        for i, l1 in enumerate(l1s):
            with single_thread():
                W, _ = enet_solve(prob, a_col * l1, a_col * (1 - l1), tol=tol,
                                  max_iter=max_iter)
            P = Xv @ W + np.tile(ym, na)
            e = np.sum((np.tile(Y[val], (1, na)) - P) ** 2, axis=0)
            err[i] += e.reshape(na, t)
    flat = err.reshape(-1, t)
    best = np.argmin(flat, axis=0)
    return {"alpha": alphas[best % na], "l1_ratio": l1s[best // na], "cv_error": err}
