"""``KEY=VALUE`` settings as given on the command line: the one parser behind ``--set`` of
``mecbench train`` and the parameters of ``--mapping`` / ``--splits`` specifications.

A setting is ``KEY=VALUE``; white space around the key and the value is dropped. VALUE is read
as JSON where it parses (``10``, ``0.5``, ``true``, ``null``, ``[1, 2]``, ``"text"``) and kept
as text otherwise (``gaussian``). A later setting of the same key replaces an earlier one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from mecbench.errors import ConfigError

__all__ = ["parse_key_values"]


def parse_key_values(items: Iterable[str], *, option: str) -> dict[str, Any]:
    """``["n_hidden=128", "readout=gaussian"]`` → ``{"n_hidden": 128, "readout": "gaussian"}``.

    Parameters
    ----------
    items : iterable of str
        The settings.
    option : str
        What the settings were given as (``"--set"``, ``"--mapping ridge:alpha"``): it starts
        the error message.

    Returns
    -------
    dict
        Key to value, in the order given.

    Raises
    ------
    ConfigError
        An item without ``=`` or with an empty key.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"{option}: expected KEY=VALUE, got {item!r}")
        text = text.strip()
        try:
            out[key] = json.loads(text)
        except json.JSONDecodeError:
            out[key] = text
    return out
