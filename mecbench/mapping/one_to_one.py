"""One-to-one mapping: each target is predicted by its best-correlated source unit.

The arg-max of every target's Pearson r over the sources needs one product ``Y₀ᵀ X`` of the
centred targets with the sources (the only work of order targets × sources × rows). Big
products are computed in float32 as a screen and every target's candidates are re-checked in
float64; the screen is exact, not a heuristic. With powers of two scaling every column to a
maximum magnitude in [0.5, 1) (exact), a float32 product of ``n`` rows is within
``γ = (n + 8) u / (1 - (n + 8) u)`` (``u = 2⁻²⁴``; the standard bound for any summation order,
the rounding of the inputs and of the scaling included) times ``Σ|y||x| ≤ ‖y‖ ‖x‖`` of the
exact product, plus a term for float32 underflow. Every source whose screened score could
still be the maximum is a candidate, and the candidates' correlations are recomputed in
float64, so the chosen source is the one float64 correlations rank first (sources within
float64 rounding of each other are ordered by the re-check's rounding, as they were by a
float64 product's): constant sources are never chosen, ties go to the lowest index (equal
columns give bit-equal re-checked values), constant targets get -1. A target with many
candidates (near-equal sources) is decided by its float64 product row, and sources whose
bound is wide (variance on a target's rows tiny against their norm) are always re-checked.
"""

from __future__ import annotations

import contextlib

import numpy as np

from mecbench.errors import DataError

from ._linalg import BIG_PRODUCT, mm, multi_thread
from ._validation import check_X
from .base import Design, MappingBase, fit_design
from .cache import FeatureCache
from .masked import missing_row_groups

__all__ = ["OneToOne", "best_sources"]

#: Products of at least this many multiply-adds (targets × sources × rows) are screened in
#: float32; smaller ones are computed in float64 directly.
SCREEN_MIN_WORK = 5e7
#: A target with more float32 candidates than this is decided by its float64 product row.
MAX_CANDIDATES = 64
#: Sources whose float32 error bound is this many times a well-conditioned source's (variance
#: on a target's rows tiny against their norm) skip the screen: always re-checked in float64.
WIDE_RHO = 16.0
#: Targets whose screened scores are post-processed together (a block stays in cache).
_BLOCK = 128
#: Rows of X copied together when gathering the chosen columns (about 1 MB at 4096 units).
_TAKE_ROWS = 32
_U32 = 2.0 ** -24
_UNDERFLOW = 2.0 ** -149


def _centred(X: np.ndarray) -> np.ndarray:
    """A float64 copy of ``X`` with every column centred."""
    Xc = np.array(X, dtype=np.float64)
    Xc -= Xc.mean(axis=0)
    return Xc


class _Buffers:
    """Arrays reused across the splits of one call: fresh pages for every split's big
    temporaries cost about as much as a pass over them."""

    def __init__(self):
        self._flat: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        size = int(np.prod(shape))
        flat = self._flat.get(name)
        if flat is None or flat.size < size or flat.dtype != np.dtype(dtype):
            flat = self._flat[name] = np.empty(size, dtype=dtype)
        return flat[:size].reshape(shape)


class _Sources:
    """Float64 source rows ``X[rows] - shift`` (every row if ``rows`` is None; no shift if
    ``shift`` is None), copied out whole only when a float64 product needs them all."""

    def __init__(self, X: np.ndarray, rows: np.ndarray | None = None,
                 shift: np.ndarray | None = None):
        self.X, self.rows, self.shift = X, rows, shift
        self.shape = (X.shape[0] if rows is None else rows.size, X.shape[1])
        self._full = X if rows is None and shift is None else None

    def full(self) -> np.ndarray:
        if self._full is None:
            self._full = self.block(np.arange(self.shape[0]))
        return self._full

    def columns(self, cols: np.ndarray) -> np.ndarray:
        """Columns ``cols`` of every row."""
        if self._full is not None:
            return self._full.take(cols, axis=1)
        return self.block(np.arange(self.shape[0]), cols)

    def block(self, which: np.ndarray, cols: np.ndarray | None = None) -> np.ndarray:
        """Rows ``which`` (positions or a boolean mask), all columns or ``cols``."""
        pos = np.flatnonzero(which) if which.dtype == bool else which
        rows = pos if self.rows is None else self.rows[pos]
        out = self.X[rows] if cols is None else self.X[np.ix_(rows, cols)]
        if self.shift is not None:
            out -= self.shift if cols is None else self.shift[cols]
        return out


