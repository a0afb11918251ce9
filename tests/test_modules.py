"""Grid modules from spacing, orientation and ellipticity, and the ellipse through the six inner
autocorrelogram peaks, against closed forms and simulations with known ground truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import circmean, gmean
from sklearn.metrics import adjusted_rand_score

from mecbench.analysis import (
    assign_modules,
    grid_analysis,
    grid_modules,
    grid_properties,
    peak_ellipse,
)
from mecbench.errors import ConfigError, DataError
from mecbench.loaders import load_recordings
from mecbench.ratemaps import make_rate_maps

BIN = 0.05
REAL_MEC = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real-mec" \
    / "sargolini-1m-box"


def stretch_matrix(e: float, axis_deg: float) -> np.ndarray:
    """Affine stretch by a factor ``e`` along the direction ``axis_deg``."""
    u = np.array([np.cos(np.deg2rad(axis_deg)), np.sin(np.deg2rad(axis_deg))])
    return np.eye(2) + (e - 1) * np.outer(u, u)


def hex_map(n, spacing, orientation, phase=(0.0, 0.0), e=1.0, axis=0.0) -> np.ndarray:
    """Three plane waves 60° apart: fields on a hexagonal lattice (``spacing``, a lattice vector
    at ``orientation`` degrees), then the whole map stretched by ``e`` along ``axis``."""
    c = -n * BIN / 2 + BIN * (np.arange(n) + 0.5)
    X, Y = np.meshgrid(c, c, indexing="ij")
    inv = np.linalg.inv(stretch_matrix(e, axis))
    U = inv[0, 0] * X + inv[0, 1] * Y - phase[0]
    V = inv[1, 0] * X + inv[1, 1] * Y - phase[1]
    k = 4 * np.pi / (np.sqrt(3) * spacing)
    out = np.zeros_like(X)
    for a in (0, 60, 120):
        t = np.deg2rad(orientation + a + 30)       # wave vectors are 30° off the lattice vectors
        out += np.cos(k * (np.cos(t) * U + np.sin(t) * V))
    return out


def lattice_truth(spacing, orientation, e=1.0, axis=0.0):
    """Closed form of the six inner peaks of a stretched lattice: their median distance,
    orientation (circular mean of 6θ over 6) and the stretch factor (ellipticity)."""
    t = np.deg2rad(orientation + 60 * np.arange(6))
    p = stretch_matrix(e, axis) @ (spacing * np.stack([np.cos(t), np.sin(t)]))
    ang = np.arctan2(p[1], p[0])
    ori = np.rad2deg(np.angle(np.exp(6j * ang).sum()) / 6) % 60
    return float(np.median(np.hypot(*p))), float(ori)


def circ_err(a, b):
    return np.abs((np.asarray(a) - np.asarray(b) + 30) % 60 - 30)


# ------------------------------------------------------------------------------ ellipse
def test_peak_ellipse_closed_form():
    rng = np.random.default_rng(0)
    m = 50
    a = rng.uniform(1, 3, m)
    ratio = rng.uniform(1, 1.6, m)
    phi = rng.uniform(0, 180, m)
    # six points on each ellipse (three opposite pairs, at arbitrary angles), rotated by phi
    t = rng.uniform(0, np.pi, (m, 3))
    t = np.concatenate([t, t + np.pi], axis=1)
    u, v = a[:, None] * np.cos(t), (a / ratio)[:, None] * np.sin(t)
    c, s = np.cos(np.deg2rad(phi))[:, None], np.sin(np.deg2rad(phi))[:, None]
    px, py = c * u - s * v, s * u + c * v
    major, minor, axis = peak_ellipse(px, py)
    np.testing.assert_allclose(major, a, rtol=1e-8)
    np.testing.assert_allclose(minor, a / ratio, rtol=1e-8)
    far = ratio > 1.01                       # the axis of a near-circle is undetermined
    assert np.abs((axis[far] - phi[far] + 90) % 180 - 90).max() < 1e-5
    # a circle through six points; one row alone; 5 points (one peak missing) still fit
    one = peak_ellipse(np.cos(t[0]), np.sin(t[0]))
    assert one[0] == pytest.approx(1.0) and one[1] == pytest.approx(1.0)
    valid = np.ones((m, 6), bool)
    valid[:, 5] = False
    major5, minor5, _ = peak_ellipse(px, py, valid)
    np.testing.assert_allclose(major5 / minor5, ratio, rtol=1e-8)
    # two opposite pairs only do not fix an ellipse; a hyperbola is not one
    valid[:, 2] = False
    assert np.isnan(peak_ellipse(px, py, valid, min_points=3)[0]).all()
    assert np.isnan(peak_ellipse([1, -1, 0, 0, 0.4, -0.4], [0, 0, 1, -1, 0.4, -0.4])[0])
    with pytest.raises(DataError, match="same shape"):
        peak_ellipse(px, py[:, :5])
    with pytest.raises(ConfigError, match="min_points"):
        peak_ellipse(px, py, min_points=2)


@pytest.mark.parametrize("spacing,orientation,e,axis", [
    (0.5, 10.0, 1.0, 0.0), (0.45, 33.0, 1.1, 20.0), (0.5, 5.0, 1.2, 70.0),
    (0.4, 50.0, 1.3, 135.0)])
def test_ellipticity_of_stretched_hexagonal_map(spacing, orientation, e, axis):
    res = grid_analysis(hex_map(44, spacing, orientation, (0.07, -0.03), e, axis), bin_size=BIN)
    sp, ori = lattice_truth(spacing, orientation, e, axis)
    assert res["n_peaks"] == 6
    assert res["ellipticity"] == pytest.approx(e, abs=0.04)
    assert res["spacing"] == pytest.approx(sp, rel=0.03)
    assert circ_err(res["orientation"], ori) < 1.5
    if e > 1:
        assert abs((res["ellipse_axis"] - axis + 90) % 180 - 90) < 3


def test_ellipticity_in_grid_properties_and_nan_without_peaks():
    maps = np.stack([hex_map(30, 0.4, 0.0, e=1.2, axis=45.0), np.ones((30, 30))], -1)
    da = make_rate_maps(maps, arena_width=1.5, bin_size=BIN, animal="a")
    props = grid_properties(da)
    assert props["ellipticity"].values[0] == pytest.approx(1.2, abs=0.04)
    assert props["ellipticity"].attrs["units"] == "major/minor axis ratio"
    assert np.isnan(props["ellipticity"].values[1])


# ------------------------------------------------------------------------------ features
def simulate(modules, rng, spacing_sd=0.03, orientation_sd=1.5, ellipticity_sd=0.02):
    """Cells of modules given as (n_cells, spacing, orientation, ellipticity)."""
    s, o, e, lab = [], [], [], []
    for j, (n, sp, ori, ell) in enumerate(modules):
        s.append(sp * np.exp(rng.normal(0, spacing_sd, n)))
        o.append((ori + rng.normal(0, orientation_sd, n)) % 60)
        e.append(ell * np.exp(np.abs(rng.normal(0, ellipticity_sd, n))))
        lab.append(np.full(n, j))
    return (np.concatenate(s), np.concatenate(o), np.concatenate(e), np.concatenate(lab))


def check_stats(res, s, o, e, truth):
    """Reported module statistics equal those of the true members (scipy), module by module."""
    lab = res.labels[:truth.size]
    for j in range(res.n_modules):
        true_j = np.bincount(truth[lab == j]).argmax()
        members = np.flatnonzero(truth == true_j)
        np.testing.assert_array_equal(res.members[j], members)
        assert res.spacings[j] == pytest.approx(gmean(s[members]), rel=1e-12)
        assert circ_err(res.orientations[j], circmean(o[members], high=60)) < 1e-9
        assert res.ellipticities[j] == pytest.approx(gmean(e[members]), rel=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_equal_spacing_15_degrees_apart_are_two_modules(seed):
    rng = np.random.default_rng(seed)
    o0 = rng.uniform(0, 60)
    truth_mod = [(20, 0.45, o0, 1.05), (15, 0.45, o0 + 15, 1.05)]
    s, o, e, truth = simulate(truth_mod, rng)
    for ell in (None, e):
        res = assign_modules(s, o, ell, seed=0)
        assert res.n_modules == 2
        assert adjusted_rand_score(truth, res.labels) == 1.0
        # by spacing alone they are one module
        assert assign_modules(s, seed=0).n_modules == 1
    check_stats(res, s, o, e, truth)
    for j in range(2):
        true_j = truth[res.members[j][0]]
        assert circ_err(res.orientations[j], truth_mod[true_j][2] % 60) < 1.5
        assert res.spacings[j] == pytest.approx(0.45, rel=0.03)
    assert res.features == ("spacing", "orientation", "ellipticity")


def test_overlapping_spacings_separated_by_orientation():
    rng = np.random.default_rng(11)
    # spacing ratio 1.08 < min_ratio: spacing alone cannot separate them
    s, o, e, truth = simulate([(18, 0.40, 58.0, 1.0), (18, 0.43, 20.0, 1.0)], rng,
                              spacing_sd=0.05)
    assert assign_modules(s, seed=0).n_modules == 1
    res = assign_modules(s, o, seed=0)
    assert adjusted_rand_score(truth, res.labels) == 1.0
    # module 0 (smaller spacing) straddles 0/60: its circular mean is near 58, not near 30
    assert circ_err(res.orientations[0], 58.0) < 1.5
    assert np.isnan(res.ellipticities).all()


@pytest.mark.parametrize("seed", range(3))
def test_module_across_the_0_60_wrap_is_one_module(seed):
    """Module A at 0° (its cells on both sides of 0/60), module B at 30°, equal spacings: on an
    unwrapped line A would be two groups at the two ends with B between them."""
    rng = np.random.default_rng(40 + seed)
    s, o, e, truth = simulate([(20, 0.45, 0.0, 1.0), (20, 0.45, 30.0, 1.0)], rng,
                              orientation_sd=2.0)
    assert ((o[truth == 0] > 50).sum() >= 5) and ((o[truth == 0] < 10).sum() >= 5)
    res = assign_modules(s, o, seed=0)
    assert adjusted_rand_score(truth, res.labels) == 1.0
    a = res.labels[0]
    assert circ_err(res.orientations[a], 0.0) < 1.5
    assert circ_err(res.orientations[a], circmean(o[truth == 0], high=60)) < 1e-9


def test_spacing_separated_modules_still_separate():
    rng = np.random.default_rng(3)
    true = [(25, 0.38, 12.0, 1.02), (18, 0.38 * 1.42, 14.0, 1.1), (12, 0.38 * 1.42**2, 40.0, 1.05)]
    s, o, e, truth = simulate(true, rng)
    s = np.concatenate([s, [0.5]])
    o = np.concatenate([o, [np.nan]])                # no orientation: left unassigned
    e = np.concatenate([e, [1.0]])
    res = assign_modules(s, o, e, seed=0)
    assert res.n_modules == 3 and res.labels[-1] == -1
    np.testing.assert_array_equal(res.labels[:-1], truth)
    check_stats(res, s[:-1], o[:-1], e[:-1], truth)
    np.testing.assert_allclose(res.spacings, [t[1] for t in true], rtol=0.03)
    assert circ_err(res.orientations, [t[2] for t in true]).max() < 1.5
    np.testing.assert_allclose(res.ellipticities, [t[3] for t in true], atol=0.03)


def test_ellipticity_separates_otherwise_identical_modules():
    rng = np.random.default_rng(4)
    s, o, e, truth = simulate([(20, 0.5, 30.0, 1.0), (20, 0.5, 30.0, 1.25)], rng)
    assert assign_modules(s, o, seed=0).n_modules == 1
    res = assign_modules(s, o, e, seed=0)
    assert adjusted_rand_score(truth, res.labels) == 1.0
    check_stats(res, s, o, e, truth)


@pytest.mark.parametrize("seed", range(5))
def test_single_module_is_not_split(seed):
    rng = np.random.default_rng(100 + seed)
    # orientation 59 ± 3 degrees: the cells straddle the 0/60 wrap
    s, o, e, truth = simulate([(40, 0.5, 59.0, 1.1)], rng, spacing_sd=0.05, orientation_sd=3.0,
                              ellipticity_sd=0.05)
    res = assign_modules(s, o, e, seed=0)
    assert res.n_modules == 1 and (res.labels == 0).all()
    assert circ_err(res.orientations[0], 59.0) < 1.5
    assert res.orientations[0] == pytest.approx(circmean(o, high=60), abs=1e-9)


def test_members_table_ids_and_bad_input():
    rng = np.random.default_rng(5)
    s, o, e, truth = simulate([(6, 0.4, 10.0, 1.0), (6, 0.4, 35.0, 1.0)], rng)
    ids = np.array([f"c{i}" for i in range(12)])
    res = assign_modules(s, o, ids=ids)
    tab = res.table()
    assert list(tab["n_cells"]) == [6, 6]
    assert sorted(sum(tab["members"], [])) == sorted(ids)
    assert set(tab["members"][0]) == set(ids[res.members[0]])
    with pytest.raises(DataError, match="orientation"):
        assign_modules(s, o[:5])
    with pytest.raises(DataError, match="ellipticity"):
        assign_modules(s, o, np.full(12, 0.9))
    with pytest.raises(DataError, match="ids"):
        assign_modules(s, ids=ids[:3])
    with pytest.raises(ConfigError, match="orientation_spread"):
        assign_modules(s, o, orientation_spread=0)


# ------------------------------------------------------------------------------ rate maps
@pytest.mark.slow
def test_modules_from_noisy_rate_maps():
    """Rate maps with noise and unvisited bins → autocorrelogram peaks → modules: two modules of
    equal spacing 15° apart and a larger, stretched one, in two animals."""
    rng = np.random.default_rng(21)
    n = 44
    true = [(0.5, 10.0, 1.0, 0.0), (0.5, 25.0, 1.0, 0.0), (0.72, 40.0, 1.2, 30.0)]
    maps, mod, animal, sp_true, ori_true = [], [], [], [], []
    for a in ("r1", "r2"):
        for j, (sp, ori, ell, ax) in enumerate(true):
            for _ in range(8):
                sp_c = sp * np.exp(rng.normal(0, 0.02))
                ori_c = ori + rng.normal(0, 1.0)
                m = hex_map(n, sp_c, ori_c, rng.uniform(0, 1, 2), ell, ax)
                m = np.maximum(m, -1.0) + 1.5 + rng.normal(0, 0.4, (n, n))
                m[rng.random((n, n)) < 0.1] = np.nan
                maps.append(m)
                mod.append(j)
                animal.append(a)
                s_t, o_t = lattice_truth(sp_c, ori_c, ell, ax)
                sp_true.append(s_t)
                ori_true.append(o_t)
    # plus cells that are not grid cells (noise maps): left out by the grid-score threshold
    for a in ("r1", "r2"):
        for _ in range(4):
            maps.append(rng.normal(0, 1, (n, n)))
            mod.append(-1)
            animal.append(a)
            sp_true.append(np.nan)
            ori_true.append(np.nan)
    order = rng.permutation(len(maps))
    stack = np.stack(maps, -1)[..., order]
    mod, animal = np.array(mod)[order], np.array(animal)[order]
    sp_true, ori_true = np.array(sp_true)[order], np.array(ori_true)[order]
    ids = np.array([f"n{i}" for i in range(len(order))])
    da = make_rate_maps(stack, arena_width=n * BIN, bin_size=BIN, neuroid_id=ids,
                        animal=list(animal))
    found = grid_modules(da, seed=0)
    assert set(found) == {"r1", "r2"}
    for a, res in found.items():
        mine = animal == a
        assert res.n_modules == 3, (a, res.table())
        assert (res.labels[mod[mine] == -1] == -1).all()
        grid = mod[mine] >= 0
        assert adjusted_rand_score(mod[mine][grid], res.labels[grid]) == 1.0
        np.testing.assert_array_equal(res.ids, ids[mine])
        for j in range(3):
            true_j = mod[mine][res.members[j][0]]
            cells = mod[mine] == true_j
            # ground truth: the closed-form lattice of the member cells
            assert res.spacings[j] == pytest.approx(gmean(sp_true[mine][cells]), rel=0.04)
            assert circ_err(res.orientations[j], circmean(ori_true[mine][cells], high=60)) < 2
            assert res.ellipticities[j] == pytest.approx(true[true_j][2], abs=0.05)
    # same result without ellipticity; spacing alone merges the two 0.5 m modules
    no_e = grid_modules(da, features=("spacing", "orientation"), seed=0)
    assert all(r.n_modules == 3 for r in no_e.values())
    sp_only = grid_modules(da, features=("spacing",), seed=0)
    assert all(r.n_modules == 2 for r in sp_only.values())
    # a plain stack (one animal's maps, no neuroid labels) is one group, ids are indices
    r1 = np.flatnonzero(animal == "r1")
    plain = grid_modules(stack[..., r1], bin_size=BIN, seed=0)
    assert list(plain) == ["all"]
    np.testing.assert_array_equal(plain["all"].labels, found["r1"].labels)
    np.testing.assert_array_equal(plain["all"].ids, np.arange(r1.size))
    with pytest.raises(ConfigError, match="unknown module features"):
        grid_modules(da, features=("phase",))
    with pytest.raises(DataError, match="session"):
        grid_modules(da, by="session")


def test_real_grid_cells_of_one_session_are_one_module():
    """The seven grid cells of rat 10073 (one session, tetrodes 1-4; Sargolini et al. 2006)
    are one module; the other two rats have one grid cell each."""
    if not REAL_MEC.is_dir():
        pytest.skip("../shared/data/real-mec is not available")
    data = load_recordings(REAL_MEC, arena=1.0, bin_size=0.025)
    rates = data.rate(data.arena_names[0])
    props = grid_properties(rates)
    found = grid_modules(rates, seed=0)
    res = found["10073"]
    mine = rates["animal"].values.astype(str) == "10073"
    grid = props["grid_score_sargolini"].values[mine] > 0.3
    assert grid.sum() == 7
    assert res.n_modules == 1 and ((res.labels == 0) == grid).all()
    o = props["orientation"].values[mine][grid]
    assert circ_err(res.orientations[0], circmean(o, high=60)) < 1e-9
    assert circ_err(o, res.orientations[0]).max() < 3      # co-modular: one orientation
    assert res.spacings[0] == pytest.approx(gmean(props["spacing"].values[mine][grid]))
    assert {k: r.n_modules for k, r in found.items()} == {"10073": 1, "11207": 1, "11343": 1}
