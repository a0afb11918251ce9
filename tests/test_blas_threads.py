"""BLAS thread control of the mapping engine: small LAPACK calls on one thread, big products
on the thread count the caller had (all of BLAS's threads in a plain call; one inside a work
unit that :mod:`mecbench.parallel` limits to one thread for bit-identical results)."""

from __future__ import annotations

from threadpoolctl import threadpool_info, threadpool_limits

from mecbench.mapping import _linalg as L


def _blas() -> int:
    return max(m["num_threads"] for m in threadpool_info() if m["user_api"] == "blas")


def test_multi_thread_restores_the_callers_thread_count():
    with threadpool_limits(limits=2, user_api="blas"):
        with L.single_thread():
            assert _blas() == 1
            with L.multi_thread():
                assert _blas() == 2
            assert _blas() == 1
            with L.single_thread():  # nested: still the caller's count
                with L.multi_thread():
                    assert _blas() == 2
        assert _blas() == 2


def test_multi_thread_keeps_one_thread_inside_a_one_thread_unit():
    with threadpool_limits(limits=2, user_api="blas"):
        with L.single_thread():  # the caller's count, 2, is recorded here ...
            pass
        with threadpool_limits(limits=1, user_api="blas"):  # ... but a unit runs on one
            with L.single_thread(), L.multi_thread():
                assert _blas() == 1


def test_multi_thread_outside_single_thread_changes_nothing():
    with threadpool_limits(limits=2, user_api="blas"):
        with L.multi_thread():
            assert _blas() == 2
