"""How mapping and metric parameters are written: in a spec's text and in cache keys."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

__all__ = ["format_value", "jsonable"]


def format_value(value: Any) -> str:
    """A parameter value as written in a mapping spec: text as is, anything else as JSON."""
    return json.dumps(value, sort_keys=True) if not isinstance(value, str) else value


def jsonable(value: Any) -> Any:
    """A parameter value as plain JSON data (arrays as lists, classes by dotted name)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in sorted(value.items())}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    return repr(value)
