"""``inventory.diff`` as a property: whatever set of roles is deleted, trusts changed and policy versions
switched between two exports, the drift report names exactly those."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iamkit.aws.authz import build
from iamkit.inventory import Inventory, diff

ACCT = "111122223333"
N = 6


def export() -> dict:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": "sts:AssumeRole"}
        ],
    }
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    return {
        "UserDetailList": [],
        "GroupDetailList": [],
        "RoleDetailList": [
            {
                "RoleName": f"r{i}",
                "RoleId": f"AROA{i}",
                "Arn": f"arn:aws:iam::{ACCT}:role/r{i}",
                "Path": "/",
                "AssumeRolePolicyDocument": copy.deepcopy(trust),
                "RolePolicyList": [{"PolicyName": "inline", "PolicyDocument": doc}],
                "AttachedManagedPolicies": [
                    {"PolicyName": f"p{i % 3}", "PolicyArn": f"arn:aws:iam::{ACCT}:policy/p{i % 3}"}
                ],
            }
            for i in range(N)
        ],
        "Policies": [
            {
                "PolicyName": f"p{j}",
                "Arn": f"arn:aws:iam::{ACCT}:policy/p{j}",
                "DefaultVersionId": "v1",
                "PolicyVersionList": [
                    {"Document": doc, "VersionId": "v1", "IsDefaultVersion": True},
                    {
                        "Document": {**doc, "Statement": [{**doc["Statement"][0], "Action": "s3:*"}]},
                        "VersionId": "v2",
                        "IsDefaultVersion": False,
                    },
                ],
            }
            for j in range(3)
        ],
    }


def inventory(doc: dict) -> Inventory:
    rows, _ = build([(ACCT, doc)])
    return Inventory.from_rows(rows)


BASE = inventory(export())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    deleted=st.sets(st.integers(0, N - 1)),
    retrusted=st.sets(st.integers(0, N - 1)),
    switched=st.sets(st.integers(0, 2)),
)
def test_diff_names_exactly_the_changes(deleted, retrusted, switched):
    retrusted = retrusted - deleted
    new = export()
    for i in retrusted:
        new["RoleDetailList"][i]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] = {"AWS": "*"}
    for j in switched:
        for v in new["Policies"][j]["PolicyVersionList"]:
            v["IsDefaultVersion"] = v["VersionId"] == "v2"
    new["RoleDetailList"] = [r for i, r in enumerate(new["RoleDetailList"]) if i not in deleted]
    d = diff(BASE, inventory(new))
    # attachments that disappear with a deleted role are folded into that role's removal
    want = (
        {("principal", "removed", f"arn:aws:iam::{ACCT}:role/r{i}") for i in deleted}
        | {("trust", "changed", f"arn:aws:iam::{ACCT}:role/r{i}") for i in retrusted}
        | {("policy", "changed", f"arn:aws:iam::{ACCT}:policy/p{j}") for j in switched}
    )
    got = set(zip(d["kind"], d["change"], d["key"], strict=True))
    assert got == want, d.to_dict("records")
    assert len(d) == len(want)


def test_no_change_no_drift():
    assert diff(BASE, inventory(export())).empty
