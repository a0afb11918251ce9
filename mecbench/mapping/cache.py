"""FeatureCache: everything that depends only on one layer's features, computed once."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from ._validation import check_X

__all__ = ["FeatureCache"]

DEFAULT_MAX_BYTES = 1 << 30


def _nbytes(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, (tuple, list)):
        return sum(_nbytes(v) for v in value)
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values())
    return 64


class FeatureCache:
    """Wraps one model layer's features ``X`` (n_bins, n_features) for repeated fitting.

    Everything that depends only on ``X`` is computed lazily, once, and reused by every split,
    every animal and every NaN-mask group: the globally centred features ``X0 = X - mean(X)``,
    the Gram matrix ``K = X0 X0ᵀ`` over all bins (used when features outnumber training bins;
    centring by any constant vector leaves every train-centred quantity unchanged and keeps
    ``K`` well conditioned for centring later), and per-split decompositions stored through
    :meth:`memo` (least-recently-used, bounded by ``max_bytes``).

    Parameters
    ----------
    X : array-like (n_bins, n_features)
        Finite features; copied to float64.
    max_bytes : int
        Memory bound of the per-split memo (the Gram matrix is not counted).
    """

    def __init__(self, X: np.ndarray, *, max_bytes: int = DEFAULT_MAX_BYTES):
        self.X = check_X(X, "X")
        self.max_bytes = int(max_bytes)
        self._mean = self.X.mean(axis=0)
        self._X0: np.ndarray | None = None
        self._K: np.ndarray | None = None
        self._memo: OrderedDict[Hashable, Any] = OrderedDict()
        self._memo_bytes = 0
        self._derived: dict[Hashable, Any] = {}
        self._lock = threading.RLock()
        self.stats = {"gram": 0, "memo_hits": 0, "memo_misses": 0}

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def X0(self) -> np.ndarray:
        """``X`` minus its mean over all bins (computed once)."""
        with self._lock:
            if self._X0 is None:
                self._X0 = self.X - self._mean
            return self._X0

    @property
    def gram(self) -> np.ndarray:
        """``K = X0 X0ᵀ`` (n_bins, n_bins), computed once with multithreaded BLAS."""
        with self._lock:
            if self._K is None:
                from ._linalg import multi_thread

                X0 = self.X0
                with multi_thread():
                    K = X0 @ X0.T
                self._K = K
                self.stats["gram"] += 1
            return self._K

    def use_kernel(self, n_train: int) -> bool:
        """Whether the kernel (n×n) form beats the covariance (p×p) form for ``n_train`` rows."""
        return self.n_features > n_train

    def memo(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """Return the cached value for ``key``, computing (and storing) it if absent."""
        with self._lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                self.stats["memo_hits"] += 1
                return self._memo[key]
        value = compute()
        size = _nbytes(value)
        with self._lock:
            self.stats["memo_misses"] += 1
            if size > self.max_bytes:
                return value
            if key not in self._memo:
                self._memo[key] = value
                self._memo_bytes += size
            while self._memo_bytes > self.max_bytes and self._memo:
                _, old = self._memo.popitem(last=False)
                self._memo_bytes -= _nbytes(old)
        return value

    def derived(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """A layer-wide quantity kept for the life of the cache, outside the bounded memo
        (like :attr:`gram`): e.g. the Gram matrix as a torch tensor on a GPU
        (:mod:`mecbench.mapping.backend`). Computed once per ``key``."""
        with self._lock:
            if key not in self._derived:
                self._derived[key] = compute()
            return self._derived[key]

    def clear(self) -> None:
        """Drop every cached quantity (the features themselves stay)."""
        with self._lock:
            self._X0 = None
            self._K = None
            self._derived.clear()
            self._memo.clear()
            self._memo_bytes = 0

    def __repr__(self) -> str:
        return (f"FeatureCache(n_bins={self.n_samples}, n_features={self.n_features}, "
                f"gram={'yes' if self._K is not None else 'no'}, memo={len(self._memo)})")
