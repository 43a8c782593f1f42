"""AWS-owned objects no policy can change, and the one action no policy can deny.

Truth tables transcribed from AWS's documentation:
- IAM User Guide, "AWS managed policies": you cannot change the permissions defined in AWS managed policies
  (no new version, no default version change, no deletion, no tags; creating a policy under the ``aws`` account
  is impossible).
- IAM User Guide, "Service-linked roles": the role is managed by the service; its trust, permissions and
  boundary cannot be edited, it cannot be deleted with iam:DeleteRole (iam:DeleteServiceLinkedRole is the way)
  and only its description can be edited. Roles under ``/aws-reserved/`` (IAM Identity Center) are managed by
  AWS the same way.
- AWS KMS Developer Guide, "Aliases": ``alias/aws/`` aliases belong to AWS managed keys; you cannot create,
  update or delete them.
- AWS STS API Reference, GetCallerIdentity: "No permissions are required to perform this operation. If an
  administrator attaches a policy to your identity that explicitly denies access to the sts:GetCallerIdentity
  action, you can still perform this operation."
An explicit Deny stays an explicit deny; everything else a policy would allow becomes an implicit deny.
"""

from __future__ import annotations

import pytest
from policytest import ACCT_A, SESSION, USER, doc, req, stmt

from iamkit.policy import evaluate

ALLOW_ALL = doc(stmt(action="*"))
MANAGED = "arn:aws:iam::aws:policy/AdministratorAccess"
CUSTOMER = f"arn:aws:iam::{ACCT_A}:policy/mine"
SLR = f"arn:aws:iam::{ACCT_A}:role/aws-service-role/elasticbeanstalk.amazonaws.com/AWSServiceRoleForElasticBeanstalk"
RESERVED = f"arn:aws:iam::{ACCT_A}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef"
PLAIN_ROLE = f"arn:aws:iam::{ACCT_A}:role/app"
AWS_ALIAS = f"arn:aws:kms:us-east-1:{ACCT_A}:alias/aws/s3"
MY_ALIAS = f"arn:aws:kms:us-east-1:{ACCT_A}:alias/mine"

POLICY_CHANGES = [
    "iam:CreatePolicy",
    "iam:CreatePolicyVersion",
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:TagPolicy",
    "iam:UntagPolicy",
]
ROLE_CHANGES = [
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "iam:UpdateAssumeRolePolicy",
    "iam:DeleteRole",
    "iam:CreateRole",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:PassRole",
]


def decide(action, resource, policies=(ALLOW_ALL,), principal=USER):
    return evaluate(req(principal, action, resource), identity_policies=list(policies))


@pytest.mark.parametrize("action", POLICY_CHANGES)
def test_aws_managed_policies_cannot_be_changed(action):
    d = decide(action, MANAGED)
    assert d.result == "ImplicitlyDenied" and d.blocked_by == ["protected"]
    assert decide(action, CUSTOMER).allowed  # the same change to a customer managed policy is allowed


@pytest.mark.parametrize(
    "action", ["iam:GetPolicy", "iam:GetPolicyVersion", "iam:AttachUserPolicy", "iam:ListEntitiesForPolicy"]
)
def test_aws_managed_policies_can_be_read_and_attached(action):
    assert decide(action, MANAGED).allowed


@pytest.mark.parametrize(
    "action",
    ROLE_CHANGES
    + ["iam:UpdateRole", "iam:UpdateRoleDescription", "iam:CreateServiceLinkedRole", "iam:DeleteServiceLinkedRole"],
)
def test_reserved_roles_cannot_be_changed_or_passed(action):
    d = decide(action, RESERVED)
    assert d.result == "ImplicitlyDenied" and d.blocked_by == ["protected"]
    assert decide(action, PLAIN_ROLE).allowed


@pytest.mark.parametrize(
    "action, expected",
    [
        *[(a, "ImplicitlyDenied") for a in ROLE_CHANGES],
        ("iam:DeleteServiceLinkedRole", "Allowed"),  # the documented way to delete one
        ("iam:CreateServiceLinkedRole", "Allowed"),
        ("iam:UpdateRoleDescription", "Allowed"),  # only the description may be edited
        ("iam:GetRole", "Allowed"),
    ],
)
def test_service_linked_roles(action, expected):
    assert decide(action, SLR).result == expected


def test_explicit_deny_stays_explicit():
    deny = doc(stmt("Deny", action="iam:CreatePolicyVersion"))
    d = decide("iam:CreatePolicyVersion", MANAGED, (ALLOW_ALL, deny))
    assert d.result == "ExplicitlyDenied" and d.blocked_by == ["identity"]


def test_no_grant_is_still_reported_as_protected_not_identity():
    # nothing allows it either way; the reason given is the one no policy could change
    assert decide("iam:DeletePolicy", MANAGED, ()).blocked_by == ["protected"]


@pytest.mark.parametrize(
    "action, resource, expected",
    [
        ("kms:CreateAlias", AWS_ALIAS, "ImplicitlyDenied"),
        ("kms:UpdateAlias", AWS_ALIAS, "ImplicitlyDenied"),
        ("kms:DeleteAlias", AWS_ALIAS, "ImplicitlyDenied"),
        ("kms:CreateAlias", MY_ALIAS, "Allowed"),  # aliases have no key policy: the identity policy decides
        ("kms:UpdateAlias", MY_ALIAS, "Allowed"),
        ("kms:DeleteAlias", MY_ALIAS, "Allowed"),
    ],
)
def test_kms_aws_managed_aliases(action, resource, expected):
    assert decide(action, resource).result == expected


def test_explanation_names_the_protection():
    d = decide("iam:PutRolePolicy", SLR)
    assert "service-linked role" in d.explain_text()


@pytest.mark.parametrize(
    "identity, session",
    [
        ([], None),  # no policy at all
        ([doc(stmt("Deny", action="sts:GetCallerIdentity"))], None),  # an explicit deny
        ([ALLOW_ALL], [doc(stmt("Deny", action="*"))]),  # a session policy denying everything
    ],
)
def test_get_caller_identity_is_always_allowed(identity, session):
    principal = SESSION if session is not None else USER
    d = evaluate(req(principal, "sts:GetCallerIdentity", "*"), identity_policies=identity, session_policies=session)
    assert d.result == "Allowed"


def test_get_caller_identity_needs_a_signed_request():
    assert evaluate(req(None, "sts:GetCallerIdentity", "*")).result == "ImplicitlyDenied"
