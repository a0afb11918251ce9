"""Small linear-algebra helpers: BLAS thread control and centred kernel blocks.

Small dense LAPACK calls (eigh / Cholesky of a few hundred rows) are much slower with several
BLAS threads than with one on small shared machines, while big GEMMs want every thread; so the
solvers wrap only their small factorisations in :func:`single_thread`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib

import numpy as np
import scipy.linalg as sla
from threadpoolctl import ThreadpoolController

__all__ = [
    "single_thread", "multi_thread", "mm", "shifted_eigh", "index_digest", "eig_coef", "solve_sym",
]


@functools.lru_cache(maxsize=1)
def _controller():
    return ThreadpoolController()


#: BLAS thread counts in effect when each open :func:`single_thread` context was entered
#: (outermost first); :func:`multi_thread` restores the outermost one, so that nesting our
#: own contexts does not lose the caller's count.
_OUTER_THREADS: list[int | None] = []


def _blas_threads() -> int | None:
    try:
        counts = [m["num_threads"] for m in _controller().info() if m["user_api"] == "blas"]
        return max(counts) if counts else None
    except Exception:  # pragma: no cover - threadpoolctl unavailable or broken
        return None


@contextlib.contextmanager
def single_thread():
    """Context manager limiting BLAS/LAPACK to one thread (no-op if threadpoolctl fails).

    The thread count in effect on entry is remembered for :func:`multi_thread`.
    """
    _OUTER_THREADS.append(_blas_threads())
    try:
        try:
            limit = _controller().limit(limits=1, user_api="blas")
        except Exception:  # pragma: no cover - threadpoolctl unavailable or broken
            limit = contextlib.nullcontext()
        with limit:
            yield
    finally:
        _OUTER_THREADS.pop()


def multi_thread():
    """Context manager giving BLAS back the thread count it had when the outermost open
    :func:`single_thread` was entered (a no-op outside one, and when that count was 1, e.g.
    inside a work unit limited to one thread for bit-identical results)."""
    n = _OUTER_THREADS[0] if _OUTER_THREADS else None
    if n is None or n <= 1:
        return contextlib.nullcontext()
    try:
        return _controller().limit(limits=n, user_api="blas")
    except Exception:  # pragma: no cover
        return contextlib.nullcontext()


#: Products below this many multiply-adds run on one BLAS thread: on small shared machines
#: waking a second thread costs more than the product itself.
BIG_PRODUCT = 5e7


def mm(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A @ B`` with all BLAS threads when the product is big, else in the caller's setting."""
    if A.shape[0] * A.shape[-1] * (B.shape[-1] if B.ndim > 1 else 1) >= BIG_PRODUCT:
        with multi_thread():
            return A @ B
    return A @ B


def index_digest(idx: np.ndarray) -> bytes:
    """A short digest identifying an integer index array (order matters)."""
    arr = np.ascontiguousarray(idx, dtype=np.int64)
    return hashlib.blake2b(arr.tobytes(), digest_size=16).digest() + arr.size.to_bytes(8, "little")


def shifted_eigh(Kc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigen-decompose a centred kernel with the constant direction isolated at index 0.

    A centred kernel has the constant vector in its null space, possibly mixed with other null
    directions. Adding ``-g·11ᵀ/n`` (``g > 0``) gives that vector the eigenvalue ``-g`` below
    every other (non-negative) eigenvalue, so after ``eigh`` column 0 is exactly the
    (normalised) constant vector; its eigenvalue is reset to 0. Returns ascending eigenvalues
    ``s`` (clipped at 0) and eigenvectors ``V``.
    """
    n = Kc.shape[0]
    g = max(float(np.trace(Kc)) / n, 1e-300)
    A = Kc - g / n
    with single_thread():
        s, V = sla.eigh(A, driver="evd", overwrite_a=True, check_finite=False)
    s[0] = 0.0
    np.maximum(s, 0.0, out=s)
    return s, V


def eig_coef(s: np.ndarray, VtR: np.ndarray, alpha_t: np.ndarray, *,
             const0: bool = False) -> np.ndarray:
    """Ridge coefficients in an eigenbasis: ``VtR / (s + alpha)`` column by column.

    ``alpha_t`` holds one penalty per column of ``VtR``. Directions whose ``s + alpha`` is
    numerically zero (``alpha == 0`` on the null space) get 0, i.e. the minimum-norm solution.
    With ``const0`` row 0 (the constant direction of a centred kernel) is set to 0.
    """
    denom = s[:, None] + alpha_t[None, :]
    tol = max(float(s.max(initial=0.0)), 1e-300) * s.size * np.finfo(float).eps
    ok = denom > tol
    Z = np.divide(VtR, denom, out=np.zeros_like(VtR, dtype=np.float64), where=ok)
    if const0:
        Z[0] = 0.0
    return Z


def solve_sym(M: np.ndarray, R: np.ndarray, alpha_t: np.ndarray, *,
              centred_kernel: bool = False) -> np.ndarray:
    """Solve ``(M + alpha_j I) x_j = r_j`` for every column ``j`` (``M`` symmetric PSD).

    One Cholesky factorisation when all penalties are equal and positive, else one
    eigen-decomposition shared by all columns (minimum-norm solution where singular).
    ``centred_kernel`` marks ``M`` as a centred kernel whose constant direction is excluded.
    """
    if alpha_t.size and np.all(alpha_t == alpha_t[0]) and alpha_t[0] > 0:
        A = M.copy()
        A.flat[:: A.shape[0] + 1] += alpha_t[0]
        try:
            with single_thread():
                cf = sla.cho_factor(A, lower=True, overwrite_a=True, check_finite=False)
                return sla.cho_solve(cf, R, check_finite=False)
        except np.linalg.LinAlgError:
            pass
    if centred_kernel:
        s, V = shifted_eigh(M)
    else:
        with single_thread():
            s, V = sla.eigh(M, driver="evd", check_finite=False)
        np.maximum(s, 0.0, out=s)
    return V @ eig_coef(s, V.T @ R, alpha_t, const0=centred_kernel)
