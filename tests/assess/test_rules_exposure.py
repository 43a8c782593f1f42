"""Exposure rules: the engine decides whether anonymous or foreign principals reach a resource."""

from __future__ import annotations

from assesstest import ACCT, ORG, OTHER, OUTSIDE, doc, flagged, run

BUCKET = "arn:aws:s3:::acme-data"
SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCT}:secret:db-AbCdEf"


def st(principal, actions, resource="*", condition=None, effect="Allow"):
    s = {"Effect": effect, "Principal": principal, "Action": actions, "Resource": resource}
    if condition:
        s["Condition"] = condition
    return s


def test_public_bucket_and_org_restricted_lookalike(b):
    pub = b.resource("s3", "arn:aws:s3:::public", doc(st("*", "s3:GetObject", "arn:aws:s3:::public/*")), rtype="bucket")
    org = b.resource(
        "s3",
        BUCKET,
        doc(st("*", "s3:GetObject", BUCKET + "/*", {"StringEquals": {"aws:PrincipalOrgID": ORG}})),
        rtype="bucket",
    )
    hit = flagged(run(b, "IAMKIT-EXPO-001"), "IAMKIT-EXPO-001")
    assert pub in hit and org not in hit


def test_public_statement_cancelled_by_deny(b):
    r = b.resource(
        "s3",
        "arn:aws:s3:::denied",
        doc(
            st("*", "s3:*", ["arn:aws:s3:::denied", "arn:aws:s3:::denied/*"]),
            st("*", "s3:*", ["arn:aws:s3:::denied", "arn:aws:s3:::denied/*"], effect="Deny"),
        ),
        rtype="bucket",
    )
    assert r not in flagged(run(b, "IAMKIT-EXPO-001"), "IAMKIT-EXPO-001")


def test_open_kms_key_and_public_acl(b):
    key = b.resource("kms", f"arn:aws:kms:us-east-1:{ACCT}:key/k1", doc(st({"AWS": "*"}, "kms:Decrypt")))
    acl = b.resource(
        "s3",
        "arn:aws:s3:::acl",
        None,
        rtype="bucket",
        extra={
            "acl_grants": [
                {
                    "grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
                    "permission": "READ",
                }
            ]
        },
    )
    hit = flagged(run(b, "IAMKIT-EXPO-001"), "IAMKIT-EXPO-001")
    assert {key, acl} <= hit


def test_foreign_account_access(b):
    foreign = b.resource(
        "secretsmanager", SECRET, doc(st({"AWS": f"arn:aws:iam::{OUTSIDE}:root"}, "secretsmanager:GetSecretValue"))
    )
    inside = b.resource(
        "secretsmanager", SECRET + "x", doc(st({"AWS": f"arn:aws:iam::{OTHER}:root"}, "secretsmanager:GetSecretValue"))
    )
    denied = b.resource(
        "secretsmanager",
        SECRET + "y",
        doc(
            st({"AWS": f"arn:aws:iam::{OUTSIDE}:root"}, "secretsmanager:GetSecretValue"),
            st({"AWS": f"arn:aws:iam::{OUTSIDE}:root"}, "secretsmanager:GetSecretValue", effect="Deny"),
        ),
    )
    hit = flagged(run(b, "IAMKIT-EXPO-002"), "IAMKIT-EXPO-002")
    assert foreign in hit and inside not in hit and denied not in hit


def test_account_public_access_block(b):
    off = b.resource(
        "s3", f"arn:aws:s3:::{ACCT}", None, rtype="account_public_access_block", extra={"public_access_block": None}
    )
    on = b.resource(
        "s3",
        f"arn:aws:s3:::{OTHER}",
        None,
        OTHER,
        rtype="account_public_access_block",
        extra={
            "public_access_block": {
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            }
        },
    )
    hit = flagged(run(b, "IAMKIT-EXPO-003"), "IAMKIT-EXPO-003")
    assert off in hit and on not in hit
