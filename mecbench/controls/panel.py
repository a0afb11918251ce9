"""The dimension-sensitivity panel: does a benchmark's comparison reward dimensionality?

:func:`run_panel` runs the controls' dimension sweep (:func:`mecbench.controls.run_controls`,
no models) on several benchmarks (by default ``mec-sim.ridge`` and the similarity benchmarks
``mec-sim.cka``, ``mec-sim.rsa``, ``mec-sim.shape``, ``mec-sim.soft-match``) and summarises
each in one row (:func:`panel_row`):

slope
    Within-curve OLS slope of the headline score (ceiled median; raw median without a
    ceiling) on ``log(ED)`` over the random-basis points of the sweep (families ``fourier``,
    ``bumps``, ``relu``, every D and seed): one intercept per *curve* (a family at one seed,
    all its D), one common slope, so the slope measures how a basis gains as it grows, not
    how families with different ED ranges differ from each other. 95 % percentile CI from a
    seeded bootstrap over the curves (the points of a nested draw are not independent, the
    curves are).
gain
    ``slope × log(ED_max / ED_min)``: the score the fitted line gains over the random bases'
    ED range.
best random
    The best seed-mean score of any random basis at any D, and the same relative to the
    benchmark's ceiling (``best / ceiling median`` for a raw score; the ceiled score already
    is relative).
grid rank
    The grid family's rank among all families at matched effective dimensionality
    (:func:`matched_rank`): at each swept D, its seed-mean score against every other family's
    seed-mean curve interpolated (linearly in ``log ED``) at the grid's ED, families whose
    ED range does not reach it left out; the median rank over those D (1 = best).
verdict
    **rewards dimensionality** when the slope's CI lies above 0 *and* the gain is at least
    :data:`MIN_GAIN` (0.05 on the score's scale); otherwise **does not**. The first condition
    asks that more dimensions reliably raise the score of structureless bases, the second
    that the rise matters on the scale of a score (a slope that is significant but raises
    the score by less than 0.05 over two orders of magnitude of ED is not a reward).

The default sweep (:data:`PANEL_DIMS`, :data:`PANEL_SEEDS`) is smaller than the controls'
default: the population metrics cost far more than ridge at large D (PCA of the units for
the shape metric, Gram matrices over bins for CKA and RSA), and the panel has to run in
minutes on a laptop.

``mecbench controls --panel --save`` writes the document and its figure into a board
directory's ``controls/`` folder (:func:`save_panel`: ``panel.json``, ``panel.png``), where the
HTML report's "panel" section reads them (:func:`load_panel`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mecbench import leaderboard as lb
from mecbench.benchmarks import Benchmark, get_benchmark
from mecbench.controls.names import RANDOM_BASES
from mecbench.controls.plot import _colour
from mecbench.errors import ConfigError, DataError
from mecbench.formatting import format_number
from mecbench.jsonsafe import json_safe
from mecbench.neural_data import atomic_write
from mecbench.tables import table as text_table

__all__ = ["PANEL_BENCHMARKS", "PANEL_DIMS", "PANEL_SEEDS", "PANEL_FAMILIES", "MIN_GAIN",
           "PanelRow", "dimension_slope", "matched_rank", "panel_row", "run_panel",
           "figure_panel", "save_panel_plot", "format_panel", "PANEL_NAME", "panel_path",
           "save_panel", "load_panel"]

#: Benchmarks of the default panel.
PANEL_BENCHMARKS = ("mec-sim.ridge", "mec-sim.cka", "mec-sim.rsa", "mec-sim.shape",
                    "mec-sim.soft-match")
#: Dimensions of the default panel sweep.
PANEL_DIMS = (8, 32, 128, 256)
#: Seeds of the default panel sweep.
PANEL_SEEDS = 2
#: Families of the default panel sweep.
PANEL_FAMILIES = ("fourier", "bumps", "relu", "grid")
#: Smallest gain over the random bases' ED range for "rewards dimensionality".
MIN_GAIN = 0.05

#: File stem of the saved panel in a board's ``controls/`` folder.
PANEL_NAME = "panel"

REWARDS = "rewards dimensionality"
DOES_NOT = "does not reward dimensionality"


def _base(family: str) -> str:
    return family.split("-")[0]


@dataclass
class PanelRow:
    """One benchmark's summary (module docstring)."""

    benchmark: str
    comparison: str
    score_kind: str
    slope: float
    slope_ci: tuple[float, float]
    gain: float
    best_random: float
    best_random_family: str | None
    best_random_dim: int | None
    best_relative: float | None
    ceiling: float | None
    grid_rank: float | None
    n_families: int
    ranks: dict[str, float | None]
    verdict: str
    seconds: float = 0.0
    curves: dict = field(default_factory=dict, repr=False)
    points: list = field(default_factory=list, repr=False)

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["slope_ci"] = list(self.slope_ci)
        return json_safe(d)


