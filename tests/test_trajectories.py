"""Random-walk trajectories: statistics against the parameters of Sorscher et al. (2019, 2023)
and Nayebi et al. (2021)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from mecbench.errors import ConfigError
from mecbench.trajectories import random_walk

DT = 0.02
SCALE = 0.13 * 2 * np.pi  # Rayleigh scale of the speed (m/s), from the papers
TURN_STEP_STD = DT * 11.52  # std of the heading change per step (rad)


def wrap(a):
    return (a + np.pi) % (2 * np.pi) - np.pi


@pytest.fixture(scope="module")
def box_walk():
    """A rectangular box so both wall pairs are exercised."""
    tr = random_walk(4000, 40, arena_width=1.6, arena_height=1.0, seed=3, dtype=torch.float64)
    return tr, 1.6, 1.0


def _wall_geometry(pos, heading, width, height):
    """Distance to, and heading relative to the outward normal of, the nearest wall."""
    d = np.stack([width / 2 - pos[..., 0], height / 2 - pos[..., 1],
                  width / 2 + pos[..., 0], height / 2 + pos[..., 1]], axis=-1)
    normals = np.array([0.0, np.pi / 2, np.pi, -np.pi / 2])
    k = d.argmin(axis=-1)
    return np.take_along_axis(d, k[..., None], -1)[..., 0], wrap(heading - normals[k])


def test_shapes_and_consistency(box_walk):
    tr, _, _ = box_walk
    assert tr.positions.shape == (4000, 41, 2)
    assert tr.velocities.shape == (4000, 40, 2)
    assert tr.speed.shape == tr.heading.shape == (4000, 40)
    assert torch.equal(tr.start, tr.positions[:, 0])
    expected = (tr.speed * DT)[..., None] * torch.stack(
        [torch.cos(tr.heading), torch.sin(tr.heading)], -1)
    torch.testing.assert_close(tr.velocities, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(tr.positions[:, 1:] - tr.positions[:, :-1], tr.velocities,
                               rtol=0, atol=1e-12)
    assert tr.heading.abs().max() <= np.pi


def test_never_leaves_the_box(box_walk):
    tr, w, h = box_walk
    p = tr.positions.numpy()
    assert np.abs(p[..., 0]).max() <= w / 2
    assert np.abs(p[..., 1]).max() <= h / 2
    # and the walk does reach the walls
    assert np.abs(p[..., 0]).max() > w / 2 - 0.01


def test_start_is_uniform(box_walk):
    tr, w, h = box_walk
    s = tr.start.numpy()
    assert stats.kstest(s[:, 0], stats.uniform(-w / 2, w).cdf).pvalue > 1e-3
    assert stats.kstest(s[:, 1], stats.uniform(-h / 2, h).cdf).pvalue > 1e-3


def test_speed_is_rayleigh_away_from_walls(box_walk):
    tr, w, h = box_walk
    p = tr.positions[:, :-1].numpy()
    d, _ = _wall_geometry(p, tr.heading.numpy(), w, h)
    # 0.2 m from every wall no step can be slowed or shortened (it would need v > 10 m/s)
    v = tr.speed.numpy()[d > 0.2]
    assert v.size > 50_000
    assert stats.kstest(v, stats.rayleigh(scale=SCALE).cdf).pvalue > 1e-3
    mle_scale = np.sqrt(np.mean(v**2) / 2)
    assert abs(mle_scale / SCALE - 1) < 0.01


def test_heading_change_away_from_walls(box_walk):
    tr, w, h = box_walk
    heading = tr.heading.numpy()
    d, _ = _wall_geometry(tr.positions[:, :-1].numpy(), heading, w, h)
    dtheta = wrap(np.diff(heading, axis=1))[d[:, :-1] >= 0.03]
    assert abs(dtheta.std() / TURN_STEP_STD - 1) < 0.02
    assert abs(dtheta.mean()) < 0.01
    assert stats.kstest(dtheta, stats.norm(0, TURN_STEP_STD).cdf).pvalue > 1e-3


def test_wall_turn_away_and_slowdown(box_walk):
    tr, w, h = box_walk
    heading = tr.heading.numpy()
    d, a = _wall_geometry(tr.positions[:, :-1].numpy(), heading, w, h)
    near = (d < 0.03) & (np.abs(a) < np.pi / 2)
    assert near.sum() > 5000
    # the heading turns by sign(a)(π/2 − |a|) plus the usual noise
    expected = np.sign(a) * (np.pi / 2 - np.abs(a))
    resid = wrap(np.diff(heading, axis=1) - expected[:, :-1])[near[:, :-1]]
    assert abs(resid.std() / TURN_STEP_STD - 1) < 0.05
    assert stats.kstest(resid, stats.norm(0, TURN_STEP_STD).cdf).pvalue > 1e-3
    # after turning away the agent moves (nearly) parallel to that wall: |a| ≈ π/2
    a_next = wrap(heading[:, 1:] - (heading[:, :-1] - a[:, :-1]))[near[:, :-1]]
    assert abs(np.median(np.abs(a_next)) - np.pi / 2) < 0.05
    # speed multiplied by 0.25; 2-3 cm from the wall no step is shortened (needs v > 4 m/s)
    band = near & (d >= 0.02)
    v = tr.speed.numpy()[band] / 0.25
    assert stats.kstest(v, stats.rayleigh(scale=SCALE).cdf).pvalue > 1e-3
    # steps in the border region heading away from the wall are not slowed
    away = (d < 0.03) & (np.abs(a) > np.pi / 2)
    v_away = tr.speed.numpy()[away]
    assert abs(np.sqrt(np.mean(v_away**2) / 2) / SCALE - 1) < 0.05


def test_periodic_boundary_wraps():
    w, h = 1.0, 0.8
    tr = random_walk(500, 60, arena_width=w, arena_height=h, seed=1, periodic=True,
                     dtype=torch.float64)
    p = tr.positions.numpy()
    assert np.abs(p[..., 0]).max() <= w / 2 and np.abs(p[..., 1]).max() <= h / 2
    unwrapped = tr.start.numpy()[:, None] + np.cumsum(tr.velocities.numpy(), axis=1)
    box = np.array([w, h])
    rewrapped = (unwrapped + box / 2) % box - box / 2
    # equal modulo the box
    diff = (rewrapped - p[:, 1:] + box / 2) % box - box / 2
    assert np.abs(diff).max() < 1e-9
    # some trajectories did cross the boundary, and no speed was slowed by walls
    assert (np.abs(np.diff(p, axis=1)) > 0.3).any()
    v = tr.speed.numpy().ravel()
    assert stats.kstest(v, stats.rayleigh(scale=SCALE).cdf).pvalue > 1e-3


def test_deterministic_for_a_seed():
    a = random_walk(64, 20, arena_width=2.2, seed=11)
    b = random_walk(64, 20, arena_width=2.2, seed=11)
    c = random_walk(64, 20, arena_width=2.2, seed=12)
    for f in ("positions", "velocities", "speed", "heading", "start"):
        assert torch.equal(getattr(a, f), getattr(b, f))
    assert not torch.equal(a.positions, c.positions)
    assert a.positions.dtype == torch.float32


def test_default_height_is_width_and_dt_scales_steps():
    tr = random_walk(10, 5, arena_width=2.0, dt=0.01, seed=0, dtype=torch.float64)
    assert tr.arena_height == 2.0 and tr.dt == 0.01
    np.testing.assert_allclose(
        np.linalg.norm(tr.velocities.numpy(), axis=-1), tr.speed.numpy() * 0.01, atol=1e-12)


@pytest.mark.parametrize("kwargs", [
    {"arena_width": -1.0}, {"arena_width": 1.0, "arena_height": 0.0},
    {"arena_width": 1.0, "dt": 0}, {"arena_width": 1.0, "seed": -1},
    {"arena_width": 1.0, "dtype": torch.int64},
])
def test_bad_parameters(kwargs):
    with pytest.raises(ConfigError):
        random_walk(2, 3, **kwargs)


def test_bad_counts():
    with pytest.raises(ConfigError, match="n_steps"):
        random_walk(2, 0, arena_width=1.0)
    with pytest.raises(ConfigError, match="n_trajectories"):
        random_walk(math.pi, 2, arena_width=1.0)
