"""Conditions inside the engine (operator families are unit-tested in tests/policy/conditions/): how a
statement's Condition block changes the decision, for Allow and for Deny, with IfExists, Null and set operators."""

from __future__ import annotations

import pytest
from policytest import USER, doc, req, stmt

from iamkit.policy import evaluate

ALLOW_ALL = doc(stmt(action="*"))


def allow_if(cond):
    return doc(stmt(Condition=cond))


def deny_if(cond):
    return doc(stmt("Deny", Condition=cond))


@pytest.mark.parametrize(
    "cond, context, expected",
    [
        ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "203.0.113.9"}, True),
        ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "198.51.100.1"}, False),
        ({"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}, {"aws:SourceIp": "2001:db8::1"}, True),
        ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {}, False),  # key absent: no match
        (
            {"StringEquals": {"aws:RequestedRegion": ["eu-west-1", "eu-west-2"]}},
            {"aws:RequestedRegion": "eu-west-2"},
            True,
        ),
        (
            {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}, "Bool": {"aws:SecureTransport": "true"}},
            {"aws:RequestedRegion": "eu-west-1", "aws:SecureTransport": "false"},
            False,
        ),  # operators AND
        ({"StringLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "home/alice"}, True),
        ({"StringEqualsIfExists": {"ec2:InstanceType": "t3.micro"}}, {}, True),
        ({"Null": {"aws:TokenIssueTime": "true"}}, {}, True),
        ({"Null": {"aws:TokenIssueTime": "false"}}, {}, False),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {}, True),  # vacuous truth
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["a", "c"]}, False),
        ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {}, False),
        ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["c", "b"]}, True),
        ({"NumericLessThanEquals": {"aws:MultiFactorAuthAge": "3600"}}, {"aws:MultiFactorAuthAge": "100"}, True),
        ({"StringEquals": {"aws:username": "${aws:username}"}}, {}, True),
    ],
)
def test_allow_condition(cond, context, expected):
    assert evaluate(req(USER, context=context), identity_policies=[allow_if(cond)]).allowed is expected


@pytest.mark.parametrize(
    "cond, context, denied",
    [
        ({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "8.8.8.8"}, True),
        ({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "10.1.1.1"}, False),
        ({"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}, {}, True),  # absent: IfExists -> true
        ({"Bool": {"aws:MultiFactorAuthPresent": "false"}}, {}, False),
        ({"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}, {}, True),  # negated operator, key absent
    ],
)
def test_deny_condition(cond, context, denied):
    d = evaluate(req(USER, context=context), identity_policies=[ALLOW_ALL, deny_if(cond)])
    assert (d.result == "ExplicitlyDenied") is denied


def test_mfa_key_absent_for_user_keys_but_false_for_sessions():
    from policytest import SESSION

    deny = deny_if({"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}})
    assert evaluate(req(SESSION), identity_policies=[ALLOW_ALL, deny]).result == "ExplicitlyDenied"
    assert evaluate(req(SESSION, mfa=True), identity_policies=[ALLOW_ALL, deny]).allowed


def test_invalid_condition_value_in_allow_never_allows_and_is_reported():
    d = evaluate(
        req(USER, context={"aws:SourceIp": "1.2.3.4"}),
        identity_policies=[allow_if({"IpAddress": {"aws:SourceIp": "not-an-ip"}})],
    )
    assert d.result == "ImplicitlyDenied"
    assert d.errors


def test_invalid_condition_value_in_deny_fails_closed():
    d = evaluate(
        req(USER, context={"aws:SourceArn": "arn:aws:s3:::b"}),
        identity_policies=[ALLOW_ALL, deny_if({"ArnNotLike": {"aws:SourceArn": "garbage"}})],
    )
    assert d.result == "ExplicitlyDenied" and d.errors


def test_explain_carries_condition_details():
    d = evaluate(
        req(USER, context={"aws:SourceIp": "198.51.100.1"}),
        identity_policies=[allow_if({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})],
    )
    assert any("aws:SourceIp" in e.reason and e.applied is False for e in d.explain)


@pytest.mark.parametrize(
    "cond, context, expected",
    [
        ({"BinaryEquals": {"aws:UserAgent": "QmluYXJ5VmFsdWU="}}, {"aws:UserAgent": "QmluYXJ5VmFsdWU="}, True),
        ({"BinaryEquals": {"aws:UserAgent": "QmluYXJ5VmFsdWU="}}, {"aws:UserAgent": "T3RoZXI="}, False),
        (
            {"DateGreaterThan": {"aws:TokenIssueTime": "2026-01-01T00:00:00Z"}},
            {"aws:TokenIssueTime": "2026-02-01T00:00:00Z"},
            True,
        ),
        (
            {"DateGreaterThan": {"aws:TokenIssueTime": "2026-01-01T00:00:00Z"}},
            {"aws:TokenIssueTime": "2025-02-01T00:00:00Z"},
            False,
        ),
        (
            {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:111122223333:topic"}},
            {"aws:SourceArn": "arn:aws:sns:us-east-1:111122223333:topic"},
            True,
        ),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::bucket-*"}}, {"aws:SourceArn": "arn:aws:s3:::bucket-logs"}, True),
        ({"NumericGreaterThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "5"}, False),
        ({"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "DATA"}}, {"aws:PrincipalTag/team": "data"}, True),
        ({"ForAllValues:StringLike": {"aws:TagKeys": ["team*", "env"]}}, {"aws:TagKeys": ["team-a", "env"]}, True),
        ({"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["team"]}}, {"aws:TagKeys": ["team"]}, False),
    ],
)
def test_typed_operators_through_the_engine(cond, context, expected):
    assert evaluate(req(USER, context=context), identity_policies=[allow_if(cond)]).allowed is expected


def test_explain_all_lists_statements_that_do_not_cover_the_action():
    p = doc(stmt(Sid="Other", action="ec2:*"), stmt(Sid="Mine"))
    d = evaluate(req(USER), identity_policies=[p], explain="all")
    assert {e.statement for e in d.explain} == {"Other", "Mine"}
    other = next(e for e in d.explain if e.statement == "Other")
    assert other.applied is False and "not covered" in other.reason
    assert evaluate(req(USER), identity_policies=[p], explain=False).explain == []


def test_condition_outcomes_follow_the_context_when_a_policy_is_reused():
    from iamkit.policy import parse

    p = parse(allow_if({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}, "StringEquals": {"aws:PrincipalTag/team": "a"}}))
    seq = [
        ("10.1.1.1", "a", True),
        ("192.0.2.1", "a", False),
        ("10.1.1.1", "b", False),
        ("10.1.1.1", "a", True),
        ("10.2.2.2", None, False),
    ]
    for ip, team, expected in seq:
        tags = {"team": team} if team else {}
        r = req(USER, context={"aws:SourceIp": ip}, principal_tags=tags)
        assert evaluate(r, identity_policies=[p], explain=False).allowed is expected
    # non-text values are not memoised: 1 and True must not be confused
    q = parse(allow_if({"Bool": {"aws:SecureTransport": "true"}}))
    assert evaluate(req(USER, context={"aws:SecureTransport": True}), identity_policies=[q], explain=False).allowed
    one = evaluate(req(USER, context={"aws:SecureTransport": 1}), identity_policies=[q], explain=False).allowed
    again = evaluate(req(USER, context={"aws:SecureTransport": True}), identity_policies=[q], explain=False).allowed
    assert again is True and isinstance(one, bool)