def dimension_slope(ed: Sequence[float], score: Sequence[float], curve: Sequence[Any], *,
                    n_boot: int = 2000, seed: int = 0, ci: float = 0.95
                    ) -> tuple[float, float, float]:
    """Within-curve OLS slope of ``score`` on ``log(ed)`` (one intercept per curve, one
    common slope; ``curve`` labels each point's curve) and its percentile CI from a bootstrap
    that resamples whole curves.

    Returns
    -------
    slope, ci_low, ci_high
        NaN when fewer than three finite points (or no ED variation within curves) remain;
        the CI is NaN with a single curve.
    """
    x = np.log(np.asarray(ed, dtype=np.float64))
    y = np.asarray(score, dtype=np.float64)
    labels = np.asarray([str(c) for c in curve])
    ok = np.isfinite(x) & np.isfinite(y)
    x, y, labels = x[ok], y[ok], labels[ok]
    names, inverse = np.unique(labels, return_inverse=True)
    # per curve: centred cross-products; a resample of curves sums them
    sxy = np.zeros(names.size)
    sxx = np.zeros(names.size)
    for k in range(names.size):
        rows = inverse == k
        xc = x[rows] - x[rows].mean()
        sxy[k] = xc @ (y[rows] - y[rows].mean())
        sxx[k] = xc @ xc
    if x.size < 3 or sxx.sum() <= 0:
        return np.nan, np.nan, np.nan
    slope = float(sxy.sum() / sxx.sum())
    if names.size < 2:
        return slope, np.nan, np.nan
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, names.size, (int(n_boot), names.size))
    den = sxx[draws].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = np.where(den > 0, sxy[draws].sum(axis=1) / den, np.nan)
    boot = boot[np.isfinite(boot)]
    if boot.size == 0:
        return slope, np.nan, np.nan
    lo, hi = np.quantile(boot, [(1 - ci) / 2, (1 + ci) / 2])
    return slope, float(lo), float(hi)


def matched_rank(curves: dict[str, list[dict]], family: str) -> tuple[float | None, int]:
    """``family``'s median rank among the families at matched effective dimensionality.

    Parameters
    ----------
    curves : dict family -> list of {"dim", "ed_mean", "score_mean", ...}
        :meth:`mecbench.controls.sweep.ControlsResult.curves`.
    family : str

    Returns
    -------
    (rank, n)
        Median over ``family``'s swept D of 1 + the number of families whose seed-mean score,
        interpolated in ``log ED`` at ``family``'s ED, is higher; families whose ED range does
        not contain that ED are left out at that D, and a D with no family in range is
        skipped. ``n`` counts the D used; rank is None when ``n`` is 0.
    """
    if family not in curves:
        raise ConfigError(f"no curve for family {family!r}; families: {sorted(curves)}")

    def arrays(rows):
        e = np.array([r["ed_mean"] for r in rows], dtype=np.float64)
        s = np.array([r["score_mean"] for r in rows], dtype=np.float64)
        ok = np.isfinite(e) & np.isfinite(s) & (e > 0)
        order = np.argsort(e[ok])
        return np.log(e[ok][order]), s[ok][order]

    own_e, own_s = arrays(curves[family])
    others = {f: arrays(rows) for f, rows in curves.items()
              if f != family and f != "shuffle" and rows}
    ranks = []
    for e, s in zip(own_e, own_s, strict=True):
        better, compared = 0, 0
        for oe, os_ in others.values():
            if oe.size == 0 or e < oe[0] - 1e-12 or e > oe[-1] + 1e-12:
                continue
            compared += 1
            better += int(np.interp(e, oe, os_) > s)
        if compared:
            ranks.append(1 + better)
    if not ranks:
        return None, 0
    return float(np.median(ranks)), len(ranks)


