"""The command line: a plan from findings into a new case, approvals by two people, irreversible steps refused
without the flag, a rotated key's secret only in the file the operator names."""

from __future__ import annotations

import json

import pytest

from iamkit.case import Case


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    from iamkit.cli import main

    with pytest.raises(SystemExit) as e:
        main(list(argv))
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def _finding(rule, acct, arn, evidence=None):
    return {
        "finding_id": f"f-{rule}",
        "rule_id": rule,
        "severity": "high",
        "account_id": acct,
        "principal_arn": arn,
        "principal_type": "user",
        "resource_arn": arn,
        "title": rule,
        "detail": "",
        "evidence": json.dumps(evidence or {}),
        "remediation": "",
        "references": "",
    }


def test_plan_from_findings_into_a_new_case_then_two_person_apply(scratch, tmp_path, capsys, monkeypatch):
    iam, acct = scratch.iam, scratch.acct
    iam.create_user(UserName="stale")
    iam.put_user_policy(
        UserName="stale",
        PolicyName="x",
        PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}',
    )
    iam.create_user(UserName="idle")
    key = iam.create_access_key(UserName="idle")["AccessKey"]["AccessKeyId"]
    findings = tmp_path / "findings.json"
    findings.write_text(
        json.dumps(
            [
                _finding("IAMKIT-POST-007", acct, scratch.arn("user", "stale")),
                _finding("IAMKIT-CRED-002", acct, scratch.arn("user", "idle"), {"access_key_id": key}),
            ]
        )
    )
    code, out, err = _cli(
        capsys,
        "remediate",
        "plan",
        "--from-findings",
        str(findings),
        "--cases-dir",
        str(tmp_path / "cases"),
        "--format",
        "json",
    )
    assert code == 0, err
    rows = json.loads(out)
    assert [(r["kind"], r["rule_id"]) for r in rows] == [
        ("quarantine_user", "IAMKIT-POST-007"),
        ("deactivate_access_key", "IAMKIT-CRED-002"),
    ]
    assert all(r["rationale"] for r in rows)
    case_dir = next((tmp_path / "cases").iterdir())
    assert Case.open(case_dir).verify() == []
    plan = json.loads((case_dir / "evidence" / "remediation-plan.json").read_text())
    h = plan["hash"]
    assert plan["before"][1] == {"exists": True, "status": "Active"}
    # apply without the hash, with a wrong one: nothing changes
    code, out, err = _cli(capsys, "remediate", "apply", str(case_dir))
    assert code == 2 and "--approve" in err
    code, out, err = _cli(capsys, "remediate", "apply", str(case_dir), "--approve", "0" * 16)
    assert code == 2 and h in err
    assert iam.list_access_keys(UserName="idle")["AccessKeyMetadata"][0]["Status"] == "Active"
    # quarantine is not destructive, deactivation neither: the two-person rule does not apply to this plan
    monkeypatch.setenv("IAMKIT_TWO_PERSON_APPROVAL", "1")
    code, out, err = _cli(capsys, "remediate", "approve", str(case_dir), "--approve", h, "--approver", "ana")
    assert code == 0 and "approved by ana" in out
    code, out, err = _cli(
        capsys, "remediate", "apply", str(case_dir), "--approve", h, "--approver", "bo", "--format", "json"
    )
    assert code == 0, err
    assert all(r["verified"] for r in json.loads(out))
    assert iam.list_access_keys(UserName="idle")["AccessKeyMetadata"][0]["Status"] == "Inactive"
    assert "iamkit-quarantine" in iam.list_user_policies(UserName="stale")["PolicyNames"]
    code, out, err = _cli(capsys, "remediate", "undo", str(case_dir), "--format", "json")
    assert code == 0, err
    assert iam.list_access_keys(UserName="idle")["AccessKeyMetadata"][0]["Status"] == "Active"
    assert iam.list_user_policies(UserName="stale")["PolicyNames"] == ["x"]
    assert Case.open(case_dir).verify() == []


def test_cli_destructive_steps_need_a_second_person_and_irreversible_ones_the_flag(scratch, case, capsys, monkeypatch):
    from iamkit.respond import Action, Plan, capture_before

    iam = scratch.iam
    iam.create_user(UserName="eve")
    iam.create_login_profile(UserName="eve", Password="Sandbox-Passw0rd!")
    iam.create_group(GroupName="admins")
    iam.add_user_to_group(GroupName="admins", UserName="eve")
    plan = capture_before(
        Plan(
            case.id,
            [
                Action("remove_from_group", scratch.acct, scratch.arn("user", "eve"), {"group_name": "admins"}, "t"),
                Action("remove_login_profile", scratch.acct, scratch.arn("user", "eve"), {}, "t"),
            ],
        ),
        scratch.clients(),
    )
    case.save_json("remediation-plan", plan.to_dict())
    case.finish()
    code, out, err = _cli(capsys, "remediate", "plan", str(case.path))
    assert code == 0 and "--allow-irreversible" in out and "IRREVERSIBLE" in out
    code, out, err = _cli(capsys, "remediate", "apply", str(case.path), "--approve", plan.hash)
    assert code == 2 and "allow-irreversible" in err
    code, out, err = _cli(
        capsys,
        "remediate",
        "apply",
        str(case.path),
        "--approve",
        plan.hash,
        "--allow-irreversible",
        "--two-person",
        "--approver",
        "ana",
    )
    assert code == 2 and "first approval" in err
    _cli(capsys, "remediate", "approve", str(case.path), "--approve", plan.hash, "--approver", "ana")
    code, out, err = _cli(
        capsys,
        "remediate",
        "apply",
        str(case.path),
        "--approve",
        plan.hash,
        "--allow-irreversible",
        "--two-person",
        "--approver",
        "ana",
    )
    assert code == 2 and "someone else" in err
    assert iam.list_groups_for_user(UserName="eve")["Groups"] and iam.get_login_profile(UserName="eve")
    code, out, err = _cli(
        capsys,
        "remediate",
        "apply",
        str(case.path),
        "--approve",
        plan.hash,
        "--allow-irreversible",
        "--two-person",
        "--approver",
        "bo",
        "--format",
        "json",
    )
    assert code == 0, err
    assert iam.list_groups_for_user(UserName="eve")["Groups"] == []
    code, out, err = _cli(capsys, "remediate", "undo", str(case.path), "--format", "json")
    rows = {r["kind"]: r for r in json.loads(out)}
    assert code == 1 and rows["remove_from_group"]["restored"] and "password" in rows["remove_login_profile"]["note"]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="eve")["Groups"]] == ["admins"]


