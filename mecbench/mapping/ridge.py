"""Ridge and RidgeCV: one decomposition per split, shared by every target and every alpha.

With ``n`` training bins and ``p`` features the kernel (n×n) form is used when ``p > n`` and
the covariance (p×p) form otherwise. Both fit an unpenalised intercept by centring ``X`` and
``Y`` on the training rows (no scaling), i.e. the model of :class:`sklearn.linear_model.Ridge`.

:class:`Ridge` with one positive penalty runs its cross-validated paths (every split of
:func:`~mecbench.mapping.cross_predict` and :func:`~mecbench.mapping.cross_predict_masked`)
and its ``fit`` on the array backend of :mod:`mecbench.mapping.backend` (numpy by default,
torch on the CPU or a GPU by choice); per-target penalties, ``alpha=0`` and :class:`RidgeCV`
run numpy.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from mecbench.errors import ConfigError

from ._linalg import eig_coef, mm, single_thread, solve_sym
from ._validation import check_nonneg, check_positive_int, per_target
from .backend import Backend, get_backend
from .base import Design, MappingBase, fit_design
from .cache import FeatureCache
from .masked import missing_row_groups

__all__ = ["Ridge", "RidgeCV", "DEFAULT_RIDGE_ALPHAS"]

#: Default RidgeCV grid: 11 values, 1e-3 ... 1e7 (model features are not standardised, so the
#: useful range is wide).
DEFAULT_RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(-3, 7, 11))


class Ridge(MappingBase):
    """Ridge regression, multi-target; same model as :class:`sklearn.linear_model.Ridge`.

    Minimises ``||Y - X W - b||² + alpha ||W||²`` per target with an unpenalised intercept
    (``X`` and ``Y`` centred on the training rows when ``fit_intercept``).

    Parameters
    ----------
    alpha : float or array (n_targets,)
        Penalty, >= 0 (0 gives the minimum-norm least-squares fit).
    fit_intercept : bool
        Centre ``X`` and ``Y`` on the training rows.
    backend : Backend, str or None
        Array backend of the fits with one positive penalty (see
        :mod:`mecbench.mapping.backend`): a :class:`~mecbench.mapping.backend.Backend`, a
        text ``NAME[:DEVICE][:DTYPE]`` (``"torch"``, ``"torch:cuda"``,
        ``"torch:cpu:float32"``), or None for the environment's choice (``MECBENCH_BACKEND``,
        ``MECBENCH_DEVICE``, ``MECBENCH_DTYPE``; numpy float64 when unset). Results are numpy
        float64 arrays whatever the backend.

    Attributes
    ----------
    coef_ : array (n_targets, n_features) (1-D for 1-D ``y``)
    intercept_ : array (n_targets,) (float for 1-D ``y``)
    """

    def __init__(self, alpha=1.0, fit_intercept: bool = True,
                 backend: Backend | str | None = None):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.backend = backend

    def _backend(self) -> Backend:
        return get_backend(self.backend, where="Ridge backend")

    def fit(self, X, Y):
        """Fit on ``X`` (n_samples, n_features) and ``Y`` (n_samples, n_targets) or (n_samples,)."""
        X, Y, was_1d = fit_design(X, Y)
        alpha_t = per_target(check_nonneg(self.alpha, "alpha"), Y.shape[1], "alpha")
        bk = self._backend()
        if not bk.is_reference and np.all(alpha_t == alpha_t[0]) and alpha_t[0] > 0:
            try:
                coef, intercept = _fit_on(bk, X, Y, float(alpha_t[0]), self.fit_intercept)
            except np.linalg.LinAlgError:
                pass  # not positive definite in this precision: the reference path below
            else:
                self._set_linear(coef, intercept, X.shape[1], was_1d)
                return self
        n, p = X.shape
        xm = X.mean(axis=0) if self.fit_intercept else np.zeros(p)
        ym = Y.mean(axis=0) if self.fit_intercept else np.zeros(Y.shape[1])
        Xc = X - xm
        Yc = Y - ym
        if p > n:
            K = Xc @ Xc.T
            A = solve_sym(0.5 * (K + K.T), Yc, alpha_t, centred_kernel=self.fit_intercept)
            coef = (Xc.T @ A).T
        else:
            C = Xc.T @ Xc
            coef = solve_sym(0.5 * (C + C.T), Xc.T @ Yc, alpha_t).T
        self._set_linear(np.ascontiguousarray(coef), ym - coef @ xm, p, was_1d)
        return self

    def _cross_predict(self, cache: FeatureCache, Y: np.ndarray, splits):
        if not self.fit_intercept:
            return None
        alpha_t = per_target(check_nonneg(self.alpha, "alpha"), Y.shape[1], "alpha")
        shared = bool(np.all(alpha_t == alpha_t[0]) and alpha_t[0] > 0)
        bk = self._backend()
        if shared and not bk.is_reference:
            return _backend_cross_predict(bk, cache, Y, splits, float(alpha_t[0]))
        d = Design(cache)
        out = []
        for tr, te in splits:
            Ytr = Y[tr]
            ym = Ytr.mean(axis=0)
            Yc = Ytr - ym
            kernel = d.kernel(len(tr))
            if shared:
                factor = d.cache.memo(d.key("chol", tr, None, kernel, float(alpha_t[0])),
                                      lambda tr=tr, kernel=kernel: _chol(d, tr, kernel,
                                                                         alpha_t[0]))
            else:
                factor = None
            if kernel:
                if factor is not None:
                    with single_thread():
                        A = sla.cho_solve(factor, Yc, check_finite=False)
                else:
                    s, V = d.keig(tr)
                    A = V @ eig_coef(s, V.T @ Yc, alpha_t, const0=True)
                P = d.kef_dot(tr, te, A)
            else:
                Xf = d.pstats(tr)[0]
                R = Xf.T @ Yc
                if factor is not None:
                    with single_thread():
                        B = sla.cho_solve(factor, R, check_finite=False)
                else:
                    s, W, _, _ = d.peig(tr)
                    B = W @ eig_coef(s, W.T @ R, alpha_t)
                P = d.xe_dot(tr, te, B)
            P += ym
            out.append(P)
        return out


    def _cross_predict_masked(self, cache: FeatureCache, Y: np.ndarray, valid: np.ndarray,
                              splits):
        """Dual (kernel) ridge on ``train ∩ valid_j`` for every target, one factorisation per
        split (see :mod:`mecbench.mapping.masked`).

        With ``A = K_tt + alpha I`` over all training rows ``t`` (``K`` the layer's globally
        centred Gram matrix) and ``M = A⁻¹``, a target that may use the rows ``S = t \\ D``
        has the dual solution ``(K_SS + alpha I)⁻¹ y_S = [M y₀]_S - M_SD M_DD⁻¹ [M y₀]_D``
        (block inverse; ``y₀`` is ``y`` with zeros on ``D``), zero on ``D``. The unpenalised
        intercept is exact in dual form: ``b = 1ᵀ(A_SS⁻¹ y_S) / 1ᵀ(A_SS⁻¹ 1_S)`` and the dual
        coefficients are ``A_SS⁻¹ (y_S - b)``; predictions are ``K_et a + b``.
        """
        if not self.fit_intercept:
            return None
        alpha_t = per_target(check_nonneg(self.alpha, "alpha"), Y.shape[1], "alpha")
        if not (np.all(alpha_t == alpha_t[0]) and alpha_t[0] > 0):
            return None
        if cache.n_samples > MASKED_MAX_BINS and not cache.use_kernel(
                max(len(tr) for tr, _ in splits)):
            return None  # the all-bin Gram matrix would cost more than it saves

        bk = self._backend()
        return _masked_splits(bk, bk.gram(cache), bk.asarray(Y), valid, splits,
                              float(alpha_t[0]))


#: Above this many bins the masked ridge path (which needs the Gram matrix over all bins)
#: is used only when the kernel form would be used anyway.
MASKED_MAX_BINS = 12_000


def _masked_splits(bk: Backend, K, Y, valid: np.ndarray, splits, alpha: float
                   ) -> list[np.ndarray]:
    """:meth:`Ridge._cross_predict_masked` on backend ``bk`` (``K`` the layer's Gram matrix and
    ``Y`` the targets as arrays of ``bk``): numpy float64 predictions, one array per split."""
    with bk.serial():
        return [bk.to_numpy(_masked_split(bk, K, Y, valid, tr, te, alpha))
                for tr, te in splits]


def _masked_split(bk: Backend, K, Y, valid: np.ndarray, tr: np.ndarray, te: np.ndarray,
                  alpha: float):
    """One split of the masked dual ridge (see :meth:`Ridge._cross_predict_masked`)."""
    n = len(tr)
    tr_i = bk.index(tr)
    K_rows = K[tr_i]  # whole rows: much faster than a 2-D fancy gather
    A = bk.take_columns(K_rows, tr_i)
    bk.add_diag_(A, alpha)
    factor = bk.cho_factor(A)
    U = bk.cho_solve(factor, Y[tr_i])
    v_all = bk.cho_solve(factor, bk.ones(n))
    b = bk.empty(U.shape[1])
    complete = np.ones(U.shape[1], dtype=bool)
    with bk.errstate():
        for cols, D in missing_row_groups(valid[tr]):
            complete[cols] = False
            cols_i, D_i = bk.index(cols), bk.index(D)
            Q = bk.cho_solve(factor, bk.unit_columns(n, D_i))  # columns D of M
            corr = bk.solve_pos(Q[D_i], bk.column_stack([bk.take(U, D_i, cols_i), v_all[D_i]]))
            Ug = U[:, cols_i] - Q @ corr[:, :-1]
            v = v_all - Q @ corr[:, -1]
            b[cols_i] = Ug.sum(axis=0) / v.sum()
            U[:, cols_i] = Ug - bk.outer(v, b[cols_i])
        if complete.any():
            idx = bk.index(np.flatnonzero(complete))
            b[idx] = U[:, idx].sum(axis=0) / v_all.sum()
            U[:, idx] -= bk.outer(v_all, b[idx])
    P = bk.mm(bk.take_columns(K_rows, bk.index(te)).T, U)
    P += b
    return P


def _backend_cross_predict(bk: Backend, cache: FeatureCache, Y: np.ndarray, splits,
                           alpha: float) -> list[np.ndarray]:
    """:meth:`Ridge._cross_predict` with one positive penalty on a backend other than the
    reference: the dual form on the layer's Gram matrix (the masked path with no missing row;
    the unpenalised intercept is exact in it), or the covariance form where that Gram matrix
    over all bins would cost more than it saves."""
    if not splits:
        return []
    Yd = bk.asarray(Y)
    if cache.n_samples <= MASKED_MAX_BINS or cache.use_kernel(max(len(tr) for tr, _ in splits)):
        valid = np.ones(Y.shape, dtype=bool)
        return _masked_splits(bk, bk.gram(cache), Yd, valid, splits, alpha)
    X0 = bk.X0(cache)
    with bk.serial():
        return [bk.to_numpy(_covariance_split(bk, X0, Yd, tr, te, alpha))
                for tr, te in splits]


def _covariance_split(bk: Backend, X0, Y, tr: np.ndarray, te: np.ndarray, alpha: float):
    """Predictions of one split in the covariance (p × p) form, on backend ``bk``."""
    tr_i = bk.index(tr)
    Ytr = Y[tr_i]
    ym = Ytr.mean(axis=0)
    Xf = X0[tr_i]
    mu = Xf.mean(axis=0)
    Xf = Xf - mu
    C = bk.mm(Xf.T, Xf)
    C = 0.5 * (C + C.T)
    bk.add_diag_(C, alpha)
    B = bk.cho_solve(bk.cho_factor(C), Xf.T @ (Ytr - ym))
    P = bk.mm(X0[bk.index(te)], B)
    P -= mu @ B
    P += ym
    return P


def _fit_on(bk: Backend, X: np.ndarray, Y: np.ndarray, alpha: float, intercept: bool
            ) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`Ridge.fit` with one positive penalty on backend ``bk``: numpy float64
    ``(coef (n_targets, n_features), intercept (n_targets,))``."""
    Xd, Yd = bk.asarray(X), bk.asarray(Y)
    n, p = X.shape
    xm = Xd.mean(axis=0) if intercept else bk.zeros((p,))
    ym = Yd.mean(axis=0) if intercept else bk.zeros((Y.shape[1],))
    Xc = Xd - xm
    Yc = Yd - ym
    if p > n:
        M = bk.mm(Xc, Xc.T)
    else:
        M = bk.mm(Xc.T, Xc)
    M = 0.5 * (M + M.T)
    bk.add_diag_(M, alpha)
    factor = bk.cho_factor(M)
    if p > n:
        coef = (Xc.T @ bk.cho_solve(factor, Yc)).T
    else:
        coef = bk.cho_solve(factor, Xc.T @ Yc).T
    return np.ascontiguousarray(bk.to_numpy(coef)), bk.to_numpy(ym - coef @ xm)


