"""The built-in sections of the report (see :mod:`mecbench.report` for how to add one)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mecbench.formatting import format_ci, format_number
from mecbench.htmlkit import Section, esc, figure_img, html_table
from mecbench.leaderboard import model_label
from mecbench.metrics import masked_pearson_columns
from mecbench.ratemaps import flat_values

if TYPE_CHECKING:  # pragma: no cover
    from mecbench.report import ReportContext

__all__ = ["leaderboard_table", "score_distributions", "score_vs_layer", "ratemap_gallery",
           "unreadable_lines", "best_entry_per_model", "best_matching_units"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def best_entry_per_model(ctx: ReportContext) -> list[dict]:
    """Each model's best entry (over layers) by the report metric, best model first."""
    best: dict[str, dict] = {}
    metric = ctx.metric
    for e in ctx.entries:  # ctx.entries is sorted best first
        if e["model"] not in best and e.get(metric) is not None:
            best[e["model"]] = e
    return list(best.values())


# leaderboard ------------------------------------------------------------------------------
def leaderboard_table(ctx: ReportContext) -> Section:
    """The leaderboard: newest entry per model and layer, best first."""
    rows = [[i + 1, model_label(e), e["layer"],
             format_number(e["ceiled"]) + (" (unreliable ceiling)"
                                           if e.get("ceiling_reliable") is False else ""),
             format_ci(e["ci"]), format_number(e["raw"]), format_number(e["ceiling"]),
             f"{e['n_cells']}/{e['n_cells_total']}",
             e["ceiling_method"], e["date"][:10], e["id"]]
            for i, e in enumerate(ctx.entries)]
    if not rows:
        return Section("leaderboard", "Leaderboard",
                       f"<p>No entry on the leaderboard of {esc(ctx.benchmark_id)}.</p>")
    headers = ["#", "model", "layer", "ceiled", "95% CI", "raw", "ceiling", "cells",
               "ceiling method", "date", "id"]
    numeric = (0, 3, 5, 6, 7)
    # entries saved by `mecbench controls --save` carry their dimension-matched control
    with_control = any(e.get("control_family") for e in ctx.entries)
    if with_control:
        for row, e in zip(rows, ctx.entries, strict=True):
            row[4:4] = [e.get("control_family") or "–", format_number(e.get("control_score")),
                        "–" if e.get("control_delta") is None
                        else f"{float(e['control_delta']):+.3f}"]
        headers[4:4] = ["matched control", "control score", "Δ vs control"]
        numeric = (0, 3, 5, 6, 8, 9, 10)
    table = html_table(headers, rows, table_id="leaderboard", numeric=numeric)
    first = ctx.entries[0]
    text = (f"<p>Mapping <code>{esc(first['mapping'])}</code>, splits "
            f"<code>{esc(first['splits'])}</code>. <em>raw</em>: median over cells of the "
            "per-cell Pearson r on held-out bins (mean over splits); <em>ceiling</em>: median "
            "per-cell ceiling; <em>ceiled</em>: median over cells of raw / ceiling (cells "
            "with a low ceiling excluded), with its 95 % bootstrap CI."
            + (" <em>matched control</em>: the random basis of the model's effective "
               "dimensionality that scores best (<code>mecbench controls --save</code>), "
               "its score (same kind as the leaderboard's) and the model's margin over it; "
               "a model whose margin is near 0 scores what its dimensionality "
               "buys." if with_control else "") + "</p>")
    return Section("leaderboard", "Leaderboard", text + table)


# distributions ----------------------------------------------------------------------------
def score_distributions(ctx: ReportContext) -> Section | None:
    """Per-cell score distributions of each model's best layer."""
    metric = ctx.metric
    data, labels = [], []
    for e in best_entry_per_model(ctx)[:25]:
        score = ctx.score(e)
        if score is None or metric not in score:
            continue
        v = np.asarray(score[metric].values, dtype=float)
        v = v[np.isfinite(v)]
        if v.size:
            data.append(v)
            labels.append(f"{e['model']}@{e['layer']}")
    if not data:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(data) + 1.2))
    pos = np.arange(len(data))[::-1]
    ax.violinplot(data, positions=pos, orientation="horizontal", showmedians=True, widths=0.8)
    ax.set_yticks(pos, labels, fontsize=8)
    ax.set_xlabel(f"per-cell {metric} score")
    ax.axvline(0, color="0.6", lw=0.8)
    if metric == "ceiled":
        ax.axvline(1, color="0.6", lw=0.8, ls="--")
    ax.set_title(f"{ctx.benchmark_id}: distribution over cells (best layer of each model)")
    body = ("<p>Each violin shows every cell's score; the bar marks the median (the "
            "leaderboard number).</p>" + figure_img(fig, f"per-cell {metric} distributions"))
    return Section("distributions", "Score distributions", body)


