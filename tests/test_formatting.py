"""Numbers and p-values as text: the rules of mecbench.formatting, checked by reading the text
back as numbers (Python's float parser is the reference) rather than against stored strings."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from mecbench.formatting import MISSING, format_ci, format_number, format_p


@pytest.mark.parametrize("digits", [0, 1, 2, 3, 4])
def test_number_reads_back_within_half_a_unit_of_the_last_digit(digits):
    values = np.random.default_rng(0).normal(0, 3, 500)
    values = np.concatenate([values, [0.0, 1e-9, -1e-9, 12345.678, -0.5, 0.5]])
    for x in values:
        text = format_number(x, digits)
        decimals = text.split(".")[1] if "." in text else ""
        assert len(decimals) == digits, text
        assert abs(float(text) - x) <= 0.5 * 10.0 ** -digits + 1e-12, (x, text)


def test_a_negative_value_that_rounds_to_zero_has_no_sign():
    for x, digits in [(-1e-9, 3), (-0.0004, 3), (-0.004, 2), (-0.0, 2), (-0.4, 0)]:
        text = format_number(x, digits)
        assert not text.startswith("-")
        assert float(text) == 0.0
    # a negative value that does not round to zero keeps its sign
    assert float(format_number(-0.0006, 3)) == pytest.approx(-0.001)
    assert format_number(-0.0006, 3).startswith("-")


def test_number_missing_non_finite_and_non_numbers():
    assert format_number(None) == MISSING
    assert format_number(float("nan")) == "nan"
    assert format_number(np.float32("nan"), 2) == "nan"
    assert float(format_number(np.inf)) == math.inf
    assert float(format_number(-np.inf)) == -math.inf
    assert format_number("n/a") == "n/a"
    assert float(format_number(np.int64(7), 1)) == 7.0


def test_ci():
    lo, hi = -0.12345, 0.6789
    text = format_ci((lo, hi), 2)
    m = re.fullmatch(r"\[(\S+), (\S+)\]", text)
    assert m is not None
    assert float(m[1]) == pytest.approx(lo, abs=0.005)
    assert float(m[2]) == pytest.approx(hi, abs=0.005)
    assert format_ci(None) == MISSING
    assert format_ci([None, 0.3]) == MISSING
    assert format_ci([0.1, None]) == MISSING


def test_p_value_three_decimals_from_one_in_a_thousand():
    for p in np.linspace(0.001, 1.0, 400):
        text = format_p(p)
        assert re.fullmatch(r"[01]\.\d{3}", text), text
        assert abs(float(text) - p) <= 0.0005 + 1e-15


def test_p_value_two_significant_digits_below():
    for p in np.geomspace(1e-300, 0.000999, 400):
        text = format_p(p)
        assert re.fullmatch(r"\d\.\de-\d+", text), text
        # two significant digits: within half a unit of the second digit
        assert abs(float(text) - p) <= 0.05 * 10.0 ** math.floor(math.log10(p)) * (1 + 1e-9)
    assert float(format_p(0.0)) == 0.0


def test_p_value_missing_and_non_finite():
    assert format_p(None) == MISSING
    assert format_p(float("nan")) == "nan"
    assert format_p(np.inf) == "nan"
    assert format_p(np.float64(0.5)) == "0.500"
