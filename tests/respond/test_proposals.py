"""Plans from findings and detections: the rule table, every input format, targets from CloudTrail, blast radius
from the engine, and the proposed plan applied and undone against the sandbox."""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pytest

from iamkit.errors import BadInput
from iamkit.respond import apply, capture_before, undo
from iamkit.respond.actions import REGISTRY
from iamkit.respond.proposals import TABLE_KINDS, propose, read_rows, table

ROOT_TRUST = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},'
    '"Action":"sts:AssumeRole"}]}'
)
ADMIN = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


def _finding(rule, acct, arn, **kw):
    return {
        "finding_id": f"f-{rule}-{arn[-6:]}",
        "rule_id": rule,
        "severity": "high",
        "account_id": acct,
        "principal_arn": arn,
        "principal_type": arn.split(":")[5].split("/")[0],
        "resource_arn": arn,
        "title": rule,
        "detail": "d",
        "evidence": json.dumps(kw.get("evidence", {})),
        "remediation": "",
        "references": "",
    }


def _rec(acct, name, params, who, *, eid, error=None, issuer=None):
    ui = {
        "type": "AssumedRole" if issuer else "IAMUser",
        "arn": who,
        "accountId": acct,
        "principalId": "AIDAX",
        "accessKeyId": "AKIAEXAMPLEKEY000001",
    }
    if issuer:
        ui["sessionContext"] = {
            "sessionIssuer": {
                "type": "Role",
                "arn": issuer,
                "accountId": acct,
                "principalId": "AROAX",
                "userName": issuer.rsplit("/", 1)[1],
            }
        }
    r = {
        "eventVersion": "1.08",
        "userIdentity": ui,
        "eventTime": "2026-11-20T10:00:00Z",
        "eventSource": "iam.amazonaws.com" if name != "AssumeRole" else "sts.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.1",
        "userAgent": "aws-cli",
        "requestParameters": params,
        "responseElements": None,
        "eventID": eid,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "recipientAccountId": acct,
    }
    if error:
        r["errorCode"] = error
    return r


@pytest.fixture
def trail_of(tmp_path):
    import iamkit.trail

    opened = []

    def make(records):
        d = tmp_path / f"ct{len(opened)}"
        d.mkdir()
        (d / f"r{len(opened)}.json.gz").write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))
        t = iamkit.trail.open(tmp_path / f"t{len(opened)}.duckdb")
        t.load([str(d)])
        opened.append(t)
        return t

    yield make
    for t in opened:
        t.close()


def test_the_shipped_table_is_valid_and_uses_real_kinds():
    t = table()
    assert t and all(e["kind"] in TABLE_KINDS for v in t.values() for e in v)
    assert TABLE_KINDS - {"rotate_key", "detach_policy"} <= set(REGISTRY)
    for rule in ("IAMKIT-TRUST-002", "iamkit-admin-managed-policy-attached", "iamkit-key-created-then-used"):
        assert rule in t
    with pytest.raises(BadInput, match="bad entry"):
        table("X-1:\n  - {kind: explode, target: role, why: x}\n")
    with pytest.raises(BadInput, match="mode"):
        table("X-1:\n  - {kind: quarantine_role, target: role, why: x}\n")


def test_every_format_gives_the_same_plan(tmp_path, scratch):
    from iamkit.assess.ocsf import dumps

    acct = scratch.acct
    rows = [
        _finding("IAMKIT-CRED-002", acct, scratch.arn("user", "old"), evidence={"access_key_id": "AKIAOLD"}),
        _finding("IAMKIT-PRIV-001", acct, scratch.arn("role", "admin")),
        _finding("IAMKIT-NOPE-999", acct, scratch.arn("role", "admin")),
    ]
    df = pd.DataFrame(rows)
    df.to_json(tmp_path / "f.json", orient="records")
    df.to_csv(tmp_path / "f.csv", index=False)
    df.to_parquet(tmp_path / "f.parquet")
    (tmp_path / "f.ocsf.json").write_text(dumps(df))
    (tmp_path / "weird.txt").write_bytes(df.to_parquet())  # classified by structure, not by name
    plans = {}
    for name in ("f.json", "f.csv", "f.parquet", "f.ocsf.json", "weird.txt"):
        got = propose(read_rows(tmp_path / name), "case-1", now="2026-12-01T00:00:00+00:00")
        plans[name] = got.plan.hash
        assert [(p.action.kind, p.action.target_arn) for p in got.proposals] == [
            ("deactivate_access_key", scratch.arn("user", "old")),
            ("tag_principal", scratch.arn("role", "admin")),
        ]
        assert got.proposals[1].action.params["tags"] == {"iam-risk:quarantine": "true", "iam-risk:case": "case-1"}
        assert got.unhandled == ["IAMKIT-NOPE-999"] and got.errors == []
        assert all(p.rationale for p in got.proposals)
    assert len(set(plans.values())) == 1, plans
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(BadInput, match="not findings or detections"):
        read_rows(tmp_path / "bad.csv")
    (tmp_path / "cut.json").write_text('[{"rule_id": "IAMKIT')
    with pytest.raises(BadInput, match="truncated"):
        read_rows(tmp_path / "cut.json")
    assert propose([{"hello": 1}], "c").errors[0]["message"] == "row 1: not a finding or a detection"


