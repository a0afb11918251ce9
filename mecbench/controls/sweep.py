"""The controls analysis: does a model's predictivity reflect its dimensionality rather than its
grid structure?

:func:`run_controls` does, on one benchmark:

1. **Dimension sweep.** Every control family (``fourier``, ``bumps``, ``relu``, ``grid``, with
   options, or ``untrained-<ARCH>``) is scored at every dimension D of the sweep and for seeds
   ``0 .. seeds-1``, through the benchmark's own scoring path (``benchmark(provider)``: same
   mapping, splits, ceiling and cache keys as ``mecbench score control/<family>-d<D>-s<seed>``).
   Position families use **nested draws**: the population of the largest D is generated once
   per seed and D takes its first D units, exactly the units of the control of size D (see
   :mod:`mecbench.controls.features`); different seeds are independent draws. Untrained
   networks are built afresh for each (D, seed). With models, each model's maps are also
   scored after a seeded per-unit bin shuffle (``shuffle`` family, one point per seed).
2. **Measures.** Effective dimensionality (participation ratio of the across-bin covariance of
   units) and the fraction of grid-like units (Sargolini grid score > 0.3, at most
   ``grid_units`` units) of every model and control, on the benchmark's largest arena (most
   bins, the most reliable grid scores).
3. **OLS** of the headline score (ceiled median when the benchmark has a ceiling, else the raw
   median) on log ED and grid fraction over every model and every control of the sweep
   (:func:`mecbench.controls.stats.fit_ols`). Shuffled maps are left out of the fit: they are
   spatially white, so their ED (near its maximum) measures noise rather than a spatial basis,
   and they would dominate the log-ED slope; they are compared with their own model instead.
4. **Dimension-matched comparison** of every model with every family by the paired per-cell
   test of ``mecbench compare`` (:mod:`mecbench.controls.matching`), and the verdict whether
   the model beats dimension-matched random bases.

Modules: :mod:`.options` (:class:`ControlsOptions`, what to compute), :mod:`.runner` (scoring
through the benchmark), :mod:`.measures` (ED, grid fraction),
:mod:`.stats` (OLS, ED matching), :mod:`.matching`, :mod:`.results` (the result types and the
``--json`` document), :mod:`.plot`, :mod:`.board` (saving next to a leaderboard).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from mecbench.cache import Cache
from mecbench.controls.matching import match_model
from mecbench.controls.measures import (
    grid_fraction,
    nested_participation_ratios,
    prefix_grid_fractions,
)
from mecbench.controls.names import POSITION_FAMILIES, ControlSpec
from mecbench.controls.options import (
    DEFAULT_DIMS,
    DEFAULT_FAMILIES,
    METRICS,
    ControlsOptions,
    family_label,
    parse_dims,
    parse_family,
)
from mecbench.controls.providers import (
    LAYER,
    PositionControl,
    ShuffleControl,
    untrained_control,
)
from mecbench.controls.results import ControlsResult, ModelVerdict, Point
from mecbench.controls.runner import SWEEP_POLICY, FixedMapsProvider, Runner, load_model
from mecbench.controls.stats import fit_ols
from mecbench.errors import ConfigError, DataError
from mecbench.parallel import ParallelConfig, run_units
from mecbench.ratemaps import Arena, flat_values

__all__ = [
    "DEFAULT_DIMS",
    "DEFAULT_FAMILIES",
    "METRICS",
    "ControlsOptions",
    "FixedMapsProvider",
    "Point",
    "ModelVerdict",
    "ControlsResult",
    "parse_family",
    "family_label",
    "parse_dims",
    "run_controls",
]

ProgressFn = Callable[[str, int, int], None]


def _quiet(stage: str, done: int, total: int) -> None:
    return None


# the analysis ----------------------------------------------------------------------------------
def run_controls(benchmark, options: ControlsOptions | None = None, *, cache=None,
                 parallel=None, progress: ProgressFn | None = None) -> ControlsResult:
    """Run the controls analysis (see the module docstring).

    Parameters
    ----------
    benchmark : mecbench.benchmarks.Benchmark
    options : ControlsOptions, optional
        Models, families, dimensions, seeds, statistics and worker processes of the analysis;
        default ``ControlsOptions()``.
    cache : mecbench.cache.Cache, optional
        Scores and ceilings are cached; model rate maps of the sweep are not
        (:data:`~mecbench.controls.runner.SWEEP_POLICY`).
    parallel : mecbench.parallel.ParallelConfig, optional
        Passed to the benchmark (its arena work units) when ``options.jobs`` is 1.
    progress : callable(stage, done, total), optional

    Returns
    -------
    ControlsResult
    """
    t0 = time.perf_counter()
    opts = ControlsOptions() if options is None else options
    if not isinstance(opts, ControlsOptions):
        raise ConfigError(f"options must be a ControlsOptions, got {type(options).__name__}")
    loaded = _load_models(opts.models)
    run = Runner(benchmark, metric=opts.metric, grid_units=opts.grid_units,
                 cache=(cache if cache is not None else Cache()).with_policy(SWEEP_POLICY),
                 parallel=parallel)
    where = f"benchmark {benchmark.identifier}"
    # models first: a model without maps in an arena fails before the long sweep
    model_maps = {label: run.maps_of(provider, layer, where) for provider, layer, label in loaded}
    seeds = list(range(opts.seeds))
    total = (len(loaded) * (1 + (len(seeds) if opts.shuffle else 0))
             + len(opts.templates) * len(seeds) * len(opts.dims))
    tracker = _Progress(progress or _quiet, total)
    points, scores = _score_models(run, loaded, model_maps, opts, tracker)
    points += _sweep_families(benchmark, run, opts, tracker, where, parallel)

    notes = list(getattr(benchmark, "notes", []))
    ols = _fit_ols(points, opts.alpha, notes)
    verdicts = [match_model(run, label, layer, provider, points, list(opts.templates),
                            list(opts.labels), alpha=opts.alpha, n_boot=opts.n_boot)
                for provider, layer, label in loaded] if opts.match else []
    return ControlsResult(
        benchmark=benchmark.identifier, benchmark_version=int(benchmark.version),
        metric=opts.metric, score_kind=run.score_kind, analysis_arena=run.analysis_arena.key,
        dims=list(opts.dims), seeds=seeds,
        families=list(opts.labels) + (["shuffle"] if opts.shuffle and loaded else []),
        cell_ids=run.cell_ids if run.cell_ids is not None else np.array([], dtype=str),
        points=points, ols=ols, models=verdicts, alpha=float(opts.alpha),
        seconds=time.perf_counter() - t0, scores=scores, notes=notes)


class _Progress:
    """The ``("controls", done, total)`` reports of one analysis."""

    def __init__(self, report: ProgressFn, total: int):
        self.report, self.total, self.done = report, total, 0
        report("controls", 0, total)

    def step(self) -> None:
        self.done += 1
        self.report("controls", self.done, self.total)

    def at(self, done: int) -> None:
        self.report("controls", done, self.total)


def _load_models(models: Sequence[Any]) -> list[tuple[Any, str, str]]:
    """(provider, layer, label) of every model, each listed once."""
    loaded = [load_model(m) for m in models]
    if len({lab for _, _, lab in loaded}) != len(loaded):
        raise ConfigError(f"a model is listed twice: {list(models)}")
    return loaded


def _score_models(run: Runner, loaded: list[tuple[Any, str, str]],
                  model_maps: dict[str, dict[Arena, xr.DataArray]], opts: ControlsOptions,
                  tracker: _Progress) -> tuple[list[Point], dict[str, Any]]:
    """Points of the models (and of their shuffled maps) and the models' scores."""
    from mecbench.analysis import participation_ratio

    points: list[Point] = []
    scores: dict[str, Any] = {}
    for provider, layer, label in loaded:
        maps = model_maps[label]
        a_maps = maps[run.analysis_arena]
        n_units = int(a_maps.sizes["neuroid"])
        fixed = FixedMapsProvider(provider.identifier, provider.fingerprint(), layer, maps)
        score, value, raw, cells = run.score(fixed, layer)
        scores[label] = score
        points.append(Point(label, "model", "model", n_units, None,
                            participation_ratio(a_maps),
                            grid_fraction(a_maps, max_units=run.grid_units), value, raw, cells,
                            layer=layer))
        tracker.step()
        if opts.shuffle:
            points += _score_shuffles(run, provider, layer, label, maps, n_units,
                                      range(opts.seeds), tracker)
    return points, scores


