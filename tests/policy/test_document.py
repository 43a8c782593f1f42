"""Parsing and normalising policy documents of every kind."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from iamkit.errors import PolicyError
from iamkit.policy import Policy, parse
from iamkit.policy.document import load_document

IDENT = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "A", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}],
}


def test_single_statement_object_and_string_fields_become_tuples():
    p = parse({"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}})
    assert isinstance(p, Policy) and len(p.statements) == 1
    s = p.statements[0]
    assert s.actions == ("s3:*",) and s.resources == ("*",) and s.effect == "Deny" and s.sid == ""
    assert s.label == "#0"


def test_lists_kept_in_order():
    p = parse({"Statement": [{"Effect": "Allow", "Action": ["b:X", "a:Y"], "Resource": ["r1", "r2"]}]})
    assert p.statements[0].actions == ("b:X", "a:Y")
    assert p.version is None


@pytest.mark.parametrize("text", [json.dumps(IDENT), quote(json.dumps(IDENT)), json.dumps(IDENT).encode()])
def test_json_text_url_encoded_and_bytes(text):
    p = parse(text)
    assert p.statements[0].sid == "A"
    assert p.to_dict()["Statement"][0]["Action"] == ["s3:GetObject"]


def test_parse_is_cached_for_same_text_and_same_dict():
    text = json.dumps(IDENT)
    assert parse(text) is parse(text)
    assert parse(IDENT) is parse(IDENT)
    p = parse(IDENT)
    assert parse(p) is p


@pytest.mark.parametrize(
    "value, expected",
    [
        ("*", [("*", "*")]),
        ({"AWS": "*"}, [("AWS", "*")]),
        ({"AWS": "123456789012"}, [("AWS", "arn:aws:iam::123456789012:root")]),
        ({"AWS": "arn:aws:iam::123456789012:root"}, [("AWS", "arn:aws:iam::123456789012:root")]),
        (
            {"AWS": ["arn:aws:iam::123456789012:role/r", "arn:aws:sts::123456789012:assumed-role/r/s"]},
            [("AWS", "arn:aws:iam::123456789012:role/r"), ("AWS", "arn:aws:sts::123456789012:assumed-role/r/s")],
        ),
        ({"Service": "EC2.amazonaws.com"}, [("Service", "ec2.amazonaws.com")]),
        ({"Federated": "cognito-identity.amazonaws.com"}, [("Federated", "cognito-identity.amazonaws.com")]),
        ({"CanonicalUser": "79a59df900b949e55d96a1e698fbace"}, [("CanonicalUser", "79a59df900b949e55d96a1e698fbace")]),
    ],
)
def test_every_principal_form(value, expected):
    p = parse({"Statement": [{"Effect": "Allow", "Principal": value, "Action": "s3:*"}]}, "resource")
    assert [(e.kind, e.value) for e in p.statements[0].principals] == expected


def test_not_elements_kept_apart():
    p = parse(
        {
            "Statement": [
                {
                    "Effect": "Deny",
                    "NotPrincipal": {"AWS": "123456789012"},
                    "NotAction": "s3:Get*",
                    "NotResource": "arn:aws:s3:::b/*",
                }
            ]
        },
        "resource",
    )
    s = p.statements[0]
    assert s.actions is None and s.not_actions == ("s3:Get*",)
    assert s.resources is None and s.not_resources == ("arn:aws:s3:::b/*",)
    assert s.principals is None and s.not_principals[0].value == "arn:aws:iam::123456789012:root"
    assert not s.matches_action("s3:getobject") and s.matches_action("s3:putobject")
    assert not s.matches_resource("arn:aws:s3:::b/k", {}) and s.matches_resource("arn:aws:s3:::c/k", {})


def test_trust_policy_without_resource():
    p = parse(
        {"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "trust",
    )
    assert p.statements[0].matches_resource("arn:aws:iam::1:role/x", {})


def test_policy_variables_in_resources_substituted_literally():
    p = parse({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${aws:username}/*"}]})
    s = p.statements[0]
    assert s.matches_resource("arn:aws:s3:::b/alice/x", {"aws:username": "alice"})
    assert not s.matches_resource("arn:aws:s3:::b/bob/x", {"aws:username": "alice"})
    # a '*' inside the substituted value is literal, not a wildcard
    assert not s.matches_resource("arn:aws:s3:::b/anything/x", {"aws:username": "*"})
    assert s.matches_resource("arn:aws:s3:::b/*/x", {"aws:username": "*"})
    # missing key and no default: no match
    assert not s.matches_resource("arn:aws:s3:::b/alice/x", {})


def test_relevant_indexes_statements_by_action():
    p = parse(
        {
            "Statement": [
                {"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"},
                {"Effect": "Deny", "Action": "iam:*", "Resource": "*"},
                {"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"},
            ]
        }
    )
    assert [s.index for s in p.relevant("s3:getobject")] == [0]
    assert [s.index for s in p.relevant("iam:createuser")] == [1, 2]
    assert p.relevant("s3:getobject") is p.relevant("s3:getobject")


@pytest.mark.parametrize(
    "bad, words",
    [
        ("{not json", "not valid JSON"),
        ("[]", "JSON object"),
        ("", "empty"),
        ({"Version": "2012-10-17"}, "no Statement"),
        ({"Statement": "x"}, "Statement must be"),
        ({"Version": "2020-01-01", "Statement": []}, "Version"),
        ({"Statement": [{"Effect": "allow", "Action": "s3:*", "Resource": "*"}]}, "Effect"),
        ({"Statement": [{"Effect": "Allow", "Resource": "*"}]}, "Action or NotAction"),
        (
            {"Statement": [{"Effect": "Allow", "Action": "a:b", "NotAction": "a:c", "Resource": "*"}]},
            "Action or NotAction",
        ),
        ({"Statement": [{"Effect": "Allow", "Action": "s3:*"}]}, "Resource"),
        ({"Statement": [{"Effect": "Allow", "Action": [], "Resource": "*"}]}, "empty list"),
        ({"Statement": [{"Effect": "Allow", "Action": 5, "Resource": "*"}]}, "string"),
        ({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Foo": 1}]}, "unknown element"),
        (
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "s3:*",
                        "Resource": "*",
                        "Condition": {"StringEqualz": {"aws:username": "x"}},
                    }
                ]
            },
            "StringEqualz",
        ),
        (
            {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"StringEquals": "x"}}]},
            "condition keys",
        ),
        ({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::${aws:username"}]}, "unclosed"),
    ],
)
def test_malformed_documents_raise_clear_policy_errors(bad, words):
    with pytest.raises(PolicyError) as e:
        parse(bad)
    assert words.lower() in str(e.value).lower()


def test_stored_document_defects_are_read_past_and_listed():
    # a resource-policy statement without Principal names no one: kept, flagged, reported
    p = parse({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}, "resource", "bucket")
    assert p.statements[0].principal_missing and p.statements[0].principals is None
    assert p.defects == ("bucket Statement[0]: no Principal in a resource policy statement; it never applies",)
    # a Principal inside an identity policy is ignored (the statement applies to the policy's holder)
    p = parse({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Principal": "*"}]}, "identity")
    assert p.statements[0].principals is None and not p.statements[0].principal_missing
    assert len(p.defects) == 1 and "cannot name a Principal" in p.defects[0]
    # a bare string principal is read as {"AWS": ...}
    p = parse({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Principal": "111122223333"}]}, "resource")
    assert [(e.kind, e.value) for e in p.statements[0].principals] == [("AWS", "arn:aws:iam::111122223333:root")]
    assert "bare string principal" in p.defects[0]
    # parse_statement alone (no defects list) still refuses them
    from iamkit.policy.document import parse_statement

    with pytest.raises(PolicyError, match="Principal"):
        parse_statement({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, 0, "resource")


def test_unknown_kind_and_principal_type():
    with pytest.raises(PolicyError, match="kind"):
        parse(IDENT, "banana")
    with pytest.raises(PolicyError, match="unknown principal type"):
        parse({"Statement": [{"Effect": "Allow", "Principal": {"Aws": "*"}, "Action": "s3:*"}]}, "resource")


def test_load_document_url_encoded_with_plus_kept():
    text = quote(json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::a+b"}]}))
    assert load_document(text)["Statement"][0]["Resource"] == "arn:aws:s3:::a+b"
