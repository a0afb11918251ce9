"""Data identity: the same data on any machine, other data never.

"Another machine" is simulated with ``NPY_DISABLE_CPU_FEATURES=X86_V3``, which makes numpy
dispatch its transcendental functions and reductions to other kernels (as on another CPU).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import xarray as xr
from benchkit import make_neural_data

from mecbench.benchmarks import Benchmark, MappingSpec
from mecbench.cache import Cache
from mecbench.identity import FINGERPRINT_ATOL, DataIdentity
from mecbench.neural_data import NeuralData
from mecbench.providers import FunctionProvider
from mecbench.splits import SplitScheme

OTHER_CPU = {"NPY_DISABLE_CPU_FEATURES": "X86_V3"}


def _python(code: str, *, cwd, env_extra: dict | None = None) -> str:
    """Run ``code`` in a new interpreter, from ``cwd`` (not the source folder, whose
    ``mecbench`` lacks the installed plugin packages)."""
    env = {**os.environ, **(env_extra or {})}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _map_values(nd: NeuralData, change) -> NeuralData:
    """A copy of ``nd`` with ``change(name, values)`` applied to every data variable."""
    arenas = {}
    for key in nd.arena_names:
        ds = nd.arena(key).copy(deep=True)
        for name in ds.data_vars:
            ds[name] = ds[name].copy(data=change(name, ds[name].values.copy()))
        arenas[key] = ds
    return NeuralData(arenas, nd.attrs)


@pytest.fixture(scope="module")
def data() -> NeuralData:
    return make_neural_data(n_animals=3, n_cells=6)


def test_few_ulp_perturbations_of_every_value_keep_the_identity(data):
    rng = np.random.default_rng(1)

    def nudge(name, values):
        ulps = rng.integers(-4, 5, values.shape)
        return values + ulps * np.spacing(np.abs(values))

    other = _map_values(data, nudge)
    assert other.content_hash() != data.content_hash()  # the bits did change
    assert other.identity().matches(data.identity())
    assert other.identity().id == data.identity().id


@pytest.mark.parametrize("relative", [1e-6, 1e-8])
def test_a_small_relative_change_of_one_cell_is_other_data(data, relative):
    def scale_one(name, values):
        if name == "rate":
            values[..., 2] *= 1 + relative
        return values

    other = _map_values(data, scale_one)
    why = data.identity().difference(other.identity())
    assert why is not None and "values differ" in why


def test_one_bin_holding_half_a_cell_changed_by_1e_7_is_other_data(data):
    def concentrate(name, values):
        if name == "rate":
            values[3, 4, 1] = np.nansum(np.abs(values[..., 1]))
        return values

    def bump(name, values):
        if name == "rate":
            values[3, 4, 1] *= 1 + 1e-7
        return values

    base = _map_values(data, concentrate)
    assert not base.identity().matches(_map_values(base, bump).identity())


def test_a_negated_cell_is_other_data(data):
    def negate(name, values):
        if name == "rate":
            values[..., 0] = -values[..., 0]
        return values

    assert not data.identity().matches(_map_values(data, negate).identity())


def test_swapping_two_cells_values_is_other_data(data):
    def swap(name, values):
        if name == "rate":
            values[..., [0, 1]] = values[..., [1, 0]]
        return values

    assert not data.identity().matches(_map_values(data, swap).identity())


def test_dropped_added_and_renamed_cells_are_other_data(data):
    base = data.identity()
    key = data.arena_names[0]
    ds = data.arena(key)
    dropped = NeuralData({**{k: data.arena(k) for k in data.arena_names},
                          key: ds.isel(neuroid=slice(1, None))}, data.attrs)
    renamed_ids = ds["neuroid_id"].values.astype(str).tolist()
    renamed_ids[0] += "-x"
    renamed = NeuralData({**{k: data.arena(k) for k in data.arena_names},
                          key: ds.assign_coords(neuroid_id=("neuroid", renamed_ids))}, data.attrs)
    extra = ds.isel(neuroid=[0]).assign_coords(neuroid_id=("neuroid", ["new/c0"]))
    added = NeuralData({**{k: data.arena(k) for k in data.arena_names},
                        key: xr.concat([ds, extra], dim="neuroid")}, data.attrs)
    for other in (dropped, renamed, added):
        assert not other.identity().matches(base)
        assert other.identity().id != base.id


def test_another_bin_size_or_arena_is_other_data():
    a = make_neural_data(arenas=((0.5, 0.5),), halves=False)
    b = make_neural_data(arenas=((0.6, 0.6),), halves=False)
    assert not a.identity().matches(b.identity())
    ds = a.arena(a.arena_names[0])
    stretched = ds.assign_attrs(arena_width=ds.attrs["arena_width"] * 2,
                                arena_height=ds.attrs["arena_height"] * 2,
                                bin_size=ds.attrs["bin_size"] * 2)
    stretched = stretched.assign_coords(x=ds["x"] * 2, y=ds["y"] * 2)
    other = NeuralData({a.arena_names[0]: stretched}, a.attrs)
    assert not other.identity().matches(a.identity())


def test_provenance_text_is_not_part_of_the_identity(data):
    other = NeuralData({k: data.arena(k) for k in data.arena_names},
                       {**data.attrs, "source": "another description"})
    assert other.identity() == data.identity()


def test_identity_round_trips_and_bad_documents_are_named():
    ident = make_neural_data().identity()
    assert DataIdentity.from_dict(json.loads(ident.to_json())) == ident
    for bad in ({}, {"id": 3, "fingerprint": []}, {"id": "x", "fingerprint": ["a"]}):
        with pytest.raises(ValueError, match="identity"):
            DataIdentity.from_dict(bad)


def test_tolerance_sits_between_last_bits_and_real_changes(data):
    """The fingerprint noise of a last-bit change is far below the tolerance, a 1e-8 relative
    change of one cell far above it."""
    rng = np.random.default_rng(2)
    base = np.asarray(data.identity().fingerprint)
    nudged = _map_values(data, lambda n, v: v + rng.integers(-4, 5, v.shape)
                         * np.spacing(np.abs(v)))
    noise = np.max(np.abs(np.asarray(nudged.identity().fingerprint) - base))
    assert noise < FINGERPRINT_ATOL / 100

    def scale(name, values):
        if name == "rate":
            values[..., 0] *= 1 + 1e-8
        return values

    change = np.max(np.abs(np.asarray(_map_values(data, scale).identity().fingerprint) - base))
    assert change > FINGERPRINT_ATOL * 10


# another CPU ----------------------------------------------------------------------------------
_SIM = """
    import json, numpy as np
    from mecbench.datasets import mec_sim
    from mecbench.datasets.mec_sim import SimConfig
    config = SimConfig(n_animals=2, n_cells=12, arenas=(1.0,), durations=(300.0,))
    nd = mec_sim.build(seed=3, config=config)
    rate = nd.rate(nd.arena_names[0]).values
    np.save({path!r}, rate)
    print(json.dumps(nd.identity().to_dict()))