def _score_shuffles(run: Runner, provider, layer: str, label: str,
                    maps: dict[Arena, xr.DataArray], n_units: int, seeds: Sequence[int],
                    tracker: _Progress) -> list[Point]:
    """Points of one model's maps after a seeded per-unit bin shuffle, one per seed."""
    from mecbench.analysis import participation_ratio

    points = []
    for seed in seeds:
        sc = ShuffleControl(provider, seed)
        shuffled = {a: sc.shuffle(m) for a, m in maps.items()}
        fixed = FixedMapsProvider(sc.identifier, sc.fingerprint(), layer, shuffled)
        _, value, raw, cells = run.score(fixed, layer)
        s_maps = shuffled[run.analysis_arena]
        points.append(Point(sc.identifier, "control", "shuffle", n_units, seed,
                            participation_ratio(s_maps),
                            grid_fraction(s_maps, max_units=run.grid_units), value, raw,
                            cells, base=label, layer=layer))
        tracker.step()
    return points


def _sweep_families(benchmark, run: Runner, opts: ControlsOptions, tracker: _Progress,
                    where: str, parallel) -> list[Point]:
    """Points of every family at every dimension and seed, serially or in worker processes
    (one work unit per family and seed); the ceiling is computed once, before any unit."""
    dims = list(opts.dims)
    tasks = [(template.with_seed(seed), label, dims, where)
             for template, label in zip(opts.templates, opts.labels, strict=True)
             for seed in range(opts.seeds)]
    if not tasks:
        return []
    benchmark.ceiling(cache=run.cache, parallel=parallel)   # once, before any worker
    base = tracker.done

    def tick(k: int) -> None:
        tracker.at(base + k * len(dims))

    if opts.jobs == 1:
        results = []
        for k, task in enumerate(tasks):
            results.append(_sweep_task((run, *task)))
            tick(k + 1)
    else:
        worker = Runner(benchmark, metric=opts.metric, grid_units=opts.grid_units,
                        cache=run.cache, parallel=None)
        results = run_units(_sweep_task, [(worker, *t) for t in tasks],
                            ParallelConfig(jobs=opts.jobs, backend="loky"), progress=tick)
    points = []
    for new, ids, kind in results:
        if run.cell_ids is None:
            run.cell_ids, run.score_kind = ids, kind
        elif not np.array_equal(ids, run.cell_ids):
            raise DataError("scores of one benchmark list different cells")
        points.extend(new)
    return points


