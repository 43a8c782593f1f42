"""``iamkit.assess.run`` contract (findings frame, stable ids, rule selection, failures kept), the CLI
(formats, --fail-on exit 1, bad input exit 2, --authz-details) and OCSF output."""

from __future__ import annotations

import json

import pytest
from assesstest import ACCT, ALLOW_ALL, NOW, doc, trust

import iamkit.assess as assess
from iamkit.assess.registry import RULES, SEVERITIES, Hit, rule
from iamkit.errors import BadInput
from iamkit.frames import check


def risky(b):
    b.user("alice", policies=(doc(ALLOW_ALL),))
    b.role("open", trust({"AWS": "*"}))
    return b.inventory()


def test_findings_frame_schema_order_and_stable_ids(b):
    inv = risky(b)
    df = assess.run(inv, now=NOW)
    check(df, "findings")
    order = [assess.SEVERITY_ORDER[s] for s in df.severity]
    assert order == sorted(order) and df.severity.iloc[0] == "critical"
    again = assess.run(inv, now=NOW)
    assert list(df.finding_id) == list(again.finding_id) and df.finding_id.is_unique
    for ev in df.evidence:
        json.loads(ev)


def test_every_rule_has_metadata():
    table = assess.rule_table()
    assert len(table) >= 35
    for r in table.values():
        assert r.severity in SEVERITIES and r.title and r.rationale and r.remediation and r.references


def test_rule_selection_and_unknown_rule(b):
    inv = risky(b)
    assert set(assess.run(inv, rules=["IAMKIT-TRUST-*"], now=NOW).rule_id) == {"IAMKIT-TRUST-002"}
    with pytest.raises(BadInput, match="unknown rule"):
        assess.run(inv, rules=["NOPE-1"])


def test_a_failing_rule_is_listed_and_the_rest_go_on(b):
    @rule("IAMKIT-TEST-BROKEN", "test", "low", "broken", "r", "fix", ["x"])
    def broken(ctx):
        raise RuntimeError("boom")
        yield Hit(None)  # pragma: no cover

    try:
        df = assess.run(risky(b), rules=["IAMKIT-TEST-BROKEN", "IAMKIT-PRIV-001"], now=NOW)
    finally:
        RULES.pop("IAMKIT-TEST-BROKEN")
    assert "IAMKIT-PRIV-001" in set(df.rule_id)
    err = df[df.rule_id == "IAMKIT-ERROR"]
    assert len(err) == 1 and "boom" in err.detail.iloc[0]


def test_unparseable_policy_is_an_error_row(b):
    b.user("broken", policies=({"Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]},))
    df = assess.run(b.inventory(), rules=["IAMKIT-PRIV-001"], now=NOW)
    assert (df.rule_id == "IAMKIT-ERROR").sum() == 1


def test_ocsf_events(b):
    from iamkit.assess.ocsf import to_ocsf

    df = assess.run(risky(b), now=NOW)
    events = to_ocsf(df, now=NOW)
    assert len(events) == len(df)
    e = events[0]
    assert (e["class_uid"], e["category_uid"], e["type_uid"], e["severity_id"]) == (2004, 2, 200401, 5)
    assert e["finding_info"]["analytic"]["uid"] == df.rule_id.iloc[0]
    assert e["finding_info"]["uid"] == df.finding_id.iloc[0]
    assert e["cloud"]["account"]["uid"] == ACCT and e["resources"][0]["uid"].startswith("arn:aws:")
    assert e["time"] == int(NOW.timestamp() * 1000)


# ---- command line


def _cli(args):
    from iamkit.cli import main

    with pytest.raises(SystemExit) as ex:
        main(args)
    return ex.value.code


@pytest.fixture
def snapshot(b, tmp_path):
    return risky(b).save(tmp_path / "snap")


def test_cli_formats(snapshot, tmp_path, capsys):
    assert _cli(["assess", str(snapshot), "--format", "json", "--out", str(tmp_path / "f.json")]) == 0
    rows = json.loads((tmp_path / "f.json").read_text())
    assert {"IAMKIT-PRIV-001", "IAMKIT-TRUST-002"} <= {r["rule_id"] for r in rows}
    assert _cli(["assess", str(snapshot), "-f", "ocsf", "-o", str(tmp_path / "o.json")]) == 0
    assert json.loads((tmp_path / "o.json").read_text())[0]["class_uid"] == 2004
    assert _cli(["assess", str(snapshot), "-f", "parquet", "-o", str(tmp_path / "f.parquet")]) == 0
    assert (tmp_path / "f.parquet").stat().st_size > 0
    assert _cli(["assess", str(snapshot), "-f", "csv"]) == 0
    assert "IAMKIT-TRUST-002" in capsys.readouterr().out


def test_cli_fail_on(snapshot):
    assert _cli(["assess", str(snapshot), "-f", "csv", "--fail-on", "critical"]) == 1
    assert _cli(["assess", str(snapshot), "-f", "csv", "--rule", "IAMKIT-PRIV-001", "--fail-on", "critical"]) == 0
    assert _cli(["assess", str(snapshot), "-f", "csv", "--rule", "IAMKIT-PRIV-001", "--fail-on", "high"]) == 1


def test_cli_bad_input(snapshot, tmp_path):
    assert _cli(["assess", str(tmp_path / "missing")]) == 2
    assert _cli(["assess"]) == 2
    assert _cli(["assess", str(snapshot), "--fail-on", "severe"]) == 2
    assert _cli(["assess", str(snapshot), "--rule", "NOPE"]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"UserDetailList": [')
    assert _cli(["assess", "--authz-details", str(bad)]) == 2


def test_cli_authorization_details(tmp_path):
    export = {
        "UserDetailList": [
            {
                "UserName": "ci",
                "UserId": "AIDAX",
                "Arn": f"arn:aws:iam::{ACCT}:user/ci",
                "Path": "/",
                "CreateDate": "2024-01-01T00:00:00Z",
                "GroupList": [],
                "AttachedManagedPolicies": [],
                "UserPolicyList": [{"PolicyName": "all", "PolicyDocument": doc(ALLOW_ALL)}],
            }
        ],
        "GroupDetailList": [],
        "Policies": [],
        "RoleDetailList": [
            {
                "RoleName": "open",
                "RoleId": "AROAX",
                "Arn": f"arn:aws:iam::{ACCT}:role/open",
                "Path": "/",
                "CreateDate": "2024-01-01T00:00:00Z",
                "AssumeRolePolicyDocument": trust({"AWS": "*"}),
                "RolePolicyList": [],
                "AttachedManagedPolicies": [],
                "InstanceProfileList": [],
                "Tags": [],
                "RoleLastUsed": {},
            }
        ],
    }
    f = tmp_path / "authz.json"
    f.write_text(json.dumps(export))
    out = tmp_path / "f.json"
    assert _cli(["assess", "--authz-details", str(f), "-f", "json", "-o", str(out)]) == 0
    got = {(r["rule_id"], r["principal_arn"]) for r in json.loads(out.read_text())}
    assert ("IAMKIT-PRIV-001", f"arn:aws:iam::{ACCT}:user/ci") in got
    assert ("IAMKIT-TRUST-002", f"arn:aws:iam::{ACCT}:role/open") in got
