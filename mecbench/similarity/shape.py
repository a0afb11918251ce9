"""Generalized shape metrics (Williams, Kunz, Kornblith & Linderman 2021, "Generalized shape
metrics on neural representations", NeurIPS).

Each representation (bins × columns) is mapped to a common dimension ``k`` and partially
whitened; the distance is then the angular Procrustes distance, the smallest angle between the
two over all orthogonal alignments ``Q``:

``θ(X, Y) = min_Q arccos(⟨φ(X), φ(Y) Q⟩ / (‖φ(X)‖_F ‖φ(Y)‖_F))
          = arccos(‖φ(X)ᵀφ(Y)‖_* / (‖φ(X)‖_F ‖φ(Y)‖_F))``

(``‖·‖_*`` the nuclear norm; the optimal ``Q = V Uᵀ`` from the SVD ``φ(X)ᵀφ(Y) = U S Vᵀ``).
``θ`` lies in ``[0, π/2]`` and is a metric on representations modulo the equivalences the
map ``φ`` leaves (translation, rotation and scaling; all invertible linear maps at ``α = 0``),
so it satisfies the triangle inequality when every comparison uses the same ``k``.

The map ``φ`` used here
-----------------------
1. **Centring** of each column over the bins.
2. **PCA to k dimensions**: the scores on the ``k`` leading principal components. By default
   ``k = min(n_units, n_cells, n_bins - 1)``, the largest dimension both representations can
   fill (or ``n_components``). For a representation with ``k`` columns or fewer this is only
   a rotation (plus zero columns); for a wider one it drops the low-variance directions.
3. **Scale**: the scores are scaled so that their mean variance over the ``k`` components is 1
   (makes ``α`` independent of the units of the responses).
4. **Partial whitening** ``Z (α I + (1 - α) C)^{-1/2}`` with ``C`` the covariance of the
   scores (diagonal after PCA, so the whitening is a per-component scaling).
   ``α = 1``: no whitening, Procrustes shape distance. ``α = 0``: full whitening, and
   ``cos θ`` is the mean of the ``k`` canonical correlations (CCA); at ``α = 0``, components
   with variance below 1e-10 of the largest are given weight 0 (pseudo-inverse) rather than
   amplifying rounding noise.

Held-out evaluation
-------------------
:class:`ShapeMetric` fits ``φ`` (means, principal axes, scales) and ``Q`` on training bins;
:meth:`ShapeMetric.score` applies them to other bins, centred on their own mean (the metric
compares configurations modulo translation), and returns
``arccos(⟨φ(X), φ(Y) Q⟩ / (‖φ(X)‖ ‖φ(Y)‖))``, which lies in ``[0, π]``.
"""

from __future__ import annotations

import numbers

import numpy as np

from mecbench.errors import ConfigError, DataError

from ._data import paired_bins

__all__ = ["ShapeMetric", "shape_distance"]

_ALPHA0_RTOL = 1e-10


def _check_alpha(alpha) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 <= alpha <= 1:
        raise ConfigError(f"alpha must be a number in [0, 1] (0: CCA, 1: Procrustes); "
                          f"got {alpha!r}")
    return float(alpha)


def _check_components(n_components) -> int | None:
    if n_components is None:
        return None
    if isinstance(n_components, bool) or not isinstance(n_components, numbers.Integral) \
            or n_components < 1:
        raise ConfigError(f"n_components must be a positive integer or None; "
                          f"got {n_components!r}")
    return int(n_components)


