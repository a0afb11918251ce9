"""The "controls" section of the HTML report (``mecbench report``).

Shows the analysis saved by ``mecbench controls BENCHMARK --save`` in a board directory of the
report (``controls/<benchmark>.json``): the plot of score vs effective dimensionality, the
dimension-matched comparison of every model, and the OLS coefficient table. Left out when no
board directory holds an analysis of the benchmark.

The "panel" section shows the dimension-sensitivity panel saved by ``mecbench controls --panel
--save`` (``controls/panel.json`` and ``controls/panel.png``, :mod:`mecbench.controls.panel`)
in any board directory the report reads: one row per benchmark and the figure. Left out when
no board directory holds a panel.
"""

from __future__ import annotations

import base64
from pathlib import Path

from mecbench.controls.board import controls_path, load_controls
from mecbench.controls.plot import figure_controls
from mecbench.controls.stats import OlsFit
from mecbench.formatting import format_number, format_p
from mecbench.htmlkit import Section, esc, figure_img, html_table

__all__ = ["controls_section", "find_controls", "panel_section", "find_panel"]


def find_controls(ctx) -> tuple[dict, Path] | None:
    """The newest saved analysis of ``ctx.benchmark_id`` among the report's board directories
    (those of its entries and unreadable lines)."""
    dirs: list[Path] = []
    for entry in ctx.board.entries:
        d = Path(entry["_dir"])
        if d not in dirs:
            dirs.append(d)
    for problem in ctx.board.problems:
        d = Path(problem.path).parent
        if d not in dirs:
            dirs.append(d)
    found = [(controls_path(d, ctx.benchmark_id), d) for d in dirs]
    found = [(p, d) for p, d in found if p.is_file()]
    if not found:
        return None
    path, directory = max(found, key=lambda pd: pd[0].stat().st_mtime)
    return load_controls(directory, ctx.benchmark_id), path


def controls_section(ctx):
    """Score vs effective dimensionality, dimension-matched comparisons and the OLS table."""
    from mecbench.controls.matching import comparison_result

    found = find_controls(ctx)
    if found is None:
        return None
    doc, path = found
    parts = [
        f'<p class="meta">From <code>{esc(ctx.place(path))}</code> (benchmark version '
        f"{esc(doc.get('benchmark_version'))}, dimensions {esc(doc['dims'])}, seeds "
        f"{esc(doc['seeds'])}). Effective dimensionality (ED) is the participation ratio of the "
        f"rate-map covariance and the grid fraction the share of units with grid score > 0.3, "
        f"both on the {esc(doc['analysis_arena'])} arena. Lines: control families (seed mean), "
        "bands: lowest to highest seed; black points: models; grey crosses: models with their "
        "bins shuffled.</p>",
        figure_img(figure_controls(doc), "score vs effective dimensionality"),
    ]
    rows = []
    for m in doc.get("models", []):
        for c in m["comparisons"]:
            if not c["in_range"]:
                rows.append([m["model"], format_number(m["ed"], 1), c["family"],
                             "–", "–", "–", "–", "out of range: " + c.get("reason", "")])
                continue
            result = comparison_result(c)
            delta = (f"{format_number(c['delta'])} [{format_number(c['ci'][0])}, "
                     f"{format_number(c['ci'][1])}]")
            rows.append([m["model"], format_number(m["ed"], 1), c["family"], str(c["dim"]),
                         format_number(c["ed"], 1), delta, format_p(c["p_holm"]), result])
    if rows:
        parts.append("<h3>Models against dimension-matched controls</h3>")
        parts.append(html_table(["model", "ED", "control", "D", "control ED",
                                 f"median per-cell Δ{doc.get('metric', '')} [95% CI]",
                                 "p_holm", "result"], rows,
                                table_id="controls-matched", numeric=(1, 3, 4, 6)))
        parts.append("<ul>" + "".join(f"<li>{esc(m['verdict'])}</li>"
                                      for m in doc["models"]) + "</ul>")
    ols = doc.get("ols")
    if ols:
        rows = [[term, format_number(r["coef"], 4), format_number(r["se"], 4),
                 format_number(r["z"], 2), format_p(r["p"]),
                 f"[{format_number(r['ci_low'], 4)}, {format_number(r['ci_high'], 4)}]"]
                for term, r in ols["table"].items()]
        parts.append(f"<h3>OLS: score ~ log(ED) + grid fraction (n = {ols['n']}, "
                     f"R² = {format_number(ols['r2'])}, HC3 robust SEs)</h3>")
        parts.append(html_table(["term", "coef", "SE", "z", "p", "95% CI"], rows,
                                table_id="controls-ols", numeric=(1, 2, 3, 4)))

        fit = OlsFit.from_dict(ols)
        parts.append(f"<p><strong>{esc(fit.grid_sentence())}</strong>. The verdict is the "
                     "one-sided test of a positive grid coefficient; p-values are descriptive "
                     "(points of one family at nested dimensions are not independent draws)."
                     + (f" {esc(ols['note'])}" if ols.get("note") else "") + "</p>")
    return Section("controls", "Controls: score vs effective dimensionality", "".join(parts))


