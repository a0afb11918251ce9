"""Models against controls of matched effective dimensionality.

For every model and control family: the dimension whose seed-mean ED matches the model's
(:func:`mecbench.controls.stats.match_dimension` for position families, scored for every seed
if it was not swept; the nearest swept D for untrained networks; the model's own units for its
shuffle), then the paired per-cell test of ``mecbench compare``
(:func:`mecbench.compare.compare_cells`) between the model and the seed-mean per-cell scores of
that control, and between the model and each seed's control on its own (the seed-mean alone
would make the p-value conditional on the few bases drawn: a model must beat every draw),
all Holm-corrected together across the model's families and seeds. A model is **better** than a
family when it is significantly better (``p_holm < alpha``, and the bootstrap 95 % CI of the
median difference above 0) than the seed-mean control and than every seed's control. It
**beats dimension-matched random bases** when it is better than every random-basis family
(``fourier``, ``bumps``, ``relu``) whose ED range reaches the model's ED; families that cannot
reach it are reported and left out; with none in range the verdict is undetermined
(``beats_random_bases`` null).
"""

from __future__ import annotations

import numpy as np

from mecbench.compare import compare_cells
from mecbench.controls.measures import nested_participation_ratios, prefix_grid_fractions
from mecbench.controls.names import POSITION_FAMILIES, RANDOM_BASES, ControlSpec
from mecbench.controls.providers import LAYER, PositionControl
from mecbench.controls.results import ModelVerdict, Point, nan_sd
from mecbench.controls.runner import FixedMapsProvider, Runner
from mecbench.controls.stats import match_dimension
from mecbench.formatting import format_p
from mecbench.ratemaps import flat_values

__all__ = ["match_model", "comparison_result"]


def _matched_position(run: Runner, template: ControlSpec, label: str, dim: int,
                      seeds: list[int], points: list[Point]) -> list[Point]:
    """Points of a position family at ``dim`` for every seed (scored now if not swept, and
    then appended to ``points``)."""
    out = []
    for seed in seeds:
        found = [p for p in points if p.kind == "control" and p.family == label
                 and p.dim == dim and p.seed == seed]
        if found:
            out.append(found[0])
            continue
        ctrl = PositionControl(template.with_seed(seed).with_dim(dim))
        maps = {a: ctrl.rate_maps(a) for a in run.arenas}
        fixed = FixedMapsProvider(ctrl.identifier, ctrl.fingerprint(), LAYER, maps)
        _, value, raw, cells = run.score(fixed, LAYER)
        a_maps = maps[run.analysis_arena]
        ed = float(nested_participation_ratios(flat_values(a_maps), [dim])[0])
        gf = float(prefix_grid_fractions(a_maps, [dim], max_units=run.grid_units)[0])
        point = Point(ctrl.identifier, "matched", label, dim, seed, ed, gf, value, raw, cells)
        points.append(point)   # kept in the result (kind "matched"), not in curves or the OLS
        out.append(point)
    return out


def match_model(run: Runner, label: str, layer: str, provider, points: list[Point],
                 templates: list[ControlSpec], labels: list[str], *, alpha: float,
                 n_boot: int) -> ModelVerdict:
    """Compare one model with every family at its matched effective dimensionality.

    Parameters
    ----------
    run : Runner
        The sweep's runner (cells, metric, arenas; scores the matched D of a position family
        that was not swept).
    label, layer : str
        The model's name in ``points`` and its layer.
    provider : ResponseProvider
        The model (unused by the comparison; part of the sweep's model triple).
    points : list of Point
        Every point of the sweep; points scored here are appended (kind ``"matched"``).
    templates, labels : list
        The families (:func:`mecbench.controls.options.parse_family`) and their labels.
    alpha : float
        Significance level of the Holm-corrected paired tests.
    n_boot : int
        Bootstrap resamples of the CI of the median difference.

    Returns
    -------
    ModelVerdict
    """
    model = next(p for p in points if p.kind == "model" and p.name == label)
    candidates, out_of_range = _candidates(run, label, model, points, templates, labels)
    comparisons = _compare(run, label, model, candidates, alpha=alpha, n_boot=n_boot)
    comparisons += out_of_range
    beats, verdict, best = _verdict(run.metric, label, model, comparisons)
    return ModelVerdict(
        model=label, layer=layer, ed=model.ed, grid_fraction=model.grid_fraction,
        score=model.score, n_units=model.dim, comparisons=comparisons,
        beats_random_bases=beats, verdict=verdict,
        control_family=None if best is None else f"{best['family']}-d{best['dim']}",
        control_score=None if best is None else best["control_score"],
        control_delta=None if best is None else model.score - best["control_score"],
    )


