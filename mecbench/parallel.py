"""Run independent work units serially, on local workers (joblib) or on a dask cluster.

A *work unit* is one self-contained computation (for a benchmark: one layer × arena); its
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
    Threads of this process; useful when units release the GIL (NumPy/BLAS work).
``dask``
    A dask.distributed cluster (extra ``mecbench[distributed]``), units submitted as dask
    futures. With ``scheduler`` the units go to the cluster at that address
    (``tcp://host:8786``); without it a ``LocalCluster`` with ``jobs`` single-threaded worker
    processes is started for the call.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mecbench.errors import ConfigError

__all__ = ["BACKENDS", "ParallelConfig", "run_units"]

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
            from mecbench.errors import UnknownIdentifierError

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
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=self.blas_threads, user_api="blas")
        return self.fn(unit)


def run_units(
    fn: Callable[[Any], Any],
    units: Sequence[Any],
    config: ParallelConfig | None = None,
    *,
    progress: Callable[[int], None] | None = None,
) -> list[Any]:
    """Apply ``fn`` to every unit and return the results in the order of ``units``.

    Parameters
    ----------
    fn : callable
        Pure function of one unit; must be picklable for ``loky`` and ``dask``
        (module-level functions, ``functools.partial`` of them, or small callable objects).
    units : sequence
        Work units (picklable).
    config : ParallelConfig, optional
        Default: serial.
    progress : callable, optional
        Called with the number of units finished so far, in this process, as they complete
        (serial and joblib backends) or once at the end (dask).

    Returns
    -------
    list
        ``[fn(u) for u in units]``, computed per ``config``.
    """
    from threadpoolctl import threadpool_limits

    config = config or ParallelConfig()
    units = list(units)
    if not units:
        return []
    limited = _Limited(fn, config.blas_threads)
    # Restores this process's BLAS threads afterwards (units may run in this process).
    with threadpool_limits(limits=config.blas_threads, user_api="blas"):
        if config.backend == "dask":
            out = _run_dask(limited, units, config)
            if progress:
                progress(len(units))
            return out
        if config.is_serial or len(units) == 1:
            out = []
            for i, unit in enumerate(units):
                out.append(limited(unit))
                if progress:
                    progress(i + 1)
            return out
        from joblib import Parallel, delayed

        n_jobs = min(config.n_workers, len(units))
        parallel = Parallel(n_jobs=n_jobs, backend=config.backend, return_as="generator")
        out = []
        for i, result in enumerate(parallel(delayed(limited)(u) for u in units)):
            out.append(result)
            if progress:
                progress(i + 1)
        return out


def _run_dask(fn: Callable[[Any], Any], units: list, config: ParallelConfig) -> list:
    try:
        from distributed import Client, LocalCluster
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
        futures = client.map(fn, units, pure=False)
        return list(client.gather(futures))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
        if saved is missing:
            dask.config.config.pop("scheduler", None)
        else:
            dask.config.config["scheduler"] = saved
