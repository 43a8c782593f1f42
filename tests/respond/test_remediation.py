"""Remediation: dry run by default, approval by hash, before-state journalled first, undo restores."""

from __future__ import annotations

import json

import pytest

from iamkit.case import Case
from iamkit.errors import BadInput
from iamkit.respond import Action, Plan, apply, capture_before, compromised_key_plan, undo
from iamkit.respond.plan import QUARANTINE_POLICY, REVOKE_POLICY, inline_document

ACCT = "123456789012"


@pytest.fixture
def world(sandbox, tmp_path):
    """A fresh scratch account on the shared sandbox server (moto creates accounts on first use), so this
    test may change IAM without touching the seeded organization (moto's mock_aws would reset the server)."""
    import random

    from iamkit.sandbox.server import account_session

    acct = f"6{random.randrange(10**10, 10**11):011d}"[:12]
    iam = account_session(sandbox.endpoint_url, acct, region="us-east-1").client(
        "iam", endpoint_url=sandbox.endpoint_url
    )
    iam.create_user(UserName="dev")
    key = iam.create_access_key(UserName="dev")["AccessKey"]["AccessKeyId"]
    iam.create_user(UserName="svc-backdoor")
    bkey = iam.create_access_key(UserName="svc-backdoor")["AccessKey"]["AccessKeyId"]
    admin = iam.create_policy(
        PolicyName="Admin",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    )
    admin_arn = admin["Policy"]["Arn"]
    iam.attach_user_policy(UserName="svc-backdoor", PolicyArn=admin_arn)
    iam.create_role(
        RoleName="prod-deploy",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": acct}, "Action": "sts:AssumeRole"}],
            }
        ),
    )
    case = Case.create(tmp_path, "compromised-access-key", {"access_key_id": key})
    summary = {
        "access_key_id": key,
        "origin": {"account_id": acct, "user_arn": f"arn:aws:iam::{acct}:user/dev", "user_name": "dev"},
        "created_users": [{"arn": f"arn:aws:iam::{acct}:user/svc-backdoor", "account_id": acct, "access_keys": [bkey]}],
        "policies_attached": {f"arn:aws:iam::{acct}:user/svc-backdoor": [admin_arn]},
        "assumed_roles": [
            {"role_arn": f"arn:aws:iam::{acct}:role/prod-deploy", "account_id": acct, "session_name": "x"}
        ],
        "planned_at": "2026-11-29T00:00:00+00:00",
    }
    return {"iam": iam, "case": case, "summary": summary, "key": key, "bkey": bkey, "acct": acct}


