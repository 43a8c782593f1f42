"""Unsafe-trust rules, each with a positive and a negative case."""

from __future__ import annotations

from assesstest import ACCT, ALLOW_ALL, ORG, OTHER, OUTSIDE, doc, flagged, run, trust

GITHUB = f"arn:aws:iam::{ACCT}:oidc-provider/token.actions.githubusercontent.com"
SAML = f"arn:aws:iam::{ACCT}:saml-provider/corp"
AUD = {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}


def test_whole_account_trust(b):
    pos = b.role("from-other", trust({"AWS": f"arn:aws:iam::{OTHER}:root"}))
    narrowed = b.role(
        "narrowed",
        trust(
            {"AWS": f"arn:aws:iam::{OTHER}:root"},
            condition={"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{OTHER}:role/deployer"}},
        ),
    )
    own = b.role("own", trust({"AWS": f"arn:aws:iam::{ACCT}:root"}))
    hit = flagged(run(b, "IAMKIT-TRUST-001"), "IAMKIT-TRUST-001")
    assert pos in hit and narrowed not in hit and own not in hit


def test_star_trust_without_and_with_condition(b):
    open_role = b.role("open", trust({"AWS": "*"}))
    guarded = b.role("guarded", trust({"AWS": "*"}, condition={"StringEquals": {"sts:ExternalId": "x"}}))
    org_only = b.role("org-only", trust({"AWS": "*"}, condition={"StringEquals": {"aws:PrincipalOrgID": ORG}}))
    named = b.role("named", trust({"AWS": f"arn:aws:iam::{OTHER}:role/app"}))
    df = run(b, "IAMKIT-TRUST-002", "IAMKIT-TRUST-003")
    assert flagged(df, "IAMKIT-TRUST-002") == {open_role}
    # org-only: an outsider from another organization is denied by the engine, not merely "conditional"
    assert guarded in flagged(df, "IAMKIT-TRUST-003") and named not in flagged(df, "IAMKIT-TRUST-003")
    assert org_only not in flagged(df, "IAMKIT-TRUST-002")


def test_outside_organization_with_and_without_external_id(b):
    bare = b.role("vendor-bare", trust({"AWS": f"arn:aws:iam::{OUTSIDE}:root"}))
    with_id = b.role(
        "vendor-id",
        trust({"AWS": f"arn:aws:iam::{OUTSIDE}:root"}, condition={"StringEquals": {"sts:ExternalId": "secret-123"}}),
    )
    inside = b.role("inside", trust({"AWS": f"arn:aws:iam::{OTHER}:role/app"}))
    df = run(b, "IAMKIT-TRUST-004", "IAMKIT-TRUST-005")
    assert flagged(df, "IAMKIT-TRUST-004") == {bare, with_id}
    assert flagged(df, "IAMKIT-TRUST-005") == {bare}
    assert inside not in flagged(df, "IAMKIT-TRUST-004")


def test_privileged_role_without_mfa(b):
    pos = b.role("admin-nomfa", trust({"AWS": f"arn:aws:iam::{ACCT}:root"}), policies=(doc(ALLOW_ALL),))
    mfa = b.role(
        "admin-mfa",
        trust({"AWS": f"arn:aws:iam::{ACCT}:root"}, condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
        policies=(doc(ALLOW_ALL),),
    )
    weak = b.role(
        "reader-nomfa",
        trust({"AWS": f"arn:aws:iam::{ACCT}:root"}),
        policies=(doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}),),
    )
    hit = flagged(run(b, "IAMKIT-TRUST-006"), "IAMKIT-TRUST-006")
    assert pos in hit and mfa not in hit and weak not in hit


def test_service_confused_deputy(b):
    pos = b.role("config", trust({"Service": "config.amazonaws.com"}))
    pinned = b.role(
        "config-pinned",
        trust({"Service": "config.amazonaws.com"}, condition={"StringEquals": {"aws:SourceAccount": ACCT}}),
    )
    lam = b.role("lambda-exec", trust({"Service": "lambda.amazonaws.com"}))
    hit = flagged(run(b, "IAMKIT-TRUST-007"), "IAMKIT-TRUST-007")
    assert pos in hit and pinned not in hit and lam not in hit


def test_oidc_without_subject(b):
    pos = b.role("gh-any", trust({"Federated": GITHUB}, "sts:AssumeRoleWithWebIdentity", {"StringEquals": AUD}))
    star = b.role(
        "gh-star",
        trust(
            {"Federated": GITHUB},
            "sts:AssumeRoleWithWebIdentity",
            {"StringEquals": AUD, "StringLike": {"token.actions.githubusercontent.com:sub": "*"}},
        ),
    )
    neg = b.role(
        "gh-repo",
        trust(
            {"Federated": GITHUB},
            "sts:AssumeRoleWithWebIdentity",
            {
                "StringEquals": AUD,
                "StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/app:ref:refs/heads/main"},
            },
        ),
    )
    hit = flagged(run(b, "IAMKIT-TRUST-008"), "IAMKIT-TRUST-008")
    assert hit == {pos, star} and neg not in hit


def test_saml_without_audience(b):
    pos = b.role("saml-any", trust({"Federated": SAML}, "sts:AssumeRoleWithSAML"))
    neg = b.role(
        "saml-aud",
        trust(
            {"Federated": SAML},
            "sts:AssumeRoleWithSAML",
            {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
        ),
    )
    hit = flagged(run(b, "IAMKIT-TRUST-009"), "IAMKIT-TRUST-009")
    assert pos in hit and neg not in hit


def test_long_session_only_on_privileged_roles(b):
    t = trust({"AWS": f"arn:aws:iam::{ACCT}:root"}, condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})
    pos = b.role("admin-12h", t, policies=(doc(ALLOW_ALL),), max_session=43200)
    short = b.role("admin-1h", t, policies=(doc(ALLOW_ALL),), max_session=3600)
    reader = b.role(
        "reader-12h", t, policies=(doc({"Effect": "Allow", "Action": "s3:List*", "Resource": "*"}),), max_session=43200
    )
    hit = flagged(run(b, "IAMKIT-TRUST-010"), "IAMKIT-TRUST-010")
    assert hit == {pos} and short not in hit and reader not in hit
