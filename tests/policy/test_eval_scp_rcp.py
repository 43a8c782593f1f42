"""Organization guard rails: every SCP level must allow; RCPs only deny (RCPFullAWSAccess is implicit).

SCPs do not apply to service-linked roles, to the management account, or to service principals; RCPs apply to
the resource's account for the services that support them and not to service-linked roles.
"""

from __future__ import annotations

import pytest
from policytest import ACCT_A, ALLOW, BUCKET, OBJECT, SESSION, USER, doc, req, stmt

from iamkit.policy import evaluate

FULL = doc(stmt(action="*"))
ONLY_EC2 = doc(stmt(action="ec2:*"))
SLR_SESSION = f"arn:aws:sts::{ACCT_A}:assumed-role/AWSServiceRoleForX/s"
SLR_ROLE = f"arn:aws:iam::{ACCT_A}:role/aws-service-role/x.amazonaws.com/AWSServiceRoleForX"


@pytest.mark.parametrize(
    "levels, expected",
    [
        ([[FULL]], "Allowed"),
        ([[FULL], [FULL], [FULL]], "Allowed"),
        ([[FULL], [ONLY_EC2], [FULL]], "ImplicitlyDenied"),  # one level without an Allow blocks
        ([[FULL], [ONLY_EC2, FULL], [FULL]], "Allowed"),  # any policy of a level may allow
        ([[FULL], []], "ImplicitlyDenied"),  # a level with nothing attached allows nothing
        ([[ONLY_EC2]], "ImplicitlyDenied"),
    ],
)
def test_every_scp_level_must_allow(levels, expected):
    d = evaluate(req(USER), identity_policies=[ALLOW], scps=levels)
    assert d.result == expected
    if expected == "ImplicitlyDenied":
        assert d.blocked_by == ["scp"]


def test_scp_allow_does_not_grant():
    d = evaluate(req(USER), identity_policies=[], scps=[[FULL]])
    assert d.result == "ImplicitlyDenied" and d.blocked_by == ["identity"]


def test_scps_limit_resource_policy_grants_too():
    res = doc(stmt(Principal={"AWS": USER}))
    assert evaluate(req(USER), resource_policy=res, scps=[[ONLY_EC2]]).result == "ImplicitlyDenied"


def test_scps_do_not_apply_to_service_linked_roles():
    r = req(SLR_SESSION, role_arn=SLR_ROLE)
    assert evaluate(r, identity_policies=[ALLOW], scps=[[ONLY_EC2]]).result == "Allowed"
    assert evaluate(r, identity_policies=[ALLOW], scps=[[doc(stmt("Deny"))]]).result == "Allowed"
    r2 = req(SESSION, service_linked=True)
    assert evaluate(r2, identity_policies=[ALLOW], scps=[[ONLY_EC2]]).result == "Allowed"


def test_scps_do_not_apply_to_the_management_account():
    r = req(USER, management_account=True)
    assert evaluate(r, identity_policies=[ALLOW], scps=[[ONLY_EC2]]).result == "Allowed"


def test_scps_do_not_apply_to_service_principals_and_anonymous():
    res = doc(stmt(Principal="*"))
    assert evaluate(req("cloudtrail.amazonaws.com"), resource_policy=res, scps=[[ONLY_EC2]]).result == "Allowed"
    assert evaluate(req(None), resource_policy=res, scps=[[ONLY_EC2]]).result == "Allowed"


def test_scps_apply_to_the_member_account_root():
    root = f"arn:aws:iam::{ACCT_A}:root"
    assert evaluate(req(root), identity_policies=[ALLOW], scps=[[ONLY_EC2]]).result == "ImplicitlyDenied"


# ---- RCPs
RCP_DENY_INSECURE = doc(
    stmt("Deny", action="s3:*", Principal="*", Condition={"Bool": {"aws:SecureTransport": "false"}})
)


def test_rcp_only_denies():
    # an RCP without any Allow does not block (RCPFullAWSAccess is always there)
    d = evaluate(
        req(USER, context={"aws:SecureTransport": "true"}), identity_policies=[ALLOW], rcps=[[RCP_DENY_INSECURE]]
    )
    assert d.result == "Allowed"
    d = evaluate(
        req(USER, context={"aws:SecureTransport": "false"}), identity_policies=[ALLOW], rcps=[[RCP_DENY_INSECURE]]
    )
    assert d.result == "ExplicitlyDenied" and d.blocked_by == ["rcp"]


def test_rcp_allow_statements_grant_nothing():
    d = evaluate(req(USER), identity_policies=[], rcps=[[doc(stmt(action="*", Principal="*"))]])
    assert d.result == "ImplicitlyDenied"


def test_rcp_applies_to_anonymous_and_cross_account_callers():
    pub = doc(stmt(Principal="*"))
    deny = doc(stmt("Deny", action="s3:*", Principal="*"))
    assert evaluate(req(None, resource=OBJECT), resource_policy=pub, rcps=[[deny]]).result == "ExplicitlyDenied"