def test_trust_restriction_names_who_really_assumed_the_role(scratch, case, trail_of):
    iam, acct = scratch.iam, scratch.acct
    iam.create_role(RoleName="shared", AssumeRolePolicyDocument=ROOT_TRUST % acct)
    role = scratch.arn("role", "shared")
    deployer, ci = scratch.arn("role", "deployer"), scratch.arn("user", "ci")
    t = trail_of(
        [
            _rec(
                acct,
                "AssumeRole",
                {"roleArn": role, "roleSessionName": "d"},
                f"arn:aws:sts::{acct}:assumed-role/deployer/x",
                eid="e1",
                issuer=deployer,
            ),
            _rec(acct, "AssumeRole", {"roleArn": role, "roleSessionName": "c"}, ci, eid="e2"),
            _rec(
                acct,
                "AssumeRole",
                {"roleArn": role, "roleSessionName": "z"},
                scratch.arn("user", "mallory"),
                eid="e3",
                error="AccessDenied",
            ),
            _rec(
                acct,
                "AssumeRole",
                {"roleArn": scratch.arn("role", "other"), "roleSessionName": "o"},
                scratch.arn("user", "bob"),
                eid="e4",
            ),
        ]
    )
    rows = [_finding("IAMKIT-TRUST-001", acct, role)]
    with pytest.raises(BadInput, match="AWS access"):  # reading the trust needs the clients
        raise BadInput(propose(rows, case.id, trail=t).errors[0]["message"])
    got = propose(rows, case.id, trail=t, clients=scratch.clients(), org_id="o-example1")
    kinds = [p.action.kind for p in got.proposals]
    assert kinds == ["restrict_trust", "tag_principal"], got.errors
    restrict = got.proposals[0].action
    assert restrict.params["kept"] == [deployer, ci], "the denied and the unrelated callers are not named"
    st = restrict.params["document"]["Statement"][0]
    assert st["Principal"] == {"AWS": [deployer, ci]}
    assert st["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-example1"}}
    # nobody in the trail and nobody named: not proposed, and the error row says why
    empty = propose(rows, case.id, trail=trail_of([]), clients=scratch.clients())
    assert [p.action.kind for p in empty.proposals] == ["tag_principal"]
    assert "--trust-principal" in empty.errors[0]["message"]
    named = propose(rows, case.id, clients=scratch.clients(), trust_principals=[ci])
    assert named.proposals[0].action.params["kept"] == [ci]
    # the proposed plan: dry run, apply, undo back to the exact text
    plan = capture_before(got.plan, scratch.clients())
    assert any('"aws:PrincipalOrgID"' in line for line in plan.diff())
    before = iam.get_role(RoleName="shared")["Role"]["AssumeRolePolicyDocument"]
    rows_ = apply(plan, case, scratch.clients(), approve=plan.hash)
    assert all(r["verified"] for r in rows_)
    assert iam.get_role(RoleName="shared")["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "AWS": [deployer, ci]
    }
    undo(case, scratch.clients())
    assert iam.get_role(RoleName="shared")["Role"]["AssumeRolePolicyDocument"] == before


