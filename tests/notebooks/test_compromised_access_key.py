"""The compromised-access-key playbook end to end on the sandbox: four notebooks under papermill into a case
folder whose facts equal the scenario's answer key and whose report names every step of the scripted incident,
traced back to the leaked key. The run has an ASN database configured (a tiny MaxMind file written here), as a
responder would, so the headline names the new IP's country and ASN."""

from __future__ import annotations

import html
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from iamkit import playbook
from iamkit.case import Case
from iamkit.errors import BadInput
from iamkit.investigate import facts as F

pytestmark = [pytest.mark.notebook, pytest.mark.sandbox]
NOTEBOOKS = ["01-enrichment.ipynb", "02-assessment.ipynb", "03-remediation.ipynb", "04-postmortem.ipynb"]


def write_mmdbs(folder: Path, ip: str) -> tuple[Path, Path]:
    """Country and ASN databases placing ``ip``'s /24 in KP, AS64500 "Example Hosting" (the test writer of
    tests/trail/test_ipcontext.py)."""
    spec = importlib.util.spec_from_file_location(
        "ipcontext_writer", Path(__file__).resolve().parents[1] / "trail" / "test_ipcontext.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    net = ip.rsplit(".", 1)[0] + ".0/24"
    country, asn = folder / "country.mmdb", folder / "asn.mmdb"
    mod.write_mmdb(country, {net: {"country": {"iso_code": "KP"}}}, "GeoLite2-Country")
    mod.write_mmdb(
        asn,
        {net: {"autonomous_system_number": 64500, "autonomous_system_organization": "Example Hosting"}},
        "GeoLite2-ASN",
    )
    return country, asn


@pytest.fixture(scope="module")
def run(sandbox, tmp_path_factory):
    case_dir = tmp_path_factory.mktemp("cases") / "incident"
    country, asn = write_mmdbs(tmp_path_factory.mktemp("mmdb"), sandbox.org.incident.attacker_ip)
    saved = {k: os.environ.get(k) for k in ("IAMKIT_COUNTRY_MMDB", "IAMKIT_ASN_MMDB")}
    os.environ.update(IAMKIT_COUNTRY_MMDB=str(country), IAMKIT_ASN_MMDB=str(asn))
    try:
        return playbook.run(
            "compromised-access-key", {"access_key_id": sandbox.org.incident.leaked_access_key_id}, case_dir=case_dir
        )
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


def answer_key(sandbox, access_key_id: str) -> dict:
    """The manifest's answer key for a subject (read from the file, as a responder's check would)."""
    keys = json.loads(sandbox.manifest_path.read_text())["answer_keys"]
    return next(k for k in keys if k["subject"]["access_key_id"] == access_key_id)


def test_facts_equal_the_answer_key(run, sandbox):
    facts = json.loads((run.case.evidence / "facts.json").read_text())
    F.validate(facts)
    key = answer_key(sandbox, sandbox.org.incident.leaked_access_key_id)
    F.validate(key)
    assert F.differences(facts, key) == []


def test_the_headline_separates_the_attack_from_the_owners_usual_use(run, sandbox):
    inc = sandbox.org.incident
    facts = json.loads((run.case.evidence / "facts.json").read_text())
    first, persistence, privilege, lateral, data = run.summary["headline"]
    assert f"new IP {inc.attacker_ip} (KP, AS64500 Example Hosting)" in first
    assert f'new user agent "{inc.attacker_user_agent}"' in first  # in full, not cut at the first space
    start = inc.start.replace("T", " ").replace("Z", " UTC")
    assert f"first GetCallerIdentity at {start}" in first and f"calls {start} → " in first
    usual = first.split("Usual activity, apart: ")[1]
    assert facts["sources"]["usual_ips"][0] in usual and inc.attacker_ip not in usual
    assert f"{facts['activity']['usual_calls']} calls" in usual
    assert inc.created_user_arn in privilege.split("afterwards: ")[1]  # reach lists the created admin user
    assert "svc-backup-sync" in persistence and inc.created_access_key_id in persistence
    assert inc.target_role_arn in lateral and inc.session_name in lateral
    denied = facts["denied"]["count"]
    assert f"{denied} denied calls" in data and f"{facts['other_errors']['count']} other errors" in data
    assert "StopLogging denied (AccessDenied)" in data


def test_case_layout_and_status(run):
    case = run.case
    for name in ("case.yaml", "report.html", "manifest.json", "manifest.sha256", "trail.duckdb"):
        assert (case.path / name).is_file(), name
    assert sorted(p.name for p in (case.path / "notebooks").glob("*.ipynb")) == NOTEBOOKS
    meta = Case.open(case.path).meta
    assert meta["status"] == "complete" and meta["caller_identity"]["Account"]
    assert not (case.path / "INCOMPLETE").exists()
    assert not (case.evidence / "unanswered.json").exists()


def test_report_names_every_step_of_the_incident(run, sandbox):
    inc = sandbox.org.incident
    text = html.unescape((run.case.path / "report.html").read_text())
    summary = text[text.index("id=summary") : text.index("id=notebooks")]  # the part a responder reads first
    for needle, what in [
        (inc.attacker_ip, "attacker IP"),
        (inc.leaked_access_key_id, "leaked key"),
        (inc.created_user_arn.rsplit("/", 1)[-1], "created user"),
        (inc.created_access_key_id, "created key"),
        ("AdministratorAccess", "admin attachment"),
        (inc.target_role_arn, "cross-account role"),
        (inc.session_name, "session name"),
    ]:
        assert needle and needle in summary, f"report summary lacks the {what} ({needle})"
    for arn in inc.secret_arns:
        name = arn.split(":secret:")[-1].rsplit("-", 1)[0]
        assert name in summary, f"report summary lacks secret {name}"
    for arn in inc.object_arns:
        assert arn.split(":::")[-1] in summary, f"report summary lacks object {arn}"
    assert "<script" not in text.lower().replace('<script type="application/json"', ""), "report has scripts"
    assert 'src="http' not in text and "cdn." not in text


def test_everything_traced_back_to_the_leaked_key(run, sandbox):
    inc = sandbox.org.incident
    events = run.case.load_frame("key-events")
    by_session = events[events["access_key_id"] == inc.session_access_key_id]
    assert {"GetSecretValue", "GetObject", "StopLogging"} <= set(by_session["event_name"])
    nodes = run.case.load_frame("key-chain").set_index("node")
    assert nodes.loc[inc.session_access_key_id, "parent"] == inc.leaked_access_key_id
    assert nodes.loc[inc.created_user_arn, "node_type"] == "user"


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
    r = subprocess.run(
        [sys.executable, "-m", "iamkit.cli", "case", "verify", str(copy)], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stdout + r.stderr
    target = copy / "evidence" / "facts.json"
    data = bytearray(target.read_bytes())
    data[10] ^= 0x20
    target.write_bytes(bytes(data))
    r = subprocess.run(
        [sys.executable, "-m", "iamkit.cli", "case", "verify", str(copy)], capture_output=True, text=True
    )
    assert r.returncode != 0 and "evidence/facts.json" in r.stdout


def test_report_rebuilds_from_the_folder_alone(run, tmp_path, monkeypatch):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run.case.path, copy)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing there: no AWS call may be needed
    r = subprocess.run(
        [sys.executable, "-m", "iamkit.cli", "case", "report", str(copy)], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert Case.open(copy).verify() == []


def test_unknown_access_key_is_a_clear_error_and_a_marked_case(sandbox, tmp_path):
    case_dir = tmp_path / "nokey"
    with pytest.raises(BadInput, match="AKIAZZZZZZZZZZZZZZZZ"):
        playbook.run("compromised-access-key", {"access_key_id": "AKIAZZZZZZZZZZZZZZZZ"}, case_dir=case_dir)
    meta = Case.open(case_dir).meta
    assert meta["status"] == "failed" and (case_dir / "INCOMPLETE").exists()
    assert Case.open(case_dir).verify(), "a failed case must not verify as complete"
