"""Binning against independent references: scipy.stats.binned_statistic_2d per cell,
scipy.ndimage.gaussian_filter applied to counts and occupancy, closed forms, and a simulated
place cell with a known field."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from scipy.stats import binned_statistic_2d

from mecbench.binning import bin_session
from mecbench.errors import DataError
from mecbench.ratemaps import Arena

W, H, BS = 1.0, 0.8, 0.1  # a small non-square grid: 10 x 8 bins


def _random_session(rng, n=6000, dt=0.02, n_cells=4, rate=5.0, w=W, h=H):
    """Independent uniform positions per sample and Poisson-like spike trains."""
    t = np.arange(n) * dt
    x = rng.uniform(-w / 2, w / 2, n)
    y = rng.uniform(-h / 2, h / 2, n)
    spikes = [np.sort(rng.uniform(0, t[-1] + dt, rng.poisson(rate * n * dt)))
              for _ in range(n_cells)]
    return t, x, y, spikes


def _edges(w=W, h=H, bs=BS):
    return np.linspace(-w / 2, w / 2, round(w / bs) + 1), np.linspace(-h / 2, h / 2,
                                                                       round(h / bs) + 1)


def _reference_counts(t, x, y, spikes, dt, mask=None):
    """Per-cell counts and occupancy with binned_statistic_2d (one call per cell)."""
    ex, ey = _edges()
    mask = np.ones(t.size, bool) if mask is None else mask
    occ = binned_statistic_2d(x[mask], y[mask], dt[mask], "sum", bins=[ex, ey]).statistic
    counts = []
    for s in spikes:
        idx = np.digitize(s, t) - 1  # last sample at or before each spike
        keep = mask[idx]
        counts.append(binned_statistic_2d(x[idx[keep]], y[idx[keep]], None, "count",
                                          bins=[ex, ey]).statistic)
    return np.stack(counts, -1), occ


def _dt(t):
    d = np.diff(t)
    return np.append(d, np.median(d))


@pytest.mark.parametrize("min_occ", [0.0, 1.5])
def test_unsmoothed_equals_binned_statistic(min_occ):
    rng = np.random.default_rng(0)
    t, x, y, spikes = _random_session(rng)
    b = bin_session(t, x, y, spikes, arena_width=W, arena_height=H, bin_size=BS,
                    smoothing_sigma=0, min_occupancy=min_occ, speed_min=0, halves=False)
    counts, occ = _reference_counts(t, x, y, spikes, _dt(t))
    expected = counts / occ[..., None]
    expected[(occ < min_occ) | (occ == 0)] = np.nan
    assert b.rate.shape == (10, 8, 4)
    np.testing.assert_allclose(b.rate.values, expected, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(b.occupancy.values[..., 2], occ, rtol=1e-12)
    if min_occ:
        assert np.isnan(b.rate.values).any()  # the threshold bites on this data
    assert b.info["n_spikes_used"] == sum(s.size for s in spikes)


def test_min_occupancy_nans_exactly_low_bins():
    rng = np.random.default_rng(1)
    t, x, y, spikes = _random_session(rng, n=3000)
    # a corner bin visited by exactly 3 samples (0.06 s)
    x[(x < -0.4) & (y < -0.3)] = 0.0
    x[:3], y[:3] = -0.45, -0.35
    b = bin_session(t, x, y, spikes, arena_width=W, arena_height=H, bin_size=BS,
                    smoothing_sigma=0.1, min_occupancy=0.1, speed_min=0, halves=False)
    assert np.isnan(b.rate.values[0, 0]).all()
    b2 = bin_session(t, x, y, spikes, arena_width=W, arena_height=H, bin_size=BS,
                     smoothing_sigma=0.1, min_occupancy=0.05, speed_min=0, halves=False)
    assert np.isfinite(b2.rate.values[0, 0]).all()


@pytest.mark.parametrize("sigma", [0.1, 0.15, 0.25])
def test_smoothed_equals_gaussian_filter_normalised_convolution(sigma):
    rng = np.random.default_rng(2)
    t, x, y, spikes = _random_session(rng, n=4000)
    # leave a hole of unvisited bins in the middle: they must not leak zeros
    hole = (np.abs(x) < 0.2) & (np.abs(y) < 0.15)
    x[hole] = 0.45
    b = bin_session(t, x, y, spikes, arena_width=W, arena_height=H, bin_size=BS,
                    smoothing_sigma=sigma, min_occupancy=0.2, speed_min=0, halves=False)
    counts, occ = _reference_counts(t, x, y, spikes, _dt(t))
    s = sigma / BS
    so = ndimage.gaussian_filter(occ, s, mode="constant", cval=0.0, truncate=4.0)
    for c in range(counts.shape[-1]):
        sc = ndimage.gaussian_filter(counts[..., c], s, mode="constant", cval=0.0,
                                     truncate=4.0)
        expected = np.where(occ >= 0.2, sc / so, np.nan)
        np.testing.assert_allclose(b.rate.values[..., c], expected, rtol=1e-10,
                                   equal_nan=True)
    assert np.isnan(b.rate.values[4:6, 3:5]).all()


def test_constant_rate_is_not_biased_near_unvisited_bins():
    """One spike in the middle of every sample: the rate is 1/dt in every visited bin,
    smoothed or not, however close to walls or unvisited bins."""
    rng = np.random.default_rng(3)
    n, dt = 5000, 0.02
    t = np.arange(n) * dt
    x = rng.uniform(-0.5, 0.0, n)  # only the left half of the box is visited
    y = rng.uniform(-0.4, 0.4, n)
    spikes = [t + dt / 2]
    b = bin_session(t, x, y, spikes, arena_width=W, arena_height=H, bin_size=BS,
                    smoothing_sigma=0.2, min_occupancy=0.05, speed_min=0)
    r = b.rate.values[..., 0]
    assert np.isnan(r[5:]).all() and np.isfinite(r[:5]).all()
    np.testing.assert_allclose(r[:5], 1 / dt, rtol=1e-9)
    np.testing.assert_allclose(b.rate_halves.values[:, :5, :, 0], 1 / dt, rtol=1e-9)


def test_one_pass_equals_cell_by_cell():
    rng = np.random.default_rng(4)
    t, x, y, spikes = _random_session(rng, n=3000, n_cells=5)
    kw = dict(arena_width=W, arena_height=H, bin_size=BS, speed_min=0)
    together = bin_session(t, x, y, spikes, **kw)
    for c in range(5):
        alone = bin_session(t, x, y, [spikes[c]], **kw)
        np.testing.assert_array_equal(alone.rate.values[..., 0], together.rate.values[..., c])
        np.testing.assert_array_equal(alone.rate_halves.values[..., 0],
                                      together.rate_halves.values[..., c])


def test_halves_are_maps_of_each_half_of_the_session():
    rng = np.random.default_rng(5)
    t, x, y, spikes = _random_session(rng, n=6000)
    b = bin_session(t, x, y, spikes, arena_width=W, arena_height=H, bin_size=BS,
                    smoothing_sigma=0, min_occupancy=0.1, speed_min=0)
    dt = _dt(t)
    mid = t[0] + (t[-1] + dt[-1] - t[0]) / 2
    for k, mask in enumerate([t < mid, t >= mid]):
        counts, occ = _reference_counts(t, x, y, spikes, dt, mask)
        expected = np.where((occ >= 0.1)[..., None], counts / occ[..., None], np.nan)
        np.testing.assert_allclose(b.rate_halves.values[k], expected, rtol=1e-12,
                                   equal_nan=True)
    assert b.rate_halves.dims == ("half", "x", "y", "neuroid")
    # the halves add up to the whole session
    c_all, o_all = _reference_counts(t, x, y, spikes, dt)
    np.testing.assert_allclose(b.occupancy.values[..., 0], o_all)


def test_speed_filter_drops_immobility_and_its_spikes():
    dt, v = 0.02, 0.1  # m/s while running
    # run along y = 0 from x = -0.45 to 0.45, stop for 10 s at x = 0.25, run on
    run1 = np.arange(-0.45, 0.25, v * dt)
    stop = np.full(500, run1[-1] + v * dt)
    run2 = np.arange(stop[0] + v * dt, 0.45, v * dt)
    x = np.concatenate([run1, stop, run2])
    n = x.size
    t = np.arange(n) * dt
    y = np.zeros(n)
    i0 = run1.size
    stop_spikes = t[i0 + 10:i0 + 490] + dt / 2  # only while standing still
    run_spikes = t[:i0 - 1] + dt / 2
    kw = dict(arena_width=W, arena_height=H, bin_size=BS, smoothing_sigma=0,
              min_occupancy=0.0, halves=False)
    filtered = bin_session(t, x, y, [stop_spikes, run_spikes], speed_min=0.025, **kw)
    unfiltered = bin_session(t, x, y, [stop_spikes, run_spikes], speed_min=0, **kw)
    # still samples: both neighbours at the same place (central speed exactly 0)
    still = np.zeros(n, bool)
    still[i0 + 1:i0 + 499] = True
    assert filtered.info["n_samples_used"] == n - still.sum()
    np.testing.assert_allclose(filtered.info["time_used_s"], (n - still.sum()) * dt)
    assert filtered.info["n_spikes_used"] == run_spikes.size
    assert np.nanmax(filtered.rate.values[..., 0]) == 0.0
    assert np.nanmax(unfiltered.rate.values[..., 0]) > 0
    np.testing.assert_allclose(filtered.speed[still], 0.0, atol=1e-12)
    np.testing.assert_allclose(filtered.speed[5:i0 - 5], v, rtol=1e-9)
    # a ceiling removes the running samples instead
    slow = bin_session(t, x, y, [stop_spikes, run_spikes], speed_min=0, speed_max=0.01, **kw)
    assert slow.info["n_samples_used"] == still.sum()


def test_two_leds_mean_position_and_head_direction():
    rng = np.random.default_rng(6)
    t, x, y, spikes = _random_session(rng, n=3000)
    x, y = x * 0.9, y * 0.9
    theta = rng.uniform(-np.pi, np.pi, t.size)
    half_sep = 0.025
    x1, y1 = x + half_sep * np.cos(theta), y + half_sep * np.sin(theta)
    x2, y2 = x - half_sep * np.cos(theta), y - half_sep * np.sin(theta)
    kw = dict(arena_width=W, arena_height=H, bin_size=BS, speed_min=0, smoothing_sigma=0.1)
    two = bin_session(t, x1, y1, spikes, x2=x2, y2=y2, **kw)
    one = bin_session(t, x, y, spikes, **kw)
    np.testing.assert_allclose(two.rate.values, one.rate.values, rtol=1e-9, equal_nan=True)
    assert one.head_direction is None
    np.testing.assert_allclose(np.angle(np.exp(1j * (two.head_direction - theta))), 0,
                               atol=1e-9)
    assert two.info["two_leds"]
    # a missing second LED: the first alone gives the position, no head direction there
    x2[:10] = np.nan
    part = bin_session(t, x1, y1, spikes, x2=x2, y2=y2, **kw)
    assert np.isnan(part.head_direction[:10]).all()
    assert part.info["n_samples_used"] == t.size
    # empty second LED arrays (Moser _POS files): one LED
    empty = bin_session(t, x, y, spikes, x2=np.zeros((0, 0)), y2=np.zeros((0, 0)), **kw)
    assert empty.head_direction is None


def test_known_place_field_is_recovered():
    """Poisson spikes from a Gaussian place field along a random walk: the map peaks at the
    field centre and correlates with the true field."""
    rng = np.random.default_rng(7)
    dt, n = 0.02, 90_000  # 30 min at 50 Hz
    pos = np.zeros((n, 2))
    heading = 0.0
    for i in range(1, n):  # reflecting random walk, 0.15 m/s
        heading += rng.normal(0, 0.3)
        step = pos[i - 1] + 0.15 * dt * np.array([np.cos(heading), np.sin(heading)])
        if abs(step[0]) > 0.49 or abs(step[1]) > 0.49:
            heading += np.pi
            step = pos[i - 1]
        pos[i] = step
    t = np.arange(n) * dt
    centre, width, peak = np.array([0.2, -0.15]), 0.08, 20.0
    lam = peak * np.exp(-np.sum((pos - centre) ** 2, 1) / (2 * width**2))
    k = rng.poisson(lam * dt)
    spikes = np.repeat(t, k) + rng.uniform(0, dt, k.sum())
    b = bin_session(t, pos[:, 0], pos[:, 1], [np.sort(spikes)], arena_width=1.0, bin_size=0.05,
                    speed_min=0.0)
    r = b.rate.values[..., 0]
    arena = Arena(1.0, 1.0, 0.05)
    gx, gy = np.meshgrid(arena.x, arena.y, indexing="ij")
    true = peak * np.exp(-((gx - centre[0]) ** 2 + (gy - centre[1]) ** 2) / (2 * width**2))
    ok = np.isfinite(r)
    assert ok.mean() > 0.9
    ix, iy = np.unravel_index(np.nanargmax(r), r.shape)
    assert abs(arena.x[ix] - centre[0]) <= 0.05 and abs(arena.y[iy] - centre[1]) <= 0.05
    assert np.corrcoef(r[ok], true[ok])[0, 1] > 0.9


def test_missing_samples_and_tracking_gaps():
    rng = np.random.default_rng(8)
    t, x, y, spikes = _random_session(rng, n=2000)
    # one missing sample: the sample before it covers both intervals
    keep = np.ones(t.size, bool)
    keep[1000] = False
    b = bin_session(t[keep], x[keep], y[keep], spikes, arena_width=W, arena_height=H,
                    bin_size=BS, speed_min=0)
    np.testing.assert_allclose(b.info["time_used_s"], 2000 * 0.02)
    assert b.info["n_spikes_used"] == sum(s.size for s in spikes)
    # a 10 s tracking loss: not counted as occupancy, its spikes dropped
    keep[1001:1500] = False
    g = bin_session(t[keep], x[keep], y[keep], spikes, arena_width=W, arena_height=H,
                    bin_size=BS, speed_min=0)
    np.testing.assert_allclose(g.info["time_used_s"], (keep.sum()) * 0.02)
    lost = sum(((s > t[999] + 0.02) & (s < t[1500])).sum() for s in spikes)
    assert g.info["n_spikes_in_gaps"] == lost > 0
    # NaN positions are excluded
    x2 = x.copy()
    x2[:100] = np.nan
    nb = bin_session(t, x2, y, spikes, arena_width=W, arena_height=H, bin_size=BS,
                     speed_min=0)
    assert nb.info["n_samples_used"] == 1900


def test_positions_outside_arena():
    rng = np.random.default_rng(9)
    t, x, y, spikes = _random_session(rng, n=1000)
    kw = dict(arena_width=W, arena_height=H, bin_size=BS, speed_min=0, smoothing_sigma=0,
              min_occupancy=0)
    x_over = x.copy()
    x_over[:5] = 0.53  # 3 cm beyond the wall: clipped into the edge bins
    b = bin_session(t, x_over, y, spikes, **kw)
    assert b.info["n_samples_used"] == 1000
    clipped = x.copy()
    clipped[:5] = 0.499
    ref = bin_session(t, clipped, y, spikes, **kw)
    np.testing.assert_allclose(b.rate.values, ref.rate.values, equal_nan=True)
    dropped = bin_session(t, x_over, y, spikes, outside="drop", **kw)
    assert dropped.info["n_samples_used"] == 995
    with pytest.raises(DataError, match="outside the"):
        bin_session(t, x * 100, y * 100, spikes, **kw)  # positions in cm
    with pytest.raises(DataError, match="outside the"):
        bin_session(t, x_over, y, spikes, outside="error", **kw)


def test_bad_inputs_name_the_field():
    rng = np.random.default_rng(10)
    t, x, y, spikes = _random_session(rng, n=500)
    kw = dict(arena_width=W, arena_height=H, bin_size=BS, where="rat1.mat")
    with pytest.raises(DataError, match="rat1.mat.*'x' has 499 samples"):
        bin_session(t, x[:-1], y, spikes, **kw)
    with pytest.raises(DataError, match="all NaN"):
        bin_session(t, np.full_like(x, np.nan), y, spikes, **kw)
    with pytest.raises(DataError, match="strictly increasing"):
        bin_session(t[::-1], x, y, spikes, **kw)
    late = [spikes[0], np.append(spikes[1], t[-1] + 5.0)]
    with pytest.raises(DataError, match=r"cell 'c1'.*outside the position recording"):
        bin_session(t, x, y, late, neuroid_id=["c0", "c1"], **kw)
    early = [np.append(spikes[0], -1.0)]
    with pytest.raises(DataError, match="outside the position recording"):
        bin_session(t, x, y, early, **kw)
    dropped = bin_session(t, x, y, late, spikes_outside="drop", **kw)
    assert dropped.info["n_spikes_outside_recording"] == 1
    with pytest.raises(DataError, match="non-finite"):
        bin_session(t, x, y, [np.array([1.0, np.nan])], **kw)
    with pytest.raises(DataError, match="'x2'"):
        bin_session(t, x, y, spikes, x2=x[:3], y2=y[:3], **kw)
    with pytest.raises(DataError, match="no cells"):
        bin_session(t, x, y, [], **kw)
    with pytest.raises(DataError, match="vector"):
        bin_session(t, np.stack([x, y]), y, spikes, **kw)


def test_row_and_column_vectors_and_coords():
    rng = np.random.default_rng(11)
    t, x, y, spikes = _random_session(rng, n=800, n_cells=2)
    a = bin_session(t, x, y, spikes, arena_width=W, arena_height=H, bin_size=BS,
                    animal="r1", session="s1", cell_id=["t1c1", "t2c1"])
    b = bin_session(t[:, None], x[None, :], y[:, None], [s[:, None] for s in spikes],
                    arena_width=W, arena_height=H, bin_size=BS, animal="r1", session="s1",
                    cell_id=["t1c1", "t2c1"])
    np.testing.assert_array_equal(a.rate.values, b.rate.values)
    assert list(a.rate["neuroid_id"].values) == ["r1/s1/0", "r1/s1/1"]
    assert list(a.rate["cell_id"].values) == ["t1c1", "t2c1"]
    assert set(a.rate["animal"].values) == {"r1"} and set(a.rate["session"].values) == {"s1"}
    assert a.rate.attrs["bin_size"] == BS and a.rate.attrs["arena_height"] == H


def test_binned_session_builds_neural_data():
    from mecbench.neural_data import NeuralData

    rng = np.random.default_rng(12)
    t, x, y, spikes = _random_session(rng, n=3000, n_cells=2)
    b = bin_session(t, x, y, spikes, arena_width=W, arena_height=H, bin_size=BS)
    nd = NeuralData.from_rate_maps(b.rate, halves=b.rate_halves, occupancy=b.occupancy)
    assert nd.halves(nd.arena_names[0]).shape == (2, 10, 8, 2)


def test_no_bin_with_enough_occupancy_is_an_error():
    t = np.arange(50) * 0.02
    x = np.linspace(-0.45, 0.45, 50)
    with pytest.raises(DataError, match="short.mat: no bin has 0.1 s"):
        bin_session(t, x, np.zeros(50), [np.array([0.1])], arena_width=1.0, where="short.mat")


@pytest.mark.parametrize(
    ("kind", "mode"),
    [("exact", "grid"), ("tiny-jitter", "grid"), ("jitter", "regular"), ("missing", "table"),
     ("bursty", "search"), ("few", "search")],
)
def test_sample_index_equals_searchsorted(kind, mode):
    from mecbench.binning import _SampleLocator

    rng = np.random.default_rng(14)
    n, dt = 5000, 0.02
    t = np.arange(n) * dt
    if kind == "tiny-jitter":
        t = t + rng.uniform(-1e-5, 1e-5, n)
    elif kind == "jitter":
        t = t + rng.uniform(-0.004, 0.004, n)
    elif kind == "missing":
        t = np.delete(t, rng.choice(np.arange(1, n - 1), 400, replace=False))
    elif kind == "bursty":  # clusters of close samples and long gaps
        t = np.sort(np.concatenate([t[::10], t[::10] + 1e-4, t[::10] + 2e-4, t[5::50] + 3e-3]))
    elif kind == "few":
        t = t[:2]
    # spikes anywhere, exactly at sample times, just after them and just before them
    s = np.concatenate([rng.uniform(t[0], t[-1] + 0.02, 20_000), t, t + 1e-12,
                        np.maximum(t - 1e-12, t[0]), [t[0], t[-1] + 0.019]])
    med = float(np.median(np.diff(t)))
    locate = _SampleLocator(t, med)
    assert locate.mode == mode
    expected = np.clip(np.searchsorted(t, s, side="right") - 1, 0, t.size - 1)
    np.testing.assert_array_equal(locate(s), expected)
