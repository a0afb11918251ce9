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

import warnings

import numpy as np

from mecbench.errors import ConfigError, ConvergenceWarning

from ._linalg import mm, single_thread
from ._validation import check_fraction, check_nonneg, check_positive_int, per_target
from .base import Design, MappingBase, fit_design
from .cache import FeatureCache

__all__ = [
    "ElasticNet", "Lasso", "elastic_net_cv", "enet_solve", "REFERENCE_ALPHAS",
    "REFERENCE_L1_RATIOS", "REFERENCE_ALPHAS_SHORT", "REFERENCE_L1_RATIOS_SHORT",
    "CV_SELECT_RULES", "REFINE_TOLS", "cv_error_band", "select_stable", "validation_curvature",
]

#: Nayebi et al. 2021 grids: 99 alphas geometrically spaced over [1e-9, 1e9] ...
REFERENCE_ALPHAS = tuple(float(a) for a in np.geomspace(1e-9, 1e9, 99))
#: ... and l1_ratio = [1e-16] + 99 values linearly spaced over [0.01, 1].
REFERENCE_L1_RATIOS = (1e-16,) + tuple(float(r) for r in np.linspace(0.01, 1.0, 99))
#: Short grids: 9 alphas over the same range; l1_ratio = [1e-16] + 9 values over [0.01, 1].
REFERENCE_ALPHAS_SHORT = tuple(float(a) for a in np.geomspace(1e-9, 1e9, 9))
REFERENCE_L1_RATIOS_SHORT = (1e-16,) + tuple(float(r) for r in np.linspace(0.01, 1.0, 9))

_CHECK_EVERY = 10
_GAP_EVERY = 20
#: In kernel form the two p × n products of an ADMM iteration run in float32 (twice as fast)
#: while every unfinished target's duality gap is above _LOWP_GAP · ||y - ȳ||² / n; below it
#: (reachable only with tol < _LOWP_GAP) they switch to float64 for good. The errors of the
#: float32 products (~1e-7 relative) perturb the ADMM steps far below the gaps they are used
#: at; duality gaps, polishing and the Newton refinement are always computed in float64, so
#: the stopping rule certifies the result either way.
_LOWP_GAP = 1e-6
#: Unfinished targets are considered for the Newton (SSNAL) refinement after max(_NEWTON_AT,
#: ADMM iterations costing _NEWTON_WORK × one dense solve of the Newton system) and go to it
#: when ADMM is too slow for them (:func:`_newton_worthy`); a target's next attempt comes after
#: _NEWTON_AGAIN times as many iterations (at the latest halfway to max_iter).
_NEWTON_AT = 80
_NEWTON_WORK = 1.0
_NEWTON_AGAIN = 10


class _Problem:
    """Centred least-squares data of one fit, in Gram form (p <= n) or X form (p > n).

    In X form the rows may be given in the kernel's eigenbasis (``rotation`` = V, the
    eigenvectors of the centred kernel: ``Xf`` holds ``VᵀX``, ``Yc`` holds ``VᵀY`` and ``eig``
    is ``(s, None)``, the kernel being diagonal there). An orthogonal change of the rows changes
    neither XᵀX, Xᵀy nor any residual norm, so solutions and duality gaps are those of the
    original rows, and the Woodbury steps skip their two n × n products. Targets given to
    such a problem must be rotated the same way (``rotation.T @ Y``).
    """

    def __init__(self, Xf: np.ndarray, Yc: np.ndarray, *, gram: np.ndarray | None,
                 eig: tuple[np.ndarray, np.ndarray | None] | None, kernel_eig: bool,
                 K: np.ndarray | None = None, rotation: np.ndarray | None = None):
        self.Xf = Xf
        self.rotation = rotation
        self.K = K  # centred kernel X Xᵀ (kernel form only)
        self.n, self.p = Xf.shape
        self.Yc = Yc
        self.G = gram  # XᵀX (unscaled) or None
        self.c = Xf.T @ Yc / self.n  # (p, t)
        # eig: (s, V) of XᵀX (primal) or of the centred kernel X Xᵀ (kernel_eig)
        self.eig = eig
        self.kernel_eig = kernel_eig
        self.L = float(eig[0].max(initial=0.0)) / self.n  # Lipschitz constant of the loss
        self._gram = None
        self._x32 = None

    def XtR(self, W: np.ndarray, cols=slice(None), XW: np.ndarray | None = None
            ) -> np.ndarray:
        """``Xᵀ(y - X w) / n`` for the given target columns (``XW``: ``X w`` if known)."""
        if self.G is not None:
            return self.c[:, cols] - mm(self.G, W) / self.n
        if XW is None:
            XW = mm(self.Xf, W)
        return mm(self.Xf.T, self.Yc[:, cols] - XW) / self.n

    def solve_full(self, B: np.ndarray, lam2: np.ndarray) -> np.ndarray:
        """``(XᵀX/n + lam2 I)⁻¹ B`` column by column through the cached eigen-decomposition."""
        s, V = self.eig
        if not self.kernel_eig:  # V holds eigenvectors of XᵀX
            return V @ ((V.T @ B) / (s[:, None] / self.n + lam2[None, :]))
        # Woodbury: (XᵀX/n + l I)⁻¹ = (I - Xᵀ (n l I + X Xᵀ)⁻¹ X) / l
        XB = mm(self.Xf, B)
        Z = _kernel_solve(s, V, XB, self.n * lam2)
        return (B - mm(self.Xf.T, Z)) / lam2[None, :]

    @property
    def X32(self) -> np.ndarray:
        """``Xf`` in float32 (made once), for the low-precision ADMM products."""
        if self._x32 is None:
            self._x32 = self.Xf.astype(np.float32)
        return self._x32

    @property
    def kernel_matrix(self) -> np.ndarray:
        """``X Xᵀ`` (unscaled, centred rows)."""
        if self.K is None:
            K = mm(self.Xf, self.Xf.T)
            self.K = 0.5 * (K + K.T)
        return self.K

    @property
    def gram(self) -> np.ndarray | None:
        """``XᵀX`` (unscaled): the primal Gram, or computed once from ``X`` when features
        outnumber samples but are few enough (``p <= 4096``); None beyond that."""
        if self.G is None and self._gram is None and self.p <= _GRAM_MAX_P:
            # a general product on a copy: with few rows numpy's symmetric rank-k update
            # (chosen when both operands are one buffer) was 2-3x slower here; the batched
            # solves that use this matrix do not need it bitwise symmetric
            self._gram = mm(self.Xf.T, np.array(self.Xf, order="C"))
        return self.G if self.G is not None else self._gram

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


