"""Malformed input is a clear PolicyError or a validation finding: never a crash, never a silent Allow."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from policytest import USER, doc, req, stmt

from iamkit.errors import PolicyError
from iamkit.policy import evaluate, validate

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8)
    | st.sampled_from(["Allow", "Deny", "*", "s3:GetObject", "arn:aws:s3:::b/*", "StringEquals", "aws:SourceIp"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["Version", "Statement", "Effect", "Action", "NotAction", "Resource", "NotResource",
                         "Principal", "NotPrincipal", "Condition", "Sid", "AWS", "StringEquals", "IpAddress",
                         "aws:SourceIp", "x"]), children, max_size=4),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
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


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["principal", "action", "resource", "context", "principal_tags", "time",
                                        "resource_account", "mfa"]), json_values, max_size=5))
def test_random_requests_are_errors_or_decisions(request):
    try:
        d = evaluate(request, identity_policies=[doc(stmt(action="*"))])
    except PolicyError:
        return
    assert d.result in ("Allowed", "ImplicitlyDenied", "ExplicitlyDenied")


@pytest.mark.parametrize("bad", ["{", "null", '{"Statement": [{"Effect": "Allow"}]}',
                                 '{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", '
                                 '"Condition": {"Bogus": {"a:b": "c"}}}]}'])
def test_bad_policy_text_raises_policy_error_naming_the_problem(bad):
    with pytest.raises(PolicyError) as e:
        evaluate(req(USER), identity_policies=[bad])
    assert str(e.value)


@pytest.mark.parametrize("request_, words", [
    ("not a dict", "object"), ({"principal": USER}, "action"), ({"principal": USER, "action": "s3"}, "action"),
    ({"principal": USER, "action": "s3:X", "resource": 5}, "resource"),
    ({"principal": USER, "action": "s3:X", "context": [1]}, "context"),
    ({"principal": USER, "action": "s3:X", "time": "yesterday"}, "time"),
])
def test_bad_requests(request_, words):
    with pytest.raises(PolicyError, match=words):
        evaluate(request_, identity_policies=[])


def test_a_broken_deny_document_blocks_evaluation_instead_of_being_skipped():
    broken_deny = {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*",
                                  "Condition": {"NotAnOperator": {"aws:SourceIp": "1.2.3.4"}}}]}
    with pytest.raises(PolicyError, match="NotAnOperator"):
        evaluate(req(USER), identity_policies=[doc(stmt(action="*")), broken_deny])
