"""Metrics against scipy and closed forms."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from mecbench.errors import ConfigError, DataError
from mecbench.metrics import (
    bootstrap_median_ci,
    masked_pearson_columns,
    nanmedian,
    pearson_columns,
    spearman_brown,
)


def test_pearson_columns_matches_scipy():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(40, 6)) + 100.0  # an offset tests numerical care
    b = 0.5 * a + rng.normal(size=(40, 6))
    r = pearson_columns(a, b)
    expected = [stats.pearsonr(a[:, i], b[:, i])[0] for i in range(6)]
    np.testing.assert_allclose(r, expected, rtol=1e-10, atol=1e-12)


def test_pearson_constant_and_few_rows_are_nan():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(10, 3))
    b = rng.normal(size=(10, 3))
    a[:, 1] = 2.5  # constant prediction
    b[:, 2] = 0.0  # constant data
    r = pearson_columns(a, b)
    assert np.isfinite(r[0]) and np.isnan(r[1]) and np.isnan(r[2])
    # a mean that is constant up to rounding is constant
    a[:, 0] = 1.0 / 3.0 + np.array([0, 1, -1, 0, 0, 1, 0, -1, 0, 0]) * 1e-17
    assert np.isnan(pearson_columns(a, b)[0])
    assert np.isnan(pearson_columns(a[:2], b[:2])).all()
    with pytest.raises(DataError):
        pearson_columns(a, b[:, :2])


def test_masked_pearson_matches_scipy_per_column():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(30, 5))
    b = a + rng.normal(size=(30, 5))
    a[rng.random((30, 5)) < 0.2] = np.nan
    b[rng.random((30, 5)) < 0.2] = np.nan
    b[:, 4] = np.nan
    b[:2, 4] = [1.0, 2.0]  # only two shared finite rows
    r = masked_pearson_columns(a, b)
    for i in range(4):
        m = np.isfinite(a[:, i]) & np.isfinite(b[:, i])
        assert r[i] == pytest.approx(stats.pearsonr(a[m, i], b[m, i])[0], rel=1e-10)
    assert np.isnan(r[4])


def test_nanmedian_quiet_on_all_nan():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(nanmedian([np.nan, np.nan]))
        assert nanmedian([1.0, np.nan, 3.0, 2.0]) == 2.0


def test_bootstrap_ci_contains_median_and_is_seeded():
    rng = np.random.default_rng(3)
    v = rng.normal(0.4, 0.1, size=200)
    v[:5] = np.nan
    lo, hi = bootstrap_median_ci(v, n_boot=2000, seed=1)
    assert lo < np.nanmedian(v) < hi
    assert (lo, hi) == bootstrap_median_ci(v, n_boot=2000, seed=1)
    assert (lo, hi) != bootstrap_median_ci(v, n_boot=2000, seed=2)
    # the asymptotic s.e. of a normal median is sqrt(pi/2) sigma / sqrt(n)
    se = np.sqrt(np.pi / 2) * 0.1 / np.sqrt(195)
    assert (hi - lo) == pytest.approx(2 * 1.96 * se, rel=0.3)
    assert np.isnan(bootstrap_median_ci([np.nan])).all()
    with pytest.raises(ConfigError):
        bootstrap_median_ci(v, ci=1.5)


@pytest.mark.parametrize("n", [1, 2, 9, 150])
def test_bootstrap_ci_equals_a_plain_percentile_bootstrap(n):
    # the reference: one resample at a time, drawn from the same seeded generator, and the
    # percentiles of the medians by the textbook definition (linear interpolation)
    v = np.random.default_rng(40 + n).normal(0.1, 0.3, n)
    gen = np.random.default_rng(5)
    medians = np.array([np.median(v[gen.integers(0, n, size=n)]) for _ in range(400)])
    for ci in (0.95, 0.9, 0.5):
        tail = (1 - ci) / 2
        pos = np.sort(medians)
        ends = []
        for q in (tail, 1 - tail):
            h = q * (len(pos) - 1)
            lo = int(np.floor(h))
            ends.append(pos[lo] + (h - lo) * (pos[min(lo + 1, len(pos) - 1)] - pos[lo]))
        got = bootstrap_median_ci(v, n_boot=400, ci=ci, seed=5)
        assert got == pytest.approx(tuple(ends), rel=1e-12, abs=1e-15)


def test_bootstrap_ci_does_not_depend_on_the_chunk_size():
    v = np.random.default_rng(8).normal(size=37)
    ref = bootstrap_median_ci(v, n_boot=501, seed=3)
    for chunk in (1, 7, 500, 501, 10_000):
        assert bootstrap_median_ci(v, n_boot=501, seed=3, chunk=chunk) == ref
    with pytest.raises(ConfigError, match="chunk"):
        bootstrap_median_ci(v, chunk=0)


def test_bootstrap_ci_agrees_with_scipy_percentile_bootstrap():
    # scipy.stats.bootstrap draws the same resamples from the same generator; its percentile
    # interpolation may differ in the last bits only
    v = np.random.default_rng(9).normal(0.2, 0.5, 120)
    res = stats.bootstrap((v,), np.median, n_resamples=2000, method="percentile",
                          confidence_level=0.9, rng=np.random.default_rng(4), vectorized=True)
    got = bootstrap_median_ci(v, n_boot=2000, ci=0.9, seed=4)
    ref = (res.confidence_interval.low, res.confidence_interval.high)
    assert got == pytest.approx(ref, rel=1e-12, abs=1e-15)


def test_spearman_brown_closed_form():
    r = np.array([0.0, 0.5, 0.8, -0.5, -1.0])
    np.testing.assert_allclose(spearman_brown(r)[:4], [0.0, 2 / 3, 1.6 / 1.8, -2.0])
    assert np.isnan(spearman_brown(r)[4])
    assert spearman_brown(0.5, factor=3) == pytest.approx(1.5 / 2.0)


def test_masked_pearson_details_equals_pearson_on_each_columns_rows():
    from mecbench.metrics import constant_columns, masked_pearson_details, pearson_columns

    rng = np.random.default_rng(7)
    a = rng.standard_normal((40, 6)) + 100.0
    b = a * rng.uniform(-1, 1, 6) + rng.standard_normal((40, 6))
    mask = rng.random((40, 6)) > 0.3
    b[:, 2] = np.where(mask[:, 2], 5.0, 123.0)  # constant on its rows only
    a[:, 3] = np.where(mask[:, 3], 1e9, -4.0)   # a constant prediction (large) on its rows
    mask[:, 4] = False
    mask[:3, 4] = True  # exactly MIN_BINS rows
    mask[:, 5] = False
    mask[:2, 5] = True  # too few rows
    b[~mask] = np.nan
    r, const_a, const_b = masked_pearson_details(a, b, mask)
    for j in range(6):
        rows = mask[:, j]
        expect = pearson_columns(a[rows, j:j + 1], b[rows, j:j + 1])[0]
        np.testing.assert_allclose(r[j], expect, rtol=1e-12, equal_nan=True)
        if rows.sum() >= 2:
            assert const_b[j] == constant_columns(b[rows, j:j + 1])[0]
            assert const_a[j] == constant_columns(a[rows, j:j + 1])[0]
    assert np.isnan(r[[2, 3, 5]]).all() and const_b[2] and const_a[3] and np.isfinite(r[4])


@pytest.mark.parametrize("slack", [None, 1e6])
def test_masked_pearson_details_flags_constants_at_the_threshold_as_the_rule_does(
        slack, monkeypatch):
    # spreads from 1e-3 to 1e3 times the constant rule's threshold (1e-12 of the magnitude
    # times sqrt(n)): the flags come from bounds on the magnitude except near the threshold,
    # where the exact magnitude decides (a huge slack sends every column there); either way
    # they must equal constant_columns on those rows
    from mecbench import metrics
    from mecbench.metrics import constant_columns, masked_pearson_details

    if slack is not None:
        monkeypatch.setattr(metrics, "_BOUND_SLACK", slack)

    rng = np.random.default_rng(11)
    factors = np.array([0.5, 0.9, 0.99, 1.01, 1.1, 2.0, 1e-3, 1e3])
    n_rows = 50
    mask = rng.random((n_rows, factors.size)) > 0.2
    a = np.empty((n_rows, factors.size))
    for j, k in enumerate(factors):
        rows = mask[:, j]
        z = rng.standard_normal(rows.sum())
        z -= z.mean()
        z /= np.linalg.norm(z)
        a[:, j] = np.nan
        a[rows, j] = 1e3 + k * 1e-12 * 1e3 * np.sqrt(rows.sum()) * z
    b = rng.standard_normal(a.shape)
    _, const_a, _ = masked_pearson_details(a, b, mask)
    expect = [constant_columns(a[mask[:, j], j:j + 1])[0] for j in range(factors.size)]
    np.testing.assert_array_equal(const_a, expect)
    assert const_a[factors < 0.95].all() and not const_a[factors > 1.05].any()
