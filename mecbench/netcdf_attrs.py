"""Attributes netCDF can store: the one rule every netCDF writer of mecbench (scores, neural
data, the cache) applies to its attributes.

netCDF attributes hold text and numbers only. :func:`netcdf_attr` keeps text and real numbers
as they are, stores booleans as the integers 0 and 1 (netCDF has no boolean type), writes
lists, tuples, sets, dicts and numpy arrays as JSON text (keys sorted, numpy values as plain
numbers, sets sorted) and anything else as ``str(value)``. :func:`netcdf_attrs` applies it to a
mapping and leaves out the entries whose value is None (netCDF has no null; a missing
attribute says the same).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["netcdf_attr", "netcdf_attrs"]


def netcdf_attr(value: Any) -> str | int | float | np.integer | np.floating:
    """One attribute value as netCDF can store it (see the module docstring).

    Parameters
    ----------
    value : any
        Not None (:func:`netcdf_attrs` leaves None out).

    Returns
    -------
    str, int or float (numpy scalars kept)
    """
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (str, int, float, np.integer, np.floating)):
        return value
    if isinstance(value, (list, tuple, set, frozenset, dict, np.ndarray)):
        return json.dumps(_plain(value), sort_keys=True, default=str)
    return str(value)


def netcdf_attrs(attrs: Mapping[Any, Any]) -> dict[str, Any]:
    """``attrs`` with every value through :func:`netcdf_attr`, keys as text, None left out."""
    return {str(k): netcdf_attr(v) for k, v in attrs.items() if v is not None}


def _plain(value: Any) -> Any:
    """Containers and numpy values as plain Python ones, for :func:`json.dumps`."""
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