def _top_eigh(G: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest eigenpairs of the symmetric ``G``, largest first (a subset solver
    (MRRR) when ``k`` is small against the size, the full divide-and-conquer one otherwise)."""
    import scipy.linalg as sla

    m = G.shape[0]
    if 3 * k < m:
        w, V = sla.eigh(G, subset_by_index=[m - k, m - 1], driver="evr", check_finite=False)
    else:
        w, V = sla.eigh(G, driver="evd", check_finite=False)
        w, V = w[m - k:], V[:, m - k:]
    return w[::-1], V[:, ::-1]


def _pca(A: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Principal axes ``W`` (n_columns, k) and score variances ``var`` (k,) of the centred
    ``A``, leading first, from the smaller Gram matrix (``AᵀA`` or ``AAᵀ``)."""
    n, p = A.shape
    if p <= n:
        w, W = _top_eigh(A.T @ A, k)
    else:
        w, U = _top_eigh(A @ A.T, k)
        w = np.maximum(w, 0.0)
        sv = np.sqrt(w)
        W = A.T @ U
        nz = sv > 0
        W[:, nz] /= sv[nz]
        W[:, ~nz] = 0.0
    return np.ascontiguousarray(W), np.maximum(w, 0.0) / n


def _weights(var: np.ndarray, alpha: float) -> np.ndarray:
    """Per-component factor of step 3 and 4 of ``φ`` (module docstring)."""
    mean = var.mean()
    if mean <= 0:
        return np.zeros_like(var)
    v = var / mean
    if alpha > 0:
        return 1.0 / np.sqrt(mean * (alpha + (1.0 - alpha) * v))
    out = np.zeros_like(var)
    ok = v > _ALPHA0_RTOL * v.max()
    out[ok] = 1.0 / np.sqrt(mean * v[ok])
    return out


class ShapeMetric:
    """Generalized shape metric with partial whitening ``alpha`` (module docstring).

    Parameters
    ----------
    alpha : float in [0, 1]
        0: CCA-like (full whitening); 1: Procrustes (no whitening).
    n_components : int, optional
        Common dimension ``k``; default ``min(n_units, n_cells, n_bins - 1)`` of the training
        data. Capped at that value.

    Attributes
    ----------
    distance_ : float
        Angular distance on the training bins, in ``[0, π/2]``.
    n_components_ : int
        The ``k`` used.
    rotation_ : ndarray (k, k)
        Optimal orthogonal alignment ``Q`` of ``φ(Y)`` onto ``φ(X)``.

    Examples
    --------
    >>> m = ShapeMetric(alpha=1.0).fit(X[train], Y[train])      # doctest: +SKIP
    >>> m.distance_, m.score(X[test], Y[test])                  # doctest: +SKIP
    """

    def __init__(self, alpha: float = 1.0, n_components: int | None = None):
        self.alpha = alpha
        self.n_components = n_components

    def get_params(self, deep: bool = True) -> dict:
        """Constructor parameters (scikit-learn convention)."""
        return {"alpha": self.alpha, "n_components": self.n_components}

    def _map(self, A: np.ndarray, W: np.ndarray, weights: np.ndarray) -> np.ndarray:
        Ac = A - A.mean(axis=0)
        return (Ac @ W) * weights

    def fit(self, X, Y) -> ShapeMetric:
        """Fit ``φ`` for each representation and the alignment on finite arrays with the
        same rows (``X`` (n_bins, n_units), ``Y`` (n_bins, n_cells))."""
        alpha = _check_alpha(self.alpha)
        n_comp = _check_components(self.n_components)
        X = _finite(X, "X")
        Y = _finite(Y, "Y")
        if X.shape[0] != Y.shape[0]:
            raise DataError(f"X has {X.shape[0]} bins but Y has {Y.shape[0]}")
        n = X.shape[0]
        if n < 2:
            raise DataError(f"a shape metric needs at least 2 bins; got {n}")
        k = min(X.shape[1], Y.shape[1], n - 1)
        if n_comp is not None:
            k = min(k, n_comp)
        Xc = X - X.mean(axis=0)
        Yc = Y - Y.mean(axis=0)
        self.Wx_, varx = _pca(Xc, k)
        self.Wy_, vary = _pca(Yc, k)
        self.wx_ = _weights(varx, alpha)
        self.wy_ = _weights(vary, alpha)
        A = (Xc @ self.Wx_) * self.wx_
        B = (Yc @ self.Wy_) * self.wy_
        U, s, Vt = np.linalg.svd(A.T @ B)
        self.rotation_ = Vt.T @ U.T
        self.n_components_ = k
        den = np.sqrt(np.einsum("ij,ij->", A, A) * np.einsum("ij,ij->", B, B))
        self.distance_ = float(np.arccos(np.clip(s.sum() / den, -1.0, 1.0))) if den > 0 \
            else float("nan")
        return self

    def transform(self, X, Y) -> tuple[np.ndarray, np.ndarray]:
        """``φ(X)`` and ``φ(Y) Q`` (each (n_bins, k)) on other bins with the fitted maps; each
        input is centred on its own mean."""
        if not hasattr(self, "rotation_"):
            raise ConfigError("this ShapeMetric is not fitted yet; call fit(X, Y) first")
        X = _finite(X, "X")
        Y = _finite(Y, "Y")
        for name, A, W in (("X", X, self.Wx_), ("Y", Y, self.Wy_)):
            if A.shape[1] != W.shape[0]:
                raise DataError(f"{name} has {A.shape[1]} columns but the metric was fitted "
                                f"with {W.shape[0]}")
        if X.shape[0] != Y.shape[0]:
            raise DataError(f"X has {X.shape[0]} bins but Y has {Y.shape[0]}")
        return self._map(X, self.Wx_, self.wx_), self._map(Y, self.Wy_, self.wy_) @ \
            self.rotation_

    def score(self, X, Y) -> float:
        """Angular distance (``[0, π]``) between ``X`` and ``Y`` on other bins under the
        fitted maps and alignment; NaN when either is constant there."""
        A, B = self.transform(X, Y)
        den = np.sqrt(np.einsum("ij,ij->", A, A) * np.einsum("ij,ij->", B, B))
        if not den > 0:
            return float("nan")
        return float(np.arccos(np.clip(np.einsum("ij,ij->", A, B) / den, -1.0, 1.0)))


def _finite(A, name: str) -> np.ndarray:
    try:
        arr = np.asarray(A, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise DataError(f"{name} must be a numeric array: {err}") from None
    if arr.ndim != 2 or arr.shape[1] < 1:
        raise DataError(f"{name} must be 2-D (n_bins, n_columns); got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise DataError(f"{name} contains NaN or inf; drop unvisited bins first "
                        "(shape_distance() does)")
    return arr


def shape_distance(X, Y, *, alpha: float = 1.0, n_components: int | None = None) -> float:
    """Angular generalized shape distance between a model's and an animal's responses.

    Parameters
    ----------
    X : array (n_bins, n_units), (n_x, n_y, n_units) or rate-map DataArray
        Model responses per bin.
    Y : array (n_bins, n_cells), (n_x, n_y, n_cells) or rate-map DataArray
        Recorded responses of one animal; NaN marks unvisited bins.
    alpha : float in [0, 1]
        Partial whitening: 0 gives ``arccos`` of the mean canonical correlation (CCA), 1 the
        Procrustes angular distance.
    n_components : int, optional
        Common PCA dimension; default ``min(n_units, n_cells, n_bins - 1)`` after dropping
        constant columns. Use one fixed value across comparisons that must obey the triangle
        inequality.

    Returns
    -------
    float
        Angle in ``[0, π/2]``; **lower is more similar** (0: equal up to the metric's
        equivalences).

    Notes
    -----
    Bins NaN in any column of either input, and constant columns, are dropped
    (:func:`mecbench.similarity.paired_bins`). Cost: one Gram matrix and a partial
    eigendecomposition per representation, ``O(n_bins · n_cols · min(n_bins, n_cols))``.
    """
    pb = paired_bins(X, Y, min_bins=2)
    return ShapeMetric(alpha, n_components).fit(pb.X, pb.Y).distance_
