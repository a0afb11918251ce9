"""``mecbench data import`` and ``mecbench data info``.

``mecbench data import PATH... [--format auto|moser|nwb|dict] [--animal NAME]... [--session
NAME]... [--position-unit cm|m|mm|M] [--arena W[xH]] [--bin-size M] [--smoothing M]
[--min-occupancy S] [--speed-min M/S] -o OUT.nc`` bins recordings into a NeuralData netCDF file,
written atomically (an existing OUT is replaced only on success), and prints the box of each
arena, how it was found and the unit the positions were read in. Warnings (an implausible box,
renamed cell ids) go to stderr as ``mecbench: warning: ...``.

``mecbench data info FILE [--json]`` describes a NeuralData file (or any importable recording):
arenas, animals, cells, bins, coverage and provenance.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings

from mecbench.errors import ConfigError

__all__ = ["register", "describe_data", "arena_lines"]


def register(subparsers) -> None:
    """Add the ``data`` command and its ``import`` / ``info`` sub-commands."""
    parser = subparsers.add_parser("data", help="import recordings and describe data files",
                                   description="Import recordings and describe data files.")
    sub = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    sub.required = True

    imp = sub.add_parser(
        "import", help="bin recordings (Moser .mat, NWB, Nayebi .npz) into a NeuralData file",
        description="Bin recordings into rate maps and write a NeuralData netCDF file.",
    )
    imp.add_argument("path", nargs="+",
                     help="files or directories of recordings (several make one data file)")
    imp.add_argument("--format", default="auto", choices=["auto", "moser", "nwb", "dict"],
                     help="input format (default: auto-detect)")
    imp.add_argument("--arena", default=None, metavar="W[xH]",
                     help="box size in metres, e.g. 1 or 1.5x1 (default: inferred per session)")
    imp.add_argument("--bin-size", type=float, default=None, metavar="M",
                     help="bin side in metres (default 0.05)")
    imp.add_argument("--smoothing", type=float, default=None, metavar="M",
                     help="Gaussian smoothing sigma in metres (default 0.05; 0 = none)")
    imp.add_argument("--min-occupancy", type=float, default=None, metavar="S",
                     help="seconds per bin below which rates are NaN (default 0.1)")
    imp.add_argument("--speed-min", type=float, default=None, metavar="M/S",
                     help="drop samples slower than this (default 0.025 m/s)")
    imp.add_argument("--position-unit", default=None, metavar="cm|m|mm|M",
                     help="unit of positions in .mat files: cm, m, mm, or metres per unit "
                          "(e.g. 0.0029 for pixels of 2.9 mm; default cm)")
    _label_options(imp)
    imp.add_argument("--drop-spikes-outside", action="store_true",
                     help="drop spikes outside the position recording instead of failing")
    imp.add_argument("-o", "--output", required=True, metavar="OUT.nc", help="output file")
    imp.set_defaults(func=_import)

    info = sub.add_parser("info", help="describe a NeuralData file or a recording",
                          description="Arenas, animals, cells, bins, coverage, provenance.")
    info.add_argument("path", help="a NeuralData .nc file (or any importable recording)")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    _label_options(info)
    info.set_defaults(func=_info)


def _label_options(parser) -> None:
    parser.add_argument(
        "--animal", action="append", default=None, metavar="NAME",
        help="animal of recordings whose file names do not say it: once for all paths or "
             "once per path, in order (overrides the names)")
    parser.add_argument(
        "--session", action="append", default=None, metavar="NAME",
        help="session of recordings whose file names do not say it: once for all paths or "
             "once per path, in order (overrides the names)")


def _labels(args: argparse.Namespace, n_paths: int) -> dict:
    """``animal=`` / ``session=`` for load_recordings from --animal / --session."""
    out = {}
    for name in ("animal", "session"):
        given = getattr(args, name, None)
        if given is None:
            continue
        if len(given) not in (1, n_paths):
            raise ConfigError(
                f"--{name}: give it once for all paths or once per path ({n_paths} paths), "
                f"got {len(given)}: {given}"
            )
        out[name] = given[0] if len(given) == 1 else list(given)
    return out


def _position_unit(text: str | None):
    """``--position-unit``: a unit name or a positive number of metres per unit."""
    if text is None:
        return "cm"
    if text in ("cm", "m", "mm"):
        return text
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(
            f"--position-unit {text}: give cm, m, mm or a positive number of metres per unit"
        )
    return value


def _print_warnings(caught) -> None:
    for w in caught:
        print(f"mecbench: warning: {w.message}", file=sys.stderr)


def _arena_line(key: str, e: dict) -> str:
    w, h = e["arena_m"]
    how = "inferred from the positions" if e["how"] == "inferred" else "given"
    rw, rh = e["position_range_m"]
    line = (f"arena {key}: {w:g} x {h:g} m box {how}; positions read as "
            f"{e['position_unit']}, tracked range up to {rw:.3g} x {rh:.3g} m "
            f"({e['sessions']} session{'s' * (e['sessions'] != 1)})")
    if not e.get("plausible", True):
        line += "; implausible for a rodent arena: check --position-unit and --arena"
    return line


def _arena_report(nd) -> dict:
    try:
        report = json.loads(nd.attrs.get("arena_inference", "{}"))
    except (TypeError, ValueError):
        return {}
    return report if isinstance(report, dict) else {}


def arena_lines(nd) -> list[str]:
    """One line per arena: its box, how it was found and the unit of the positions (from the
    ``arena_inference`` attribute written at import; none for data without it)."""
    report = _arena_report(nd)
    return [_arena_line(key, report[key]) for key in sorted(report)]


def _import(args: argparse.Namespace) -> int:
    from mecbench.loaders import load_recordings
    from mecbench.loaders.recording import parse_arena

    kw = {}
    if args.smoothing is not None:
        kw["smoothing_sigma"] = args.smoothing
    if args.min_occupancy is not None:
        kw["min_occupancy"] = args.min_occupancy
    if args.speed_min is not None:
        kw["speed_min"] = args.speed_min
    if args.drop_spikes_outside:
        kw["spikes_outside"] = "drop"
    if not str(args.output).endswith((".nc", ".nc4")):
        raise ConfigError(f"-o {args.output}: the output must be a netCDF file ending in .nc")
    fmt = args.format
    unit = _position_unit(args.position_unit)
    labels = _labels(args, len(args.path))
    binned_options = kw or args.arena is not None or args.position_unit is not None or labels
    if fmt == "dict" and binned_options:
        raise ConfigError("--format dict holds rate maps already: binning, unit and label "
                          "options do not apply")
    extra = {} if fmt == "dict" else {"position_unit": unit, **labels}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            nd = load_recordings(
                args.path if len(args.path) > 1 else args.path[0], format=fmt,
                arena=parse_arena(args.arena), bin_size=args.bin_size,
                progress=not args.quiet and sys.stderr.isatty(),
                attrs={"created_by": "mecbench data import"}, **extra, **kw,
            )
        finally:
            _print_warnings(caught)
    nd.save(args.output)
    if not args.quiet:
        for line in arena_lines(nd):
            print(line)
        print(f"wrote {args.output}: {nd!r}")
    return 0


def describe_data(nd) -> dict:
    """A JSON-ready summary of NeuralData: per arena grid, animals, cells and coverage."""
    import numpy as np

    out = {"attrs": {k: (v.item() if hasattr(v, "item") else v) for k, v in nd.attrs.items()},
           "n_neuroids": nd.n_neuroids, "arenas": {}}
    report = _arena_report(nd)
    for name in nd.arena_names:
        ds = nd.arena(name)
        rate = ds["rate"].values
        finite = np.isfinite(rate)
        coverage = finite.mean(axis=(0, 1))
        animals = ds["animal"].values.astype(str)
        per_animal = {a: int((animals == a).sum()) for a in nd.animals(name)}
        entry = {
            "arena_width_m": float(ds.attrs["arena_width"]),
            "arena_height_m": float(ds.attrs["arena_height"]),
            "bin_size_m": float(ds.attrs["bin_size"]),
            "bins": [int(ds.sizes["x"]), int(ds.sizes["y"])],
            "n_neuroids": int(ds.sizes["neuroid"]),
            "cells_per_animal": per_animal,
            "coverage_median": float(np.median(coverage)),
            "coverage_min": float(coverage.min()),
            "bins_visited_by_all": float(finite.all(axis=2).mean()),
            "peak_rate_median_hz": float(np.median(np.nanmax(np.where(finite, rate, -np.inf),
                                                              axis=(0, 1)))),
            "has_halves": "rate_halves" in ds,
            "has_occupancy": "occupancy" in ds,
        }
        if "session" in ds.coords:
            entry["n_sessions"] = int(len(set(ds["session"].values.astype(str).tolist())))
        if name in report:
            entry["box"] = report[name]
        out["arenas"][name] = entry
    return out


def _info(args: argparse.Namespace) -> int:
    from mecbench.loaders import load_recordings

    labels = _labels(args, 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            nd = load_recordings(args.path, **labels)
        finally:
            _print_warnings(caught)
    summary = describe_data(nd)
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True, default=str))
        return 0
    print(f"{args.path}: {summary['n_neuroids']} neuroids in {len(summary['arenas'])} arena(s)")
    for name, e in summary["arenas"].items():
        animals = ", ".join(f"{a} ({n})" for a, n in e["cells_per_animal"].items())
        print(f"  arena {name}: {e['bins'][0]}x{e['bins'][1]} bins of {e['bin_size_m']:g} m; "
              f"{e['n_neuroids']} cells from {len(e['cells_per_animal'])} animals: {animals}")
        print(f"    coverage per cell: median {e['coverage_median']:.1%}, "
              f"min {e['coverage_min']:.1%}; bins visited for every cell: "
              f"{e['bins_visited_by_all']:.1%}; median peak rate "
              f"{e['peak_rate_median_hz']:.2f} Hz")
        print(f"    split halves: {'yes' if e['has_halves'] else 'no'}; occupancy: "
              f"{'yes' if e['has_occupancy'] else 'no'}"
              + (f"; sessions: {e['n_sessions']}" if "n_sessions" in e else ""))
        if "box" in e:
            print("    " + _arena_line(name, e["box"]).split(": ", 1)[1])
    if summary["attrs"]:
        print("  provenance:")
        for k in sorted(summary["attrs"]):
            print(f"    {k}: {summary['attrs'][k]}")
    return 0