def _gap(prob: _Problem, W, XtR, lam1, lam2, cols, XW: np.ndarray | None = None
         ) -> np.ndarray:
    """Fenchel duality gap per target, from the residual dual point ``θ = (y - Xw) / n`` and its
    rescaling into the lasso dual ball (the better bound of the two). ``XW``: ``X w`` if known."""
    n = prob.n
    y2 = np.sum(prob.Yc[:, cols] ** 2, axis=0)
    wc = n * np.sum(W * prob.c[:, cols], axis=0)  # wᵀXᵀy
    if prob.G is None:
        if XW is None:
            XW = mm(prob.Xf, W)
        R2 = np.sum((prob.Yc[:, cols] - XW) ** 2, axis=0)
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
               max_iter: int, W0: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Minimise the elastic-net objective for every target; returns (W (p, t), gap (t,)).

    ADMM (Boyd et al. 2011, §6.4) splitting the smooth part from the l1 term: the w-update
    ``(XᵀX/n + (lam2 + ρ) I) w = Xᵀy/n + ρ (z - u)`` is solved exactly for every target and
    every ``ρ`` through the one cached eigen-decomposition of the split (kernel form with the
    Woodbury identity when features outnumber samples), so an iteration costs two p × n matrix
    products shared by all targets (kernel form; in float32 while the gaps are large, see
    ``_LOWP_GAP``). ``ρ`` is adapted per target by residual balancing. Every
    few iterations unfinished targets are polished (exact solve on a stable support) and
    checked against the duality gap; finished targets leave the batch. Targets whose gap ADMM
    closes too slowly are refined by :func:`_ssnal` when that is cheaper than more ADMM
    (:func:`_newton_worthy`), and targets still unfinished at ``max_iter`` get a last Newton
    attempt.

    ``W0`` (p, t), optional, is a warm start (e.g. the solutions for a neighbouring penalty):
    ADMM starts at it with the dual variable its optimality conditions imply, and targets for
    which it already meets the tolerance are returned as they are. The stopping rule does not
    depend on the start.

    The steps: :func:`_exact_zeros`, :func:`_admm_start` (state :class:`_Admm`), then per
    iteration :func:`_admm_iteration`; every ``_GAP_EVERY`` iterations (and at ``max_iter``)
    the check: :func:`_certify`, :func:`_polish_step`, :func:`_newton_step`, :func:`_record`;
    after ``max_iter``, :func:`_final_newton`.
    """
    W = np.zeros((prob.p, prob.Yc.shape[1]))
    gaps = np.full(W.shape[1], np.inf)
    scale = _gap_scale(prob.Yc)
    thresh = tol * scale
    zero = _exact_zeros(prob, lam1, scale)
    gaps[zero] = 0.0
    act = np.flatnonzero(~zero)
    if act.size == 0:
        return W, gaps
    st = _admm_start(prob, act, lam1, lam2, thresh, W, gaps, W0)
    if st is None:
        return W, gaps
    while st.act.size and st.it < max_iter:
        _admm_iteration(prob, st, lam1, lam2)
        if st.it % _GAP_EVERY and st.it < max_iter:
            continue
        l1a, l2a = lam1[st.act], lam2[st.act]
        g = _certify(prob, st, l1a, l2a, scale)
        _polish_step(prob, st, g, l1a, l2a, thresh)
        _newton_step(prob, st, g, l1a, l2a, thresh, max_iter)
        _record(prob, st, g, W, gaps, thresh)
    if st.act.size and prob.gram is not None:
        _final_newton(prob, W, gaps, st.act, lam1, lam2, thresh)
    return W, gaps


def _exact_zeros(prob: _Problem, lam1: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Targets whose solution is exactly zero: max |xⱼᵀy| / n <= lam1, or a constant target."""
    return ((np.max(np.abs(prob.c), axis=0, initial=0.0) <= lam1)
            | (scale <= np.finfo(float).tiny))


class _Admm:
    """ADMM state of the unfinished targets (columns ``act``) of one :func:`enet_solve` call.

    ``Z`` is the sparse iterate and ``H = Ŵ + U`` the point ``Z`` is the soft-threshold of
    (``Ŵ`` the relaxed w-update, ``U`` the scaled dual, so ``U = H - Z`` is never stored). With
    (Z, H) an iteration is one fused update of H, six passes over the p × t arrays instead of
    17 with (W, Z, U): on wide layers those passes cost as much as the matrix products. In
    kernel form ``X c``, ``X z`` and ``X h`` are tracked in sample space (``XC``, ``XZ``,
    ``XH``; ``c = Xᵀ Yn``): one p × n product besides ``Xᵀ(·)`` per iteration.
    """

    def __init__(self, prob: _Problem, act: np.ndarray, Z: np.ndarray, H: np.ndarray,
                 rho: np.ndarray):
        self.act, self.Z, self.H, self.rho = act, Z, H, rho
        self.C = prob.c[:, act]
        self.kernel = prob.kernel_eig and prob.K is not None
        self.XC = self.Yn = self.XZ = self.XH = None
        if self.kernel:
            self.XC = mm(prob.Xf, self.C)
            self.Yn = prob.Yc[:, act] / prob.n
            self.XZ = mm(prob.Xf, Z)
            self.XH = mm(prob.Xf, H)
        self.last = None  # supports at the previous check
        # per column, gaps at two earlier checks and their iterations: the rate estimate uses
        # the trailing half of a column's history (ADMM slows down, so early progress
        # over-promises)
        self.g_ref = self.it_ref = self.g_mid = self.it_mid = None
        self.it = 0
        # Newton considered once ADMM has had about as much work as one Newton system costs
        n, p = prob.n, prob.p
        m_ = min(n, p)
        admm_cost = 4.0 * n * p if self.kernel else 2.0 * p * p
        self.newton_at = np.full(act.size, max(_NEWTON_AT, _NEWTON_WORK * m_**3 / admm_cost))
        self.T = np.empty_like(Z)  # scratch of the w-update
        self.lowp = self.kernel and _lowp_safe(prob)


def _admm_start(prob: _Problem, act: np.ndarray, lam1: np.ndarray, lam2: np.ndarray,
                thresh: np.ndarray, W: np.ndarray, gaps: np.ndarray, W0: np.ndarray | None
                ) -> _Admm | None:
    """Initial ADMM state of targets ``act``, cold or from ``W0``; None if ``W0`` solves all."""
    # initial ADMM parameter: 0.3·sqrt(L·alpha), between the penalty and the largest curvature
    # of the loss (tuned on rate-map problems; residual balancing adapts it afterwards)
    rho = np.maximum(0.3 * np.sqrt(prob.L * (lam1[act] + lam2[act])),
                     1e-6 * max(prob.L, 1e-300))
    if W0 is None:
        return _Admm(prob, act, np.zeros((prob.p, act.size)), np.zeros((prob.p, act.size)),
                     rho)
    # warm start: targets W0 already solves are recorded as they are and leave the batch
    Z = np.array(W0[:, act], dtype=np.float64)
    XtR0 = prob.XtR(Z, act)
    g0 = _gap(prob, Z, XtR0, lam1[act], lam2[act], act)
    W[:, act] = Z
    gaps[act] = g0
    keep = ~(g0 <= thresh[act])
    act, Z, XtR0, rho = act[keep], Z[:, keep], XtR0[:, keep], rho[keep]
    if act.size == 0:
        return None
    # scaled dual consistent with Z: rho·u ∈ ∂(l1 term) at Z
    H = Z + (XtR0 - lam2[act] * Z) / rho
    return _Admm(prob, act, Z, H, rho)


def _admm_iteration(prob: _Problem, st: _Admm, lam1: np.ndarray, lam2: np.ndarray) -> None:
    """One over-relaxed ADMM iteration of the batch (ρ rebalanced every ``_CHECK_EVERY``)."""
    lam = lam2[st.act] + st.rho
    r = st.rho / lam
    balance = (st.it + 1) % _CHECK_EVERY == 0
    old = (st.Z.copy(), st.H - st.Z) if balance else None
    if st.kernel:
        _w_update_kernel(prob, st, lam, r)
    else:
        _w_update_primal(prob, st, lam)
    thr = lam1[st.act] / st.rho
    np.clip(st.H, -thr, thr, out=st.Z)  # soft threshold: Z = H - clip(H, -thr, thr)
    np.subtract(st.H, st.Z, out=st.Z)
    if st.kernel and st.lowp:
        with np.errstate(over="ignore", invalid="ignore"):  # see _certify
            st.XZ = mm(prob.X32, st.Z.astype(np.float32)).astype(np.float64)
    elif st.kernel:
        st.XZ = mm(prob.Xf, st.Z)
    st.it += 1
    if old is not None:
        _balance_rho(st, *old)


def _w_update_kernel(prob: _Problem, st: _Admm, lam: np.ndarray, r: np.ndarray) -> None:
    """The relaxed w-update folded into ``H`` in kernel form (Woodbury), tracking ``X h``."""
    # w = (XᵀX/n + lam I)⁻¹ B with B = c + rho (Z - U) = c + rho (2Z - H), then
    # H ← Ŵ + U = H + a (w - Z) (a = _RELAX), expanded so that B and w are never formed:
    # w = (B - XᵀQ) / lam with Q = (XXᵀ + n lam I)⁻¹ X B, so X w = n Q and, with c = Xᵀ Yn,
    # H ← (1 - a r) H + a (2r - 1) Z + Xᵀ[(Yn - Q) a / lam]   (r = rho / lam)
    s_, V = prob.eig
    XB = st.XC + st.rho * (2 * st.XZ - st.XH)
    Q = _kernel_solve(s_, V, XB, prob.n * lam)
    M = st.Yn - Q
    M *= _RELAX / lam
    st.H *= 1 - _RELAX * r
    if st.lowp:
        with np.errstate(over="ignore", invalid="ignore"):  # see _certify
            st.H += mm(prob.X32.T, M.astype(np.float32))
    else:
        st.H += mm(prob.Xf.T, M)
    np.multiply(st.Z, _RELAX * (2 * r - 1), out=st.T)
    st.H += st.T
    Q *= prob.n
    Q -= st.XZ
    Q *= _RELAX
    st.XH += Q


