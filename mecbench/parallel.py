"""Run independent work units serially, on local workers or on a dask cluster.

A *work unit* is one self-contained computation (for a benchmark: one layer × arena, or
layer × arena × animal for the elastic nets); its
result does not depend on where or when it runs. :func:`run_units` returns the results in the
order of the units, whatever order they finished in, so every reduction that follows is done
in one fixed order and scores are bit-identical between ``--jobs 1``, ``--jobs N`` and dask.

Bit-identity needs one more thing: LAPACK routines such as ``eigh`` give slightly different
floating-point results with different numbers of BLAS threads (measured with OpenBLAS 0.3.31).
Every unit therefore runs under :func:`threadpoolctl.threadpool_limits` with the same thread
count (``blas_threads``, default 1) in every mode; parallelism comes from running units side
by side, not from threads inside one.

Backends
--------
``loky`` (default)
    Separate worker processes (joblib's default).
``threading``
    Threads of this process (a thread pool); useful when units release the GIL (NumPy/BLAS
    work). A failing unit's error is raised once the units already running have finished.
``dask``
    A dask.distributed cluster (extra ``mecbench[distributed]``), units submitted as dask
    futures. With ``scheduler`` the units go to the cluster at that address
    (``tcp://host:8786``); without it a ``LocalCluster`` with ``jobs`` single-threaded worker
    processes is started for the call.

Shared payloads
---------------
Large inputs that several units use (a dataset's rate maps, a layer's rate maps) are passed once
in ``run_units(..., shared={key: payload})`` and referenced inside units by :class:`Shared`
``(key)``. Each unit is resolved (every ``Shared`` replaced by its payload) right before ``fn``
runs, by one function for all backends: in this process for the serial, threading and loky backends
(where the payload is the same object, or joblib's memory-mapped copy), on the worker for dask,
where each payload is sent to the cluster once per call (``client.scatter``: broadcast to every
worker when more than one unit uses it, else to one worker, where dask then runs that unit) and
the submitted tasks carry only keys and futures. ``fn`` therefore sees the same unit whatever
the backend, and results stay bit-identical.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from threadpoolctl import threadpool_limits

from mecbench.errors import ConfigError, UnknownIdentifierError

__all__ = ["BACKENDS", "ParallelConfig", "Shared", "resolve", "run_units"]

BACKENDS = ("loky", "threading", "dask")


@dataclass(frozen=True)
class ParallelConfig:
    """How to run work units.

    Parameters
    ----------
    jobs : int
        Number of units run at once (``-1``: one per CPU core).
    backend : {"loky", "threading", "dask"}
        Where they run (see the module docstring).
    scheduler : str, optional
        Address of a dask.distributed scheduler; only with ``backend="dask"``.
    blas_threads : int
        BLAS/LAPACK threads inside each unit; fixed so results do not depend on ``jobs``.
    connect_timeout : float
        Seconds to wait for the dask scheduler at ``scheduler``.
    """

    jobs: int = 1
    backend: str = "loky"
    scheduler: str | None = None
    blas_threads: int = 1
    connect_timeout: float = 30.0

    def __post_init__(self):
        if self.backend not in BACKENDS:
            raise UnknownIdentifierError("backend", self.backend, BACKENDS)
        if not isinstance(self.jobs, int) or self.jobs == 0 or self.jobs < -1:
            raise ConfigError(f"jobs must be a positive integer or -1, got {self.jobs!r}")
        if self.scheduler is not None and self.backend != "dask":
            raise ConfigError(
                f"--scheduler {self.scheduler} needs --backend dask (got --backend {self.backend})"
            )
        if not isinstance(self.blas_threads, int) or self.blas_threads < 1:
            raise ConfigError(f"blas_threads must be >= 1, got {self.blas_threads!r}")

    @property
    def n_workers(self) -> int:
        """Number of units run at once."""
        return (os.cpu_count() or 1) if self.jobs == -1 else self.jobs

    @property
    def is_serial(self) -> bool:
        """True when units run one after the other in this process."""
        return self.backend != "dask" and self.n_workers == 1


@dataclass(frozen=True)
class Shared:
    """A reference, inside a work unit, to a payload passed once to :func:`run_units`.

    Parameters
    ----------
    key : hashable
        Key of the payload in ``run_units(..., shared=...)``.

    Notes
    -----
    References are found at any depth of plain tuples, lists and dicts (not of their
    subclasses or other objects) and replaced by the payload before the unit's function runs.
    """

    key: Hashable


def _refs(obj: Any, found: dict[Hashable, None]) -> None:
    """Collect the keys of the :class:`Shared` references in ``obj`` (in order, once each)."""
    if isinstance(obj, Shared):
        found[obj.key] = None
    elif type(obj) in (tuple, list):
        for item in obj:
            _refs(item, found)
    elif type(obj) is dict:
        for item in obj.values():
            _refs(item, found)


def resolve(obj: Any, payloads: Mapping[Hashable, Any]) -> Any:
    """``obj`` with every :class:`Shared` reference replaced by its payload.

    Parameters
    ----------
    obj : any
        A work unit; references are looked for in plain tuples, lists and dicts.
    payloads : mapping
        Payload of each referenced key.

    Returns
    -------
    any
        ``obj`` itself when it holds no reference, else a copy of its containers (payloads and
        other leaves are not copied).
    """
    if isinstance(obj, Shared):
        return payloads[obj.key]
    kind = type(obj)
    if kind in (tuple, list):
        items = [resolve(item, payloads) for item in obj]
        if all(a is b for a, b in zip(items, obj, strict=True)):
            return obj
        return kind(items)
    if kind is dict:
        values = {k: resolve(v, payloads) for k, v in obj.items()}
        if all(values[k] is v for k, v in obj.items()):
            return obj
        return values
    return obj


class _Limited:
    """``fn`` wrapped to run under a fixed BLAS thread count (picklable).

    The limit is set and not restored: restoring from several threads of one process races
    (a thread could restore the original count while another unit still runs). The caller
    restores the count of its own process once all units are done.
    """

    def __init__(self, fn: Callable[[Any], Any], blas_threads: int):
        self.fn = fn
        self.blas_threads = blas_threads

    def __call__(self, unit: Any) -> Any:
        threadpool_limits(limits=self.blas_threads, user_api="blas")
        return self.fn(unit)


class _Resolving:
    """``fn`` applied to a unit whose :class:`Shared` references are resolved first."""

    def __init__(self, fn: Callable[[Any], Any], payloads: Mapping[Hashable, Any]):
        self.fn = fn
        self.payloads = payloads

    def __call__(self, unit: Any) -> Any:
        return self.fn(resolve(unit, self.payloads))


class _DaskTask:
    """One unit as a dask task: the unit and the keys of its payloads travel in the task,
    the payloads themselves as futures of scattered data (its positional arguments)."""

    def __init__(self, fn: Callable[[Any], Any], unit: Any, keys: tuple):
        self.fn = fn
        self.unit = unit
        self.keys = keys

    def __call__(self, *values: Any) -> Any:
        return self.fn(resolve(self.unit, dict(zip(self.keys, values, strict=True))))


def run_units(
    fn: Callable[[Any], Any],
    units: Sequence[Any],
    config: ParallelConfig | None = None,
    *,
    shared: Mapping[Hashable, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[Any]:
    """Apply ``fn`` to every unit and return the results in the order of ``units``.

    Parameters
    ----------
    fn : callable
        Pure function of one unit; must be picklable for ``loky`` and ``dask``
        (module-level functions, ``functools.partial`` of them, or small callable objects).
    units : sequence
        Work units (picklable); may hold :class:`Shared` references to ``shared``.
    config : ParallelConfig, optional
        Default: serial.
    shared : mapping, optional
        Payloads referenced by the units, each sent to a dask cluster once rather than with
        every unit (see the module docstring); ``fn`` receives units with the references
        replaced by these payloads, whatever the backend.
    progress : callable, optional
        Called with the number of units finished so far, in this process, as they complete.

    Returns
    -------
    list
        ``[fn(resolve(u, shared)) for u in units]``, computed per ``config``.

    Raises
    ------
    ConfigError
        A unit references a key missing from ``shared``.
    """
    config = config or ParallelConfig()
    units = list(units)
    if not units:
        return []
    shared = dict(shared or {})
    used: dict[Hashable, None] = {}
    for unit in units:
        _refs(unit, used)
    missing = [key for key in used if key not in shared]
    if missing:
        raise ConfigError(f"work units reference shared payload(s) {missing!r} missing from "
                          f"shared= (keys: {list(shared)!r})")
    limited = _Limited(fn, config.blas_threads)
    # Restores this process's BLAS threads afterwards (units may run in this process).
    with threadpool_limits(limits=config.blas_threads, user_api="blas"):
        if config.backend == "dask":
            return _run_dask(limited, units, shared, config, progress)
        call = _Resolving(limited, shared)
        if config.is_serial or len(units) == 1:
            out = []
            for i, unit in enumerate(units):
                out.append(call(unit))
                if progress:
                    progress(i + 1)
            return out
        n_jobs = min(config.n_workers, len(units))
        if config.backend == "threading":
            return _run_threads(call, units, n_jobs, progress)
        from joblib import Parallel, delayed

        # joblib pickles each task's arguments: the units are resolved here, so a payload
        # reaches its workers as joblib sends large arrays (memory-mapped, not copied per task).
        parallel = Parallel(n_jobs=n_jobs, backend=config.backend, return_as="generator")
        out = []
        for i, result in enumerate(parallel(delayed(limited)(resolve(u, shared))
                                            for u in units)):
            out.append(result)
            if progress:
                progress(i + 1)
        return out


def _run_threads(call: Callable[[Any], Any], units: list, n_jobs: int,
                 progress: Callable[[int], None] | None) -> list:
    """The ``threading`` backend: results in unit order. A failing unit's error reaches the
    caller only after the units already running have finished (the others are cancelled): a
    thread still inside BLAS when the interpreter exits can abort the process."""
    pool = ThreadPoolExecutor(max_workers=n_jobs)
    try:
        futures = [pool.submit(call, unit) for unit in units]
        out = []
        for i, future in enumerate(futures):
            out.append(future.result())
            if progress:
                progress(i + 1)
        return out
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_dask(fn: Callable[[Any], Any], units: list, shared: dict, config: ParallelConfig,
              progress: Callable[[int], None] | None) -> list:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:  # pragma: no cover - depends on the installation
        raise ConfigError(
            "--backend dask needs dask.distributed: pip install 'mecbench[distributed]'"
        ) from None
    import dask

    # Never leave dask's global scheduler pointing at a closed cluster: any dask-backed xarray
    # I/O would then fail with "no Client active".
    missing = object()
    saved = dask.config.config.get("scheduler", missing)
    if config.scheduler:
        try:
            client = Client(config.scheduler, timeout=config.connect_timeout,
                            set_as_default=False)
        except (OSError, TimeoutError) as err:
            raise ConfigError(
                f"--scheduler {config.scheduler}: cannot connect ({type(err).__name__}: {err})"
            ) from None
        cluster = None
    else:
        cluster = LocalCluster(n_workers=config.n_workers, threads_per_worker=1,
                               processes=True, dashboard_address=None)
        client = Client(cluster, set_as_default=False)
    try:
        # dask futures rather than joblib's dask backend: that backend leaves dask's global
        # scheduler set to the (soon closed) cluster.
        unit_keys = []
        uses: dict[Hashable, int] = {}
        for unit in units:
            keys: dict[Hashable, None] = {}
            _refs(unit, keys)
            unit_keys.append(tuple(keys))
            for key in keys:
                uses[key] = uses.get(key, 0) + 1
        futures_of: dict[Hashable, Any] = {}
        for broadcast in (True, False):
            keys = [key for key, n in uses.items() if (n > 1) == broadcast]
            if keys:
                # hash=False: fresh dask keys, never shared with another client's data
                scattered = client.scatter([shared[key] for key in keys], broadcast=broadcast,
                                           hash=False)
                futures_of.update(zip(keys, scattered, strict=True))
        futures = [client.submit(_DaskTask(fn, unit, keys), *(futures_of[k] for k in keys),
                                 pure=False)
                   for unit, keys in zip(units, unit_keys, strict=True)]
        if progress:
            for done, _ in enumerate(as_completed(futures, loop=client.loop), start=1):
                progress(done)
        return list(client.gather(futures))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
        if saved is missing:
            dask.config.config.pop("scheduler", None)
        else:
            dask.config.config["scheduler"] = saved
