"""The compromised-access-key playbook end to end on the sandbox: four notebooks under papermill into a case
folder whose report names every step of the scripted incident, traced back to the leaked key."""

from __future__ import annotations

import html
import json
import subprocess
import sys

import pytest

from iamkit import playbook
from iamkit.case import Case
from iamkit.errors import BadInput

pytestmark = [pytest.mark.notebook, pytest.mark.sandbox]
NOTEBOOKS = ["01-enrichment.ipynb", "02-assessment.ipynb", "03-remediation.ipynb", "04-postmortem.ipynb"]


@pytest.fixture(scope="module")
def run(sandbox, tmp_path_factory):
    case_dir = tmp_path_factory.mktemp("cases") / "incident"
    res = playbook.run("compromised-access-key", {"access_key_id": sandbox.org.incident.leaked_access_key_id},
                       case_dir=case_dir)
    return res


def test_case_layout_and_status(run):
    case = run.case
    for name in ("case.yaml", "report.html", "manifest.json", "manifest.sha256", "trail.duckdb"):
        assert (case.path / name).is_file(), name
    assert sorted(p.name for p in (case.path / "notebooks").glob("*.ipynb")) == NOTEBOOKS
    meta = Case.open(case.path).meta
    assert meta["status"] == "complete" and meta["caller_identity"]["Account"]
    assert not (case.path / "INCOMPLETE").exists()


def test_report_names_every_step_of_the_incident(run, sandbox):
    inc = sandbox.org.incident
    text = html.unescape((run.case.path / "report.html").read_text())
    summary = text[text.index("id=summary"):text.index("id=notebooks")]  # the part a responder reads first
    for needle, what in [(inc.attacker_ip, "attacker IP"), (inc.leaked_access_key_id, "leaked key"),
                         (inc.created_user_arn.rsplit("/", 1)[-1], "created user"),
                         (inc.created_access_key_id, "created key"), ("AdministratorAccess", "admin attachment"),
                         (inc.target_role_arn, "cross-account role"), (inc.session_name, "session name")]:
        assert needle and needle in summary, f"report summary lacks the {what} ({needle})"
    for arn in inc.secret_arns:
        name = arn.split(":secret:")[-1].rsplit("-", 1)[0]
        assert name in summary, f"report summary lacks secret {name}"
    for arn in inc.object_arns:
        assert arn.split(":::")[-1] in summary, f"report summary lacks object {arn}"
    assert "<script" not in text.lower().replace("<script type=\"application/json\"", ""), "report has scripts"
    assert 'src="http' not in text and "cdn." not in text


def test_everything_traced_back_to_the_leaked_key(run, sandbox):
    inc = sandbox.org.incident
    facts = json.loads((run.case.evidence / "key-facts.json").read_text())
    assert facts["origin"]["user_arn"] == inc.user_arn
    assert inc.attacker_ip in facts["source_ips"]
    assert [u["arn"] for u in facts["created_users"]] == [inc.created_user_arn]
    assert inc.created_access_key_id in [k["access_key_id"] for k in facts["created_keys"]]
    assert any(p.endswith("/AdministratorAccess") for ps in facts["policies_attached"].values() for p in ps)
    assert [a["role_arn"] for a in facts["assumed_roles"]] == [inc.target_role_arn]
    assert {s["access_key_id"] for s in facts["secrets_read"]} == {inc.session_access_key_id}
    assert [t["result"] for t in facts["logging_tampering"]] and all(
        t["result"] != "succeeded" for t in facts["logging_tampering"])


def test_no_session_token_or_secret_lands_in_the_case(run):
    import gzip

    for p in run.case.path.rglob("*"):
        if not p.is_file() or p.suffix == ".duckdb":
            continue
        data = p.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        assert b"IQoJb3JpZ2luX2VjFAKE" not in data, f"session token in {p}"
        assert b"secretAccessKey" not in data and b"SecretAccessKey" not in data, f"secret in {p}"
    redactions = json.loads((run.case.evidence / "cloudtrail-redactions.json").read_text())
    assert redactions, "the generated AssumeRole records carry tokens: some raw files must have been redacted"


def test_detections_flag_the_incident(run, sandbox):
    import pandas as pd

    inc = sandbox.org.incident
    det = pd.read_parquet(run.case.evidence / "detections.parquet")
    hits = {(r.detection_id, r.access_key_id) for r in det.itertuples()}
    assert ("iamkit-key-created-then-used", inc.created_access_key_id) in hits
    assert ("iamkit-assume-role-new-source-ip", inc.leaked_access_key_id) in hits
    assert ("iamkit-logging-stop-attempt-denied", inc.session_access_key_id) in hits
    assert "iamkit-admin-managed-policy-attached" in {d for d, _ in hits}


def test_remediation_is_only_planned(run, sandbox):
    plan = json.loads((run.case.evidence / "remediation-plan.json").read_text())
    assert plan["hash"] and plan["actions"]
    assert not (run.case.path / "journal.jsonl").exists(), "the playbook must not apply anything"
    inc = sandbox.org.incident
    iam = sandbox.session(inc.account_id).client("iam")
    keys = iam.list_access_keys(UserName=inc.user_name)["AccessKeyMetadata"]
    assert {k["AccessKeyId"]: k["Status"] for k in keys}[inc.leaked_access_key_id] == "Active"


def test_manifest_verifies_then_one_changed_byte_fails(run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run.case.path, copy)
    r = subprocess.run([sys.executable, "-m", "iamkit.cli", "case", "verify", str(copy)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    target = copy / "evidence" / "key-facts.json"
    data = bytearray(target.read_bytes())
    data[10] ^= 0x20
    target.write_bytes(bytes(data))
    r = subprocess.run([sys.executable, "-m", "iamkit.cli", "case", "verify", str(copy)], capture_output=True, text=True)
    assert r.returncode != 0 and "evidence/key-facts.json" in r.stdout


def test_report_rebuilds_from_the_folder_alone(run, tmp_path, monkeypatch):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run.case.path, copy)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing there: no AWS call may be needed
    r = subprocess.run([sys.executable, "-m", "iamkit.cli", "case", "report", str(copy)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert Case.open(copy).verify() == []


def test_unknown_access_key_is_a_clear_error_and_a_marked_case(sandbox, tmp_path):
    case_dir = tmp_path / "nokey"
    with pytest.raises(BadInput, match="AKIAZZZZZZZZZZZZZZZZ"):
        playbook.run("compromised-access-key", {"access_key_id": "AKIAZZZZZZZZZZZZZZZZ"}, case_dir=case_dir)
    meta = Case.open(case_dir).meta
    assert meta["status"] == "failed" and (case_dir / "INCOMPLETE").exists()
    assert Case.open(case_dir).verify(), "a failed case must not verify as complete"
