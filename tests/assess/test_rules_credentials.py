"""Credential rules against a fixed clock (``assesstest.NOW``)."""

from __future__ import annotations

from assesstest import ACCT, ago, flagged, run

U = f"arn:aws:iam::{ACCT}:user/"


def key(b, user: str, kid: str, created_days: float, last_used_days: float | None, status: str = "Active") -> None:
    b.add(
        "access_keys",
        {
            "account_id": ACCT,
            "user_name": user,
            "user_arn": U + user,
            "access_key_id": kid,
            "status": status,
            "created": ago(created_days),
            "last_used": ago(last_used_days) if last_used_days is not None else None,
        },
    )


def cred(b, user: str, **kw) -> None:
    arn = f"arn:aws:iam::{ACCT}:root" if user == "<root_account>" else U + user
    b.add("credentials", {"account_id": ACCT, "user": user, "arn": arn, "user_creation_time": ago(500), **kw})


def test_old_keys(b):
    key(b, "old", "AKIAOLD", 400, 1)
    key(b, "fresh", "AKIAFRESH", 20, 1)
    key(b, "oldinactive", "AKIAINACT", 400, 300, status="Inactive")
    df = run(b, "IAMKIT-CRED-001")
    assert flagged(df, "IAMKIT-CRED-001") == {U + "old"}
    assert '"access_key_id": "AKIAOLD"' in df.evidence.iloc[0]


def test_unused_keys(b):
    key(b, "never", "AKIANEVER", 150, None)
    key(b, "idle", "AKIAIDLE", 300, 120)
    key(b, "new", "AKIANEW", 5, None)  # still within the rollout grace
    key(b, "busy", "AKIABUSY", 300, 2)
    assert flagged(run(b, "IAMKIT-CRED-002"), "IAMKIT-CRED-002") == {U + "never", U + "idle"}


def test_two_active_keys(b):
    key(b, "two", "AKIA1", 100, 1)
    key(b, "two", "AKIA2", 10, 1)
    key(b, "rotated", "AKIA3", 100, 1, status="Inactive")
    key(b, "rotated", "AKIA4", 10, 1)
    assert flagged(run(b, "IAMKIT-CRED-003"), "IAMKIT-CRED-003") == {U + "two"}


def test_console_without_mfa(b):
    cred(b, "nomfa", password_enabled=True, mfa_active=False)
    cred(b, "mfa", password_enabled=True, mfa_active=True)
    cred(b, "apionly", password_enabled=False, mfa_active=False)
    assert flagged(run(b, "IAMKIT-CRED-004"), "IAMKIT-CRED-004") == {U + "nomfa"}


def test_root_keys_mfa_and_recent_use(b):
    cred(b, "<root_account>", mfa_active=False, access_key_1_active=True, password_last_used=ago(3))
    df = run(b, "IAMKIT-CRED-005", "IAMKIT-CRED-006", "IAMKIT-CRED-007")
    root = f"arn:aws:iam::{ACCT}:root"
    assert all(root in flagged(df, r) for r in ("IAMKIT-CRED-005", "IAMKIT-CRED-006", "IAMKIT-CRED-007"))


def test_root_clean(b):
    cred(
        b,
        "<root_account>",
        mfa_active=True,
        access_key_1_active=False,
        access_key_2_active=False,
        password_last_used=ago(200),
    )
    b.add(
        "posture",
        {"account_id": ACCT, "control": "iam.account_summary", "status": "ok", "detail": {"AccountMFAEnabled": 1}},
    )
    df = run(b, "IAMKIT-CRED-005", "IAMKIT-CRED-006", "IAMKIT-CRED-007")
    assert df.empty


def test_root_mfa_from_account_summary(b):
    b.add(
        "posture",
        {
            "account_id": ACCT,
            "control": "iam.account_summary",
            "status": "root_no_mfa",
            "detail": {"AccountMFAEnabled": 0},
        },
    )
    assert flagged(run(b, "IAMKIT-CRED-006"), "IAMKIT-CRED-006") == {f"arn:aws:iam::{ACCT}:root"}


def test_password_policy(b):
    b.add(
        "posture",
        {
            "account_id": ACCT,
            "control": "iam.password_policy",
            "status": "absent",
            "resource_arn": f"arn:aws:iam::{ACCT}:root",
            "detail": {},
        },
    )
    b.add(
        "posture",
        {
            "account_id": "222222222222",
            "control": "iam.password_policy",
            "status": "present",
            "resource_arn": "arn:aws:iam::222222222222:root",
            "detail": {
                "MinimumPasswordLength": 16,
                "RequireSymbols": True,
                "RequireNumbers": True,
                "RequireUppercaseCharacters": True,
                "RequireLowercaseCharacters": True,
                "PasswordReusePrevention": 24,
            },
        },
    )
    df = run(b, "IAMKIT-CRED-008")
    assert list(df.account_id) == [ACCT]
