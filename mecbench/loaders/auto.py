"""``load_recordings``: any supported recording format in, NeuralData out.

Formats and how ``format="auto"`` recognises them:

============  =======================================  ===========================================
format        what                                     recognised by
============  =======================================  ===========================================
``moser``     Moser-lab ``.mat`` (both layouts)        ``.mat`` suffix or a ``MATLAB`` header
``nwb``       NWB (Units + Position/SpatialSeries)     ``.nwb`` suffix or an HDF5 file with
                                                       an ``nwb_version`` attribute
``dict``      Nayebi et al. dict as ``.npz``           ``.npz`` suffix or a zip header
``netcdf``    our NeuralData netCDF                    ``.nc`` suffix or another HDF5 file
============  =======================================  ===========================================

A directory is searched recursively for ``.mat`` and ``.nwb`` files (both may be present; their
sessions are binned together). Pickles are refused (see :mod:`mecbench.loaders.nayebi`).
``moser`` and ``nwb`` are binned (:func:`mecbench.loaders.recording.bin_recordings`); ``dict``
and ``netcdf`` are already rate maps and take no binning options.

Several paths (each a file or a directory) make one NeuralData; ``animal=`` and ``session=``
label the recordings of paths whose file names do not say them (see
:mod:`mecbench.loaders.moser`), one label for all paths or one per path.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from mecbench.errors import ConfigError, DataError, MecbenchError
from mecbench.loaders.moser import _labels, read_moser
from mecbench.loaders.nayebi import load_nayebi_npz
from mecbench.loaders.nwb import read_nwb
from mecbench.loaders.recording import Recording, bin_recordings
from mecbench.neural_data import NeuralData

__all__ = ["load_recordings", "detect_format", "FORMATS"]

FORMATS = ("auto", "moser", "nwb", "dict", "netcdf")
_ALIASES = {"mat": "moser", "nc": "netcdf", "npz": "dict", "nayebi": "dict"}
_BINNED = ("moser", "nwb")
_PICKLE_SUFFIXES = {".pkl", ".pickle", ".p", ".pck", ".pckl"}


def _sniff(path: Path) -> str | None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as err:
        raise DataError(f"{path}: cannot be read ({err})") from None
    if head.startswith(b"MATLAB"):
        return "moser"
    if head.startswith(b"PK"):
        return "dict"
    if head.startswith(b"\x89HDF"):
        try:
            import h5py

            with h5py.File(path, "r") as fh:
                if "nwb_version" in fh.attrs:
                    return "nwb"
        except Exception:  # noqa: BLE001 - unreadable HDF5: let the netCDF reader report it
            pass
        return "netcdf"
    if head.startswith(b"CDF"):
        return "netcdf"
    return None


def detect_format(path: str | os.PathLike) -> str:
    """The format of one file or directory (see the module docstring).

    Raises
    ------
    DataError
        For a missing path, a pickle, an empty directory or an unknown file.
    """
    path = Path(path)
    if path.is_dir():
        kinds = {q.suffix.lower() for q in path.rglob("*") if q.is_file()}
        mat, nwb = ".mat" in kinds, ".nwb" in kinds
        if mat and nwb:
            return "moser+nwb"
        if mat:
            return "moser"
        if nwb:
            return "nwb"
        raise DataError(f"{path}: no .mat or .nwb recordings in this directory")
    if not path.is_file():
        raise DataError(f"{path}: no such file or directory")
    suffix = path.suffix.lower()
    if suffix in _PICKLE_SUFFIXES:
        raise DataError(
            f"{path}: mecbench never unpickles files; convert your own pickle to .npz with "
            "mecbench.loaders.save_nayebi_npz (see its documentation)"
        )
    by_suffix = {".mat": "moser", ".nwb": "nwb", ".npz": "dict", ".nc": "netcdf",
                 ".nc4": "netcdf", ".netcdf": "netcdf"}
    if suffix in by_suffix:
        return by_suffix[suffix]
    sniffed = _sniff(path)
    if sniffed is None:
        raise DataError(
            f"{path}: unknown recording format (expected .mat, .nwb, .npz or .nc); "
            "name it with format="
        )
    return sniffed


def _as_paths(path) -> list[Path]:
    if isinstance(path, (str, os.PathLike)):
        return [Path(path)]
    if isinstance(path, Iterable):
        paths = [Path(p) for p in path]
        if not paths:
            raise DataError("no path given")
        return paths
    raise ConfigError(f"path must be a path or a list of paths, got {type(path).__name__}")


def _read_binnable(paths: list[Path], kinds: list[str], animal, session,
                   position_unit: str | float) -> tuple[list[Recording], str]:
    """The recordings of Moser-lab and NWB ``paths`` (labelled), and their source name."""
    animals = _labels(animal, len(paths), "animal")
    sessions = _labels(session, len(paths), "session")
    recordings = []
    mat = [i for i, k in enumerate(kinds) if "moser" in k]
    nwb = [i for i, k in enumerate(kinds) if "nwb" in k]
    mat_paths = [paths[i] for i in mat]
    nwb_paths = [paths[i] for i in nwb]
    if mat_paths:
        recordings += read_moser(mat_paths, position_unit=position_unit,
                                 animal=[animals[i] for i in mat],
                                 session=[sessions[i] for i in mat])
    for i in nwb:
        for rec in read_nwb(paths[i]):
            recordings.append(dataclasses.replace(
                rec, animal=animals[i] or rec.animal, session=sessions[i] or rec.session))
    source = "+".join(sorted(
        (["moser-mat"] if mat_paths else []) + (["nwb"] if nwb_paths else [])
    ))
    return recordings, source


def _load_rate_maps(paths: list[Path], kinds: list[str], flat: set[str], arena,
                    bin_size: float | None, animal, session, attrs: dict | None,
                    binning_kw: dict) -> NeuralData:
    """One already-binned file (Nayebi ``.npz`` or netCDF), refusing binning options."""
    if len(paths) != 1 or len(flat) != 1:
        raise ConfigError(
            f"cannot combine these inputs in one load: {[str(p) for p in paths]} "
            f"({sorted(flat)}); load already-binned files one at a time"
        )
    fmt = kinds[0]
    if animal is not None or session is not None:
        raise ConfigError(
            f"{paths[0]}: a {fmt} file already holds labelled rate maps; animal and session "
            "labels apply to recordings that are binned (.mat, .nwb)"
        )
    given = {k: v for k, v in binning_kw.items()}
    if arena is not None or given:
        raise ConfigError(
            f"{paths[0]}: a {fmt} file already holds rate maps; arena and binning options "
            f"({sorted(['arena'] * (arena is not None) + list(given))}) do not apply"
        )
    if fmt == "dict":
        nd = load_nayebi_npz(paths[0], bin_size=bin_size)
    else:
        if bin_size is not None:
            raise ConfigError(f"{paths[0]}: a netCDF file already holds rate maps; "
                              "bin_size does not apply")
        try:
            nd = NeuralData.load(paths[0])
        except MecbenchError:
            raise
        except Exception as err:  # noqa: BLE001 - a readable file with malformed content
            raise DataError(
                f"{paths[0]}: not a valid NeuralData file ({type(err).__name__}: {err})"
            ) from None
    nd.attrs.update(attrs or {})
    return nd


def load_recordings(
    path,
    format: str = "auto",
    arena=None,
    bin_size: float | None = None,
    *,
    position_unit: str | float = "cm",
    recentre: bool | str = "auto",
    progress: bool = False,
    attrs: dict | None = None,
    animal=None,
    session=None,
    **binning_kw,
) -> NeuralData:
    """Load recordings from any supported format into NeuralData.

    Parameters
    ----------
    path : path, list of paths, or dict
        A file, a directory, or several of them; or an in-memory Nayebi dict.
    format : {"auto", "moser", "nwb", "dict", "netcdf"}
        ``"auto"`` recognises each path (see the module docstring).
    arena : None, float, (width, height) or "WxH"
        Box size in metres for formats that are binned; None infers it per session
        (:mod:`mecbench.loaders.recording`).
    bin_size : float, optional
        Bin side (m): default 0.05 for binned formats; for ``dict``, the arena size over the
        number of bins unless given.
    position_unit : {"cm", "m", "mm"} or float
        Unit of positions in Moser-lab ``.mat`` files (cm in the Kavli releases).
    recentre : bool or "auto"
        Centre positions whose range is clearly off 0 (binned formats).
    progress : bool
        Progress bar over sessions.
    attrs : dict, optional
        Provenance added to the result's attributes.
    animal, session : str or sequence of str, optional
        Labels of the recordings (binned formats): one for all paths or one per path. Needed
        when the file names do not give them (a Moser-lab release named ``<SESSION>_T1C1.mat``
        names no animal); they override the names (and an NWB file's subject and session).
    **binning_kw
        Passed to :func:`mecbench.binning.bin_session` (``smoothing_sigma``,
        ``min_occupancy``, ``speed_min``, ``speed_max``, ``halves``, ``spikes_outside``...).

    Returns
    -------
    NeuralData

    Raises
    ------
    DataError
        Bad files (naming the file and the field).
    ConfigError
        Bad options, e.g. binning options for an already binned format.
    """
    fmt = _ALIASES.get(str(format).lower(), str(format).lower())
    if fmt not in FORMATS:
        raise ConfigError(f"format must be one of {FORMATS}, got {format!r}")
    if isinstance(path, Mapping):  # an in-memory Nayebi dict
        if arena is not None or binning_kw or animal is not None or session is not None:
            raise ConfigError("a Nayebi dict holds rate maps already: arena, binning and "
                              "label options do not apply")
        return NeuralData.from_nayebi_dict(path, bin_size=bin_size, attrs=attrs)
    paths = _as_paths(path)
    kinds = [detect_format(p) if fmt == "auto" else fmt for p in paths]
    flat = {k for kind in kinds for k in kind.split("+")}
    if flat <= set(_BINNED):
        recordings, source = _read_binnable(paths, kinds, animal, session, position_unit)
        files = ", ".join(str(p) for p in paths)
        meta = {"source": source, "imported_from": files, **(attrs or {})}
        return bin_recordings(recordings, arena=arena, bin_size=bin_size, recentre=recentre,
                              attrs=meta, progress=progress, **binning_kw)
    return _load_rate_maps(paths, kinds, flat, arena, bin_size, animal, session, attrs,
                           binning_kw)
