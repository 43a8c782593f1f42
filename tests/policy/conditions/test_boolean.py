"""Bool operator: AWS doc table (aws:SecureTransport, aws:MultiFactorAuthPresent) and typed values."""

from __future__ import annotations

import pytest

from iamkit.policy.conditions import evaluate_conditions

ABSENT = object()

CASES = [
    ("Bool", "aws:SecureTransport", "true", "true", True),  # AWS doc
    ("Bool", "aws:SecureTransport", "true", "false", False),
    ("Bool", "aws:SecureTransport", "true", ABSENT, False),
    ("Bool", "aws:SecureTransport", "false", False, True),
    ("Bool", "aws:SecureTransport", "TRUE", True, True),  # case-insensitive
    ("Bool", "aws:SecureTransport", True, "True", True),  # JSON boolean in the policy
    ("Bool", "aws:SecureTransport", ["true", "false"], "false", True),
    ("Bool", "aws:SecureTransport", "true", "yes", False),  # not a boolean in the request
    # MFA: BoolIfExists true is satisfied by long-term keys without the key (documented pitfall)
    ("BoolIfExists", "aws:MultiFactorAuthPresent", "true", ABSENT, True),
    ("BoolIfExists", "aws:MultiFactorAuthPresent", "true", "false", False),
    ("BoolIfExists", "aws:MultiFactorAuthPresent", "false", ABSENT, True),
    ("Bool", "aws:MultiFactorAuthPresent", "false", ABSENT, False),
]


@pytest.mark.parametrize(("operator", "key", "values", "request_value", "expected"), CASES)
def test_bool_truth_table(decide, operator, key, values, request_value, expected):
    context = {} if request_value is ABSENT else {key: request_value}
    assert decide(operator, key, values, context) is expected


@pytest.mark.parametrize("bad", ["yes", "1", 1, ""])
def test_invalid_policy_boolean_never_matches(bad):
    out = evaluate_conditions({"Bool": {"aws:SecureTransport": bad}}, {"aws:SecureTransport": "true"})
    assert out.matched is False and out.errors