def panel_row(result, *, ceiling: float | None = None, comparison: str = "",
              n_boot: int = 2000, seed: int = 0) -> PanelRow:
    """Summarise one :class:`~mecbench.controls.sweep.ControlsResult` (module docstring).

    Parameters
    ----------
    result : ControlsResult
        A sweep with at least one random-basis family.
    ceiling : float, optional
        The benchmark's median ceiling, to express a raw best score relative to it.
    comparison : str
        The benchmark's mapping or metric (for display).
    """
    pts = [p for p in result.points if p.kind == "control" and _base(p.family) in RANDOM_BASES]
    if not pts:
        raise ConfigError(f"{result.benchmark}: the panel needs a random-basis family "
                          f"({', '.join(RANDOM_BASES)}) in the sweep")
    slope, lo, hi = dimension_slope([p.ed for p in pts], [p.score for p in pts],
                                    [f"{p.family}/{p.seed}" for p in pts], n_boot=n_boot,
                                    seed=seed)
    eds = np.array([p.ed for p in pts], dtype=np.float64)
    eds = eds[np.isfinite(eds) & (eds > 0)]
    gain = slope * float(np.log(eds.max() / eds.min())) if eds.size else np.nan
    curves = result.curves()
    best, best_family, best_dim = -np.inf, None, None
    for fam, rows in curves.items():
        if _base(fam) not in RANDOM_BASES:
            continue
        for r in rows:
            if np.isfinite(r["score_mean"]) and r["score_mean"] > best:
                best, best_family, best_dim = r["score_mean"], fam, r["dim"]
    best = float(best) if np.isfinite(best) else np.nan
    if result.score_kind == "ceiled":
        relative = best
    elif ceiling is not None and np.isfinite(ceiling) and ceiling > 0:
        relative = best / ceiling
    else:
        relative = None
    ranks = {fam: matched_rank(curves, fam)[0] for fam in curves if fam != "shuffle"}
    grid = next((fam for fam in curves if _base(fam) == "grid"), None)
    rewards = np.isfinite(lo) and lo > 0 and np.isfinite(gain) and gain >= MIN_GAIN
    return PanelRow(
        benchmark=result.benchmark, comparison=comparison, score_kind=result.score_kind,
        slope=float(slope), slope_ci=(float(lo), float(hi)), gain=float(gain),
        best_random=best, best_random_family=best_family, best_random_dim=best_dim,
        best_relative=None if relative is None else float(relative),
        ceiling=None if ceiling is None else float(ceiling),
        grid_rank=None if grid is None else ranks[grid],
        n_families=len(ranks), ranks=ranks, verdict=REWARDS if rewards else DOES_NOT,
        seconds=float(result.seconds), curves=curves,
        points=[p.to_dict() for p in result.points])


ProgressFn = Callable[[str, int, int], None]


