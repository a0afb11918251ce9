"""Work units give the same results, in the same order, serially, on joblib workers and on dask."""

from __future__ import annotations

import time

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from mecbench.errors import ConfigError, UnknownIdentifierError
from mecbench.parallel import ParallelConfig, run_units


def _lapack_unit(seed: int) -> np.ndarray:
    """A unit whose float result depends on the BLAS thread count (eigh of a Gram matrix)."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((160, 320))
    return np.linalg.eigh(a @ a.T)[1][:, -3:].copy()


def _sleepy(k: int) -> int:
    time.sleep(0.02 * (4 - k))  # later units finish first
    return k * k


def _blas_threads() -> int:
    return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")


def test_serial_results_in_order():
    assert run_units(_sleepy, range(4)) == [0, 1, 4, 9]


def test_threading_keeps_unit_order_when_units_finish_out_of_order():
    assert run_units(_sleepy, range(4), ParallelConfig(jobs=4, backend="threading")) == [0, 1, 4, 9]


def test_progress_is_reported():
    seen = []
    run_units(_sleepy, range(3), progress=seen.append)
    assert seen == [1, 2, 3]


@pytest.mark.parametrize("config", [ParallelConfig(jobs=2),
                                    ParallelConfig(jobs=2, backend="threading")],
                         ids=["loky", "threading"])
def test_bit_identical_to_serial(config):
    serial = run_units(_lapack_unit, range(4))
    other = run_units(_lapack_unit, range(4), config)
    for a, b in zip(serial, other, strict=True):
        assert np.array_equal(a, b)


def test_bit_identical_on_dask_local_cluster():
    import distributed  # in the test extra: missing is a failure, not a skip
    serial = run_units(_lapack_unit, range(3))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        config = ParallelConfig(backend="dask", scheduler=cluster.scheduler_address)
        other = run_units(_lapack_unit, range(3), config)
    for a, b in zip(serial, other, strict=True):
        assert np.array_equal(a, b)
    import dask

    assert dask.config.get("scheduler", None) is None  # no global state left behind


def test_blas_threads_restored_after_run():
    before = _blas_threads()
    run_units(_lapack_unit, range(2), ParallelConfig(jobs=2, backend="threading"))
    assert _blas_threads() == before


def test_bad_configs():
    with pytest.raises(UnknownIdentifierError, match="did you mean 'dask'"):
        ParallelConfig(backend="dusk")
    with pytest.raises(ConfigError, match="--backend dask"):
        ParallelConfig(scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(ConfigError, match="jobs"):
        ParallelConfig(jobs=0)
    with pytest.raises(ConfigError, match="jobs"):
        ParallelConfig(jobs=-3)


def test_unreachable_scheduler_is_a_config_error():
    import distributed  # noqa: F401  (in the test extra: missing is a failure)
    config = ParallelConfig(backend="dask", scheduler="tcp://127.0.0.1:9",
                            connect_timeout=1.0)
    with pytest.raises(ConfigError, match="cannot connect"):
        run_units(_sleepy, range(2), config)