def test_cli_rotation_writes_the_secret_only_where_asked(scratch, case, capsys, tmp_path_factory):
    from iamkit.respond import Plan, capture_before
    from iamkit.respond.plan import rotate_key_actions

    iam = scratch.iam
    iam.create_user(UserName="rot")
    old = iam.create_access_key(UserName="rot")["AccessKey"]["AccessKeyId"]
    plan = capture_before(
        Plan(case.id, rotate_key_actions(scratch.acct, scratch.arn("user", "rot"), old, [old])), scratch.clients()
    )
    case.save_json("remediation-plan", plan.to_dict())
    case.finish()
    code, out, err = _cli(
        capsys, "remediate", "apply", str(case.path), "--approve", plan.hash, "--secret-out", str(case.path / "k.env")
    )
    assert code == 2 and "never written into the case" in err
    code, out, err = _cli(capsys, "remediate", "apply", str(case.path), "--approve", plan.hash, "--format", "json")
    assert code == 1 and "terminal" in json.loads(out)[0]["error"]  # stdout is not a terminal here
    assert len(iam.list_access_keys(UserName="rot")["AccessKeyMetadata"]) == 1
    target = tmp_path_factory.mktemp("op") / "rot.env"
    code, out, err = _cli(
        capsys,
        "remediate",
        "apply",
        str(case.path),
        "--approve",
        plan.hash,
        "--secret-out",
        str(target),
        "--format",
        "json",
    )
    assert code == 0 and "--confirm" in err, err
    secret = target.read_text().split("AWS_SECRET_ACCESS_KEY=")[1].strip()
    assert secret not in out + err
    assert all(secret.encode() not in p.read_bytes() for p in case.path.rglob("*") if p.is_file())
    code, out, err = _cli(
        capsys, "remediate", "apply", str(case.path), "--approve", plan.hash, "--confirm", "--format", "json"
    )
    assert code == 0, err
    assert sorted(k["Status"] for k in iam.list_access_keys(UserName="rot")["AccessKeyMetadata"]) == [
        "Active",
        "Inactive",
    ]


def test_plan_from_detections_into_an_existing_case(scratch, case, tmp_path, capsys):
    """Into a case that already exists (verified first, sealed after); a detection with no usable target is a
    warning, a rule with no response is listed."""
    scratch.iam.create_user(UserName="kay")
    case.finish()
    dets = tmp_path / "hunt.json"
    dets.write_text(
        json.dumps(
            [
                {
                    "detection_id": "iamkit-console-login-without-mfa",
                    "severity": "medium",
                    "title": "t",
                    "event_ids": [],
                    "principal_arn": scratch.arn("user", "kay"),
                    "access_key_id": None,
                    "first_seen": "a",
                    "last_seen": "a",
                    "summary": "",
                },
                {
                    "detection_id": "iamkit-admin-managed-policy-attached",
                    "severity": "high",
                    "title": "t",
                    "event_ids": ["nope"],
                    "principal_arn": scratch.arn("user", "kay"),
                    "access_key_id": None,
                    "first_seen": "b",
                    "last_seen": "b",
                    "summary": "",
                },
                {
                    "detection_id": "iamkit-root-activity",
                    "severity": "high",
                    "title": "t",
                    "event_ids": [],
                    "principal_arn": None,
                    "access_key_id": None,
                    "first_seen": "c",
                    "last_seen": "c",
                    "summary": "",
                },
            ]
        )
    )
    code, out, err = _cli(capsys, "remediate", "plan", str(case.path), "--from-findings", str(dets), "--format", "json")
    assert code == 0, err
    assert [(r["kind"], r["target"]) for r in json.loads(out)] == [("tag_principal", scratch.arn("user", "kay"))]
    assert "no automatic response for: iamkit-root-activity" in err and "detach_policy" in err
    assert Case.open(case.path).verify() == []
    assert json.loads((case.path / "evidence" / "remediation-proposals.json").read_text())["unhandled"] == [
        "iamkit-root-activity"
    ]