def find_panel(ctx) -> tuple[dict, Path] | None:
    """The newest saved panel among the board directories the report reads (``ctx.roles``),
    as (document, path of panel.json), or None."""
    from mecbench.controls.panel import load_panel, panel_path

    found = [panel_path(d) for d in ctx.roles]
    found = [p for p in found if p.is_file()]
    if not found:
        return None
    path = max(found, key=lambda p: p.stat().st_mtime)
    return load_panel(path.parent.parent), path


def panel_section(ctx):
    """The dimension-sensitivity panel: one row per benchmark, and its figure."""
    from mecbench.controls.panel import DOES_NOT, REWARDS, figure_panel

    found = find_panel(ctx)
    if found is None:
        return None
    doc, path = found
    rows = []
    for r in doc["rows"]:
        lo, hi = r["slope_ci"]
        best = format_number(r["best_random"])
        if r.get("best_random_family") is not None:
            best += f" ({r['best_random_family']}, D={r['best_random_dim']})"
        rank = r.get("grid_rank")
        slope = f"{format_number(r['slope'])} [{format_number(lo)}, {format_number(hi)}]"
        rows.append([r["benchmark"], slope, format_number(r["gain"]), best,
                     format_number(r.get("best_relative")),
                     "–" if rank is None else f"{rank:g} of {r['n_families']}", r["verdict"]])
    plot = path.with_suffix(".png")
    if plot.is_file():
        data = base64.b64encode(plot.read_bytes()).decode("ascii")
        img = (f'<img class="figure" alt="dimension-sensitivity panel" '
               f'src="data:image/png;base64,{data}">')
    else:
        img = figure_img(figure_panel(doc), "dimension-sensitivity panel")
    min_gain = doc.get("min_gain")
    parts = [
        f'<p class="meta">From <code>{esc(ctx.place(path))}</code> (families '
        f"{esc(', '.join(doc['families']))}; dimensions {esc(', '.join(map(str, doc['dims'])))}"
        f"; {esc(doc['seeds'])} seeds). Each benchmark is swept with control families only "
        "(no models): the slope is the within-curve least-squares slope of the headline score "
        "on log effective dimensionality (ED) over the random bases, one intercept per family "
        "and seed, with a 95% bootstrap CI over those curves; the gain is the slope times the "
        "log of the random bases' ED range; the grid rank is the grid family's median rank "
        "among all families at matched ED (1 = best).</p>",
        html_table(["benchmark", "slope vs log ED [95% CI]", "gain", "best random basis",
                    "best / ceiling", "grid rank", "verdict"], rows, table_id="controls-panel",
                   numeric=(1, 2, 4)),
        f"<p><strong>Verdict rule:</strong> a benchmark is marked “{esc(REWARDS)}” when the "
        f"slope's 95% CI lies above 0 and the gain is at least "
        f"{esc(format_number(min_gain, 2))} on the "
        f"score's scale, otherwise “{esc(DOES_NOT)}”.</p>",
        img,
    ]
    return Section("panel", "Controls: dimension-sensitivity panel", "".join(parts))
