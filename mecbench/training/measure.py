"""Measure a trained checkpoint: position-decoding error and fraction of grid-like units.

``python -m mecbench.training.measure DIR [--arena 2.2] [--seed 0] [--json OUT]``

* Decoding error: :func:`~mecbench.training.trainer.evaluate_decoding` on batches never used
  in training (path integrators: readout decoding along random walks of the training length;
  SSL model: nearest-neighbour decoding across permutations).
* Grid-like units: rate maps of every layer from :class:`~mecbench.providers.NetworkProvider`
  with the Nayebi et al. protocol (100 batches × 200 random walks × 20 steps, 5 cm bins) in the
  training box, then :func:`mecbench.analysis.fraction_grid` with threshold 0.3 in the
  min–max (Sargolini) form, and for reference in the mean (DeepMind) form.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from mecbench.analysis import grid_scores
from mecbench.nets.checkpoint import build_network, load_network, weights_fingerprint
from mecbench.providers import NetworkProvider
from mecbench.ratemaps import Arena
from mecbench.training.trainer import evaluate_decoding

__all__ = ["grid_fractions", "measure_checkpoint", "readme_text", "main"]


def grid_fractions(model, arena, *, seed: int = 0, n_batches: int = 100,
                   threshold: float = 0.3, name: str = "model", device: str = "cpu"
                   ) -> dict[str, Any]:
    """Per layer: unit count, fraction with grid score > ``threshold`` (both forms), median and
    max score, number of spatially active units; rate maps from :class:`NetworkProvider`
    (rolled out on ``device``)."""

    provider = NetworkProvider(model, name, n_batches=n_batches, device=device, progress=False)
    layers: dict[str, Any] = {}
    for layer in provider.layers:
        maps = provider.rate_maps(arena, layer, seed=seed)
        entry: dict[str, Any] = {"n_units": int(maps.sizes["neuroid"])}
        for form in ("sargolini", "deepmind"):
            scores = grid_scores(maps, form=form).values
            finite = np.isfinite(scores)
            entry[f"fraction_grid_{form}"] = float(np.mean(
                np.nan_to_num(scores, nan=-np.inf) > threshold))
            entry[f"median_score_{form}"] = float(np.nanmedian(scores)) if finite.any() \
                else float("nan")
            entry[f"max_score_{form}"] = float(np.nanmax(scores)) if finite.any() \
                else float("nan")
        active = np.asarray(maps.std(dim=("x", "y")).values) > 1e-6
        entry["n_spatially_active"] = int(active.sum())
        layers[layer] = entry
    return layers


def measure_checkpoint(directory: str | Path, *, arena_width: float | None = None,
                       seed: int = 0, n_batches: int = 100, threshold: float = 0.3,
                       decode_batches: int = 20, untrained_control: bool = True,
                       device: str = "cpu") -> dict[str, Any]:
    """Decoding error and grid fractions of the network saved in ``directory``.

    Returns a JSON-able dict with ``decoding_error_m`` and ``layers`` (see
    :func:`grid_fractions`); with ``untrained_control`` also the same numbers for the same
    configuration with untrained weights (seed 0) under ``untrained``. Networks run on
    ``device``; the trajectories are drawn on the CPU, so the numbers do not depend on it
    beyond floating-point rounding.
    """

    directory = Path(directory)
    model = load_network(directory, device=device)
    config = model.config
    width = float(arena_width or config.arena_width)
    height = width if arena_width else float(config.arena_height)
    arena = Arena(width, height, 0.05)
    t0 = time.perf_counter()
    out: dict[str, Any] = {
        "checkpoint": str(directory),
        "sha256": weights_fingerprint(directory),
        "step": int(getattr(model, "checkpoint_metadata", {}).get("step", -1)),
        "decoding_error_m": evaluate_decoding(model, n_batches=decode_batches, device=device),
        "arena": arena.key,
        "threshold": threshold,
        "rate_map_protocol": f"{n_batches} batches x 200 trajectories x 20 steps, seed {seed}",
        "layers": grid_fractions(model, arena, seed=seed, n_batches=n_batches,
                                 threshold=threshold, name=directory.name, device=device),
        "default_layer": model.default_layer,
    }
    if untrained_control:
        control = build_network(config.replace(seed=0)).eval().to(device)
        out["untrained"] = {
            "decoding_error_m": evaluate_decoding(control, n_batches=decode_batches,
                                                  device=device),
            "layers": grid_fractions(control, arena, seed=seed, n_batches=n_batches,
                                     threshold=threshold, name="untrained", device=device),
        }
    out["measure_wall_s"] = time.perf_counter() - t0
    return out


def readme_text(directory: str | Path, result: dict[str, Any], *, name: str | None = None,
                description: str = "", how_trained: str | None = None) -> str:
    """README of a shipped checkpoint from its training state and a measurement.

    ``how_trained`` replaces the default paragraph (trained on a 2-core CPU by the commands
    recorded in ``training_state.json``). When the training folder holds a ``curve.json``
    (written by ``scripts/train_timeboxed.py``), its learning curve is added as a table.
    """
    directory = Path(directory)
    state = json.loads((directory / "training_state.json").read_text())
    config = json.loads((directory / "config.json").read_text())
    name = name or directory.name
    lines = [f"# {name}", ""]
    if description:
        lines += [description, ""]
    if how_trained is None:
        how_trained = "\n".join([
            "Trained by mecbench's own training command on a shared 2-core CPU "
            "(one torch thread):", "", "```", *state["commands"], "```"])
    lines += [
        how_trained,
        "",
        "`config.json` and `model.safetensors` were then copied from the training folder into "
        "this one (the optimizer state `training_state.*` is not shipped).",
        "",
        f"- seed: {state['seed']}",
        f"- steps: {state['step']}",
        f"- wall time: {state['wall_time_s']:.0f} s",
        f"- weights sha256 (config.json + model.safetensors): {result['sha256']}",
        f"- decoding error: {result['decoding_error_m'] * 100:.1f} cm "
        "(mean over 20 fresh batches; "
        + ("nearest-neighbour decoding across permutations)" if config["arch"] == "ssl"
           else "decoded from the readout along random walks of the training length)"),
        "",
        f"Grid analysis (`python -m mecbench.training.measure <this folder>`): rate maps "
        f"in the {result['arena']} training box, 5 cm bins, {result['rate_map_protocol']}; "
        f"fraction of units with grid score > {result['threshold']} in the min–max "
        "(Sargolini) form, with the mean (DeepMind) form for comparison.",
        "",
        "| layer | units | fraction grid score > 0.3 (min–max) | (mean form) "
        "| median score (min–max) | max score (min–max) |",
        "|---|---|---|---|---|---|",
    ]
    rows = [("", result["layers"])]
    if "untrained" in result:
        rows.append((" (untrained, seed 0)", result["untrained"]["layers"]))
    for suffix, layers in rows:
        for layer, e in layers.items():
            lines.append(
                f"| {layer}{suffix} | {e['n_units']} | {e['fraction_grid_sargolini']:.3f} | "
                f"{e['fraction_grid_deepmind']:.3f} | {e['median_score_sargolini']:.2f} | "
                f"{e['max_score_sargolini']:.2f} |")
    if "untrained" in result:
        lines += ["", "The untrained rows are the same configuration with the initial weights "
                  "of seed 0 (what `untrained/<arch>` gives), as a chance reference; its "
                  f"decoding error is {result['untrained']['decoding_error_m'] * 100:.1f} cm."]
    lines += ["", "Configuration (`config.json`):", "", "```json",
              json.dumps(config, indent=1, sort_keys=True), "```", ""]
    curve_file = directory / "curve.json"
    if curve_file.is_file():
        lines += _curve_table(json.loads(curve_file.read_text()))
    hist = state.get("history", [])
    if hist:
        lines += ["Training curve (loss and decoding error on the training batch):", "",
                  "| step | loss | decoding error (cm) |", "|---|---|---|"]
        stride = max(1, len(hist) // 8)
        for h in hist[stride - 1::stride]:
            lines.append(f"| {h['step']} | {h['loss']:.4f} | "
                         f"{h['decoding_error_m'] * 100:.1f} |")
        lines.append("")
    return "\n".join(lines)


def _curve_table(curve: list[dict[str, Any]]) -> list[str]:
    """Markdown table of a learning curve written by ``scripts/train_timeboxed.py``."""
    decoding = sorted({k for p in curve for k in p if k.startswith("decoding_cm_T")})
    grids = sorted({k for p in curve for k in p if k.startswith("grid_")
                    and k.endswith("_sargolini")})
    lengths = [k.removeprefix("decoding_cm_T") for k in decoding]
    head = (["step", "wall time (s)"]
            + [f"decoding error T={t} (cm)" for t in lengths]
            + [f"stay at start T={t} (cm)" for t in lengths
               if any(f"stay_at_start_cm_T{t}" in p for p in curve)]
            + [f"grid fraction {k.removeprefix('grid_').removesuffix('_sargolini')}"
               for k in grids])
    lines = ["Learning curve (after each training chunk; decoding error on fresh walks; "
             "grid fraction > 0.3 in the min–max form from a reduced rate-map protocol of "
             "20 batches, so it is noisier than the table above):", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def cell(point: dict[str, Any], key: str, fmt: str) -> str:
        return format(point[key], fmt) if key in point else "-"

    for p in curve:
        row = [str(p["step"]), f"{p['wall_time_s']:.0f}"]
        row += [cell(p, k, ".1f") for k in decoding]
        row += [cell(p, f"stay_at_start_cm_T{t}", ".1f") for t in lengths
                if any(f"stay_at_start_cm_T{t}" in q for q in curve)]
        row += [cell(p, k, ".3f") for k in grids]
        lines.append("| " + " | ".join(row) + " |")
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: print (and optionally save) the measurements as JSON."""
    p = argparse.ArgumentParser(prog="python -m mecbench.training.measure",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("directory")
    p.add_argument("--arena", type=float, default=None, help="box side (m); default: training")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-batches", type=int, default=100)
    p.add_argument("--json", default=None, help="also write the result here")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--readme", action="store_true",
                   help="write README.md into the (training) directory")
    p.add_argument("--description", default="", help="first paragraph of the README")
    args = p.parse_args(argv)
    result = measure_checkpoint(args.directory, arena_width=args.arena, seed=args.seed,
                                n_batches=args.n_batches, device=args.device)
    text = json.dumps(result, indent=1, sort_keys=True)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    if args.readme:
        readme = readme_text(args.directory, result, description=args.description)
        Path(args.directory, "README.md").write_text(readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
