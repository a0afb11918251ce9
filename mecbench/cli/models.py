"""``mecbench models``: list the registered models, describe one, write its rate maps.

``mecbench models [list] [--json]`` lists every model (entry points of the group
``mecbench.models`` and models registered by ``--plugin`` files) with a one-line description;
a model whose module fails to import is listed as ``(failed to load: ...)``.

``mecbench models show NAME [--json]`` loads the model and prints its type, layers, default
layer and fingerprint.

``mecbench models ratemaps NAME --arena W[xH] [--bin-size M] [--layer L] [--seed S] -o OUT.nc``
writes the rate maps of one layer as a netCDF DataArray (atomically).
"""

from __future__ import annotations

import argparse

from mecbench import registry
from mecbench.cli import _options as opt
from mecbench.registry import load_model

__all__ = ["register", "list_models"]


def register(subparsers) -> None:
    """Add the ``models`` command and its ``list`` / ``show`` / ``ratemaps`` sub-commands."""
    parser = subparsers.add_parser(
        "models", help="list registered models, describe one, write its rate maps",
        description="List registered models (default), describe one, or write its rate maps.")
    parser.add_argument("--json", action="store_true", help="machine-readable list")
    parser.set_defaults(func=_list)
    sub = parser.add_subparsers(dest="models_command", metavar="SUBCOMMAND")

    lst = sub.add_parser("list", help="list models with a one-line description")
    lst.add_argument("--json", action="store_true", help="machine-readable output")
    lst.set_defaults(func=_list)

    show = sub.add_parser("show", help="layers, default layer and fingerprint of a model")
    show.add_argument("name", help="model identifier")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(func=_show)

    maps = sub.add_parser("ratemaps", help="write a model's rate maps on an arena (netCDF)",
                          description="Compute the rate maps of one layer of a model on an "
                                      "arena's grid and write them as a netCDF DataArray.")
    maps.add_argument("name", help="model identifier")
    maps.add_argument("--arena", required=True, metavar="W[xH]",
                      help="box size in metres, e.g. 1 or 2.2x2.2m")
    maps.add_argument("--bin-size", type=float, default=0.05, metavar="M",
                      help="bin side in metres (default 0.05)")
    maps.add_argument("--layer", default=None, help="layer (default: the model's default)")
    maps.add_argument("--seed", type=int, default=0, help="trajectory seed (default 0)")
    maps.add_argument("-o", "--output", required=True, metavar="OUT.nc", help="output file")
    maps.set_defaults(func=_ratemaps)


def list_models() -> list[dict[str, str]]:
    """Every registered model name with its one-line description.

    A model whose plugin cannot be imported is described as ``(failed to load: ...)``; listing
    never raises because of one broken plugin.
    """
    rows = []
    for name in registry.names("model"):
        try:
            description = registry.describe("model", name)
        except Exception as err:  # a broken third-party plugin must not break the listing
            description = f"(failed to load: {type(err).__name__}: {err})"
        rows.append({"name": name, "description": description})
    return rows


def _list(args: argparse.Namespace) -> int:
    rows = list_models()
    if args.json:
        opt.print_json({"schema": opt.JSON_SCHEMA_VERSION, "command": "models", "models": rows})
        return 0
    if not rows:
        print("no models registered (install a plugin package or pass --plugin FILE.py)")
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        print(f"{r['name']:<{width}}  {r['description']}".rstrip())
    return 0


def _describe(name: str, provider) -> dict:
    info = {
        "name": name,
        "identifier": getattr(provider, "identifier", name),
        "type": type(provider).__name__,
        "description": registry.describe("model", name),
        "layers": list(provider.layers),
        "default_layer": provider.default_layer,
        "fingerprint": provider.fingerprint(),
    }
    if hasattr(provider, "n_positions"):
        info["trajectory_positions"] = provider.n_positions
    return info


def _show(args: argparse.Namespace) -> int:
    info = _describe(args.name, load_model(args.name))
    if args.json:
        opt.print_json({"schema": opt.JSON_SCHEMA_VERSION, "command": "models show", **info})
        return 0
    for key, value in info.items():
        if isinstance(value, list):
            value = ", ".join(value)
        print(f"{key.replace('_', ' '):<22} {value}")
    return 0


def _ratemaps(args: argparse.Namespace) -> int:
    from mecbench.neural_data import atomic_write
    from mecbench.providers._common import as_arena

    arena = as_arena(args.arena, args.bin_size)
    provider = load_model(args.name)
    if args.quiet and hasattr(provider, "progress"):
        provider.progress = False
    maps = provider.rate_maps(arena, args.layer, seed=args.seed)
    maps = maps.copy()
    maps.attrs["fingerprint"] = provider.fingerprint()
    atomic_write(args.output, lambda tmp: maps.to_netcdf(tmp))
    if not args.quiet:
        print(f"wrote {maps.sizes['neuroid']} units of layer {maps.attrs['layer']!r} of "
              f"{args.name!r} on {arena.key} ({arena.shape[0]}x{arena.shape[1]} bins) to "
              f"{args.output}")
    return 0