def run_panel(benchmarks: Sequence[Any] = PANEL_BENCHMARKS, *,
              families: Sequence[str] = PANEL_FAMILIES, dims: Sequence[int] = PANEL_DIMS,
              seeds: int = PANEL_SEEDS, grid_units: int = 512, n_boot: int = 2000,
              cache=None, jobs: int = 1, progress: ProgressFn | None = None) -> dict:
    """Run the dimension sweep on every benchmark and summarise each in a :class:`PanelRow`.

    Parameters
    ----------
    benchmarks : sequence of str or Benchmark
    families, dims, seeds, grid_units, cache, jobs, progress
        As for :func:`mecbench.controls.run_controls` (no models are placed).
    n_boot : int
        Bootstrap resamples of the slope's CI.

    Returns
    -------
    dict
        The ``--panel --json`` document: ``schema``, ``command``, ``dims``, ``seeds``,
        ``families``, ``min_gain``, ``rows`` (:meth:`PanelRow.to_dict`) and ``seconds``.
    """
    from mecbench.controls.sweep import ControlsOptions, parse_dims, run_controls

    t0 = time.perf_counter()
    benches = [b if isinstance(b, Benchmark) else get_benchmark(b) for b in benchmarks]
    if not benches:
        raise ConfigError("the panel needs at least one benchmark")
    if len({b.identifier for b in benches}) != len(benches):
        raise ConfigError(f"a benchmark is listed twice: {[b.identifier for b in benches]}")
    if not any(_base(f) in RANDOM_BASES for f in families):
        raise ConfigError(f"the panel needs a random-basis family ({', '.join(RANDOM_BASES)})")
    dims = parse_dims(dims)
    rows = []
    for k, bench in enumerate(benches):
        def tick(stage, done, total, _k=k, _b=bench.identifier):
            if progress is not None:
                progress(f"{_b} ({_k + 1}/{len(benches)})", done, total)

        options = ControlsOptions(families=list(families), dims=dims, seeds=seeds,
                                  grid_units=grid_units, shuffle=False, match=False, jobs=jobs)
        result = run_controls(bench, options, cache=cache, progress=tick)
        ceiling = None
        if result.score_kind == "raw" and bench.ceiling_method != "none":
            ceiling = bench.ceiling_score(cache=cache)["median"]
        rows.append(panel_row(result, ceiling=ceiling, comparison=bench.mapping.text,
                              n_boot=n_boot))
    return {"schema": 1, "command": "controls-panel", "dims": list(dims), "seeds": int(seeds),
            "families": list(families), "min_gain": MIN_GAIN,
            "rows": [r.to_dict() for r in rows], "seconds": time.perf_counter() - t0}


def format_panel(doc: dict) -> str:
    """The panel as a text table, with the verdict rule."""
    rows = []
    for r in doc["rows"]:
        lo, hi = r["slope_ci"]
        rank = r["grid_rank"]
        rows.append([r["benchmark"], r["comparison"], r["score_kind"],
                     f"{format_number(r['slope'])} [{format_number(lo)}, {format_number(hi)}]",
                     format_number(r["gain"]),
                     f"{format_number(r['best_random'])} ({r['best_random_family']} "
                     f"D={r['best_random_dim']})", format_number(r["best_relative"]),
                     "–" if rank is None else f"{rank:g}/{r['n_families']}", r["verdict"]])
    lines = [f"dimension-sensitivity panel: families {', '.join(doc['families'])}; D "
             f"{', '.join(map(str, doc['dims']))}; {doc['seeds']} seeds",
             "", text_table(rows, ["benchmark", "comparison", "score",
                                   "slope vs log ED [95% CI]", "gain", "best random basis",
                                   "best/ceiling", "grid rank", "verdict"]),
             "",
             "slope: within-curve OLS of score on log ED over the random bases (one intercept "
             "per family and seed).",
             f"rule: '{REWARDS}' when the slope's 95% CI (bootstrap over random-basis curves) "
             f"lies above 0 and the gain over the random bases' ED range is at least "
             f"{doc['min_gain']:g}; grid rank: median rank at matched ED among the families "
             "(1 = best)."]
    if doc.get("plot"):
        lines.append(f"plot: {doc['plot']}")
    lines.append(f"time: {doc['seconds']:.1f} s")
    return "\n".join(lines)


