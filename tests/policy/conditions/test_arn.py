"""Arn operators: AWS doc table (aws:SourceArn of an SNS topic), six-part matching, invalid ARNs."""

from __future__ import annotations

import pytest

from iamkit.policy.conditions import evaluate_conditions

ABSENT = object()
KEY = "aws:SourceArn"
TOPIC = "arn:aws:sns:us-west-2:123456789012:TOPIC-ID"

CASES = [
    ("ArnEquals", TOPIC, TOPIC, True),  # AWS doc
    ("ArnEquals", TOPIC, "arn:aws:sns:us-west-2:777788889999:TOPIC-ID", False),
    ("ArnEquals", TOPIC, ABSENT, False),
    ("ArnEquals", "arn:aws:sns:*:123456789012:*", TOPIC, True),  # ArnEquals behaves as ArnLike
    ("ArnLike", "arn:aws:sns:*:123456789012:*", TOPIC, True),
    ("ArnLike", "arn:aws:sns:us-*-2:123456789012:TOPIC-??", TOPIC, True),
    ("ArnLike", "arn:aws:SNS:us-west-2:123456789012:TOPIC-ID", TOPIC, False),  # case-sensitive
    ("ArnLike", "arn:aws:sns:us-west-2:*", TOPIC, False),  # only five parts: not an ARN pattern
    ("ArnLike", "arn:aws:iam::*:role/app", "arn:aws:iam::111122223333:role/app", True),
    # a wildcard in the account part does not cross into the resource part
    ("ArnLike", "arn:aws:iam::*:role/app", "arn:aws:iam::111122223333:role/x:role/app", False),
    ("ArnLike", "arn:aws:logs:*:*:log-group:*", "arn:aws:logs:eu-west-1:1:log-group:a:log-stream:b", True),
    ("ArnLike", "*", TOPIC, True),
    ("ArnLike", TOPIC, "not-an-arn", False),
    ("ArnNotEquals", TOPIC, TOPIC, False),
    ("ArnNotEquals", TOPIC, "arn:aws:sns:us-west-2:123456789012:OTHER", True),
    ("ArnNotEquals", TOPIC, ABSENT, True),
    ("ArnNotLike", ["arn:aws:sns:*:123456789012:*", "arn:aws:sqs:*:*:*"], TOPIC, False),
    ("ArnNotLike", "arn:aws:sqs:*:*:*", TOPIC, True),
    ("ArnLikeIfExists", "arn:aws:sqs:*:*:*", ABSENT, True),
]


@pytest.mark.parametrize(("operator", "values", "request_value", "expected"), CASES)
def test_arn_truth_table(decide, operator, values, request_value, expected):
    context = {} if request_value is ABSENT else {KEY: request_value}
    assert decide(operator, KEY, values, context) is expected


@pytest.mark.parametrize("bad", ["not-an-arn", "arn:aws:s3", "aws:s3:::bucket:x:y", ""])
@pytest.mark.parametrize("operator", ["ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"])
def test_invalid_arn_in_policy_never_matches(operator, bad):
    out = evaluate_conditions({operator: {KEY: bad}}, {KEY: TOPIC})
    assert out.matched is False
    assert "not an ARN" in out.errors[0]
    assert "not an ARN" in out.details[0]


def test_policy_variable_in_arn_value(decide):
    context = {KEY: "arn:aws:iam::111122223333:user/bob", "aws:username": "bob"}
    assert decide("ArnLike", KEY, "arn:aws:iam::*:user/${aws:username}", context) is True
    context["aws:username"] = "b*"
    assert decide("ArnLike", KEY, "arn:aws:iam::*:user/${aws:username}", context) is False


def test_variable_producing_invalid_arn_never_matches():
    out = evaluate_conditions({"ArnLike": {KEY: "${aws:username}"}}, {KEY: TOPIC, "aws:username": "bob"})
    assert out.matched is False and out.errors
