"""Remediation: dry run by default, approval by hash, before-state journalled first, undo restores."""

from __future__ import annotations

import json

import pytest

from iamkit.case import Case
from iamkit.errors import BadInput
from iamkit.respond import Action, Plan, apply, capture_before, compromised_key_plan, undo
from iamkit.respond.plan import QUARANTINE_POLICY, REVOKE_POLICY

ACCT = "123456789012"


@pytest.fixture
def world(sandbox, tmp_path):
    """A fresh scratch account on the shared sandbox server (moto creates accounts on first use), so this
    test may change IAM without touching the seeded organization (moto's mock_aws would reset the server)."""
    import random

    from iamkit.sandbox.server import account_session

    acct = f"6{random.randrange(10**10, 10**11):011d}"[:12]
    iam = account_session(sandbox.endpoint_url, acct, region="us-east-1").client(
        "iam", endpoint_url=sandbox.endpoint_url)
    iam.create_user(UserName="dev")
    key = iam.create_access_key(UserName="dev")["AccessKey"]["AccessKeyId"]
    iam.create_user(UserName="svc-backdoor")
    bkey = iam.create_access_key(UserName="svc-backdoor")["AccessKey"]["AccessKeyId"]
    admin = iam.create_policy(PolicyName="Admin", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    admin_arn = admin["Policy"]["Arn"]
    iam.attach_user_policy(UserName="svc-backdoor", PolicyArn=admin_arn)
    iam.create_role(RoleName="prod-deploy", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": acct},
                                                "Action": "sts:AssumeRole"}]}))
    case = Case.create(tmp_path, "compromised-access-key", {"access_key_id": key})
    summary = {
        "access_key_id": key,
        "origin": {"account_id": acct, "user_arn": f"arn:aws:iam::{acct}:user/dev", "user_name": "dev"},
        "created_users": [{"arn": f"arn:aws:iam::{acct}:user/svc-backdoor", "account_id": acct,
                           "access_keys": [bkey]}],
        "policies_attached": {f"arn:aws:iam::{acct}:user/svc-backdoor": [admin_arn]},
        "assumed_roles": [{"role_arn": f"arn:aws:iam::{acct}:role/prod-deploy", "account_id": acct,
                           "session_name": "x"}],
        "planned_at": "2026-11-29T00:00:00+00:00",
    }
    return {"iam": iam, "case": case, "summary": summary, "key": key, "bkey": bkey, "acct": acct}


def _state(iam):
    return {
        "dev_key": iam.list_access_keys(UserName="dev")["AccessKeyMetadata"][0]["Status"],
        "bd_key": iam.list_access_keys(UserName="svc-backdoor")["AccessKeyMetadata"][0]["Status"],
        "dev_inline": sorted(iam.list_user_policies(UserName="dev")["PolicyNames"]),
        "bd_inline": sorted(iam.list_user_policies(UserName="svc-backdoor")["PolicyNames"]),
        "bd_attached": sorted(p["PolicyArn"] for p in
                              iam.list_attached_user_policies(UserName="svc-backdoor")["AttachedPolicies"]),
        "role_inline": sorted(iam.list_role_policies(RoleName="prod-deploy")["PolicyNames"]),
    }


def test_plan_is_a_dry_run_with_before_state(world):
    iam = world["iam"]
    before = _state(iam)
    plan = capture_before(compromised_key_plan("c1", world["summary"]), lambda a: iam)
    kinds = [a.kind for a in plan.actions]
    assert kinds.count("deactivate_access_key") == 2 and kinds.count("quarantine_user") == 2
    assert "detach_user_policy" in kinds and "revoke_role_sessions" in kinds
    assert plan.before[0] == {"exists": True, "status": "Active"}
    assert _state(iam) == before, "planning changed something"
    assert any(line.startswith("+ ") and "Inactive" in line for line in plan.diff())


def test_apply_needs_the_plan_hash(world):
    iam, case = world["iam"], world["case"]
    plan = compromised_key_plan(case.id, world["summary"])
    before = _state(iam)
    for wrong in (None, "", "0" * 16):
        with pytest.raises(BadInput, match="plan hash"):
            apply(plan, case, lambda a: iam, approve=wrong)
    assert _state(iam) == before
    assert case.journal_entries() == []


def test_apply_journals_before_state_first_then_undo_restores(world):
    iam, case = world["iam"], world["case"]
    plan = compromised_key_plan(case.id, world["summary"])
    before = _state(iam)
    results = apply(plan, case, lambda a: iam, approve=plan.hash)
    assert all(r["verified"] for r in results), results
    after = _state(iam)
    assert after["dev_key"] == "Inactive" and after["bd_key"] == "Inactive"
    assert QUARANTINE_POLICY in after["dev_inline"] and QUARANTINE_POLICY in after["bd_inline"]
    assert after["bd_attached"] == [] and REVOKE_POLICY in after["role_inline"]
    events = [e["event"] for e in case.journal_entries()]
    assert events[0] == "approved"
    for i in range(len(plan.actions)):  # each step: before journalled, then after
        steps = [(e["event"]) for e in case.journal_entries() if e.get("step") == i]
        assert steps[:2] == ["before", "after"]
    undone = undo(case, lambda a: iam)
    assert all(r["restored"] for r in undone), undone
    assert _state(iam) == before


def test_plan_hash_changes_with_actions():
    a = Plan("c", [Action("quarantine_user", ACCT, f"arn:aws:iam::{ACCT}:user/x", {}, "r")])
    b = Plan("c", [Action("quarantine_user", ACCT, f"arn:aws:iam::{ACCT}:user/y", {}, "r")])
    assert a.hash != b.hash and len(a.hash) == 16
    assert Plan.from_dict(a.to_dict()).hash == a.hash


def test_undo_without_apply_is_bad_input(world):
    with pytest.raises(BadInput, match="nothing to undo"):
        undo(world["case"], lambda a: world["iam"])


def test_a_failing_action_is_listed_and_the_rest_applied(world):
    iam, case = world["iam"], world["case"]
    summary = dict(world["summary"])
    acct = world["acct"]
    summary["assumed_roles"] = [{"role_arn": f"arn:aws:iam::{acct}:role/missing", "account_id": acct}]
    plan = compromised_key_plan(case.id, summary)
    results = apply(plan, case, lambda a: iam, approve=plan.hash)
    bad = [r for r in results if r["error"]]
    assert len(bad) == 1 and "missing" in bad[0]["target"]
    assert _state(iam)["dev_key"] == "Inactive"
