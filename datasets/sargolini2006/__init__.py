"""Dataset plugin ``sargolini2006``: the open-field MEC recordings of Sargolini et al. 2006.

The data are not shipped: point ``data_dir`` (or the ``MECBENCH_DATA`` environment variable, or
the command line's global ``mecbench --data-dir DIR``, which sets it for one command) at a local
copy of either public release —

- the Kavli Institute grid-cell data page release (Moser-lab ``.mat`` files, both layouts), or
- DANDI 000582 (NWB: ``Units.spike_times`` plus a ``Position`` ``SpatialSeries`` per LED).

``MECBENCH_DATA`` (and ``--data-dir``) may name the release folder itself or a folder that
holds it under ``sargolini2006/``. The recordings are binned with
:func:`mecbench.loaders.load_recordings` on the 1 m × 1 m box of the experiment (README.md in
this folder lists the parameters).
"""

from __future__ import annotations

import os
from pathlib import Path

from mecbench.errors import ConfigError
from mecbench.neural_data import NeuralData

__all__ = ["load", "resolve_data_dir", "PROVENANCE", "ARENA_SIDE"]

ARENA_SIDE = 1.0  # m: "rats that were running in a 1 x 1 m enclosure" (release readme)

PROVENANCE = {
    "dataset": "sargolini2006",
    "citation": (
        "Sargolini F, Fyhn M, Hafting T, McNaughton BL, Witter MP, Moser M-B, Moser EI (2006). "
        "Conjunctive representation of position, direction, and velocity in entorhinal cortex. "
        "Science 312:758-762. doi:10.1126/science.1125572"
    ),
    "data_source": (
        "Kavli Institute for Systems Neuroscience (NTNU) grid-cell data page "
        "(https://www.ntnu.edu/kavli/research/grid-cell-data), or DANDI Archive dandiset 000582"
    ),
    "licence": (
        "Kavli release: free to use, refer to the Kavli grid-cell data page in your methods "
        "(readme_sargolini2006.txt); DANDI 000582: see the dandiset's licence"
    ),
}


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The folder holding the release: ``data_dir``, else ``$MECBENCH_DATA`` (or its
    ``sargolini2006/`` sub-folder).

    Raises
    ------
    ConfigError
        When neither is set or the folder does not exist.
    """
    if data_dir is None:
        env = os.environ.get("MECBENCH_DATA")
        if not env:
            raise ConfigError(
                "sargolini2006: no data directory; point data_dir=..., MECBENCH_DATA or the "
                "command line's `mecbench --data-dir DIR` at a local copy of the Kavli grid-cell "
                "data release or of DANDI 000582"
            )
        root = Path(env).expanduser()
        if (root / "sargolini2006").is_dir():
            root = root / "sargolini2006"
        origin = f"MECBENCH_DATA={env}"
    else:
        root = Path(data_dir).expanduser()
        origin = f"data_dir={data_dir}"
    if not root.is_dir():
        raise ConfigError(f"sargolini2006: {origin}: no such directory")
    return root


def load(data_dir: str | os.PathLike | None = None, **kw) -> NeuralData:
    """Sargolini et al. 2006 open-field MEC cells (1 m box), from a local Kavli or DANDI copy.

    Parameters
    ----------
    data_dir : path, optional
        Folder of the Kavli ``.mat`` release or of DANDI 000582 (default ``$MECBENCH_DATA``).
    **kw
        Passed to :func:`mecbench.loaders.load_recordings`: ``bin_size`` (default 0.05 m),
        ``smoothing_sigma``, ``min_occupancy``, ``speed_min``, ``arena`` (default 1 m),
        ``spikes_outside`` (default ``"drop"``: spikes after the last position sample are
        dropped and counted in the ``n_spikes_outside_recording`` attribute)...

    Returns
    -------
    NeuralData
        One arena (``"1x1m"``), neuroids ``"<rat>/<session>/<cell>"`` tagged by ``animal`` (rat),
        ``session`` and ``cell_id``; provenance in ``attrs``.
    """
    from mecbench.loaders import load_recordings

    root = resolve_data_dir(data_dir)
    kw.setdefault("arena", ARENA_SIDE)
    kw.setdefault("spikes_outside", "drop")
    attrs = {**PROVENANCE, **kw.pop("attrs", {})}
    nd = load_recordings(root, attrs=attrs, **kw)
    return nd
