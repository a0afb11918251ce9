"""BinningOptions: one parameter object for bin_session, bin_session_arrays and bin_recordings.

The maps made with an options object are checked against an independent reference (a
occupancy-normalised rate from scipy.stats.binned_statistic_2d, unsmoothed, no speed filter)
and against the same settings given as keywords."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from scipy.stats import binned_statistic_2d

from mecbench.binning import (
    DEFAULT_BIN_SIZE,
    DEFAULT_MIN_OCCUPANCY,
    DEFAULT_OUTSIDE_TOLERANCE,
    DEFAULT_SMOOTHING_SIGMA,
    DEFAULT_SPEED_MIN,
    BinningOptions,
    bin_session,
    bin_session_arrays,
)
from mecbench.errors import ConfigError, UnknownIdentifierError
from mecbench.loaders.recording import Recording, bin_recordings


def _session(seed=0, n=5000, dt=0.02, n_cells=3):
    rng = np.random.default_rng(seed)
    t = np.arange(n) * dt
    x = rng.uniform(-0.5, 0.5, n)
    y = rng.uniform(-0.5, 0.5, n)
    spikes = [np.sort(rng.uniform(0, t[-1] + dt, 400)) for _ in range(n_cells)]
    return t, x, y, spikes


def test_defaults_are_the_documented_constants():
    o = BinningOptions()
    assert (o.bin_size, o.smoothing_sigma, o.min_occupancy, o.speed_min) == (
        DEFAULT_BIN_SIZE, DEFAULT_SMOOTHING_SIGMA, DEFAULT_MIN_OCCUPANCY, DEFAULT_SPEED_MIN)
    assert o.outside_tolerance == DEFAULT_OUTSIDE_TOLERANCE
    assert (o.speed_max, o.max_gap, o.halves, o.outside, o.spikes_outside) == (
        None, None, True, "clip", "error")
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.bin_size = 0.1


def test_options_object_gives_the_reference_rates():
    t, x, y, spikes = _session()
    opts = BinningOptions(bin_size=0.1, smoothing_sigma=0, speed_min=0, min_occupancy=0)
    got = bin_session_arrays(t, x, y, spikes, arena_width=1.0, options=opts)
    edges = np.linspace(-0.5, 0.5, 11)
    occ = binned_statistic_2d(x, y, np.full(t.size, 0.02), "sum", bins=[edges, edges]).statistic
    idx = np.searchsorted(t, spikes[0], side="right") - 1
    counts = binned_statistic_2d(x[idx], y[idx], None, "count", bins=[edges, edges]).statistic
    with np.errstate(invalid="ignore", divide="ignore"):
        ref = np.where(occ > 0, counts / occ, np.nan)
    np.testing.assert_allclose(got.rate[:, :, 0], ref, rtol=1e-12, equal_nan=True)


def test_keywords_and_the_options_object_give_the_same_maps():
    t, x, y, spikes = _session(1)
    settings = dict(bin_size=0.04, smoothing_sigma=0.03, min_occupancy=0.2, speed_min=0.01,
                    halves=False, outside_tolerance=0.2)
    a = bin_session(t, x, y, spikes, arena_width=1.0, **settings, cell_type=["g", "b", "p"])
    b = bin_session(t, x, y, spikes, arena_width=1.0, options=BinningOptions(**settings),
                    cell_type=["g", "b", "p"])
    np.testing.assert_array_equal(a.rate.values, b.rate.values)
    assert a.rate_halves is None and b.rate_halves is None
    assert list(b.rate["cell_type"].values) == ["g", "b", "p"]
    assert a.rate.attrs["bin_size"] == 0.04
    # keywords override the options object
    c = bin_session(t, x, y, spikes, arena_width=1.0, options=BinningOptions(**settings),
                    halves=True)
    assert c.rate_halves is not None
    np.testing.assert_array_equal(c.rate.values, a.rate.values)


def test_invalid_settings_name_the_setting():
    for kw, match in [({"outside": "wrap"}, "outside must be"),
                      ({"spikes_outside": "keep"}, "spikes_outside must be"),
                      ({"smoothing_sigma": -1}, "smoothing_sigma must be >= 0"),
                      ({"min_occupancy": "x"}, "min_occupancy must be a number"),
                      ({"speed_max": 0}, "speed_max must be > 0"),
                      ({"max_gap": 0}, "max_gap must be > 0")]:
        with pytest.raises(ConfigError, match=match):
            BinningOptions(**kw)
    t, x, y, spikes = _session()
    with pytest.raises(UnknownIdentifierError, match="smoothing_sigma"):
        bin_session_arrays(t, x, y, spikes, arena_width=1.0, smoothing_sigm=0.1)
    with pytest.raises(ConfigError, match="options must be a BinningOptions"):
        bin_session_arrays(t, x, y, spikes, arena_width=1.0, options={"bin_size": 0.1})
    with pytest.raises(ConfigError, match="bin"):
        bin_session_arrays(t, x, y, spikes, arena_width=1.0, bin_size=-0.1)


def test_bin_recordings_records_every_option_it_used():
    t, x, y, spikes = _session(2)
    rec = Recording(t=t, x=x, y=y, spike_times=spikes, cell_ids=["a", "b", "c"],
                    animal="r1", session="s1", source="synthetic")
    opts = BinningOptions(smoothing_sigma=0.0, speed_min=0.0)
    nd = bin_recordings([rec], arena=1.0, options=opts, min_occupancy=0.05)
    stored = json.loads(nd.attrs["binning"])
    used = dataclasses.replace(opts, min_occupancy=0.05)
    assert stored == {**dataclasses.asdict(used), "recentre": "auto", "arena": [1.0, 1.0]}
    direct = bin_session(t, x, y, spikes, arena_width=1.0, options=used)
    np.testing.assert_array_equal(nd.arena(nd.arena_names[0])["rate"].values,
                                  direct.rate.values)
