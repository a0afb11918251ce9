"""Border score, head-direction MVL, effective dimensionality and module clustering against
closed forms and constructions with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import i0, i1

from mecbench.analysis import (
    assign_modules,
    border_score,
    border_scores,
    eigenspectrum,
    head_direction_mvl,
    head_direction_tuning,
    mean_vector_length,
    n_components_for_variance,
    participation_ratio,
    participation_ratio_of_spectrum,
)
from mecbench.errors import ConfigError, DataError
from mecbench.ratemaps import make_rate_maps

BIN = 0.05


def grid_xy(n):
    c = -n * BIN / 2 + BIN * (np.arange(n) + 0.5)
    return np.meshgrid(c, c, indexing="ij")


# ------------------------------------------------------------------------------ border
def test_border_cell_high_central_field_low():
    X, Y = grid_xy(20)
    half = 0.5
    wall = 5 * np.exp(-((X + half) ** 2) / (2 * 0.04**2))             # along the x = -0.5 wall
    centre = 5 * np.exp(-(X**2 + Y**2) / (2 * 0.08**2))
    partial = 5 * np.exp(-((Y - half) ** 2) / (2 * 0.04**2)) * (X > 0)  # half of the top wall
    flat = np.ones_like(X)
    b = border_score(np.stack([wall, centre, partial, flat], -1), bin_size=BIN)
    assert b[0] > 0.8
    assert b[1] < -0.8
    assert 0.3 < b[2] < b[0]
    # a flat map is one field covering every wall and the whole box
    dm = np.mean(np.minimum(np.minimum(X + half, half - X), np.minimum(Y + half, half - Y))) / half
    assert b[3] == pytest.approx((1 - dm) / (1 + dm), abs=1e-9)


def test_border_score_closed_form_for_a_strip():
    """A uniform strip k bins wide along one wall: CM = 1, DM = mean distance of its bins to the
    nearest wall / half side (bins at the two ends are nearer the side walls)."""
    n, k = 20, 2
    m = np.zeros((n, n))
    m[:k, :] = 1.0
    i, j = np.meshgrid(np.arange(k), np.arange(n), indexing="ij")
    dist = np.minimum.reduce([i + 0.5, j + 0.5, n - j - 0.5]) * BIN
    dm = dist.mean() / (n * BIN / 2)
    assert border_score(m, bin_size=BIN) == pytest.approx((1 - dm) / (1 + dm), abs=1e-12)


def test_border_small_fields_ignored_and_nan_walls():
    m = np.zeros((20, 20))
    m[0, 3:6] = 1.0            # 3 bins < 8 bins (200 cm²): not a field
    assert np.isnan(border_score(m, bin_size=BIN))
    X, Y = grid_xy(20)
    wall = np.exp(-((X + 0.5) ** 2) / (2 * 0.04**2))
    holes = wall.copy()
    holes[0, :10] = np.nan     # half of the wall unvisited: coverage counts visited bins only
    assert border_score(holes, bin_size=BIN) == pytest.approx(border_score(wall, bin_size=BIN),
                                                              abs=0.05)


def test_border_scores_dataarray():
    X, Y = grid_xy(20)
    maps = np.stack([np.exp(-((Y + 0.5) ** 2) / 0.003), np.exp(-(X**2 + Y**2) / 0.01)], -1)
    da = make_rate_maps(maps, arena_width=1.0, bin_size=BIN, neuroid_id=["b", "c"], animal="a")
    out = border_scores(da)
    assert out.dims == ("neuroid",) and list(out["neuroid_id"].values) == ["b", "c"]
    assert out.values[0] > 0.7 and out.values[1] < -0.7
    with pytest.raises(ConfigError):
        border_score(maps, field_threshold=1.5)


# ------------------------------------------------------------------------------ head direction
@pytest.mark.parametrize("kappa", [0.5, 1.0, 2.0, 4.0, 8.0])
def test_mvl_of_von_mises_matches_closed_form(kappa):
    # uneven heading occupancy must not matter: rates are occupancy-normalised
    rng = np.random.default_rng(0)
    hd = np.concatenate([rng.uniform(-np.pi, np.pi, 200_000), rng.vonmises(1.0, 1.0, 100_000)])
    mu = 0.7
    expected_rate = np.exp(kappa * np.cos(hd - mu))         # expected spikes per sample
    mvl, pref = head_direction_mvl(hd, expected_rate, n_bins=120, dt=0.02)
    width = 2 * np.pi / 120
    closed = i1(kappa) / i0(kappa) * np.sin(width / 2) / (width / 2)
    assert mvl == pytest.approx(closed, abs=2e-3)
    assert pref == pytest.approx(mu, abs=0.02)


def test_mvl_poisson_spikes_many_cells_vectorised():
    rng = np.random.default_rng(1)
    T = 300_000
    hd = rng.uniform(-np.pi, np.pi, T)
    kappas = np.array([0.0, 1.0, 3.0])
    rates = 10 * np.exp(kappas[None] * (np.cos(hd[:, None] - 2.0) - 1)) * 0.02
    counts = rng.poisson(rates)
    mvl, pref = head_direction_mvl(hd, counts, dt=0.02)
    assert mvl.shape == (3,)
    assert mvl[0] < 0.03
    np.testing.assert_allclose(mvl[1:], i1(kappas[1:]) / i0(kappas[1:]), atol=0.02)
    for c in range(3):
        one, _ = head_direction_mvl(hd, counts[:, c], dt=0.02)
        assert one == pytest.approx(mvl[c], abs=1e-12)


def test_hd_tuning_occupancy_and_errors():
    hd = np.array([0.1, 0.1, np.nan, -3.0])
    counts = np.array([[1, 0], [1, 2], [5, 5], [0, 1]])
    rates, centres, occ = head_direction_tuning(hd, counts, n_bins=4, dt=0.5)
    assert occ.sum() == pytest.approx(1.5)
    assert np.nansum(rates[:, 0] * occ) == pytest.approx(2)
    assert np.isnan(rates).any()  # unvisited heading bins
    mvl, _ = mean_vector_length(np.ones(8), np.linspace(-np.pi, np.pi, 8, endpoint=False))
    assert mvl == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(DataError, match="spike_counts"):
        head_direction_tuning(hd, np.ones((3, 2)))
    with pytest.raises(DataError, match="finite"):
        head_direction_tuning(np.full(3, np.nan), np.ones(3))


# ------------------------------------------------------------------------------ dimensionality
def known_spectrum_data(lam, n_bins=500, seed=0):
    """Data whose across-bin covariance has exactly the eigenvalues ``lam``."""
    rng = np.random.default_rng(seed)
    d = len(lam)
    Z = rng.normal(size=(n_bins, d))
    Z -= Z.mean(0)
    Q, _ = np.linalg.qr(Z)                       # orthonormal, centred columns
    V, _ = np.linalg.qr(rng.normal(size=(d + 5, d + 5)))
    X = Q * np.sqrt(np.asarray(lam) * (n_bins - 1))
    return X @ V[:d] + rng.normal(size=d + 5)    # rotate into d + 5 units, add offsets


def test_participation_ratio_closed_form_geometric_spectrum():
    a, d = 0.7, 12
    lam = a ** np.arange(d)
    closed = ((1 - a**d) / (1 - a)) ** 2 / ((1 - a ** (2 * d)) / (1 - a**2))
    X = known_spectrum_data(lam)
    assert participation_ratio(X) == pytest.approx(closed, rel=1e-9)
    assert participation_ratio_of_spectrum(lam) == pytest.approx(closed, rel=1e-12)
    np.testing.assert_allclose(eigenspectrum(X)[:d], lam, rtol=1e-9)
    # flat spectrum: PR = d
    assert participation_ratio(known_spectrum_data(np.ones(7), seed=1)) == pytest.approx(7)


def test_n_components_for_variance():
    lam = np.array([5.0, 3.0, 1.0, 0.5, 0.5])   # cumulative 0.5, 0.8, 0.9, 0.95, 1.0
    X = known_spectrum_data(lam)
    assert n_components_for_variance(X, 0.9) == 3
    assert n_components_for_variance(X, 0.8) == 2
    assert n_components_for_variance(X, 0.81) == 3
    assert n_components_for_variance(X, 1.0) == 5
    with pytest.raises(ConfigError):
        n_components_for_variance(X, 0.0)


def test_dimensionality_nan_bins_dropped_and_rate_maps_accepted():
    X = known_spectrum_data(0.5 ** np.arange(6), n_bins=400)
    maps = X.reshape(20, 20, -1).copy()
    da = make_rate_maps(maps, arena_width=1.0, bin_size=BIN, animal="a")
    assert participation_ratio(da) == pytest.approx(participation_ratio(X), rel=1e-12)
    holes = maps.copy()
    holes[0, :5, 2] = np.nan
    kept = np.ones(400, bool)
    kept[:5] = False
    assert participation_ratio(holes) == pytest.approx(participation_ratio(X[kept]), rel=1e-12)
    with pytest.raises(DataError):
        participation_ratio(holes, nan_policy="raise")
    with pytest.raises(DataError, match="2 bins"):
        participation_ratio(np.full((5, 3), np.nan))


# ------------------------------------------------------------------------------ modules
def test_modules_recovered_from_spacings():
    rng = np.random.default_rng(2)
    true = np.array([0.38, 0.38 * 1.42, 0.38 * 1.42**2])
    counts = [30, 20, 12]
    s = np.concatenate([t * np.exp(rng.normal(0, 0.03, c))
                        for t, c in zip(true, counts, strict=True)])
    s = np.concatenate([s, [np.nan]])
    res = assign_modules(s, seed=0)
    assert res.n_modules == 3
    np.testing.assert_allclose(res.spacings, true, rtol=0.03)
    assert res.labels[-1] == -1
    np.testing.assert_array_equal(res.labels[:-1], np.repeat([0, 1, 2], counts))
    # one tight cluster stays one module
    one = assign_modules(0.5 * np.exp(rng.normal(0, 0.02, 40)))
    assert one.n_modules == 1
    with pytest.raises(DataError):
        assign_modules([0.3, -1.0, 0.4])
    # two clusters closer than the minimum module ratio (1.2) are one module
    close = np.concatenate([0.40 * np.exp(rng.normal(0, 0.01, 20)),
                            0.44 * np.exp(rng.normal(0, 0.01, 20))])
    assert assign_modules(close).n_modules == 1
    assert assign_modules(close, min_ratio=1.0).n_modules == 2
