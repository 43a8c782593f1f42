"""Admin-equivalent and over-privileged rules: decided on effective permissions (denies, boundaries, SCPs)."""

from __future__ import annotations

from assesstest import ACCT, ALLOW_ALL, allow, deny, doc, flagged, run


def test_admin_positive_and_deny_cancelled(b):
    admin = b.user("alice", policies=(doc(ALLOW_ALL),))
    cancelled = b.user("bob", policies=(doc(ALLOW_ALL), doc(deny("*"))))
    hit = flagged(run(b, "IAMKIT-PRIV-001"), "IAMKIT-PRIV-001")
    assert admin in hit and cancelled not in hit


def test_admin_split_across_policies_is_still_admin(b):
    # neither policy alone is "*", together they cover every probe
    u = b.user(
        "split",
        policies=(
            doc(allow(["iam:*", "sts:*", "s3:*", "ec2:*"])),
            doc(allow(["lambda:*", "kms:*", "secretsmanager:*", "organizations:*", "dynamodb:*", "rds:*", "sns:*"])),
        ),
    )
    assert u in flagged(run(b, "IAMKIT-PRIV-001"), "IAMKIT-PRIV-001")


def test_admin_blocked_by_boundary(b):
    boundary = b.managed("readonly-boundary", doc(allow(["s3:Get*", "s3:List*"])))
    u = b.user("bounded", boundary=boundary, policies=(doc(ALLOW_ALL),))
    df = run(b, "IAMKIT-PRIV-001", "IAMKIT-PRIV-004")
    assert u not in flagged(df, "IAMKIT-PRIV-001")
    assert u in flagged(df, "IAMKIT-PRIV-004")  # s3:GetObject still effective through the boundary


def test_admin_blocked_by_scp(b):
    b.scp("r-root", doc(ALLOW_ALL), "root")
    b.scp(ACCT, doc(ALLOW_ALL, deny("iam:*")))
    u = b.user("scoped", policies=(doc(ALLOW_ALL),))
    df = run(b, "IAMKIT-PRIV-001", "IAMKIT-PRIV-002")
    assert u not in flagged(df, "IAMKIT-PRIV-001") and u not in flagged(df, "IAMKIT-PRIV-002")


def test_permissions_management_positive_and_path_scoped_negative(b):
    pos = b.user("iamadmin", policies=(doc(allow("iam:*")),))
    neg = b.user("scoped", policies=(doc(allow("iam:PutUserPolicy", f"arn:aws:iam::{ACCT}:user/dev/*")),))
    hit = flagged(run(b, "IAMKIT-PRIV-002"), "IAMKIT-PRIV-002")
    assert pos in hit and neg not in hit


def test_credential_exposure(b):
    pos = b.user("keys", policies=(doc(allow("iam:CreateAccessKey")),))
    self_only = b.user("self", policies=(doc(allow("iam:CreateAccessKey", "arn:aws:iam::*:user/${aws:username}")),))
    df = run(b, "IAMKIT-PRIV-003")
    assert pos in flagged(df, "IAMKIT-PRIV-003") and self_only not in flagged(df, "IAMKIT-PRIV-003")
    assert df.loc[df.principal_arn == pos, "severity"].iloc[0] == "high"


def test_data_exfiltration(b):
    pos = b.user("reader", policies=(doc(allow("secretsmanager:GetSecretValue")),))
    neg = b.user(
        "one-secret",
        policies=(
            doc(allow("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:us-east-1:{ACCT}:secret:app-*")),
        ),
    )
    hit = flagged(run(b, "IAMKIT-PRIV-004"), "IAMKIT-PRIV-004")
    assert pos in hit and neg not in hit


def test_resource_exposure(b):
    pos = b.user("policywriter", policies=(doc(allow("s3:PutBucketPolicy")),))
    neg = b.user("denied", policies=(doc(allow("s3:PutBucketPolicy"), deny("s3:PutBucketPolicy")),))
    hit = flagged(run(b, "IAMKIT-PRIV-005"), "IAMKIT-PRIV-005")
    assert pos in hit and neg not in hit


def test_infrastructure_needs_three_actions(b):
    pos = b.user("infra", policies=(doc(allow(["ec2:RunInstances", "ec2:DeleteVpc", "rds:ModifyDBInstance"])),))
    neg = b.user("small", policies=(doc(allow(["ec2:RunInstances", "ec2:DeleteVpc"])),))
    hit = flagged(run(b, "IAMKIT-PRIV-006"), "IAMKIT-PRIV-006")
    assert pos in hit and neg not in hit


def test_sensitive_service_wildcard(b):
    pos = b.user("kmsall", policies=(doc(allow("kms:*")),))
    scoped = b.user("kmsone", policies=(doc(allow("kms:*", f"arn:aws:kms:us-east-1:{ACCT}:key/abc")),))
    listed = b.user("kmslist", policies=(doc(allow(["kms:ScheduleKeyDeletion", "kms:PutKeyPolicy", "kms:Decrypt"])),))
    df = run(b, "IAMKIT-PRIV-007")
    hit = flagged(df, "IAMKIT-PRIV-007")
    assert pos in hit and scoped not in hit and listed not in hit


def test_admins_are_not_repeated_in_over_privilege_rules(b):
    admin = b.user("alice", policies=(doc(ALLOW_ALL),))
    df = run(b)
    assert set(df[df.principal_arn == admin].rule_id) == {"IAMKIT-PRIV-001"}