def _candidates(run: Runner, label: str, model: Point, points: list[Point],
                templates: list[ControlSpec], labels: list[str]
                ) -> tuple[list[tuple[str, list[Point], dict]], list[dict]]:
    """Per family, the controls at the model's matched ED as ``(family, points, info)``, and
    the families whose ED range does not reach the model's (as comparison rows); the model's
    own shuffles last."""
    seeds = sorted({p.seed for p in points if p.kind == "control" and p.seed is not None})
    candidates: list[tuple[str, list[Point], dict]] = []
    out_of_range: list[dict] = []
    for template, fam in zip(templates, labels, strict=True):
        pts = [p for p in points if p.kind == "control" and p.family == fam]
        dims = sorted({p.dim for p in pts})
        eds = [float(np.nanmean([p.ed for p in pts if p.dim == d])) for d in dims]
        info = {"family": fam, "random_basis": template.family in RANDOM_BASES,
                "ed_range": [float(np.nanmin(eds)), float(np.nanmax(eds))]}
        if template.family in POSITION_FAMILIES:
            dim, in_range = match_dimension(model.ed, dims, eds)
            if not in_range:
                out_of_range.append({**info, "in_range": False, "dim": None,
                                     "reason": f"the family's ED reaches only "
                                               f"{_two(max(eds), model.ed)}"})
                continue
            matched = _matched_position(run, template, fam, dim, seeds, points)
        else:
            lo, hi = min(eds), max(eds)
            if not lo <= model.ed <= hi:
                out_of_range.append({**info, "in_range": False, "dim": None,
                                     "reason": f"model ED {model.ed:.1f} outside the swept "
                                               f"range [{lo:.1f}, {hi:.1f}]"})
                continue
            dim = dims[int(np.argmin(np.abs(np.log(eds) - np.log(model.ed))))]
            matched = [p for p in pts if p.dim == dim]
        candidates.append((fam, matched, {**info, "in_range": True, "dim": int(dim)}))
    own_shuffles = [p for p in points if p.family == "shuffle" and p.base == label]
    if own_shuffles:
        candidates.append(("shuffle", own_shuffles,
                           {"family": "shuffle", "random_basis": False, "in_range": True,
                            "dim": model.dim, "ed_range": None}))
    return candidates, out_of_range