def _fit_ols(points: list[Point], alpha: float, notes: list[str]):
    """The OLS of score on log ED and grid fraction over models and controls, shuffles left
    out; None (and a note) when it cannot be fitted."""
    try:
        fitted = [p for p in points if p.family != "shuffle"]
        return fit_ols([p.score for p in fitted], [p.ed for p in fitted],
                       [p.grid_fraction for p in fitted], alpha=alpha)
    except DataError as err:
        notes.append(f"OLS not fitted: {err}")
        return None


def _sweep_task(unit) -> tuple[list[Point], np.ndarray, str]:
    """All dimensions of one (family, seed): the sweep's work unit."""
    run, spec, label, dims, where = unit
    if spec.family in POSITION_FAMILIES:
        points = _sweep_position(run, spec, dims, label)
    else:
        points = _sweep_untrained(run, spec, dims, label, where)
    return points, run.cell_ids, run.score_kind


def _prefix(maps: dict[Arena, xr.DataArray], dim: int) -> dict[Arena, xr.DataArray]:
    return {a: m.isel(neuroid=slice(0, dim)) for a, m in maps.items()}


def _sweep_position(run: Runner, spec: ControlSpec, dims: list[int], label: str
                    ) -> list[Point]:
    """All dims of one seeded position family: one draw of the largest D, nested prefixes."""
    full_ctrl = PositionControl(spec.with_dim(max(dims)))
    full = {a: full_ctrl.rate_maps(a) for a in run.arenas}
    a_full = full[run.analysis_arena]
    eds = nested_participation_ratios(flat_values(a_full), dims)
    gfs = prefix_grid_fractions(a_full, dims, max_units=run.grid_units)
    out = []
    for dim, ed, gf in zip(dims, eds, gfs, strict=True):
        ctrl = PositionControl(spec.with_dim(dim))
        fixed = FixedMapsProvider(ctrl.identifier, ctrl.fingerprint(), LAYER, _prefix(full, dim))
        _, value, raw, cells = run.score(fixed, LAYER)
        out.append(Point(ctrl.identifier, "control", label, dim, spec.seed, float(ed),
                         float(gf), value, raw, cells))
    return out


def _sweep_untrained(run: Runner, spec: ControlSpec, dims: list[int], label: str, where: str
                     ) -> list[Point]:
    from mecbench.analysis import participation_ratio

    out = []
    for dim in dims:
        provider = untrained_control(spec.with_dim(dim))
        layer = provider.default_layer
        maps = run.maps_of(provider, layer, where)
        fixed = FixedMapsProvider(provider.identifier, provider.fingerprint(), layer, maps)
        _, value, raw, cells = run.score(fixed, layer)
        a_maps = maps[run.analysis_arena]
        out.append(Point(provider.identifier, "control", label, dim, spec.seed,
                         participation_ratio(a_maps),
                         grid_fraction(a_maps, max_units=run.grid_units), value, raw, cells,
                         layer=layer))
    return out