def _chol(d: Design, tr, kernel: bool, alpha: float):
    M = d.kff(tr)[0] if kernel else d.pcov(tr)
    A = M.copy()
    A.flat[:: A.shape[0] + 1] += alpha
    try:
        with single_thread():
            return sla.cho_factor(A, lower=True, overwrite_a=True, check_finite=False)
    except np.linalg.LinAlgError:
        return None


class RidgeCV(MappingBase):
    """Ridge with the penalty chosen per target from ``alphas`` on the training rows only.

    ``cv=None``: efficient leave-one-out, the criterion of scikit-learn's ``RidgeCV``
    (mean squared LOO residual per target, exact for ridge with an unpenalised intercept);
    ``cv=k``: k contiguous folds of the training rows (like ``KFold(k)``), summed squared
    validation error per target. All alphas and targets share one eigen-decomposition per fold;
    the cost per alpha is a product with the projected targets.

    Parameters
    ----------
    alphas : sequence of float > 0
    cv : None or int >= 2
    alpha_per_target : bool
        One alpha per target (default) or one shared alpha minimising the mean error.

    Attributes
    ----------
    alpha_ : array (n_targets,) (float for 1-D ``y``)
    coef_, intercept_ : as :class:`Ridge`
    """

    def __init__(self, alphas=DEFAULT_RIDGE_ALPHAS, cv=None, alpha_per_target: bool = True):
        self.alphas = alphas
        self.cv = cv
        self.alpha_per_target = alpha_per_target

    def _check(self) -> tuple[np.ndarray, int | None]:
        alphas = check_nonneg(self.alphas, "alphas").reshape(-1)
        if (alphas <= 0).any():
            raise ConfigError(f"alphas must be > 0; got {self.alphas!r}")
        cv = None if self.cv is None else check_positive_int(self.cv, "cv", minimum=2)
        return alphas, cv

    def fit(self, X, Y):
        """Fit on ``X`` (n_samples, n_features) and ``Y`` (n_samples, n_targets) or (n_samples,)."""
        X, Y, was_1d = fit_design(X, Y)
        alphas, cv = self._check()
        d = Design(FeatureCache(X, max_bytes=1 << 62))
        fit = np.arange(X.shape[0])
        self._check_rows(len(fit), cv)
        ym = Y.mean(axis=0)
        Yc = Y - ym
        alpha_t = _select_alpha(d, fit, Yc, alphas, cv, self.alpha_per_target)
        if d.kernel(len(fit)):
            s, V = d.keig(fit)
            A = V @ eig_coef(s, V.T @ Yc, alpha_t, const0=True)
            coef = (d.cache.X0.T @ A).T
        else:
            Xf = d.pstats(fit)[0]
            s, W, _, _ = d.peig(fit)
            coef = (W @ eig_coef(s, W.T @ (Xf.T @ Yc), alpha_t)).T
        xm = d.cache.X.mean(axis=0)
        self._set_linear(np.ascontiguousarray(coef), ym - coef @ xm, X.shape[1], was_1d)
        self.alpha_ = float(alpha_t[0]) if was_1d else alpha_t
        return self

    @staticmethod
    def _check_rows(n: int, cv: int | None) -> None:
        if cv is None and n < 3:
            raise ConfigError(f"RidgeCV with leave-one-out needs >= 3 training rows; got {n}")
        if cv is not None and n < 2 * cv:
            raise ConfigError(f"cv={cv} needs >= {2 * cv} training rows; got {n}")

    def _cross_predict(self, cache: FeatureCache, Y: np.ndarray, splits):
        alphas, cv = self._check()
        d = Design(cache)
        out = []
        for tr, te in splits:
            self._check_rows(len(tr), cv)
            Ytr = Y[tr]
            ym = Ytr.mean(axis=0)
            Yc = Ytr - ym
            alpha_t = _select_alpha(d, tr, Yc, alphas, cv, self.alpha_per_target)
            if d.kernel(len(tr)):
                s, V = d.keig(tr)
                # dual coefficients first: (Kef V) C costs ne·n² more than Kef (V C) when
                # targets are fewer than test rows
                A = mm(V, eig_coef(s, V.T @ Yc, alpha_t, const0=True))
                P = d.kef_dot(tr, te, A)
            else:
                Xf = d.pstats(tr)[0]
                s, W, _, _ = d.peig(tr)
                P = d.xe_dot(tr, te, W) @ eig_coef(s, W.T @ (Xf.T @ Yc), alpha_t)
            P += ym
            out.append(P)
        return out


