"""Similarity metrics on held-out bins, with the train/test splits the mappings use."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mecbench.errors import ConfigError
from mecbench.metrics import MIN_BINS, constant_columns
from mecbench.splits import Split, SplitScheme

from ._data import PairedBins, bin_splits, paired_bins
from .registry import Metric, get_metric

__all__ = ["CrossValidatedSimilarity", "cross_validated", "MIN_TRAIN_BINS"]

#: Fewest training bins on which a fitted metric is fitted; fewer give NaN for that split.
MIN_TRAIN_BINS = 3


@dataclass(frozen=True)
class CrossValidatedSimilarity:
    """Per-split values of one metric on held-out bins.

    Attributes
    ----------
    metric : str
        Registry name.
    values : ndarray (n_splits,)
        Raw metric value on each split's test bins; NaN where the split has too few bins
        (or the value is undefined there).
    similarity : ndarray (n_splits,)
        ``values`` on the common scale (higher is more similar, 1 = identical).
    higher_is_more_similar : bool
        Direction of ``values``.
    n_train, n_test : int ndarray (n_splits,)
        Bins of each split used to fit (0 for parameter-free metrics) and to evaluate.
    n_bins, n_units, n_cells : int
        Bins finite in every input, and columns kept (not constant over those bins).
    params : dict
        Parameters the metric ran with.
    """

    metric: str
    values: np.ndarray
    similarity: np.ndarray
    higher_is_more_similar: bool
    n_train: np.ndarray
    n_test: np.ndarray
    n_bins: int
    n_units: int
    n_cells: int
    params: dict

    @property
    def mean(self) -> float:
        """Mean raw value over the splits where it is defined (NaN if none)."""
        ok = np.isfinite(self.values)
        return float(self.values[ok].mean()) if ok.any() else float("nan")


def _drop_constant(pb: PairedBins) -> PairedBins | None:
    """``pb`` without the columns constant on its bins (in either half); None when a
    representation has no column left."""
    cols = []
    for A, A2 in ((pb.X, pb.X2), (pb.Y, pb.Y2)):
        keep = ~constant_columns(A)
        if A2 is not None:
            keep &= ~constant_columns(A2)
        if not keep.any():
            return None
        cols.append(None if keep.all() else np.flatnonzero(keep))

    def take(A, c):
        return A if A is None or c is None else np.ascontiguousarray(A[:, c])

    cx, cy = cols
    return PairedBins(take(pb.X, cx), take(pb.Y, cy), take(pb.X2, cx), take(pb.Y2, cy),
                      pb.bins, pb.units if cx is None else pb.units[cx],
                      pb.cells if cy is None else pb.cells[cy], pb.n_bins, pb.n_units,
                      pb.n_cells, pb.shape)


def cross_validated(metric: str | Metric, X, Y, splits: SplitScheme | Sequence[Split], *,
                    shape: tuple[int, int] | None = None, X2=None, Y2=None,
                    min_train: int = MIN_TRAIN_BINS, **params) -> CrossValidatedSimilarity:
    """Evaluate a similarity metric on the held-out bins of each split.

    Metrics with fitted parts (``shape-*``: PCA axes, whitening and alignment;
    ``soft-matching``: the transport plan) are fitted on the split's training bins and
    evaluated on its test bins with those parts fixed. Parameter-free metrics (``cka*``,
    ``rsa-*``) are computed on the test bins alone, so every metric is reported on the same
    held-out bins.

    Parameters
    ----------
    metric : str or Metric
        A name in :data:`mecbench.similarity.METRICS`.
    X : array (n_bins, n_units), (n_x, n_y, n_units) or rate-map DataArray
        Model responses.
    Y : array (n_bins, n_cells), (n_x, n_y, n_cells) or rate-map DataArray
        Recorded responses of one animal; NaN marks unvisited bins.
    splits : SplitScheme or sequence of (train, test)
        Flat bin indices on the full grid (C order over ``(x, y)``), as for the mappings
        (:mod:`mecbench.splits`). Bins dropped by :func:`mecbench.similarity.paired_bins`
        are removed from each split afterwards.
    shape : (n_x, n_y), optional
        Grid shape for a structured or blocked :class:`SplitScheme` (taken from the inputs
        when they are 3-D or DataArrays).
    X2, Y2 : array, optional
        Second halves, for metrics that use them (``rsa-*``).
    min_train : int
        Fewest training bins for a fitted metric; a split with fewer gives NaN.
    **params
        Metric parameters overriding :attr:`Metric.params`.

    Returns
    -------
    CrossValidatedSimilarity

    Notes
    -----
    A split gives NaN when it has fewer than ``max(3, metric.min_bins)`` test bins (or too
    few training bins), or when on its test bins a representation has no varying column
    (parameter-free metrics; columns constant on the test bins are dropped for them, as
    :func:`paired_bins` does on all bins). Fitted metrics keep the fitted columns; a column
    constant on the test bins then counts as uncorrelated with everything (soft matching) or
    contributes zero after centring (shape metrics).
    """
    m = get_metric(metric)
    kw = m.resolve_params(params)
    if (X2 is not None or Y2 is not None) and not m.halves:
        raise ConfigError(f"metric {m.name!r} does not use second halves X2/Y2")
    if isinstance(min_train, bool) or not isinstance(min_train, (int, np.integer)) \
            or min_train < 2:
        raise ConfigError(f"min_train must be an integer >= 2; got {min_train!r}")
    pb = paired_bins(X, Y, X2=X2, Y2=Y2, min_bins=m.min_bins)
    split_rows = bin_splits(splits, pb, shape)
    if m.fit is not None and all(tr.size == 0 for tr, _ in split_rows):
        raise ConfigError(f"every split has an empty training set; metric {m.name!r} is "
                          "fitted on training bins")
    min_test = max(MIN_BINS, m.min_bins)
    n = len(split_rows)
    values = np.full(n, np.nan)
    n_train = np.zeros(n, dtype=np.int64)
    n_test = np.array([te.size for _, te in split_rows], dtype=np.int64)
    for s, (tr, te) in enumerate(split_rows):
        if te.size < min_test:
            continue
        if m.fit is None:
            test = _drop_constant(pb.subset(te))
            if test is not None:
                values[s] = m.compute(test, **kw)
            continue
        n_train[s] = tr.size
        if tr.size < max(min_train, m.min_bins):
            continue
        evaluate = m.fit(pb.subset(tr), **kw)
        values[s] = evaluate(pb.subset(te))
    return CrossValidatedSimilarity(
        m.name, values, np.asarray(m.to_similarity(values), dtype=np.float64),
        m.higher_is_more_similar, n_train, n_test, int(pb.bins.size), int(pb.units.size),
        int(pb.cells.size), kw)
