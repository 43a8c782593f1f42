"""Posture rules: trails, Access Analyzer, GuardDuty, stale principals."""

from __future__ import annotations

from assesstest import ACCT, OTHER, ago, run, trust

TRAIL = f"arn:aws:cloudtrail:us-east-1:{ACCT}:trail/main"


def trail(b, acct=ACCT, **d):
    detail = {"multi_region": True, "organization_trail": False, "is_logging": True, "log_file_validation": True, **d}
    b.add(
        "posture",
        {
            "account_id": acct,
            "region": "us-east-1",
            "control": "cloudtrail.trail",
            "resource_arn": f"arn:aws:cloudtrail:us-east-1:{acct}:trail/main",
            "status": "logging" if detail["is_logging"] else "not_logging",
            "detail": detail,
        },
    )


def control(b, acct, name, status="enabled"):
    b.add(
        "posture",
        {
            "account_id": acct,
            "region": "us-east-1",
            "control": name,
            "resource_arn": f"{name}/{acct}",
            "status": status,
            "detail": {},
        },
    )


def test_no_trail_per_account_and_org_trail_covers_all(b):
    trail(b, ACCT)
    control(b, OTHER, "iam.password_policy", "absent")  # OTHER was collected, has no trail
    df = run(b, "IAMKIT-POST-001")
    assert list(df.account_id) == [OTHER]
    b2 = type(b)()
    trail(b2, ACCT, organization_trail=True)
    control(b2, OTHER, "iam.password_policy", "absent")
    assert run(b2, "IAMKIT-POST-001").empty


def test_trail_stopped_and_validation(b):
    trail(b, ACCT, is_logging=False, log_file_validation=False)
    trail(b, OTHER)
    df = run(b, "IAMKIT-POST-002", "IAMKIT-POST-003")
    assert set(zip(df.rule_id, df.account_id, strict=True)) == {("IAMKIT-POST-002", ACCT), ("IAMKIT-POST-003", ACCT)}


def test_analyzer_and_guardduty(b):
    control(b, ACCT, "access_analyzer.analyzer", "active")
    control(b, ACCT, "guardduty.detector", "enabled")
    control(b, OTHER, "guardduty.detector", "disabled")
    df = run(b, "IAMKIT-POST-004", "IAMKIT-POST-005")
    assert set(zip(df.rule_id, df.account_id, strict=True)) == {("IAMKIT-POST-004", OTHER), ("IAMKIT-POST-005", OTHER)}


def test_analyzer_not_flagged_when_endpoint_cannot_tell(b):
    control(b, ACCT, "guardduty.detector", "enabled")
    b.add(
        "errors",
        {
            "account_id": ACCT,
            "operation": "access-analyzer:ListAnalyzers",
            "code": "NotSupportedByEndpoint",
            "message": "not supported",
        },
    )
    assert run(b, "IAMKIT-POST-004").empty


def test_stale_roles(b):
    t = trust({"Service": "lambda.amazonaws.com"})
    old = b.role("old", t, created=ago(700), last_used=ago(200))
    never = b.role("never", t, created=ago(300), last_used=None)
    recent = b.role("recent", t, created=ago(700), last_used=ago(5))
    young = b.role("young", t, created=ago(10), last_used=None)
    df = run(b, "IAMKIT-POST-006")
    assert set(df.principal_arn) == {old, never}
    assert recent not in set(df.principal_arn) and young not in set(df.principal_arn)


def test_stale_users(b):
    base = {"account_id": ACCT, "user_creation_time": ago(400)}
    b.add(
        "credentials", {**base, "user": "idle", "arn": f"arn:aws:iam::{ACCT}:user/idle", "password_last_used": ago(200)}
    )
    b.add(
        "credentials",
        {
            **base,
            "user": "busy",
            "arn": f"arn:aws:iam::{ACCT}:user/busy",
            "password_last_used": ago(200),
            "access_key_1_last_used_date": ago(2),
        },
    )
    df = run(b, "IAMKIT-POST-007")
    assert list(df.principal_arn) == [f"arn:aws:iam::{ACCT}:user/idle"]
