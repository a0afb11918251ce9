"""Split schemes: reference semantics, geometry on small grids checked by hand, determinism."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from mecbench.errors import ConfigError, UnknownIdentifierError
from mecbench.splits import SplitScheme, blocked_splits, random_splits, structured_splits


@pytest.mark.parametrize("shape,train_frac", [((10, 10), 0.2), ((7, 5), 0.33), ((44, 44), 0.5)])
def test_random_sizes_disjoint_cover(shape, train_frac):
    n = shape[0] * shape[1]
    splits = SplitScheme.random(train_frac, n_splits=4, seed=3).splits(shape)
    assert len(splits) == 4
    for train, test in splits:
        assert len(train) == math.ceil(train_frac * n)
        assert len(np.intersect1d(train, test)) == 0
        assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(n))


def test_random_matches_known_permutations():
    # the reference semantics: split s is RandomState(seed + s).permutation(N), first
    # ceil(train_frac * N) bins train
    splits = random_splits(20, 0.2, n_splits=3, seed=5)
    for s, (train, test) in enumerate(splits):
        perm = np.random.RandomState(5 + s).permutation(20)
        assert np.array_equal(train, perm[:4])
        assert np.array_equal(test, perm[4:])
    # a hard-coded permutation guards against a numpy change of RandomState's stream
    # (RandomState's legacy stream is frozen by numpy's policy)
    np.testing.assert_array_equal(np.random.RandomState(0).permutation(10),
                                  [2, 8, 4, 9, 1, 6, 7, 3, 0, 5])
    assert np.array_equal(random_splits(10, 0.3, 1, 0)[0][0], [2, 8, 4])


def test_random_does_not_touch_global_rng():
    state = np.random.get_state()  # noqa: NPY002 - the point is the legacy global state
    random_splits(50, 0.2, 10, 0)
    after = np.random.get_state()  # noqa: NPY002
    assert np.array_equal(state[1], after[1]) and state[2] == after[2]


def test_random_deterministic_across_processes():
    code = ("from mecbench.splits import SplitScheme;"
            "s=SplitScheme.random(0.2, 3, 7).splits((9, 8));"
            "print(';'.join(','.join(map(str, t)) for t, _ in s))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    here = SplitScheme.random(0.2, 3, 7).splits((9, 8))
    assert out == ";".join(",".join(map(str, t)) for t, _ in here)


def test_train_frac_zero_one_split_all_test():
    splits = SplitScheme.random(0.0).splits((4, 5))
    assert len(splits) == 1
    assert splits[0][0].size == 0
    assert np.array_equal(splits[0][1], np.arange(20))
    assert SplitScheme.random(0.0).count() == 1


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, np.nan, "half", None])
def test_train_frac_out_of_range(bad):
    with pytest.raises((ConfigError, UnknownIdentifierError)):
        SplitScheme.from_train_frac(bad)


def test_unknown_structured_kind_suggests():
    with pytest.raises(UnknownIdentifierError, match="topbottom"):
        SplitScheme.from_train_frac("top_bottom")


def _mask(shape, idx):
    m = np.zeros(shape[0] * shape[1], dtype=int)
    m[idx] = 1
    return m.reshape(shape)


def test_topbottom_cuts_first_axis():
    (a, b), (b2, a2) = structured_splits((4, 3), "topbottom")
    assert np.array_equal(a, a2) and np.array_equal(b, b2)
    np.testing.assert_array_equal(_mask((4, 3), a), [[1, 1, 1], [1, 1, 1], [0, 0, 0], [0, 0, 0]])


def test_leftright_cuts_second_axis():
    (a, b), _ = structured_splits((3, 5), "leftright")
    np.testing.assert_array_equal(_mask((3, 5), a), [[1, 1, 0, 0, 0]] * 3)
    assert len(b) == 9


def test_diag1_and_diag2_by_hand():
    (a, b), (b2, a2) = structured_splits((3, 3), "diag1")
    np.testing.assert_array_equal(_mask((3, 3), a), [[1, 1, 1], [0, 1, 1], [0, 0, 1]])
    np.testing.assert_array_equal(_mask((3, 3), b), [[0, 0, 0], [1, 0, 0], [1, 1, 0]])
    assert np.array_equal(a, a2) and np.array_equal(b, b2)
    (a, b), _ = structured_splits((3, 3), "diag2")
    np.testing.assert_array_equal(_mask((3, 3), a), [[1, 1, 1], [1, 1, 0], [1, 0, 0]])


def test_quad_by_hand():
    splits = structured_splits((4, 4), "quad")
    assert len(splits) == 4
    expected_tests = [
        [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
        [[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0]],
        [[0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0]],
        [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]],
    ]
    tests = np.concatenate([t for _, t in splits])
    assert np.array_equal(np.sort(tests), np.arange(16))
    for (train, test), exp in zip(splits, expected_tests, strict=True):
        np.testing.assert_array_equal(_mask((4, 4), test), exp)
        assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(16))


def test_structured_matches_flat_c_order_of_an_xy_array():
    # flat index k of a (n_x, n_y) array is (k // n_y, k % n_y): check against np.unravel_index
    (a, _), _ = structured_splits((5, 4), "topbottom")
    xi, _ = np.unravel_index(a, (5, 4))
    assert set(xi.tolist()) == {0, 1}


def test_blocked_blocks_are_contiguous_and_seeded():
    splits = blocked_splits((8, 8), block_size=2, train_frac=0.25, n_splits=3, seed=1)
    assert len(splits) == 3
    for s, (train, test) in enumerate(splits):
        assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(64))
        m = _mask((8, 8), train)
        # each 2x2 block is entirely train or entirely test
        blocks = m.reshape(4, 2, 4, 2).transpose(0, 2, 1, 3).reshape(16, 4)
        assert set(blocks.sum(axis=1).tolist()) <= {0, 4}
        assert blocks[:, 0].sum() == math.ceil(0.25 * 16)
        perm = np.random.RandomState(1 + s).permutation(16)
        np.testing.assert_array_equal(np.flatnonzero(blocks[:, 0]), np.sort(perm[:4]))
    assert not np.array_equal(splits[0][0], splits[1][0])


def test_blocked_ragged_edges_cover():
    train, test = blocked_splits((7, 5), 3, 0.5, 1, 0)[0]
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(35))


def test_blocked_bad_params():
    with pytest.raises(ConfigError, match="block_size"):
        SplitScheme.blocked(block_size=0)
    with pytest.raises(ConfigError, match="single block"):
        blocked_splits((4, 4), 4, 0.5)


def test_identifier_and_count():
    assert SplitScheme.random(0.2, 10, 0).identifier == "random-tf0.2-n10-s0"
    assert SplitScheme.blocked(4, 0.2, 5, 2).identifier == "blocked-b4-tf0.2-n5-s2"
    assert SplitScheme.structured("quad").identifier == "quad"
    assert SplitScheme.structured("quad").count() == 4
    assert SplitScheme.from_train_frac("diag2").count() == 2
    assert SplitScheme.random(0.2, 7).count() == len(SplitScheme.random(0.2, 7).splits((5, 5)))
    with pytest.raises(ConfigError):
        SplitScheme.random(0.2, n_splits=0)
    with pytest.raises(UnknownIdentifierError):
        SplitScheme("rnd")
