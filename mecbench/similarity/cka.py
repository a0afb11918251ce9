"""Linear centred kernel alignment (CKA) between two representations over spatial bins.

Linear CKA (Kornblith et al. 2019, "Similarity of neural network representations revisited",
ICML) compares the bin-by-bin similarity structures ``K = X Xᵀ`` and ``L = Y Yᵀ`` of two
representations through the Hilbert–Schmidt independence criterion (HSIC):

``CKA(K, L) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))``.

*Biased* CKA uses the plug-in estimator ``HSIC = tr(K H L H) / (n - 1)²`` (``H`` the centring
matrix); for linear kernels it equals ``‖X_cᵀ Y_c‖²_F / (‖X_cᵀ X_c‖_F ‖Y_cᵀ Y_c‖_F)`` with
column-centred ``X_c``, ``Y_c``. It lies in ``[0, 1]`` and is biased upwards when bins are few
compared with units. *Debiased* CKA uses the unbiased HSIC estimator of Song et al. (2012,
"Feature selection via dependence maximization", JMLR 13), as proposed for CKA by Nguyen,
Raghu & Kornblith (2021, "Do wide and deep networks learn the same things?", ICLR); it can be
slightly negative.

Both are invariant to orthogonal transforms and isotropic scaling of either representation,
and to adding a constant to any column.
"""

from __future__ import annotations

import numpy as np

from ._data import paired_bins

__all__ = ["linear_cka", "cka_from_arrays"]


def _gram_sq_norm(A: np.ndarray) -> float:
    """``‖A Aᵀ‖²_F = ‖Aᵀ A‖²_F``, through the smaller of the two Gram matrices (the feature
    form ``AᵀA`` when columns are fewer than rows, the kernel form ``AAᵀ`` otherwise)."""
    G = A.T @ A if A.shape[1] < A.shape[0] else A @ A.T
    return float(np.einsum("ij,ij->", G, G))


def _cross_sq_norm(A: np.ndarray, B: np.ndarray) -> float:
    """``tr(A Aᵀ B Bᵀ) = ‖Aᵀ B‖²_F``: the feature form unless both have more columns than
    rows (then the two n × n kernels are cheaper)."""
    n = A.shape[0]
    if A.shape[1] > n and B.shape[1] > n:
        return float(np.einsum("ij,ij->", A @ A.T, B @ B.T))
    C = A.T @ B
    return float(np.einsum("ij,ij->", C, C))


def _hsic_unbiased(cross: float, dA: np.ndarray, dB: np.ndarray, n: int) -> float:
    """Unbiased HSIC (Song et al. 2012, eq. 5) of the linear kernels of two column-centred
    representations, from ``cross = tr(K L)`` and the kernel diagonals ``dA``, ``dB``.

    With ``K̃``, ``L̃`` the kernels with zeroed diagonals,
    ``HSIC_u = [tr(K̃L̃) + 1ᵀK̃1 1ᵀL̃1 / ((n-1)(n-2)) - 2 1ᵀK̃L̃1 / (n-2)] / (n(n-3))``.
    Centred columns give ``K 1 = 0``, hence ``tr(K̃L̃) = tr(KL) - dA·dB``,
    ``1ᵀK̃1 = -tr K`` and ``K̃ 1 = -dA``.
    """
    tr_kl = cross - float(dA @ dB)
    sums = float(dA.sum()) * float(dB.sum())
    return (tr_kl + sums / ((n - 1) * (n - 2)) - 2.0 * float(dA @ dB) / (n - 2)) / (n * (n - 3))


def cka_from_arrays(X: np.ndarray, Y: np.ndarray, *, debiased: bool = False) -> float:
    """Linear CKA of two finite arrays with the same rows (no bin or column checks).

    See :func:`linear_cka`; this is its core, for callers that checked their inputs.
    """
    n = X.shape[0]
    Xc = X - X.mean(axis=0)
    Yc = Y - Y.mean(axis=0)
    # CKA is scale invariant: unit Frobenius norms keep the fourth powers below in range
    nx = np.sqrt(np.einsum("ij,ij->", Xc, Xc))
    ny = np.sqrt(np.einsum("ij,ij->", Yc, Yc))
    if nx == 0 or ny == 0:
        return float("nan")
    Xc /= nx
    Yc /= ny
    xy = _cross_sq_norm(Xc, Yc)
    xx = _gram_sq_norm(Xc)
    yy = _gram_sq_norm(Yc)
    if not debiased:
        return xy / np.sqrt(xx * yy)
    dx = np.einsum("ij,ij->i", Xc, Xc)
    dy = np.einsum("ij,ij->i", Yc, Yc)
    hxy = _hsic_unbiased(xy, dx, dy, n)
    hxx = _hsic_unbiased(xx, dx, dx, n)
    hyy = _hsic_unbiased(yy, dy, dy, n)
    if hxx <= 0 or hyy <= 0:
        return float("nan")
    return hxy / np.sqrt(hxx * hyy)


def linear_cka(X, Y, *, debiased: bool = False) -> float:
    """Linear CKA between a model's and an animal's responses over spatial bins.

    Parameters
    ----------
    X : array (n_bins, n_units), (n_x, n_y, n_units) or rate-map DataArray
        Model responses per bin.
    Y : array (n_bins, n_cells), (n_x, n_y, n_cells) or rate-map DataArray
        Recorded responses of one animal on the same bins; NaN marks unvisited bins.
    debiased : bool
        Use the unbiased HSIC estimator (Song et al. 2012; Nguyen et al. 2021) instead of the
        biased plug-in one (Kornblith et al. 2019). Needs at least 4 bins.

    Returns
    -------
    float
        Higher is more similar; 1 for representations equal up to an orthogonal transform,
        isotropic scaling and column offsets. Biased CKA lies in ``[0, 1]``; debiased CKA
        is near 0 for unrelated representations and may be slightly negative. NaN when a
        debiased self-similarity estimate is not positive (very few bins).

    Notes
    -----
    Bins NaN in any column of either input are dropped, and so are constant columns
    (:func:`mecbench.similarity.paired_bins`; a constant column contributes nothing to
    centred CKA anyway). The Gram terms are computed in the feature form (``XᵀX``, ``XᵀY``)
    when a representation has fewer columns than bins and in the kernel form (``XXᵀ``)
    otherwise; the cost is ``O(n_bins · min(n_bins, n_units)²)`` at most.

    Raises
    ------
    DataError
        Mismatched bins, infinite values, too few common bins, or all columns constant.
    """
    pb = paired_bins(X, Y, min_bins=4 if debiased else 2)
    return cka_from_arrays(pb.X, pb.Y, debiased=debiased)
