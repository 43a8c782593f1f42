"""The Identity Center reader for one person (``collectors.identity_center.person``), the one the person view
(``iamkit correlate``) uses: with botocore's Stubber for what moto cannot say, and against the sandbox's
seeded organization (every person's user, groups and assignments, as seeded)."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from iamkit.aws.calls import ErrorLog, Scope
from iamkit.aws.collectors.identity_center import person
from iamkit.aws.session import AwsContext, as_context, new_session

ACCT = "111122223333"
INSTANCE = {"InstanceArn": "arn:aws:sso:::instance/ssoins-1", "IdentityStoreId": "d-1"}
EXTRA = {"IdentityStoreId": "d-1", "Revision": "1"}  # fields botocore requires in these responses
USER_ARN = {"UserArn": f"arn:aws:identitystore::{ACCT}:identitystore/d-1/user/u-1"}
PS = "arn:aws:sso:::permissionSet/ssoins-1/ps-0a1b"


@pytest.fixture
def scope():
    ctx = AwsContext(
        session=new_session(region="us-east-1", access_key_id="AKIATEST", secret_access_key="x"),
        region="us-east-1",
        account_id=ACCT,
        endpoint_url="http://127.0.0.1:9",
    )
    stubs = {s: Stubber(ctx.client(s)) for s in ("sso-admin", "identitystore")}
    for s in stubs.values():
        s.activate()
    sc = Scope(ctx, ErrorLog())
    sc.stubs = stubs
    yield sc
    for s in stubs.values():
        s.assert_no_pending_responses()


def test_found_by_email_with_group_assignments_and_a_denied_description(scope):
    sso, ids = scope.stubs["sso-admin"], scope.stubs["identitystore"]
    sso.add_response("list_instances", {"Instances": [INSTANCE]})
    ids.add_client_error("get_user_id", "ResourceNotFoundException", "no such userName")
    ids.add_response(
        "get_user_id",
        {"UserId": "u-1", "IdentityStoreId": "d-1", **USER_ARN},
        {
            "IdentityStoreId": "d-1",
            "AlternateIdentifier": {
                "UniqueAttribute": {"AttributePath": "emails.value", "AttributeValue": "ann@corp.example"}
            },
        },
    )
    ids.add_response(
        "describe_user",
        {
            "UserId": "u-1",
            "UserName": "ann",
            "DisplayName": "Ann",
            **EXTRA,
            **USER_ARN,
            "Emails": [{"Value": "ann@corp.example"}],
        },
    )
    ids.add_response(
        "list_group_memberships_for_member",
        {
            "GroupMemberships": [
                {
                    "GroupId": "g-ops",
                    "MemberId": {"UserId": "u-1"},
                    "IdentityStoreId": "d-1",
                    "MembershipId": "m-1",
                    "MembershipArn": f"arn:aws:identitystore::{ACCT}:identitystore/d-1/membership/m-1",
                }
            ]
        },
    )
    ids.add_response(
        "describe_group",
        {
            "GroupId": "g-ops",
            "DisplayName": "Ops",
            **EXTRA,
            "GroupArn": f"arn:aws:identitystore::{ACCT}:identitystore/d-1/group/g-ops",
        },
    )
    sso.add_response("list_account_assignments_for_principal", {"AccountAssignments": []})  # direct: none
    sso.add_response(
        "list_account_assignments_for_principal",
        {
            "AccountAssignments": [
                {"AccountId": "222222222222", "PermissionSetArn": PS, "PrincipalType": "GROUP", "PrincipalId": "g-ops"},
                {"AccountId": "333333333333", "PermissionSetArn": PS, "PrincipalType": "GROUP", "PrincipalId": "g-ops"},
            ]
        },
    )
    sso.add_client_error("describe_permission_set", "AccessDeniedException", "no sso:DescribePermissionSet")
    found = person(scope, "ann@corp.example")
    assert found.user == {
        "identity_store_id": "d-1",
        "user_id": "u-1",
        "user_name": "ann",
        "display_name": "Ann",
        "emails": ["ann@corp.example"],
        "external_ids": [],
        "matched_by": "email",
    }
    assert found.groups == [{"group_id": "g-ops", "display_name": "Ops"}]
    # described once per permission set; a denied description leaves the name the ARN gives
    assert [(a["account_id"], a["permission_set"], a["via"], a["principal_name"]) for a in found.assignments] == [
        ("222222222222", "ps-0a1b", "group:Ops", "Ops"),
        ("333333333333", "ps-0a1b", "group:Ops", "Ops"),
    ]
    assert [(r["operation"], r["code"], r["account_id"]) for r in scope.log.rows] == [
        ("sso:DescribePermissionSet", "AccessDeniedException", ACCT)
    ]


def test_nobody_there_is_one_not_found_row(scope):
    sso, ids = scope.stubs["sso-admin"], scope.stubs["identitystore"]
    sso.add_response("list_instances", {"Instances": [INSTANCE]})
    ids.add_client_error("get_user_id", "ResourceNotFoundException", "no")
    ids.add_client_error("get_user_id", "ValidationException", "no")
    ids.add_response("list_users", {"Users": [{"UserId": "u-9", "UserName": "someone", **EXTRA, **USER_ARN}]})
    found = person(scope, "ann@corp.example")
    assert (found.user, found.groups, found.assignments) == ({}, [], [])
    assert [(r["operation"], r["code"]) for r in scope.log.rows] == [("identitystore:GetUserId", "NotFound")]


def test_as_context_wraps_a_session_once():
    sess = new_session(region="eu-west-1", access_key_id="AKIATEST", secret_access_key="x")
    ctx = as_context(sess, account_id=ACCT)
    assert (ctx.region, ctx.account_id, ctx.session) == ("eu-west-1", ACCT, sess)
    assert as_context(ctx) is ctx


@pytest.mark.sandbox
def test_every_seeded_person_as_seeded(sandbox):
    """Ground truth: the people, groups and group assignments the sandbox seeded into Identity Center."""
    org = sandbox.org
    scope = Scope(as_context(sandbox.session(), account_id=org.management_account_id), ErrorLog())
    people = [p for p in org.people if p.identity_center_user_id]
    assert len(people) >= 5
    for p in people:
        found = person(scope, p.upn)
        assert found.user["user_id"] == p.identity_center_user_id and found.user["matched_by"] == "userName"
        assert found.user["display_name"] == p.display_name
        assert sorted(g["display_name"] for g in found.groups) == sorted(p.groups)
        want = sorted(
            (a.account_id, a.permission_set, a.permission_set_arn, f"group:{a.principal_name}")
            for a in org.assignments
            if a.principal_name in p.groups
        )
        got = sorted(
            (a["account_id"], a["permission_set"], a["permission_set_arn"], a["via"]) for a in found.assignments
        )
        assert got == want, p.upn
    assert scope.log.rows == []
