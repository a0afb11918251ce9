"""Result types of the controls analysis (see :mod:`mecbench.controls.sweep`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mecbench.controls.stats import OlsFit

__all__ = ["RESULT_SCHEMA", "Point", "ModelVerdict", "ControlsResult", "nan_sd"]

#: Version of the ``--json`` document (fields are only ever added within one version).
RESULT_SCHEMA = 1


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
                             "ed_mean": _mean(ed), "ed_sd": nan_sd(ed),
                             "score_mean": _mean(sc), "score_sd": nan_sd(sc),
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


def nan_sd(a: np.ndarray) -> float:
    """Sample SD of the finite values (NaN with fewer than two)."""
    a = a[np.isfinite(a)]
    return float(a.std(ddof=1)) if a.size > 1 else float("nan")


def _min(a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    return float(a.min()) if a.size else float("nan")


def _max(a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    return float(a.max()) if a.size else float("nan")
