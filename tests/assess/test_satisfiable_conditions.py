"""Conditions the attacker can satisfy now do not hide an escalation: it is reported under those conditions."""

from __future__ import annotations

import json

import pytest
from assesstest import Builder, allow, doc, run

# (condition on the iam:PutUserPolicy grant, escalation expected, the key shown)
CASES = [
    ({"Bool": {"aws:SecureTransport": "true"}}, True, "aws:SecureTransport"),
    ({"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:00Z"}}, True, "aws:TokenIssueTime"),
    (
        {
            "DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"},
            "DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"},
        },
        True,
        "aws:CurrentTime",
    ),
    ({"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}, True, "aws:RequestedRegion"),
    ({"StringEquals": {"aws:RequestTag/team": "ops"}}, True, "aws:RequestTag/team"),
    # not in the caller's hands: MFA it does not have, a time window already over, a network it is not on
    ({"Bool": {"aws:MultiFactorAuthPresent": "true"}}, False, None),
    ({"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}, False, None),
    ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, False, None),
]


@pytest.mark.parametrize("condition, expected, key", CASES, ids=[json.dumps(c)[:40] for c, _, _ in CASES])
def test_escalation_under_satisfiable_conditions(condition, expected, key):
    b = Builder()
    user = b.user("dev", policies=(doc(allow("iam:PutUserPolicy", Condition=condition)),))
    df = run(b, "IAMKIT-ESC-001")
    rows = df[df["principal_arn"] == user]
    assert bool(len(rows)) is expected
    if expected:
        row = rows.iloc[0]
        ev = json.loads(row["evidence"])
        assert key in ev["conditions"] and key in row["detail"] and "under conditions" in row["detail"]


def test_unconditional_escalation_shows_no_conditions():
    b = Builder()
    user = b.user("dev", policies=(doc(allow("iam:PutUserPolicy")),))
    df = run(b, "IAMKIT-ESC-001")
    row = df[df["principal_arn"] == user].iloc[0]
    assert json.loads(row["evidence"])["conditions"] == {} and "under conditions" not in row["detail"]