# score vs layer ---------------------------------------------------------------------------
def _layer_order(ctx: ReportContext, model: str, layers: list[str]) -> list[str]:
    try:
        order = list(ctx.provider(model).layers)
    except Exception:  # the model may not be installed here: keep board order
        return layers
    return [la for la in order if la in layers] + [la for la in layers if la not in order]


def score_vs_layer(ctx: ReportContext) -> Section | None:
    """Ceiled (or raw) score against layer for models scored on several layers."""
    metric = ctx.metric
    ci_keys = ("ci",) if metric == "ceiled" else ("raw_ci",)
    by_model: dict[str, dict[str, dict]] = {}
    for e in ctx.board.latest():
        by_model.setdefault(e["model"], {})[e["layer"]] = e
    multi = {m: v for m, v in by_model.items() if len(v) > 1}
    if not multi:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4))
    n_max = 0
    for model, entries in sorted(multi.items()):
        layers = _layer_order(ctx, model, list(entries))
        y = np.array([np.nan if entries[la][metric] is None else entries[la][metric]
                      for la in layers], dtype=float)
        ci = np.array([[np.nan if v is None else v for v in entries[la][ci_keys[0]]]
                       for la in layers], dtype=float)
        x = np.arange(len(layers))
        n_max = max(n_max, len(layers))
        ax.errorbar(x, y, yerr=np.abs(np.vstack([y - ci[:, 0], ci[:, 1] - y])), marker="o",
                    capsize=3, label=model)
        for xi, la in zip(x, layers, strict=True):
            ax.annotate(la, (xi, y[xi] if np.isfinite(y[xi]) else 0), fontsize=7,
                        textcoords="offset points", xytext=(3, 4))
    ax.set_xticks(np.arange(n_max))
    ax.set_xlabel("layer position (input to output; names on the points)")
    ax.set_ylabel(f"{metric} score (median over cells, 95 % CI)")
    ax.legend(fontsize=8)
    ax.set_title(f"{ctx.benchmark_id}: score vs layer")
    return Section("score-vs-layer", "Score vs layer", figure_img(fig, "score vs layer"))