def test_rcp_ignored_for_unsupported_services_and_service_linked_roles():
    deny_all = doc(stmt("Deny", action="*", Principal="*"))
    r = req(USER, "ec2:DescribeInstances", "*")
    assert evaluate(r, identity_policies=[doc(stmt(action="ec2:*"))], rcps=[[deny_all]]).result == "Allowed"
    r = req(SLR_SESSION, role_arn=SLR_ROLE, resource=BUCKET)
    assert evaluate(r, identity_policies=[doc(stmt(action="s3:*"))], rcps=[[deny_all]]).result == "Allowed"


def test_service_linked_role_recognised_by_its_name():
    r = req(f"arn:aws:sts::{ACCT_A}:assumed-role/AWSServiceRoleForSupport/s")
    assert evaluate(r, identity_policies=[ALLOW], scps=[[ONLY_EC2]]).result == "Allowed"
    r = req(f"arn:aws:sts::{ACCT_A}:assumed-role/MyRole/s")
    assert evaluate(r, identity_policies=[ALLOW], scps=[[ONLY_EC2]]).result == "ImplicitlyDenied"


def test_rcp_applies_to_service_principals_but_not_to_star_only_actions():
    # Organizations guide: RCPs restrict every principal but service-linked roles, on the resources an action
    # authorizes; an action without a resource type (ListAllMyBuckets) and kms:RetireGrant are not affected
    pub = doc(stmt(Principal="*"))
    deny = doc(stmt("Deny", action="*", Principal="*"))
    assert evaluate(req("cloudtrail.amazonaws.com"), resource_policy=pub, rcps=[[deny]]).result == "ExplicitlyDenied"
    r = req(USER, "s3:ListAllMyBuckets", "*")
    assert evaluate(r, identity_policies=[doc(stmt(action="s3:*"))], rcps=[[deny]]).allowed
    key = f"arn:aws:kms:us-east-1:{ACCT_A}:key/k"
    key_pol = doc(stmt(action="kms:*", Principal={"AWS": USER}))
    assert evaluate(req(USER, "kms:RetireGrant", key), resource_policy=key_pol, rcps=[[deny]]).allowed
    assert not evaluate(req(USER, "kms:Decrypt", key), resource_policy=key_pol, rcps=[[deny]]).allowed


def test_inventory_rcps_skip_the_management_account(inventory):
    from policytest import MGMT

    from iamkit.policy.query import model

    m = model(inventory)
    assert MGMT not in m.rcps and ACCT_A in m.rcps


def test_explain_names_the_scp_level_without_an_allow():
    d = evaluate(req(USER), identity_policies=[ALLOW], scps=[[FULL], [ONLY_EC2]])
    assert any(e.policy_type == "scp" and e.policy == "level 1" and e.applied is False for e in d.explain)
    assert "level 1" in d.explain_text()


# RCP levels (Organizations guide, "Resource control policies"): the RCPs of the root, each OU and the account all
# apply to the account's resources; a Deny at any level denies, a level without RCPs of its own denies nothing
# (RCPFullAWSAccess), and an RCP whose action or resource does not match the request changes nothing.
RCP_DENY_GET = doc(stmt("Deny", action="s3:GetObject", Principal="*"))
RCP_DENY_OTHER_ACTION = doc(stmt("Deny", action="s3:PutObject", Principal="*"))
RCP_DENY_OTHER_BUCKET = doc(stmt("Deny", action="s3:GetObject", resource="arn:aws:s3:::other/*", Principal="*"))


@pytest.mark.parametrize(
    "levels, expected",
    [
        ([[]], "Allowed"),
        ([[RCP_DENY_GET]], "ExplicitlyDenied"),
        ([[RCP_DENY_GET], []], "ExplicitlyDenied"),
        ([[], [], [RCP_DENY_GET]], "ExplicitlyDenied"),
        ([[RCP_DENY_OTHER_ACTION], [RCP_DENY_OTHER_BUCKET]], "Allowed"),
    ],
)
def test_rcp_levels(levels, expected):
    d = evaluate(req(USER), identity_policies=[doc(stmt())], rcps=levels)
    assert d.result == expected


def test_rcp_and_scp_deny_together():
    d = evaluate(req(USER), identity_policies=[doc(stmt())], rcps=[[]], scps=[[doc(stmt("Deny"))]])
    assert d.result == "ExplicitlyDenied" and d.blocked_by == ["scp"]


def test_rcp_on_a_request_for_any_resource():
    # asked "on any resource" (the action has resource types), an RCP denying "*" denies
    deny = doc(stmt("Deny", action="s3:GetObject", Principal="*"))
    r = req(USER, "s3:GetObject", "*")
    assert evaluate(r, identity_policies=[doc(stmt())], rcps=[[deny]]).result == "ExplicitlyDenied"
    deny_one = doc(stmt("Deny", action="s3:GetObject", resource="arn:aws:s3:::one/*", Principal="*"))
    assert evaluate(r, identity_policies=[doc(stmt())], rcps=[[deny_one]]).allowed
