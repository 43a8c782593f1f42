"""Authorization-details exports -> frames (offline path), and its bad-input errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from typer.testing import CliRunner

from iamkit import frames
from iamkit.errors import BadInput
from iamkit.inventory import FRAME_NAMES, Inventory, from_authorization_details

ACCT = "111122223333"
ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
READ = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:Get*"], "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "x"},
    ],
}


def export(roles: int = 2, encode: bool = False) -> dict:
    """A small export like ``aws iam get-account-authorization-details`` writes."""
    enc = (lambda d: quote(json.dumps(d))) if encode else (lambda d: d)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": "sts:AssumeRole"}
        ],
    }
    return {
        "UserDetailList": [
            {
                "Path": "/",
                "UserName": "alice",
                "UserId": "AIDAALICE",
                "Arn": f"arn:aws:iam::{ACCT}:user/alice",
                "CreateDate": "2024-01-02T03:04:05Z",
                "GroupList": ["devs"],
                "UserPolicyList": [{"PolicyName": "inline-admin", "PolicyDocument": enc(ADMIN)}],
                "AttachedManagedPolicies": [
                    {"PolicyName": "ReadOnlyAccess", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}
                ],
                "Tags": [{"Key": "team", "Value": "x"}],
            }
        ],
        "GroupDetailList": [
            {
                "Path": "/",
                "GroupName": "devs",
                "GroupId": "AGPADEVS",
                "Arn": f"arn:aws:iam::{ACCT}:group/devs",
                "CreateDate": "2024-01-02T03:04:05Z",
                "GroupPolicyList": [],
                "AttachedManagedPolicies": [{"PolicyName": "read", "PolicyArn": f"arn:aws:iam::{ACCT}:policy/read"}],
            }
        ],
        "RoleDetailList": [
            {
                "Path": "/",
                "RoleName": f"role-{i}",
                "RoleId": f"AROA{i}",
                "Arn": f"arn:aws:iam::{ACCT}:role/role-{i}",
                "CreateDate": "2024-01-02T03:04:05Z",
                "AssumeRolePolicyDocument": enc(trust),
                "RolePolicyList": [],
                "InstanceProfileList": [],
                "AttachedManagedPolicies": [{"PolicyName": "read", "PolicyArn": f"arn:aws:iam::{ACCT}:policy/read"}],
                "RoleLastUsed": {"LastUsedDate": "2024-05-01T00:00:00Z", "Region": "us-east-1"},
                "PermissionsBoundary": {
                    "PermissionsBoundaryType": "Policy",
                    "PermissionsBoundaryArn": f"arn:aws:iam::{ACCT}:policy/boundary",
                },
            }
            for i in range(roles)
        ],
        "Policies": [
            {
                "PolicyName": "read",
                "PolicyId": "ANPAREAD",
                "Arn": f"arn:aws:iam::{ACCT}:policy/read",
                "Path": "/",
                "DefaultVersionId": "v2",
                "AttachmentCount": roles + 1,
                "IsAttachable": True,
                "PolicyVersionList": [
                    {"Document": enc(ADMIN), "VersionId": "v1", "IsDefaultVersion": False},
                    {"Document": enc(READ), "VersionId": "v2", "IsDefaultVersion": True},
                ],
            },
            {
                "PolicyName": "ReadOnlyAccess",
                "Arn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
                "Path": "/",
                "DefaultVersionId": "v9",
                "PolicyVersionList": [{"Document": enc(READ), "VersionId": "v9", "IsDefaultVersion": True}],
            },
            {
                "PolicyName": "unused",
                "Arn": f"arn:aws:iam::{ACCT}:policy/unused",
                "Path": "/",
                "DefaultVersionId": "v1",
                "PolicyVersionList": [{"Document": enc(READ), "VersionId": "v1", "IsDefaultVersion": True}],
            },
        ],
    }


@pytest.fixture(params=[False, True], ids=["decoded", "url-encoded"])
def inv(request, tmp_path) -> Inventory:
    path = tmp_path / "authz.json"
    path.write_text(json.dumps(export(roles=2, encode=request.param)))
    return from_authorization_details([path])


def test_every_frame_follows_its_schema(inv):
    for name in FRAME_NAMES:
        frames.check(getattr(inv, name), name)


def test_principals(inv):
    p = inv.principals.set_index("arn")
    assert sorted(p["principal_type"]) == ["group", "role", "role", "user"]
    alice = p.loc[f"arn:aws:iam::{ACCT}:user/alice"]
    assert alice["groups"] == ["devs"] and alice["tags"] == {"team": "x"}
    assert alice["created"] == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    role = p.loc[f"arn:aws:iam::{ACCT}:role/role-0"]
    assert role["permissions_boundary_arn"].endswith("policy/boundary")
    assert role["last_used"] == datetime(2024, 5, 1, tzinfo=UTC)
    assert set(inv.accounts["account_id"]) == {ACCT}


def test_policies_every_version_default_flagged_and_attachments(inv):
    pol = inv.policies
    read = pol[pol["policy_arn"] == f"arn:aws:iam::{ACCT}:policy/read"]
    default = read[read["is_default"]]
    assert sorted(default["attached_to_arn"]) == sorted(
        [f"arn:aws:iam::{ACCT}:group/devs", f"arn:aws:iam::{ACCT}:role/role-0", f"arn:aws:iam::{ACCT}:role/role-1"]
    )
    assert set(default["version_id"]) == {"v2"}
    old = read[~read["is_default"]]
    assert list(old["version_id"]) == ["v1"] and old["attached_to_arn"].isna().all()
    assert old.iloc[0]["document"] == ADMIN
    aws = pol[pol["aws_managed"]]
    assert list(aws["policy_type"]) == ["aws_managed"] and list(aws["attached_to_type"]) == ["user"]
    unused = pol[pol["policy_name"] == "unused"]
    assert len(unused) == 1 and unused["attached_to_arn"].isna().all()
    inline = pol[pol["policy_type"] == "inline"]
    assert list(inline["policy_name"]) == ["inline-admin"] and inline["policy_arn"].isna().all()
    assert inline.iloc[0]["document"] == ADMIN


def test_statements_default_and_inline_only(inv):
    s = inv.statements
    by_policy = s.groupby(s["policy_name"].astype(str)).size().to_dict()
    assert by_policy == {"read": 2, "ReadOnlyAccess": 2, "unused": 2, "inline-admin": 1}
    deny = s[(s["policy_name"] == "read") & (s["effect"] == "Deny")].iloc[0]
    assert deny["actions"] == ["s3:GetObject"] and deny["resources"] == ["x"] and deny["statement_index"] == 1


def test_trusts(inv):
    t = inv.trusts
    assert len(t) == 2 and set(t["principal_account_id"]) == {"444455556666"}
    assert not t["external_id_required"].any()


def test_malformed_document_kept_and_listed(tmp_path):
    doc = export(roles=1)
    doc["RoleDetailList"][0]["RolePolicyList"] = [{"PolicyName": "broken", "PolicyDocument": "%7B%22Statement"}]
    path = tmp_path / "a.json"
    path.write_text(json.dumps(doc))
    inv = from_authorization_details(path)
    broken = inv.policies[inv.policies["policy_name"] == "broken"]
    assert len(broken) == 1 and broken.iloc[0]["document"] == "%7B%22Statement"
    [err] = inv.errors.to_dict("records")
    assert err["code"] == "MalformedPolicyDocument" and "broken" in err["message"]
    assert err["account_id"] == ACCT and "not valid JSON" in err["message"]


def test_several_files_several_accounts(tmp_path):
    a, b = export(), export()
    b_text = json.dumps(b).replace(ACCT, "999988887777")
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(b_text)
    inv = from_authorization_details([tmp_path / "a.json", tmp_path / "b.json"])
    assert sorted(inv.accounts["account_id"]) == [ACCT, "999988887777"]
    assert inv.principals.groupby("account_id").size().to_dict() == {ACCT: 4, "999988887777": 4}


def test_truncated_file_is_bad_input(tmp_path):
    path = tmp_path / "cut.json"
    path.write_text(json.dumps(export())[:500])
    with pytest.raises(BadInput, match=r"cut.json: truncated"):
        from_authorization_details(path)


@pytest.mark.parametrize("content", ['{"Records": []}', "[1, 2, 3]", '{"RoleDetailList": {"a": 1}}'])
def test_wrong_format_is_bad_input(tmp_path, content):
    path = tmp_path / "other.json"
    path.write_text(content)
    with pytest.raises(BadInput, match="not a get-account-authorization-details file"):
        from_authorization_details(path)


def test_missing_file_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="no such file"):
        from_authorization_details(tmp_path / "nope.json")


def test_cli_from_authz_exit_2_on_truncated(tmp_path):
    from iamkit.cli import main

    path = tmp_path / "cut.json"
    path.write_text(json.dumps(export())[:300])
    with pytest.raises(SystemExit) as e:
        main(["inventory", "from-authz", str(path), "--out", str(tmp_path / "snap")])
    assert e.value.code == 2
    assert not (tmp_path / "snap").exists()


def test_cli_from_authz_writes_snapshot(tmp_path):
    from iamkit.cli import app

    path = tmp_path / "a.json"
    path.write_text(json.dumps(export(roles=3)))
    result = CliRunner().invoke(app, ["inventory", "from-authz", str(path), "--out", str(tmp_path / "snap")])
    assert result.exit_code == 0, result.output
    inv = Inventory.load(tmp_path / "snap")
    assert (inv.principals["principal_type"] == "role").sum() == 3
