"""mecbench.keyvalue: KEY=VALUE settings, values read by the JSON parser (the reference)."""

from __future__ import annotations

import json

import pytest

from mecbench.errors import ConfigError
from mecbench.keyvalue import parse_key_values


def test_values_are_json_where_they_parse_and_text_otherwise():
    values = ["10", "0.5", "-3e-2", "true", "null", "[1, 2]", '{"a": 1}', '"quoted"']
    items = [f"k{i}={v}" for i, v in enumerate(values)] + ["name=gaussian", "empty="]
    out = parse_key_values(items, option="--set")
    for i, v in enumerate(values):
        assert out[f"k{i}"] == json.loads(v)
    assert out["name"] == "gaussian" and out["empty"] == ""
    assert list(out) == [f"k{i}" for i in range(len(values))] + ["name", "empty"]


def test_white_space_around_key_and_value_is_dropped_and_later_keys_win():
    out = parse_key_values([" alpha = 10 ", "readout= dos", "alpha=2"], option="--set")
    assert out == {"alpha": 2, "readout": "dos"}
    # '=' inside the value belongs to the value
    assert parse_key_values(["expr=a=b"], option="--set") == {"expr": "a=b"}


@pytest.mark.parametrize("item", ["alpha", "=3", " =3", ""])
def test_errors_name_the_option_and_the_item(item):
    with pytest.raises(ConfigError) as err:
        parse_key_values(["ok=1", item], option="--mapping ridge:x")
    assert str(err.value).startswith("--mapping ridge:x: expected KEY=VALUE")
    assert repr(item) in str(err.value)