def _state(iam):
    """Everything the plan touches, inline policy documents included, as IAM stores them (text)."""
    return {
        "dev_docs": {
            n: inline_document(iam, "user", "dev", n) for n in iam.list_user_policies(UserName="dev")["PolicyNames"]
        },
        "role_docs": {
            n: inline_document(iam, "role", "prod-deploy", n)
            for n in iam.list_role_policies(RoleName="prod-deploy")["PolicyNames"]
        },
        "dev_key": iam.list_access_keys(UserName="dev")["AccessKeyMetadata"][0]["Status"],
        "bd_key": iam.list_access_keys(UserName="svc-backdoor")["AccessKeyMetadata"][0]["Status"],
        "dev_inline": sorted(iam.list_user_policies(UserName="dev")["PolicyNames"]),
        "bd_inline": sorted(iam.list_user_policies(UserName="svc-backdoor")["PolicyNames"]),
        "bd_attached": sorted(
            p["PolicyArn"] for p in iam.list_attached_user_policies(UserName="svc-backdoor")["AttachedPolicies"]
        ),
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
    assert [r["step"] for r in undone] == list(range(len(plan.actions), 0, -1)), "newest step first"
    assert _state(iam) == before


def test_plan_hash_changes_with_actions():
    a = Plan("c", [Action("quarantine_user", ACCT, f"arn:aws:iam::{ACCT}:user/x", {}, "r")])
    b = Plan("c", [Action("quarantine_user", ACCT, f"arn:aws:iam::{ACCT}:user/y", {}, "r")])
    assert a.hash != b.hash and len(a.hash) == 16
    assert Plan.from_dict(a.to_dict()).hash == a.hash


def test_respond_apply_is_the_function_even_after_its_module_was_imported():
    import importlib

    importlib.import_module("iamkit.respond.apply")
    from iamkit.respond import apply as applied
    from iamkit.respond import undo as undone

    assert callable(applied) and applied.__name__ == "apply" and undone.__name__ == "undo"


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


def test_apply_undo_apply_undo_restores_every_time(world):
    """Steps are keyed by run, not by plan hash: the second undo restores the second apply."""
    iam, case = world["iam"], world["case"]
    plan = compromised_key_plan(case.id, world["summary"])
    before = _state(iam)
    for _ in range(2):
        assert all(r["verified"] and r["changed"] for r in apply(plan, case, lambda a: iam, approve=plan.hash))
        assert _state(iam)["dev_key"] == "Inactive"
        undone = undo(case, lambda a: iam)
        assert len(undone) == len(plan.actions) and all(r["restored"] for r in undone), undone
        assert _state(iam) == before
    runs = [e["run"] for e in case.journal_entries() if e["event"] == "approved"]
    assert len(set(runs)) == 2
    with pytest.raises(BadInput, match="already undone"):
        undo(case, lambda a: iam)


ODD_DOCUMENT = (
    '{ "Version": "2012-10-17",\n  "Statement": [ {"Sid": "Team%20note + \u00e9", "Effect": "Allow",'
    '\n    "Action": "s3:GetObject", "Resource": "*"} ] }\n  '
)


@pytest.mark.parametrize("where", ["user", "role"])
def test_an_existing_policy_under_iamkits_name_is_put_back_byte_for_byte(world, where):
    iam, case = world["iam"], world["case"]
    if where == "user":
        iam.put_user_policy(UserName="dev", PolicyName=QUARANTINE_POLICY, PolicyDocument=ODD_DOCUMENT)
    else:
        iam.put_role_policy(RoleName="prod-deploy", PolicyName=REVOKE_POLICY, PolicyDocument=ODD_DOCUMENT)
    before = _state(iam)
    plan = compromised_key_plan(case.id, world["summary"])
    results = apply(plan, case, lambda a: iam, approve=plan.hash)
    assert all(r["verified"] for r in results), results
    docs = _state(iam)["dev_docs" if where == "user" else "role_docs"]
    name = QUARANTINE_POLICY if where == "user" else REVOKE_POLICY
    assert json.loads(docs[name])["Statement"][0]["Effect"] == "Deny", "the quarantine did not replace it"
    assert all(r["restored"] for r in undo(case, lambda a: iam))
    after = _state(iam)
    assert after == before
    got = after["dev_docs" if where == "user" else "role_docs"][name]
    assert got.encode() == ODD_DOCUMENT.encode(), "the pre-existing document did not come back byte for byte"


def test_a_torn_journal_tail_is_reported_and_the_complete_entries_undone(world):
    iam, case = world["iam"], world["case"]
    plan = compromised_key_plan(case.id, world["summary"])
    before = _state(iam)
    apply(plan, case, lambda a: iam, approve=plan.hash)
    with (case.path / "journal.jsonl").open("a") as f:  # a kill in the middle of the next write
        f.write('{"event": "before", "run": "x", "step": 0, "sta')
    entries, warnings = case.read_journal()
    assert len(warnings) == 1 and "torn last line" in warnings[0]
    undone = undo(case, lambda a: iam)
    assert all(r["restored"] for r in undone) and len(undone) == len(plan.actions)
    assert _state(iam) == before
    record = next(e for e in case.journal_entries() if e["event"] == "undo")
    assert record["warnings"] == warnings
    assert case.read_journal()[1] == [
        f"journal.jsonl line {len(entries) + 1}: cut off by an interrupted write; ignored"
    ]


def test_applying_twice_is_a_no_op(world):
    iam, case = world["iam"], world["case"]
    plan = compromised_key_plan(case.id, world["summary"])
    before = _state(iam)
    apply(plan, case, lambda a: iam, approve=plan.hash)
    applied = _state(iam)
    n = len(case.journal_entries())
    second = apply(plan, case, lambda a: iam, approve=plan.hash)
    assert all(r["verified"] and not r["changed"] for r in second), second
    assert _state(iam) == applied
    new = case.journal_entries()[n:]
    assert [e["event"] for e in new] == ["approved"] + ["noop"] * len(plan.actions) + ["applied"]
    assert all(r["restored"] for r in undo(case, lambda a: iam))  # undoes the run that changed something
    assert _state(iam) == before


def test_undo_a_named_run(world):
    iam, case = world["iam"], world["case"]
    plan = compromised_key_plan(case.id, world["summary"])
    rows = apply(plan, case, lambda a: iam, approve=plan.hash)
    with pytest.raises(BadInput, match="no run 'nope'"):
        undo(case, lambda a: iam, run="nope")
    assert all(r["restored"] for r in undo(case, lambda a: iam, run=rows[0]["run"]))


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    from iamkit.cli import main

    with pytest.raises(SystemExit) as e:
        main(list(argv))
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def _sealed_plan_case(world) -> Plan:
    iam, case = world["iam"], world["case"]
    plan = capture_before(compromised_key_plan(case.id, world["summary"]), lambda a: iam)
    case.save_json("remediation-plan", plan.to_dict())
    case.finish()
    return plan


def test_cli_refuses_a_plan_changed_after_the_case_was_sealed(world, capsys):
    iam, case = world["iam"], world["case"]
    _sealed_plan_case(world)
    before = _state(iam)
    path = case.evidence / "remediation-plan.json"
    doc = json.loads(path.read_text())
    doc["actions"] = doc["actions"][2:]  # someone wants the leaked key left active, and re-hashes the plan
    path.write_text(json.dumps(doc))
    forged = Plan.from_dict(doc).hash
    code, out, err = _cli(capsys, "remediate", "plan", str(case.path))
    assert code == 1 and "evidence/remediation-plan.json: changed" in err and forged not in out
    code, out, err = _cli(capsys, "remediate", "apply", str(case.path), "--approve", forged)
    assert code == 1 and "evidence/remediation-plan.json: changed" in err
    assert _state(iam) == before
    assert not (case.path / "journal.jsonl").exists()


def test_cli_apply_then_undo_seals_each_step_of_the_history(world, capsys):
    iam, case = world["iam"], world["case"]
    plan = _sealed_plan_case(world)
    before = _state(iam)
    code, out, err = _cli(capsys, "remediate", "plan", str(case.path))
    assert code == 0 and plan.hash in out
    code, out, err = _cli(capsys, "remediate", "apply", str(case.path), "--approve", plan.hash, "--format", "json")
    assert code == 0, err
    assert all(r["verified"] and r["changed"] for r in json.loads(out))
    assert _state(iam)["dev_key"] == "Inactive"
    assert Case.open(case.path).verify() == []
    code, out, err = _cli(capsys, "remediate", "undo", str(case.path), "--format", "json")
    assert code == 0, err
    assert _state(iam) == before
    hist = Case.open(case.path).history()
    assert [h["actor"] for h in hist if not h["open"]][-2:] == [f"remediate apply {plan.hash}", "remediate undo"]
    assert [h["changed"] or h["added"] for h in hist if not h["open"]][-2:] == [["journal.jsonl"]] * 2
    assert Case.open(case.path).verify() == []
