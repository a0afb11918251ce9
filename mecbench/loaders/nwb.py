"""NWB files (pynwb, an optional extra: ``pip install mecbench[nwb]``).

Reads the layout of the DANDI release of Sargolini et al. 2006 (dandiset 000582) and of most
open-field NWB files: spike times from the ``Units`` table (``spike_times``, seconds) and
positions from a ``Position`` container (in a processing module such as ``behavior`` or in
``acquisition``) holding one ``SpatialSeries`` per tracking LED (``SpatialSeriesLED1``,
``SpatialSeriesLED2``). With two series, the first by name is LED 1 and the second LED 2 (mean
position and head direction). Positions are converted to metres with the series' ``conversion``
(and ``offset``) factors and its ``unit`` (metres, centimetres or millimetres; anything else is
an error). Timestamps come from ``timestamps`` or from ``starting_time`` and ``rate``.

Animal: ``subject.subject_id`` (else ``sub-<id>`` in the file name, else the file stem);
session: ``session_id`` (else ``ses-<id>`` in the file name, else the file stem).
Cell ids: the ``unit_name`` (or ``name``) column of the units table when present, else the
unit's table id.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from mecbench.errors import ConfigError, DataError
from mecbench.loaders.recording import Recording, find_files

__all__ = ["read_nwb", "find_nwb_files"]

_UNIT_SCALE = {
    "m": 1.0, "meter": 1.0, "meters": 1.0, "metre": 1.0, "metres": 1.0,
    "cm": 0.01, "centimeter": 0.01, "centimeters": 0.01, "centimetre": 0.01,
    "centimetres": 0.01,
    "mm": 0.001, "millimeter": 0.001, "millimeters": 0.001, "millimetre": 0.001,
    "millimetres": 0.001,
}


def _pynwb():
    try:
        import pynwb
    except ImportError:
        raise ConfigError(
            "reading NWB files needs pynwb: pip install 'mecbench[nwb]'"
        ) from None
    return pynwb


def find_nwb_files(paths) -> list[Path]:
    """The ``.nwb`` files of a file, a directory (searched recursively) or a list of both."""
    return find_files(paths, ".nwb")


def _position_series(nwb) -> list:
    from pynwb.behavior import Position

    containers = []
    for module in nwb.processing.values():
        containers += [c for c in module.data_interfaces.values() if isinstance(c, Position)]
    containers += [c for c in nwb.acquisition.values() if isinstance(c, Position)]
    series = []
    for c in containers:
        series += [c.spatial_series[k] for k in sorted(c.spatial_series)]
    return series


def _series_metres(series, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(timestamps (n,), xy (n, 2) in metres) of one SpatialSeries."""
    where = f"{path}: SpatialSeries {series.name!r}"
    data = np.asarray(series.data[()], dtype=np.float64)
    if data.ndim != 2 or data.shape[1] < 2:
        raise DataError(f"{where}: field 'data' must be (samples, 2) x/y, got shape {data.shape}")
    unit = str(series.unit or "").strip().lower()
    if unit not in _UNIT_SCALE:
        raise DataError(
            f"{where}: field 'unit' is {series.unit!r}; positions must be in metres, "
            "centimetres or millimetres"
        )
    conversion = float(series.conversion if series.conversion is not None else 1.0)
    offset = float(getattr(series, "offset", 0.0) or 0.0)
    xy = (data[:, :2] * conversion + offset) * _UNIT_SCALE[unit]
    if series.timestamps is not None:
        t = np.asarray(series.timestamps[()], dtype=np.float64).reshape(-1)
    elif series.rate:
        t = float(series.starting_time or 0.0) + np.arange(data.shape[0]) / float(series.rate)
    else:
        raise DataError(f"{where}: neither 'timestamps' nor 'rate' is set")
    if t.size != xy.shape[0]:
        raise DataError(
            f"{where}: field 'data' has {xy.shape[0]} samples but 'timestamps' has {t.size}"
        )
    return t, xy


def _label(value, path: Path, prefix: str) -> str:
    if value:
        return str(value)
    m = re.search(rf"{prefix}-([A-Za-z0-9]+)", path.name)
    return m.group(1) if m else path.stem


def _read_one(path: Path, pynwb) -> Recording:
    try:
        io = pynwb.NWBHDF5IO(str(path), "r")
    except Exception as err:  # noqa: BLE001 - h5py/hdmf raise many types on foreign files
        raise DataError(f"{path}: not a readable NWB file ({type(err).__name__}: {err})") from None
    try:
        try:
            nwb = io.read()
        except Exception as err:  # noqa: BLE001
            raise DataError(
                f"{path}: not a readable NWB file ({type(err).__name__}: {str(err)[:200]})"
            ) from None
        units = nwb.units
        if units is None or len(units) == 0:
            raise DataError(f"{path}: no units: the NWB file has no 'units' table with "
                            "'spike_times'")
        if "spike_times" not in units.colnames:
            raise DataError(f"{path}: the units table has no 'spike_times' column")
        flat = np.asarray(units["spike_times"].target.data[()], dtype=np.float64)
        ends = np.asarray(units["spike_times"].data[()], dtype=np.int64)
        trains = np.split(flat, ends[:-1])
        name_col = next((c for c in ("unit_name", "name") if c in units.colnames), None)
        ids = np.asarray(units[name_col].data[()] if name_col else units.id.data[()])
        cell_ids = [i.decode() if isinstance(i, bytes) else str(i) for i in ids]
        series = _position_series(nwb)
        if not series:
            raise DataError(
                f"{path}: no positions: expected a Position container with a SpatialSeries "
                "(processing['behavior'] or acquisition)"
            )
        t, xy1 = _series_metres(series[0], path)
        x2 = y2 = None
        if len(series) > 1:
            t2, xy2 = _series_metres(series[1], path)
            if t2.shape != t.shape or not np.allclose(t2, t):
                xy2 = np.stack([np.interp(t, t2, xy2[:, k], left=np.nan, right=np.nan)
                                for k in range(2)], axis=1)
            x2, y2 = xy2[:, 0], xy2[:, 1]
        animal = _label(nwb.subject.subject_id if nwb.subject is not None else None,
                        path, "sub")
        session = _label(nwb.session_id, path, "ses")
        unit = str(series[0].unit).strip()
    finally:
        io.close()
    return Recording(
        t=t, x=xy1[:, 0], y=xy1[:, 1], x2=x2, y2=y2, spike_times=trains, cell_ids=cell_ids,
        animal=animal, session=session, source=f"{path} SpatialSeries {series[0].name!r}",
        position_unit=unit,
        cell_sources=[f"{path} units[{c!r}] field 'spike_times'" for c in cell_ids],
    )


def read_nwb(paths) -> list[Recording]:
    """Read NWB files (a file, a directory searched recursively, or a list).

    Returns
    -------
    list of Recording
        One per file.

    Raises
    ------
    ConfigError
        When pynwb is not installed.
    DataError
        Unreadable files, no units, no positions, unknown position units.
    """
    pynwb = _pynwb()
    files = find_nwb_files(paths)
    if not files:
        raise DataError(f"{paths}: no .nwb files found")
    return [_read_one(p, pynwb) for p in files]
