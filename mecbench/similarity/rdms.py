"""Representational similarity analysis (RSA) over spatial bins.

A representational dissimilarity matrix (RDM) holds, for every pair of spatial bins, the
dissimilarity of the two population vectors (Kriegeskorte, Mur & Bandettini 2008,
"Representational similarity analysis", Front. Syst. Neurosci.). Two representations are
compared through their RDMs, so their units need not correspond.

Dissimilarities (:func:`rdm`)
-----------------------------
``correlation``
    ``1 - r(x_i, x_j)``, Pearson r between the population vectors of bins ``i`` and ``j``
    (as :func:`scipy.spatial.distance.pdist` with ``"correlation"``).
``euclidean``
    Squared Euclidean distance per column, ``‖x_i - x_j‖² / n_columns``.

Both are a squared distance between (normalised) patterns, ``(u_i - u_j)·(u_i - u_j) / s``:
``u`` is the raw row for ``euclidean`` (``s`` = number of columns) and the row centred and
scaled to unit norm for ``correlation`` (``s = 2``). With two independent estimates of the
patterns (``X`` and ``X2``, e.g. the two halves of a session) the RDM is **cross-validated**:
``(u_i - u_j)·(v_i - v_j) / s`` with ``u`` from one half and ``v`` from the other, the
cross-validated distance estimator (Walther et al. 2016, "Reliability of dissimilarity
measures for multi-voxel pattern analysis", NeuroImage; the crossnobis distance without noise
whitening). Noise independent between the halves adds nothing to its expectation, so noise
does not inflate the distances (for ``euclidean`` exactly; for ``correlation`` up to the
noise in the per-half normalisation). Cross-validated distances may be negative.

Comparisons (:func:`compare_rdms`)
----------------------------------
``spearman``
    Spearman r between the upper triangles (ties get average ranks), as
    :func:`scipy.stats.spearmanr`.
``whitened_cosine``
    Whitened cosine similarity ``d₁ᵀV⁻¹d₂ / sqrt(d₁ᵀV⁻¹d₁ · d₂ᵀV⁻¹d₂)`` of the upper-triangle
    vectors (Diedrichsen et al. 2021, "Comparing representational geometries using whitened
    unbiased-distance-matrix similarity", Neurons, Behavior, Data analysis, and Theory). ``V``
    is the covariance of the distance estimates. We use its noise term for independent,
    identically distributed noise on the bins' patterns, ``V ∝ (C Cᵀ) ∘ (C Cᵀ)`` with ``C`` the
    (pairs × bins) contrast matrix: distances sharing a bin covary, distances on disjoint
    pairs do not; no signal-dependent term and no spatial correlation of the noise.
    ``V = 2 I + B Bᵀ`` (``B = |C|``), so ``V⁻¹ d`` has the closed form
    ``(V⁻¹d)_ij = (D_ij - u_i - u_j) / 2`` with ``u = s / n - 1ᵀs / (2n²)`` and ``s = D 1``
    (Woodbury identity): ``O(n²)`` for ``n`` bins, never a (pairs × pairs) matrix. The same
    ``V`` is used for correlation-distance RDMs. Applied to cross-validated RDMs this is the
    whitened *unbiased* cosine (WUC) of Diedrichsen et al.
"""

from __future__ import annotations

import numpy as np

from mecbench.errors import DataError, UnknownIdentifierError

from ._data import paired_bins

__all__ = ["DISTANCES", "COMPARISONS", "rdm", "compare_rdms", "rsa", "rsa_from_arrays"]

DISTANCES = ("correlation", "euclidean")
COMPARISONS = ("spearman", "whitened_cosine")


def _check_distance(distance: str) -> None:
    if distance not in DISTANCES:
        raise UnknownIdentifierError("RDM distance", distance, DISTANCES)


def _check_finite(A, name: str) -> np.ndarray:
    try:
        arr = np.asarray(A, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise DataError(f"{name} must be a numeric array: {err}") from None
    if arr.ndim != 2 or arr.shape[0] < 2 or arr.shape[1] < 1:
        raise DataError(f"{name} must be 2-D (n_bins >= 2, n_columns >= 1); got shape "
                        f"{arr.shape}")
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=1).sum())
        raise DataError(f"{name} has {bad} bins with NaN or inf; drop unvisited bins first "
                        "(rsa() does)")
    return arr


