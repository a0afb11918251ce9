"""mec-sim: a simulated, heterogeneous, multi-animal MEC population (the default benchmark data).

Built deterministically from a seed: for each of ``n_animals`` animals and each arena, a
session of foraging in an open box (:mod:`.trajectory`, matched to real rats), a population of
``n_cells`` cells of six classes (:mod:`.cells`), Poisson spikes from their rates, and rate maps
from the same binning code as real recordings (:func:`mecbench.binning.bin_session`, two LEDs
so head direction is measured as in the lab), with split halves. Ground truth (class, module,
spacing, orientation, phase, head-direction and speed tuning) is kept as neuroid coordinates.

The result is cached as netCDF under ``mecbench.paths.cache_dir("datasets")``, keyed by the
dataset version, the seed, a hash of all parameters and a hash of the simulation and binning
source code; it is rebuilt when absent or unreadable. See README.md for parameters and sources.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mecbench.errors import ConfigError, DataError, closest_names
from mecbench.neural_data import NeuralData
from mecbench.ratemaps import arena_key

from .cells import (
    CELL_TYPES,
    PopulationParams,
    cell_rates,
    draw_cells,
    draw_modules,
    spatial_factor,
)
from .trajectory import MotionParams, simulate_sessions

__all__ = ["load", "build", "SimConfig", "DATASET_VERSION", "cache_path", "PopulationParams",
           "MotionParams", "CELL_TYPES"]

DATASET_VERSION = 2
"""Bumped whenever the simulation changes in a way that changes the data for a given seed
(version 2: rates in float64, so the data no longer depend on the CPU's float32 kernels)."""

_STREAM_ENTROPY = 1
"""First word of every random stream. Kept at the value of version 1 so that a version that
changes only numerics draws the same animals, paths and cells."""

CITATION = (
    "Simulated with mecbench mec-sim. Parameters from Sargolini et al. 2006 (Science 312:758), "
    "Solstad et al. 2008 (Science 322:1865), Stensola et al. 2012 (Nature 492:72), Kropff et al. "
    "2015 (Nature 523:419), Diehl et al. 2017 (Neuron 94:83), Hardcastle et al. 2017 (Neuron "
    "94:375); movement statistics from the Sargolini et al. 2006 recordings (Kavli Institute "
    "grid-cell data page)."
)
_RESOLUTION = 0.02
"""Lattice (m) on which spatial tuning is evaluated and looked up (nearest point): blurs fields
by 0.6 cm rms, negligible beside the 5 cm bins and the 5 cm smoothing of the rate maps."""


@dataclass(frozen=True)
class SimConfig:
    """Everything that determines mec-sim besides the seed (metres, seconds)."""

    n_animals: int = 6
    n_cells: int = 100
    arenas: tuple[float, ...] = (1.0, 2.2)
    durations: tuple[float, ...] = (900.0, 1800.0)
    bin_size: float = 0.05
    smoothing_sigma: float | None = None
    min_occupancy: float | None = None
    speed_min: float | None = None
    population: PopulationParams = field(default_factory=PopulationParams)
    motion: MotionParams = field(default_factory=MotionParams)

    def __post_init__(self):
        if self.n_animals < 1:
            raise ConfigError(f"n_animals must be >= 1, got {self.n_animals}")
        if self.n_cells < 1:
            raise ConfigError(f"n_cells must be >= 1, got {self.n_cells}")
        if len(self.arenas) != len(self.durations) or not self.arenas:
            raise ConfigError(
                f"arenas {self.arenas} and durations {self.durations} must be non-empty and "
                "of the same length"
            )
        if any(d < 10 for d in self.durations):
            raise ConfigError(f"durations must be at least 10 s, got {self.durations}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _source_hash() -> str:
    from mecbench import binning

    h = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for path in [*sorted(here.glob("*.py")), Path(binning.__file__).resolve()]:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def config_hash(config: SimConfig) -> str:
    """SHA-256 (16 hex digits) of the parameters and of the simulation and binning code."""
    text = json.dumps({"version": DATASET_VERSION, "config": config.to_dict(),
                       "source": _source_hash()}, sort_keys=True, default=list)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_path(seed: int = 0, config: SimConfig | None = None) -> Path:
    """Where the build for ``seed`` and ``config`` is cached."""
    from mecbench.paths import cache_dir

    config = config or SimConfig()
    return cache_dir("datasets") / f"mec-sim-v{DATASET_VERSION}-seed{int(seed)}-" \
                                   f"{config_hash(config)}.nc"


def _make_config(kw: dict) -> SimConfig:
    fields = {f.name for f in dataclasses.fields(SimConfig)}
    pop_fields = {f.name for f in dataclasses.fields(PopulationParams)}
    mot_fields = {f.name for f in dataclasses.fields(MotionParams)}
    top, pop, mot = {}, {}, {}
    for key, value in kw.items():
        if key in fields:
            top[key] = value
        elif key in pop_fields:
            pop[key] = value
        elif key in mot_fields:
            mot[key] = value
        else:
            known = fields | pop_fields | mot_fields
            hint = closest_names(key, known)
            raise ConfigError(
                f"mec-sim has no parameter {key!r}"
                + (f"; did you mean {', '.join(map(repr, hint))}?" if hint else "")
            )
    for key, value in list(top.items()):
        if key in ("arenas", "durations"):
            top[key] = tuple(float(v) for v in np.atleast_1d(value))
    if isinstance(top.get("population"), dict):
        top["population"] = PopulationParams(**top["population"])
    if isinstance(top.get("motion"), dict):
        top["motion"] = MotionParams(**top["motion"])
    config = SimConfig(**top)
    if pop:
        config = dataclasses.replace(config,
                                     population=dataclasses.replace(config.population, **pop))
    if mot:
        config = dataclasses.replace(config, motion=dataclasses.replace(config.motion, **mot))
    return config


def poisson_spikes(rate: np.ndarray, t: np.ndarray, dt: float,
                   rng: np.random.Generator) -> list[np.ndarray]:
    """Spike times of inhomogeneous Poisson processes with rate ``rate`` (T, n), constant over
    each sample ``[t_i, t_i + dt)``.

    Exact, by time rescaling: with the integrated intensity ``Λ(t)`` of a cell, a homogeneous
    unit-rate process on ``[0, Λ(end))`` (a Poisson number of uniform points) maps back to spike
    times through ``Λ⁻¹``. All cells are done in one ``searchsorted`` on their concatenated,
    offset intensities; cost scales with the number of spikes, not of samples.
    """
    T, n = rate.shape
    lam = np.ascontiguousarray(rate.T, dtype=np.float64) * dt          # (n, T) expected counts
    cum = np.cumsum(lam, axis=1)
    totals = cum[:, -1].copy()
    offsets = np.concatenate([[0.0], np.cumsum(totals)[:-1]])
    flat = (cum + offsets[:, None]).ravel()
    k = rng.poisson(totals)
    u = rng.random(int(k.sum())) * np.repeat(totals, k) + np.repeat(offsets, k)
    u.sort()
    idx = np.minimum(np.searchsorted(flat, u, side="right"), n * T - 1)
    cell, sample = np.divmod(idx, T)
    lam_flat = lam.ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = (u - (flat[idx] - lam_flat[idx])) / lam_flat[idx]
    times = t[sample] + np.clip(np.nan_to_num(frac), 0.0, 1.0 - 1e-9) * dt
    bounds = np.searchsorted(cell, np.arange(n + 1))
    return [np.sort(times[bounds[i]:bounds[i + 1]]) for i in range(n)]


def _binning_kwargs(config: SimConfig) -> dict:
    out = {}
    for name in ("smoothing_sigma", "min_occupancy", "speed_min"):
        value = getattr(config, name)
        if value is not None:
            out[name] = value
    return out


def build(seed: int = 0, config: SimConfig | None = None) -> NeuralData:
    """Simulate and bin mec-sim (no cache). Deterministic in ``seed`` and ``config``."""
    from mecbench.binning import bin_session

    config = config or SimConfig()
    pop, mot = config.population, config.motion
    root = np.random.SeedSequence([_STREAM_ENTROPY, int(seed)])
    animal_seqs = root.spawn(config.n_animals)
    width = len(str(config.n_animals))
    rates, halves, occupancy = [], [], []
    session_info = {}
    for a, seq in enumerate(animal_seqs):
        animal = f"sim{a + 1:0{max(2, width)}d}"
        arng = np.random.default_rng(seq)
        modules = draw_modules(arng, pop)
        speed_factor = float(np.exp(arng.normal(0.0, mot.animal_speed_spread)))
        for k, (size, duration) in enumerate(zip(config.arenas, config.durations, strict=True)):
            rng = np.random.default_rng(seq.spawn(len(config.arenas))[k])
            key = arena_key(size, size)
            session = simulate_sessions([size], [size], [duration], rng=rng, params=mot,
                                        speed_factors=[speed_factor])[0]
            cells = draw_cells(rng, pop, modules, config.n_cells, size, size)
            S, _, _ = spatial_factor(cells, size, size, _RESOLUTION)
            rate = cell_rates(cells, S, _RESOLUTION, size, size, session.x, session.y,
                              session.head_direction, session.speed, p=pop, dt=mot.dt, rng=rng)
            spikes = poisson_spikes(rate, session.t, mot.dt, rng)
            ids = [f"{animal}/{key}/c{i:03d}" for i in range(config.n_cells)]
            binned = bin_session(
                session.t, session.x1, session.y1, spikes, x2=session.x2, y2=session.y2,
                arena_width=size, bin_size=config.bin_size, halves=True, neuroid_id=ids,
                animal=animal, session=f"{animal}-{key}", **_binning_kwargs(config),
                cell_id=[f"c{i:03d}" for i in range(config.n_cells)],
                cell_type=cells["cell_type"],
                module=cells["module"].astype(np.int64),
                true_spacing=cells["spacing"],
                true_orientation=cells["orientation"],
                true_phase_x=cells["phase_x"],
                true_phase_y=cells["phase_y"],
                true_hd_pref=cells["hd_pref"],
                true_hd_kappa=cells["hd_kappa"],
                true_speed_slope=cells["speed_slope"],
                true_border_wall=cells["border_wall"],
                true_peak_rate=cells["peak"],
            )
            rates.append(binned.rate)
            halves.append(binned.rate_halves)
            occupancy.append(binned.occupancy)
            session_info[f"{animal}-{key}"] = {
                "module_spacing": [round(float(s), 5) for s in modules["spacing"]],
                "module_orientation": [round(float(o), 3) for o in modules["orientation"]],
                **binned.info,
            }
    attrs = {
        "source": "mec-sim",
        "dataset_version": DATASET_VERSION,
        "seed": int(seed),
        "config": json.dumps(config.to_dict(), sort_keys=True, default=list),
        "config_hash": config_hash(config),
        "sessions": json.dumps(session_info, sort_keys=True),
        "citation": CITATION,
        "licence": "CC0 (simulated data)",
    }
    return NeuralData.from_rate_maps(rates, halves=halves, occupancy=occupancy, attrs=attrs)


def load(seed: int = 0, cache: bool = True, **kw) -> NeuralData:
    """Simulated heterogeneous MEC: 6 animals x 100 cells, 1 m and 2.2 m boxes, with halves.

    Parameters
    ----------
    seed : int
        Seed of the whole simulation (the default benchmark uses 0).
    cache : bool
        Read/write the build under ``mecbench.paths.cache_dir("datasets")``.
    **kw
        Overrides of :class:`SimConfig` fields (``n_animals``, ``n_cells``, ``arenas``,
        ``durations``, ``bin_size``, ``smoothing_sigma``, ``min_occupancy``, ``speed_min``), of
        :class:`PopulationParams` (``proportions``, ``n_modules``, ...) or of
        :class:`MotionParams` (``speed_scale``, ...), given flat.

    Returns
    -------
    NeuralData
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    config = _make_config(kw)
    if not cache:
        return build(int(seed), config)
    from filelock import FileLock

    path = cache_path(int(seed), config)
    with FileLock(str(path) + ".lock"):
        if path.exists():
            try:
                return NeuralData.load(path)
            except (DataError, OSError, ValueError):
                path.unlink(missing_ok=True)   # unreadable: rebuild below
        data = build(int(seed), config)
        data.save(path)
    return data
