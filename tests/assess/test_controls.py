"""Compliance controls beside each rule (controls.yml + the rules' ``controls`` metadata) and the by-control report."""

from __future__ import annotations

import json

import pytest
from assesstest import ALLOW_ALL, doc, trust

import iamkit.assess as assess
from iamkit.assess.registry import CONTROL_ID, control_catalog, rule


def test_every_mapped_control_is_defined_and_every_defined_one_is_used():
    catalog = control_catalog()
    defined = set(catalog["controls"])
    used = {c for r in assess.rule_table().values() for c in r.controls}
    assert used == defined
    assert all(CONTROL_ID.match(c) for c in defined)
    assert {c.split(":", 1)[0] for c in defined} == set(catalog["frameworks"])


@pytest.mark.parametrize(
    "rule_id, control",
    [
        ("IAMKIT-PRIV-001", "CIS-AWS-3.0:1.16"),  # "*:*" administrative privileges
        ("IAMKIT-CRED-005", "CIS-AWS-3.0:1.4"),  # root access keys
        ("IAMKIT-CRED-006", "CIS-AWS-3.0:1.5"),  # root MFA
        ("IAMKIT-CRED-004", "CIS-AWS-3.0:1.10"),  # console users' MFA
        ("IAMKIT-CRED-003", "CIS-AWS-3.0:1.13"),  # one active key per user
        ("IAMKIT-CRED-001", "CIS-AWS-3.0:1.14"),  # key rotation
        ("IAMKIT-POST-004", "CIS-AWS-3.0:1.20"),  # Access Analyzer
        ("IAMKIT-ESC-001", "NIST-800-53r5:AC-6"),  # least privilege
    ],
)
def test_known_mappings(rule_id, control):
    assert control in assess.rule_table()[rule_id].controls


def test_malformed_control_id_is_refused():
    with pytest.raises(ValueError, match="control"):
        rule("IAMKIT-TEST-CTL", "test", "low", "t", "r", "m", controls=["CIS 1.16"])(lambda ctx: [])


def test_by_control_report(b):
    admin = b.user("alice", policies=(doc(ALLOW_ALL),))
    b.role("open", trust({"AWS": "*"}))
    findings = assess.run(b.inventory())
    report = assess.by_control(findings)
    row = report.set_index("control").loc["CIS-AWS-3.0:1.16"]
    assert row["status"] == "fail" and admin in row["principals"] and "IAMKIT-PRIV-001" in row["rules"]
    assert row["findings"] == int((findings["rule_id"] == "IAMKIT-PRIV-001").sum())
    ac3 = report.set_index("control").loc["NIST-800-53r5:AC-3"]
    assert ac3["status"] == "fail" and ac3["severity"] in ("critical", "high")
    # controls are ordered as auditors read them: 1.4 before 1.10, per framework
    cis = [c for c in report["control"] if c.startswith("CIS")]
    assert cis.index("CIS-AWS-3.0:1.4") < cis.index("CIS-AWS-3.0:1.10")
    # a subset of rules reports only their controls; with no findings they pass
    only = assess.by_control(assess.run(b.inventory(), rules=["IAMKIT-CRED-005"]), rules=["IAMKIT-CRED-005"])
    assert list(only["control"]) == ["CIS-AWS-3.0:1.4"] and list(only["status"]) == ["pass"]


def _cli(args):
    from iamkit.cli import main

    with pytest.raises(SystemExit) as ex:
        main(args)
    return ex.value.code


def test_cli_by_control(b, tmp_path):
    b.user("alice", policies=(doc(ALLOW_ALL),))
    snap = b.inventory().save(tmp_path / "snap")
    out = tmp_path / "c.json"
    assert _cli(["assess", str(snap), "--by-control", "-f", "json", "-o", str(out)]) == 0
    rows = {r["control"]: r for r in json.loads(out.read_text())}
    assert rows["CIS-AWS-3.0:1.16"]["status"] == "fail"
    assert _cli(["assess", str(snap), "--by-control", "-f", "ocsf"]) == 2
