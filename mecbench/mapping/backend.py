"""Array backends of the mapping engine: numpy (the default) and torch (CPU or CUDA).

The exact ridge path (:class:`mecbench.mapping.Ridge` through
:func:`~mecbench.mapping.cross_predict` and :func:`~mecbench.mapping.cross_predict_masked`,
i.e. every ridge score of :mod:`mecbench.predictivity` and the benchmarks) is written once
against the handful of array operations of :class:`Backend`: conversion (``asarray``,
``index``, ``to_numpy``), creation (``zeros``, ``ones``, ``empty``, ``unit_columns``),
products (``mm``, ``outer``, the layer's Gram matrix ``gram``), a Cholesky factorisation and
its solves (``cho_factor``, ``cho_solve``, ``solve_pos``), ``add_diag_``, ``take`` and
``column_stack``. Slicing, ``@``, ``+``/``-``/``*``/``/``, ``.T``, ``.sum(axis=0)`` and
``.mean(axis=0)`` are written directly: numpy arrays and torch tensors both accept them.

* :class:`NumpyBackend` calls scipy's LAPACK wrappers under the BLAS thread control of
  :mod:`._linalg`, like the rest of the engine; in float64 its results are the engine's
  reference numbers. It also runs in float32.
* :class:`TorchBackend` runs the same code on torch tensors on ``cpu`` or ``cuda[:N]``, in
  float64 (equal to numpy up to float rounding; the tests check 1e-10) or float32 (Pearson r
  within 1e-4). torch is imported only inside its methods: it is an optional, heavy
  dependency.

Whatever the backend, callers get numpy float64 arrays back. Parts of the ridge engine not on
the seam (per-target penalties, ``alpha=0``, :class:`~mecbench.mapping.RidgeCV`, the other
mappings) run numpy in float64 whatever is selected.

Selection, first match wins: the ``backend`` parameter of :class:`~mecbench.mapping.Ridge`
(a :class:`Backend`, or a text ``NAME[:DEVICE][:DTYPE]`` such as ``"torch"``,
``"torch:cuda:1"`` or ``"torch:cpu:float32"``; parts left out come from the environment),
else the environment variables :data:`ENV_BACKEND` (``numpy`` | ``torch``),
:data:`ENV_DEVICE` (``cpu`` | ``cuda`` | ``cuda:N``) and :data:`ENV_DTYPE` (``float64`` |
``float32``), else numpy on the CPU in float64. Worker processes inherit the environment of
the process that starts them.

Cache keys: a float64 backend on the CPU gives the same numbers up to float rounding, which
mecbench already treats as "another machine" (identities never depend on the last bits), so
it shares the default's keys; float32 and GPU results differ by more, and
:meth:`Backend.cache_key` names them so that they are stored apart and never served as the
default's (:meth:`mecbench.benchmarks.Benchmark.key_parts` adds it when it is not None).
"""

from __future__ import annotations

import abc
import contextlib
import functools
import os
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.linalg as sla

from mecbench.errors import ConfigError, UnknownIdentifierError

from ._linalg import BIG_PRODUCT, mm, multi_thread

__all__ = [
    "Backend", "NumpyBackend", "TorchBackend", "get_backend", "backend_cache_key",
    "BACKEND_NAMES", "DTYPES", "ENV_BACKEND", "ENV_DEVICE", "ENV_DTYPE", "ENV_VARS",
]

#: Environment variable choosing the backend: ``numpy`` (default) or ``torch``.
ENV_BACKEND = "MECBENCH_BACKEND"
#: Environment variable choosing the device: ``cpu`` (default), ``cuda`` or ``cuda:N``.
ENV_DEVICE = "MECBENCH_DEVICE"
#: Environment variable choosing the float type: ``float64`` (default) or ``float32``.
ENV_DTYPE = "MECBENCH_DTYPE"
ENV_VARS = (ENV_BACKEND, ENV_DEVICE, ENV_DTYPE)

BACKEND_NAMES = ("numpy", "torch")
DTYPES = ("float64", "float32")
_DEVICE_RE = re.compile(r"^(cpu|cuda(:\d+)?)$")


