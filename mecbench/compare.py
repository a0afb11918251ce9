"""Paired per-cell comparisons of models on one benchmark.

Two models scored on the same benchmark predict the same recorded cells, so their scores are
paired by cell. For every pair of models (A, B), on the cells where both scores are finite:

- ``delta``: the median over cells of ``score_A − score_B`` (``mean_delta``: their mean);
- ``ci``: a seeded percentile-bootstrap 95 % CI of that median (cells resampled with
  replacement, ``n_boot`` resamples);
- ``p``: the two-sided Wilcoxon signed-rank test of the differences
  (:func:`scipy.stats.wilcoxon`, zero differences dropped — Wilcoxon's own treatment);
- ``p_holm``: ``p`` corrected for all pairs compared at once with Holm's step-down method
  (:func:`statsmodels.stats.multitest.multipletests`).

The verdict is ``"A > B, Δ = 0.07 [0.04, 0.10], p_holm = 0.001, 412 cells"`` when
``p_holm < alpha`` (the better model named first, Δ positive), otherwise
``"no detectable difference between A and B (Δ = ..., p_holm = ..., N cells)"``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from mecbench.errors import ConfigError, DataError
from mecbench.formatting import format_ci, format_number, format_p
from mecbench.jsonsafe import json_safe
from mecbench.metrics import bootstrap_median_ci

__all__ = ["PairComparison", "compare_cells", "format_verdict"]


@dataclass(frozen=True)
class PairComparison:
    """The comparison of models ``a`` and ``b`` (differences are ``a − b``)."""

    a: str
    b: str
    n_cells: int
    delta: float
    ci: tuple[float, float]
    statistic: float
    p: float
    p_holm: float
    significant: bool
    verdict: str
    mean_delta: float = float("nan")

    @property
    def a_better(self) -> bool:
        """``a`` is significantly better than ``b`` (the verdict's direction: the sign of the
        median difference, or of the mean where the median is exactly 0)."""
        direction = self.delta if self.delta != 0 else self.mean_delta
        return bool(self.significant and direction > 0)

    def to_dict(self) -> dict:
        """JSON-ready dict (NaN becomes None)."""
        return json_safe(asdict(self))


def format_verdict(a: str, b: str, n: int, delta: float, ci: tuple[float, float],
                   p_holm: float, significant: bool, direction: float | None = None) -> str:
    """The plain-language verdict (see the module docstring).

    ``direction`` (default the sign of ``delta``) decides which model is named first when the
    difference is significant; it matters only when the median difference is exactly 0.
    """
    direction = delta if direction is None or delta != 0 else direction
    if significant and direction < 0:
        a, b, delta, ci = b, a, -delta, (-ci[1], -ci[0])
    numbers = f"Δ = {format_number(delta, 2)} {format_ci(ci, 2)}, p_holm = {format_p(p_holm)}, " \
              f"{n} cells"
    if significant:
        return f"{a} > {b}, {numbers}"
    return f"no detectable difference between {a} and {b} ({numbers})"


def compare_cells(
    scores: Mapping[str, tuple[Sequence[str], Sequence[float]]],
    *,
    pairs: Sequence[tuple[str, str]] | None = None,
    alpha: float = 0.05,
    n_boot: int = 10_000,
    seed: int = 0,
) -> list[PairComparison]:
    """Compare every pair of models by their per-cell scores.

    Parameters
    ----------
    scores : mapping of name to (cell ids, values)
        Per-cell scores of each model; cells are matched by id, non-finite values dropped
        pairwise.
    pairs : sequence of (name, name), optional
        Which pairs; default all pairs in the order of ``scores``.
    alpha : float
        Family-wise error rate for the Holm correction.
    n_boot : int
        Bootstrap resamples for the CI of the median difference.
    seed : int
        Seed of the bootstrap (each pair uses ``seed + its index``).

    Returns
    -------
    list of PairComparison
    """
    from scipy.stats import wilcoxon
    from statsmodels.stats.multitest import multipletests

    if not (0 < alpha < 1):
        raise ConfigError(f"alpha must lie in (0, 1), got {alpha!r}")
    if not isinstance(n_boot, int) or n_boot < 100:
        raise ConfigError(f"n_boot must be an integer >= 100, got {n_boot!r}")
    names = list(scores)
    if len(names) < 2:
        raise ConfigError(f"need at least two models to compare, got {names}")
    series = {}
    for name, (ids, values) in scores.items():
        ids = np.asarray(ids).astype(str)
        values = np.asarray(values, dtype=np.float64)
        if ids.shape != values.shape or ids.ndim != 1:
            raise DataError(f"{name}: cell ids {ids.shape} and scores {values.shape} differ")
        if len(np.unique(ids)) != len(ids):
            raise DataError(f"{name}: duplicate cell ids")
        series[name] = dict(zip(ids.tolist(), values.tolist(), strict=True))
    pairs = list(pairs) if pairs is not None else list(itertools.combinations(names, 2))
    raw = []
    for k, (a, b) in enumerate(pairs):
        for name in (a, b):
            if name not in series:
                raise DataError(f"no scores for {name!r}")
        common = sorted(set(series[a]) & set(series[b]))
        va = np.array([series[a][c] for c in common], dtype=np.float64)
        vb = np.array([series[b][c] for c in common], dtype=np.float64)
        keep = np.isfinite(va) & np.isfinite(vb)
        diff = va[keep] - vb[keep]
        n = int(diff.size)
        if n == 0:
            raise DataError(f"{a} and {b} share no cell with finite scores")
        delta = float(np.median(diff))
        ci = bootstrap_median_ci(diff, n_boot=n_boot, seed=seed + k)
        if np.all(diff == 0):
            stat, p = 0.0, 1.0
        else:
            res = wilcoxon(diff, zero_method="wilcox", alternative="two-sided")
            stat, p = float(res.statistic), float(res.pvalue)
        raw.append((a, b, n, delta, ci, stat, p, float(np.mean(diff))))
    p_holm = multipletests([r[6] for r in raw], alpha=alpha, method="holm")[1]
    out = []
    for (a, b, n, delta, ci, stat, p, mean), ph in zip(raw, p_holm, strict=True):
        sig = bool(ph < alpha)
        verdict = format_verdict(a, b, n, delta, ci, float(ph), sig, direction=mean)
        out.append(PairComparison(a, b, n, delta, ci, stat, p, float(ph), sig, verdict, mean))
    return out
