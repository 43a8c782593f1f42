"""Across accounts both sides must allow: the caller's identity policies AND the resource's policy."""

from __future__ import annotations

import pytest
from policytest import ACCT_A, ACCT_B, ALLOW, OTHER_ROLE, OTHER_SESSION, OTHER_USER, doc, req, stmt

from iamkit.policy import evaluate

SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCT_A}:secret:db-AbCdEf"
GET = "secretsmanager:GetSecretValue"
ID_ALLOW = doc(stmt(action=GET))


def res(principal):
    return doc(stmt(action=GET, Principal={"AWS": principal}))


@pytest.mark.parametrize(
    "identity, resource, expected, blocked",
    [
        ([ID_ALLOW], res(OTHER_USER), "Allowed", []),
        ([ID_ALLOW], res(ACCT_B), "Allowed", []),  # account principal + identity allow
        ([ID_ALLOW], res(f"arn:aws:iam::{ACCT_B}:root"), "Allowed", []),
        ([ID_ALLOW], None, "ImplicitlyDenied", ["resource"]),  # no resource policy
        ([], res(OTHER_USER), "ImplicitlyDenied", ["identity"]),  # resource alone is not enough
        ([], None, "ImplicitlyDenied", ["identity", "resource"]),
        ([ID_ALLOW], res(f"arn:aws:iam::{ACCT_A}:root"), "ImplicitlyDenied", ["resource"]),  # names another account
    ],
)
def test_both_sides_must_allow(identity, resource, expected, blocked):
    d = evaluate(req(OTHER_USER, GET, SECRET), identity_policies=identity, resource_policy=resource)
    assert d.result == expected
    assert d.blocked_by == blocked


def test_resource_account_from_arn_or_request():
    # S3 ARNs carry no account: resource_account says whose bucket it is
    r = req(OTHER_USER, resource_account=ACCT_A)
    assert evaluate(r, identity_policies=[ALLOW]).result == "ImplicitlyDenied"
    assert evaluate(req(OTHER_USER), identity_policies=[ALLOW]).result == "Allowed"  # same account assumed


def test_role_arn_in_resource_policy_matches_its_sessions_cross_account():
    d = evaluate(req(OTHER_SESSION, GET, SECRET), identity_policies=[ID_ALLOW], resource_policy=res(OTHER_ROLE))
    assert d.result == "Allowed"


def test_boundary_limits_cross_account_even_with_direct_name():
    d = evaluate(
        req(OTHER_USER, GET, SECRET),
        identity_policies=[ID_ALLOW],
        resource_policy=res(OTHER_USER),
        permission_boundaries=[doc(stmt(action="s3:*"))],
    )
    assert d.result == "ImplicitlyDenied" and "permission_boundary" in d.blocked_by


def test_public_resource_cross_account_still_needs_identity_allow():
    pub = doc(stmt(action=GET, Principal="*"))
    assert evaluate(req(OTHER_USER, GET, SECRET), resource_policy=pub).result == "ImplicitlyDenied"
    assert evaluate(req(OTHER_USER, GET, SECRET), identity_policies=[ID_ALLOW], resource_policy=pub).result == "Allowed"
