"""Within one account: identity-based OR resource-based allow, with the boundary/session exceptions AWS documents.

IAM User Guide, "Policy evaluation logic" and "Permissions boundaries" (resource-based policies): a resource policy
naming the IAM user ARN or the role *session* ARN is not limited by an implicit deny in a permissions boundary or
session policy; one naming the role ARN is.
"""

from __future__ import annotations

import pytest
from policytest import ACCT_A, ALLOW, ROLE, SESSION, USER, doc, req, stmt

from iamkit.policy import evaluate

NO_S3 = doc(stmt(action="ec2:*"))  # a boundary or session policy that does not allow the action


def res(principal):
    return doc(stmt(Principal={"AWS": principal}))


@pytest.mark.parametrize(
    "identity, resource, expected",
    [
        ([ALLOW], None, "Allowed"),
        ([], res(USER), "Allowed"),
        ([ALLOW], res(USER), "Allowed"),
        ([], None, "ImplicitlyDenied"),
        ([], res("arn:aws:iam::111122223333:user/other"), "ImplicitlyDenied"),
    ],
)
def test_identity_or_resource_allow(identity, resource, expected):
    assert evaluate(req(USER), identity_policies=identity, resource_policy=resource).result == expected


def test_account_principal_in_resource_policy_delegates_to_identity_policies():
    # Principal = the account: the account's identity policies must grant
    assert evaluate(req(USER), resource_policy=res(ACCT_A)).result == "ImplicitlyDenied"
    assert evaluate(req(USER), identity_policies=[ALLOW], resource_policy=res(ACCT_A)).result == "Allowed"


def test_public_resource_policy_allows_within_account():
    assert evaluate(req(USER), resource_policy=doc(stmt(Principal="*"))).result == "Allowed"


# ---- permission boundaries
def test_boundary_intersects_with_identity():
    d = evaluate(req(USER), identity_policies=[ALLOW], permission_boundaries=[NO_S3])
    assert d.result == "ImplicitlyDenied" and d.blocked_by == ["permission_boundary"]
    assert evaluate(req(USER), identity_policies=[ALLOW], permission_boundaries=[ALLOW]).result == "Allowed"


def test_boundary_alone_grants_nothing():
    d = evaluate(req(USER), identity_policies=[], permission_boundaries=[ALLOW])
    assert d.result == "ImplicitlyDenied" and d.blocked_by == ["identity"]


@pytest.mark.parametrize(
    "caller, named, expected",
    [
        (USER, USER, "Allowed"),  # user ARN: boundary does not limit
        (SESSION, SESSION, "Allowed"),  # session ARN: boundary does not limit
        (SESSION, ROLE, "ImplicitlyDenied"),  # role ARN: boundary limits the role's sessions
    ],
)
def test_resource_policy_and_boundary(caller, named, expected):
    d = evaluate(req(caller), resource_policy=res(named), permission_boundaries=[NO_S3])
    assert d.result == expected
    if expected != "Allowed":
        assert d.blocked_by == ["permission_boundary"]


def test_resource_policy_naming_role_allows_its_session_without_identity_policy():
    assert evaluate(req(SESSION), resource_policy=res(ROLE)).result == "Allowed"
    assert evaluate(req(SESSION), resource_policy=res(ROLE), permission_boundaries=[ALLOW]).result == "Allowed"


def test_explicit_deny_in_boundary_still_wins_over_direct_grant():
    d = evaluate(req(USER), resource_policy=res(USER), permission_boundaries=[doc(stmt("Deny"))])
    assert d.result == "ExplicitlyDenied" and d.blocked_by == ["permission_boundary"]


def test_multiple_boundaries_any_allows():
    d = evaluate(req(USER), identity_policies=[ALLOW], permission_boundaries=[NO_S3, ALLOW])
    assert d.result == "Allowed"


def test_root_is_not_limited_by_boundaries():
    root = f"arn:aws:iam::{ACCT_A}:root"
    assert evaluate(req(root), identity_policies=[ALLOW], permission_boundaries=[NO_S3]).result == "Allowed"
    assert evaluate(req(ACCT_A), resource_policy=res(ACCT_A)).result == "Allowed"
