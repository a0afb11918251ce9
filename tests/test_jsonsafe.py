"""mecbench.jsonsafe: strict-JSON values."""

import json
import math

import numpy as np

from mecbench.jsonsafe import json_float, json_safe


def test_non_finite_numpy_and_private_keys():
    doc = {"a": float("nan"), "b": [np.float64(1.5), (np.int64(2), -math.inf)],
           "_path": "/home/x", 3: {"c": np.float32(np.inf), "d": "text"}}
    out = json_safe(doc)
    assert json.loads(json.dumps(out, allow_nan=False)) == {
        "a": None, "b": [1.5, [2, None]], "3": {"c": None, "d": "text"}}
    assert type(out["b"][1][0]) is int


def test_json_float():
    assert json_float(None) is None
    for bad in (float("nan"), np.float32("nan"), math.inf, -np.inf):
        assert json_float(bad) is None
    for x in (0.25, np.float32(0.5), np.int64(3), -2):
        out = json_float(x)
        assert type(out) is float and out == float(x)