def _constant_rows(A: np.ndarray) -> np.ndarray:
    """Rows whose spread is below 1e-12 of their magnitude (correlation undefined)."""
    dev = A - A.mean(axis=1, keepdims=True)
    spread = np.sqrt(np.einsum("ij,ij->i", dev, dev))
    return spread <= 1e-12 * np.max(np.abs(A), axis=1) * np.sqrt(A.shape[1])


def _patterns(A: np.ndarray, distance: str) -> np.ndarray:
    if distance == "euclidean":
        return A
    U = A - A.mean(axis=1, keepdims=True)
    U /= np.sqrt(np.einsum("ij,ij->i", U, U))[:, None]
    return U


def _rdm(A: np.ndarray, A2: np.ndarray | None, distance: str) -> np.ndarray:
    """RDM of finite rows (non-constant for ``correlation``), cross-validated with ``A2``."""
    U = _patterns(A, distance)
    scale = A.shape[1] if distance == "euclidean" else 2.0
    if A2 is None:
        G = U @ U.T
        g = np.diag(G).copy()
        D = g[:, None] + g[None, :]
        D -= 2.0 * G
    else:
        G = U @ _patterns(A2, distance).T
        g = np.diag(G).copy()
        D = g[:, None] + g[None, :]
        D -= G
        D -= G.T
    D /= scale
    np.fill_diagonal(D, 0.0)
    return D


def rdm(X, X2=None, *, distance: str = "correlation") -> np.ndarray:
    """Representational dissimilarity matrix over bins.

    Parameters
    ----------
    X : array (n_bins, n_columns)
        Finite responses; one row per bin.
    X2 : array (n_bins, n_columns), optional
        An independent second estimate of ``X`` (e.g. the other half of the session); the
        RDM is then cross-validated between ``X`` and ``X2`` (module docstring).
    distance : {"correlation", "euclidean"}
        ``1 - Pearson r`` between bins' population vectors, or squared Euclidean distance
        divided by the number of columns.

    Returns
    -------
    ndarray (n_bins, n_bins)
        Symmetric with a zero diagonal.

    Raises
    ------
    DataError
        Non-finite values, mismatched shapes, or (``correlation``) a bin whose population
        vector is constant.
    """
    _check_distance(distance)
    A = _check_finite(X, "X")
    A2 = None if X2 is None else _check_finite(X2, "X2")
    if A2 is not None and A2.shape != A.shape:
        raise DataError(f"X2 has shape {A2.shape} but X has {A.shape}")
    if distance == "correlation":
        for name, arr in (("X", A), ("X2", A2)):
            if arr is not None and _constant_rows(arr).any():
                raise DataError(f"{name} has {int(_constant_rows(arr).sum())} bins whose "
                                "population vector is constant: their correlation distance "
                                "is undefined")
    return _rdm(A, A2, distance)


def _upper(D: np.ndarray) -> np.ndarray:
    return D[np.triu_indices(D.shape[0], 1)]


def _whiten(D: np.ndarray) -> np.ndarray:
    """``V⁻¹ d`` in square form (times 2), for ``V = (CCᵀ) ∘ (CCᵀ)`` (module docstring)."""
    n = D.shape[0]
    s = D.sum(axis=1)
    u = s / n - s.sum() / (2.0 * n * n)
    W = D - u[:, None]
    W -= u[None, :]
    np.fill_diagonal(W, 0.0)
    return W


