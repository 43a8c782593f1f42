"""Malformed input is a clear PolicyError or a validation finding: never a crash, never a silent Allow."""

from __future__ import annotations

import datetime as _dt
import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from policytest import USER, doc, examples, req, stmt

from iamkit.errors import BadInput, PolicyError
from iamkit.policy import evaluate, validate

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=8)
    | st.sampled_from(["Allow", "Deny", "*", "s3:GetObject", "arn:aws:s3:::b/*", "StringEquals", "aws:SourceIp"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "Version",
                    "Statement",
                    "Effect",
                    "Action",
                    "NotAction",
                    "Resource",
                    "NotResource",
                    "Principal",
                    "NotPrincipal",
                    "Condition",
                    "Sid",
                    "AWS",
                    "StringEquals",
                    "IpAddress",
                    "aws:SourceIp",
                    "x",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=examples(300))
@given(json_values)
def test_random_documents_never_crash_the_engine_or_the_validator(document):
    try:
        d = evaluate(req(USER), identity_policies=[document])
    except PolicyError:
        pass
    else:
        assert d.result in ("Allowed", "ImplicitlyDenied", "ExplicitlyDenied")
    findings = validate(document)
    assert isinstance(findings, list)
    text = json.dumps(document)
    assert isinstance(validate(text), list)


# every condition family (and the qualifiers, IfExists, Null, policy variables) over keys a request may carry
CONTEXT_KEYS = [
    "aws:CurrentTime",
    "aws:TokenIssueTime",
    "aws:EpochTime",
    "aws:MultiFactorAuthAge",
    "aws:SourceIp",
    "aws:SecureTransport",
    "aws:username",
    "aws:TagKeys",
    "aws:SourceArn",
    "s3:max-keys",
    "aws:PrincipalTag/team",
    "kms:CiphertextBlob",
]
OPERATORS = [
    ("DateGreaterThan", "2020-01-01T00:00:00Z"),
    ("DateLessThanEquals", "1700000000"),
    ("NumericLessThan", "100"),
    ("NumericEquals", "1.5"),
    ("StringLike", "a*?b"),
    ("StringEqualsIgnoreCase", "X"),
    ("StringEquals", "${aws:username}"),
    ("StringLike", "home/${aws:username}/*"),
    ("ArnLike", "arn:aws:s3:::*"),
    ("IpAddress", "10.0.0.0/8"),
    ("NotIpAddress", "2001:db8::/32"),
    ("Bool", "true"),
    ("BinaryEquals", "QmluYXJ5"),
    ("Null", "false"),
    ("ForAllValues:StringLike", "env*"),
    ("ForAnyValue:DateEquals", "2020-01-01"),
    ("ForAnyValue:NumericGreaterThan", "3"),
    ("ForAllValues:IpAddress", "10.0.0.0/8"),
    ("ArnNotLikeIfExists", "arn:*:*:*:*:*"),
    ("DateNotEqualsIfExists", "2026-01-15"),
]
CONDITIONED = [
    doc(*(stmt(effect, action="*", Condition={op: {key: value}}) for op, value in OPERATORS for key in CONTEXT_KEYS))
    for effect in ("Allow", "Deny")
]
REQUEST_FIELDS = [
    "principal",
    "action",
    "resource",
    "context",
    "principal_tags",
    "resource_tags",
    "time",
    "resource_account",
    "mfa",
    "principal_id",
    "principal_type",
    "role_arn",
    "region",
    "principal_org_id",
    "principal_org_paths",
    "service_linked",
    "management_account",
]
DECISIONS = ("Allowed", "ImplicitlyDenied", "ExplicitlyDenied", "Conditional")


def _decide_or_refuse(request, mode="strict"):
    """A decision, or a clear BadInput naming the field: anything else (a crash) fails the test."""
    try:
        d = evaluate(request, identity_policies=CONDITIONED[:1], mode=mode)
        denied = evaluate(request, identity_policies=CONDITIONED, mode=mode, explain=False)
    except BadInput as e:
        assert str(e)
        return
    assert d.result in DECISIONS and denied.result in DECISIONS


@settings(max_examples=examples(200))
@given(st.dictionaries(st.sampled_from(REQUEST_FIELDS), json_values, max_size=5))
@example({"principal": USER, "action": "s3:GetObject", "time": [None]})  # crashed: AttributeError on .tzinfo
@example({"principal": USER, "action": "s3:GetObject", "time": {"a": None}})
@example({"principal": USER, "action": "s3:GetObject", "principal_id": {}})  # crashed: unhashable in a cache
@example({"principal": USER, "action": "s3:GetObject", "role_arn": [None]})
def test_random_requests_are_errors_or_decisions(request):
    _decide_or_refuse(request)


@pytest.mark.parametrize(
    "time", [[None], (None,), [1], {"a": 1}, True, float("nan"), 1e300, 2**70, "0001-01-01T00:00:00+01:00", "yesterday"]
)
def test_odd_request_times_are_refused_naming_the_time(time):
    with pytest.raises(PolicyError, match="request time"):
        evaluate(req(USER, time=time), identity_policies=[doc(stmt(action="*"))])


@pytest.mark.parametrize(
    ("time", "current"),
    [
        ("2026-01-15T12:00:00Z", "2026-01-15T12:00:00Z"),
        (1768478400, "2026-01-15T12:00:00Z"),
        (_dt.date(2026, 1, 15), "2026-01-15T00:00:00Z"),
        (_dt.datetime(2026, 1, 15, 13, tzinfo=_dt.timezone(_dt.timedelta(hours=1))), "2026-01-15T12:00:00Z"),
    ],
)
def test_request_time_forms(time, current):
    block = {"DateEquals": {"aws:CurrentTime": current}}
    assert evaluate(req(USER, time=time), identity_policies=[doc(stmt(Condition=block))]).result == "Allowed"


# context values as the Python API may receive them: anything at all, nested
odd_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=12)
    | st.datetimes()
    | st.datetimes(timezones=st.timezones())
    | st.dates()
    | st.binary(max_size=6)
    | st.decimals()
    | st.sampled_from(
        [
            "",
            "Z",
            "nan",
            "inf",
            "1e400",
            "2026-13-01",
            "10.1.2.3",
            "::1",
            "true",
            "${aws:username}",
            "*",
            "9" * 30,
            "1.5",
            "QmluYXJ5",
        ]
    )
)
odd_values = st.recursive(
    odd_scalars,
    lambda c: (
        st.lists(c, max_size=3)
        | st.tuples(c)
        | st.dictionaries(st.text(max_size=3), c, max_size=2)
        | st.frozensets(st.integers() | st.text(max_size=3), max_size=2)
    ),
    max_leaves=6,
)


