"""Statistics of the controls analysis: the OLS of score on dimensionality and grid structure,
and the matching of a model's effective dimensionality on a control family's curve.

OLS
---
Over every scored representation (controls at every dimension and seed, and models; spatially
shuffled maps are left out, see :mod:`mecbench.controls.sweep`),
``score = b0 + b1 · log(ED) + b2 · grid_fraction + ε`` is fitted by ordinary least squares
(:class:`statsmodels.regression.linear_model.OLS`) with heteroskedasticity-robust HC3 standard
errors (MacKinnon & White 1985; normal reference distribution, as statsmodels does for robust
covariances). ``b2`` answers "does grid-like structure predict the score beyond effective
dimensionality?". The claim under test (a model's grid-like units *explain* its predictivity)
is directional, so the verdict ``grid_effect`` uses the one-sided p-value for ``b2 > 0``
(``p/2`` when ``b2 > 0``, ``1 − p/2`` otherwise); the table shows the two-sided values. A
negative ``b2`` with two-sided ``p < alpha`` is the opposite finding (grid-like bases predict
*worse* than their dimensionality suggests, as they do when the recordings are random
features: a grid population spans a few spatial frequencies only) and
:meth:`OlsFit.grid_sentence` states it in those words rather than as "not significant".
Points of one family at nested dimensions are not independent draws, so the p-values are
descriptive of the sweep rather than exact.

Matching
--------
A family's ED curve is the seed-mean ED at each swept D, plus the anchor ED(1) = 1 (one unit has
a participation ratio of 1). The dimension whose ED matches a model's is found by linear
interpolation of log D against log ED on the running maximum of the curve (ED grows with D
for nested random bases; the running maximum guards against seed noise), rounded to an integer.
A model whose ED exceeds the family's largest ED is *out of range* for that family.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mecbench.errors import DataError
from mecbench.formatting import format_p

__all__ = ["OLS_TERMS", "OlsFit", "fit_ols", "match_dimension"]

OLS_TERMS = ("const", "log_ed", "grid_fraction")


@dataclass
class OlsFit:
    """Result of :func:`fit_ols`.

    Attributes
    ----------
    table : dict
        ``{term: {"coef", "se", "z", "p", "ci_low", "ci_high"}}`` for ``const``, ``log_ed`` and
        ``grid_fraction`` (the last all NaN when every point has the same grid fraction).
    n : int
        Points fitted.
    r2 : float
    grid_p_one_sided : float
        p-value of ``grid_fraction > 0``.
    grid_effect : bool
        ``grid_p_one_sided < alpha``, and only where ``grid_reference``.
    grid_reference : bool
        Some fitted representation has a grid fraction of at least 0.5 (the grid family or a
        grid-like model). Without one, the grid term is estimated from incidental grid scores
        (single bumps pass the 0.3 threshold now and then) and is not interpreted.
    note : str
        Why a term could not be estimated, if so.
    """

    table: dict
    n: int
    r2: float
    grid_p_one_sided: float
    grid_effect: bool
    alpha: float
    note: str = ""
    grid_reference: bool = True

    def to_dict(self) -> dict:
        return {"formula": "score ~ log(ED) + grid_fraction", "cov_type": "HC3",
                "n": self.n, "r2": self.r2, "table": self.table,
                "grid_p_one_sided": self.grid_p_one_sided, "grid_effect": self.grid_effect,
                "alpha": self.alpha, "note": self.note,
                "grid_reference": self.grid_reference}

    @classmethod
    def from_dict(cls, d: dict) -> OlsFit:
        """The inverse of :meth:`to_dict` (JSON nulls back to NaN), e.g. from a saved
        analysis."""
        nan = float("nan")
        table = {term: {k: nan if v is None else v for k, v in row.items()}
                 for term, row in d["table"].items()}
        one_sided = d["grid_p_one_sided"]
        return cls(table, d["n"], d["r2"], nan if one_sided is None else one_sided,
                   d["grid_effect"], d["alpha"], d.get("note") or "",
                   d.get("grid_reference", True))

    def grid_sentence(self) -> str:
        """The finding about the grid coefficient in one sentence (both directions)."""
        row = self.table["grid_fraction"]
        if not np.isfinite(row["coef"]):
            return "grid-like structure: not estimable (" + (self.note or "no variation") + ")"
        if not self.grid_reference:
            return ("grid-like structure: not interpreted: no representation in the fit has a "
                    "grid fraction of 0.5 or more (add the grid family), so the grid term "
                    f"rests on incidental grid scores (b = {row['coef']:+.3f}, two-sided "
                    f"p = {format_p(row['p'])})")
        est = f"b = {row['coef']:+.3f} [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]"
        if self.grid_effect:
            return (f"grid-like structure predicts the score beyond effective dimensionality: "
                    f"yes ({est}, one-sided p = {format_p(self.grid_p_one_sided)})")
        if row["coef"] < 0 and row["p"] < self.alpha:
            return (f"grid-like structure predicts the score beyond effective dimensionality: "
                    f"no; grid-like bases score significantly WORSE than their dimensionality "
                    f"suggests ({est}, two-sided p = {format_p(row['p'])})")
        return (f"grid-like structure predicts the score beyond effective dimensionality: "
                f"no detectable effect ({est}, two-sided p = {format_p(row['p'])})")

    def format(self) -> str:
        """The coefficient table as text."""
        head = f"{'term':<14}{'coef':>9}{'SE(HC3)':>9}{'z':>8}{'p':>10}   95% CI"
        lines = [f"OLS: score ~ log(ED) + grid_fraction   (n = {self.n}, R² = {self.r2:.3f},"
                 " HC3 robust SEs)", head, "-" * len(head)]
        for term in OLS_TERMS:
            row = self.table[term]
            if not np.isfinite(row["coef"]):
                lines.append(f"{term:<14}{'–':>9}")
                continue
            lines.append(f"{term:<14}{row['coef']:>9.4f}{row['se']:>9.4f}{row['z']:>8.2f}"
                         f"{format_p(row['p']):>10}   [{row['ci_low']:.4f}, {row['ci_high']:.4f}]")
        if self.note:
            lines.append(f"note: {self.note}")
        lines.append("p-values are descriptive: points of one family at nested dimensions are "
                     "not independent draws")
        return "\n".join(lines)


def _nan_row() -> dict:
    return {k: float("nan") for k in ("coef", "se", "z", "p", "ci_low", "ci_high")}


def fit_ols(score: Sequence[float], ed: Sequence[float], grid_fraction: Sequence[float], *,
            alpha: float = 0.05) -> OlsFit:
    """Fit ``score ~ log(ED) + grid_fraction`` with HC3 robust standard errors.

    Points with a non-finite value (or ED <= 0) are dropped. When the grid fraction does not
    vary, the model ``score ~ log(ED)`` is fitted and the grid row is NaN.

    Raises
    ------
    DataError
        With fewer than 4 usable points or no variation in ED.
    """
    import statsmodels.api as sm

    y = np.asarray(score, dtype=np.float64)
    e = np.asarray(ed, dtype=np.float64)
    g = np.asarray(grid_fraction, dtype=np.float64)
    if not (y.shape == e.shape == g.shape and y.ndim == 1):
        raise DataError("score, ED and grid fraction must be 1-D and of equal length")
    keep = np.isfinite(y) & np.isfinite(e) & (e > 0) & np.isfinite(g)
    y, e, g = y[keep], e[keep], g[keep]
    if y.size < 4:
        raise DataError(f"the OLS needs at least 4 scored representations, got {y.size}")
    log_ed = np.log(e)
    if np.ptp(log_ed) <= 0:
        raise DataError("every representation has the same effective dimensionality; "
                        "sweep more dimensions")
    note = ""
    reference = bool(np.max(g) >= 0.5)
    with_grid = np.ptp(g) > 0
    columns = [np.ones_like(y), log_ed] + ([g] if with_grid else [])
    if not with_grid:
        note = (f"every representation has grid fraction {g[0]:.2f}: the grid term cannot be "
                "estimated (add the grid family or models with grid-like units)")
    X = np.column_stack(columns)
    res = sm.OLS(y, X).fit(cov_type="HC3")
    ci = np.asarray(res.conf_int(alpha=0.05))
    table = {}
    for k, term in enumerate(OLS_TERMS):
        if k >= X.shape[1]:
            table[term] = _nan_row()
            continue
        table[term] = {"coef": float(res.params[k]), "se": float(res.bse[k]),
                       "z": float(res.tvalues[k]), "p": float(res.pvalues[k]),
                       "ci_low": float(ci[k, 0]), "ci_high": float(ci[k, 1])}
    b2 = table["grid_fraction"]
    if np.isfinite(b2["coef"]) and np.isfinite(b2["p"]):
        one_sided = b2["p"] / 2 if b2["coef"] > 0 else 1 - b2["p"] / 2
    else:
        one_sided = float("nan")
    return OlsFit(table, int(y.size), float(res.rsquared), float(one_sided),
                  bool(np.isfinite(one_sided) and one_sided < alpha and reference),
                  float(alpha), note, reference)


def match_dimension(target_ed: float, dims: Sequence[int], eds: Sequence[float]
                    ) -> tuple[int, bool]:
    """The dimension at which a family's ED curve reaches ``target_ed``.

    Parameters
    ----------
    target_ed : float
        The model's effective dimensionality.
    dims : sequence of int
        Swept dimensions (increasing).
    eds : sequence of float
        Seed-mean ED at each dimension.

    Returns
    -------
    (D, in_range)
        ``D`` in ``[1, max(dims)]``; ``in_range`` is False when ``target_ed`` exceeds the
        curve's largest ED (then ``D`` is the largest swept dimension).
    """
    d = np.asarray(dims, dtype=np.float64)
    v = np.asarray(eds, dtype=np.float64)
    order = np.argsort(d)
    d, v = d[order], v[order]
    ok = np.isfinite(v) & (v > 0)
    d, v = d[ok], v[ok]
    if d.size == 0 or not np.isfinite(target_ed) or target_ed <= 0:
        raise DataError(f"cannot match ED {target_ed!r} on an empty or invalid curve")
    if d[0] > 1:
        d, v = np.concatenate([[1.0], d]), np.concatenate([[1.0], v])
    envelope = np.maximum.accumulate(v)
    if target_ed > envelope[-1]:
        return int(d[-1]), False
    # first index where the envelope reaches the target; interpolate on the rising segment
    k = int(np.searchsorted(envelope, target_ed, side="left"))
    if k == 0 or envelope[k] == target_ed:
        return int(round(d[k])), True
    lo, hi = k - 1, k
    t = (np.log(target_ed) - np.log(envelope[lo])) / (np.log(envelope[hi]) - np.log(envelope[lo]))
    dim = float(np.exp(np.log(d[lo]) + t * (np.log(d[hi]) - np.log(d[lo]))))
    return int(min(max(round(dim), 1), d[-1])), True
