"""Identity Center lookups with botocore's Stubber: the externalId match moto cannot store, and denied calls."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from iamkit.correlate import identity_center

INSTANCE = {"InstanceArn": "arn:aws:sso:::instance/ssoins-1", "IdentityStoreId": "d-1"}
OID = "0a0a0a0a-0000-4000-8000-00000000000a"
EXTRA = {
    "UserArn": "arn:aws:identitystore::111111111111:identitystore/d-1234567890/user/u-alice-0000",
    "Revision": "1",
}  # required by botocore 1.44


class StubSession:
    """A boto3-like session handing out pre-stubbed clients."""

    def __init__(self):
        kw = dict(region_name="us-east-1", aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x")
        self.clients = {
            "sso-admin": boto3.client("sso-admin", **kw),
            "identitystore": boto3.client("identitystore", **kw),
        }
        self.stubs = {k: Stubber(c) for k, c in self.clients.items()}

    def client(self, name, **_):  # as boto3.Session.client: region, endpoint and config are the stub's own
        return self.clients[name]

    def __enter__(self):
        for s in self.stubs.values():
            s.activate()
        return self

    def __exit__(self, *exc):
        for s in self.stubs.values():
            s.assert_no_pending_responses()
            s.deactivate()


def test_user_found_by_external_id_when_the_user_name_differs():
    sess = StubSession()
    sso, ids = sess.stubs["sso-admin"], sess.stubs["identitystore"]
    sso.add_response("list_instances", {"Instances": [INSTANCE]})
    for _ in range(2):  # userName, then emails.value
        ids.add_client_error("get_user_id", "ResourceNotFoundException", "not found")
    ids.add_response(
        "list_users",
        {
            "Users": [
                {"UserId": "u-other", "UserName": "someone", "IdentityStoreId": "d-1", **EXTRA},
                {
                    "UserId": "u-alice",
                    "UserName": "aames",
                    "IdentityStoreId": "d-1",
                    **EXTRA,
                    "ExternalIds": [{"Issuer": "https://login.microsoftonline.com/t/v2.0", "Id": OID}],
                },
            ]
        },
    )
    ids.add_response(
        "describe_user",
        {
            "UserId": "u-alice",
            "UserName": "aames",
            "IdentityStoreId": "d-1",
            **EXTRA,
            "ExternalIds": [{"Issuer": "https://login.microsoftonline.com/t/v2.0", "Id": OID}],
        },
    )
    ids.add_response("list_group_memberships_for_member", {"GroupMemberships": []})
    sso.add_response(
        "list_account_assignments_for_principal",
        {
            "AccountAssignments": [
                {
                    "AccountId": "222222222222",
                    "PermissionSetArn": "arn:aws:sso:::permissionSet/ssoins-1/ps-1",
                    "PrincipalType": "USER",
                    "PrincipalId": "u-alice",
                }
            ]
        },
    )
    sso.add_response("describe_permission_set", {"PermissionSet": {"Name": "ReadOnly"}})
    with sess:
        user, groups, assignments, errors = identity_center(sess, "alice@corp.example", entra_object_id=OID)
    assert user["user_id"] == "u-alice" and user["matched_by"] == "externalId"
    assert groups == [] and errors == []
    assert [(a["account_id"], a["permission_set"], a["via"]) for a in assignments] == [
        ("222222222222", "ReadOnly", "direct")
    ]


def test_denied_identity_center_is_an_error_row_not_a_crash():
    sess = StubSession()
    sess.stubs["sso-admin"].add_client_error("list_instances", "AccessDeniedException", "no sso:ListInstances")
    with sess:
        user, groups, assignments, errors = identity_center(sess, "alice@corp.example")
    assert (user, groups, assignments) == ({}, [], [])
    assert errors[0]["operation"] == "sso:ListInstances" and errors[0]["code"] == "AccessDeniedException"


@pytest.mark.parametrize("instances", [[], [{"InstanceArn": "arn:aws:sso:::instance/other", "IdentityStoreId": "d-2"}]])
def test_no_matching_instance(instances):
    sess = StubSession()
    sess.stubs["sso-admin"].add_response("list_instances", {"Instances": instances})
    with sess:
        _, _, _, errors = identity_center(sess, "alice@corp.example", instance_arn=INSTANCE["InstanceArn"])
    assert errors[0]["code"] == "NoInstance"