def _w_update_primal(prob: _Problem, st: _Admm, lam: np.ndarray) -> None:
    """The relaxed w-update folded into ``H`` in primal form: H += a (w - Z) (a = _RELAX)."""
    # w = (XᵀX/n + lam I)⁻¹ B with B = c + rho (2Z - H), through the eigen-decomposition
    T = st.T
    np.multiply(st.Z, 2.0, out=T)
    T -= st.H
    T *= st.rho
    T += st.C
    Wk = prob.solve_full(T, lam)
    Wk -= st.Z
    Wk *= _RELAX
    st.H += Wk


def _balance_rho(st: _Admm, Z_old: np.ndarray, U_old: np.ndarray) -> None:
    """Residual balancing of ρ per target (Boyd et al. 2011, §3.4.1); rescales the dual."""
    rp = np.linalg.norm((st.H - st.Z) - U_old, axis=0)  # = ||Ŵ - Z||
    rd = st.rho * np.linalg.norm(st.Z - Z_old, axis=0)
    factor = np.where(rp > 10 * rd, 2.0, np.where(rd > 10 * rp, 0.5, 1.0))
    if not np.any(factor != 1.0):
        return
    st.rho = st.rho * factor
    st.H -= st.Z  # U ← U / factor
    st.H /= factor
    st.H += st.Z
    if st.kernel:
        st.XH = st.XZ + (st.XH - st.XZ) / factor


def _certify(prob: _Problem, st: _Admm, l1a: np.ndarray, l2a: np.ndarray,
             scale: np.ndarray) -> np.ndarray:
    """Duality gaps of the batch, in float64 (ends the float32 products when done with them)."""
    if st.kernel and st.lowp:  # the gap is computed in float64; X z is refreshed with it
        with np.errstate(over="ignore", invalid="ignore"):
            st.XZ = mm(prob.Xf, st.Z)
    XZ_now = st.XZ if st.kernel else None
    XtR = prob.XtR(st.Z, st.act, XZ_now)
    g = _gap(prob, st.Z, XtR, l1a, l2a, st.act, XZ_now)
    if st.lowp and not np.all(np.isfinite(g)):
        # float32 overflow (extreme feature or target scales): restart those targets
        # from zero in float64
        bad = ~np.isfinite(g)
        st.Z[:, bad] = 0.0
        st.H[:, bad] = 0.0
        st.XZ[:, bad] = 0.0
        g[bad] = np.inf
        st.lowp = False
    if st.lowp and np.any(g <= _LOWP_GAP * scale[st.act]):
        st.lowp = False
    return g


def _polish_step(prob: _Problem, st: _Admm, g: np.ndarray, l1a: np.ndarray, l2a: np.ndarray,
                 thresh: np.ndarray) -> None:
    """Polish targets whose support is stable since the last check; keeps better points."""
    support = st.Z != 0
    last, st.last = st.last, support
    if last is None:
        return
    stable = np.all(support == last, axis=0) & (g > thresh[st.act])
    Wp, gp = _polish(prob, st.Z, support, stable, l1a, l2a, st.act)
    better = gp < g
    if not better.any():
        return
    # a polished point replaces Z; the dual U = H - Z is kept
    st.H[:, better] += Wp[:, better] - st.Z[:, better]
    st.Z[:, better] = Wp[:, better]
    g[better] = gp[better]
    if st.kernel:  # (X h is re-synchronised in _record)
        st.XZ[:, better] = mm(prob.Xf, Wp[:, better])