def figure_panel(doc: dict):
    """A matplotlib figure: score vs effective dimensionality, one panel per benchmark, side
    by side, every family's seed-mean curve and its seeds as dots."""
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "cairo"):
        matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    rows = doc["rows"]
    n = len(rows)
    fig, axes = plt.subplots(1, n, figsize=(3.4 * n + 0.6, 3.9), dpi=100, squeeze=False)
    for ax, row in zip(axes[0], rows, strict=True):
        extra = 0
        for fam, curve in row["curves"].items():
            colour = _colour(fam, extra)
            extra += 1
            ed = [c["ed_mean"] for c in curve]
            sc = [c["score_mean"] for c in curve]
            ax.plot(ed, sc, "-o", color=colour, lw=1.6, ms=3, label=fam)
            pts = [p for p in row["points"] if p["family"] == fam]
            ax.scatter([p["ed"] for p in pts], [p["score"] for p in pts], s=8, color=colour,
                       alpha=0.5, lw=0)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_locator(matplotlib.ticker.LogLocator(subs=(2.0, 5.0)))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.tick_params(axis="x", which="minor", labelsize=7)
        ax.set_xlabel("effective dimensionality")
        lo, hi = row["slope_ci"]
        ax.set_title(f"{row['benchmark']}\nslope {format_number(row['slope'], 2)} "
                     f"[{format_number(lo, 2)}, {format_number(hi, 2)}]", fontsize=9)
        ax.text(0.02, 0.98, row["verdict"].replace(" dimensionality", ""),
                transform=ax.transAxes, va="top", fontsize=8,
                color="#b22222" if row["verdict"] == REWARDS else "#2f4f4f")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"score ({rows[0]['score_kind']})")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def save_panel_plot(doc: dict, path: str | os.PathLike) -> Path:
    """Write :func:`figure_panel` as PNG atomically."""
    import matplotlib.pyplot as plt

    path = Path(path)
    fig = figure_panel(doc)
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    finally:
        plt.close(fig)
    return path


def panel_path(directory: str | os.PathLike, suffix: str = ".json") -> Path:
    """``<directory>/controls/panel<suffix>``."""
    return Path(directory) / "controls" / f"{PANEL_NAME}{suffix}"


def save_panel(doc: dict, directory: str | os.PathLike | None) -> dict:
    """Write the panel document and its figure into ``<directory>/controls/`` (default
    directory: :func:`mecbench.leaderboard.write_dir`), each atomically, replacing a previous
    panel and leaving every other file there alone.

    The saved document has no ``plot`` or ``saved`` field (local paths).

    Returns
    -------
    dict
        ``{"results": path of panel.json, "plot": path of panel.png}``.
    """
    if doc.get("command") != "controls-panel" or not doc.get("rows"):
        raise ConfigError("save_panel: doc is not a panel document with rows "
                          "(run_panel's output)")
    directory = lb.write_dir(directory)
    path, plot = panel_path(directory), panel_path(directory, ".png")
    keep = {k: v for k, v in doc.items() if k not in ("plot", "saved")}
    text = json.dumps(json_safe(keep), indent=1, allow_nan=False)  # fails before anything moves
    save_panel_plot(keep, plot)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return {"results": str(path), "plot": str(plot)}


def load_panel(directory: str | os.PathLike) -> dict | None:
    """The panel saved in ``directory`` (:func:`save_panel`), or None when there is none.

    Raises
    ------
    DataError
        When ``controls/panel.json`` exists but is not a panel document.
    """
    path = panel_path(directory)
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: not a readable panel ({err})") from err
    if (not isinstance(doc, dict) or doc.get("command") != "controls-panel"
            or not isinstance(doc.get("rows"), list)):
        raise DataError(f"{path}: not a dimension-sensitivity panel "
                        "(command 'controls-panel' with 'rows')")
    return doc