def _select_alpha(d: Design, fit, Yc, alphas, cv, per_target_: bool) -> np.ndarray:
    """Per-target (or shared) alpha minimising the CV error on rows ``fit``."""
    if cv is None:
        err = _loo_errors(d, fit, Yc, alphas)
    else:
        err = np.zeros((alphas.size, Yc.shape[1]))
        n = len(fit)
        for val in np.array_split(np.arange(n), cv):
            inner = np.ones(n, bool)
            inner[val] = False
            err += _fold_errors(d, fit[inner], fit[val], alphas)(Yc[inner], Yc[val])
    if per_target_:
        best = np.argmin(err, axis=0)
        return alphas[best]
    return np.full(Yc.shape[1], alphas[int(np.argmin(err.mean(axis=1)))])


def _loo_errors(d: Design, fit, Yc, alphas) -> np.ndarray:
    """Mean squared leave-one-out residual, (n_alphas, n_targets)."""
    n = len(fit)
    err = np.empty((alphas.size, Yc.shape[1]))
    if d.kernel(n):
        s, V = d.keig(fit)
        VtY = V.T @ Yc
        w = 1.0 / (s[:, None] + alphas[None, :])  # (n, n_alphas)
        w[0] = 0.0  # unpenalised intercept
        diag = (V * V) @ w  # (n, n_alphas): diagonal of the hat-complement per alpha
        # LOO residuals for every alpha in one product: V diag(w_k) Vᵀ y, the right-hand
        # sides laid out (eigen-direction, alpha, target) so that no transposed copy is made
        C = mm(V, (w[:, :, None] * VtY[:, None, :]).reshape(n, -1))
        C = C.reshape(n, alphas.size, -1)
        C /= diag[:, :, None]
        C *= C
        err[:] = np.mean(C, axis=0)
    else:
        s, _, keep, U = d.peig(fit)
        sk = s[keep]
        UtY = U.T @ Yc
        U2 = U * U
        for k, a in enumerate(alphas):
            f = sk / (sk + a)
            E = Yc - U @ (f[:, None] * UtY)
            h = 1.0 / n + U2 @ f
            err[k] = np.mean((E / (1.0 - h)[:, None]) ** 2, axis=0)
    return err


def _fold_errors(d: Design, fit, val, alphas):
    """A function of (Y fit rows, Y val rows) -> summed squared validation error per alpha."""
    kernel = d.kernel(len(fit))

    def errors(Yf, Yv):
        ym = Yf.mean(axis=0)
        Yfc = Yf - ym
        R = Yv - ym
        err = np.empty((alphas.size, Yf.shape[1]))
        if kernel:
            s, V = d.keig(fit)
            KvV = d.kefV(fit, val)
            VtY = V.T @ Yfc
        else:
            Xf = d.pstats(fit)[0]
            s, W, _, _ = d.peig(fit)
            KvV = d.xe_dot(fit, val, W)
            VtY = W.T @ (Xf.T @ Yfc)
        for k, a in enumerate(alphas):
            P = KvV @ eig_coef(s, VtY, np.full(Yf.shape[1], a), const0=kernel)
            err[k] = np.sum((R - P) ** 2, axis=0)
        return err

    return errors