def _rank_pearson(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import rankdata

    ra = rankdata(a)
    rb = rankdata(b)
    ra -= ra.mean()
    rb -= rb.mean()
    den = np.sqrt(float(ra @ ra) * float(rb @ rb))
    return float(ra @ rb) / den if den > 0 else float("nan")


def compare_rdms(D1, D2, *, method: str = "spearman") -> float:
    """Similarity of two RDMs over the same bins.

    Parameters
    ----------
    D1, D2 : array (n_bins, n_bins)
        Symmetric dissimilarity matrices (only the upper triangles are read).
    method : {"spearman", "whitened_cosine"}
        See the module docstring.

    Returns
    -------
    float
        In ``[-1, 1]``, higher is more similar; NaN when an RDM is constant (Spearman) or
        zero (whitened cosine).
    """
    if method not in COMPARISONS:
        raise UnknownIdentifierError("RDM comparison", method, COMPARISONS)
    D1 = np.asarray(D1, dtype=np.float64)
    D2 = np.asarray(D2, dtype=np.float64)
    for name, D in (("D1", D1), ("D2", D2)):
        if D.ndim != 2 or D.shape[0] != D.shape[1] or D.shape[0] < 3:
            raise DataError(f"{name} must be a square (n_bins, n_bins) matrix with n_bins >= 3;"
                            f" got shape {D.shape}")
    if D1.shape != D2.shape:
        raise DataError(f"D1 {D1.shape} and D2 {D2.shape} cover different bins")
    if not (np.isfinite(D1).all() and np.isfinite(D2).all()):
        raise DataError("the RDMs contain non-finite values")
    if method == "spearman":
        return _rank_pearson(_upper(D1), _upper(D2))
    # symmetric inputs: sums over i != j are twice the sums over i < j; the factor cancels
    D1 = 0.5 * (D1 + D1.T)
    D2 = 0.5 * (D2 + D2.T)
    np.fill_diagonal(D1, 0.0)
    np.fill_diagonal(D2, 0.0)
    W1 = _whiten(D1)
    W2 = _whiten(D2)
    num = float(np.einsum("ij,ij->", W1, D2))
    den = float(np.einsum("ij,ij->", W1, D1)) * float(np.einsum("ij,ij->", W2, D2))
    return num / np.sqrt(den) if den > 0 else float("nan")


def rsa_from_arrays(X: np.ndarray, Y: np.ndarray, X2: np.ndarray | None = None,
                    Y2: np.ndarray | None = None, *, distance: str = "correlation",
                    method: str = "spearman") -> float:
    """:func:`rsa` on finite arrays with the same rows (bins whose population vector is
    constant in any input are dropped for the correlation distance); no other checks."""
    _check_distance(distance)
    if distance == "correlation":
        bad = np.zeros(X.shape[0], dtype=bool)
        for A in (X, X2, Y, Y2):
            if A is not None:
                bad |= _constant_rows(A)
        if bad.any():
            keep = ~bad
            X, Y = X[keep], Y[keep]
            X2 = None if X2 is None else X2[keep]
            Y2 = None if Y2 is None else Y2[keep]
    if X.shape[0] < 3:
        return float("nan")
    return compare_rdms(_rdm(X, X2, distance), _rdm(Y, Y2, distance), method=method)


def rsa(X, Y, *, X2=None, Y2=None, distance: str = "correlation",
        method: str = "spearman") -> float:
    """Compare a model's and an animal's RDMs over spatial bins.

    Parameters
    ----------
    X : array (n_bins, n_units), (n_x, n_y, n_units) or rate-map DataArray
        Model responses per bin.
    Y : array (n_bins, n_cells), (n_x, n_y, n_cells) or rate-map DataArray
        Recorded responses of one animal; NaN marks unvisited bins.
    X2, Y2 : array, optional
        Independent second estimates of ``X`` / ``Y`` (e.g. rate maps from the second half
        of the session, ``Y`` holding the first). When given, that representation's RDM is
        cross-validated between its two halves.
    distance : {"correlation", "euclidean"}
        Dissimilarity between bins (module docstring).
    method : {"spearman", "whitened_cosine"}
        RDM comparison (module docstring).

    Returns
    -------
    float
        In ``[-1, 1]``; higher is more similar.

    Notes
    -----
    Bins NaN in any column of any input, and constant columns, are dropped
    (:func:`mecbench.similarity.paired_bins`); for the correlation distance, bins whose
    population vector is constant in any input are dropped as well (their correlation is
    undefined). Cost: ``O(n_bins² · (n_units + n_cells))`` and a few ``n_bins²`` arrays.

    Raises
    ------
    DataError
        Mismatched bins, infinite values, fewer than 3 common bins, all columns constant, or
        (correlation distance) a representation with a single varying column.
    """
    _check_distance(distance)
    if method not in COMPARISONS:
        raise UnknownIdentifierError("RDM comparison", method, COMPARISONS)
    pb = paired_bins(X, Y, X2=X2, Y2=Y2, min_bins=3)
    if distance == "correlation":
        for name, A in (("X", pb.X), ("Y", pb.Y)):
            if A.shape[1] < 2:
                raise DataError(f"{name} has {A.shape[1]} varying column; the correlation "
                                "distance between bins needs at least 2 (use "
                                "distance='euclidean')")
    return rsa_from_arrays(pb.X, pb.Y, pb.X2, pb.Y2, distance=distance, method=method)
