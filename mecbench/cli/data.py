"""``mecbench data import`` and ``mecbench data info``.

``mecbench data import PATH [--format auto|moser|nwb|dict] [--arena W[xH]] [--bin-size M]
[--smoothing M] [--min-occupancy S] [--speed-min M/S] -o OUT.nc`` bins recordings into a
NeuralData netCDF file, written atomically (an existing OUT is replaced only on success).

``mecbench data info FILE [--json]`` describes a NeuralData file (or any importable recording):
arenas, animals, cells, bins, coverage and provenance.
"""

from __future__ import annotations

import argparse
import json
import sys

from mecbench.errors import ConfigError

__all__ = ["register", "describe_data"]


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
    imp.add_argument("path", nargs="+", help="file(s) or directory of recordings")
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
    imp.add_argument("--position-unit", default="cm", choices=["cm", "m", "mm"],
                     help="unit of positions in .mat files (default cm)")
    imp.add_argument("--drop-spikes-outside", action="store_true",
                     help="drop spikes outside the position recording instead of failing")
    imp.add_argument("-o", "--output", required=True, metavar="OUT.nc", help="output file")
    imp.set_defaults(func=_import)

    info = sub.add_parser("info", help="describe a NeuralData file or a recording",
                          description="Arenas, animals, cells, bins, coverage, provenance.")
    info.add_argument("path", help="a NeuralData .nc file (or any importable recording)")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(func=_info)


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
    binned_options = kw or args.arena is not None or args.position_unit != "cm"
    if fmt == "dict" and binned_options:
        raise ConfigError("--format dict holds rate maps already: binning options do not apply")
    extra = {} if fmt == "dict" else {"position_unit": args.position_unit}
    nd = load_recordings(
        args.path if len(args.path) > 1 else args.path[0], format=fmt,
        arena=parse_arena(args.arena), bin_size=args.bin_size,
        progress=not args.quiet and sys.stderr.isatty(),
        attrs={"created_by": "mecbench data import"}, **extra, **kw,
    )
    nd.save(args.output)
    if not args.quiet:
        print(f"wrote {args.output}: {nd!r}")
    return 0


def describe_data(nd) -> dict:
    """A JSON-ready summary of NeuralData: per arena grid, animals, cells and coverage."""
    import numpy as np

    out = {"attrs": {k: (v.item() if hasattr(v, "item") else v) for k, v in nd.attrs.items()},
           "n_neuroids": nd.n_neuroids, "arenas": {}}
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
        out["arenas"][name] = entry
    return out


def _info(args: argparse.Namespace) -> int:
    from mecbench.loaders import load_recordings

    nd = load_recordings(args.path)
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
    if summary["attrs"]:
        print("  provenance:")
        for k in sorted(summary["attrs"]):
            print(f"    {k}: {summary['attrs'][k]}")
    return 0
