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

Modules: :mod:`.runner` (scoring through the benchmark), :mod:`.measures` (ED, grid fraction),
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
from mecbench.controls import features
from mecbench.controls.matching import match_model
from mecbench.controls.measures import (
    grid_fraction,
    nested_participation_ratios,
    prefix_grid_fractions,
)
from mecbench.controls.names import POSITION_FAMILIES, ControlSpec, parse_control_name
from mecbench.controls.providers import (
    LAYER,
    PositionControl,
    ShuffleControl,
    untrained_control,
    untrained_factory,
)
from mecbench.controls.results import ControlsResult, ModelVerdict, Point
from mecbench.controls.runner import SWEEP_POLICY, FixedMapsProvider, Runner, load_model
from mecbench.controls.stats import fit_ols
from mecbench.errors import ConfigError, DataError, UnknownIdentifierError
from mecbench.parallel import ParallelConfig, run_units
from mecbench.ratemaps import Arena, flat_values

__all__ = [
    "DEFAULT_DIMS",
    "DEFAULT_FAMILIES",
    "METRICS",
    "FixedMapsProvider",
    "Point",
    "ModelVerdict",
    "ControlsResult",
    "parse_family",
    "family_label",
    "parse_dims",
    "run_controls",
]

DEFAULT_DIMS = (8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
DEFAULT_FAMILIES = ("fourier", "bumps", "relu", "grid")
METRICS = ("raw", "ceiled")

ProgressFn = Callable[[str, int, int], None]


def _quiet(stage: str, done: int, total: int) -> None:
    return None


# families ------------------------------------------------------------------------------------
def parse_family(text: str) -> ControlSpec:
    """A family with its options, e.g. ``"fourier"``, ``"fourier-bw0.2"``, ``"grid-m3"``,
    ``"untrained-rnn-relu"``; returned as a template spec (D = 1, seed 0).

    ``shuffle`` is not accepted here: shuffles are made of the models given.
    """
    text = str(text).strip().removeprefix("control/")
    family = text.partition("-")[0]
    if family == "shuffle":
        raise ConfigError("'shuffle' controls are built from the models given with --models; "
                          "do not list it among the families")
    spec = parse_control_name(f"{text}-d1-s0")
    if spec.family == "untrained":
        untrained_factory(spec.base)  # an unknown architecture fails now, not mid-sweep
    return spec


def family_label(spec: ControlSpec) -> str:
    """Name of a spec's family with its non-default options (``"fourier-bw0.2"``)."""
    if spec.family == "shuffle":
        return "shuffle"
    if spec.family == "untrained":
        return f"untrained-{spec.base}"
    name = spec.name.removeprefix("control/")
    parts = name.split("-")
    return "-".join([parts[0], *parts[3:]])


def parse_dims(text: str | Sequence[int]) -> list[int]:
    """Dimensions from ``"8,16,32"`` (or a sequence): positive, unique, sorted."""
    if isinstance(text, str):
        items = [t.strip() for t in text.split(",") if t.strip()]
        try:
            values = [int(t) for t in items]
        except ValueError:
            raise ConfigError(f"--dims must be comma-separated integers, got {text!r}") from None
    else:
        values = [int(v) for v in text]
    if not values:
        raise ConfigError("--dims is empty")
    for v in values:
        features.check_dim(v, "each dimension in --dims")
    return sorted(set(values))


# the analysis ----------------------------------------------------------------------------------
def run_controls(
    benchmark,
    *,
    models: Sequence[Any] = (),
    families: Sequence[str] = DEFAULT_FAMILIES,
    dims: Sequence[int] | str = DEFAULT_DIMS,
    seeds: int = 3,
    metric: str = "raw",
    grid_units: int = 512,
    alpha: float = 0.05,
    n_boot: int = 10_000,
    shuffle: bool = True,
    match: bool = True,
    cache=None,
    parallel=None,
    jobs: int = 1,
    progress: ProgressFn | None = None,
) -> ControlsResult:
    """Run the controls analysis (see the module docstring).

    Parameters
    ----------
    benchmark : mecbench.benchmarks.Benchmark
    models : sequence of str or ResponseProvider
        Models (``"NAME"`` or ``"NAME@LAYER"``) to place among the controls.
    families : sequence of str
        Control families with options (:func:`parse_family`).
    dims : sequence of int or str
        Dimensions of the sweep.
    seeds : int
        Seeds ``0 .. seeds-1`` per family and dimension.
    metric : {"raw", "ceiled"}
        Per-cell value of the paired tests (as ``mecbench compare --metric``).
    grid_units : int
        Most units whose grid score is computed per representation.
    alpha : float
        Significance level (Holm-corrected paired tests; one-sided OLS grid term).
    n_boot : int
        Bootstrap resamples of the CI of the median difference.
    shuffle : bool
        Also score each model's spatially shuffled maps.
    match : bool
        Do the dimension-matched comparisons.
    cache : mecbench.cache.Cache, optional
        Scores and ceilings are cached; model rate maps of the sweep are not.
    parallel : mecbench.parallel.ParallelConfig, optional
        Passed to the benchmark (its arena work units) when ``jobs`` is 1.
    jobs : int
        Sweep work units (one family at one seed, all dimensions) run at once in worker
        processes (``-1``: one per core). Every unit scores with one BLAS thread, so the
        numbers do not depend on ``jobs``.
    progress : callable(stage, done, total), optional

    Returns
    -------
    ControlsResult
    """

    t0 = time.perf_counter()
    if metric not in METRICS:
        raise UnknownIdentifierError("metric", metric, METRICS)
    if isinstance(seeds, bool) or not isinstance(seeds, (int, np.integer)) or seeds < 1:
        raise ConfigError(f"--seeds must be a positive integer, got {seeds!r}")
    if isinstance(grid_units, bool) or not isinstance(grid_units, (int, np.integer)) \
            or grid_units < 1:
        raise ConfigError(f"grid_units must be a positive integer, got {grid_units!r}")
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must lie in (0, 1), got {alpha!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs == 0 or jobs < -1:
        raise ConfigError(f"jobs must be a positive integer or -1, got {jobs!r}")
    dims = parse_dims(dims)
    templates = [parse_family(f) for f in families]
    labels = [family_label(t) for t in templates]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"a family is listed twice: {list(families)}")
    if not templates and not models:
        raise ConfigError("nothing to do: give control families and/or models")
    seed_list = list(range(int(seeds)))
    loaded = [load_model(m) for m in models]
    if len({lab for _, _, lab in loaded}) != len(loaded):
        raise ConfigError(f"a model is listed twice: {list(models)}")

    progress = progress or _quiet
    run = Runner(benchmark, metric=metric, grid_units=int(grid_units),
                  cache=(cache if cache is not None else Cache()).with_policy(SWEEP_POLICY),
                 parallel=parallel)
    where = f"benchmark {benchmark.identifier}"
    points: list[Point] = []
    scores: dict[str, Any] = {}
    model_maps: dict[str, dict[Arena, xr.DataArray]] = {}

    # models first: a model without maps in an arena fails before the long sweep
    for provider, layer, label in loaded:
        model_maps[label] = run.maps_of(provider, layer, where)
    n_units = {lab: int(model_maps[lab][run.analysis_arena].sizes["neuroid"])
               for _, _, lab in loaded}
    total = (len(loaded) * (1 + (len(seed_list) if shuffle else 0))
             + len(templates) * len(seed_list) * len(dims))
    done = 0
    progress("controls", done, total)
    from mecbench.analysis import participation_ratio

    for provider, layer, label in loaded:
        maps = model_maps[label]
        fixed = FixedMapsProvider(provider.identifier, provider.fingerprint(), layer, maps)
        score, value, raw, cells = run.score(fixed, layer)
        scores[label] = score
        a_maps = maps[run.analysis_arena]
        points.append(Point(label, "model", "model", n_units[label], None,
                            participation_ratio(a_maps),
                            grid_fraction(a_maps, max_units=run.grid_units), value, raw, cells,
                            layer=layer))
        done += 1
        progress("controls", done, total)
        if not shuffle:
            continue
        for seed in seed_list:
            sc = ShuffleControl(provider, seed)
            shuffled = {a: sc.shuffle(m) for a, m in maps.items()}
            fixed = FixedMapsProvider(sc.identifier, sc.fingerprint(), layer, shuffled)
            _, value, raw, cells = run.score(fixed, layer)
            s_maps = shuffled[run.analysis_arena]
            points.append(Point(sc.identifier, "control", "shuffle", n_units[label], seed,
                                participation_ratio(s_maps),
                                grid_fraction(s_maps, max_units=run.grid_units), value, raw,
                                cells, base=label, layer=layer))
            done += 1
            progress("controls", done, total)

    tasks = [(template.with_seed(seed), label, dims, where)
             for template, label in zip(templates, labels, strict=True) for seed in seed_list]
    if tasks:
        benchmark.ceiling(cache=run.cache, parallel=parallel)   # once, before any worker
        base = done

        def tick(k: int) -> None:
            progress("controls", base + k * len(dims), total)

        if jobs == 1:
            results = []
            for k, task in enumerate(tasks):
                results.append(_sweep_task((run, *task)))
                tick(k + 1)
        else:
            worker = Runner(benchmark, metric=metric, grid_units=int(grid_units),
                             cache=run.cache, parallel=None)
            results = run_units(_sweep_task, [(worker, *t) for t in tasks],
                                ParallelConfig(jobs=jobs, backend="loky"), progress=tick)
        for new, ids, kind in results:
            if run.cell_ids is None:
                run.cell_ids, run.score_kind = ids, kind
            elif not np.array_equal(ids, run.cell_ids):
                raise DataError("scores of one benchmark list different cells")
            points.extend(new)

    notes = list(getattr(benchmark, "notes", []))
    ols = None
    try:
        fitted = [p for p in points if p.family != "shuffle"]
        ols = fit_ols([p.score for p in fitted], [p.ed for p in fitted],
                      [p.grid_fraction for p in fitted], alpha=alpha)
    except DataError as err:
        notes.append(f"OLS not fitted: {err}")

    verdicts = []
    if match:
        for provider, layer, label in loaded:
            verdicts.append(match_model(run, label, layer, provider, points, templates, labels,
                                         alpha=alpha, n_boot=n_boot))
    return ControlsResult(
        benchmark=benchmark.identifier, benchmark_version=int(benchmark.version),
        metric=metric, score_kind=run.score_kind, analysis_arena=run.analysis_arena.key,
        dims=dims, seeds=seed_list, families=labels + (["shuffle"] if shuffle and loaded else []),
        cell_ids=run.cell_ids if run.cell_ids is not None else np.array([], dtype=str),
        points=points, ols=ols, models=verdicts, alpha=float(alpha),
        seconds=time.perf_counter() - t0, scores=scores, notes=notes)


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


