"""Null operator: AWS doc table (aws:TokenIssueTime true -> key absent), discovery and value errors."""

from __future__ import annotations

import pytest

from iamkit.policy.conditions import evaluate_conditions

ABSENT = object()
KEY = "aws:TokenIssueTime"

CASES = [
    ("true", ABSENT, True),  # AWS doc: temporary credentials absent -> long-term keys
    ("true", "2020-01-01T00:00:00Z", False),
    ("false", "2020-01-01T00:00:00Z", True),
    ("false", ABSENT, False),
    ("TRUE", ABSENT, True),
    (True, ABSENT, True),
    (["true", "false"], ABSENT, True),
    ("true", None, True),  # a null value counts as absent
    ("true", [], True),  # an empty multivalued key counts as absent
    ("false", ["a"], True),
    ("true", "", False),  # an empty string is a value
]


@pytest.mark.parametrize(("values", "request_value", "expected"), CASES)
def test_null_truth_table(decide, values, request_value, expected):
    context = {} if request_value is ABSENT else {KEY: request_value}
    assert decide("Null", KEY, values, context) is expected


def test_null_is_decided_in_discovery_mode(decide):
    assert decide("Null", KEY, "true", {}, mode="discovery") is True
    assert decide("Null", KEY, "false", {}, mode="discovery") is False


def test_null_rejects_non_boolean_values():
    out = evaluate_conditions({"Null": {KEY: "maybe"}}, {})
    assert out.matched is False and "true or false" in out.errors[0]


def test_null_if_exists_is_not_an_operator():
    from iamkit.errors import PolicyError

    with pytest.raises(PolicyError, match="NullIfExists"):
        evaluate_conditions({"NullIfExists": {KEY: "true"}}, {})