"""


@pytest.mark.slow
def test_generated_data_have_the_same_identity_on_another_cpu(tmp_path):
    here = _python(_SIM.format(path=str(tmp_path / "a.npy")), cwd=tmp_path)
    there = _python(_SIM.format(path=str(tmp_path / "b.npy")), cwd=tmp_path,
                    env_extra=OTHER_CPU)
    a, b = (DataIdentity.from_dict(json.loads(x)) for x in (here, there))
    assert a.matches(b) and a.id == b.id
    ra, rb = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    np.testing.assert_array_equal(np.isnan(ra), np.isnan(rb))
    np.testing.assert_allclose(ra, rb, rtol=1e-12, atol=0)


_RATES = """
    import numpy as np
    from mecbench.datasets import mec_sim
    from mecbench.datasets.mec_sim import SimConfig, cells as C
    from mecbench.datasets.mec_sim.trajectory import simulate_sessions
    config = SimConfig()
    rng = np.random.default_rng(7)
    modules = C.draw_modules(rng, config.population)
    s = simulate_sessions([1.0], [1.0], [120.0], rng=rng, params=config.motion)[0]
    c = C.draw_cells(rng, config.population, modules, 60, 1.0, 1.0)
    S, _, _ = C.spatial_factor(c, 1.0, 1.0, mec_sim._RESOLUTION)
    rate = C.cell_rates(c, S, mec_sim._RESOLUTION, 1.0, 1.0, s.x, s.y, s.head_direction,
                        s.speed, p=config.population, dt=config.motion.dt, rng=rng)
    np.save({path!r}, rate)
