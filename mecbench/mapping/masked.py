"""Fitting many independent targets that each miss a few training rows, in one pass per split.

Recorded cells have unvisited bins (NaN), and different animals miss different bins. For a
mapping whose targets are fitted independently of one another (ridge with one shared penalty,
one-to-one), every target ``j`` trains on ``train ∩ valid_j``. Instead of one decomposition per
mask group, :func:`cross_predict_masked` lets such a mapping do the work shared by all targets
once per split (on every training row) and correct each group for its few missing rows with a
low-rank downdate — exact, not an approximation.

Defining ``_cross_predict_masked`` declares that a mapping fits every target independently of
the others in *all* its settings (the method may still return None to decline): the scoring
path then puts the cells of every animal into one pass, which would be wrong for a joint fit
such as PLS.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mecbench.errors import DataError

from .cache import FeatureCache

__all__ = ["cross_predict_masked", "missing_row_groups"]


def missing_row_groups(valid: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Targets grouped by the rows they miss: ``[(columns, missing_rows), ...]``.

    Only targets that miss at least one row are listed (complete targets need no correction).
    ``valid`` is a boolean (rows, targets) mask.
    """
    incomplete = np.flatnonzero(~valid.all(axis=0))
    if incomplete.size == 0:
        return []
    patterns = np.ascontiguousarray((~valid[:, incomplete]).T)
    packed = np.packbits(patterns, axis=1)
    _, first, inverse = np.unique(packed, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    out = []
    for g in np.argsort(first, kind="stable"):
        cols = incomplete[inverse == g]
        out.append((cols, np.flatnonzero(~valid[:, cols[0]])))
    return out


def cross_predict_masked(mapping, cache: FeatureCache, Y: np.ndarray, valid: np.ndarray,
                         splits: Sequence[tuple[np.ndarray, np.ndarray]]
                         ) -> list[np.ndarray] | None:
    """Per-target fits on ``train ∩ valid_j`` for every target ``j``, predicting every test row.

    Parameters
    ----------
    mapping : estimator
        A mapping with a ``_cross_predict_masked`` method (others give None).
    cache : FeatureCache
        The layer's features (every row finite).
    Y : array (n_rows, n_targets)
        Targets; values where ``valid`` is False are ignored.
    valid : bool array (n_rows, n_targets)
        Which rows each target may use.
    splits : sequence of (train_rows, test_rows)
        Sorted integer row indices into ``cache.X``.

    Returns
    -------
    list of arrays (len(test_rows), n_targets), one per split — predictions for every test row,
    valid or not (callers score the valid ones) — or None when ``mapping`` has no masked path
    for these settings. Targets with fewer than 2 valid training rows get unspecified
    (possibly non-finite) predictions; callers must not use them.
    """
    fast = getattr(mapping, "_cross_predict_masked", None)
    if fast is None:
        return None
    Y = np.asarray(Y, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool)
    if Y.ndim != 2 or valid.shape != Y.shape or Y.shape[0] != cache.n_samples:
        raise DataError(f"Y {Y.shape} and valid {valid.shape} must both be "
                        f"({cache.n_samples}, n_targets)")
    Y = np.where(valid, Y, 0.0)
    if not np.isfinite(Y).all():
        raise DataError("Y contains non-finite values on rows marked valid")
    from ._linalg import single_thread

    with single_thread():
        return fast(cache, Y, valid, splits)
