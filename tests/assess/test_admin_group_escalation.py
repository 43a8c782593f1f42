"""Joining a group whose permissions are administrator-equivalent is an escalation to administrator in one hop:
for the user itself, and for any user the principal controls (it can mint that user's credentials)."""

from __future__ import annotations

from assesstest import ACCT, ALLOW_ALL, Builder, allow, doc, flagged, run, trust


def admins_group(b: Builder) -> str:
    g = b.group("admins")
    b.managed("AdminAccess", doc(ALLOW_ALL), attach_to=((g, "group"),))
    return g


def escalation(df, principal):
    sub = df[(df["rule_id"] == "IAMKIT-ESC-001") & (df["principal_arn"] == principal)]
    return sub.iloc[0] if len(sub) else None


def test_user_adding_itself_to_an_admin_group_is_admin_in_one_hop():
    b = Builder()
    g = admins_group(b)
    joiner = b.user("joiner", policies=(doc(allow("iam:AddUserToGroup", g)),))
    df = run(b)
    row = escalation(df, joiner)
    assert row is not None and row["severity"] == "critical"
    assert "1 hop" in row["detail"] and "iam-add-user-to-group" in row["detail"]


def test_role_adding_a_user_it_controls_is_admin_in_one_hop():
    b = Builder()
    g = admins_group(b)
    victim = b.user("victim")
    ops = b.role(
        "ops",
        trust({"Service": "ec2.amazonaws.com"}),
        policies=(doc(allow("iam:AddUserToGroup", g), allow("iam:CreateAccessKey", victim)),),
    )
    df = run(b)
    row = escalation(df, ops)
    assert row is not None and row["severity"] == "critical" and "1 hop" in row["detail"]
    assert victim in row["evidence"]


def test_negative_cases():
    b = Builder()
    g = admins_group(b)
    readers = b.group("readers")
    b.managed("Read", doc(allow("s3:GetObject")), attach_to=((readers, "group"),))
    # may only join a group that is not administrator
    b.user("harmless", policies=(doc(allow("iam:AddUserToGroup", readers)),))
    # a role that may add users to the admin group but controls no user
    b.role("adder", trust({"Service": "ec2.amazonaws.com"}), policies=(doc(allow("iam:AddUserToGroup", g)),))
    df = run(b)
    assert not {a for a in flagged(df, "IAMKIT-ESC-001")} & {
        f"arn:aws:iam::{ACCT}:user/harmless",
        f"arn:aws:iam::{ACCT}:role/adder",
    }
