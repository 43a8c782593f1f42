"""Ground truth on the sandbox: for every seeded workload role (a role an AWS service assumes) with generated
activity, the candidate covers 100% of its observed calls when replayed with the role's boundary and the
organization's SCPs, grants exactly the actions its calls needed (nothing never used, nothing used left out:
the expected set is read from the generator's raw records, not through iamkit), and validates. A permission set
is followed across accounts; the CLI writes a valid policy, the answer and the staged roll-out."""

from __future__ import annotations

import json
import re

from iamkit.leastpriv import generate


def _workload_roles(org) -> set[str]:
    out = set()
    for r in org.roles:
        for st in r.trust_policy.get("Statement", []):
            svc = (st.get("Principal") or {}).get("Service") if isinstance(st.get("Principal"), dict) else None
            svcs = [svc] if isinstance(svc, str) else (svc or [])
            if any(str(s).endswith(".amazonaws.com") for s in svcs):
                out.add(r.arn)
    return out


#: CloudTrail names the generator writes that are not their IAM action's (IAM Service Authorization Reference)
_RENAMED = {
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
}


def _expected_actions(records, role: str) -> set[str]:
    """What the role's calls needed, from the raw records: succeeded or failed-but-authorized API calls of its
    sessions, ``service:EventName`` (the generator's workload calls are named as their IAM actions), less the
    one call no policy decides."""
    out = set()
    for r in records:
        ui = r.get("userIdentity") or {}
        issuer = ((ui.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn")
        if ui.get("type") != "AssumedRole" or issuer != role or r.get("eventType") != "AwsApiCall":
            continue
        code = r.get("errorCode") or ""
        if "AccessDenied" in code or "Unauthorized" in code:
            continue
        svc = r["eventSource"].split(".", 1)[0]
        name = re.sub(r"20\d{6}$", "", r["eventName"])  # Lambda's API version suffix (ListFunctions20150331)
        if (svc, name) == ("sts", "GetCallerIdentity"):
            continue
        out.add(_RENAMED.get((svc, name), f"{svc}:{name}"))
    return out


def test_every_workload_role_with_activity_gets_a_covering_minimal_valid_policy(sandbox, world):
    from iamkit import trail

    records, db, inv, _ = world
    roles = _workload_roles(sandbox.org)
    active = {
        r
        for r in roles
        if any(
            ((x.get("userIdentity") or {}).get("sessionContext") or {}).get("sessionIssuer", {}).get("arn") == r
            for x in records
        )
    }
    assert len(active) >= 20, "the sandbox's trail should give many workload roles activity"
    problems = []
    with trail.open(db, read_only=True) as t:
        for role in sorted(active):
            res = generate(role, t, inventory=inv, diff=False)
            want = _expected_actions(records, role)
            if res.proof.coverage != 1.0:
                problems.append(f"{role}: coverage {res.proof.coverage}: {res.proof.uncovered.to_dict('records')}")
            if set(res.candidate.actions) != want:
                problems.append(f"{role}: grants {sorted(res.candidate.actions)}, used {sorted(want)}")
            if not res.candidate.valid:
                problems.append(f"{role}: invalid: {res.candidate.findings}")
            if res.usage.events and not len(res.usage.uses) and not res.usage.skipped.shape[0]:
                problems.append(f"{role}: calls neither used nor skipped")
    assert not problems, "\n".join(problems)


def test_a_role_is_compared_with_todays_permissions_and_moto_has_no_last_accessed_data(sandbox, world):
    from iamkit import trail

    records, db, inv, _ = world
    busiest = max(_workload_roles(sandbox.org), key=lambda r: len(_expected_actions(records, r)))
    with trail.open(db, read_only=True) as t:
        res = generate(busiest, t, inventory=inv)
    removed = res.proof.removed
    assert removed is not None and len(removed)
    assert not set(removed["action"]) & set(res.candidate.actions)
    ranks = [("critical", "high", "medium", "low", "info").index(s) for s in removed["severity"]]
    assert ranks == sorted(ranks)
    # moto does not implement GenerateServiceLastAccessedDetails: said, not faked
    assert res.usage.last_accessed == [] and "does not provide service-last-accessed" in res.usage.last_accessed_note


def test_a_permission_set_is_followed_across_accounts(sandbox, world):
    from iamkit import trail

    records, db, inv, _ = world
    with trail.open(db, read_only=True) as t:
        res = generate("permission-set/Developer", t, inventory=inv, diff=False)
    accounts = {r.split(":")[4] for r in res.usage.roles}
    assert len(accounts) >= 2 and all("AWSReservedSSO_Developer_" in r for r in res.usage.roles)
    want = set().union(*(_expected_actions(records, r) for r in res.usage.roles))
    assert set(res.candidate.actions) == want
    assert res.proof.coverage == 1.0 and res.candidate.valid


def test_cli_writes_policy_answer_and_rollout(sandbox, world, tmp_path, cli):
    from iamkit.policy import validate

    records, db, _inv, inv_dir = world
    roles = sorted(r for r in _workload_roles(sandbox.org) if _expected_actions(records, r))[:3]
    code, err = cli(
        [
            "leastpriv",
            *roles,
            "--db",
            str(db),
            "--inventory",
            str(inv_dir),
            "--window",
            "30d",
            "--until",
            sandbox.now.isoformat(),
            "--holdback",
            "2d",
            "--format",
            "json",
            "--out",
            str(tmp_path / "rows.json"),
            "--policy-out",
            str(tmp_path / "p.json"),
            "--result",
            str(tmp_path / "r.json"),
            "--rollout",
            str(tmp_path / "ro.json"),
        ]
    )
    assert code == 0, err
    rows = json.loads((tmp_path / "rows.json").read_text())
    assert {r["principal"] for r in rows} <= set(roles) and rows
    docs = json.loads((tmp_path / "p.json").read_text())
    assert len(docs) == len(roles)
    for per_role in docs:
        for d in per_role:
            assert not [f for f in validate(d) if f.severity == "error"]
    answer = json.loads((tmp_path / "r.json").read_text())
    assert [a["principal"] for a in answer] == roles
    ro = json.loads((tmp_path / "ro.json").read_text())
    staged = [c["principal"] for s in ro["stages"] for c in s["changes"]]
    assert sorted(staged) == roles
    canary = next(s for s in ro["stages"] if s["name"] == "canary")
    for c in canary["changes"]:
        assert c["current"]["managed"] or c["current"]["inline"]  # kept for undo
    if canary["changes"]:
        assert ro["plans"]["canary"]["hash"] and ro["plans"]["canary"]["plan"]["actions"]
    assert "coverage" in err
