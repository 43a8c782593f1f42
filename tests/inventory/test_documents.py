"""Policy documents as IAM returns them -> normalised statements and trust rows (pure)."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iamkit.aws.documents import parse_document, principal_account, statements, trust_rows
from iamkit.errors import PolicyError

DOC = {
    "Version": "2012-10-17",
    "Statement": {"Sid": "A", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
}


def test_parse_accepts_dict_json_and_url_encoded():
    assert parse_document(DOC) is DOC
    assert parse_document(json.dumps(DOC)) == DOC
    assert parse_document(quote(json.dumps(DOC))) == DOC


@pytest.mark.parametrize(
    "bad, words",
    [
        ('{"Statement": [', "not valid JSON"),
        ("[1, 2]", "JSON list"),
        (42, "int"),
        (quote('{"Version": '), "not valid JSON"),
    ],
)
def test_parse_rejects_malformed(bad, words):
    with pytest.raises(PolicyError, match=words):
        parse_document(bad)


def test_statements_are_lists_everywhere():
    [s] = statements(DOC)
    assert s["actions"] == ["s3:GetObject"] and s["resources"] == ["arn:aws:s3:::b/*"]
    assert s["sid"] == "A" and s["effect"] == "Allow" and s["statement_index"] == 0
    assert s["not_actions"] is None and s["principals"] is None


def test_principal_star_and_condition_values_normalised():
    doc = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}},
            }
        ]
    }
    [s] = statements(doc)
    assert s["principals"] == {"AWS": ["*"]}
    assert s["conditions"] == {"StringEquals": {"aws:PrincipalOrgID": ["o-1"]}}


@pytest.mark.parametrize(
    "statement, words",
    [
        ("not-an-object", "statement 0"),
        ({"Effect": "Allow", "Principal": 3}, "Principal"),
        ({"Effect": "Allow", "Condition": ["x"]}, "Condition"),
        ({"Effect": "Allow", "Condition": {"StringEquals": "x"}}, "StringEquals"),
    ],
)
def test_statements_reject_bad_shapes(statement, words):
    with pytest.raises(PolicyError, match=words):
        statements({"Statement": [statement]})


def test_empty_document_has_no_statements():
    assert statements({"Version": "2012-10-17"}) == []


@pytest.mark.parametrize(
    "principal, account",
    [
        ("123456789012", "123456789012"),
        ("arn:aws:iam::210987654321:root", "210987654321"),
        ("arn:aws:iam::210987654321:role/x", "210987654321"),
        ("*", None),
        ("ec2.amazonaws.com", None),
    ],
)
def test_principal_account(principal, account):
    assert principal_account(principal) == account


def test_trust_rows_one_per_principal_with_flags():
    doc = {
        "Statement": [
            {
                "Sid": "x",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {
                    "AWS": ["arn:aws:iam::111111111111:root", "222222222222"],
                    "Service": "ec2.amazonaws.com",
                },
                "Condition": {
                    "StringEquals": {"sts:externalid": "abc"},
                    "Bool": {"aws:MultiFactorAuthPresent": "true"},
                },
            },
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Principal": {"Federated": "arn:aws:iam::333333333333:oidc-provider/x"},
            },
        ]
    }
    rows = trust_rows("999999999999", "arn:aws:iam::999999999999:role/r", quote(json.dumps(doc)))
    assert [(r["principal_type"], r["principal_account_id"]) for r in rows] == [
        ("AWS", "111111111111"),
        ("AWS", "222222222222"),
        ("Service", None),
        ("Federated", "333333333333"),
    ]
    assert [r["external_id_required"] for r in rows] == [True, True, True, False]
    assert [r["mfa_required"] for r in rows] == [True, True, True, False]
    assert all(r["role_arn"].endswith("role/r") and r["account_id"] == "999999999999" for r in rows)


def test_mfa_present_false_is_not_required():
    doc = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "sts:AssumeRole",
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}},
            }
        ]
    }
    assert trust_rows("1", "r", doc)[0]["mfa_required"] is False


def test_not_principal_rows_are_marked():
    doc = {
        "Statement": [
            {"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": "sts:AssumeRole"}
        ]
    }
    [r] = trust_rows("1", "r", doc)
    assert r["principal_type"] == "NotAWS" and r["effect"] == "Deny"


_str = st.text(alphabet="abcdefghijklmnopqrstuvwxyz:*/-", min_size=1, max_size=12)
_one_or_many = st.one_of(_str, st.lists(_str, min_size=1, max_size=4))
_statement = st.fixed_dictionaries(
    {"Effect": st.sampled_from(["Allow", "Deny"]), "Action": _one_or_many},
    optional={
        "Resource": _one_or_many,
        "Sid": _str,
        "Principal": st.one_of(
            st.just("*"), st.dictionaries(st.sampled_from(["AWS", "Service"]), _one_or_many, min_size=1)
        ),
    },
)


@given(st.lists(_statement, min_size=1, max_size=5), st.booleans())
def test_statements_property_lists_preserve_values(sts, encode):
    doc = {"Version": "2012-10-17", "Statement": sts}
    text = json.dumps(doc)
    out = statements(quote(text) if encode else text)
    assert len(out) == len(sts)
    for raw, norm in zip(sts, out, strict=True):
        acts = raw["Action"] if isinstance(raw["Action"], list) else [raw["Action"]]
        assert norm["actions"] == acts
        assert norm["effect"] == raw["Effect"]
        if "Resource" in raw:
            assert set(norm["resources"]) == set(
                raw["Resource"] if isinstance(raw["Resource"], list) else [raw["Resource"]]
            )
        for values in (norm["principals"] or {}).values():
            assert isinstance(values, list)