def _compare(run: Runner, label: str, model: Point,
             candidates: list[tuple[str, list[Point], dict]], *, alpha: float,
             n_boot: int) -> list[dict]:
    """The comparison rows: the model against each candidate's seed-mean per-cell scores and
    against each seed's control, under one Holm correction."""
    if not candidates:
        return []
    series = {label: (run.cell_ids, model.cells)}
    names, seed_names = [], []
    for fam, matched, info in candidates:
        name = f"{fam}@D={info['dim']}"
        names.append(name)
        with np.errstate(invalid="ignore"):
            series[name] = (run.cell_ids,
                            np.nanmean(np.stack([p.cells for p in matched]), axis=0))
        per_seed = [f"{name}/seed{p.seed}" for p in matched] if len(matched) > 1 else []
        for key, p in zip(per_seed, matched if per_seed else [], strict=True):
            series[key] = (run.cell_ids, p.cells)
        seed_names.append(per_seed)
    pairs = [(label, n) for n in names] + \
        [(label, n) for per_seed in seed_names for n in per_seed]
    # one Holm correction over the seed-mean and every per-seed comparison
    everything = compare_cells(series, pairs=pairs, alpha=alpha, n_boot=n_boot, seed=0)
    results = everything[:len(names)]
    by_seed = iter(everything[len(names):])
    comparisons = []
    for (_fam, matched, info), res, per_seed in zip(candidates, results, seed_names,
                                                   strict=True):
        seeds_res = [next(by_seed) for _ in per_seed]
        seed_rows = [{"seed": p.seed, "control": p.name, "delta": r.delta,
                      "p_holm": r.p_holm, "better": _clearly_better(r)}
                     for p, r in zip(matched if per_seed else [], seeds_res, strict=True)]
        comparisons.append({
            **info,
            "ed": float(np.nanmean([p.ed for p in matched])),
            "grid_fraction": float(np.nanmean([p.grid_fraction for p in matched])),
            "control_score": float(np.nanmean([p.score for p in matched])),
            "control_score_sd": nan_sd(np.array([p.score for p in matched])),
            "controls": [p.name for p in matched],
            "n_cells": res.n_cells, "delta": res.delta, "mean_delta": res.mean_delta,
            "ci": list(res.ci),
            "p": res.p, "p_holm": res.p_holm, "significant": res.significant,
            # better than the seed-mean control and than the control of every seed
            "better": bool(_clearly_better(res) and all(r["better"] for r in seed_rows)),
            "per_seed": seed_rows,
            "verdict": res.verdict,
        })
    return comparisons


def _verdict(metric: str, label: str, model: Point, comparisons: list[dict]
             ) -> tuple[bool | None, str, dict | None]:
    """Whether the model beats the dimension-matched random bases (None: none in range), the
    sentence that says so, and the best-scoring random-basis comparison."""
    random_matched = [c for c in comparisons if c["random_basis"] and c["in_range"]]
    if not random_matched:
        return None, (f"{label} (ED {model.ed:.1f}) cannot be compared with dimension-matched "
                      "random bases: no random-basis family reaches its effective "
                      "dimensionality"), None
    beats = all(c["better"] for c in random_matched)
    best = max(random_matched, key=lambda c: c["control_score"])
    detail = "; ".join(f"{c['family']} D={c['dim']} (ED {c['ed']:.1f}): median per-cell "
                       f"Δ{metric} = {c['delta']:+.3f}"
                       f" [{c['ci'][0]:+.3f}, {c['ci'][1]:+.3f}], "
                       f"p_holm = {format_p(c['p_holm'])}" for c in random_matched)
    if beats:
        return beats, (f"{label} (ED {model.ed:.1f}) beats dimension-matched random bases: "
                       f"{detail}"), best
    lost = [c["family"] for c in random_matched if not c["better"]]
    return beats, (f"{label} (ED {model.ed:.1f}) does NOT beat dimension-matched random "
                   f"bases (not better than {', '.join(lost)}): {detail}"), best


def comparison_result(c: dict) -> str:
    """The result of one dimension-matched comparison (a ``comparisons`` dict) in words, as the
    command and the report print it."""
    if c["better"]:
        return "model better (every seed)"
    direction = c["delta"] if c["delta"] else c.get("mean_delta")
    if c["significant"] and (direction or 0) > 0:
        losing = [str(r["seed"]) for r in c.get("per_seed", []) if not r["better"]]
        if losing:
            return f"model better on the seed mean, not for seed {', '.join(losing)}"
        return "not clearly better: the CI of the median difference includes 0"
    return "control better" if c["significant"] else "no difference"


def _clearly_better(res) -> bool:
    """Significantly better (Wilcoxon, Holm) *and* the bootstrap CI of the median difference
    above 0: the signed-rank test can reject with a median difference whose CI straddles 0."""
    return bool(res.a_better and res.ci[0] > 0)


def _two(family_max: float, model_ed: float) -> str:
    """``"a < model ED b"`` with enough digits that a and b print differently."""
    for digits in (3, 4, 6, 9):
        a, b = f"{family_max:.{digits}g}", f"{model_ed:.{digits}g}"
        if a != b:
            break
    return f"{a} < model ED {b}"
