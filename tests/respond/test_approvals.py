"""Approvals: who, when and from where is journalled; two-person approval for destructive steps."""

from __future__ import annotations

import pytest

from iamkit.errors import BadInput
from iamkit.respond import Action, Plan, apply, approve
from iamkit.respond.approval import identity, two_person_required


def _group_plan(scratch, case, user="hal", group="admins"):
    iam = scratch.iam
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    return Plan(
        case.id, [Action("remove_from_group", scratch.acct, scratch.arn("user", user), {"group_name": group}, "t")]
    )


def _groups(iam, user):
    return [g["GroupName"] for g in iam.list_groups_for_user(UserName=user)["Groups"]]


def test_approval_records_who_when_and_where(scratch, case, monkeypatch):
    monkeypatch.setenv("SSH_CONNECTION", "198.51.100.7 52000 10.0.0.5 22")
    plan = _group_plan(scratch, case)
    apply(
        plan,
        case,
        scratch.clients(),
        approve=plan.hash,
        approver=identity(None, caller=lambda: scratch.arn("role", "incident-responder")),
    )
    e = next(e for e in case.journal_entries() if e["event"] == "approved")
    assert e["approver"] == scratch.arn("role", "incident-responder") and e["approver_source"] == "iam"
    assert e["plan_hash"] == plan.hash and e["approved_at"].startswith("20")
    assert e["origin"]["source_ip"] == "198.51.100.7" and e["origin"]["host"]
    assert identity("  ana ") == {"approver": "ana", "approver_source": "flag"}
    assert identity(None, caller=lambda: None)["approver_source"] == "user"
    with pytest.raises(BadInput, match="approver"):
        identity("x" * 300)


def test_two_person_approval_needs_someone_else_on_the_same_plan(scratch, case, monkeypatch):
    plan = _group_plan(scratch, case)
    cl = scratch.clients()
    with pytest.raises(BadInput, match="first approval"):
        apply(plan, case, cl, approve=plan.hash, approver="ana", two_person=True)
    other = Plan(
        case.id, [Action("remove_from_group", scratch.acct, scratch.arn("user", "hal"), {"group_name": "other"}, "t")]
    )
    approve(other, case, "bo")  # an approval of another plan does not count
    with pytest.raises(BadInput, match="first approval"):
        apply(plan, case, cl, approve=plan.hash, approver="ana", two_person=True)
    approve(plan, case, "ana")
    with pytest.raises(BadInput, match="someone else"):
        apply(plan, case, cl, approve=plan.hash, approver="ANA ", two_person=True)
    assert _groups(scratch.iam, "hal") == ["admins"], "refused approvals changed IAM"
    rows = apply(plan, case, cl, approve=plan.hash, approver="bo", two_person=True)
    assert rows[0]["verified"] and _groups(scratch.iam, "hal") == []
    applied = next(e for e in case.journal_entries() if e["event"] == "approved")
    assert applied["approver"] == "bo" and applied["first_approval"]["approver"] == "ana"
    # the setting turns it on; a non-destructive plan needs no second approver
    monkeypatch.setenv("IAMKIT_TWO_PERSON_APPROVAL", "yes")
    assert two_person_required() is True
    tag = Plan(
        case.id,
        [
            Action(
                "tag_principal",
                scratch.acct,
                scratch.arn("user", "hal"),
                {"tags": {"iam-risk:quarantine": "true"}},
                "t",
            )
        ],
    )
    assert apply(tag, case, cl, approve=tag.hash, approver="ana")[0]["verified"]
    monkeypatch.setenv("IAMKIT_TWO_PERSON_APPROVAL", "maybe")
    with pytest.raises(BadInput, match="IAMKIT_TWO_PERSON_APPROVAL"):
        two_person_required()
