"""Response providers: arrays, functions of position, networks driven along random walks.

Reference maps come from a slow per-unit ``scipy.stats.binned_statistic_2d`` over the same
positions and activity; closed forms check the bin averaging of functions.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr
from scipy.stats import binned_statistic_2d

from mecbench.errors import ConfigError, ModelError, UnknownIdentifierError
from mecbench.providers import (
    ArrayProvider,
    FunctionProvider,
    NetworkProvider,
    PathIntegrator,
    RateMapAccumulator,
    ResponseProvider,
    bin_activity,
)
from mecbench.providers.accumulator import arena_edges
from mecbench.ratemaps import Arena, make_rate_maps
from mecbench.trajectories import make_generator, random_walk


class ToyIntegrator(torch.nn.Module):
    """Satisfies the PathIntegrator contract with units that are fixed functions of the true
    position (integrated from the velocities): ``pos`` = (x, y); ``feat`` = ReLU(W·pos + b)."""

    layer_names = ("pos", "feat")
    default_layer = "feat"

    def __init__(self, n_units: int = 12, seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.lin = torch.nn.Linear(2, n_units)
        with torch.no_grad():
            self.lin.weight.copy_(torch.randn(n_units, 2, generator=gen) * 3)
            self.lin.bias.copy_(torch.randn(n_units, generator=gen))

    def layer_activity(self, start, velocities):
        pos = start[:, None, :] + torch.cumsum(velocities, dim=1)
        return {"pos": pos, "feat": torch.relu(self.lin(pos))}


class BadShape(ToyIntegrator):
    def layer_activity(self, start, velocities):
        out = super().layer_activity(start, velocities)
        return {"pos": out["pos"][:, 1:], "feat": out["feat"]}


class NotADict(ToyIntegrator):
    def layer_activity(self, start, velocities):
        return super().layer_activity(start, velocities)["feat"]


class NaNUnits(ToyIntegrator):
    def layer_activity(self, start, velocities):
        out = super().layer_activity(start, velocities)
        out["feat"][..., 0] = torch.nan
        return out


def reference_maps(positions: np.ndarray, activity: np.ndarray, arena: Arena) -> np.ndarray:
    """Slow per-unit reference binning with scipy (NaN in unvisited bins)."""
    ex, ey = arena_edges(arena)
    return np.stack([
        binned_statistic_2d(positions[:, 0], positions[:, 1], activity[:, u], "mean",
                            bins=[ex, ey]).statistic
        for u in range(activity.shape[1])
    ], axis=-1)


def replay(module, arena, seed, n_batches, batch_size, n_steps):
    """The positions and activity NetworkProvider sees, regenerated independently."""
    gen = make_generator(seed)
    pos, act = [], {name: [] for name in module.layer_names}
    with torch.no_grad():
        for _ in range(n_batches):
            tr = random_walk(batch_size, n_steps, arena_width=arena.width,
                             arena_height=arena.height, generator=gen)
            out = module.layer_activity(tr.start, tr.velocities)
            pos.append(tr.positions[:, 1:].reshape(-1, 2).double().numpy())
            for name in act:
                act[name].append(out[name].reshape(-1, out[name].shape[-1]).double().numpy())
    return np.concatenate(pos), {k: np.concatenate(v) for k, v in act.items()}


# ----------------------------------------------------------------------------- binning


def test_bin_activity_equals_per_unit_scipy():
    arena = Arena(1.0, 0.6, 0.05)
    rng = np.random.default_rng(0)
    pos = np.column_stack([rng.uniform(-0.5, 0.5, 5000), rng.uniform(-0.3, 0.3, 5000)])
    pos[:10, 0] = 0.5  # on the far walls: counted in the last bins, as scipy does
    pos[10:20, 1] = 0.3
    pos[20:30] = -0.5, -0.3
    act = rng.standard_normal((5000, 7))
    ref = reference_maps(pos, act, arena)
    for chunk in (5000, 333):
        got = bin_activity(pos, act.astype(np.float32), arena, chunk_size=chunk)
        np.testing.assert_allclose(got, reference_maps(pos, act.astype(np.float32), arena),
                                   rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bin_activity(torch.as_tensor(pos), torch.as_tensor(act), arena),
                               ref, rtol=1e-12, atol=1e-12)


def test_accumulator_counts_and_means_on_a_non_square_grid():
    """Means and visit counts on a 10 x 8 grid against scipy; a sparse sample leaves NaN in
    exactly the bins scipy counts no sample in."""
    arena = Arena(1.0, 0.8, 0.1)
    rng = np.random.default_rng(13)
    pos = np.column_stack([rng.uniform(-0.5, 0.5, 5000), rng.uniform(-0.4, 0.4, 5000)])
    act = rng.normal(size=(5000, 3))
    ex, ey = arena_edges(arena)
    acc = RateMapAccumulator(arena, 3)
    acc.add(pos, act)
    assert acc.rate_maps().shape == (10, 8, 3)
    np.testing.assert_allclose(acc.rate_maps(), reference_maps(pos, act, arena), rtol=1e-10)
    ref_counts = binned_statistic_2d(pos[:, 0], pos[:, 1], None, "count",
                                     bins=[ex, ey]).statistic
    np.testing.assert_array_equal(acc.counts.numpy().reshape(10, 8), ref_counts)
    sparse = bin_activity(pos[:30], act[:30], arena)
    sparse_counts = binned_statistic_2d(pos[:30, 0], pos[:30, 1], None, "count",
                                        bins=[ex, ey]).statistic
    assert (sparse_counts == 0).any()
    np.testing.assert_array_equal(np.isnan(sparse[..., 0]), sparse_counts == 0)
    np.testing.assert_allclose(sparse, reference_maps(pos[:30], act[:30], arena), rtol=1e-10)


def test_accumulator_refuses_positions_outside_the_box_or_not_finite():
    arena = Arena(0.5, 0.5, 0.1)
    act = np.ones((3, 1))
    inside = np.array([[0.0, 0.0], [0.25, -0.25], [-0.1, 0.2]])  # walls included
    assert np.isfinite(bin_activity(inside, act, arena)).sum() == 3
    for bad, n_bad in (([0.26, 0.0], 1), ([np.nan, 0.0], 1), ([0.0, np.inf], 1)):
        pos = inside.copy()
        pos[1] = bad
        with pytest.raises(ConfigError, match=f"{n_bad} positions lie outside the 0.5x0.5m box "
                                               "or are not finite"):
            bin_activity(pos, act, arena)


def test_accumulator_unvisited_policies():
    arena = Arena(0.5, 0.5, 0.1)
    pos = np.array([[-0.2, -0.2], [0.2, 0.2], [0.21, 0.22]])
    act = np.array([[1.0], [2.0], [4.0]])
    acc = RateMapAccumulator(arena, 1)
    acc.add(pos, act)
    nan_maps = acc.rate_maps("nan")
    assert np.isnan(nan_maps).sum() == 23
    assert nan_maps[0, 0, 0] == 1.0 and nan_maps[4, 4, 0] == 3.0
    with pytest.raises(ModelError, match="23 of 25 bins"):
        acc.rate_maps("error")
    filled = acc.rate_maps("nearest")
    # bins nearer to (0, 0) than to (4, 4) take its value
    ii, jj = np.meshgrid(range(5), range(5), indexing="ij")
    d0, d4 = np.hypot(ii, jj), np.hypot(ii - 4, jj - 4)
    assert (filled[..., 0][d0 < d4] == 1.0).all() and (filled[..., 0][d4 < d0] == 3.0).all()
    with pytest.raises(UnknownIdentifierError):
        acc.rate_maps("zero")


def test_accumulator_rejects_positions_outside_and_bad_shapes():
    acc = RateMapAccumulator(Arena(1.0, 1.0), 2)
    with pytest.raises(ConfigError, match="outside"):
        acc.add(np.array([[0.6, 0.0]]), np.ones((1, 2)))
    with pytest.raises(ConfigError, match="does not match"):
        acc.add(np.zeros((3, 2)), np.ones((3, 5)))
    with pytest.raises(ConfigError):
        RateMapAccumulator(Arena(1.0, 1.0), 0)


# ----------------------------------------------------------------------------- networks


@pytest.fixture(scope="module")
def toy():
    return ToyIntegrator()


def small_provider(module, identifier="toy", **kw):
    opts = {"n_batches": 4, "batch_size": 100, "n_steps": 20, **kw}
    return NetworkProvider(module, identifier, **opts)


@pytest.mark.parametrize("arena", [Arena(1.0, 0.5), Arena(0.6, 0.6)])
def test_network_maps_equal_slow_reference(toy, arena):
    provider = small_provider(toy)
    assert isinstance(provider, ResponseProvider) and isinstance(toy, PathIntegrator)
    pos, act = replay(toy, arena, seed=5, n_batches=4, batch_size=100, n_steps=20)
    # float32 positions on a wall at ±0.3 m round to just outside the float64 edge, where scipy
    # would drop them; they lie on the wall by construction
    ex, ey = arena_edges(arena)
    pos = np.column_stack([np.clip(pos[:, 0], ex[0], ex[-1]), np.clip(pos[:, 1], ey[0], ey[-1])])
    for layer in ("feat", "pos"):
        maps = provider.rate_maps(arena, layer, seed=5)
        assert maps.dims == ("x", "y", "neuroid")
        assert maps.attrs["model"] == "toy" and maps.attrs["layer"] == layer
        ref = reference_maps(pos, act[layer], arena)
        assert np.isfinite(ref).all()
        np.testing.assert_allclose(maps.values, ref, rtol=1e-12, atol=1e-12)
    # the 'pos' layer's maps are the mean position in each bin: inside the bin
    pos_maps = provider.rate_maps(arena, "pos", seed=5).values
    dx = np.abs(pos_maps[..., 0] - arena.x[:, None])
    dy = np.abs(pos_maps[..., 1] - arena.y[None, :])
    assert dx.max() <= arena.bin_size / 2 + 1e-6 and dy.max() <= arena.bin_size / 2 + 1e-6


def test_network_default_layer_and_seeds(toy):
    provider = small_provider(toy)
    arena = Arena(0.5, 0.5)
    a = provider.rate_maps(arena, seed=1)
    assert a.attrs["layer"] == "feat" and a.attrs["seed"] == 1
    assert list(a["neuroid_id"].values[:2]) == ["feat/0", "feat/1"]
    xr.testing.assert_identical(a, provider.rate_maps(arena, "feat", seed=1))
    assert not np.array_equal(a.values, provider.rate_maps(arena, seed=2).values)


def test_network_restores_training_flag(toy):
    toy.train()
    small_provider(toy).rate_maps(Arena(0.5, 0.5))
    assert toy.training
    toy.eval()


def test_network_unknown_layer_lists_valid_names(toy):
    provider = small_provider(toy)
    with pytest.raises(UnknownIdentifierError, match="'feat'") as info:
        provider.rate_maps(Arena(0.5, 0.5), "fet")
    assert "toy" in str(info.value)
    with pytest.raises(UnknownIdentifierError, match="valid choices: feat, pos"):
        provider.rate_maps(Arena(0.5, 0.5), "zzzzzz")


@pytest.mark.parametrize("cls, match", [
    (BadShape, r"layer 'pos'.*shape \(100, 19, 2\).*expected \(100, 20, units\)"),
    (NotADict, "expected a dict"),
    (NaNUnits, "non-finite values in 1 units"),
])
def test_network_bad_output_names_the_model(cls, match):
    provider = NetworkProvider(cls(), "my-broken-net", n_batches=2, batch_size=100)
    layer = "pos" if cls is BadShape else "feat"
    with pytest.raises(ModelError, match="my-broken-net") as info:
        provider.rate_maps(Arena(0.5, 0.5), layer)
    assert info.match(match)


def test_network_rejects_modules_without_the_contract():
    with pytest.raises(ModelError, match="layer_names"):
        NetworkProvider(torch.nn.Linear(2, 3), "plain")
    with pytest.raises(ConfigError, match="n_batches"):
        NetworkProvider(ToyIntegrator(), "toy", n_batches=0)


def test_network_unvisited_bins(toy):
    arena = Arena(2.2, 2.2)
    tiny = small_provider(toy, n_batches=1, batch_size=3, n_steps=5)
    with pytest.raises(ModelError, match="never visited.*increase n_batches"):
        tiny.rate_maps(arena)
    filled = small_provider(toy, n_batches=1, batch_size=3, n_steps=5, unvisited="nearest")
    maps = filled.rate_maps(arena, "feat").values
    assert np.isfinite(maps).all()
    pos, act = replay(toy, arena, 0, 1, 3, 5)
    ref = reference_maps(pos, act["feat"], arena)
    visited = np.isfinite(ref[..., 0])
    np.testing.assert_allclose(maps[visited], ref[visited], rtol=1e-12)
    # every unvisited bin holds the values of one of its nearest visited bins
    vi = np.argwhere(visited)
    for i, j in np.argwhere(~visited)[::37]:
        d = np.hypot(vi[:, 0] - i, vi[:, 1] - j)
        candidates = ref[vi[d == d.min(), 0], vi[d == d.min(), 1]]
        assert any(np.allclose(maps[i, j], c) for c in candidates)


def test_network_fingerprint(toy):
    a = small_provider(toy).fingerprint()
    assert a == small_provider(ToyIntegrator()).fingerprint()  # same weights, new object
    assert len(a) == 64
    assert small_provider(ToyIntegrator(seed=1)).fingerprint() != a
    assert small_provider(toy, n_batches=5).fingerprint() != a
    other = ToyIntegrator()
    with torch.no_grad():
        other.lin.bias[3] += 1e-6
    assert small_provider(other).fingerprint() != a
    assert small_provider(toy, weights_fingerprint="abc").fingerprint() \
        == small_provider(ToyIntegrator(seed=1), weights_fingerprint="abc").fingerprint()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
def test_network_on_gpu_matches_cpu():
    arena = Arena(1.0, 1.0)
    cpu = small_provider(ToyIntegrator()).rate_maps(arena, seed=3)
    gpu = small_provider(ToyIntegrator(), device="cuda").rate_maps(arena, seed=3)
    np.testing.assert_allclose(gpu.values, cpu.values, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- functions


def test_function_at_bin_centres():
    arena = Arena(1.0, 0.5, 0.1)
    provider = FunctionProvider(lambda p: np.column_stack([p[:, 0], p[:, 1] ** 2]), "xy")
    assert isinstance(provider, ResponseProvider)
    maps = provider.rate_maps(arena)
    np.testing.assert_allclose(maps.values[..., 0], np.broadcast_to(arena.x[:, None], (10, 5)))
    np.testing.assert_allclose(maps.values[..., 1], np.broadcast_to(arena.y[None] ** 2, (10, 5)))
    assert maps.attrs["layer"] == "output"


@pytest.mark.parametrize("k", [2, 3, 5])
def test_function_sub_bin_average_closed_form(k):
    """Midpoint rule over k×k sub-squares: mean of x² over a bin of width h centred on c is
    c² + h²(1 − 1/k²)/12; a linear function averages to its centre value."""
    arena = Arena(0.6, 0.4, 0.1)
    fn = lambda p: np.column_stack([p[:, 0] ** 2, 3 * p[:, 0] - p[:, 1] + 1])  # noqa: E731
    maps = FunctionProvider(fn, "quad", samples_per_bin=k, chunk_bins=7).rate_maps(arena).values
    h = arena.bin_size
    expected = arena.x[:, None] ** 2 + h**2 * (1 - 1 / k**2) / 12
    np.testing.assert_allclose(maps[..., 0], np.broadcast_to(expected, (6, 4)), rtol=1e-12)
    lin = 3 * arena.x[:, None] - arena.y[None, :] + 1
    np.testing.assert_allclose(maps[..., 1], lin, rtol=1e-12, atol=1e-14)


def test_function_layers_and_torch_output():
    def fn(p):
        t = torch.as_tensor(p)
        return {"a": t[:, :1] * 2, "b": torch.cos(t)}

    provider = FunctionProvider(fn, "two", layers=("a", "b"), default_layer="b",
                                n_units={"a": 1, "b": 2})
    assert provider.rate_maps(Arena(0.5, 0.5)).sizes["neuroid"] == 2
    assert provider.rate_maps(Arena(0.5, 0.5), "a").sizes["neuroid"] == 1
    with pytest.raises(UnknownIdentifierError, match="valid choices: a, b"):
        provider.rate_maps(Arena(0.5, 0.5), "zzz")


@pytest.mark.parametrize("fn, match", [
    (lambda p: np.zeros((len(p) + 1, 3)), r"returned shape \(\d+, 3\)"),
    (lambda p: np.zeros((len(p), 2, 2)), "expected \\(N, units\\)"),
    (lambda p: np.full((len(p), 3), np.nan), "non-finite"),
    (lambda p: 1 / 0, "ZeroDivisionError"),
    (lambda p: np.zeros((len(p), 4)), "declared n_units=3"),
])
def test_function_bad_output_names_the_model(fn, match):
    provider = FunctionProvider(fn, "wonky-model", n_units=3)
    with pytest.raises(ModelError, match="wonky-model") as info:
        provider.rate_maps(Arena(0.5, 0.5))
    assert info.match(match)


def test_function_fingerprint():
    a = FunctionProvider(lambda p: p * 2, "f").fingerprint()
    assert a == FunctionProvider(lambda p: p * 2, "f").fingerprint()
    assert a != FunctionProvider(lambda p: p * 3, "f").fingerprint()
    assert a != FunctionProvider(lambda p: p * 2, "f", samples_per_bin=2).fingerprint()
    assert a != FunctionProvider(lambda p: p * 2, "f", version="2").fingerprint()


# ----------------------------------------------------------------------------- arrays


def test_array_provider_from_nayebi_dict_and_flat_arrays():
    rng = np.random.default_rng(1)
    resp = {1.0: rng.random((20, 20, 5)), "0.5x0.5m": rng.random((100, 3))}
    provider = ArrayProvider.from_nayebi(resp, "saved", layer="g")
    assert isinstance(provider, ResponseProvider)
    assert provider.layers == ("g",) and provider.default_layer == "g"
    big = provider.rate_maps(Arena(1.0, 1.0))
    np.testing.assert_array_equal(big.values, resp[1.0])
    small = provider.rate_maps("0.5x0.5m", seed=9)
    np.testing.assert_array_equal(small.values, resp["0.5x0.5m"].reshape(10, 10, 3))
    with pytest.raises(UnknownIdentifierError, match="arena"):
        provider.rate_maps(Arena(1.0, 1.0, 0.1))
    with pytest.raises(UnknownIdentifierError, match="layer"):
        provider.rate_maps(Arena(1.0, 1.0), "pre_g")


def test_array_provider_nested_layers_keep_dataarray_ids():
    rng = np.random.default_rng(2)
    da = make_rate_maps(rng.random((10, 6, 2)), arena_width=0.5, arena_height=0.3,
                        bin_size=0.05, neuroid_id=["u-a", "u-b"])
    provider = ArrayProvider({"g": {"0.5x0.3m": da}, "dc": {"0.5x0.3m": rng.random((10, 6, 4))}},
                             "nested", default_layer="dc")
    assert provider.layers == ("g", "dc") and provider.default_layer == "dc"
    g = provider.rate_maps(Arena(0.5, 0.3), "g")
    assert list(g["neuroid_id"].values) == ["u-a", "u-b"]
    np.testing.assert_array_equal(g.values, da.values)
    assert provider.rate_maps(Arena(0.5, 0.3)).sizes["neuroid"] == 4


def test_array_provider_rejects_bad_arrays():
    with pytest.raises(ModelError, match=r"'bad'.*\(7, 7, 2\)"):
        ArrayProvider({1.0: np.zeros((7, 7, 2))}, "bad")
    arr = np.zeros((20, 20, 2))
    arr[3, 4, 1] = np.nan
    with pytest.raises(ModelError, match="bad.*1 units hold non-finite"):
        ArrayProvider({1.0: arr}, "bad")
    with pytest.raises(ConfigError):
        ArrayProvider({}, "bad")


def test_array_fingerprint():
    arr = np.random.default_rng(3).random((20, 20, 2))
    a = ArrayProvider({1.0: arr}, "m").fingerprint()
    assert a == ArrayProvider({"1x1m": arr.copy()}, "m").fingerprint()
    changed = arr.copy()
    changed[0, 0, 0] += 1e-12
    assert a != ArrayProvider({1.0: changed}, "m").fingerprint()