@settings(max_examples=examples(200), suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(CONTEXT_KEYS), odd_values, max_size=5), st.sampled_from(["strict", "discovery"]))
@example({"aws:CurrentTime": [None]}, "strict")
@example({"aws:TokenIssueTime": [None], "aws:EpochTime": [None], "aws:MultiFactorAuthAge": [None]}, "strict")
@example({"aws:TokenIssueTime": [None], "s3:max-keys": [None], "aws:SourceIp": [None]}, "discovery")
def test_odd_context_values_are_errors_or_decisions(context, mode):
    _decide_or_refuse(req(USER, context=context), mode)


@pytest.mark.parametrize(
    "bad",
    [
        "{",
        "null",
        '{"Statement": [{"Effect": "Allow"}]}',
        '{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"Bogus": {"a:b": "c"}}}]}',
    ],
)
def test_bad_policy_text_raises_policy_error_naming_the_problem(bad):
    with pytest.raises(PolicyError) as e:
        evaluate(req(USER), identity_policies=[bad])
    assert str(e.value)


@pytest.mark.parametrize(
    "request_, words",
    [
        ("not a dict", "object"),
        ({"principal": USER}, "action"),
        ({"principal": USER, "action": "s3"}, "action"),
        ({"principal": USER, "action": "s3:X", "resource": 5}, "resource"),
        ({"principal": USER, "action": "s3:X", "context": [1]}, "context"),
        ({"principal": USER, "action": "s3:X", "time": "yesterday"}, "time"),
    ],
)
def test_bad_requests(request_, words):
    with pytest.raises(PolicyError, match=words):
        evaluate(request_, identity_policies=[])


def test_a_broken_deny_document_blocks_evaluation_instead_of_being_skipped():
    broken_deny = {
        "Statement": [
            {
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"NotAnOperator": {"aws:SourceIp": "1.2.3.4"}},
            }
        ]
    }
    with pytest.raises(PolicyError, match="NotAnOperator"):
        evaluate(req(USER), identity_policies=[doc(stmt(action="*")), broken_deny])
