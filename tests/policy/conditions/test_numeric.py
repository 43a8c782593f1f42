"""Numeric operators: AWS doc table (s3:max-keys <= 10) and typed-comparison edge cases."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iamkit.policy.conditions import evaluate_conditions
from iamkit.policy.conditions.numeric import parse_number

ABSENT = object()
KEY = "s3:max-keys"

CASES = [
    ("NumericLessThanEquals", "10", "2", True),  # AWS doc
    ("NumericLessThanEquals", "10", "11", False),
    ("NumericLessThanEquals", "10", ABSENT, False),
    ("NumericLessThanEquals", "10", "10", True),
    ("NumericLessThan", "10", "10", False),
    ("NumericLessThan", 10, 9.5, True),
    ("NumericGreaterThan", "10", "11", True),
    ("NumericGreaterThan", "10", "10", False),
    ("NumericGreaterThanEquals", "10", "10", True),
    ("NumericGreaterThanEquals", "10.5", "10", False),
    ("NumericEquals", "10", "10.0", True),
    ("NumericEquals", "10", 10, True),
    ("NumericEquals", ["1", "2"], "2", True),
    ("NumericEquals", "10", "ten", False),  # context value not a number
    ("NumericNotEquals", "10", "10", False),
    ("NumericNotEquals", "10", "11", True),
    ("NumericNotEquals", ["10", "11"], "11", False),
    ("NumericNotEquals", "10", ABSENT, True),
    ("NumericLessThanIfExists", "10", ABSENT, True),
    ("NumericLessThanIfExists", "10", "12", False),
    ("NumericEquals", "-3", "-3", True),
    ("NumericGreaterThan", "1e3", "1001", True),
]


@pytest.mark.parametrize(("operator", "values", "request_value", "expected"), CASES)
def test_numeric_truth_table(decide, operator, values, request_value, expected):
    context = {} if request_value is ABSENT else {KEY: request_value}
    assert decide(operator, KEY, values, context) is expected


@pytest.mark.parametrize("bad", ["ten", "", "nan", "inf", True, "1.2.3", "1_000", "0x10"])
def test_invalid_policy_number_never_matches(bad):
    for op in ("NumericEquals", "NumericNotEquals", "NumericLessThan"):
        out = evaluate_conditions({op: {KEY: bad}}, {KEY: "1"})
        assert out.matched is False
        assert out.errors and "not a number" in out.errors[0]
        assert "not a number" in out.details[0]


def test_parse_number_rejects_booleans_and_non_finite():
    assert parse_number(True) is None
    assert parse_number(float("inf")) is None
    assert parse_number(" 42 ") == 42
    assert parse_number("4.5") == 4.5


@settings(deadline=None)
@given(a=st.integers(-(10**6), 10**6), b=st.integers(-(10**6), 10**6))
def test_numeric_operators_agree_with_python(a, b):
    expected = {
        "NumericEquals": a == b,
        "NumericNotEquals": a != b,
        "NumericLessThan": a < b,
        "NumericLessThanEquals": a <= b,
        "NumericGreaterThan": a > b,
        "NumericGreaterThanEquals": a >= b,
    }
    for op, want in expected.items():
        assert evaluate_conditions({op: {KEY: str(b)}}, {KEY: a}).matched is want
