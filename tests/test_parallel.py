"""Work units give the same results, in the same order, serially, on joblib workers and on dask;
shared payloads reach dask workers once, not inside every task."""

from __future__ import annotations

import contextlib
import time
import warnings

import numpy as np
import pytest
import xarray as xr
from benchkit import load_plugin, make_neural_data
from threadpoolctl import threadpool_info

from mecbench import registry
from mecbench.benchmarks import Benchmark, parse_mapping
from mecbench.cache import Cache
from mecbench.errors import ConfigError, UnknownIdentifierError
from mecbench.parallel import ParallelConfig, Shared, resolve, run_units
from mecbench.splits import SplitScheme


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


@pytest.mark.slow
def test_unreachable_scheduler_is_a_config_error():
    import distributed  # noqa: F401  (in the test extra: missing is a failure)
    config = ParallelConfig(backend="dask", scheduler="tcp://127.0.0.1:9",
                            connect_timeout=1.0)
    with pytest.raises(ConfigError, match="cannot connect"):
        run_units(_sleepy, range(2), config)


# shared payloads ------------------------------------------------------------------------------
LARGE_GRAPH = "Sending large graph"


def _project(unit) -> np.ndarray:
    """A unit of a shared basis and its own coefficients (nested in a dict and a list)."""
    return unit["basis"] @ unit["coef"][0] + unit["offset"]


def _payload_units(n_units: int = 4, rows: int = 400, cols: int = 250):
    """Units that share one ~800 kB basis and each have one ~200 kB payload of their own;
    returns (units with references, shared payloads, the same units with payloads inline)."""
    rng = np.random.default_rng(3)
    shared = {"basis": rng.standard_normal((rows, cols))}
    units, inline = [], []
    for k in range(n_units):
        shared[("coef", k)] = rng.standard_normal((cols, 100))
        units.append({"basis": Shared("basis"), "coef": [Shared(("coef", k))], "offset": k})
        inline.append({"basis": shared["basis"], "coef": [shared[("coef", k)]], "offset": k})
    return units, shared, inline


@contextlib.contextmanager
def _local_cluster(n_workers: int = 2):
    import distributed  # in the test extra: missing is a failure, not a skip

    with distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        yield cluster


@contextlib.contextmanager
def _graphs_and_scatters(monkeypatch, threshold: str):
    """Record dask's "Sending large graph" warnings at ``threshold`` and every scatter call."""
    import dask
    import distributed

    scattered: list[tuple[list, bool]] = []
    original = distributed.Client.scatter

    def scatter(self, data, *args, **kwargs):
        scattered.append((list(data), bool(kwargs.get("broadcast", False))))
        return original(self, data, *args, **kwargs)

    monkeypatch.setattr(distributed.Client, "scatter", scatter)
    with dask.config.set({"distributed.admin.large-graph-warning-threshold": threshold}), \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught, scattered


def _large_graph_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if LARGE_GRAPH in str(w.message)]


def test_resolve_replaces_references_in_nested_containers():
    a, b = np.arange(3.0), np.ones(2)
    unit = ("fit", [Shared("a"), {"x": Shared("b"), "k": 2}], None)
    out = resolve(unit, {"a": a, "b": b})
    assert out[0] == "fit" and out[1][0] is a and out[1][1]["x"] is b and out[1][1]["k"] == 2
    assert type(out[1]) is list and out[2] is None
    plain = ("fit", [a, {"k": 2}])
    assert resolve(plain, {}) is plain  # nothing to resolve: not copied


def test_missing_shared_payload_names_the_key():
    with pytest.raises(ConfigError, match="'coef'"):
        run_units(_project, [{"basis": Shared("basis"), "coef": [Shared("coef")],
                              "offset": 0}], shared={"basis": np.eye(2)})


@pytest.mark.parametrize("config", [None, ParallelConfig(jobs=2),
                                    ParallelConfig(jobs=2, backend="threading")],
                         ids=["serial", "loky", "threading"])
def test_shared_payloads_resolved_locally(config):
    units, shared, inline = _payload_units()
    expected = [_project(u) for u in inline]  # the plain computation, payloads inline
    got = run_units(_project, units, config, shared=shared)
    for a, b in zip(expected, got, strict=True):
        assert np.array_equal(a, b)


