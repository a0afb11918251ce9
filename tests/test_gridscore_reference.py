"""Grid scores value by value against a plain re-implementation of their definition.

The reference below follows the definitions in :mod:`mecbench.analysis.gridscore` literally and
shares none of its machinery: the whole annulus (not the half-plane), rotations by
``scipy.ndimage.map_coordinates`` (bilinear) with the documented NaN rule, one Pearson r per
annulus with ``numpy.corrcoef``, and loops over annuli and radii. Only the autocorrelogram is
shared; it has its own brute-force test in ``test_gridscore.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from test_gridscore import hex_map, square_map

from mecbench.analysis import autocorrelogram, grid_analysis

ANGLES = (30, 60, 90, 120, 150)


def rotated(ac: np.ndarray, angle: float) -> np.ndarray:
    """``ac`` turned by ``angle`` degrees about its centre pixel: bilinear over the finite
    pixels, NaN where less than half of the interpolation weight is on finite pixels."""
    P, Q = ac.shape
    cx, cy = (P - 1) / 2, (Q - 1) / 2
    ii, jj = np.meshgrid(np.arange(P) - cx, np.arange(Q) - cy, indexing="ij")
    t = np.deg2rad(angle)
    src = [np.cos(t) * ii + np.sin(t) * jj + cx, -np.sin(t) * ii + np.cos(t) * jj + cy]
    finite = np.isfinite(ac)
    num = ndimage.map_coordinates(np.where(finite, ac, 0.0), src, order=1, mode="constant")
    den = ndimage.map_coordinates(finite.astype(float), src, order=1, mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den >= 0.5 - 1e-12, num / den, np.nan)


def annulus_r(ac: np.ndarray, rot: np.ndarray, radius: np.ndarray, inner: float,
              outer: float) -> float:
    use = (radius > inner + 1e-9) & (radius <= outer + 1e-9) & np.isfinite(ac) & np.isfinite(rot)
    if use.sum() < 20:  # 10 pixels in each half of the (point-symmetric) annulus
        return np.nan
    a, b = ac[use], rot[use]
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return np.nan
    return float(np.corrcoef(a, b)[0, 1])


def reference_scores(m: np.ndarray, min_width: int = 2, min_outer: int = 8) -> dict:
    X, Y = m.shape
    ac = autocorrelogram(m)
    P, Q = ac.shape
    ii, jj = np.meshgrid(np.arange(P) - (X - 1), np.arange(Q) - (Y - 1), indexing="ij")
    radius = np.hypot(ii, jj)
    r_max = min(X, Y) - 1
    rots = {a: rotated(ac, a) for a in ANGLES}

    # central peak: first local minimum (radius >= 1) of the ring-averaged autocorrelogram,
    # rings (r - 1, r]; capped at r_max // 2
    profile = []
    for r in range(r_max + 1):
        ring = (radius > r - 1 + 1e-9) & (radius <= r + 1e-9) & np.isfinite(ac)
        profile.append(ac[ring].mean() if ring.any() else np.inf)
    inner = r_max // 2
    for r in range(1, r_max):
        if profile[r] <= profile[r + 1]:
            inner = min(r, r_max // 2)
            break

    minmax = []
    for outer in range(r_max + 1):
        if outer < inner + min_width or outer < min(min_outer, r_max):
            continue
        r = {a: annulus_r(ac, rots[a], radius, inner, outer) for a in ANGLES}
        minmax.append(min(r[60], r[120]) - max(r[30], r[90], r[150]))
    n = min(X, Y)
    mean = []
    for o in np.linspace(0.4, 1.0, 10):
        r = {a: annulus_r(ac, rots[a], radius, 0.2 * n, o * n) for a in ANGLES}
        mean.append((r[60] + r[120]) / 2 - (r[30] + r[90] + r[150]) / 3)
    return {"inner_radius": inner, "sargolini": np.nanmax(minmax), "deepmind": np.nanmax(mean)}


def _maps():
    rng = np.random.default_rng(11)
    noisy = hex_map(24, spacing=0.45, orientation=7.0) + 0.8 * rng.standard_normal((24, 24))
    holes = hex_map(22, spacing=0.35, orientation=20.0)
    holes[rng.random(holes.shape) < 0.1] = np.nan
    holes[:5, :4] = np.nan
    smooth = ndimage.gaussian_filter(rng.standard_normal((20, 20)), 2.0)
    return {
        "ideal": hex_map(20, spacing=0.3, orientation=0.0),
        "noisy": noisy,
        "holes": holes,
        "rectangular": hex_map(26, spacing=0.4, orientation=12.0)[:, :19],
        "square lattice": square_map(20, spacing=0.3),
        "random smooth": smooth,
    }


@pytest.mark.parametrize("name", list(_maps()))
def test_grid_scores_equal_a_plain_reimplementation(name):
    m = _maps()[name]
    ref = reference_scores(m)
    ours = grid_analysis(m, peaks=False)
    assert ours["inner_radius"] == ref["inner_radius"]
    np.testing.assert_allclose(ours["grid_score_sargolini"], ref["sargolini"], rtol=0,
                               atol=1e-9)
    np.testing.assert_allclose(ours["grid_score_deepmind"], ref["deepmind"], rtol=0, atol=1e-9)


def test_the_reference_separates_grid_from_non_grid_maps():
    # the re-implementation is only a check if it behaves like a grid score itself
    maps = _maps()
    assert reference_scores(maps["ideal"])["sargolini"] > 1.0
    assert reference_scores(maps["square lattice"])["sargolini"] < 0.0
