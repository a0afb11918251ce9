"""Simulated worlds with a known generating family, the ground truth of the controls.

``grid``
    Every recorded cell is a noisy mixture (weights uniform in [0.5, 1.5]) of three grid
    cells of one module of a 4-module grid population
    (:func:`mecbench.controls.features.grid_population`, population seed 100; spacings
    ``0.3 · 1.4^m`` m, shared orientation ``orientation``, phases of its own).
``random``
    Every recorded cell is a noisy mixture of three random Fourier features
    (:func:`mecbench.controls.features.fourier_features`, population seed 100).

Noise is Gaussian with SD ``noise`` times each cell's spatial SD, added per bin. The control
families draw their own populations with seeds 0, 1, ..., so no control reproduces the world's
population: a comparison that recovers the generating family must do so from its structure.
:func:`world_benchmark` wraps a world in a :class:`~mecbench.benchmarks.Benchmark` with any
comparison; :func:`generating_family_rank` asks at which rank (at matched effective
dimensionality, :func:`mecbench.controls.panel.matched_rank`) the sweep puts the family that
generated the world.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mecbench.benchmarks import Benchmark, parse_mapping
from mecbench.cache import Cache
from mecbench.errors import ConfigError, UnknownIdentifierError
from mecbench.neural_data import NeuralData
from mecbench.ratemaps import Arena, make_rate_maps
from mecbench.splits import SplitScheme
from mecbench.tables import table as text_table

__all__ = ["WORLDS", "GENERATING", "WORLD_FAMILIES", "GROUND_TRUTH_COMPARISONS", "world_data",
           "world_benchmark", "generating_family_rank", "ground_truth", "format_ground_truth"]

#: Comparisons of the default ground-truth table: ridge and every similarity metric.
GROUND_TRUTH_COMPARISONS = ("ridge:alpha=1.0", "cka", "cka-debiased", "rsa-spearman",
                            "rsa-whitened-cosine", "shape-procrustes", "shape-cca",
                            "soft-matching")

#: World kinds.
WORLDS = ("grid", "random")
#: The control family that generated each world.
GENERATING = {"grid": "grid-o7.5", "random": "fourier"}
#: Families swept in a world: 6 cm bumps (12 cm bumps and ReLU ramps saturate at low ED in
#: a 1 m box) and grids with the world's orientation.
WORLD_FAMILIES = ("fourier", "bumps-w0.06", "relu", "grid-o7.5")


def world_data(kind: str, *, n_animals: int = 2, n_cells: int = 30, noise: float = 0.3,
               seed: int = 11, orientation: float = 7.5, arena_size: float = 1.0,
               bin_size: float = 0.05):
    """Recordings of a simulated world (module docstring) in one square arena.

    Returns
    -------
    NeuralData
        ``n_animals`` animals of ``n_cells`` cells each, no unvisited bins.
    """
    from mecbench.controls import features
    from mecbench.controls.providers import bin_positions

    if kind not in WORLDS:
        raise UnknownIdentifierError("world", kind, WORLDS)
    if n_animals < 1 or n_cells < 1:
        raise ConfigError(f"a world needs animals and cells; got n_animals={n_animals}, "
                          f"n_cells={n_cells}")
    arena = Arena(arena_size, arena_size, bin_size)
    xy = bin_positions(arena)
    n_pop = 400
    if kind == "grid":
        population = features.grid_population(xy, n_pop, 100, orientation=orientation)
    else:
        population = features.fourier_features(xy, n_pop, 100)
    group = np.arange(n_pop) % 4          # grid: the module of each unit
    rng = np.random.default_rng(seed)
    n = n_animals * n_cells
    weights = np.zeros((n_pop, n))
    for j in range(n):
        members = rng.choice(np.flatnonzero(group == j % 4), 3, replace=False)
        weights[members, j] = rng.uniform(0.5, 1.5, 3)
    cells = population @ weights
    cells = cells + noise * cells.std(axis=0) * rng.standard_normal(cells.shape)
    rates = make_rate_maps(cells.reshape(*arena.shape, n), arena_width=arena.width,
                           bin_size=arena.bin_size,
                           animal=np.repeat([f"rat{a}" for a in range(n_animals)], n_cells),
                           neuroid_id=[f"cell{j}" for j in range(n)])
    return NeuralData.from_rate_maps([rates], attrs={"source": f"simulated {kind} world"})


def world_benchmark(kind: str, mapping: str = "ridge:alpha=1.0", *, splits=None,
                    **world_kw):
    """A benchmark on :func:`world_data` with ``mapping`` (any
    :func:`mecbench.benchmarks.parse_mapping` text, regression or similarity), random splits
    (20 % train, 3 splits by default) and the inter-animal holdout ceiling (pool rule off:
    the worlds are small)."""
    spec = parse_mapping(mapping)
    splits = splits if splits is not None else SplitScheme.random(train_frac=0.2, n_splits=3,
                                                                  seed=0)
    return Benchmark(f"world-{kind}.{spec.name}", 0, world_data(kind, **world_kw), spec,
                     splits, min_source_cells=0, n_boot=200)


def generating_family_rank(kind: str, mapping: str, *, dims: Sequence[int] = (4, 16, 64, 256),
                           seeds: int = 2, families: Sequence[str] = WORLD_FAMILIES,
                           cache=None, **world_kw) -> dict:
    """Sweep the control families in a world and rank the generating family.

    Returns
    -------
    dict
        ``world``, ``mapping``, ``generating`` (family), ``rank`` (its median rank at
        matched ED, :func:`mecbench.controls.panel.matched_rank`; None when no other family
        reaches its ED), ``n_matched`` (the D compared), ``first`` (rank == 1), ``ranks``
        (every family's rank), ``row`` (the :class:`~mecbench.controls.panel.PanelRow`).
    """
    from mecbench.controls.panel import matched_rank, panel_row
    from mecbench.controls.sweep import ControlsOptions, run_controls

    generating = GENERATING[kind] if kind in GENERATING else None
    if generating not in families:
        raise ConfigError(f"the families {list(families)} lack the generating family "
                          f"{generating!r} of the {kind} world")
    bench = world_benchmark(kind, mapping, **world_kw)
    options = ControlsOptions(families=list(families), dims=list(dims), seeds=seeds,
                              shuffle=False, match=False)
    result = run_controls(bench, options,
                          cache=cache if cache is not None else Cache(enabled=False))
    rank, n = matched_rank(result.curves(), generating)
    row = panel_row(result, comparison=bench.mapping.text, n_boot=500)
    return {"world": kind, "mapping": bench.mapping.text, "generating": generating,
            "rank": rank, "n_matched": n, "first": rank == 1, "ranks": row.ranks, "row": row}


def ground_truth(comparisons: Sequence[str] = GROUND_TRUTH_COMPARISONS, *,
                 dims: Sequence[int] = (4, 16, 64, 256), seeds: int = 2, cache=None,
                 **world_kw) -> dict:
    """:func:`generating_family_rank` of every comparison in both worlds.

    Returns
    -------
    dict
        ``{"schema": 1, "command": "controls-ground-truth", "dims", "seeds", "rows": [...]}``,
        one row per comparison: ``comparison``, ``recovers_both`` and per world
        (``grid``, ``random``) its ``rank``, ``first``, ``ranks``, ``slope``, ``slope_ci``,
        ``gain`` and ``verdict``.
    """
    rows = []
    for comparison in comparisons:
        row: dict = {"comparison": comparison}
        for kind in WORLDS:
            out = generating_family_rank(kind, comparison, dims=dims, seeds=seeds,
                                         cache=cache, **world_kw)
            r = out["row"]
            row[kind] = {"generating": out["generating"], "rank": out["rank"],
                         "first": out["first"], "ranks": out["ranks"], "slope": r.slope,
                         "slope_ci": list(r.slope_ci), "gain": r.gain, "verdict": r.verdict}
        row["recovers_both"] = all(row[k]["first"] for k in WORLDS)
        rows.append(row)
    return {"schema": 1, "command": "controls-ground-truth", "dims": list(dims),
            "seeds": int(seeds), "rows": rows}


def format_ground_truth(doc: dict) -> str:
    """The ground-truth table as text."""

    def rank(x):
        return "–" if x is None else f"{x:g}"

    table = []
    for row in doc["rows"]:
        cells = [row["comparison"]]
        for kind in WORLDS:
            w = row[kind]
            cells += [rank(w["rank"]), f"{w['slope']:.3f} [{w['slope_ci'][0]:.3f}, "
                      f"{w['slope_ci'][1]:.3f}]", w["verdict"].replace(" dimensionality", "")]
        cells.append("yes" if row["recovers_both"] else "no")
        table.append(cells)
    header = ["comparison", "grid world: rank of grid", "slope [95% CI]", "verdict",
              "random world: rank of fourier", "slope [95% CI]", "verdict", "recovers both"]
    return "\n".join([f"ground truth: generating family's rank at matched ED (1 = first); D "
                      f"{', '.join(map(str, doc['dims']))}, {doc['seeds']} seeds",
                      "", text_table(table, header)])
