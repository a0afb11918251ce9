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
4. **Dimension-matched comparison** of every model with every family: the D whose seed-mean ED
   matches the model's (:func:`~mecbench.controls.stats.match_dimension`; the nearest swept D
   for untrained networks, the model's own units for its shuffle) is scored for every seed; the
   model's per-cell scores are compared with the seed-mean per-cell scores of that control by
   the paired test of ``mecbench compare`` (:func:`mecbench.compare.compare_cells`: Wilcoxon
   signed-rank, bootstrap CI of the median difference, Holm across the model's families).
   The model **beats dimension-matched random bases** when it is significantly better
   (``p_holm < alpha``, positive median difference) than every random-basis family
   (``fourier``, ``bumps``, ``relu``) whose ED range reaches the model's ED; families that
   cannot reach it are reported and left out; with none in range the verdict is undetermined.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from mecbench.controls import features
from mecbench.controls.measures import (
    grid_fraction,
    nested_participation_ratios,
    prefix_grid_fractions,
)
from mecbench.controls.names import (
    POSITION_FAMILIES,
    RANDOM_BASES,
    ControlSpec,
    parse_control_name,
)
from mecbench.controls.providers import (
    LAYER,
    PositionControl,
    ShuffleControl,
    model_rate_maps,
    untrained_control,
)
from mecbench.controls.stats import OlsFit, fit_ols, match_dimension
from mecbench.errors import ConfigError, DataError, MecbenchError, ModelError
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
RESULT_SCHEMA = 1

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
    return parse_control_name(f"{text}-d1-s0")


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


# providers over precomputed maps -----------------------------------------------------------
class FixedMapsProvider:
    """Maps computed once, served under a real model's identifier and fingerprint (so the
    benchmark's cache keys are those of scoring the model itself)."""

    def __init__(self, identifier: str, fingerprint: str, layer: str,
                 maps: dict[Arena, xr.DataArray]):
        self.identifier = identifier
        self._fingerprint = fingerprint
        self.layers = (layer,)
        self.default_layer = layer
        self._maps = maps

    def fingerprint(self) -> str:
        return self._fingerprint

    def rate_maps(self, arena: Arena, layer: str | None = None, *, seed: int = 0
                  ) -> xr.DataArray:
        if arena not in self._maps:
            raise ModelError(f"model {self.identifier!r} has no rate maps for arena {arena.key}")
        return self._maps[arena]


def _sweep_cache(base):
    """A cache that never stores model rate maps (the sweep would write gigabytes) and keeps
    ceilings in memory (computed once even when the on-disk cache is off)."""
    from mecbench.cache import Cache, cache_key

    class SweepCache(Cache):
        def __init__(self):
            super().__init__(base.root, enabled=base.enabled)
            self._memory: dict[str, xr.DataArray] = {}

        def get_array(self, kind, parts):
            if kind == "ratemaps":
                return None
            if kind == "ceiling":
                key = cache_key(kind, parts)[0]
                if key in self._memory:
                    return self._memory[key].copy()
                found = super().get_array(kind, parts)
                if found is not None:
                    self._memory[key] = found
                return found
            return super().get_array(kind, parts)

        def put_array(self, kind, parts, value):
            if kind == "ratemaps":
                return None
            if kind == "ceiling":
                self._memory[cache_key(kind, parts)[0]] = value.copy()
            return super().put_array(kind, parts, value)

    return SweepCache()


# results -------------------------------------------------------------------------------------
@dataclass
class Point:
    """One scored representation (a control at one D and seed, a shuffle, or a model)."""

    name: str
    kind: str            # "control", "model" or "matched" (a control scored for matching)
    family: str          # family label, or "model"
    dim: int
    seed: int | None
    ed: float
    grid_fraction: float
    score: float         # headline: ceiled median (raw median without a ceiling)
    raw: float           # raw median
    cells: np.ndarray = field(repr=False)  # per-cell metric, in ControlsResult.cell_ids order
    base: str | None = None                # the model of a shuffle
    layer: str | None = None

    def to_dict(self, cells: bool = False) -> dict:
        d = {"name": self.name, "kind": self.kind, "family": self.family, "dim": self.dim,
             "seed": self.seed, "ed": self.ed, "grid_fraction": self.grid_fraction,
             "score": self.score, "raw": self.raw}
        if self.base is not None:
            d["base"] = self.base
        if self.layer is not None:
            d["layer"] = self.layer
        if cells:
            d["cells"] = [float(v) for v in self.cells]
        return d


@dataclass
class ModelVerdict:
    """A model against dimension-matched controls."""

    model: str
    layer: str
    ed: float
    grid_fraction: float
    score: float
    n_units: int
    comparisons: list[dict]
    beats_random_bases: bool | None
    verdict: str
    control_family: str | None = None
    control_score: float | None = None
    control_delta: float | None = None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class ControlsResult:
    """Everything :func:`run_controls` computed (``to_dict`` gives the ``--json`` document)."""

    benchmark: str
    benchmark_version: int
    metric: str
    score_kind: str
    analysis_arena: str
    dims: list[int]
    seeds: list[int]
    families: list[str]
    cell_ids: np.ndarray
    points: list[Point]
    ols: OlsFit | None
    models: list[ModelVerdict]
    alpha: float
    seconds: float = 0.0
    scores: dict = field(default_factory=dict, repr=False)  # model label -> Score
    notes: list[str] = field(default_factory=list)

    def curves(self) -> dict[str, list[dict]]:
        """Per family and D: mean, SD, min and max over seeds of ED, score and grid fraction."""
        out: dict[str, list[dict]] = {}
        for fam in self.families:
            rows = []
            pts = [p for p in self.points if p.kind == "control" and p.family == fam]
            for dim in sorted({p.dim for p in pts}):
                at = [p for p in pts if p.dim == dim]
                ed = np.array([p.ed for p in at])
                sc = np.array([p.score for p in at])
                gf = np.array([p.grid_fraction for p in at])
                rows.append({"dim": dim, "n_seeds": len(at),
                             "ed_mean": _mean(ed), "ed_sd": _sd(ed),
                             "score_mean": _mean(sc), "score_sd": _sd(sc),
                             "score_min": _min(sc), "score_max": _max(sc),
                             "grid_fraction_mean": _mean(gf)})
            out[fam] = rows
        return out

    def to_dict(self, cells: bool = False) -> dict:
        """The JSON document (schema in :mod:`mecbench.cli.controls`)."""
        return {
            "schema": RESULT_SCHEMA,
            "benchmark": self.benchmark,
            "benchmark_version": self.benchmark_version,
            "metric": self.metric,
            "score": self.score_kind,
            "analysis_arena": self.analysis_arena,
            "dims": list(self.dims),
            "seeds": list(self.seeds),
            "families": list(self.families),
            "n_cells": int(self.cell_ids.size),
            "alpha": self.alpha,
            "curves": self.curves(),
            "points": [p.to_dict(cells) for p in self.points],
            "ols": None if self.ols is None else self.ols.to_dict(),
            "models": [m.to_dict() for m in self.models],
            "notes": list(self.notes),
            "seconds": self.seconds,
        }


def _mean(a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    return float(a.mean()) if a.size else float("nan")


def _sd(a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    return float(a.std(ddof=1)) if a.size > 1 else float("nan")


def _min(a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    return float(a.min()) if a.size else float("nan")


def _max(a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    return float(a.max()) if a.size else float("nan")


# the analysis ----------------------------------------------------------------------------------
class _Runner:
    def __init__(self, benchmark, *, metric: str, grid_units: int, cache, parallel,
                 progress: ProgressFn):
        self.bench = benchmark
        self.metric = metric
        self.grid_units = grid_units
        self.cache = cache
        self.parallel = parallel
        self.progress = progress
        data = benchmark.neural_data
        self.arenas = [Arena.of(data.arena(a)) for a in benchmark.arenas]
        self.analysis_arena = max(self.arenas, key=lambda a: a.shape[0] * a.shape[1])
        self.cell_ids: np.ndarray | None = None
        self.score_kind = "raw"

    def score(self, provider, layer: str):
        score = self.bench(provider, layer, cache=self.cache, parallel=self.parallel)
        ids = score["neuroid_id"].values.astype(str)
        if self.metric not in score:
            raise DataError(f"benchmark {self.bench.identifier} gives no per-cell "
                            f"{self.metric!r} scores (no ceiling?); use --metric raw")
        if self.cell_ids is None:
            self.cell_ids = ids
            self.score_kind = "ceiled" if "ceiled_median" in score else "raw"
        elif not np.array_equal(ids, self.cell_ids):
            raise DataError("scores of one benchmark list different cells")
        cells = np.asarray(score[self.metric].values, dtype=np.float64)
        raw = float(score["raw_median"].values)
        return score, float(score.value), raw, cells

    def maps_of(self, provider, layer: str, what: str) -> dict[Arena, xr.DataArray]:
        return {a: model_rate_maps(provider, a, layer, what=what) for a in self.arenas}


def _load_model(spec: Any):
    """(provider, layer, label) from a provider object or ``"NAME[@LAYER]"``."""
    from mecbench import registry

    if not isinstance(spec, str):
        return spec, spec.default_layer, spec.identifier
    name, _, layer = spec.partition("@")
    try:
        provider = registry.load("model", name)
    except MecbenchError:
        raise
    except Exception as err:
        raise ModelError(f"model {name!r} failed to load: {type(err).__name__}: {err}") from err
    layer = layer or provider.default_layer
    if layer not in provider.layers:
        from mecbench.errors import UnknownIdentifierError

        raise UnknownIdentifierError(f"layer of model {name!r}", layer, provider.layers)
    label = name if layer == provider.default_layer else f"{name}@{layer}"
    return provider, layer, label


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
        Passed to the benchmark (its arena work units).
    progress : callable(stage, done, total), optional

    Returns
    -------
    ControlsResult
    """
    from mecbench.cache import Cache

    t0 = time.perf_counter()
    if metric not in METRICS:
        from mecbench.errors import UnknownIdentifierError

        raise UnknownIdentifierError("metric", metric, METRICS)
    if isinstance(seeds, bool) or not isinstance(seeds, (int, np.integer)) or seeds < 1:
        raise ConfigError(f"--seeds must be a positive integer, got {seeds!r}")
    if isinstance(grid_units, bool) or not isinstance(grid_units, (int, np.integer)) \
            or grid_units < 1:
        raise ConfigError(f"grid_units must be a positive integer, got {grid_units!r}")
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must lie in (0, 1), got {alpha!r}")
    dims = parse_dims(dims)
    templates = [parse_family(f) for f in families]
    labels = [family_label(t) for t in templates]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"a family is listed twice: {list(families)}")
    if not templates and not models:
        raise ConfigError("nothing to do: give control families and/or models")
    seed_list = list(range(int(seeds)))
    loaded = [_load_model(m) for m in models]
    if len({lab for _, _, lab in loaded}) != len(loaded):
        raise ConfigError(f"a model is listed twice: {list(models)}")

    progress = progress or _quiet
    run = _Runner(benchmark, metric=metric, grid_units=int(grid_units),
                  cache=_sweep_cache(cache if cache is not None else Cache()),
                  parallel=parallel, progress=progress)
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

    for template, label in zip(templates, labels, strict=True):
        for seed in seed_list:
            if template.family in POSITION_FAMILIES:
                new = _sweep_position(run, template.with_seed(seed), dims, label)
            else:
                new = _sweep_untrained(run, template.with_seed(seed), dims, label, where)
            for p in new:
                points.append(p)
                done += 1
                progress("controls", done, total)

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
            verdicts.append(_match_model(run, label, layer, provider, points, templates, labels,
                                         alpha=alpha, n_boot=n_boot))
    return ControlsResult(
        benchmark=benchmark.identifier, benchmark_version=int(benchmark.version),
        metric=metric, score_kind=run.score_kind, analysis_arena=run.analysis_arena.key,
        dims=dims, seeds=seed_list, families=labels + (["shuffle"] if shuffle and loaded else []),
        cell_ids=run.cell_ids if run.cell_ids is not None else np.array([], dtype=str),
        points=points, ols=ols, models=verdicts, alpha=float(alpha),
        seconds=time.perf_counter() - t0, scores=scores, notes=notes)


def _prefix(maps: dict[Arena, xr.DataArray], dim: int) -> dict[Arena, xr.DataArray]:
    return {a: m.isel(neuroid=slice(0, dim)) for a, m in maps.items()}


def _sweep_position(run: _Runner, spec: ControlSpec, dims: list[int], label: str
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


def _sweep_untrained(run: _Runner, spec: ControlSpec, dims: list[int], label: str, where: str
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


def _matched_position(run: _Runner, template: ControlSpec, label: str, dim: int,
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


def _match_model(run: _Runner, label: str, layer: str, provider, points: list[Point],
                 templates: list[ControlSpec], labels: list[str], *, alpha: float,
                 n_boot: int) -> ModelVerdict:
    from mecbench.compare import compare_cells

    model = next(p for p in points if p.kind == "model" and p.name == label)
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
                                               f"{max(eds):.1f} < model ED {model.ed:.1f}"})
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

    comparisons: list[dict] = []
    if candidates:
        series = {label: (run.cell_ids, model.cells)}
        names = []
        for fam, matched, info in candidates:
            name = f"{fam}@D={info['dim']}"
            names.append(name)
            with np.errstate(invalid="ignore"):
                series[name] = (run.cell_ids,
                                np.nanmean(np.stack([p.cells for p in matched]), axis=0))
        results = compare_cells(series, pairs=[(label, n) for n in names], alpha=alpha,
                                n_boot=n_boot, seed=0)
        for (_fam, matched, info), res in zip(candidates, results, strict=True):
            comparisons.append({
                **info,
                "ed": float(np.nanmean([p.ed for p in matched])),
                "grid_fraction": float(np.nanmean([p.grid_fraction for p in matched])),
                "control_score": float(np.nanmean([p.score for p in matched])),
                "control_score_sd": _sd(np.array([p.score for p in matched])),
                "controls": [p.name for p in matched],
                "n_cells": res.n_cells, "delta": res.delta, "ci": list(res.ci),
                "p": res.p, "p_holm": res.p_holm, "significant": res.significant,
                "better": bool(res.significant and res.delta > 0),
                "verdict": res.verdict,
            })
    comparisons += out_of_range
    random_matched = [c for c in comparisons if c["random_basis"] and c["in_range"]]
    if not random_matched:
        beats = None
        verdict = (f"{label} (ED {model.ed:.1f}) cannot be compared with dimension-matched "
                   "random bases: no random-basis family reaches its effective dimensionality")
        best = None
    else:
        beats = all(c["better"] for c in random_matched)
        best = max(random_matched, key=lambda c: c["control_score"])
        detail = "; ".join(f"{c['family']} D={c['dim']} (ED {c['ed']:.1f}): Δ = {c['delta']:+.3f}"
                           f" [{c['ci'][0]:+.3f}, {c['ci'][1]:+.3f}], "
                           f"p_holm = {_fmt_p(c['p_holm'])}" for c in random_matched)
        if beats:
            verdict = (f"{label} (ED {model.ed:.1f}) beats dimension-matched random bases: "
                       f"{detail}")
        else:
            lost = [c["family"] for c in random_matched if not c["better"]]
            verdict = (f"{label} (ED {model.ed:.1f}) does NOT beat dimension-matched random "
                       f"bases (not better than {', '.join(lost)}): {detail}")
    return ModelVerdict(
        model=label, layer=layer, ed=model.ed, grid_fraction=model.grid_fraction,
        score=model.score, n_units=model.dim, comparisons=comparisons,
        beats_random_bases=beats, verdict=verdict,
        control_family=None if best is None else f"{best['family']}-d{best['dim']}",
        control_score=None if best is None else best["control_score"],
        control_delta=None if best is None else model.score - best["control_score"],
    )


def _fmt_p(p: float) -> str:
    if not np.isfinite(p):
        return "nan"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"