def _newton_step(prob: _Problem, st: _Admm, g: np.ndarray, l1a: np.ndarray, l2a: np.ndarray,
                 thresh: np.ndarray, max_iter: int) -> None:
    """Refine targets ADMM closes too slowly by :func:`_ssnal`; keeps the points it improves."""
    act, it = st.act, st.it
    due = it >= st.newton_at
    if not due.any() or st.g_ref is None:
        return
    slow = _newton_worthy(prob, g, st.g_ref, it - st.it_ref, thresh[act], it, max_iter,
                          st.last.sum(axis=0), due)
    if not slow.any():
        return
    st.newton_at[slow] = min(it * _NEWTON_AGAIN, (it + max_iter) // 2)
    sel = np.flatnonzero(slow)
    Wn, gn = _ssnal(prob, st.Z[:, sel], l1a[sel], l2a[sel], act[sel], thresh[act[sel]])
    win = gn < g[sel]
    sel, Wn = sel[win], Wn[:, win]
    if not sel.size:
        return
    st.Z[:, sel] = Wn
    g[sel] = gn[win]
    st.last[:, sel] = Wn != 0
    # scaled ADMM dual consistent with the new point: rho·u = Xᵀr/n - lam2·z
    XtRn = prob.XtR(Wn, act[sel])
    st.H[:, sel] = Wn + (XtRn - l2a[sel] * Wn) / st.rho[sel]
    st.g_ref[sel], st.it_ref[sel], st.g_mid[sel], st.it_mid[sel] = g[sel], it, g[sel], it
    if st.kernel:
        st.XZ[:, sel] = mm(prob.Xf, Wn)


def _record(prob: _Problem, st: _Admm, g: np.ndarray, W: np.ndarray, gaps: np.ndarray,
            thresh: np.ndarray) -> None:
    """Store the batch's points and gaps in ``W``/``gaps``; finished targets leave the batch."""
    W[:, st.act] = st.Z
    gaps[st.act] = g
    keep = ~(g <= thresh[st.act])  # a NaN gap is not a finished target
    _update_history(st, g)
    if not keep.all():
        _drop_finished(st, keep)
    if st.kernel and st.act.size:  # re-synchronise the tracked product (rounding drift)
        st.XH = mm(prob.Xf, st.H)


def _update_history(st: _Admm, g: np.ndarray) -> None:
    """Advance each target's gap history, from which :func:`_newton_worthy` estimates rates."""
    it = st.it
    if st.g_ref is None:
        st.g_ref, st.it_ref = g.copy(), np.full(g.size, it)
        st.g_mid, st.it_mid = g.copy(), st.it_ref.copy()
        return
    shift = it >= 2 * st.it_mid
    st.g_ref, st.it_ref = (np.where(shift, st.g_mid, st.g_ref),
                           np.where(shift, st.it_mid, st.it_ref))
    st.g_mid, st.it_mid = np.where(shift, g, st.g_mid), np.where(shift, it, st.it_mid)


def _drop_finished(st: _Admm, keep: np.ndarray) -> None:
    """Keep only the columns ``keep`` of every per-target array of the batch."""
    st.act, st.Z, st.H, st.rho = st.act[keep], st.Z[:, keep], st.H[:, keep], st.rho[keep]
    st.last = st.last[:, keep]
    st.g_ref, st.it_ref, st.newton_at = st.g_ref[keep], st.it_ref[keep], st.newton_at[keep]
    st.g_mid, st.it_mid = st.g_mid[keep], st.it_mid[keep]
    st.C, st.T = st.C[:, keep], np.empty_like(st.Z)
    if st.kernel:
        st.XC, st.XZ, st.Yn = st.XC[:, keep], st.XZ[:, keep], st.Yn[:, keep]


def _final_newton(prob: _Problem, W: np.ndarray, gaps: np.ndarray, act: np.ndarray,
                  lam1: np.ndarray, lam2: np.ndarray, thresh: np.ndarray) -> None:
    """A last Newton attempt for targets ADMM left unfinished at ``max_iter`` (kept if better)."""
    # ADMM reached max_iter (its rate estimates were too hopeful)
    Wn, gn = _ssnal(prob, W[:, act], lam1[act], lam2[act], act, thresh[act])
    better = gn < gaps[act]
    W[:, act[better]] = Wn[:, better]
    gaps[act[better]] = gn[better]


def _gap_scale(Yc: np.ndarray) -> np.ndarray:
    """Per target ``||y - ȳ||² / n`` (floored at the smallest float): the stopping rule is
    ``gap <= tol · _gap_scale``, scikit-learn's."""
    return np.maximum(np.sum(Yc**2, axis=0) / Yc.shape[0], np.finfo(float).tiny)


def _lowp_safe(prob: _Problem) -> bool:
    """Whether the float32 ADMM products are safe for this problem: features and targets of
    moderate magnitude (far from float32's overflow and underflow; see _LOWP_GAP)."""
    if not _LOWP_GAP < np.inf:
        return False
    lo, hi = 1e-12, 1e12
    xmax = float(np.max(np.abs(prob.Xf), initial=0.0))
    ymax = float(np.max(np.abs(prob.Yc), initial=0.0))
    return lo < xmax < hi and lo < ymax < hi


def _newton_worthy(prob: _Problem, g: np.ndarray, g_ref: np.ndarray | None, span,
                   thresh: np.ndarray, it: int, max_iter: int, nnz: np.ndarray,
                   due: np.ndarray) -> np.ndarray:
    """Unfinished columns among ``due`` to hand to the Newton refinement now (boolean mask).

    A column is *slow* when its duality gap, shrinking at its average rate over the last
    ``span`` iterations (from ``g_ref``; ADMM gaps are not monotone, so one interval says
    little), would need more than ``_NEWTON_SLOW × it`` further ADMM iterations to reach
    ``thresh``. Slow columns go to Newton if ADMM would reach ``max_iter`` first, or if
    finishing them by ADMM would cost more multiply-adds than Newton: forming the p × p Gram
    matrix when it does not exist yet, plus about ``_NEWTON_STEPS`` Newton systems per column,
    each sized by the column's current support ``nnz`` (see :func:`_newton_direction`). On
    wide, well-conditioned problems a few stragglers then finish by ADMM instead of paying for
    the Gram matrix; a lasso with a tiny penalty on features that interpolate the training bins
    (the gap stalls) goes to Newton at once.
    """
    left = due & (g > thresh)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.log(np.minimum(g / g_ref, 1.0)) / np.maximum(span, 1)  # per iteration, <= 0
        needed = np.where(rate < 0, np.log(thresh / g) / rate, np.inf)
    slow = left & (needed > _NEWTON_SLOW * it)
    if not slow.any():
        return slow
    n, p = prob.n, prob.p
    if prob.G is None and prob._gram is None and p > _GRAM_MAX_P:
        return np.zeros_like(slow)  # no Gram matrix beyond _GRAM_MAX_P: ADMM alone
    if np.any(needed[slow] > max_iter - it):
        return slow  # ADMM would stop at max_iter first
    admm = 4.0 * n * p * float(np.sum(needed[slow]))
    gram = 0.0 if prob.G is not None or prob._gram is not None else float(p) * p * n
    k = nnz[slow].astype(float)
    system = np.where(k <= n, k * k * (k / 3.0 + 1.0), n * n * (np.minimum(k, p - k) + n / 3.0))
    newton = gram + _NEWTON_STEPS * float(np.sum(system + 4.0 * n * p))
    return slow if admm > newton else np.zeros_like(slow)


#: An unfinished column is slow when ADMM would need more than this many times the
#: iterations it has already run (see :func:`_newton_worthy`) ...
_NEWTON_SLOW = 2.0
#: ... and a Newton refinement is costed at this many Newton systems per column.
_NEWTON_STEPS = 20.0

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
        # KKT: on the zero coefficients |xⱼᵀr/n| <= lam1, on the support
        # xⱼᵀr/n - lam2 wⱼ = lam1 sign(wⱼ) — checked, not assumed: with a support wider than
        # the rank of its columns the batched solve returns a point that does not satisfy it.
        # Both hold: the polished point is optimal up to rounding.
        l1t, l2t = lam1[tried], lam2[tried]
        viol = np.where(sub == 0, np.abs(XtR) - l1t,
                        np.abs(XtR - l2t * sub - l1t * np.sign(sub)))
        slack = 1e-9 * (lam1[tried] + np.max(np.abs(prob.c[:, cols[tried]]), axis=0))
        kkt = np.max(viol, axis=0, initial=-np.inf) <= slack
        gp[tried[kkt]] = 0.0
    return Wp, gp


#: Largest feature count for which the Newton refinement forms the p × p Gram matrix (beyond
#: it, ADMM alone).
_GRAM_MAX_P = 4096


def _support_solve(prob: _Problem, S: np.ndarray, rhs: np.ndarray, lam2: np.ndarray
                   ) -> np.ndarray:
    """Solve ``(X_Sᵀ X_S / n + lam2 I) w_S = rhs_S`` for every column (``w`` zero off ``S``).

    Full supports with ``lam2 > 0`` go through the cached eigen-decomposition; the others are
    gathered into padded batches (columns sorted by support size, so padding stays small) and
    solved by batched LU. A singular batch gets a relative jitter of 1e-12 (the caller's line
    search and duality gap decide what is kept).
    """
    p, n = prob.p, prob.n
    W = np.zeros(S.shape)
    sizes = S.sum(axis=0)
    full = (sizes == p) & (lam2 > 0)
    if full.any():
        W[:, full] = prob.solve_full(np.where(S[:, full], rhs[:, full], 0.0), lam2[full])
    rest = np.flatnonzero(~full & (sizes > 0))
    rest = rest[np.argsort(sizes[rest], kind="stable")]
    G = prob.gram
    for chunk in np.array_split(rest, max(1, -(-rest.size // _SOLVE_BATCH))):
        if not chunk.size:
            continue
        k = sizes[chunk]
        m = int(k.max())
        idx = np.argsort(~S[:, chunk], axis=0, kind="stable")[:m].T  # (c, m): support first
        M = np.arange(m)[None, :] < k[:, None]
        gi = np.where(M, idx, 0)
        if G is not None:
            A = G[gi[:, :, None], gi[:, None, :]]
        else:
            Xs = prob.Xf[:, gi].transpose(1, 2, 0)  # (c, m, n)
            A = Xs @ Xs.transpose(0, 2, 1)
        A /= n
        A *= M[:, :, None] & M[:, None, :]
        dg = np.einsum("cii->ci", A)
        dg += np.where(M, lam2[chunk, None], 1.0)
        b = np.take_along_axis(rhs[:, chunk].T, gi, axis=1) * M
        try:
            sol = np.linalg.solve(A, b[..., None])[..., 0]
        except np.linalg.LinAlgError:
            jit = 1e-12 * np.maximum(np.einsum("cii->c", A) / m, np.finfo(float).tiny)
            dg += jit[:, None]
            sol = np.linalg.solve(A, b[..., None])[..., 0]
        out = np.zeros((chunk.size, p + 1))
        np.put_along_axis(out, np.where(M, idx, p), sol * M, axis=1)
        W[:, chunk] = out[:, :p].T
    return W


#: Columns per batched support solve.
_SOLVE_BATCH = 64
#: SSNAL: initial σ·L, its growth factor after a solved inner problem and its cap (σ·L), and
#: the inner stopping rule (gradient norm below _INNER_TOL × its value at the outer start).
#: Tuned on mec-sim rate-map problems; the result is certified by the duality gap either way.
_SIGMA0 = 1e5
_SIGMA_UP = 5.0
_SIGMA_MAX = 1e10
_INNER_TOL = 0.05


def _newton_direction(prob: _Problem, Jm: np.ndarray, grad: np.ndarray, kappa: np.ndarray
                      ) -> np.ndarray:
    """``-(I + κ A_J A_Jᵀ)⁻¹ grad`` per column (``A = X/√n``, ``J`` = mask ``Jm``).

    Columns with ``|J| <= n`` use the Woodbury identity (a ``|J|``-sized system gathered from
    the Gram matrix); the others solve the ``n``-sized system directly, forming ``A_J A_Jᵀ``
    from whichever of ``J`` and its complement is smaller (``A_J A_Jᵀ = AAᵀ - A_Jᶜ A_Jᶜᵀ``).
    """
    n, p = prob.n, prob.p
    sq = np.sqrt(n)
    Xf = prob.Xf
    d = np.empty_like(grad)
    sizes = Jm.sum(axis=0)
    small = np.flatnonzero(sizes <= n)
    if small.size:
        ks = kappa[small]
        g = grad[:, small]
        Atg = mm(Xf.T, g) / sq
        sol = _support_solve(prob, Jm[:, small], np.where(Jm[:, small], Atg, 0.0), 1.0 / ks)
        d[:, small] = mm(Xf, sol) / sq - g
    big = np.flatnonzero(sizes > n)
    if big.size:
        K = prob.kernel_matrix
        comp = (p - sizes[big]) < sizes[big]  # form from the complement
        # number of gathered features per column, sorted so that padding stays small
        k = np.where(comp, p - sizes[big], sizes[big])
        order = np.argsort(k, kind="stable")
        for chunk in np.array_split(order, max(1, -(-order.size // _SOLVE_BATCH))):
            if not chunk.size:
                continue
            cols = big[chunk]
            sel = np.where(comp[chunk][None, :], ~Jm[:, cols], Jm[:, cols])
            kc = k[chunk]
            m = int(kc.max())
            H = np.zeros((cols.size, n, n))
            if m:
                idx = np.argsort(~sel, axis=0, kind="stable")[:m].T
                M = np.arange(m)[None, :] < kc[:, None]
                Xs = Xf[:, idx].transpose(1, 0, 2) * M[:, None, :]  # (c, n, m)
                H = Xs @ Xs.transpose(0, 2, 1)
            cc = comp[chunk]
            H = np.where(cc[:, None, None], K[None] - H, H)
            H *= (kappa[cols] / n)[:, None, None]
            dg = np.einsum("cii->ci", H)
            dg += 1.0
            d[:, cols] = -np.linalg.solve(H, grad[:, cols].T[..., None])[..., 0].T
    return d


def _ssnal(prob: _Problem, W, lam1, lam2, cols, thresh, *, sigma0=None, outer: int = 30,
           inner: int = 8):
    """Semismooth-Newton augmented Lagrangian refinement from the points ``W``.

    SSNAL (Li, Sun & Toh 2018, SIAM J. Optim. 28: 433) applied to the dual of the elastic net
    with ``A = X/√n``, ``b = y/√n``: the augmented Lagrangian of the dual is minimised over
    the dual point ``y`` by semismooth Newton steps (Armijo line search) whose generalised
    Hessian is ``I + σ/(1+σ lam2) A_J A_Jᵀ``, ``J`` the coordinates the proximal map keeps
    (see :func:`_newton_direction`); the multiplier update is the primal step
    ``w ← prox_{σh}(w - σ Aᵀy)`` and ``σ`` grows while the inner problems stay easy. It
    converges superlinearly on ill-conditioned lasso-like problems where first-order methods
    crawl. A column stops when its duality gap is at most ``thresh``. Returns the points of
    lowest gap and their gaps ``(W, gap)``.
    """
    n = prob.n
    sq = np.sqrt(n)
    Xf = prob.Xf
    J = W.shape[1]
    W = W.copy()
    best = W.copy()
    gap = np.full(J, np.inf)
    live = np.arange(J)
    smax = _SIGMA_MAX / max(prob.L, 1e-300)
    sigma = np.full(J, _SIGMA0 / max(prob.L, 1e-300)) if sigma0 is None else sigma0.copy()
    Yd = (mm(Xf, W) - prob.Yc[:, cols]) / sq  # dual point y = A w - b

    for k in range(outer + 1):
        Wl, cl, l1, l2 = W[:, live], cols[live], lam1[live], lam2[live]
        g = _gap(prob, Wl, prob.XtR(Wl, cl), l1, l2, cl)
        better = g < gap[live]
        gap[live[better]] = g[better]
        best[:, live[better]] = Wl[:, better]
        keep = g > thresh[live]
        if k == outer or not keep.any():
            break
        live = live[keep]
        Wl, cl, l1, l2 = Wl[:, keep], cl[keep], l1[keep], l2[keep]
        s = sigma[live]
        Bk = prob.Yc[:, cl] / sq
        Yk = Yd[:, live]
        AtY = mm(Xf.T, Yk) / sq
        conv = np.zeros(live.size, dtype=bool)
        g0 = None
        inn = np.arange(live.size)  # columns still in the inner loop
        for i in range(inner + 1):
            Wi, si, l1i, l2i = Wl[:, inn], s[inn], l1[inn], l2[inn]
            V = Wi - si * AtY[:, inn]
            P = _prox(V, si, l1i, l2i)
            grad = Yk[:, inn] + Bk[:, inn] - mm(Xf, P) / sq
            gn = np.linalg.norm(grad, axis=0)
            if g0 is None:
                g0 = gn
            done = gn <= _INNER_TOL * g0[inn]
            conv[inn[done]] = True
            if i == inner or done.all():
                break
            inn, Wi, si, l1i, l2i = inn[~done], Wi[:, ~done], si[~done], l1i[~done], l2i[~done]
            V, P, grad = V[:, ~done], P[:, ~done], grad[:, ~done]
            Jm = np.abs(V) > si * l1i
            d = _newton_direction(prob, Jm, grad, si / (1 + si * l2i))
            Atd = mm(Xf.T, d) / sq
            Yi, Bi, Ai = Yk[:, inn], Bk[:, inn], AtY[:, inn]
            mu = _armijo(Wi, Yi, Bi, Ai, V, P, grad, d, Atd, si, l1i, l2i)
            Yk[:, inn] = Yi + mu * d
            AtY[:, inn] = Ai + mu * Atd
        # multiplier (primal) update where the inner problem was solved
        V = Wl - s * AtY
        W[:, live] = np.where(conv, _prox(V, s, l1, l2), Wl)
        Yd[:, live] = Yk
        sigma[live] = np.where(conv, np.minimum(s * _SIGMA_UP, smax), s)
    return best, gap


def _prox(V: np.ndarray, s, l1, l2) -> np.ndarray:
    """Proximal map of ``s·(l1 ||w||_1 + l2/2 ||w||²)`` at ``V`` (per column)."""
    mag = np.abs(V) - s * l1
    np.maximum(mag, 0.0, out=mag)
    return np.copysign(mag, V) / (1 + s * l2)


def _psi(Yk, Bk, V, P, s, l1, l2) -> np.ndarray:
    """The SSNAL inner objective per column, up to a constant (``P`` = prox at ``V``)."""
    return (0.5 * np.sum(Yk * Yk, 0) + np.sum(Bk * Yk, 0)
            + np.sum(P * (2 * V - P), 0) / (2 * s)
            - l1 * np.sum(np.abs(P), 0) - 0.5 * l2 * np.sum(P * P, 0))


def _armijo(Wi, Yi, Bi, Ai, V, P, grad, d, Atd, si, l1i, l2i) -> np.ndarray:
    """Step lengths of the SSNAL Newton directions ``d`` by Armijo backtracking (per column)."""
    f0 = _psi(Yi, Bi, V, P, si, l1i, l2i)
    slope = np.sum(grad * d, axis=0)
    mu = np.ones(Yi.shape[1])
    todo = np.ones(Yi.shape[1], dtype=bool)
    for _ls in range(30):
        V2 = Wi - si * (Ai + mu * Atd)
        f2 = _psi(Yi + mu * d, Bi, V2, _prox(V2, si, l1i, l2i), si, l1i, l2i)
        todo &= ~(f2 <= f0 + 1e-4 * mu * slope + 1e-13 * np.abs(f0))
        if not todo.any():
            break
        mu = np.where(todo, 0.5 * mu, mu)
    return mu


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
        _warn_unconverged(gaps, prob.Yc, **opts)
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
            W, gaps = enet_solve(prob, lam1, lam2, **opts)
            _warn_unconverged(gaps, prob.Yc, **opts)
            P = d.xe_dot(tr, te, W)
            P += ym
            out.append(P)
        return out


def _warn_unconverged(gaps: np.ndarray, Yc: np.ndarray, *, tol: float, max_iter: int) -> None:
    """Warn (:class:`~mecbench.errors.ConvergenceWarning`) about targets whose duality gap is
    above ``tol · ||y - ȳ||² / n`` after ``max_iter`` iterations."""
    rel = gaps / _gap_scale(Yc)
    bad = ~(rel <= tol)
    if bad.any():
        warnings.warn(
            f"elastic net: {int(bad.sum())} of {rel.size} targets did not reach the tolerance "
            f"(relative duality gap <= {tol:g}) in max_iter={max_iter} iterations; largest "
            f"relative gap {np.nanmax(np.where(bad, rel, np.nan)):.3g}. Their coefficients are "
            "returned as they are: increase max_iter or tol.",
            ConvergenceWarning, stacklevel=3)


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


def _kernel_solve(s: np.ndarray, V: np.ndarray | None, B: np.ndarray, shift: np.ndarray
                  ) -> np.ndarray:
    """``(K + shift_j I)⁻¹ b_j`` per column, ``K = V diag(s) Vᵀ`` (``V`` None: ``K`` diagonal)."""
    if V is None:
        return B / (s[:, None] + shift[None, :])
    return V @ ((V.T @ B) / (s[:, None] + shift[None, :]))


def _make_problem(Xc: np.ndarray, Yc: np.ndarray, *, rotate: bool = False) -> _Problem:
    """The problem of centred rows ``Xc``, ``Yc``; ``rotate``: in X form, give the rows in the
    kernel's eigenbasis (see :class:`_Problem`)."""
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
    s, V = shifted_eigh(K)
    if not rotate:
        return _Problem(Xc, Yc, gram=None, eig=(s, V), kernel_eig=True, K=K)
    Kr = V.T @ K @ V
    return _Problem(mm(V.T, Xc), V.T @ Yc, gram=None, eig=(s, None), kernel_eig=True,
                    K=0.5 * (Kr + Kr.T), rotation=V)


def _design_problem(d: Design, tr, Yc) -> _Problem:
    Xf = d.pstats(tr)[0]
    if d.kernel(len(tr)):
        return _Problem(Xf, Yc, gram=None, eig=d.keig(tr), kernel_eig=True, K=d.kff(tr)[0])
    s, W, _, _ = d.peig(tr)
    return _Problem(Xf, Yc, gram=d.pcov(tr), eig=(s, W), kernel_eig=False)


#: Selection rules of :func:`elastic_net_cv`: ``"stable"`` (default; the most regularised
#: candidate the solver tolerance cannot tell apart from the best) and ``"min"`` (the smallest
#: validation error, ties to the first grid entry).
CV_SELECT_RULES = ("stable", "min")


def validation_curvature(Xf: np.ndarray, Xv: np.ndarray, lam2: np.ndarray) -> np.ndarray:
    """``μ(λ₂) = λ_max(X_v (X_fᵀX_f / n_f + λ₂ I)⁻¹ X_vᵀ)`` for every ridge part ``λ₂``.

    ``Xf`` (n_f, p) and ``Xv`` (n_v, p) are the fitting and validation rows, both centred on
    the fitting rows' means. ``μ`` bounds the validation rows' response to a coefficient error
    ``d``: ``||X_v d||² <= μ · dᵀ (X_fᵀX_f / n_f + λ₂ I) d``. Returns an array like ``lam2``;
    ``inf`` where ``λ₂ = 0`` and the validation rows reach outside the span of the fitting rows
    (a lasso with more features than fitting rows: its validation error is not bounded by its
    duality gap).
    """
    lam2 = np.asarray(lam2, dtype=np.float64)
    nf = Xf.shape[0]
    _, sv, Vt = np.linalg.svd(Xf, full_matrices=False)
    # directions with singular values at rounding level count as outside the span (bounded
    # through λ₂ alone, which only widens the bound)
    rank_tol = (sv[0] if sv.size else 0.0) * np.finfo(float).eps * max(Xf.shape)
    keep = sv > rank_tol
    C = Xv @ Vt[keep].T  # validation rows in the span's coordinates
    ev = sv[keep] ** 2 / nf
    K = Xv @ Xv.T
    N = K - C @ C.T  # X_v (I - P_span) X_vᵀ
    N = 0.5 * (N + N.T)
    nu = float(np.linalg.eigvalsh(N)[-1]) if N.size else 0.0
    if nu <= 1e-12 * max(float(np.trace(K)), np.finfo(float).tiny):
        N = None  # the validation rows lie in the span (up to rounding)
    out = np.empty(lam2.shape)
    for idx, lam in np.ndenumerate(lam2):
        if lam <= 0 and N is not None:
            out[idx] = np.inf
            continue
        M = (C / (ev + lam)) @ C.T
        if N is not None:
            M += N / lam
        out[idx] = max(float(np.linalg.eigvalsh(0.5 * (M + M.T))[-1]), 0.0) if M.size else 0.0
    return out


def cv_error_band(val_err: np.ndarray, gap: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Half-width of the interval that holds the exact validation error, given a solve whose
    duality gap is at most ``gap``.

    Parameters
    ----------
    val_err : array (..., n_targets)
        Summed squared validation errors of one fold, ``E = ||y_v - ŷ_v||²``.
    gap : array broadcastable to ``val_err``
        Bound on each solve's duality gap (``tol · ||y_f - ȳ_f||² / n_f``).
    mu : array broadcastable to ``val_err``
        :func:`validation_curvature` of each solve's ridge part ``λ₂``.

    Returns
    -------
    array like ``val_err``: ``δ (2 √E + δ)`` with ``δ² = 2 · gap · μ`` (``inf`` where ``μ``
    is).

    Notes
    -----
    With ``w*`` the exact minimiser of the elastic-net objective ``P`` on the fitting rows and
    ``w`` a point whose duality gap is ``G``: ``P(w) - P(w*) <= G``; and because the loss is
    quadratic and the penalty is ``λ₂``-strongly convex, with ``0 ∈ ∂P(w*)``,
    ``P(w) - P(w*) >= dᵀ (X_fᵀX_f / n_f + λ₂ I) d / 2`` for ``d = w - w*``. Hence
    ``||X_v d||² <= μ · dᵀ (X_fᵀX_f / n_f + λ₂ I) d <= 2 G μ = δ²``, and by the triangle
    inequality ``|√E(w) - √E(w*)| <= ||X_v d|| <= δ``, so
    ``|E(w) - E(w*)| <= δ (2 √E(w) + δ)``. The intercept is the fitting rows' mean in both
    (centred design), so it adds nothing. No assumption is made about the rows.
    """
    with np.errstate(invalid="ignore"):
        d2 = 2.0 * np.asarray(gap, dtype=np.float64) * np.asarray(mu, dtype=np.float64)
        e = np.sqrt(np.maximum(val_err, 0.0))
        return np.sqrt(d2) * (2.0 * e) + d2


def select_stable(cv_error: np.ndarray, band: np.ndarray, alphas, l1_ratios) -> np.ndarray:
    """Per target, the most regularised candidate whose CV error may be the smallest.

    Parameters
    ----------
    cv_error, band : arrays (n_l1_ratios, n_alphas, n_targets)
        Validation error of every candidate and the half-width of the interval that holds its
        exact value (:func:`cv_error_band`, summed over folds; ``inf`` for a candidate whose
        error is not bounded).
    alphas, l1_ratios : sequences of float
        The grids (``alphas`` along axis 1, ``l1_ratios`` along axis 0).

    Returns
    -------
    array (n_targets,) of flat indices into ``(n_l1_ratios, n_alphas)``.

    Notes
    -----
    A candidate is *tied with the best* when its interval reaches below the lowest upper end
    of all intervals, ``E_c - h_c <= min_k (E_k + h_k)``: the solver's certificate cannot
    rule out that it is the exact minimiser. Among the tied candidates the pick is the one
    with the largest ``alpha``; among equal alphas, the smallest ``l1_ratio`` (the largest
    ridge part ``alpha · (1 - l1_ratio)``: the most strongly convex objective, whose solution
    the certificate pins down best); exact duplicates in the grids go to the first entry.
    Candidates with a non-finite error or band (NaN, or a lasso whose validation error the
    certificate does not bound) are never tied; a target with none finite gets the most
    regularised candidate of the grid (same order).
    """
    err = np.asarray(cv_error, dtype=np.float64)
    band = np.asarray(band, dtype=np.float64)
    if err.ndim != 3 or band.shape != err.shape:
        raise ConfigError(f"cv_error and band must be arrays (n_l1_ratios, n_alphas, "
                          f"n_targets) of one shape; got {err.shape} and {band.shape}")
    n_l1, n_a, t = err.shape
    alphas = np.asarray(alphas, dtype=np.float64).reshape(-1)
    l1s = np.asarray(l1_ratios, dtype=np.float64).reshape(-1)
    if alphas.size != n_a or l1s.size != n_l1:
        raise ConfigError(f"grids of {l1s.size} l1_ratios and {alphas.size} alphas do not "
                          f"match cv_error of shape {err.shape}")
    flat_err = err.reshape(-1, t)
    flat_band = band.reshape(-1, t)
    finite = np.isfinite(flat_err) & np.isfinite(flat_band)
    upper = np.min(np.where(finite, flat_err + flat_band, np.inf), axis=0)
    tied = finite & (flat_err - flat_band <= upper)
    tied[:, ~finite.any(axis=0)] = True  # nothing finite: the most regularised of the grid
    # candidates from most to least regularised: alpha descending, then l1_ratio ascending,
    # then grid order (np.lexsort: last key is primary)
    a_of = np.tile(alphas, n_l1)
    l1_of = np.repeat(l1s, n_a)
    order = np.lexsort((np.arange(n_l1 * n_a), l1_of, -a_of))
    first = np.argmax(tied[order], axis=0)
    return order[first]


#: Relative duality gap to which :func:`elastic_net_cv` re-solves the candidates whose side of
#: the stable rule's tie boundary the search's tolerance leaves open (then, if still open, to
#: the second value).
REFINE_TOLS = (1e-10, 1e-12)


def elastic_net_cv(X, Y, alphas=REFERENCE_ALPHAS, l1_ratios=REFERENCE_L1_RATIOS, cv: int = 2,
                   seed: int | np.random.Generator | None = 0, *, tol: float = 1e-4,
                   max_iter: int = 5000, select: str = "stable",
                   select_tol: float | None = None,
                   refine_tols: tuple[float, ...] = REFINE_TOLS,
                   solve_unusable: bool = False) -> dict[str, np.ndarray]:
    """Choose ``alpha`` and ``l1_ratio`` per target by ``cv``-fold CV on the given rows only.

    Rows are shuffled with ``seed`` and cut into ``cv`` folds; for every (alpha, l1_ratio) the
    elastic net is fitted on the other folds (all targets and all alphas of one ``l1_ratio`` in
    one vectorised solve, to a relative duality gap of ``tol``) and scored by summed squared
    error on the held-out fold. Pass only training rows (e.g. the 20 % training bins of a
    split, as suggested by Nayebi et al. 2021).

    Parameters
    ----------
    X : array (n_samples, n_features)
    Y : array (n_samples, n_targets) or (n_samples,)
    alphas, l1_ratios : sequences of float
        The grids searched (every combination).
    cv : int
        Number of folds (>= 2).
    seed : int, Generator or None
        Shuffles the rows before they are cut into folds.
    tol, max_iter : float, int
        Solver settings of every fit (:func:`enet_solve`).
    select : {"stable", "min"}
        ``"stable"``: per target, the most regularised candidate whose CV error is within the
        solver's certified uncertainty of the best (:func:`select_stable`, bands from
        :func:`cv_error_band` at ``select_tol`` summed over folds): the pick does not depend
        on solver noise below ``select_tol``. ``"min"``: the smallest CV error, ties to the
        first grid entry (l1_ratio-major); near-tied candidates make it depend on the
        solver's rounding and tolerance.
    select_tol : float, optional
        Gap tolerance the bands of ``"stable"`` are computed for (default ``tol``); must be
        >= ``tol``. Fix it (as the ``enet`` benchmarks do) to make picks comparable across
        solver tolerances.
    refine_tols : tuple of float
        ``"stable"`` only. The errors of the search are known to within their own solves'
        certified bands; a candidate whose side of the tie boundary those bands leave open,
        and that could change the pick, is re-solved to each of these tolerances in turn
        until its side is certain (:func:`_open_candidates`). The pick is then the one the
        exact errors give unless an exact error lies within the last tolerance's band of the
        boundary, so it does not depend on the machine's rounding or the solver's path.
        ``()`` turns refinement off.
    solve_unusable : bool
        ``"stable"`` only. Also solve the candidates the rule can never use (a band unbounded
        in some fold: a pure lasso with more features than fitting rows), for their CV errors
        alone; the picks are the same either way (default False: they are left unsolved).

    Returns
    -------
    dict with ``alpha`` and ``l1_ratio``, arrays (n_targets,); ``cv_error`` and ``cv_band``
    (n_l1_ratios, n_alphas, n_targets): CV errors and their half-widths at ``select_tol``
    (zeros with ``select="min"``; with ``"stable"``, candidates whose band is unbounded in a
    fold are never tied or best, so they are not solved: error NaN, band ``inf``);
    ``n_refined`` (number of (candidate, target) pairs re-solved) and ``open_targets``
    (targets whose pick the last refinement still left open; empty when every pick is
    certain).
    """
    X, Y, _ = fit_design(X, Y)
    cv = check_positive_int(cv, "cv", minimum=2)
    alphas = check_nonneg(alphas, "alphas").reshape(-1)
    l1s = check_fraction(l1_ratios, "l1_ratios").reshape(-1)
    if select not in CV_SELECT_RULES:
        raise ConfigError(f"select must be one of {CV_SELECT_RULES}; got {select!r}")
    tol = float(check_nonneg(tol, "tol").reshape(-1)[0])
    band_tol = tol if select_tol is None else float(
        check_nonneg(select_tol, "select_tol").reshape(-1)[0])
    if band_tol < tol:
        raise ConfigError(f"select_tol={band_tol:g} is below tol={tol:g}: the bands must "
                          "cover the solver's tolerance (select_tol >= tol)")
    refine_tols = tuple(float(check_nonneg(r, "refine_tols").reshape(-1)[0])
                        for r in refine_tols)
    n, t = Y.shape
    if n < 2 * cv:
        raise ConfigError(f"cv={cv} needs >= {2 * cv} rows; got {n}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    folds = np.array_split(rng.permutation(n), cv)
    na = alphas.size
    search = _CVSearch(X, Y, folds, alphas, l1s, band_tol, stable=select == "stable",
                       solve_unusable=bool(solve_unusable))
    search.run(tol, max_iter)
    if select == "min":
        best = np.argmin(search.err.reshape(-1, t), axis=0)
        return {"alpha": alphas[best % na], "l1_ratio": l1s[best // na],
                "cv_error": search.err, "cv_band": search.band, "n_refined": 0,
                "open_targets": np.zeros(0, dtype=int)}
    n_refined = 0
    pairs = search.open_pairs()
    for rtol in refine_tols:
        if not pairs.any():
            break
        n_refined += int(pairs.sum())
        search.refine(pairs, min(rtol, tol), max_iter)
        pairs = search.open_pairs()
    best = select_stable(search.err, search.band, alphas, l1s)
    return {"alpha": alphas[best % na], "l1_ratio": l1s[best // na],
            "cv_error": search.err, "cv_band": search.band, "n_refined": n_refined,
            "open_targets": np.flatnonzero(pairs.any(axis=(0, 1)))}


class _CVSearch:
    """Per-fold validation errors of every (l1_ratio, alpha, target) candidate, with the two
    bands the stable rule needs: ``band`` (at ``select_tol``, the rule's) and ``noise`` (at
    the tolerance each error was actually solved to: how far the exact error can be)."""

    def __init__(self, X, Y, folds, alphas, l1s, band_tol: float, *, stable: bool,
                 solve_unusable: bool = False):
        self.X, self.Y, self.folds = X, Y, folds
        self.alphas, self.l1s = alphas, l1s
        self.band_tol, self.stable = band_tol, stable
        self.solve_unusable = solve_unusable
        shape = (len(folds), l1s.size, alphas.size, Y.shape[1])
        self.E = np.zeros(shape)  # per-fold validation errors
        self.gap = np.full(shape, np.inf)  # per-fold certified gaps of the solves
        self.mu = np.zeros(shape[:3])  # per-fold validation curvature per (l1, alpha)
        self.gap_max = np.zeros((len(folds), Y.shape[1]))  # select_tol · scale per target
        self._designs: dict[int, dict] = {}  # per fold: the centred design and its factors

    def _fold(self, f: int):
        val = self.folds[f]
        fit = np.setdiff1d(np.arange(self.Y.shape[0]), val)
        xm = self.X[fit].mean(axis=0)
        ym = self.Y[fit].mean(axis=0)
        return fit, val, xm, ym

    def run(self, tol: float, max_iter: int) -> None:
        """Solve every candidate the selection can use, in every fold, to ``tol``.

        With the stable rule, a candidate whose validation curvature is unbounded in some fold
        (a lasso with more features than fitting rows) is never tied and never holds the
        lowest upper end (:func:`select_stable`), so it cannot move a pick: it is not solved,
        and its error stays NaN (its gap ``inf``). Every other candidate is solved as with
        ``select="min"``, which solves all of them.
        """
        alphas, l1s = self.alphas, self.l1s
        na = alphas.size
        lam2_of = np.outer(1.0 - l1s, alphas)  # (n_l1_ratios, n_alphas): each ridge part
        problems = []
        for f in range(len(self.folds)):
            fit, val, xm, ym = self._fold(f)
            Ycf = self.Y[fit] - ym
            Xc = self.X[fit] - xm
            prob = _make_problem(Xc, np.tile(Ycf, (1, na)), rotate=True)
            # kept for refine(): the same design and decomposition serve its re-solves
            self._designs[f] = {"Xf": prob.Xf, "gram": prob.G, "eig": prob.eig,
                                "kernel_eig": prob.kernel_eig, "K": prob.K,
                                "rotation": prob.rotation}
            self.gap_max[f] = self.band_tol * _gap_scale(Ycf)
            Xv = self.X[val] - xm
            if self.stable:
                with single_thread():
                    self.mu[f] = validation_curvature(Xc, Xv, lam2_of)
            problems.append((prob, Xv, val, ym))
        solve = np.ones_like(self.unselectable) if self.solve_unusable else ~self.unselectable
        self.E[:, ~solve] = np.nan
        for f, (prob, Xv, val, ym) in enumerate(problems):
            W = None
            for i in np.argsort(l1s, kind="stable"):  # warm start from the neighbouring l1
                if not solve[i].any():
                    continue
                W = self._solve_l1(f, prob, Xv, val, ym, i, solve[i], W, tol, max_iter)

    @property
    def unselectable(self) -> np.ndarray:
        """(n_l1_ratios, n_alphas): candidates the stable rule can never pick or use (an
        unbounded validation curvature in some fold); all False with ``select="min"``."""
        return np.any(np.isinf(self.mu), axis=0)

    def _solve_l1(self, f: int, prob: _Problem, Xv, val, ym, i: int, alpha_mask: np.ndarray,
                  W0: np.ndarray | None, tol: float, max_iter: int) -> np.ndarray:
        """Solve fold ``f``'s candidates of ``l1_ratios[i]`` at the alphas in ``alpha_mask``;
        store their errors and gaps; return the (p, n_alphas · t) solutions for the next warm
        start (columns of skipped alphas keep ``W0``'s)."""
        t = self.Y.shape[1]
        l1 = self.l1s[i]
        if alpha_mask.all():
            cols, sub = slice(None), prob
        else:
            cols = np.repeat(alpha_mask, t)
            sub = _Problem(Yc=prob.Yc[:, cols], **self._designs[f])
        a_col = np.repeat(self.alphas[alpha_mask], t)  # column k: (alpha k // t, target k % t)
        with single_thread():
            W, gaps = enet_solve(sub, a_col * l1, a_col * (1 - l1), tol=tol,
                                 max_iter=max_iter, W0=None if W0 is None else W0[:, cols])
        na = int(alpha_mask.sum())
        P = Xv @ W + np.tile(ym, na)
        e = np.sum((np.tile(self.Y[val], (1, na)) - P) ** 2, axis=0)
        self.E[f, i, alpha_mask] = e.reshape(na, t)
        self.gap[f, i, alpha_mask] = gaps.reshape(na, t)
        if alpha_mask.all():
            return W
        full = np.zeros((prob.p, prob.Yc.shape[1])) if W0 is None else W0.copy()
        full[:, cols] = W
        return full

    def refine(self, pairs: np.ndarray, tol: float, max_iter: int) -> None:
        """Re-solve the (l1, alpha, target) candidates marked in ``pairs`` to ``tol``."""
        li, ai, ti = np.nonzero(pairs)
        for f in range(len(self.folds)):
            fit, val, xm, ym = self._fold(f)
            design = self._designs[f]
            Yc = (self.Y[fit] - ym)[:, ti]
            if design["rotation"] is not None:
                Yc = design["rotation"].T @ Yc
            prob = _Problem(Yc=Yc, **design)
            alpha, l1 = self.alphas[ai], self.l1s[li]
            with single_thread():
                W, gaps = enet_solve(prob, alpha * l1, alpha * (1 - l1), tol=tol,
                                     max_iter=max_iter)
            P = (self.X[val] - xm) @ W + ym[ti]
            self.E[f, li, ai, ti] = np.sum((self.Y[val][:, ti] - P) ** 2, axis=0)
            self.gap[f, li, ai, ti] = gaps

    @property
    def err(self) -> np.ndarray:
        return self.E.sum(axis=0)

    def _bands(self, E: np.ndarray, gap: np.ndarray) -> np.ndarray:
        """Per-fold half-widths at the gaps ``gap`` (array like ``self.E``)."""
        return cv_error_band(E, gap, self.mu[..., None])

    @property
    def band(self) -> np.ndarray:
        """Bands at ``select_tol`` summed over folds; ``inf`` where a solve did not reach it."""
        if not self.stable:
            return np.zeros_like(self.err)
        gmax = self.gap_max[:, None, None, :]
        h = np.where(self.gap <= gmax, self._bands(self.E, np.broadcast_to(gmax, self.E.shape)),
                     np.inf)
        return h.sum(axis=0)

    def open_pairs(self) -> np.ndarray:
        """Candidates whose side of the tie boundary is not certain and could move the pick
        (boolean, (n_l1_ratios, n_alphas, n_targets)); see :func:`_open_candidates`."""
        gmax = np.broadcast_to(self.gap_max[:, None, None, :], self.E.shape)
        converged = np.all(self.gap <= gmax, axis=0)
        # (a computed gap can be a rounding error below zero)
        noise = np.where(self.gap <= gmax, self._bands(self.E, np.clip(self.gap, 0.0, gmax)),
                         np.inf)
        lo = np.maximum(self.E - noise, 0.0)
        hi = self.E + noise
        band_lo = self._bands(lo, gmax)
        band_hi = self._bands(hi, gmax)
        # unbounded validation curvature (a lasso beyond the span of the fitting rows): such
        # a candidate is never tied, whatever its error (see select_stable)
        unbounded = np.broadcast_to(np.any(np.isinf(self.mu), axis=0)[..., None],
                                    converged.shape)
        return _open_candidates(
            lower=(lo.sum(0) - band_hi.sum(0), hi.sum(0) - band_lo.sum(0)),
            upper=(lo.sum(0) + band_lo.sum(0), hi.sum(0) + band_hi.sum(0)),
            converged=converged, excluded=unbounded, alphas=self.alphas, l1_ratios=self.l1s)


def _open_candidates(*, lower, upper, converged, excluded, alphas, l1_ratios) -> np.ndarray:
    """Which candidates must be solved more accurately for the stable pick to be certain.

    ``lower`` and ``upper`` are pairs of arrays (n_l1, n_alphas, n_targets): intervals that
    hold each candidate's exact ``E - h`` and ``E + h`` (``E`` the CV error, ``h`` its band at
    ``select_tol``) given the accuracy its errors were solved to. A candidate is certainly tied
    when its ``E - h`` is below the lowest ``E + h`` whatever the exact values, certainly not
    when above it whatever they are; otherwise open. The pick (:func:`select_stable`) is the
    first tied candidate from most to least regularised, so open candidates before the first
    certainly tied one matter, and so do, for those targets, the candidates that may hold the
    lowest ``E + h``. Candidates not ``converged`` to ``select_tol`` in every fold count as
    open when they come before the first certainly tied one (a more accurate solve decides
    whether they take part). ``excluded`` candidates (an unbounded band: never tied) are
    neither open nor part of the lowest ``E + h``.
    """
    lo_lo, lo_hi = lower
    up_lo, up_hi = upper
    n_l1, n_a, t = lo_lo.shape
    finite = converged & ~excluded & np.isfinite(lo_lo) & np.isfinite(up_hi)
    U_lo = np.min(np.where(finite, up_lo, np.inf), axis=(0, 1))
    U_hi = np.min(np.where(finite, up_hi, np.inf), axis=(0, 1))
    tied = finite & (lo_hi <= U_lo)
    not_tied = finite & (lo_lo > U_hi)
    unsure = ~tied & ~not_tied & ~excluded
    a_of = np.tile(alphas, n_l1)
    l1_of = np.repeat(l1_ratios, n_a)
    order = np.lexsort((np.arange(n_l1 * n_a), l1_of, -a_of))
    tied_o = tied.reshape(-1, t)[order]
    unsure_o = unsure.reshape(-1, t)[order]
    has = tied_o.any(axis=0)
    first = np.where(has, np.argmax(tied_o, axis=0), order.size)
    before = np.arange(order.size)[:, None] < first[None, :]
    need_o = unsure_o & before
    targets = need_o.any(axis=0)
    need = np.zeros((n_l1 * n_a, t), dtype=bool)
    need[order] = need_o
    # the candidates that may hold the lowest upper end, for targets being refined
    may_min = finite & (up_lo <= U_hi)
    need |= may_min.reshape(-1, t) & targets[None, :]
    return need.reshape(n_l1, n_a, t)
