"""Control models: generators, the name grammar, providers and the nested-prefix measures."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mecbench import registry
from mecbench.analysis import grid_scores, participation_ratio
from mecbench.controls import features
from mecbench.controls.measures import (
    grid_fraction,
    nested_participation_ratios,
    prefix_grid_fractions,
)
from mecbench.controls.names import ControlSpec, parse_control_name
from mecbench.controls.providers import (
    PositionControl,
    ShuffleControl,
    bin_positions,
    control_provider,
    model_rate_maps,
)
from mecbench.errors import ConfigError, ModelError, UnknownIdentifierError
from mecbench.providers.base import ResponseProvider, check_provider_output
from mecbench.ratemaps import Arena, flat_values

ARENA = Arena(1.0, 1.0, 0.05)
XY = bin_positions(ARENA)
GENERATORS = {
    "fourier": lambda d, s: features.fourier_features(XY, d, s),
    "bumps": lambda d, s: features.gaussian_bumps(XY, d, s),
    "relu": lambda d, s: features.relu_features(XY, d, s),
    "grid": lambda d, s: features.grid_population(XY, d, s),
}


# generators ----------------------------------------------------------------------------------
@pytest.mark.parametrize("family", list(GENERATORS))
def test_nested_draws_and_seeds(family):
    gen = GENERATORS[family]
    small, large = gen(16, 3), gen(300, 3)
    assert small.shape == (XY.shape[0], 16)
    assert np.array_equal(small, large[:, :16])          # prefix of a larger draw, bit-exact
    assert np.array_equal(gen(16, 3), small)             # deterministic
    assert not np.allclose(gen(16, 4), small)            # another seed, another draw
    assert np.isfinite(large).all()
    assert (large.std(axis=0) > 0).all()                 # no unit is constant in the arena


def test_fourier_features_approximate_rbf_kernel():
    # Rahimi & Recht: E[phi(x) phi(x')] = exp(-|x - x'|^2 / (2 l^2)); check with many units
    bw = 0.2
    pts = np.array([[0.0, 0.0], [0.1, 0.0], [0.2, 0.1], [-0.3, 0.2]])
    phi = features.fourier_features(pts, 40000, 0, bandwidth=bw)
    approx = phi @ phi.T / phi.shape[1]
    d2 = ((pts[:, None] - pts[None]) ** 2).sum(-1)
    assert np.allclose(approx, np.exp(-d2 / (2 * bw**2)), atol=0.02)


def test_fourier_frequencies_are_gaussian():
    # w = N(0, I)/bw: w·e1 * bw must be standard normal (KS test against the closed form)
    bw = 0.12
    phase0 = features.fourier_features(np.zeros((1, 2)), 4000, 1, bandwidth=bw)
    step = 1e-4
    dx = features.fourier_features(np.array([[step, 0.0]]), 4000, 1, bandwidth=bw)
    # derivative along x: -sqrt2 sin(b) w_x ; recover w_x from finite differences and cos/sin
    b = np.arccos(np.clip(phase0[0] / np.sqrt(2), -1, 1))
    sin_b = np.sin(b)
    ok = np.abs(sin_b) > 0.3
    wx = np.abs((dx[0] - phase0[0]) / step / (-np.sqrt(2) * sin_b))[ok]
    # |N(0,1)| is the half-normal distribution
    assert stats.kstest(wx * bw, stats.halfnorm.cdf).pvalue > 1e-3


def test_bumps_are_gaussians_at_uniform_centres():
    # log f(x) = -|x - c|^2 / (2 w^2) is quadratic: three evaluations give the centre exactly
    w, h = 0.5, 0.1
    pts = np.array([[0.0, 0.0], [h, 0.0], [0.0, h], [0.3, -0.2]])
    logf = np.log(features.gaussian_bumps(pts, 2000, 0, width=w, extent=(1.0, 2.0)))
    cx = w**2 * (logf[1] - logf[0]) / h + h / 2
    cy = w**2 * (logf[2] - logf[0]) / h + h / 2
    # the fourth point checks the Gaussian form itself
    expected = -((pts[3, 0] - cx) ** 2 + (pts[3, 1] - cy) ** 2) / (2 * w**2)
    assert np.allclose(logf[3], expected, atol=1e-9)
    # centres uniform in the 1 m x 2 m box (KS test against the closed form)
    assert stats.kstest(cx, stats.uniform(-0.5, 1.0).cdf).pvalue > 1e-3
    assert stats.kstest(cy, stats.uniform(-1.0, 2.0).cdf).pvalue > 1e-3
    assert np.exp(logf).max() <= 1.0


def test_relu_ramps_cross_the_box():
    maps = features.relu_features(XY, 400, 0, extent=(1.0, 1.0))
    assert (maps >= 0).all()
    active = (maps > 0).mean(axis=0)
    assert ((active > 0) & (active < 1)).all()   # every kink lies inside the box


def test_grid_population_is_hexagonal_with_module_spacings():
    arena = Arena(2.0, 2.0, 0.05)
    maps = PositionControl("control/grid-d16-s0").rate_maps(arena)
    scores = grid_scores(maps).values
    assert (scores > 0.8).all()
    p = features.grid_module_parameters(16, 0)
    assert np.allclose(p["module_spacing"], 0.3 * 1.4 ** np.arange(4))
    assert np.array_equal(p["module"], np.arange(16) % 4)
    # the field centres repeat with the module spacing: shifting a map by one lattice vector
    # leaves it unchanged
    lam, theta, phase = p["spacing"][0], p["orientation"][0], p["phase"][0]
    pts = np.array([[0.1, -0.2], [0.3, 0.05]])
    shift = lam * np.array([np.cos(theta), np.sin(theta)])
    a = features.grid_population(pts, 1, 0)
    b = features.grid_population(pts + shift, 1, 0)
    assert np.allclose(a, b)
    # the field peak (value 1) sits at the phase
    assert np.isclose(features.grid_population(phase[None], 1, 0)[0, 0], 1.0)


def test_grid_fixed_orientation():
    p = features.grid_module_parameters(8, 5, orientation=7.5)
    assert np.allclose(p["module_orientation"], np.deg2rad(7.5))
    with pytest.raises(ConfigError, match="orientation"):
        features.grid_module_parameters(8, 5, orientation=75.0)


def test_shuffle_keeps_values_and_destroys_structure():
    values = features.grid_population(XY, 64, 0)
    shuffled = features.shuffle_bins(values, 7)
    assert np.array_equal(np.sort(shuffled, axis=0), np.sort(values, axis=0))
    assert np.array_equal(features.shuffle_bins(values[:, :10], 7), shuffled[:, :10])
    # each unit has its own permutation
    perms = np.argsort(features.shuffle_bins(np.tile(np.arange(400.0)[:, None], 3), 7), axis=0)
    assert not np.array_equal(perms[:, 0], perms[:, 1])
    maps = ARENA.shape + (64,)
    original = grid_scores(_as_da(values.reshape(maps))).values
    destroyed = grid_scores(_as_da(shuffled.reshape(maps))).values
    assert np.median(original) > 1.0 and np.median(destroyed) < 0.3


def _as_da(values):
    from mecbench.ratemaps import make_rate_maps

    return make_rate_maps(values, arena_width=ARENA.width, bin_size=ARENA.bin_size)


@pytest.mark.parametrize("dim", [0, -3, 2.5, True, features.MAX_DIM + 1])
def test_bad_dimension(dim):
    with pytest.raises(ConfigError, match="D|dimension"):
        features.fourier_features(XY, dim, 0)


# names ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,family,dim,seed,kwargs,base", [
    ("control/fourier-d64-s0", "fourier", 64, 0, {"bandwidth": 0.12}, None),
    ("fourier-s3-d64-bw0.2", "fourier", 64, 3, {"bandwidth": 0.2}, None),
    ("control/bumps-d8-s1-w0.05", "bumps", 8, 1, {"width": 0.05}, None),
    ("control/relu-d4096-s2", "relu", 4096, 2, {}, None),
    ("control/grid-d96-s1-m3-o7.5", "grid", 96, 1,
     {"n_modules": 3, "spacing": 0.3, "ratio": 1.4, "gain": 0.5, "orientation": 7.5}, None),
    ("control/shuffle-rnn-relu-dos-s2", "shuffle", None, 2, {}, "rnn-relu-dos"),
    ("control/shuffle-control/grid-d8-s0-s1", "shuffle", None, 1, {}, "control/grid-d8-s0"),
    ("control/untrained-rnn-relu-d256-s0", "untrained", 256, 0, {}, "rnn-relu"),
])
def test_parse_names(name, family, dim, seed, kwargs, base):
    spec = parse_control_name(name)
    assert (spec.family, spec.dim, spec.seed, spec.base) == (family, dim, seed, base)
    assert spec.kwargs == kwargs
    assert parse_control_name(spec.name) == spec           # canonical names round-trip


def test_canonical_name_drops_defaults():
    assert parse_control_name("control/bumps-d8-s0-w0.12").name == "control/bumps-d8-s0"
    assert parse_control_name("grid-s2-m3-d8").name == "control/grid-d8-s2-m3"


@pytest.mark.parametrize("name,error,match", [
    ("control/fourier-d0-s0", ConfigError, "positive"),
    ("control/fourier-d-4-s0", ConfigError, "positive"),
    ("control/fourier-s0", ConfigError, "dimension"),
    ("control/fourier-d4", ConfigError, "seed"),
    ("control/fourrier-d4-s0", UnknownIdentifierError, "did you mean 'fourier'"),
    ("control/fourier-d4-s0-w1", UnknownIdentifierError, "'bw'"),
    ("control/relu-d4-s0-x1", UnknownIdentifierError, "relu control option"),
    ("control/grid-d4-s0-m2.5", ConfigError, "integer"),
    ("control/fourier-d4-s0-bw0", ConfigError, "positive"),
    ("control/fourier-d4-s0-bwx", ConfigError, "cannot read"),
    ("control/shuffle-s0", ConfigError, "must name a model"),
    ("control/shuffle-rnn", ConfigError, "seed"),
    ("control/untrained-rnn-relu-s0", ConfigError, "dimension"),
])
def test_bad_names(name, error, match):
    with pytest.raises(error, match=match):
        parse_control_name(name)


def test_spec_make_validates():
    with pytest.raises(UnknownIdentifierError):
        ControlSpec.make("wavelets", 4)
    with pytest.raises(ConfigError):
        ControlSpec.make("fourier", 0)
    with pytest.raises(ConfigError):
        ControlSpec.make("fourier", 4, seed=-1)
    assert ControlSpec.make("fourier", 4, 1, bandwidth=0.3).name == "control/fourier-d4-s1-bw0.3"


# providers --------------------------------------------------------------------------------------
def test_registry_family_builds_position_controls():
    provider = registry.load("model", "control/grid-d12-s0-m3")
    assert isinstance(provider, PositionControl)
    assert isinstance(provider, ResponseProvider)
    maps = provider.rate_maps(ARENA, "features")
    check_provider_output(provider, ARENA, "features", maps)
    assert maps.sizes["neuroid"] == 12
    assert list(maps["module"].values[:4]) == [0, 1, 2, 0]
    assert maps.attrs["model"] == "control/grid-d12-s0-m3"
    # values are the generator's on the bin centres (C order over x, y)
    expected = features.grid_population(XY, 12, 0, n_modules=3)
    assert np.array_equal(flat_values(maps), expected)
    # fingerprints separate options, dimensions and seeds
    fps = {PositionControl(n).fingerprint() for n in
           ("control/grid-d12-s0-m3", "control/grid-d12-s0", "control/grid-d13-s0-m3",
            "control/grid-d12-s1-m3")}
    assert len(fps) == 4


def test_unknown_control_layer_and_family():
    ctrl = PositionControl("control/relu-d4-s0")
    with pytest.raises(UnknownIdentifierError, match="layer"):
        ctrl.rate_maps(ARENA, "g")
    with pytest.raises(UnknownIdentifierError, match="control family"):
        registry.load("model", "control/wavelet-d4-s0")


def test_shuffle_control_wraps_any_model():
    base = PositionControl("control/grid-d10-s0")
    shuffled = ShuffleControl(base, seed=3)
    assert shuffled.identifier == "control/shuffle-control/grid-d10-s0-s3"
    maps = shuffled.rate_maps(ARENA, "features")
    original = flat_values(base.rate_maps(ARENA))
    assert np.array_equal(np.sort(flat_values(maps), axis=0), np.sort(original, axis=0))
    assert not np.allclose(flat_values(maps), original)
    again = control_provider("control/shuffle-control/grid-d10-s0-s3")
    assert np.array_equal(again.rate_maps(ARENA).values, maps.values)
    assert again.fingerprint() == shuffled.fingerprint() != base.fingerprint()
    with pytest.raises(UnknownIdentifierError, match="model"):
        control_provider("control/shuffle-no-such-model-s0")


def test_untrained_control_has_d_units():
    provider = control_provider("control/untrained-rnn-relu-d12-s3")
    assert provider.identifier == "control/untrained-rnn-relu-d12-s3"
    other = control_provider("control/untrained-rnn-relu-d12-s4")
    assert provider.fingerprint() != other.fingerprint()       # the seed draws the weights
    provider.n_batches = 3                                      # a short rollout for the test
    maps = provider.rate_maps(ARENA, provider.default_layer)
    check_provider_output(provider, ARENA, provider.default_layer, maps)
    assert maps.sizes["neuroid"] == 12


def test_untrained_control_errors():
    with pytest.raises(UnknownIdentifierError, match="untrained architecture"):
        control_provider("control/untrained-no-such-arch-d8-s0")


class _OneArenaModel:
    identifier = "one-arena"
    layers = ("out",)
    default_layer = "out"

    def fingerprint(self):
        return "x"

    def rate_maps(self, arena, layer, *, seed=0):
        if arena.width != 1.0:
            raise ConfigError("only the 1 m box was recorded")
        return PositionControl("control/relu-d3-s0").rate_maps(arena)


def test_model_without_maps_in_arena_is_a_clear_error():
    with pytest.raises(ModelError, match=r"'one-arena' has no rate maps for arena 2.2x2.2m"):
        model_rate_maps(_OneArenaModel(), Arena(2.2, 2.2, 0.05), what="benchmark b")
    assert model_rate_maps(_OneArenaModel(), ARENA).sizes["neuroid"] == 3


# measures ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", ["fourier", "grid", "relu"])
def test_nested_participation_ratio_matches_analysis(family):
    small = Arena(0.6, 0.6, 0.05)                                         # 144 bins < 300 units
    maps = PositionControl(f"control/{family}-d300-s1").rate_maps(small)
    dims = [1, 5, 64, 143, 144, 145, 300]
    fast = nested_participation_ratios(flat_values(maps), dims)
    ref = [participation_ratio(maps.isel(neuroid=slice(0, d))) for d in dims]
    assert np.allclose(fast, ref, rtol=1e-9)
    assert fast[0] == pytest.approx(1.0)


def test_participation_ratio_closed_form():
    # independent units with variances v: PR = (sum v)^2 / sum v^2 (orthogonal columns)
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((400, 5)) - 0)
    q -= q.mean(axis=0)
    q, _ = np.linalg.qr(q)
    v = np.array([4.0, 2.0, 1.0, 1.0, 0.5])
    X = q * np.sqrt(v)
    assert nested_participation_ratios(X, [5])[0] == pytest.approx(v.sum() ** 2 / (v**2).sum())


def test_prefix_grid_fractions_use_analysis_scores():
    maps = PositionControl("control/fourier-d40-s0").rate_maps(Arena(1.5, 1.5, 0.05))
    grid = PositionControl("control/grid-d40-s0").rate_maps(Arena(1.5, 1.5, 0.05))
    mixed = maps.copy(data=np.concatenate([grid.values[..., :20], maps.values[..., :20]], -1))
    mixed = mixed.assign_coords(neuroid_id=("neuroid", [f"u{i}" for i in range(40)]))
    scores = grid_scores(mixed).values
    expect = [(scores[:d] > 0.3).mean() for d in (10, 20, 40)]
    assert np.allclose(prefix_grid_fractions(mixed, [10, 20, 40]), expect)
    # capped: beyond max_units the fraction of the first max_units units
    assert np.allclose(prefix_grid_fractions(mixed, [10, 40], max_units=20), [expect[0], 1.0])
    assert grid_fraction(mixed) == pytest.approx(expect[-1])
    sub = grid_fraction(mixed, max_units=10, seed=1)
    assert sub in {k / 10 for k in range(11)}