class Backend(abc.ABC):
    """The array operations of the exact ridge path on one library, device and float type.

    Instances compare equal and hash by ``(name, device, dtype)`` and pickle without holding
    any library object, so they travel to worker processes.
    """

    name: str = ""

    def __init__(self, device: str = "cpu", dtype: str = "float64"):
        self.device = device
        self.dtype = dtype

    @property
    def ident(self) -> str:
        """``name:device:dtype``, e.g. ``"torch:cuda:0:float32"``."""
        return f"{self.name}:{self.device}:{self.dtype}"

    @property
    def is_reference(self) -> bool:
        """True for numpy in float64: the engine's reference numbers, bit for bit."""
        return self.name == "numpy" and self.dtype == "float64"

    def cache_key(self) -> str | None:
        """None when results equal the reference up to float rounding (float64 on the CPU),
        else :attr:`ident`: such results must be cached apart from the reference."""
        if self.dtype == "float64" and self.device == "cpu":
            return None
        return self.ident

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Backend) and self.ident == other.ident

    def __hash__(self) -> int:
        return hash(self.ident)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(device={self.device!r}, dtype={self.dtype!r})"

    # conversion ---------------------------------------------------------------------------
    @abc.abstractmethod
    def asarray(self, x) -> Any:
        """``x`` as an array of this backend (no copy when it already is one)."""

    @abc.abstractmethod
    def index(self, idx: np.ndarray) -> Any:
        """Integer row indices (numpy) as an index of this backend."""

    @abc.abstractmethod
    def to_numpy(self, x) -> np.ndarray:
        """``x`` as a numpy float64 array."""

    # creation -----------------------------------------------------------------------------
    @abc.abstractmethod
    def zeros(self, shape: tuple[int, ...]) -> Any:
        """An array of zeros."""

    @abc.abstractmethod
    def ones(self, n: int) -> Any:
        """A vector of ``n`` ones."""

    @abc.abstractmethod
    def empty(self, n: int) -> Any:
        """An uninitialised vector of ``n`` values."""

    def unit_columns(self, n: int, rows) -> Any:
        """The (n, len(rows)) matrix whose column ``k`` is the unit vector ``e_rows[k]``."""
        E = self.zeros((n, len(rows)))
        E[rows, self._arange(len(rows))] = 1.0
        return E

    @abc.abstractmethod
    def _arange(self, n: int) -> Any:
        """``0 .. n-1`` as an index of this backend."""

    # products and solves ------------------------------------------------------------------
    @abc.abstractmethod
    def mm(self, A, B) -> Any:
        """``A @ B`` (numpy: with every BLAS thread when the product is big)."""

    @abc.abstractmethod
    def outer(self, a, b) -> Any:
        """Outer product of two vectors."""

    @abc.abstractmethod
    def column_stack(self, arrays: Sequence[Any]) -> Any:
        """1-D and 2-D arrays side by side as columns."""

    @abc.abstractmethod
    def take(self, A, rows, cols) -> Any:
        """The block ``A[rows][:, cols]`` (a copy)."""

    def take_columns(self, A, cols) -> Any:
        """The columns ``A[:, cols]`` (a copy)."""
        return A[:, cols]

    @abc.abstractmethod
    def add_diag_(self, A, value: float) -> None:
        """Add ``value`` to the diagonal of the square ``A`` in place."""

    @abc.abstractmethod
    def cho_factor(self, A) -> Any:
        """Cholesky factor of the symmetric positive definite ``A`` (``A`` may be
        overwritten); :class:`numpy.linalg.LinAlgError` when it is not positive definite."""

    @abc.abstractmethod
    def cho_solve(self, factor, B) -> Any:
        """Solve ``A X = B`` from ``factor = cho_factor(A)``; ``B`` 1-D or 2-D."""

    @abc.abstractmethod
    def solve_pos(self, A, B) -> Any:
        """Solve ``A X = B`` for a small symmetric positive definite ``A``."""

    def errstate(self):
        """Context silencing division warnings (numpy); torch does not warn."""
        return contextlib.nullcontext()

    def serial(self):
        """Context for the per-split work: one CPU thread except in big products (torch on
        the CPU; numpy's engine calls run inside :func:`~._linalg.single_thread` already)."""
        return contextlib.nullcontext()

    # layer-wide quantities ----------------------------------------------------------------
    def X0(self, cache) -> Any:
        """The layer's globally centred features ``cache.X0`` on this backend (kept by the
        cache for its lifetime)."""
        if self.is_reference:
            return cache.X0
        return cache.derived(("X0", self.ident), lambda: self.asarray(cache.X0))

    def gram(self, cache) -> Any:
        """The layer's Gram matrix ``X0 X0ᵀ`` on this backend, computed once per cache (the
        reference's is ``cache.gram``)."""
        if self.is_reference:
            return cache.gram
        return cache.derived(("gram", self.ident), lambda: self._gram(self.X0(cache)))

    def _gram(self, X0) -> Any:
        return X0 @ X0.T