# rate-map gallery -------------------------------------------------------------------------
def best_matching_units(model_flat: np.ndarray, cells_flat: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
    """For each recorded cell (column of ``cells_flat``, NaN = unvisited), the model unit
    (column of ``model_flat``) with the highest Pearson r over the cell's visited bins.

    Returns (unit index, r) per cell; vectorised over units.
    """
    best_idx = np.zeros(cells_flat.shape[1], dtype=int)
    best_r = np.full(cells_flat.shape[1], np.nan)
    for j in range(cells_flat.shape[1]):  # a handful of gallery cells, each vs all units
        y = cells_flat[:, j]
        ys = np.broadcast_to(y[:, None], model_flat.shape)
        r = masked_pearson_columns(model_flat, ys)
        if np.isfinite(r).any():
            best_idx[j] = int(np.nanargmax(r))
            best_r[j] = float(r[best_idx[j]])
    return best_idx, best_r


def _prediction(ctx: ReportContext, model_flat: np.ndarray, y: np.ndarray, shape
                ) -> tuple[np.ndarray, float] | None:
    """The benchmark mapping fitted on split 0's visited training bins, predicting every bin;
    with Pearson r on split 0's visited test bins."""
    bench = ctx.benchmark
    train, test = bench.splits.splits(shape)[0]
    valid = np.isfinite(y)
    tr, te = train[valid[train]], test[valid[test]]
    if tr.size < 3 or te.size < 3:
        return None
    est = bench.mapping.build()
    est.fit(model_flat[tr], y[tr, None])
    pred = np.asarray(est.predict(model_flat), dtype=float).reshape(-1)
    r = np.corrcoef(pred[te], y[te])[0, 1]
    return pred, float(r)


def ratemap_gallery(ctx: ReportContext) -> Section | None:
    """For the best models, the recorded cells they predict best, each next to the model's
    prediction of it and to the single model unit that resembles it most."""
    n_models = int(ctx.options.get("gallery_models", 3))
    n_cells = int(ctx.options.get("gallery_cells", 4))
    if n_models <= 0 or n_cells <= 0:
        return None
    parts, notes = [], []
    plt = _plt()
    for e in best_entry_per_model(ctx)[:n_models]:
        score = ctx.score(e)
        if score is None:
            notes.append(f"{e['model']}: no per-cell score file")
            continue
        raw = np.asarray(score["raw"].values, dtype=float)
        order = [i for i in np.argsort(-np.where(np.isfinite(raw), raw, -np.inf))
                 if np.isfinite(raw[i])][:n_cells]
        if not order:
            continue
        try:
            data = ctx.benchmark.neural_data
        except Exception as err:
            notes.append(f"{e['model']}: benchmark data unavailable ({err})")
            continue
        arenas = score["arena"].values.astype(str)
        recorded = score["recorded_id"].values.astype(str)
        fig, axes = plt.subplots(len(order), 3, figsize=(7.5, 2.4 * len(order)),
                                 squeeze=False)
        try:
            for row, i in enumerate(order):
                rate = data.rate(arenas[i])
                pos = int(np.flatnonzero(rate["neuroid_id"].values.astype(str)
                                         == recorded[i])[0])
                cell = rate.isel(neuroid=pos)
                shape = (rate.sizes["x"], rate.sizes["y"])
                y = np.asarray(cell.values, dtype=float).reshape(-1)
                maps = ctx.model_maps(e["model"], e["layer"], arenas[i],
                                      seed=int(e["seeds"].get("model", 0)))
                model_flat = flat_values(maps)
                unit, unit_r = best_matching_units(model_flat, y[:, None])
                try:
                    pred = _prediction(ctx, model_flat, y, shape)
                except Exception:  # a mapping that cannot fit one cell: leave the panel out
                    pred = None
                panels = [(y, f"recorded {recorded[i]}\n{arenas[i]}, raw r = {raw[i]:.2f}")]
                if pred is not None:
                    p = np.where(np.isfinite(y), pred[0], np.nan)
                    panels.append((p, f"mapping prediction\n(split 0 test r = {pred[1]:.2f})"))
                else:
                    panels.append((None, "prediction unavailable"))
                uid = str(maps["neuroid_id"].values[unit[0]])
                panels.append((model_flat[:, unit[0]],
                               f"best single unit {uid}\nr = {unit_r[0]:.2f}"))
                for col, (values, title) in enumerate(panels):
                    ax = axes[row, col]
                    ax.set_xticks([])
                    ax.set_yticks([])
                    ax.set_title(title, fontsize=7)
                    if values is not None:
                        ax.imshow(np.asarray(values).reshape(shape).T, origin="lower",
                                  cmap="jet", interpolation="nearest")
            fig.tight_layout()
            parts.append(f"<h3>{esc(e['model'])}@{esc(e['layer'])}</h3>"
                         + figure_img(fig, f"rate maps of {e['model']}"))
        except Exception as err:
            plt.close(fig)
            notes.append(f"{e['model']}: gallery failed ({type(err).__name__}: {err})")
    if not parts and not notes:
        return None
    intro = ("<p>For each of the best models: the recorded cells it predicts best "
             "(highest raw score), the benchmark mapping's prediction of each (fitted on the "
             "training bins of split 0), and the model's single unit whose rate map correlates "
             "best with the cell. Maps are drawn with x to the right and y up; unvisited bins "
             "are blank.</p>")
    body = intro + "".join(parts) + "".join(f'<p class="note">{esc(n)}</p>' for n in notes)
    return Section("gallery", "Rate-map gallery", body)


# problems ---------------------------------------------------------------------------------
def unreadable_lines(ctx: ReportContext) -> Section | None:
    """Lines of the board files that could not be read."""
    if not ctx.board.problems:
        return None
    rows = [[ctx.place(p.path), p.line, p.message] for p in ctx.board.problems]
    return Section("problems", "Unreadable leaderboard lines",
                   html_table(["file", "line", "problem"], rows, numeric=(1,)))
