"""``iamkit.arn``: one way to read and write ARNs (parse, account, name, principal kinds, builders)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iamkit import arn

ACCT = "123456789012"
# a field of an ARN: anything without a colon
field = st.text(alphabet=st.characters(blacklist_characters=":", codec="utf-8"), min_size=1, max_size=12)
account = st.from_regex(r"[0-9]{12}", fullmatch=True)
name = st.text(alphabet=st.characters(blacklist_characters="/:", codec="utf-8"), min_size=1, max_size=16)
path = st.lists(name, max_size=3).map(lambda parts: "/" + "".join(p + "/" for p in parts))
partition = st.sampled_from(["aws", "aws-cn", "aws-us-gov"])


@pytest.mark.parametrize(
    ("text", "fields", "rtype", "rid", "nm"),
    [
        (
            f"arn:aws:iam::{ACCT}:user/ops/alice",
            ("aws", "iam", "", ACCT, "user/ops/alice"),
            "user",
            "ops/alice",
            "alice",
        ),
        (f"arn:aws:iam::{ACCT}:root", ("aws", "iam", "", ACCT, "root"), "", "root", "root"),
        (
            "arn:aws:iam::aws:policy/AdministratorAccess",
            ("aws", "iam", "", "aws", "policy/AdministratorAccess"),
            "policy",
            "AdministratorAccess",
            "AdministratorAccess",
        ),
        (
            f"arn:aws:secretsmanager:eu-west-1:{ACCT}:secret:app/config-Xa9",
            ("aws", "secretsmanager", "eu-west-1", ACCT, "secret:app/config-Xa9"),
            "secret",
            "app/config-Xa9",
            "config-Xa9",
        ),
        (
            f"arn:aws:lambda:us-east-1:{ACCT}:function:fn:prod",
            ("aws", "lambda", "us-east-1", ACCT, "function:fn:prod"),
            "function",
            "fn:prod",
            "fn:prod",
        ),
        (f"arn:aws:sqs:us-east-1:{ACCT}:orders", ("aws", "sqs", "us-east-1", ACCT, "orders"), "", "orders", "orders"),
        ("arn:aws:s3:::bucket", ("aws", "s3", "", "", "bucket"), "bucket", "bucket", "bucket"),
        ("arn:aws:s3:::bucket/a/b.txt", ("aws", "s3", "", "", "bucket/a/b.txt"), "object", "bucket/a/b.txt", "b.txt"),
        (
            f"arn:aws-cn:sts::{ACCT}:assumed-role/R/s@x",
            ("aws-cn", "sts", "", ACCT, "assumed-role/R/s@x"),
            "assumed-role",
            "R/s@x",
            "s@x",
        ),
    ],
)
def test_parse_common_forms(text, fields, rtype, rid, nm):
    a = arn.parse(text)
    assert (a.partition, a.service, a.region, a.account, a.resource) == fields
    assert (a.resource_type, a.resource_id, a.name) == (rtype, rid, nm)
    assert str(a) == text and arn.is_arn(text) and arn.name_of(text) == nm


@pytest.mark.parametrize(
    "text",
    [
        "",
        "arn",
        "arn:",
        "arn:aws",
        "arn:aws:iam::123",
        f"arn:aws:iam::{ACCT}:",
        f"arn::iam::{ACCT}:root",
        f"arn:aws::::{ACCT}:x",
        "ARN:aws:iam::1:root",
        "urn:aws:iam::1:root",
        None,
        42,
        ["arn:aws:s3:::b"],
    ],
)
def test_not_an_arn(text):
    assert arn.parse(text) is None and not arn.is_arn(text) and arn.account_of(text) is None


# The two `_arn_account` helpers disagreed (policy/engine.py: 12 digits or nothing; assess/context.py: whatever is
# in the fifth field). An ARN without a 12-digit account has no account.
@pytest.mark.parametrize(
    ("text", "want"),
    [
        (f"arn:aws:iam::{ACCT}:user/a", ACCT),
        (f"arn:aws:s3:us-east-1:{ACCT}:accesspoint/ap", ACCT),
        ("arn:aws:iam::aws:policy/ReadOnlyAccess", None),  # AWS-managed: 'aws' is not an account
        ("arn:aws:s3:::bucket", None),  # no account field at all
        ("arn:aws:iam::12345:user/a", None),  # too short
        ("arn:aws:iam::1234567890123:user/a", None),  # too long
        ("arn:aws:iam::12345678901x:user/a", None),
        ("arn:aws:iam::١٢٣٤٥٦٧٨٩٠١٢:user/a", None),  # Arabic-Indic digits: str.isdigit() says yes
        ("arn:aws:iam::*:role/x", None),
        (f"arn:aws:iam::{ACCT}\n:user/a", None),
    ],
)
def test_account_of_is_twelve_ascii_digits_or_none(text, want):
    assert arn.account_of(text) == want


@pytest.mark.parametrize(
    ("value", "kind", "acct", "nm", "session", "role"),
    [
        (f"arn:aws:iam::{ACCT}:user/ops/alice", "user", ACCT, "alice", None, None),
        (
            f"arn:aws:iam::{ACCT}:role/service-role/deploy",
            "role",
            ACCT,
            "deploy",
            None,
            f"arn:aws:iam::{ACCT}:role/service-role/deploy",
        ),
        (
            f"arn:aws:sts::{ACCT}:assumed-role/deploy/i-0abc",
            "assumed_role",
            ACCT,
            "deploy",
            "i-0abc",
            f"arn:aws:iam::{ACCT}:role/deploy",
        ),
        (
            f"arn:aws-us-gov:sts::{ACCT}:assumed-role/AWSReservedSSO_Admin_1/alice@corp.example",
            "assumed_role",
            ACCT,
            "AWSReservedSSO_Admin_1",
            "alice@corp.example",
            f"arn:aws-us-gov:iam::{ACCT}:role/AWSReservedSSO_Admin_1",
        ),
        (f"arn:aws:iam::{ACCT}:root", "root", ACCT, None, None, None),
        (f"arn:aws:iam::{ACCT}:group/admins", "group", ACCT, "admins", None, None),
        (f"arn:aws:sts::{ACCT}:federated-user/bob", "federated_user", ACCT, "bob", "bob", None),
        (f"arn:aws:iam::{ACCT}:saml-provider/Okta", "saml_provider", ACCT, "Okta", None, None),
        (
            f"arn:aws:iam::{ACCT}:oidc-provider/token.actions.githubusercontent.com",
            "oidc_provider",
            ACCT,
            "token.actions.githubusercontent.com",
            None,
            None,
        ),
        ("cognito-identity.amazonaws.com", "oidc_provider", None, "cognito-identity.amazonaws.com", None, None),
        ("lambda.amazonaws.com", "service", None, "lambda.amazonaws.com", None, None),
        ("ec2.amazonaws.com.cn", "service", None, "ec2.amazonaws.com.cn", None, None),
        (ACCT, "account", ACCT, None, None, None),
        ("*", "anyone", None, None, None, None),
        ("AIDAEXAMPLE", "unknown", None, None, None, None),
        (f"arn:aws:sts::{ACCT}:assumed-role/only-a-role", "unknown", ACCT, None, None, None),
        ("arn:aws:s3:::bucket", "unknown", None, None, None, None),
        (None, "unknown", None, None, None, None),
    ],
)
def test_principal_kinds(value, kind, acct, nm, session, role):
    p = arn.principal(value)
    assert (p.kind, p.account, p.name, p.session, p.role_arn) == (kind, acct, nm, session, role)
    assert arn.role_of_session(value) == role


def test_principal_account_takes_bare_ids_and_arns():
    assert arn.principal_account(ACCT) == ACCT
    assert arn.principal_account(f"arn:aws:iam::{ACCT}:root") == ACCT
    assert arn.principal_account("arn:aws:iam::aws:policy/X") is None
    assert arn.principal_account("12345678901") is None and arn.principal_account("*") is None


def test_aws_managed_policy():
    assert arn.is_aws_managed_policy("arn:aws:iam::aws:policy/service-role/AWSLambdaRole")
    assert arn.is_aws_managed_policy("arn:aws-cn:iam::aws:policy/ReadOnlyAccess")
    assert not arn.is_aws_managed_policy(f"arn:aws:iam::{ACCT}:policy/aws")
    assert not arn.is_aws_managed_policy("x:iam::aws:policy/y")  # the old substring test said yes
    assert not arn.is_aws_managed_policy(None)


def test_builders():
    assert arn.user_arn(ACCT, "alice") == f"arn:aws:iam::{ACCT}:user/alice"
    assert arn.role_arn(ACCT, "deploy", "/service-role/") == f"arn:aws:iam::{ACCT}:role/service-role/deploy"
    assert arn.role_arn(ACCT, "deploy", "service-role") == f"arn:aws:iam::{ACCT}:role/service-role/deploy"
    assert arn.policy_arn("aws", "ReadOnlyAccess") == "arn:aws:iam::aws:policy/ReadOnlyAccess"
    assert arn.group_arn(ACCT, "g", partition="aws-cn") == f"arn:aws-cn:iam::{ACCT}:group/g"
    assert arn.root_arn(ACCT) == f"arn:aws:iam::{ACCT}:root"
    assert arn.assumed_role_arn(ACCT, "R", "s") == f"arn:aws:sts::{ACCT}:assumed-role/R/s"
    assert arn.build("s3", "b/k") == "arn:aws:s3:::b/k"


# ---------------------------------------------------------------------------------------------- properties
@given(
    p=field,
    s=field,
    r=st.text(alphabet=st.characters(blacklist_characters=":", codec="utf-8"), max_size=12),
    a=st.text(alphabet=st.characters(blacklist_characters=":", codec="utf-8"), max_size=14),
    res=st.text(min_size=1, max_size=40),
)
def test_parse_round_trips_every_arn(p, s, r, a, res):
    text = arn.build(s, res, account=a, region=r, partition=p)
    got = arn.parse(text)
    assert (got.partition, got.service, got.region, got.account, got.resource) == (p, s, r, a, res)
    assert str(got) == text
    assert arn.account_of(text) == (a if len(a) == 12 and a.isascii() and a.isdigit() else None)


@given(st.one_of(st.text(max_size=60), st.binary(max_size=20), st.integers(), st.none()))
def test_never_raises_on_anything(value):
    a = arn.parse(value)
    assert a is None or str(a) == value
    acct = arn.account_of(value)
    assert acct is None or (len(acct) == 12 and acct.isascii() and acct.isdigit())
    assert arn.principal(value).kind in {
        "root",
        "user",
        "role",
        "group",
        "assumed_role",
        "federated_user",
        "saml_provider",
        "oidc_provider",
        "service",
        "account",
        "anyone",
        "unknown",
    }
    assert isinstance(arn.name_of(value), str)


@given(part=partition, a=account, role=name, session=name, p=path)
def test_session_leads_back_to_its_role(part, a, role, session, p):
    session_arn = arn.assumed_role_arn(a, role, session, partition=part)
    who = arn.principal(session_arn)
    assert (who.kind, who.account, who.name, who.session) == ("assumed_role", a, role, session)
    assert arn.role_of_session(session_arn) == arn.role_arn(a, role, partition=part)
    r = arn.role_arn(a, role, p, partition=part)
    assert arn.role_of_session(r) == r and arn.principal(r).path == p


@given(a=account, n=name, p=path, kind=st.sampled_from(["user", "role", "group"]))
def test_iam_names_and_paths(a, n, p, kind):
    text = getattr(arn, f"{kind}_arn")(a, n, p)
    who = arn.principal(text)
    assert (who.kind, who.account, who.name, who.path) == (kind, a, n, p)
    assert arn.name_of(text) == n and arn.account_of(text) == a


def test_linear_time_on_a_huge_hostile_value():
    big = "arn:aws:iam::" + ":" * 200_000 + "/" * 200_000
    assert arn.account_of(big) is None and arn.principal(big).kind == "unknown"
    assert arn.name_of(big) == ""
