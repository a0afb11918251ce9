"""No-Free-Lunch sweep: do grid-like units of a path integrator depend on the readout and on
the place-cell code? (Schaeffer, Khona & Fiete 2022, "No Free Lunch from Deep Learning in
Neuroscience: A Case Study through Models of the Entorhinal-Hippocampal Circuit".)

Usage::

    python scripts/nfl_sweep.py --out nfl-runs --jobs 2 --json nfl.json
    python scripts/nfl_sweep.py --out nfl-runs --configs dos-sigma0.12,cartesian --seeds 2
    python scripts/nfl_sweep.py --quick --out /tmp/nfl-quick      # tiny networks, seconds

What it trains
--------------
The bias-free ReLU RNN path integrator of Sorscher et al. (presets ``rnn-relu-dos``,
``rnn-relu-gaussian``, ``rnn-relu-cartesian`` of :mod:`mecbench.training`) with one of seven
readouts / place-cell codes (``--configs`` takes a comma-separated subset of these names):

=============================  ===========  ======  ========
name                           readout      σ (m)   surround
=============================  ===========  ======  ========
dos-sigma0.08                  DoS          0.08    2
dos-sigma0.12                  DoS          0.12    2
dos-sigma0.20                  DoS          0.20    2
dos-sigma0.12-surround1.5      DoS          0.12    1.5
dos-sigma0.12-surround3        DoS          0.12    3
gaussian-sigma0.12             Gaussian     0.12    –
cartesian                      (x, y), MSE  –       –
=============================  ===========  ======  ========

σ is the place-field width ``place_sigma``. The surround scale is mecbench's
``surround_scale``, a **variance** ratio (surround variance s·σ², Sorscher et al.); the
No-Free-Lunch code uses a standard-deviation ratio r instead, so s = r² (s = 1.5, 2, 3 are
r = 1.22, 1.41, 1.73). σ = 0.12 m with s = 2 is the configuration in which grid-like units are
reported; the others move away from it along one axis at a time.

Every run shares the presets' CPU-sized network, "the smallest published configuration that
reaches grid-like units" (Sorscher et al. 2023): Ng = 256 recurrent units, Np = 256 place
cells, walks
of 10 steps, batch 64, Adam 1e-3, weight decay 1e-4 on the recurrence, identity-initialised
recurrence, the 2.2 m box. ``--set KEY=VALUE`` changes a field for every run, e.g. ``--set
seq_len=20 --set batch_size=200`` for the papers' walks and batches (on a GPU: add
``--device cuda``). Seeds 0..K-1 (``--seeds K``) seed the weights, the place-cell centres and
the training batches (``config.seed``).

What it measures
----------------
Per run, from the recurrent layer ``g``: rate maps with the Nayebi et al. protocol (100
batches × 200 random walks × 20 steps, rate-map seed 0, 5 cm bins in the training box; an
unvisited bin, which this protocol practically never leaves, takes its nearest visited
neighbour's value), then :func:`mecbench.analysis.grid_properties`:

* ``fraction_grid_sargolini`` / ``fraction_grid_deepmind``: fraction of units with a grid
  score > 0.3 in the min–max (Sargolini) and mean (DeepMind) forms — the numbers
  :func:`mecbench.analysis.fraction_grid` gives on the same maps;
* ``median_spacing_m``: median grid spacing of the grid-like units (min–max score > 0.3 and a
  spacing found; NaN when there is none);
* ``fraction_grid_half_box``: fraction of units that are grid-like (min–max form) with a
  spacing of at most half the box side (1.1 m), i.e. at least two periods across the box. The
  score alone does not tell a lattice of ≥ 2 periods from one or two broad fields: in a pilot
  of this script (seed 0, 6 000 steps) the 79 grid-like units of ``dos-sigma0.12`` had
  spacings 0.79–0.91 m (10th–90th percentile) and all count here, while the 43 of
  ``gaussian-sigma0.12`` had 1.39–2.07 m and one counts (the shipped Gaussian network's
  top-scoring units are single broad blobs on inspection);
* ``decoding_error_cm``: :func:`mecbench.training.evaluate_decoding` on 20 fresh batches of
  the training length, beside ``stay_at_start_cm`` (:func:`~mecbench.training.stay_at_start_error`
  on the same walks): a path integrator must beat reporting the start; ``..._rollout_cm``:
  the same over the 20 steps of the rate-map rollouts.

Per configuration the table gives mean ± SD over seeds and (min–max); the JSON holds every
run's numbers as well.

Outputs and resuming
--------------------
``OUT/<config>/seed<k>/`` holds the checkpoint (``config.json``, ``model.safetensors``,
``training_state.*``; written every ``--checkpoint-every`` steps) and ``metrics.json``;
``OUT/sweep.log`` the progress (one line per chunk of steps and per finished run);
``OUT/summary.json`` and ``OUT/table.md`` the result (``--json FILE`` writes a copy of the
JSON). Running the same command again skips every finished run (its metrics are read back; no
weight is rewritten), resumes an interrupted one from its last checkpoint (batches are seeded
per step, so the weights equal those of an uninterrupted run) and retrains nothing else; a
larger ``--steps`` continues the finished runs. A run directory whose configuration differs
from the requested one is an error (choose another ``--out``).

Each run trains in one of ``--jobs`` worker processes with one torch thread (``--jobs 1``:
in the calling process). Ctrl-C or SIGTERM (to the main process or to the whole group) stops
every job after it has saved a checkpoint. Exit status: 0; 1 when a run failed (the others
finish; the log says why); 2 on bad input; 130 when interrupted.

Budget (2 cores, ``--jobs 2``)
------------------------------
CPU time per training step, measured here with one torch thread (``time.process_time`` over
30–60 steps, so the figures leave out the time other processes on the shared machine took):
DoS and Gaussian readouts 18.7 ms, cartesian 14.2 ms. The default sweep is 7 configurations ×
3 seeds at 12 000 steps:

* training: 18 runs × 12 000 × 0.0187 s + 3 runs × 12 000 × 0.0142 s = 4 039 + 511
  ≈ 4 550 CPU-s;
* measuring: rate maps, grid analysis and decoding at two lengths take ≈ 5 CPU-s a run, and
  each job starts one interpreter: ≈ 120 CPU-s;
* two jobs: ≈ 4 670 / 2 ≈ 39 min of wall time, plus at most one run (≈ 4 min) of imbalance
  at the end, leaving ≈ 15 min for two processes slowing each other down.

Why this size: this preset trained for 12 000 steps (seed 0) on this machine had 35 % of its
``g`` units above 0.3 (min–max form); a pilot of this script at half the budget (seed 0,
6 000 steps) gave, for ``dos-sigma0.12`` / ``gaussian-sigma0.12`` / ``cartesian``, grid
fractions 0.309 / 0.168 / 0.008 (min–max), 0.297 / 0.004 / 0.004 with spacing ≤ box/2,
median spacing 0.83 / 1.82 / 1.14 m, and decoding errors over 10 steps of 20.6 / 6.2 / 1.9 cm
against 10.7 cm for staying at the start. Ng = 128 with 20-step walks and batch 64 (28 ms a
step) instead still decoded at 88 cm, with no grid-like unit, after 3 000 steps. The papers train
10⁵–10⁶ steps of batch 200 with 4 096 units: this is a small-budget version of their sweep,
which can show where grid-like units appear early and where they do not, not what their
networks converge to.
``--steps 0`` measures the untrained networks of the same seeds (a chance reference).
``--quick`` trains 16-unit networks for 4 steps in a 1 m box with a reduced rate-map
protocol (2 seeds), to check the pipeline end to end in seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import queue
import shlex
import signal
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from filelock import FileLock
from threadpoolctl import threadpool_limits

from mecbench.analysis import grid_properties
from mecbench.errors import ConfigError, MecbenchError, UnknownIdentifierError
from mecbench.jsonsafe import json_safe
from mecbench.nets.checkpoint import load_network, read_config
from mecbench.neural_data import atomic_write
from mecbench.providers import NetworkProvider
from mecbench.ratemaps import Arena
from mecbench.training import (
    apply_overrides,
    evaluate_decoding,
    parse_overrides,
    preset_config,
    stay_at_start_error,
    train,
)
from mecbench.training.state import STATE_JSON, has_checkpoint
from mecbench.trajectories import usable_device

__all__ = ["Variant", "Protocol", "CONFIGS", "FULL", "QUICK", "AGGREGATED", "run_config",
           "grid_summary", "rate_maps", "measure_run", "check_run_dir", "run_one", "aggregate",
           "summarise", "format_table", "main"]

LAYER = "g"
THRESHOLD = 0.3
METRICS_FILE = "metrics.json"
LOG_FILE = "sweep.log"
SUMMARY_FILE = "summary.json"
TABLE_FILE = "table.md"


@dataclass(frozen=True)
class Variant:
    """One configuration of the sweep: a training preset and the fields it changes."""

    name: str
    preset: str
    label: str
    overrides: dict[str, Any] = field(default_factory=dict)


CONFIGS: tuple[Variant, ...] = (
    Variant("dos-sigma0.08", "rnn-relu-dos", "DoS σ=0.08 s=2",
            {"place_sigma": 0.08, "surround_scale": 2.0}),
    Variant("dos-sigma0.12", "rnn-relu-dos", "DoS σ=0.12 s=2",
            {"place_sigma": 0.12, "surround_scale": 2.0}),
    Variant("dos-sigma0.20", "rnn-relu-dos", "DoS σ=0.20 s=2",
            {"place_sigma": 0.20, "surround_scale": 2.0}),
    Variant("dos-sigma0.12-surround1.5", "rnn-relu-dos", "DoS σ=0.12 s=1.5",
            {"place_sigma": 0.12, "surround_scale": 1.5}),
    Variant("dos-sigma0.12-surround3", "rnn-relu-dos", "DoS σ=0.12 s=3",
            {"place_sigma": 0.12, "surround_scale": 3.0}),
    Variant("gaussian-sigma0.12", "rnn-relu-gaussian", "Gaussian σ=0.12",
            {"place_sigma": 0.12}),
    Variant("cartesian", "rnn-relu-cartesian", "cartesian (x, y)", {}),
)
"""The configurations, in the order of the table."""


@dataclass(frozen=True)
class Protocol:
    """Sizes of the networks, of the training and of the measurements (shared by all runs).

    ``network`` holds the configuration fields applied to every preset; ``map_batches``,
    ``map_batch_size`` and ``map_steps`` are the rate-map protocol of
    :class:`~mecbench.providers.NetworkProvider`; ``decode_batches`` the fresh batches of
    :func:`~mecbench.training.evaluate_decoding`.
    """

    steps: int
    seeds: int
    network: dict[str, Any]
    checkpoint_every: int = 1000
    map_batches: int = 100
    map_batch_size: int = 200
    map_steps: int = 20
    map_seed: int = 0
    bin_size: float = 0.05
    decode_batches: int = 20

    def analysis(self) -> dict[str, Any]:
        """The measurement part (a run's metrics are reused only when it matches)."""
        return {"layer": LAYER, "threshold": THRESHOLD, "map_batches": self.map_batches,
                "map_batch_size": self.map_batch_size, "map_steps": self.map_steps,
                "map_seed": self.map_seed, "bin_size": self.bin_size,
                "decode_batches": self.decode_batches}


FULL = Protocol(steps=12000, seeds=3,
                network={"n_hidden": 256, "n_place": 256, "seq_len": 10, "batch_size": 64})
QUICK = Protocol(steps=4, seeds=2, checkpoint_every=2, map_batches=2, decode_batches=2,
                 network={"n_hidden": 16, "n_place": 32, "seq_len": 5, "batch_size": 16,
                          "arena_width": 1.0, "arena_height": 1.0})

AGGREGATED = ("fraction_grid_sargolini", "fraction_grid_deepmind", "fraction_grid_half_box",
              "median_spacing_m",
              "decoding_error_cm", "stay_at_start_cm", "decoding_error_rollout_cm",
              "stay_at_start_rollout_cm", "max_score_sargolini", "wall_time_s")
"""Per-run numbers summarised over seeds."""


def run_config(variant: Variant, seed: int, network: dict[str, Any]):
    """The validated :class:`~mecbench.nets.PathIntegratorConfig` of one run."""
    return apply_overrides(preset_config(variant.preset),
                           {**network, **variant.overrides, "seed": int(seed)})


# ----------------------------------------------------------------------------- measurements
def grid_summary(maps, threshold: float = THRESHOLD) -> dict[str, Any]:
    """Grid-cell numbers of a stack of rate maps.

    Parameters
    ----------
    maps : xarray.DataArray
        Rate maps ``(x, y, neuroid)`` with a ``bin_size`` attribute (m).
    threshold : float
        Grid-score threshold of a grid-like unit.

    Returns
    -------
    dict
        ``n_units``; per form (``sargolini``, ``deepmind``) ``fraction_grid_<form>``,
        ``n_grid_<form>``, ``median_score_<form>``, ``max_score_<form>``; ``median_spacing_m``
        (median spacing of the units above ``threshold`` in the min–max form whose spacing was
        found; NaN if none) and ``n_spacing`` (how many such units);
        ``fraction_grid_half_box``: fraction of all units above ``threshold`` (min–max form)
        whose spacing is at most half the box's shorter side (``arena_width`` /
        ``arena_height`` attributes), i.e. with at least two periods across the box.
    """
    half_box = min(float(maps.attrs["arena_width"]), float(maps.attrs["arena_height"])) / 2
    props = grid_properties(maps)
    n = int(props.sizes["neuroid"])
    out: dict[str, Any] = {"n_units": n}
    for form in ("sargolini", "deepmind"):
        scores = np.asarray(props[f"grid_score_{form}"].values, dtype=float)
        grid = np.nan_to_num(scores, nan=-np.inf) > threshold
        finite = np.isfinite(scores)
        out[f"fraction_grid_{form}"] = float(grid.mean()) if n else math.nan
        out[f"n_grid_{form}"] = int(grid.sum())
        out[f"median_score_{form}"] = float(np.median(scores[finite])) if finite.any() \
            else math.nan
        out[f"max_score_{form}"] = float(scores[finite].max()) if finite.any() else math.nan
        if form == "sargolini":
            spacing = np.asarray(props["spacing"].values, dtype=float)[grid]
            spacing = spacing[np.isfinite(spacing)]
            out["median_spacing_m"] = float(np.median(spacing)) if spacing.size else math.nan
            out["n_spacing"] = int(spacing.size)
            out["fraction_grid_half_box"] = float(np.mean(
                grid & (np.nan_to_num(props["spacing"].values, nan=np.inf) <= half_box)))
    return out


def rate_maps(model, protocol: Protocol, device: str = "cpu"):
    """Rate maps of layer ``g`` of ``model`` in its training box with the protocol's sizes."""
    c = model.config
    provider = NetworkProvider(model, "nfl-sweep", n_batches=protocol.map_batches,
                               batch_size=protocol.map_batch_size, n_steps=protocol.map_steps,
                               device=device, unvisited="nearest", progress=False)
    arena = Arena(float(c.arena_width), float(c.arena_height), protocol.bin_size)
    return provider.rate_maps(arena, LAYER, seed=protocol.map_seed)


def measure_run(model, protocol: Protocol, device: str = "cpu") -> dict[str, Any]:
    """:func:`grid_summary` of the rate maps of ``model``; its decoding error and the
    stay-at-start baseline on the same walks (cm), over the training length
    (``decoding_error_cm``, ``stay_at_start_cm``) and over the rate-map rollout length
    (``..._rollout_cm``)."""
    model.eval()
    out = grid_summary(rate_maps(model, protocol, device), THRESHOLD)
    for suffix, length in (("", None), ("_rollout", protocol.map_steps)):
        out[f"decoding_error{suffix}_cm"] = 100 * evaluate_decoding(
            model, n_batches=protocol.decode_batches, device=device, seq_len=length)
        out[f"stay_at_start{suffix}_cm"] = 100 * stay_at_start_error(
            model.config, n_batches=protocol.decode_batches, seq_len=length)
    out["seq_len"] = int(model.config.seq_len)
    return out


# ----------------------------------------------------------------------------- aggregation
def aggregate(values) -> dict[str, Any]:
    """Mean, SD (``ddof=1``; 0 for one value), min and max of the finite ``values``; NaN ones
    (e.g. a spacing where no unit was grid-like) are left out and counted in ``n`` only."""
    a = np.asarray([math.nan if v is None else v for v in values], dtype=float)
    fin = a[np.isfinite(a)]
    if fin.size == 0:
        return {"mean": math.nan, "sd": math.nan, "min": math.nan, "max": math.nan,
                "n": 0, "n_runs": int(a.size), "values": a.tolist()}
    return {"mean": float(fin.mean()), "sd": float(fin.std(ddof=1)) if fin.size > 1 else 0.0,
            "min": float(fin.min()), "max": float(fin.max()), "n": int(fin.size),
            "n_runs": int(a.size), "values": a.tolist()}


def summarise(runs: list[dict[str, Any]], variants=CONFIGS) -> list[dict[str, Any]]:
    """Per configuration (in the order of ``variants``, those with runs only): its seeds,
    runs and :func:`aggregate` of every :data:`AGGREGATED` number over them."""
    out = []
    for v in variants:
        mine = sorted((r for r in runs if r["config_name"] == v.name), key=lambda r: r["seed"])
        if not mine:
            continue
        out.append({"name": v.name, "label": v.label, "preset": v.preset,
                    "overrides": dict(v.overrides), "seeds": [r["seed"] for r in mine],
                    "summary": {k: aggregate([r.get(k) for r in mine]) for k in AGGREGATED},
                    "runs": mine})
    return out


def _cell(s: dict[str, Any], fmt: str, scale: float = 1.0) -> str:
    if s["n"] == 0:
        return "–"
    text = (f"{s['mean'] * scale:{fmt}} ± {s['sd'] * scale:{fmt}} "
            f"({s['min'] * scale:{fmt}}–{s['max'] * scale:{fmt}})")
    return text + (f" [{s['n']}/{s['n_runs']}]" if s["n"] < s["n_runs"] else "")


def format_table(summary: list[dict[str, Any]], *, train_len: int | str = "train",
                 rollout_len: int | str = "rollout") -> str:
    """The sweep as a Markdown table: mean ± SD (min–max) over seeds; ``[n/N]`` when only n of
    N seeds have the number (a spacing needs a grid-like unit). ``train_len`` and
    ``rollout_len`` name the two decoding lengths in the header."""
    lines = ["| configuration | seeds | grid fraction > 0.3 (min–max form) | (mean form) "
             "| (min–max, spacing ≤ box/2) "
             f"| median spacing of grid units (m) | decoding error T={train_len} (cm) "
             f"| stay at start T={train_len} (cm) | decoding error T={rollout_len} (cm) "
             f"| stay at start T={rollout_len} (cm) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for c in summary:
        s = c["summary"]
        lines.append(
            f"| {c['label']} | {len(c['seeds'])} | {_cell(s['fraction_grid_sargolini'], '.3f')} "
            f"| {_cell(s['fraction_grid_deepmind'], '.3f')} "
            f"| {_cell(s['fraction_grid_half_box'], '.3f')} "
            f"| {_cell(s['median_spacing_m'], '.2f')} | {_cell(s['decoding_error_cm'], '.1f')} "
            f"| {_cell(s['stay_at_start_cm'], '.1f')} "
            f"| {_cell(s['decoding_error_rollout_cm'], '.1f')} "
            f"| {_cell(s['stay_at_start_rollout_cm'], '.1f')} |")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- running
def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _log(out: Path, text: str, quiet: bool) -> None:
    line = f"{_now()} {text}\n"
    with FileLock(str(out / LOG_FILE) + ".lock", timeout=60):
        with open(out / LOG_FILE, "a", encoding="utf-8") as fh:
            fh.write(line)
    if not quiet:
        sys.stderr.write(line)
        sys.stderr.flush()


def _write_json(path: Path, obj: Any) -> None:
    text = json.dumps(json_safe(obj), indent=1, allow_nan=False) + "\n"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def _saved_step(run_dir: Path) -> int:
    return int(json.loads((run_dir / STATE_JSON).read_text())["step"])


def _finished(run_dir: Path, config, protocol: Protocol) -> dict[str, Any] | None:
    """The saved metrics of a run that needs nothing more, else None."""
    path = run_dir / METRICS_FILE
    if not path.is_file():
        return None
    try:
        saved = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if any(k not in saved for k in AGGREGATED):  # measured by an older version: measure again
        return None
    if saved.get("step") != protocol.steps or saved.get("config") != json_safe(
            config.to_dict()) or saved.get("analysis") != json_safe(protocol.analysis()):
        return None
    return saved


def check_run_dir(run_dir: Path, config, steps: int) -> int:
    """The step of the run saved in ``run_dir`` (0 when there is none).

    Raises
    ------
    ConfigError
        When the saved run has another configuration or is already past ``steps``.
    """
    if not has_checkpoint(run_dir):
        return 0
    saved = read_config(run_dir)
    if saved != config:
        diff = sorted(k for k, v in config.to_dict().items() if saved.to_dict().get(k) != v)
        raise ConfigError(f"{run_dir} holds a run of another configuration (fields {diff} "
                          f"differ); choose another --out")
    step = _saved_step(run_dir)
    if step > steps:
        raise ConfigError(f"{run_dir} is already at step {step} > --steps {steps}; choose "
                          f"another --out or a larger --steps")
    return step


def run_one(task: dict[str, Any]) -> dict[str, Any]:
    """Train (or resume) one run to ``steps`` and measure it; skip it when it is finished.

    ``task`` holds ``name`` (a :data:`CONFIGS` name), ``seed``, ``out``, ``protocol`` (a
    :class:`Protocol` as a dict), ``device``, ``command`` and ``quiet``. Returns the run's
    metrics (also written to ``OUT/<name>/seed<k>/metrics.json``), with ``skipped`` true when
    nothing was recomputed.
    """
    variant = {v.name: v for v in CONFIGS}[task["name"]]
    protocol = Protocol(**task["protocol"])
    out, seed, device, quiet = Path(task["out"]), int(task["seed"]), task["device"], \
        task["quiet"]
    tag = f"[{variant.name}/seed{seed}]"
    run_dir = out / variant.name / f"seed{seed}"
    config = run_config(variant, seed, protocol.network)
    done = _finished(run_dir, config, protocol)
    if done is not None:
        _log(out, f"{tag} finished earlier (step {done['step']}): skipped", quiet)
        return {**done, "skipped": True}

    step = check_run_dir(run_dir, config, protocol.steps)
    resume = has_checkpoint(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    command = task["command"]
    if step < protocol.steps:
        _log(out, f"{tag} {'resuming at step ' + str(step) if resume else 'starting'} "
             f"({protocol.steps} steps)", quiet)
    model = None
    if not resume and protocol.steps == 0:  # --steps 0: the untrained networks
        model = train(config, run_dir, 0, device=device, progress=False,
                      command=command).model
    while step < protocol.steps:
        target = min(step + protocol.checkpoint_every, protocol.steps)
        t0 = time.perf_counter()
        result = train(config, run_dir, target, device=device, resume=resume,
                       checkpoint_every=protocol.checkpoint_every,
                       log_every=max(1, min(100, target - step)), progress=False,
                       command=command)
        rate = (time.perf_counter() - t0) / max(1, target - step)
        command, resume, step, model = None, True, result.step, result.model
        last = result.history[-1] if result.history else {}
        _log(out, f"{tag} step {step}/{protocol.steps} loss {last.get('loss', math.nan):.4f} "
             f"train-batch error {100 * last.get('decoding_error_m', math.nan):.1f} cm "
             f"({rate:.3f} s/step)", quiet)
    if model is None:
        model = load_network(run_dir, device=device)
    t0 = time.perf_counter()
    metrics = measure_run(model, protocol, device)
    state = json.loads((run_dir / STATE_JSON).read_text())
    record = {"config_name": variant.name, "label": variant.label, "seed": seed,
              "run_dir": str(run_dir), "step": step, "wall_time_s": state["wall_time_s"],
              "measure_wall_s": time.perf_counter() - t0, **metrics,
              "config": config.to_dict(), "analysis": protocol.analysis()}
    _write_json(run_dir / METRICS_FILE, record)
    _log(out, f"{tag} done: grid fraction {metrics['fraction_grid_sargolini']:.3f} (min–max) "
         f"{metrics['fraction_grid_deepmind']:.3f} (mean), spacing "
         f"{metrics['median_spacing_m']:.2f} m, decoding {metrics['decoding_error_cm']:.1f} cm "
         f"vs stay-at-start {metrics['stay_at_start_cm']:.1f} cm over T={config.seq_len}, "
         f"{metrics['decoding_error_rollout_cm']:.1f} vs "
         f"{metrics['stay_at_start_rollout_cm']:.1f} cm over T={protocol.map_steps}", quiet)
    return {**json_safe(record), "skipped": False}


def _one_thread():
    """One torch thread and one BLAS/OpenMP thread; returns the BLAS limiter (to restore)."""
    torch.set_num_threads(1)
    return threadpool_limits(1)


def _stop_on_signals() -> dict[int, Any]:
    """Make the first SIGINT or SIGTERM raise KeyboardInterrupt (on which
    :func:`~mecbench.training.train` saves a checkpoint) and ignore later ones, so that the
    checkpoint is written whole. Returns the previous handlers."""
    def handler(signum, frame):
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, signal.SIG_IGN)
        raise KeyboardInterrupt

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in previous:
        signal.signal(s, handler)
    return previous


def _worker(tasks, results) -> None:
    """A job: run tasks from ``tasks`` until the ``None`` sentinel, report to ``results``."""
    _stop_on_signals()
    _one_thread()
    try:
        while True:
            task = tasks.get()
            if task is None:
                return
            key = (task["name"], task["seed"])
            try:
                results.put(("ok", key, run_one(task)))
            except Exception as err:  # one failed run must not stop the others
                _log(Path(task["out"]), f"[{key[0]}/seed{key[1]}] FAILED: "
                     f"{type(err).__name__}: {err}\n{traceback.format_exc()}", task["quiet"])
                results.put(("failed", key, f"{type(err).__name__}: {err}"))
    except KeyboardInterrupt:  # train() has saved a checkpoint
        return


def _run_all(tasks: list[dict[str, Any]], jobs: int) -> tuple[list[dict], list[dict]]:
    runs: list[dict] = []
    failed: list[dict] = []
    if jobs == 1:
        threads = torch.get_num_threads()
        limiter = _one_thread()
        try:
            for task in tasks:
                try:
                    runs.append(run_one(task))
                except Exception as err:  # one failed run must not stop the others
                    _log(Path(task["out"]), f"[{task['name']}/seed{task['seed']}] FAILED: "
                         f"{type(err).__name__}: {err}\n{traceback.format_exc()}",
                         task["quiet"])
                    failed.append({"config_name": task["name"], "seed": task["seed"],
                                   "error": f"{type(err).__name__}: {err}"})
        finally:
            torch.set_num_threads(threads)
            limiter.restore_original_limits()
        return runs, failed
    ctx = mp.get_context("spawn")
    task_q, result_q = ctx.Queue(), ctx.Queue()
    for task in tasks:
        task_q.put(task)
    procs = [ctx.Process(target=_worker, args=(task_q, result_q), name=f"nfl-job{k}")
             for k in range(jobs)]
    for _ in procs:
        task_q.put(None)
    for p in procs:
        p.start()
    pending = {(t["name"], t["seed"]) for t in tasks}
    try:
        while pending:
            try:
                status, key, payload = result_q.get(timeout=5)
            except queue.Empty:
                if not any(p.is_alive() for p in procs):
                    break
                continue
            pending.discard(key)
            if status == "ok":
                runs.append(payload)
            else:
                failed.append({"config_name": key[0], "seed": key[1], "error": payload})
    except KeyboardInterrupt:
        for p in procs:  # a job saves its checkpoint on its first SIGINT or SIGTERM
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=120)
            if p.is_alive():
                p.kill()
        raise
    for p in procs:
        p.join()
    failed += [{"config_name": n, "seed": s, "error": "the job running it exited"}
               for n, s in sorted(pending)]
    return runs, failed


def _select(text: str | None) -> list[Variant]:
    if not text:
        return list(CONFIGS)
    known = {v.name: v for v in CONFIGS}
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ConfigError("--configs: give at least one configuration name")
    for n in names:
        if n not in known:
            raise UnknownIdentifierError("configuration (--configs)", n, known)
    return [v for v in CONFIGS if v.name in names]


def _positive_int(name: str, value: int | None, default: int, minimum: int = 1) -> int:
    value = default if value is None else value
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Command line (see the module docstring); returns the exit status."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="nfl-runs", help="folder of the runs (default nfl-runs)")
    p.add_argument("--steps", type=int, help=f"training steps per run (default {FULL.steps}; "
                   f"--quick {QUICK.steps})")
    p.add_argument("--seeds", type=int, help=f"seeds 0..K-1 per configuration (default "
                   f"{FULL.seeds}; --quick {QUICK.seeds})")
    p.add_argument("--jobs", type=int, default=2, help="runs at once, one process each "
                   "(default 2)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--configs", help="comma-separated subset of: "
                   + ", ".join(v.name for v in CONFIGS))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="change a network/training field of every run (e.g. n_hidden=256)")
    p.add_argument("--checkpoint-every", type=int, help="steps between checkpoints and log "
                   f"lines (default {FULL.checkpoint_every})")
    p.add_argument("--json", help="also write the result as JSON to this file")
    p.add_argument("--quick", action="store_true", help="tiny networks and measurements: "
                   "checks the pipeline in seconds")
    p.add_argument("--quiet", action="store_true", help="progress to the log file only")
    args = p.parse_args(argv)
    previous = _stop_on_signals()
    try:

        base = QUICK if args.quick else FULL
        variants = _select(args.configs)
        network = {**base.network, **parse_overrides(args.set)}
        swept = sorted(set(network) & {"arch", "activation", "readout", "place_sigma",
                                       "surround_scale", "seed"})
        if swept:
            raise ConfigError(f"--set {', '.join(swept)}: set by the sweep itself (the "
                              "configurations and --seeds)")
        protocol = Protocol(**{**asdict(base), "network": network,
                               "steps": _positive_int("--steps", args.steps, base.steps, 0),
                               "seeds": _positive_int("--seeds", args.seeds, base.seeds),
                               "checkpoint_every": _positive_int(
                                   "--checkpoint-every", args.checkpoint_every,
                                   base.checkpoint_every)})
        jobs = _positive_int("--jobs", args.jobs, 2)
        device = str(usable_device(args.device, "--device"))
        out = Path(args.out).resolve()
        for v in variants:  # bad --set values and foreign run folders fail before any work
            for s in range(protocol.seeds):
                check_run_dir(out / v.name / f"seed{s}", run_config(v, s, network),
                              protocol.steps)
        out.mkdir(parents=True, exist_ok=True)
        command = "scripts/nfl_sweep.py " + " ".join(shlex.quote(a) for a in (
            sys.argv[1:] if argv is None else argv))
        # seed-major: early results cover every configuration; the cheaper cartesian runs last
        tasks = [{"name": v.name, "seed": s, "out": str(out), "protocol": asdict(protocol),
                  "device": device, "command": command, "quiet": args.quiet}
                 for s in range(protocol.seeds) for v in variants]
        t0 = time.perf_counter()
        _log(out, f"sweep: {len(tasks)} runs ({len(variants)} configurations x "
             f"{protocol.seeds} seeds), {protocol.steps} steps, {jobs} job(s), {device}; "
             f"network {json.dumps(network, sort_keys=True)}", args.quiet)
        runs, todo = [], []
        for task in tasks:  # finished runs are read back here, without starting a job
            v = next(v for v in variants if v.name == task["name"])
            run_dir = out / v.name / f"seed{task['seed']}"
            done = _finished(run_dir, run_config(v, task["seed"], network), protocol)
            if done is None:
                todo.append(task)
            else:
                runs.append({**done, "skipped": True})
                _log(out, f"[{v.name}/seed{task['seed']}] finished earlier (step "
                     f"{done['step']}): skipped", args.quiet)
        trained, failed = _run_all(todo, min(jobs, len(todo))) if todo else ([], [])
        runs += trained
        summary = summarise(runs, variants)
        result = {"paper": "Schaeffer, Khona & Fiete 2022, No Free Lunch from Deep Learning "
                           "in Neuroscience",
                  "command": command, "protocol": asdict(protocol),
                  "analysis": protocol.analysis(), "configs": summary, "failed": failed,
                  "wall_time_s": time.perf_counter() - t0}
        table = format_table(summary, train_len=run_config(variants[0], 0, network).seq_len,
                             rollout_len=protocol.map_steps)
        _write_json(out / SUMMARY_FILE, result)
        atomic_write(out / TABLE_FILE, lambda tmp: Path(tmp).write_text(table, "utf-8"))
        if args.json:
            _write_json(Path(args.json), result)
        _log(out, f"sweep finished in {result['wall_time_s']:.0f} s: {len(runs)} runs, "
             f"{len(failed)} failed", args.quiet)
    except KeyboardInterrupt:
        text = "interrupted: checkpoints saved; run the same command again to resume"
        if (Path(args.out) / LOG_FILE).is_file():
            _log(Path(args.out).resolve(), text, quiet=True)
        print(text, file=sys.stderr)
        return 130
    except MecbenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    sys.stdout.write(table)
    for f in failed:
        print(f"FAILED {f['config_name']}/seed{f['seed']}: {f['error']}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
