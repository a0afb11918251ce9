"""Soft matching distance: the transport LP against assignment (equal sizes) and against
assignment between replicated atoms (unequal sizes), marginals, closed forms and metric
properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from mecbench.errors import ConfigError, DataError, UnknownIdentifierError
from mecbench.similarity import SoftMatching, soft_matching, transport_plan
from mecbench.similarity.transport import _column_generation


def tuning(seed, n=40, p=6, q=6):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    Y = X[:, rng.integers(0, p, q)] + 0.8 * rng.standard_normal((n, q))
    return X, Y


def pearson(X, Y):
    return np.corrcoef(X.T, Y.T)[: X.shape[1], X.shape[1]:]


def test_equal_sizes_linprog_equals_assignment():
    X, Y = tuning(0, p=7, q=7)
    a = soft_matching(X, Y, solver="assignment")
    b = soft_matching(X, Y, solver="linprog")
    assert a.solver == "assignment" and b.solver == "linprog"
    assert b.distance == pytest.approx(a.distance, rel=1e-9)
    # unique optimum on random data: the LP vertex is the same permutation
    np.testing.assert_allclose(b.plan, a.plan, atol=1e-9)
    assert np.count_nonzero(a.plan) == 7
    # score = mean correlation of the matched pairs (scipy's assignment on -r)
    R = pearson(X, Y)
    rows, cols = linear_sum_assignment(-R)
    assert a.score == pytest.approx(R[rows, cols].mean(), rel=1e-12)
    assert a.distance == pytest.approx(math.sqrt(2 * (1 - a.score)), rel=1e-12)


@pytest.mark.parametrize("p,q", [(6, 4), (3, 5), (8, 2)])
def test_unequal_sizes_equal_assignment_between_replicated_atoms(p, q):
    """Uniform transport between p and q atoms equals the assignment between lcm(p, q)
    equal atoms (each unit copied lcm/p times, each cell lcm/q times)."""
    X, Y = tuning(p * 10 + q, p=p, q=q)
    res = soft_matching(X, Y)
    assert res.solver == "linprog"
    cost = 2 * (1 - pearson(X, Y))
    m = math.lcm(p, q)
    big = np.repeat(np.repeat(cost, m // p, axis=0), m // q, axis=1)
    r, c = linear_sum_assignment(big)
    assert res.distance ** 2 == pytest.approx(big[r, c].mean(), rel=1e-9)
    np.testing.assert_allclose(res.plan.sum(axis=1), 1 / p, atol=1e-12)
    np.testing.assert_allclose(res.plan.sum(axis=0), 1 / q, atol=1e-12)
    assert res.plan.min() >= 0
    assert res.score == pytest.approx(np.sum(res.plan * pearson(X, Y)), rel=1e-12)


@pytest.mark.parametrize("p,q", [(300, 40), (35, 200)])
def test_column_generation_equals_full_linprog(p, q, monkeypatch):
    X, Y = tuning(p + q, n=50, p=p, q=q)
    full = soft_matching(X, Y, solver="linprog")
    cg = soft_matching(X, Y, solver="column-generation")
    assert cg.distance == pytest.approx(full.distance, rel=1e-9)
    np.testing.assert_allclose(cg.plan.sum(axis=1), 1 / p, atol=1e-12)
    np.testing.assert_allclose(cg.plan.sum(axis=0), 1 / q, atol=1e-12)
    assert soft_matching(X, Y).solver == "linprog"
    monkeypatch.setattr("mecbench.similarity.transport.FULL_LP_PAIRS", p * q - 1)
    assert soft_matching(X, Y).solver == "column-generation"


def test_column_generation_adds_pairs_until_optimal():
    """Every unit prefers the same two cells: the first restricted problem (one cheapest cell
    per unit) is infeasible or suboptimal, and later rounds must reach the full optimum."""
    rng = np.random.default_rng(9)
    C = rng.uniform(0.5, 2.0, (60, 7))
    C[:, :2] = rng.uniform(0.0, 0.1, (60, 2))
    plan, rounds = _column_generation(C, k_init=1)
    full, _ = transport_plan(C, solver="linprog")
    assert rounds > 1
    assert np.sum(plan * C) == pytest.approx(np.sum(full * C), rel=1e-9)


def test_permuted_rescaled_cells_have_distance_zero():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((30, 5))
    perm = rng.permutation(5)
    Y = X[:, perm] * rng.uniform(0.5, 3, 5) + rng.standard_normal(5)
    res = soft_matching(X, Y)
    assert res.distance == pytest.approx(0.0, abs=1e-6)
    assert res.score == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(res.plan[perm, np.arange(5)], 0.2, atol=1e-12)


def test_duplicated_units_split_mass():
    """Two copies of each cell's tuning among the units: each cell takes both copies, half
    of its mass each, and the distance is 0."""
    rng = np.random.default_rng(4)
    Y = rng.standard_normal((25, 3))
    X = np.column_stack([Y, 2 * Y + 1])
    res = soft_matching(X, Y)
    assert res.distance == pytest.approx(0.0, abs=1e-6)
    expected = np.vstack([np.eye(3), np.eye(3)]) / 6
    np.testing.assert_allclose(res.plan, expected, atol=1e-12)


def test_metric_properties():
    rng = np.random.default_rng(5)
    reps = [rng.standard_normal((30, k)) for k in (4, 6, 3)]
    reps = [np.column_stack([r, reps[0][:, :2] + 0.5 * rng.standard_normal((30, 2))])
            for r in reps]
    d = {(i, j): soft_matching(reps[i], reps[j]).distance
         for i in range(3) for j in range(3)}
    for i in range(3):
        assert d[i, i] == pytest.approx(0.0, abs=1e-6)
        for j in range(3):
            assert d[i, j] == pytest.approx(d[j, i], rel=1e-9)
            for m in range(3):
                assert d[i, j] <= d[i, m] + d[m, j] + 1e-9


def test_constant_columns_dropped_and_plan_on_input_columns():
    X, Y = tuning(6, p=5, q=4)
    Xc = np.column_stack([X[:, :2], np.full(40, 3.0), X[:, 2:]])
    Yn = Y.copy()
    Yn[7, 1] = np.nan
    res = soft_matching(Xc, Yn)
    keep = np.setdiff1d(np.arange(40), [7])
    ref = soft_matching(X[keep], Y[keep])
    assert res.distance == pytest.approx(ref.distance, rel=1e-9)
    assert res.plan.shape == (6, 4)
    np.testing.assert_array_equal(res.plan[2], 0.0)
    np.testing.assert_array_equal(res.units, [0, 1, 3, 4, 5])
    assert res.n_bins == 39


def test_heldout_score():
    X, Y = tuning(7, n=80, p=9, q=4)
    tr, te = np.arange(0, 80, 2), np.arange(1, 80, 2)
    m = SoftMatching().fit(X[tr], Y[tr])
    assert m.score(X[tr], Y[tr]) == pytest.approx(m.score_, rel=1e-12)
    assert m.score(X[te], Y[te]) == pytest.approx(np.sum(m.plan_ * pearson(X[te], Y[te])),
                                                  rel=1e-12)
    # the training plan is no better on test bins than the plan fitted there
    assert m.score(X[te], Y[te]) <= SoftMatching().fit(X[te], Y[te]).score_ + 1e-12


def test_transport_plan_and_errors():
    plan, solver = transport_plan(np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]]))
    assert solver == "linprog"
    np.testing.assert_allclose(plan.sum(axis=1), 1 / 3)
    np.testing.assert_allclose(plan.sum(axis=0), 1 / 2)
    X, Y = tuning(8, p=5, q=3)
    with pytest.raises(ConfigError, match="as many units as cells"):
        soft_matching(X, Y, solver="assignment")
    with pytest.raises(UnknownIdentifierError, match="linprog"):
        soft_matching(X, Y, solver="sinkhorn")
    with pytest.raises(DataError, match="cost contains non-finite"):
        transport_plan(np.array([[np.nan]]))
    with pytest.raises(ConfigError, match="not fitted"):
        SoftMatching().score(X, Y)
