"""Paired per-cell model comparisons: statistics against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import wilcoxon

from mecbench.compare import compare_cells, format_verdict
from mecbench.errors import ConfigError, DataError
from mecbench.metrics import bootstrap_median_ci


def _ids(n):
    return np.array([f"c{i}" for i in range(n)])


def _holm(p):
    """Holm's step-down adjustment written out from its definition."""
    p = np.asarray(p)
    order = np.argsort(p)
    m = len(p)
    adj = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adj[i] = running
    return adj


def test_known_shift_is_detected_with_ci_covering_it():
    rng = np.random.default_rng(1)
    base = rng.uniform(0.0, 0.8, 400)
    a = base + 0.1 + rng.normal(0, 0.03, 400)
    b = base
    (res,) = compare_cells({"A": (_ids(400), a), "B": (_ids(400), b)}, n_boot=2000, seed=3)
    diff = a - b
    assert res.n_cells == 400
    assert res.delta == pytest.approx(np.median(diff))
    assert res.ci[0] < 0.1 < res.ci[1]
    ref = wilcoxon(diff)
    assert res.p == pytest.approx(ref.pvalue) and res.statistic == pytest.approx(ref.statistic)
    assert res.significant
    assert res.verdict.startswith("A > B, Δ = 0.10 [")
    assert res.verdict.endswith(", 400 cells")


def test_better_model_named_first_when_second_wins():
    rng = np.random.default_rng(2)
    a = rng.uniform(0, 1, 200)
    (res,) = compare_cells({"A": (_ids(200), a), "B": (_ids(200), a + 0.2)}, n_boot=500)
    assert res.delta == pytest.approx(-0.2)
    assert res.verdict.startswith("B > A, Δ = 0.20 [0.20, 0.20]")


def test_no_difference_under_the_null():
    rng = np.random.default_rng(3)
    a = rng.normal(0.5, 0.1, 300)
    b = a + rng.normal(0, 0.05, 300) * rng.choice([-1, 1], 300)
    (res,) = compare_cells({"A": (_ids(300), a), "B": (_ids(300), b)}, n_boot=500)
    assert not res.significant and res.p_holm >= 0.05
    assert res.ci[0] < 0 < res.ci[1]
    assert res.verdict.startswith("no detectable difference between A and B (Δ = ")


def test_identical_scores_give_p_one():
    a = np.linspace(0, 1, 50)
    (res,) = compare_cells({"A": (_ids(50), a), "B": (_ids(50), a.copy())}, n_boot=200)
    assert res.p == 1.0 and not res.significant and res.ci == (0.0, 0.0)


def test_cells_matched_by_id_and_nan_dropped_pairwise():
    rng = np.random.default_rng(4)
    a = rng.uniform(0, 1, 60)
    b = rng.uniform(0, 1, 60)
    a[3] = np.nan
    b[7] = np.nan
    perm = rng.permutation(60)
    (res,) = compare_cells({"A": (_ids(60), a), "B": (_ids(60)[perm], b[perm])}, n_boot=200)
    keep = np.isfinite(a) & np.isfinite(b)
    assert res.n_cells == 58
    assert res.p == pytest.approx(wilcoxon(a[keep] - b[keep]).pvalue)
    assert res.delta == pytest.approx(np.median(a[keep] - b[keep]))


def test_holm_over_all_pairs_matches_definition():
    rng = np.random.default_rng(5)
    base = rng.uniform(0, 1, 80)
    scores = {name: (_ids(80), base + shift + rng.normal(0, 0.05, 80))
              for name, shift in [("A", 0.0), ("B", 0.01), ("C", 0.03), ("D", -0.02)]}
    res = compare_cells(scores, n_boot=200)
    assert [(r.a, r.b) for r in res] == [("A", "B"), ("A", "C"), ("A", "D"), ("B", "C"),
                                        ("B", "D"), ("C", "D")]
    np.testing.assert_allclose([r.p_holm for r in res], _holm([r.p for r in res]))
    assert all(r.significant == (r.p_holm < 0.05) for r in res)


def test_bootstrap_ci_is_seeded_and_matches_a_plain_loop():
    rng = np.random.default_rng(6)
    d = rng.normal(0.05, 0.2, 150)
    lo, hi = bootstrap_median_ci(d, n_boot=300, seed=11, chunk=7)
    gen = np.random.default_rng(11)
    meds = [np.median(d[gen.integers(0, 150, size=150)]) for _ in range(300)]
    assert (lo, hi) == pytest.approx(tuple(np.percentile(meds, [2.5, 97.5])))
    assert bootstrap_median_ci(d, n_boot=300, seed=11) == (lo, hi)


def test_verdict_format():
    text = format_verdict("A", "B", 412, 0.07, (0.04, 0.10), 0.001, True)
    assert text == "A > B, Δ = 0.07 [0.04, 0.10], p_holm = 0.001, 412 cells"
    text = format_verdict("A", "B", 12, -0.01, (-0.05, 0.02), 0.4, False)
    assert text == ("no detectable difference between A and B "
                    "(Δ = -0.01 [-0.05, 0.02], p_holm = 0.400, 12 cells)")


def test_bad_input():
    ids = _ids(5)
    with pytest.raises(ConfigError, match="two models"):
        compare_cells({"A": (ids, np.ones(5))})
    with pytest.raises(DataError, match="share no cell"):
        compare_cells({"A": (ids, np.ones(5)), "B": (_ids(10)[5:], np.ones(5))})
    with pytest.raises(DataError, match="duplicate"):
        compare_cells({"A": (np.array(["a", "a"]), np.ones(2)), "B": (ids, np.ones(5))})
    with pytest.raises(ConfigError, match="alpha"):
        compare_cells({"A": (ids, np.ones(5)), "B": (ids, np.ones(5))}, alpha=2)