class NumpyBackend(Backend):
    """numpy and scipy on the CPU; in float64 the engine's reference numbers."""

    name = "numpy"

    @property
    def _np_dtype(self):
        return np.dtype(self.dtype)

    def asarray(self, x) -> np.ndarray:
        return np.asarray(x, dtype=self._np_dtype)

    def index(self, idx: np.ndarray) -> np.ndarray:
        return idx

    def to_numpy(self, x) -> np.ndarray:
        return np.asarray(x, dtype=np.float64)

    def zeros(self, shape):
        return np.zeros(shape, dtype=self._np_dtype)

    def ones(self, n: int):
        return np.ones(n, dtype=self._np_dtype)

    def empty(self, n: int):
        return np.empty(n, dtype=self._np_dtype)

    def _arange(self, n: int):
        return np.arange(n)

    def mm(self, A, B):
        return mm(A, B)

    def outer(self, a, b):
        return np.outer(a, b)

    def column_stack(self, arrays):
        return np.column_stack(arrays)

    def take(self, A, rows, cols):
        return A[np.ix_(rows, cols)]

    def take_columns(self, A, cols):
        return np.take(A, cols, axis=1)  # several times faster than A[:, cols] on numpy 2

    def add_diag_(self, A, value: float) -> None:
        A.flat[:: A.shape[0] + 1] += value

    def cho_factor(self, A):
        return sla.cho_factor(A, lower=True, overwrite_a=True, check_finite=False)

    def cho_solve(self, factor, B):
        return sla.cho_solve(factor, B, check_finite=False)

    def solve_pos(self, A, B):
        return sla.solve(A, B, assume_a="pos", check_finite=False)

    def errstate(self):
        return np.errstate(divide="ignore", invalid="ignore")

    def _gram(self, X0):
        with multi_thread():
            return X0 @ X0.T


def _torch():
    import torch

    return torch


#: torch's intra-op thread counts in effect when each open :func:`_one_torch_thread` block
#: was entered (outermost first); big products restore the outermost one.
_TORCH_OUTER: list[int] = []


@contextlib.contextmanager
def _one_torch_thread():
    """torch's CPU operations on one intra-op thread inside the block."""
    torch = _torch()
    before = torch.get_num_threads()
    _TORCH_OUTER.append(before)
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
        _TORCH_OUTER.pop()


@contextlib.contextmanager
def _all_torch_threads():
    """Inside :func:`_one_torch_thread`, the thread count it found on entry (else a no-op)."""
    n = _TORCH_OUTER[0] if _TORCH_OUTER else 1
    if n <= 1:
        yield
        return
    torch = _torch()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(1)


class TorchBackend(Backend):
    """torch tensors on ``cpu`` or ``cuda[:N]``; Cholesky through ``torch.linalg``.

    On the CPU, products and factorisations below :data:`~._linalg.BIG_PRODUCT` multiply-adds,
    and all the per-split work inside :meth:`serial`, run on one thread, as the numpy
    backend's do: on small shared machines waking more threads costs far more than a
    factorisation of a few hundred rows.
    """

    name = "torch"

    def _threads(self, work: float):
        if self.device != "cpu":
            return contextlib.nullcontext()
        return _one_torch_thread() if work < BIG_PRODUCT else _all_torch_threads()

    def serial(self):
        return _one_torch_thread() if self.device == "cpu" else contextlib.nullcontext()

    @property
    def _dt(self):
        return getattr(_torch(), self.dtype)

    def asarray(self, x):
        torch = _torch()
        if isinstance(x, torch.Tensor):
            return x.to(device=self.device, dtype=self._dt)
        return torch.as_tensor(np.asarray(x), dtype=self._dt, device=self.device)

    def index(self, idx: np.ndarray):
        return _torch().as_tensor(np.asarray(idx, dtype=np.int64), device=self.device)

    def to_numpy(self, x) -> np.ndarray:
        return x.detach().to(device="cpu", dtype=_torch().float64).numpy()

    def zeros(self, shape):
        return _torch().zeros(shape, dtype=self._dt, device=self.device)

    def ones(self, n: int):
        return _torch().ones(n, dtype=self._dt, device=self.device)

    def empty(self, n: int):
        return _torch().empty(n, dtype=self._dt, device=self.device)

    def _arange(self, n: int):
        return _torch().arange(n, device=self.device)

    def mm(self, A, B):
        with self._threads(A.shape[0] * A.shape[-1] * (B.shape[-1] if B.ndim > 1 else 1)):
            return A @ B

    def outer(self, a, b):
        return _torch().outer(a, b)

    def column_stack(self, arrays):
        return _torch().column_stack(list(arrays))

    def take(self, A, rows, cols):
        return A.index_select(0, rows).index_select(1, cols)

    def add_diag_(self, A, value: float) -> None:
        A.diagonal().add_(value)

    def cho_factor(self, A):
        with self._threads(A.shape[0] ** 3 / 3):
            L, info = _torch().linalg.cholesky_ex(A)
        if int(info) != 0:
            raise np.linalg.LinAlgError(
                f"{int(info)}-th leading minor not positive definite ({self.ident})")
        return L

    def cho_solve(self, factor, B):
        torch = _torch()
        with self._threads(factor.shape[0] ** 2 * (B.shape[1] if B.ndim > 1 else 1)):
            if B.ndim == 1:
                return torch.cholesky_solve(B[:, None], factor)[:, 0]
            return torch.cholesky_solve(B, factor)

    def solve_pos(self, A, B):
        return self.cho_solve(self.cho_factor(A), B)