"""


@pytest.mark.slow
def test_simulated_firing_rates_agree_to_the_last_bits_on_another_cpu(tmp_path):
    """The spike generator amplifies rate differences into moved spikes: the rates must not
    depend on the CPU beyond float64 rounding (float32 rates differed by ~1e-7)."""
    _python(_RATES.format(path=str(tmp_path / "a.npy")), cwd=tmp_path)
    _python(_RATES.format(path=str(tmp_path / "b.npy")), cwd=tmp_path, env_extra=OTHER_CPU)
    a, b = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    assert a.dtype == np.float64
    np.testing.assert_allclose(a, b, rtol=1e-13, atol=0)


# cache ----------------------------------------------------------------------------------------
def _toy_benchmark(nd: NeuralData) -> Benchmark:
    return Benchmark("toy.ridge", 1, nd, MappingSpec("ridge", {"alpha": 1.0}),
                     SplitScheme.random(train_frac=0.5, n_splits=2, seed=0), n_boot=50)


def _waves(xy):
    return np.concatenate([np.cos(3 * xy), np.sin(5 * xy), xy], axis=1)


def _toy_provider() -> FunctionProvider:
    return FunctionProvider(_waves, "toy-waves", layers=("waves",))


def test_cache_never_serves_a_score_for_other_data_with_the_same_id(tmp_path, data):
    def scale(name, values):
        if name == "rate":
            values[..., 0] *= 1 + 1e-9  # fingerprint moves by ~1e-9, the rounded id does not
        return values

    other = _map_values(data, scale)
    assert other.identity().id == data.identity().id
    assert not other.identity().matches(data.identity())
    cache = Cache(tmp_path / "cache")
    provider = _toy_provider()
    first = _toy_benchmark(data)(provider, cache=cache)
    misses = cache.misses
    again = _toy_benchmark(other).cached_score(provider, "waves", cache=cache)
    assert again is None and cache.misses == misses + 1
    fresh = _toy_benchmark(other)(provider, cache=cache)
    assert fresh.attrs["data_id"] == first.attrs["data_id"]
    assert (json.loads(fresh.attrs["data_fingerprint"])
            != json.loads(first.attrs["data_fingerprint"]))
    same = _toy_benchmark(data).cached_score(provider, "waves", cache=cache)
    assert same is None  # the entry now holds the other data's score, guarded by its identity


_SCORE = """
    from mecbench.cache import Cache
    from mecbench.neural_data import NeuralData
    import test_data_identity as t
    nd = NeuralData.load({data!r})
    score = t._toy_benchmark(nd)(t._toy_provider(), cache=Cache({cache!r}))
    print(float(score["raw"].median()))
