"""The masked one-pass path (every target on ``train ∩ valid_j``) against per-target fits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import Ridge as SkRidge

from mecbench.mapping import FeatureCache, OneToOne, Ridge, cross_predict_masked
from mecbench.mapping.masked import missing_row_groups
from mecbench.predictivity import score_rate_maps
from mecbench.ratemaps import make_rate_maps
from mecbench.splits import SplitScheme


def _problem(rng, n, p, t, *, offset=3.0):
    X = rng.standard_normal((n, p)) @ rng.standard_normal((p, p)) / np.sqrt(p) + offset
    Y = X[:, : min(p, 5)] @ rng.standard_normal((min(p, 5), t)) + rng.standard_normal((n, t))
    Y += 10.0  # a large intercept
    valid = np.ones((n, t), dtype=bool)
    # three mask patterns shared by several targets, one unique, the rest complete
    for cols, frac in (((0, 1, 2), 0.1), ((3, 4), 0.3), ((5,), 0.05)):
        miss = rng.random(n) < frac
        valid[np.ix_(miss, list(cols))] = False
    Y[~valid] = np.nan
    return X, Y, valid


def _splits(rng, n, k=3, n_train=None):
    out = []
    for _ in range(k):
        perm = rng.permutation(n)
        m = n_train or n // 3
        out.append((np.sort(perm[:m]), np.sort(perm[m:])))
    return out


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(30, 80), p=st.sampled_from([4, 25, 150]),
       alpha=st.sampled_from([1e-3, 1.0, 50.0]))
def test_masked_ridge_equals_sklearn_per_target(seed, n, p, alpha):
    rng = np.random.default_rng(seed)
    X, Y, valid = _problem(rng, n, p, 8)
    splits = _splits(rng, n)
    preds = cross_predict_masked(Ridge(alpha=alpha), FeatureCache(X), Y, valid, splits)
    for (tr, te), P in zip(splits, preds, strict=True):
        assert P.shape == (te.size, Y.shape[1])
        for j in range(Y.shape[1]):
            s = tr[valid[tr, j]]
            ref = SkRidge(alpha=alpha).fit(X[s], Y[s, j]).predict(X[te])
            np.testing.assert_allclose(P[:, j], ref, rtol=1e-6, atol=1e-6 * np.abs(ref).max())


def _one_to_one_reference(X, y, s, te):
    """Plain per-target loop: Pearson r of every source on rows ``s`` (np.corrcoef)."""
    xs, ys = X[s], y[s]
    if np.ptp(ys) == 0:
        return np.full(te.size, ys.mean()), -1
    r = np.full(X.shape[1], -np.inf)
    for k in range(X.shape[1]):
        if np.ptp(xs[:, k]) > 0:
            r[k] = np.corrcoef(xs[:, k], ys)[0, 1]
    if not np.isfinite(r).any():
        return np.full(te.size, ys.mean()), -1
    k = int(np.argmax(r))
    return X[te, k], k


def _tied_sources(xs: np.ndarray, ys: np.ndarray, tol: float = 1e-12) -> list[int]:
    """Sources whose Pearson r with ``ys`` (np.corrcoef) is within ``tol`` of the best."""
    r = np.array([np.corrcoef(xs[:, k], ys)[0, 1] if np.ptp(xs[:, k]) > 0 else -np.inf
                  for k in range(xs.shape[1])])
    return [int(k) for k in np.flatnonzero(r >= r.max() - tol)]


@pytest.mark.slow
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(30, 80), p=st.sampled_from([3, 40, 200]))
@example(seed=704, n=30, p=40)  # a target with two training rows: every varying source has r = 1
def test_masked_one_to_one_equals_per_target_loop(seed, n, p):
    rng = np.random.default_rng(seed)
    X, Y, valid = _problem(rng, n, p, 8, offset=50.0)
    splits = _splits(rng, n)
    tr0 = splits[0][0]
    X[:, 0] = 7.0  # constant everywhere: never chosen
    # a source constant on the valid training rows of targets 3 and 4 of split 0, varying only
    # on the rows they miss: constant for them, not for the others
    miss = tr0[~valid[tr0, 3]]
    if p > 1 and miss.size:
        X[:, 1] = 2.0
        X[miss, 1] = 2.0 + 10.0 * rng.random(miss.size)
        Y[miss, 0] = np.nan  # keep targets 0-2 from sharing it by chance
        valid[miss, 0] = False
    Y[:, 7] = np.where(valid[:, 7], 4.0, np.nan)  # a constant target
    preds = cross_predict_masked(OneToOne(), FeatureCache(X), Y, valid, splits)
    for (tr, te), P in zip(splits, preds, strict=True):
        for j in range(Y.shape[1]):
            rows = tr[valid[tr, j]]
            ref, k = _one_to_one_reference(X, Y[:, j], rows, te)
            # sources whose r equals the best up to rounding (e.g. every varying source when a
            # target has two training rows: |r| = 1) are all valid picks
            tied = [k] if k < 0 else _tied_sources(X[rows], Y[rows, j])
            assert any(np.allclose(P[:, j], ref if i < 0 else X[te, i], rtol=1e-12, atol=1e-12)
                       for i in tied), (j, tied)


def test_masked_one_to_one_with_every_source_constant_predicts_training_means():
    rng = np.random.default_rng(5)
    X, Y, valid = _problem(rng, 40, 6, 8)
    X[:] = 3.0
    # constant on the valid rows of targets 0-2 only; varying for the others
    miss = np.flatnonzero(~valid[:, 0])
    X[miss, 2] = 3.0 + rng.random(miss.size)
    splits = _splits(rng, 40)
    preds = cross_predict_masked(OneToOne(), FeatureCache(X), Y, valid, splits)
    for (tr, te), P in zip(splits, preds, strict=True):
        for j in range(Y.shape[1]):
            ref, k = _one_to_one_reference(X, Y[:, j], tr[valid[tr, j]], te)
            np.testing.assert_allclose(P[:, j], ref, rtol=1e-12, atol=1e-12)
            if j < 3:
                assert k == -1


def test_missing_row_groups_groups_by_pattern_in_first_appearance_order():
    valid = np.ones((5, 6), dtype=bool)
    valid[[1, 3], 2] = False
    valid[[1, 3], 4] = False
    valid[0, 1] = False
    groups = missing_row_groups(valid)
    assert [c.tolist() for c, _ in groups] == [[1], [2, 4]]
    assert [d.tolist() for _, d in groups] == [[0], [1, 3]]
    assert missing_row_groups(np.ones((3, 2), dtype=bool)) == []


def test_masked_path_refuses_what_it_cannot_do_exactly():
    rng = np.random.default_rng(0)
    X, Y, valid = _problem(rng, 40, 5, 8)
    splits = _splits(rng, 40)
    cache = FeatureCache(X)
    assert cross_predict_masked(Ridge(alpha=0.0), cache, Y, valid, splits) is None
    assert cross_predict_masked(Ridge(fit_intercept=False), cache, Y, valid, splits) is None
    assert cross_predict_masked(Ridge(alpha=np.arange(1.0, 9.0)), cache, Y, valid, splits) is None
    bad = valid.copy()
    bad[0, 0] = True
    Y2 = Y.copy()
    Y2[0, 0] = np.inf
    with pytest.raises(Exception, match="non-finite"):
        cross_predict_masked(Ridge(), cache, Y2, bad, splits)


@pytest.mark.parametrize("mapping", ["ridge", "one-to-one"])
def test_score_rate_maps_one_pass_equals_per_animal_fits(mapping):
    """All cells in one masked pass give the per-animal scores of a mapping without one."""
    from mecbench.mapping import SklearnMapping

    rng = np.random.default_rng(3)
    nx = 12
    X = rng.standard_normal((nx * nx, 30)) @ rng.standard_normal((30, 30)) + 3.0
    Y = np.abs(X[:, :12] @ rng.standard_normal((12, 18)) + rng.standard_normal((nx * nx, 18)))
    animals = np.repeat(["a", "b", "c"], 6)
    for k, a in enumerate("abc"):
        miss = rng.random(nx * nx) < 0.1 * (k + 1)
        Y[np.ix_(miss, np.flatnonzero(animals == a))] = np.nan
    kw = {"arena_width": 1.2, "arena_height": 1.2, "bin_size": 0.1}
    model = make_rate_maps(X.reshape(nx, nx, -1), **kw)
    neural = make_rate_maps(Y.reshape(nx, nx, -1), animal=animals, **kw)
    scheme = SplitScheme.random(0.3, 4, seed=1)
    ours = score_rate_maps(model, neural, mapping, scheme)
    if mapping == "ridge":
        ref = score_rate_maps(model, neural, SklearnMapping("Ridge", {"alpha": 1.0}), scheme)
        np.testing.assert_allclose(ours.values, ref.values, rtol=1e-9, atol=1e-12)
    else:
        # per-animal fits through OneToOne.fit/predict (no masked path)
        class Plain(OneToOne):
            _cross_predict_masked = None
            _cross_predict = None

        ref = score_rate_maps(model, neural, Plain(), scheme)
        np.testing.assert_allclose(ours.values, ref.values, rtol=0, atol=1e-12)
    assert np.isfinite(ours.values).all()