def test_detections_take_their_targets_from_the_events(scratch, trail_of):
    acct = scratch.acct
    attacker = scratch.arn("user", "dev")
    pol = f"arn:aws:iam::{acct}:policy/Admin"
    t = trail_of(
        [
            _rec(acct, "AttachUserPolicy", {"userName": "backdoor", "policyArn": pol}, attacker, eid="a1"),
            _rec(acct, "AttachGroupPolicy", {"groupName": "ops", "policyArn": pol}, attacker, eid="a2"),
            _rec(
                acct, "AttachRolePolicy", {"roleName": "r", "policyArn": pol}, attacker, eid="a3", error="AccessDenied"
            ),
            _rec(
                acct,
                "PutUserPolicy",
                {"userName": "backdoor", "policyName": "all", "policyDocument": ADMIN},
                attacker,
                eid="p1",
            ),
            _rec(
                acct, "AssumeRole", {"roleArn": scratch.arn("role", "prod"), "roleSessionName": "s"}, attacker, eid="s1"
            ),
        ]
    )
    dets = [
        {
            "detection_id": "iamkit-admin-managed-policy-attached",
            "severity": "high",
            "title": "t",
            "event_ids": json.dumps(["a1", "a2", "a3"]),
            "principal_arn": attacker,
            "access_key_id": None,
            "first_seen": "2026-11-20",
            "last_seen": "2026-11-20",
            "summary": "",
        },
        {
            "detection_id": "iamkit-policy-wildcard-grant",
            "severity": "high",
            "title": "t",
            "event_ids": ["p1"],
            "principal_arn": attacker,
            "access_key_id": None,
            "first_seen": "x",
            "last_seen": "x",
            "summary": "",
        },
        {
            "detection_id": "iamkit-assume-role-new-source-ip",
            "severity": "medium",
            "title": "t",
            "event_ids": ["s1"],
            "principal_arn": attacker,
            "access_key_id": None,
            "first_seen": "y",
            "last_seen": "y",
            "summary": "",
        },
    ]
    got = propose(dets, "c", trail=t, now="2026-12-01T00:00:00+00:00")
    assert [(p.action.kind, p.action.target_arn, p.action.params) for p in got.proposals] == [
        ("detach_user_policy", scratch.arn("user", "backdoor"), {"policy_arn": pol}),
        ("detach_group_policy", scratch.arn("group", "ops"), {"policy_arn": pol}),
        ("delete_inline_policy", scratch.arn("user", "backdoor"), {"policy_name": "all"}),
        ("revoke_role_sessions", scratch.arn("role", "prod"), {"issued_before": "2026-12-01T00:00:00+00:00"}),
    ]
    assert got.errors == []
    without_trail = propose(dets, "c")
    assert without_trail.proposals == [] and len(without_trail.errors) == 3


def test_blast_radius_from_the_engine():
    from iamkit.inventory import Inventory
    from iamkit.respond import Action
    from iamkit.respond.blast import blast_radius

    acct = "123456789012"
    u, g = f"arn:aws:iam::{acct}:user/dev", f"arn:aws:iam::{acct}:group/ops"
    s3read = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    )
    iamw = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["iam:CreateUser", "iam:PutUserPolicy"], "Resource": "*"}],
        }
    )
    pol = f"arn:aws:iam::{acct}:policy/IamWrite"
    inv = Inventory.from_rows(
        {
            "principals": [
                {"account_id": acct, "principal_type": "user", "name": "dev", "arn": u, "groups": ["ops"]},
                {"account_id": acct, "principal_type": "group", "name": "ops", "arn": g},
            ],
            "policies": [
                {
                    "account_id": acct,
                    "policy_name": "read",
                    "policy_type": "inline",
                    "attached_to_arn": u,
                    "attached_to_type": "user",
                    "is_default": True,
                    "document": s3read,
                },
                {
                    "account_id": acct,
                    "policy_arn": pol,
                    "policy_name": "IamWrite",
                    "policy_type": "managed",
                    "attached_to_arn": g,
                    "attached_to_type": "group",
                    "is_default": True,
                    "document": iamw,
                },
            ],
        }
    )
    q = blast_radius(Action("quarantine_user", acct, u, {}, "r"), inv)
    assert q["principals"][0]["before"] == 3 and q["principals"][0]["after"] == 0
    d = blast_radius(Action("detach_group_policy", acct, g, {"policy_arn": pol}, "r"), inv)
    assert d["principals"][0]["principal"] == u and d["principals"][0]["lost"] == 2
    assert sorted(x.split(" on ")[0] for x in d["principals"][0]["lost_examples"]) == [
        "iam:CreateUser",
        "iam:PutUserPolicy",
    ]
    r = blast_radius(Action("remove_from_group", acct, u, {"group_name": "ops"}, "r"), inv)
    assert r["principals"][0]["after"] == 1 and r["principals"][0]["lost"] == 2
    i = blast_radius(Action("delete_inline_policy", acct, u, {"policy_name": "read"}, "r"), inv)
    assert i["principals"][0]["lost_examples"] == ["s3:GetObject on *"]
    assert "nobody" in blast_radius(Action("tag_principal", acct, u, {"tags": {}}, "r"), inv)["summary"]
