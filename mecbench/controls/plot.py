"""Score vs effective dimensionality: control curves with seed spread, models as labelled points.

Works from the JSON document of :meth:`mecbench.controls.sweep.ControlsResult.to_dict`, so the
HTML report can redraw a saved analysis.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mecbench.formatting import format_p
from mecbench.neural_data import atomic_write

__all__ = ["figure_controls", "save_plot"]

_COLOURS = {"fourier": "#1f77b4", "bumps": "#2ca02c", "relu": "#9467bd", "grid": "#d62728",
            "shuffle": "#7f7f7f"}
_EXTRA = ["#8c564b", "#e377c2", "#bcbd22", "#17becf", "#ff7f0e"]


def _colour(family: str, k: int) -> str:
    return _COLOURS.get(family.split("-")[0], _EXTRA[k % len(_EXTRA)])


def figure_controls(doc: dict):
    """A matplotlib figure: score vs number of units D (left) and vs effective
    dimensionality (right).

    Each control family is a line through its seed-mean score at every swept D (left) or its
    seed-mean (ED, score) (right), with a band from the lowest to the highest seed's score and
    every seed as a dot; models are labelled black points, their shuffled maps grey crosses.
    """
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "cairo"):
        matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, (ax_d, ax) = plt.subplots(1, 2, figsize=(13.0, 5.5), dpi=100, sharey=True,
                                   gridspec_kw={"width_ratios": [2, 3]})
    points = doc.get("points", [])
    extra = 0
    for family, rows in doc.get("curves", {}).items():
        if family == "shuffle" or not rows:
            continue
        colour = _colour(family, extra)
        extra += family.split("-")[0] not in _COLOURS
        ed = np.array([r["ed_mean"] for r in rows], dtype=float)
        mean = np.array([r["score_mean"] for r in rows], dtype=float)
        lo = np.array([r["score_min"] for r in rows], dtype=float)
        hi = np.array([r["score_max"] for r in rows], dtype=float)
        n_seeds = max(r["n_seeds"] for r in rows)
        ax.plot(ed, mean, "-", color=colour, lw=1.8,
                label=f"{family} (D {rows[0]['dim']}–{rows[-1]['dim']}, {n_seeds} seeds)")
        ax.fill_between(ed, lo, hi, color=colour, alpha=0.18, lw=0)
        pts = [p for p in points if p["kind"] == "control" and p["family"] == family]
        ax.scatter([p["ed"] for p in pts], [p["score"] for p in pts], s=9, color=colour,
                   alpha=0.7, lw=0)
        dims = np.array([r["dim"] for r in rows], dtype=float)
        ax_d.plot(dims, mean, "-o", color=colour, lw=1.8, ms=3, label=family)
        ax_d.fill_between(dims, lo, hi, color=colour, alpha=0.18, lw=0)
        for r in (rows[0], rows[-1]):
            ax.annotate(f"D={r['dim']}", (r["ed_mean"], r["score_mean"]), fontsize=7,
                        color=colour, xytext=(3, -9), textcoords="offset points")
    shuffles = [p for p in points if p["family"] == "shuffle"]
    if shuffles:
        ax.scatter([p["ed"] for p in shuffles], [p["score"] for p in shuffles], marker="x",
                   s=28, color=_COLOURS["shuffle"], label="models, bins shuffled")
    models = [p for p in points if p["kind"] == "model"]
    # with many models, untrained networks are drawn in grey and left unlabelled (they cluster
    # at low ED and their labels would bury the plot); the legend names them
    quiet = len(models) > 8
    labelled = [p for p in models if not (quiet and p["name"].startswith("untrained/"))]
    for p in models:
        grey = p not in labelled
        style = {"color": "0.55" if grey else "black", "zorder": 5}
        ax_d.scatter([p["dim"]], [p["score"]], s=30 if grey else 40, **style)
        ax.scatter([p["ed"]], [p["score"]], s=40 if grey else 55, **style,
                   label="untrained networks (unlabelled)"
                   if grey and p is next(q for q in models if q not in labelled) else None)
    ax.set_xscale("log")
    ax.set_xlabel("effective dimensionality (participation ratio, "
                  f"{doc.get('analysis_arena', '')} arena)")
    kind = doc.get("score", "ceiled")
    ax_d.set_xscale("log", base=2)
    ax_d.set_xlabel("number of units D (band: seed range)")
    ax_d.set_ylabel(f"{kind} score (median over cells)")
    ax_d.set_title("score vs dimension", fontsize=10)
    ax_d.grid(alpha=0.3, which="both")
    title = f"{doc.get('benchmark', '')}: score vs effective dimensionality"
    ols = doc.get("ols")
    if ols and ols.get("table"):
        t = ols["table"]
        title += f"\nOLS (HC3): log ED {t['log_ed']['coef']:+.3f} (p={format_p(t['log_ed']['p'])})"
        coef = t["grid_fraction"]["coef"]
        if coef is not None and np.isfinite(coef):
            title += (f", grid fraction {coef:+.3f} "
                      f"(two-sided p={format_p(t['grid_fraction']['p'])}"
                      f"; grid adds: {'yes' if ols.get('grid_effect') else 'no'})")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    # labels last, once the axes' scales and limits are final
    _label_points(ax_d, [(p["dim"], p["score"], p["name"]) for p in labelled], fontsize=7)
    _label_points(ax, [(p["ed"], p["score"], p["name"]) for p in labelled], fontsize=8)
    return fig


def _label_points(ax, items: list[tuple[float, float, str]], *, fontsize: float) -> None:
    """Label points without overlapping labels: each label sits right of its point and, where
    it would cover an earlier one, moves down in steps of one line (with a leader line)."""
    dpi = ax.figure.dpi
    line = fontsize * 1.25                       # points
    placed: list[tuple[float, float, float]] = []   # x0, x1, y of placed labels (points)
    dots = [tuple(ax.transData.transform((x, y)) * 72.0 / dpi) for x, y, _ in items]
    order = sorted(items, key=lambda it: -ax.transData.transform((it[0], it[1]))[1])

    def blocked(x0: float, x1: float, ly: float) -> bool:
        """Would a label spanning [x0, x1] at baseline ``ly`` cover a label or a dot?"""
        return (any(a < x1 and x0 < b and abs(ly - c) < line for a, b, c in placed)
                or any(x0 - 4 < dx < x1 + 4 and ly - 4 < dy_ < ly + line for dx, dy_ in dots))

    for x, y, text in order:
        px, py = ax.transData.transform((x, y)) * 72.0 / dpi
        x0, x1 = px + 5, px + 5 + 0.6 * fontsize * len(text)
        dy = 4.0
        for _ in range(40):
            if not blocked(x0, x1, py + dy):
                break
            dy -= line
        placed.append((x0, x1, py + dy))
        ax.annotate(text, (x, y), fontsize=fontsize, xytext=(5, dy), textcoords="offset points",
                    zorder=6, arrowprops=None if dy == 4.0 else
                    {"arrowstyle": "-", "color": "0.5", "lw": 0.5, "shrinkA": 0, "shrinkB": 3})


def save_plot(doc: dict, path: str | os.PathLike) -> Path:
    """Draw :func:`figure_controls` and write it atomically as PNG to ``path``."""
    import matplotlib.pyplot as plt

    fig = figure_controls(doc)
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    finally:
        plt.close(fig)
    return Path(path)