def test_dask_sends_each_payload_once_and_no_large_graph(monkeypatch):
    units, shared, inline = _payload_units()
    expected = run_units(_project, inline)
    payload_bytes = min(v.nbytes for v in shared.values())
    with _local_cluster() as cluster:
        config = ParallelConfig(backend="dask", scheduler=cluster.scheduler_address)
        seen = []
        with _graphs_and_scatters(monkeypatch, f"{payload_bytes // 2}B") as (caught, scattered):
            got = run_units(_project, units, config, shared=shared, progress=seen.append)
        assert _large_graph_warnings(caught) == []
        # each payload scattered exactly once; the basis (used by every unit) to every worker
        sent = [(id(x), broadcast) for data, broadcast in scattered for x in data]
        assert sorted(sent) == sorted((id(v), k == "basis") for k, v in shared.items())
        assert seen == [1, 2, 3, 4]

        # control: the same units with their payloads inside the tasks do set off the warning
        import distributed

        with _graphs_and_scatters(monkeypatch, f"{payload_bytes // 2}B") as (caught, _), \
                distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
            client.gather(client.map(_project, inline, pure=False))
        assert _large_graph_warnings(caught)
    for a, b in zip(expected, got, strict=True):
        assert np.array_equal(a, b)


def _failing(unit):
    raise ConfigError(f"unit {unit['offset']} is bad")


def test_dask_unit_error_reaches_the_caller():
    units, shared, _ = _payload_units(n_units=2)
    with _local_cluster(1) as cluster:
        config = ParallelConfig(backend="dask", scheduler=cluster.scheduler_address)
        with pytest.raises(ConfigError, match="unit 0 is bad"):
            run_units(_failing, units, config, shared=shared)


SPLITS = SplitScheme.random(train_frac=0.5, n_splits=3, seed=0)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    load_plugin(tmp_path_factory.mktemp("plugin"))
    return registry.load("model", "toy-fourier")


def _toy_bench(data, ceiling: str) -> Benchmark:
    return Benchmark("toy.ridge", 0, data, parse_mapping("ridge:alpha=1.0"), SPLITS,
                     ceiling=ceiling, n_boot=100)


# enough cells for the inter-animal ceiling's pool rule, or the split-half ceiling
@pytest.mark.slow
@pytest.mark.parametrize(("n_cells", "ceiling"), [(70, "holdout"), (20, "split-half")])
def test_benchmark_on_dask_matches_serial_and_loky_without_data_in_graphs(
        toy, monkeypatch, n_cells, ceiling):
    data = make_neural_data(n_animals=3, n_cells=n_cells, arenas=((1.0, 1.0), (1.2, 1.2)))
    assert _toy_bench(data, ceiling).ceiling_method == ceiling
    layers = ["low", "high"]
    serial = _toy_bench(data, ceiling).score_layers(toy, layers, cache=Cache(enabled=False))
    loky = _toy_bench(data, ceiling).score_layers(toy, layers, cache=Cache(enabled=False),
                                         parallel=ParallelConfig(jobs=2))
    threshold = min(data.rate(a).nbytes for a in data.arena_names) // 2
    with _local_cluster() as cluster:
        config = ParallelConfig(backend="dask", scheduler=cluster.scheduler_address)
        with _graphs_and_scatters(monkeypatch, f"{threshold}B") as (caught, scattered):
            dask_scores = _toy_bench(data, ceiling).score_layers(
                toy, layers, cache=Cache(enabled=False), parallel=config)
    assert _large_graph_warnings(caught) == []
    # for the ceiling, every arena's payload of its method once (one unit each: the rate maps,
    # or the split halves); for the scores, every arena's rate maps once to every worker (both
    # layers use them) and every (layer, arena) model map once
    def kind(x):
        return "maps" if "model" in x.attrs else "halves" if "half" in x.dims else "rate"

    sent = sorted((kind(x), broadcast) for payloads, broadcast in scattered for x in payloads)
    used = "halves" if ceiling == "split-half" else "rate"
    n_arenas = len(data.arena_names)
    assert sent == sorted([(used, False)] * n_arenas + [("rate", True)] * n_arenas
                          + [("maps", False)] * (len(layers) * n_arenas))
    for layer in layers:
        xr.testing.assert_identical(serial[layer].dataset, loky[layer].dataset)
        xr.testing.assert_identical(serial[layer].dataset, dask_scores[layer].dataset)



def test_a_failing_threaded_unit_raises_after_the_running_units_finish():
    """The error of one threaded unit reaches the caller only once no other unit is still
    running (a thread still inside BLAS at interpreter exit can abort the process); units
    not yet started are cancelled."""
    import threading

    running, started = [0], []
    lock = threading.Lock()

    def unit(k):
        with lock:
            running[0] += 1
            started.append(k)
        try:
            if k == 1:
                raise ConfigError("unit 1 fails")
            a = np.random.default_rng(k).standard_normal((300, 300))
            for _ in range(8):
                np.linalg.eigh(a @ a.T)
            return k
        finally:
            with lock:
                running[0] -= 1

    with pytest.raises(ConfigError, match="unit 1 fails"):
        run_units(unit, range(8), ParallelConfig(jobs=2, backend="threading"))
    assert running[0] == 0
    assert len(started) < 8  # the units after the failure were cancelled
    # and the results of a run without failures come back in unit order
    assert run_units(lambda k: k * k, range(6), ParallelConfig(jobs=3, backend="threading")) \
        == [k * k for k in range(6)]