"""


@pytest.mark.slow
def test_a_cache_written_on_another_cpu_serves_the_same_data_here(tmp_path, data):
    path = data.save(tmp_path / "data.nc")
    cache_dir = tmp_path / "cache"
    there = _python(_SCORE.format(data=str(path), cache=str(cache_dir)), cwd=tmp_path,
                    env_extra={**OTHER_CPU, "PYTHONPATH": os.path.dirname(__file__)})
    cache = Cache(cache_dir)
    here = _toy_benchmark(NeuralData.load(path)).cached_score(_toy_provider(), "waves",
                                                               cache=cache)
    assert here is not None and cache.hits == 1
    assert float(here["raw"].median()) == pytest.approx(float(there), abs=1e-12)


# verify and compare ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def board_env(tmp_path_factory):
    from benchkit import write_plugin

    from mecbench.cli.main import main

    root = tmp_path_factory.mktemp("identity-board")
    plugin = write_plugin(root)
    data = make_neural_data(n_cells=5).save(root / "lab.nc")
    board = root / "board"
    for model in ("toy-fourier", "toy-bumps"):
        code = main(["--plugin", str(plugin), "-q", "score", model, str(data), "--splits",
                     "random:train_frac=0.5,n_splits=3", "--save", "--leaderboard-dir",
                     str(board)])
        assert code == 0
    return {"plugin": str(plugin), "board": board}


def _cli(board_env, capsys, *args, entries=None):
    from mecbench.cli.main import main

    board = board_env["board"]
    if entries is not None:
        path = board / "lab.ridge.jsonl"
        original = path.read_text()
        path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    try:
        code = main(["--plugin", board_env["plugin"], *args, "--leaderboard-dir", str(board)])
    finally:
        if entries is not None:
            path.write_text(original)
    out, err = capsys.readouterr()
    return code, out, err


def _entries(board_env) -> list[dict]:
    text = (board_env["board"] / "lab.ridge.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def test_compare_accepts_entries_scored_on_another_machine(board_env, capsys):
    fourier, bumps = _entries(board_env)
    elsewhere = dict(bumps, data_fingerprint=[v + 1e-13 for v in bumps["data_fingerprint"]])
    code, out, err = _cli(board_env, capsys, "compare", "toy-fourier", "toy-bumps", "-b",
                          "lab.ridge", "--n-boot", "200", entries=[fourier, elsewhere])
    assert code == 0, err


def test_compare_refuses_entries_scored_on_other_data(board_env, capsys):
    fourier, bumps = _entries(board_env)
    other = dict(bumps, data_fingerprint=[v + 1e-6 for v in bumps["data_fingerprint"]])
    code, _, err = _cli(board_env, capsys, "compare", "toy-fourier", "toy-bumps", "-b",
                        "lab.ridge", entries=[fourier, other])
    assert code == 2 and "not scored on the same data" in err and "values differ" in err
    legacy = {k: v for k, v in bumps.items() if k not in ("data_id", "data_fingerprint")}
    legacy.update(schema=1, data_hash="d" * 64)
    code, _, err = _cli(board_env, capsys, "compare", "toy-fourier", "toy-bumps", "-b",
                        "lab.ridge", entries=[fourier, legacy])
    assert code == 2 and "schema 1" in err


def test_verify_tells_changed_data_from_equal_and_different_scores(board_env, capsys):
    fourier, bumps = _entries(board_env)
    changed = dict(bumps, id="0123456789ab",
                   data_fingerprint=[v + 1e-6 for v in bumps["data_fingerprint"]])
    different = dict(fourier, id="ba9876543210", raw=fourier["raw"] + 0.01)
    legacy = {k: v for k, v in bumps.items() if k not in ("data_id", "data_fingerprint")}
    legacy.update(schema=1, data_hash="d" * 64, id="00000000000a")
    code, out, _ = _cli(board_env, capsys, "leaderboard", "verify", "lab.ridge", "--json",
                        entries=[fourier, changed, different, legacy])
    doc = json.loads(out)
    assert code == 1
    by_id = {r["id"]: r for r in doc["results"]}
    assert by_id[fourier["id"]]["status"] == "ok"
    assert by_id[fourier["id"]]["max_abs_diff"] <= 1e-12
    assert "equal within" in by_id[fourier["id"]]["message"]
    assert by_id[changed["id"]]["status"] == "stale"
    assert "data changed" in by_id[changed["id"]]["message"]
    assert by_id[changed["id"]]["max_abs_diff"] is None
    assert by_id[different["id"]]["status"] == "mismatch"
    assert by_id[different["id"]]["max_abs_diff"] == pytest.approx(0.01, rel=1e-6)
    assert "re-computed, different" in by_id[different["id"]]["message"]
    assert by_id[legacy["id"]]["status"] == "stale"
    assert "schema 1" in by_id[legacy["id"]]["message"]