# selection ------------------------------------------------------------------------------
def _parse_text(text: str, where: str) -> tuple[str, str | None, str | None]:
    """``NAME[:DEVICE][:DTYPE]`` -> (name, device or None, dtype or None)."""
    parts = [p.strip().lower() for p in str(text).strip().split(":")]
    name, rest = parts[0], parts[1:]
    dtype = None
    if rest and rest[-1] in DTYPES:
        dtype = rest.pop()
    device = ":".join(rest) or None
    if name not in BACKEND_NAMES:
        raise UnknownIdentifierError(where, parts[0], BACKEND_NAMES)
    return name, device, dtype


def _from_env(var: str, default: str) -> str:
    value = os.environ.get(var, "").strip().lower()
    return value or default


def get_backend(backend: Backend | str | None = None, *, where: str = "backend") -> Backend:
    """The backend to run on: ``backend`` itself, parsed from its text, or from the
    environment (see the module docstring).

    Parameters
    ----------
    backend : Backend, str or None
        A :class:`Backend`; a text ``NAME[:DEVICE][:DTYPE]`` (parts left out are read from
        :data:`ENV_DEVICE` and :data:`ENV_DTYPE`); None to read :data:`ENV_VARS`.
    where : str
        How to name ``backend`` in error messages (e.g. ``"Ridge backend"``).

    Raises
    ------
    UnknownIdentifierError
        Unknown backend name (naming the parameter or :data:`ENV_BACKEND`).
    ConfigError
        Malformed or unusable device or float type (naming where it came from): a device
        other than the CPU for numpy, CUDA absent, torch not installed.
    """
    if isinstance(backend, Backend):
        return backend
    if backend is None:
        name = _from_env(ENV_BACKEND, "numpy")
        if name not in BACKEND_NAMES:
            raise UnknownIdentifierError(f"{ENV_BACKEND} value", name, BACKEND_NAMES)
        device = dtype = None
        name_from = ENV_BACKEND
    else:
        name, device, dtype = _parse_text(backend, where)
        name_from = f"{where} {backend!r}"
    dev_from = ENV_DEVICE if device is None else name_from
    dtype_from = ENV_DTYPE if dtype is None else name_from
    device = device or _from_env(ENV_DEVICE, "cpu")
    dtype = dtype or _from_env(ENV_DTYPE, "float64")
    return _make(name, device, dtype, name_from, dev_from, dtype_from)


@functools.lru_cache(maxsize=32)
def _make(name: str, device: str, dtype: str, name_from: str, dev_from: str,
          dtype_from: str) -> Backend:
    if dtype not in DTYPES:
        raise ConfigError(f"{dtype_from}: float type {dtype!r} is not one of "
                          f"{', '.join(DTYPES)}")
    if not _DEVICE_RE.match(device):
        raise ConfigError(f"{dev_from}: device {device!r} is not cpu, cuda or cuda:N")
    if name == "numpy":
        if device != "cpu":
            raise ConfigError(f"{dev_from}: device {device!r} needs the torch backend "
                              "(numpy runs on the CPU only)")
        return NumpyBackend(device, dtype)
    try:
        torch = _torch()
    except ImportError:
        raise ConfigError(f"{name_from}: the torch backend needs PyTorch, which is not "
                          "installed") from None
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"{dev_from}: device {device!r}: CUDA is not available on this "
                              "machine")
        if ":" in device and int(device.split(":")[1]) >= torch.cuda.device_count():
            raise ConfigError(f"{dev_from}: device {device!r}: this machine has "
                              f"{torch.cuda.device_count()} CUDA device(s)")
    return TorchBackend(device, dtype)


def backend_cache_key() -> str | None:
    """:meth:`Backend.cache_key` of the backend the environment selects (None for the
    default and for any float64 CPU backend)."""
    return get_backend(None).cache_key()