def _row_sums(X: np.ndarray, rows: np.ndarray, shift: np.ndarray, scale: np.ndarray,
              out32: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column sums and sums of squares of ``X[rows] - shift``, and ``(X[rows] - shift) *
    scale`` in float32 into ``out32``, in one pass over blocks of rows (each block in cache
    for all three)."""
    p = X.shape[1]
    sx, sxx = np.zeros(p), np.zeros(p)
    block = np.empty((min(_TAKE_ROWS, rows.size), p))
    for s in range(0, rows.size, _TAKE_ROWS):
        e = min(s + _TAKE_ROWS, rows.size)
        B = np.take(X, rows[s:e], axis=0, mode="clip", out=block[:e - s])
        B -= shift
        sx += B.sum(axis=0)
        sxx += np.einsum("ij,ij->j", B, B)
        np.multiply(B, scale, out=out32[s:e], casting="same_kind")
    return sx, sxx


def _source_inv_sd(X: np.ndarray, Xc: np.ndarray) -> np.ndarray:
    """``1 / ‖xc‖`` per column of the centred ``Xc``; NaN for constant columns of ``X``
    (peak-to-peak 0) and columns whose spread underflows."""
    ss = np.einsum("ij,ij->j", Xc, Xc)
    out = np.full(ss.shape, np.nan)
    ok = (np.ptp(X, axis=0) > 0) & (ss > 0)
    out[ok] = 1.0 / np.sqrt(ss[ok])
    return out


def best_sources(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Index of the source column of ``X`` (n, p) with the highest Pearson r for each target
    column of ``Y`` (n, t) (-1 if none).

    Constant sources (peak-to-peak 0) are never chosen, ties go to the lowest index, constant
    targets get -1.
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    Xc = _centred(X)
    return _best_from_centred(Xc, _source_inv_sd(X, Xc), Y)


def _best_from_centred(Xc: np.ndarray, inv_sd: np.ndarray, Y: np.ndarray) -> np.ndarray:
    Y0 = _centred(Y)
    targets = np.flatnonzero(np.ptp(Y, axis=0) > 0)
    return _best_per_target(Y0, Xc, [(targets, inv_sd)], Y.shape[1])


def _pow2(A: np.ndarray) -> np.ndarray:
    """Per column the power of two ``2⁻ᵉ`` that brings its largest magnitude into [0.5, 1)
    (1 for all-zero columns); scaling by it is exact."""
    _, e = np.frexp(np.abs(A).max(axis=0))
    return np.ldexp(1.0, -e)


def _best_per_target(Y0: np.ndarray, X: np.ndarray | _Sources, groups, n_targets: int, *,
                     xnorm2: np.ndarray | None = None, x32: np.ndarray | None = None,
                     scale: np.ndarray | None = None, buffers: _Buffers | None = None
                     ) -> np.ndarray:
    """Per target, the arg-max over sources ``j`` of ``(Y0[:, t] · X[:, j]) inv_sd[j]``.

    ``Y0`` (n, n_targets) holds targets centred on their rows and zero elsewhere (each column
    sums to zero, so any shift of ``X``'s columns leaves the products unchanged); ``groups`` is
    a list of ``(targets, inv_sd)``, ``inv_sd`` (p,) NaN for sources never chosen for those
    targets. Targets in no group, and targets whose every source is NaN, get -1; ties go to the
    lowest index. ``xnorm2`` (the squared column norms of ``X``), ``scale`` (per column a
    power of two bringing the column's magnitudes to at most 1), ``x32`` (``X * scale`` in
    float32, given with ``scale``) and ``buffers`` save passes.

    Small products are computed in float64 (:func:`_best_float64`); big ones are screened in
    float32 (:func:`_screen_products`), then per group the screened scores give each target's
    top source and near-ties (:func:`_best_in_group`, :func:`_screen_scores`), re-checked in
    float64 where the error bound leaves the arg-max open (:func:`_recheck`).
    """
    X = X if isinstance(X, _Sources) else _Sources(X)
    best = np.full(n_targets, -1, dtype=np.intp)
    groups = [(np.asarray(t, dtype=np.intp), s) for t, s in groups
              if len(t) and not np.isnan(s).all()]
    if not groups:
        return best
    n, p = X.shape
    used = np.concatenate([t for t, _ in groups])
    bounds = np.cumsum([0] + [t.size for t, _ in groups])  # group k: rows bounds[k]:bounds[k+1]
    if n * p * used.size < SCREEN_MIN_WORK or (n + 8) * _U32 > 1e-3:
        _best_float64(Y0, X, groups, used, bounds, best)
        return best
    C32, ynorm, sx, xnorm = _screen_products(Y0, X, used, xnorm2=xnorm2, x32=x32, scale=scale,
                                             buffers=buffers)
    for k, (t, inv_sd) in enumerate(groups):
        rows = slice(bounds[k], bounds[k + 1])
        _best_in_group(Y0, X, t, inv_sd, C32[rows], ynorm[rows], sx, xnorm, best)
    return best


def _best_float64(Y0: np.ndarray, X: _Sources, groups, used: np.ndarray, bounds: np.ndarray,
                  best: np.ndarray) -> None:
    """Float64 directly: one product for all targets, each row scaled and arg-maxed."""
    C = mm(np.ascontiguousarray(Y0[:, used].T), X.full())
    for k, (t, inv_sd) in enumerate(groups):
        best[t] = _argmax_scaled(C[bounds[k]:bounds[k + 1]], inv_sd)


def _screen_products(Y0: np.ndarray, X: _Sources, used: np.ndarray, *,
                     xnorm2: np.ndarray | None, x32: np.ndarray | None,
                     scale: np.ndarray | None, buffers: _Buffers | None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Float32 products of targets ``used`` and sources, both power-of-two scaled, and norms."""
    n, p = X.shape
    Ys = Y0[:, used]
    Ys *= _pow2(Ys)
    ynorm = np.sqrt(np.einsum("ij,ij->j", Ys, Ys))
    buffers = buffers or _Buffers()
    if x32 is None:
        sx = _pow2(X.full()) if scale is None else scale
        x32 = np.multiply(X.full(), sx, out=buffers.get("x32", X.shape, np.float32),
                          casting="same_kind")
    else:
        sx = scale
    C32 = buffers.get("c32", (used.size, p), np.float32)
    with multi_thread() if used.size * n * p >= BIG_PRODUCT else contextlib.nullcontext():
        np.matmul(np.ascontiguousarray(Ys.T, dtype=np.float32), x32, out=C32)
    del Ys
    xnorm = np.sqrt(np.einsum("ij,ij->j", X.full(), X.full()) if xnorm2 is None else xnorm2)
    return C32, ynorm, sx, xnorm


def _best_in_group(Y0: np.ndarray, X: _Sources, t: np.ndarray, inv_sd: np.ndarray,
                   C32: np.ndarray, ynorm: np.ndarray, sx: np.ndarray, xnorm: np.ndarray,
                   best: np.ndarray) -> None:
    """Arg-max of one group's targets ``t`` from their screened rows ``C32`` (scaled in place)."""
    n = X.shape[0]
    excluded = np.isnan(inv_sd)
    inv = np.where(excluded, 0.0, inv_sd)
    rho = xnorm * inv  # the float32 error bound of source j relative to |r| <= 1
    wide = ~excluded & ~(rho <= WIDE_RHO)
    off = excluded | wide
    w = np.where(off, 0.0, inv / sx)
    if wide.sum() > MAX_CANDIDATES // 2 or not (w.max() < 1e30) or off.all():
        C = mm(np.ascontiguousarray(Y0[:, t].T), X.full())
        best[t] = _argmax_scaled(C, inv_sd)
        return
    g = (n + 8) * _U32
    gamma = g / (1.0 - g) * (1.0 + 1e-6)
    slack = 2.0 * (gamma * rho[~off].max() * ynorm
                   + 3.0 * (n + 1) * _UNDERFLOW * w.max())
    top_j, ni, nj = _screen_scores(C32, w.astype(np.float32), np.flatnonzero(off), slack)
    wide_idx = np.flatnonzero(wide)
    if not ni.size and not wide_idx.size:
        best[t] = top_j  # one candidate each: the float32 arg-max is the arg-max
        return
    _recheck(Y0, X, t, inv_sd, top_j, ni, nj, wide_idx, best)


def _screen_scores(C32: np.ndarray, w32: np.ndarray, off_idx: np.ndarray, slack: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per target the float32 top source and the (target, source) pairs within ``slack`` of it."""
    nt = C32.shape[0]
    top_j = np.empty(nt, dtype=np.intp)
    near_i, near_j = [], []  # other sources within the bound of a target's top score
    for b0 in range(0, nt, _BLOCK):
        S = C32[b0:min(b0 + _BLOCK, nt)]  # a view
        S *= w32
        if off_idx.size:
            S[:, off_idx] = -np.inf
        rows = np.arange(S.shape[0])
        jb = np.argmax(S, axis=1)
        top = S[rows, jb].astype(np.float64)
        thr = np.nextafter((top - slack[b0:b0 + S.shape[0]]).astype(np.float32),
                           np.float32(-np.inf))
        top_j[b0:b0 + S.shape[0]] = jb
        S[rows, jb] = -np.inf
        tied = np.flatnonzero(S.max(axis=1) >= thr)  # near-ties only: rare
        if tied.size:
            ri, rj = np.nonzero(S[tied] >= thr[tied, None])
            near_i.append(b0 + tied[ri])
            near_j.append(rj)
    ni = np.concatenate(near_i) if near_i else np.empty(0, dtype=np.intp)
    nj = np.concatenate(near_j) if near_j else np.empty(0, dtype=np.intp)
    return top_j, ni, nj


def _recheck(Y0: np.ndarray, X: _Sources, t: np.ndarray, inv_sd: np.ndarray,
             top_j: np.ndarray, ni: np.ndarray, nj: np.ndarray, wide_idx: np.ndarray,
             best: np.ndarray) -> None:
    """Decide targets ``t`` among their float32 candidates by float64 correlations."""
    # every target to re-check: its top source, its near sources and every wide source
    recheck = np.zeros(t.size, dtype=bool)
    recheck[ni] = True
    if wide_idx.size:
        recheck[:] = True
    count = np.bincount(ni, minlength=t.size) + 1 + wide_idx.size
    heavy = recheck & (count > MAX_CANDIDATES)
    if heavy.any():  # many near-equal sources: the float64 product row decides
        th = t[heavy]
        best[th] = _argmax_scaled(mm(np.ascontiguousarray(Y0[:, th].T), X.full()),
                                  inv_sd)
    simple = ~recheck
    best[t[simple]] = top_j[simple]
    todo = np.flatnonzero(recheck & ~heavy)
    if not todo.size:
        return
    keep = ~heavy[ni]
    ii = np.concatenate([todo, ni[keep], np.repeat(todo, wide_idx.size)])
    jj = np.concatenate([top_j[todo], nj[keep], np.tile(wide_idx, todo.size)])
    vals = _pair_products(Y0, X, t[ii], jj) * inv_sd[jj]
    order = np.lexsort((jj, -vals, ii))
    first = np.ones(order.size, dtype=bool)
    first[1:] = ii[order[1:]] != ii[order[:-1]]
    best[t[ii[order[first]]]] = jj[order[first]]


def _pair_products(Y0: np.ndarray, X: _Sources, tt: np.ndarray, jj: np.ndarray,
                   chunk: int = 1 << 22) -> np.ndarray:
    """``Y0[:, tt[k]] · X[:, jj[k]]`` for every pair ``k``, in float64, each summed in row
    order (equal columns give bit-equal values)."""
    out = np.empty(tt.size)
    step = max(1, chunk // max(1, Y0.shape[0]))
    for s in range(0, tt.size, step):
        a = Y0.take(tt[s:s + step], axis=1)
        a *= X.columns(jj[s:s + step])
        out[s:s + step] = a.sum(axis=0)
    return out


def _argmax_scaled(cov: np.ndarray, inv_sd: np.ndarray) -> np.ndarray:
    """Arg-max over sources (columns) of ``cov * inv_sd`` per target (row), overwriting
    ``cov``; -1 where every source is excluded (``inv_sd`` NaN: never chosen)."""
    const = np.isnan(inv_sd)
    if const.all():
        return np.full(cov.shape[0], -1, dtype=np.intp)
    cov *= np.where(const, 0.0, inv_sd)
    if const.any():
        cov[:, const] = -np.inf
    return np.argmax(cov, axis=1)


class OneToOne(MappingBase):
    """Per target, the source column with the highest Pearson r on the training rows.

    The prediction is that column's raw values (the reference's ``corr`` map; no rescaling).
    Constant source columns are never chosen (r is undefined); ties go to the lowest index.
    A constant target (or all-constant sources) is predicted by its training mean and gets
    ``best_source_ = -1``.

    Attributes
    ----------
    best_source_ : int array (n_targets,) (int for 1-D ``y``)
    """

    def __init__(self):
        pass

    def fit(self, X, Y):
        """Choose the source for each target of ``Y`` from ``X``'s columns."""
        X, Y, was_1d = fit_design(X, Y)
        best = best_sources(X, Y)
        self._best = best
        self._mean = Y.mean(axis=0)
        self.best_source_ = int(best[0]) if was_1d else best
        self.n_features_in_ = X.shape[1]
        self._y_1d = was_1d
        return self

    def predict(self, X) -> np.ndarray:
        """The chosen source columns of ``X`` (training mean for targets with no source)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "best_source_")
        X = check_X(X)
        if X.shape[1] != self.n_features_in_:
            raise DataError(f"X has {X.shape[1]} features but the mapping was fitted with "
                            f"{self.n_features_in_}")
        P = _take(X, self._best, self._mean)
        return P[:, 0] if self._y_1d else P

    def _cross_predict(self, cache: FeatureCache, Y: np.ndarray, splits):
        d = Design(cache)
        out = []
        for tr, te in splits:
            def centred(tr=tr):
                Xc = _centred(cache.X0[tr])
                return Xc, _source_inv_sd(cache.X0[tr], Xc)

            Xc, inv_sd = cache.memo(d.key("centred-sources", tr), centred)
            best = _best_from_centred(Xc, inv_sd, Y[tr])
            out.append(_take(cache.X, best, Y[tr].mean(axis=0), te))
        return out

    def _cross_predict_masked(self, cache: FeatureCache, Y: np.ndarray, valid: np.ndarray,
                              splits):
        """Best source per target on ``train ∩ valid_j``, one product per split.

        With ``y₀`` the target centred on its valid training rows ``S`` and zero elsewhere,
        ``xᵀy₀`` is the covariance of any source ``x`` with ``y`` over ``S`` (no centring of
        ``x`` needed), so one product ``X_tᵀ Y₀`` serves every target; the sources' variances
        over ``S`` are their variances over all training rows downdated by the few rows the
        target misses (near-constant ones re-checked exactly). Pearson r only rescales the
        covariance per target, so the arg-max needs ``cov / sd_x``. Constant sources
        (peak-to-peak 0 on ``S``) are never chosen.
        """
        out = []
        buffers = _Buffers()
        # the rows are centred on the mean over all bins (as FeatureCache.X0, without that
        # copy of the layer): keeps the variance downdates well conditioned; per source a
        # power of two bringing the centred magnitudes to at most 1 (x - m is monotone in x)
        def shift_scale():
            m = cache.X.mean(axis=0)
            return m, _pow2(np.maximum(cache.X.max(axis=0) - m, m - cache.X.min(axis=0))[None])

        mean, scale = cache.memo(("one-to-one", "centring"), shift_scale)
        for tr, te in splits:
            Xt = _Sources(cache.X, tr, mean)
            x32 = buffers.get("x32", Xt.shape, np.float32)
            sx, sxx = _row_sums(cache.X, tr, mean, scale, x32)
            Wt = valid[tr]
            Yt = Y[tr]
            n_s = Wt.sum(axis=0)
            with np.errstate(divide="ignore", invalid="ignore"):
                ybar = Yt.sum(axis=0) / n_s
            Y0 = np.where(Wt, Yt - ybar, 0.0)
            hi = np.where(Wt, Yt, -np.inf).max(axis=0)
            lo = np.where(Wt, Yt, np.inf).min(axis=0)
            varying = hi > lo  # constant targets get -1 (as :func:`best_sources`)
            groups = []
            complete = varying.copy()
            for cols, D in missing_row_groups(Wt):
                complete[cols] = False
                XD = Xt.block(D)
                inv_sd = _inv_sd(Xt, D, sxx - np.einsum("ij,ij->j", XD, XD),
                                 sx - XD.sum(axis=0), sxx)
                groups.append((cols[varying[cols]], inv_sd))
            if complete.any():
                groups.append((np.flatnonzero(complete), _inv_sd(Xt, None, sxx, sx, sxx)))
            best = _best_per_target(Y0, Xt, groups, Y.shape[1], xnorm2=sxx, x32=x32,
                                    scale=scale, buffers=buffers)
            out.append(_take(cache.X, best, ybar, te))
        return out


def _inv_sd(Xt: _Sources, missing: np.ndarray | None, sxx: np.ndarray, sx: np.ndarray,
            sxx_all: np.ndarray) -> np.ndarray:
    """``1 / sqrt(sum of squared deviations)`` of each column of ``Xt`` over its rows minus
    ``missing``, from the raw sums ``sxx`` and ``sx`` over those rows; NaN for constant
    columns.

    Downdated sums carry rounding errors relative to ``sxx_all`` (the sums before the
    downdate), so columns whose variance is tiny against it are re-checked on the rows
    themselves: exactly constant (peak-to-peak 0, as :func:`best_sources`) or not."""
    n = Xt.shape[0] - (0 if missing is None else missing.size)
    ss = sxx - sx * sx / max(n, 1)
    suspect = np.flatnonzero(ss <= 1e-8 * sxx_all)
    if suspect.size:
        keep = np.ones(Xt.shape[0], dtype=bool)
        if missing is not None:
            keep[missing] = False
        sub = Xt.block(keep, suspect)
        dev = sub - sub.mean(axis=0)
        ss[suspect] = np.where(np.ptp(sub, axis=0) == 0, 0.0, np.einsum("ij,ij->j", dev, dev))
    out = np.full_like(ss, np.nan)
    ok = ss > 0
    out[ok] = 1.0 / np.sqrt(ss[ok])
    return out


def _take(X: np.ndarray, best: np.ndarray, mean: np.ndarray,
          rows: np.ndarray | None = None) -> np.ndarray:
    """Columns ``best`` of ``X`` (at ``rows`` if given); -1 columns get ``mean``."""
    # a block of whole rows at a time (a sequential read), then the columns from the block
    # while it is in cache: column gathers straight from a large X wait on memory for every
    # element, and a transposed copy of X for row gathers doubles the layer's memory
    idx = np.maximum(best, 0)
    n = X.shape[0] if rows is None else rows.size
    P = np.empty((n, best.size))
    block = np.empty((min(_TAKE_ROWS, n), X.shape[1]), dtype=X.dtype)
    for s in range(0, n, _TAKE_ROWS):
        e = min(s + _TAKE_ROWS, n)
        src = X[s:e] if rows is None else np.take(X, rows[s:e], axis=0, mode="clip",
                                                  out=block[:e - s])
        np.take(src, idx, axis=1, mode="clip", out=P[s:e])
    none = best < 0
    if none.any():
        P[:, none] = mean[none]
    return P
