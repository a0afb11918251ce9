"""The self-supervised grid objective (Schaeffer, Khona et al. 2023) on codes whose loss values
are known in closed form: a collapsed code, a one-hot code of position and a code whose
neural step length is a chosen multiple of the speed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mecbench.nets import SSLGridConfig
from mecbench.nets.ssl import ssl_batch, ssl_losses

CFG = SSLGridConfig(n_units=6, sigma_x=0.05, sigma_g=0.4, w_separation=1.0,
                    w_invariance=0.1, w_capacity=0.5, w_conformal=0.01)


def _t(a) -> torch.Tensor:
    return torch.tensor(np.asarray(a), dtype=torch.float64)


def test_collapsed_code_has_no_separation_and_full_capacity():
    # every state equal: all far pairs sit at the kernel's peak (1), near pairs coincide (0),
    # the mean state has norm 1 (capacity -1) and no step moves the state (conformal 0)
    b, t, n = 3, 4, CFG.n_units
    u = np.arange(1.0, n + 1.0)
    u /= np.linalg.norm(u)
    g = np.tile(u, (b, t, 1))
    rng = np.random.default_rng(1)
    vel = rng.uniform(-0.03, 0.03, size=(b, t, 2))
    pos = vel.cumsum(1)
    pos[1] = pos[0]  # near pairs at identical positions
    pos[2] += 1.0  # and far pairs
    out = ssl_losses(_t(g), _t(pos), _t(vel), _t(g), CFG)
    assert float(out["separation"]) == pytest.approx(1.0, abs=1e-12)
    assert float(out["invariance"]) == pytest.approx(0.0, abs=1e-12)
    assert float(out["capacity"]) == pytest.approx(-1.0, abs=1e-12)
    assert float(out["conformal"]) == pytest.approx(0.0, abs=1e-12)
    assert float(out["loss"]) == pytest.approx(1.0 - 0.5, abs=1e-12)


def test_one_hot_code_of_position():
    # four sites 1 m apart, visited 5, 3, 2 and 2 times; the state at site k is e_k.
    # far pairs (different sites) are at squared neural distance 2: kernel exp(-1/sigma_g^2);
    # near pairs (same site) coincide; the mean state is the visit frequencies p_k, so the
    # capacity is -sum p_k^2
    counts = [5, 3, 2, 2]
    sites = np.repeat(np.arange(4), counts)
    np.random.default_rng(3).shuffle(sites)
    n = CFG.n_units
    g = np.eye(n)[sites].reshape(3, 4, n)
    pos = np.stack([sites * 1.0, np.zeros(12)], -1).reshape(3, 4, 2)
    vel = np.full((3, 4, 2), 0.2)  # faster than sigma_x: no conformal term
    out = ssl_losses(_t(g), _t(pos), _t(vel), _t(g), CFG)
    sep = math.exp(-1.0 / CFG.sigma_g**2)
    cap = -sum((c / 12) ** 2 for c in counts)
    assert float(out["separation"]) == pytest.approx(sep, rel=1e-12)
    assert float(out["invariance"]) == pytest.approx(0.0, abs=1e-12)
    assert float(out["capacity"]) == pytest.approx(cap, rel=1e-12)
    assert float(out["conformal"]) == 0.0
    assert float(out["loss"]) == pytest.approx(sep + 0.5 * cap, rel=1e-12)


def test_conformal_term_is_the_variance_of_step_length_over_speed():
    # the state turns from e_1 by angle phi, a step of length 2 sin(phi / 2); phi is chosen so
    # that step length / speed takes the ratios 2, 2 and 5 on the steps slower than sigma_x:
    # population variance 2. Steps at zero speed or faster than sigma_x do not count.
    n = CFG.n_units
    speeds = [0.01, 0.03, 0.02, 0.0, 0.07, 0.2]
    ratios = [2.0, 2.0, 5.0, 9.0, 9.0, 9.0]
    g_prev = np.zeros((1, 6, n))
    g_prev[..., 0] = 1.0
    g = np.zeros((1, 6, n))
    for k, (s, r) in enumerate(zip(speeds, ratios, strict=True)):
        phi = 2 * math.asin(r * s / 2)
        g[0, k, 0], g[0, k, 1] = math.cos(phi), math.sin(phi)
    heading = np.linspace(0.3, 2.0, 6)
    vel = (np.array(speeds)[:, None] * np.stack([np.cos(heading), np.sin(heading)], -1))[None]
    pos = vel.cumsum(1)
    out = ssl_losses(_t(g), _t(pos), _t(vel), _t(g_prev), CFG)
    assert float(out["conformal"]) == pytest.approx(2.0, rel=1e-9)


def test_permutations_are_uniform_orderings():
    # each velocity is equally likely at each time step. Summed over M random permutation
    # matrices of size T, Pearson's statistic of the (time, velocity) counts is asymptotically
    # T/(T-1) times a chi-square with (T-1)^2 degrees of freedom (its mean is T(T-1)); the
    # bound is that law's 1 - 1e-4 quantile
    from scipy.stats import chi2

    t, b, n_batches = 5, 40, 50
    cfg = SSLGridConfig(seq_len=t, n_permutations=b)
    counts = np.zeros((t, t))
    for seed in range(n_batches):
        _, perms = ssl_batch(cfg, seed=seed)
        assert (np.sort(perms.numpy(), 1) == np.arange(t)).all()
        for k in range(t):
            counts[k] += np.bincount(perms[:, k].numpy(), minlength=t)
    expected = b * n_batches / t
    stat = ((counts - expected) ** 2 / expected).sum()
    assert stat < t / (t - 1) * chi2.ppf(1 - 1e-4, (t - 1) ** 2)
