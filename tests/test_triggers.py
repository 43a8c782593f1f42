"""``iamkit run --from-finding``: every recorded finding shape picks the playbook its triggers name and fills its
parameters from the finding's fields; unknown shapes and crafted values are one-line errors (exit 2), never a
case, a shell or a path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iamkit import playbook as pb
from iamkit import triggers
from iamkit.errors import BadInput

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "findings"

# file -> (category, type, the fields read from it: ground truth written by hand from the file)
EXPECTED = {
    "guardduty-getfindings.json": (
        "guardduty",
        "UnauthorizedAccess:IAMUser/MaliciousIPCaller",
        {
            "access_key_id": "AKIAIOSFODNN7EXAMPLE",
            "principal_arn": "arn:aws:iam::111122223333:user/dana.kowalski",
            "user_name": "dana.kowalski",
            "account_id": "111122223333",
            "region": "us-east-1",
            "source_ip": "203.0.113.30",
            "first_seen": "2026-12-05T08:37:42Z",
            "last_seen": "2026-12-05T09:19:34Z",
        },
    ),
    "guardduty-eventbridge.json": (
        "guardduty",
        "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
        {
            "access_key_id": "ASIAIOSFODNN7EXAMPLE",
            "role_arn": "arn:aws:iam::111122223333:role/app-ec2-role",
            "user_name": "app-ec2-role",
            "account_id": "111122223333",
            "region": "us-east-1",
            "source_ip": "198.51.100.7",
            "first_seen": "2026-12-05T10:02:00Z",
            "last_seen": "2026-12-05T10:05:00Z",
        },
    ),
    "detection-row.json": (
        "detections",
        "iamkit-assume-role-new-source-ip",
        {
            "access_key_id": "AKIAIOSFODNN7EXAMPLE",
            "principal_arn": "arn:aws:iam::111122223333:user/dana.kowalski",
            "first_seen": "2026-12-05T09:08:43Z",
            "last_seen": "2026-12-05T09:08:43Z",
        },
    ),
    "detection-ocsf.json": (
        "detections",
        "iamkit-assume-role-new-source-ip",
        {
            "access_key_id": "AKIAIOSFODNN7EXAMPLE",
            "principal_arn": "arn:aws:iam::111122223333:user/dana.kowalski",
            "source_ip": "203.0.113.30",
            "account_id": "111122223333",
            "region": "us-east-1",
            "first_seen": "2026-12-05T09:08:43Z",
            "last_seen": "2026-12-05T09:08:43Z",
        },
    ),
    "eventbridge-cloudtrail.json": (
        "cloudtrail",
        "iam.amazonaws.com:CreateAccessKey",
        {
            "access_key_id": "AKIAIOSFODNN7EXAMPLE",
            "principal_arn": "arn:aws:iam::111122223333:user/dana.kowalski",
            "account_id": "111122223333",
            "region": "us-east-1",
            "source_ip": "203.0.113.30",
            "first_seen": "2026-12-05T08:52:10Z",
            "last_seen": "2026-12-05T08:52:10Z",
        },
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_shapes_are_read_field_by_field(name):
    f = triggers.read(FIXTURES / name)
    category, kind, fields = EXPECTED[name]
    assert (f.category, f.type, f.fields, f.rejected) == (category, kind, fields, {})


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_shape_starts_the_compromised_key_playbook_with_its_key(name):
    f = triggers.read(FIXTURES / name)
    chosen = triggers.choose(f)
    assert chosen.id == "compromised-access-key"
    params = triggers.parameters(f, chosen)
    assert params == {"access_key_id": EXPECTED[name][2]["access_key_id"]}
    assert chosen.resolve(params)["access_key_id"] == params["access_key_id"]


def test_a_finding_type_no_playbook_names_is_refused(tmp_path):
    doc = json.loads((FIXTURES / "guardduty-getfindings.json").read_text())
    doc["Findings"][0]["Type"] = "Recon:EC2/PortProbeUnprotectedPort"
    p = tmp_path / "f.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(BadInput, match="no playbook is triggered by .*Recon:EC2/PortProbeUnprotectedPort"):
        triggers.choose(triggers.read(p))


@pytest.mark.parametrize(
    "doc,match",
    [
        ({"hello": "world"}, "not a finding iamkit recognises .*keys hello"),
        ([1, 2], "not a finding iamkit recognises"),
        (
            {
                "version": "0",
                "detail-type": "EC2 Instance State-change Notification",
                "source": "aws.ec2",
                "detail": {},
            },
            "detail-type 'EC2 Instance State-change Notification' is not a trigger",
        ),
        ({"Findings": []}, "holds 0 GuardDuty findings"),
        ([{"detection_id": "a"}, {"detection_id": "b"}], "holds 2 detection rows"),
        ({"detection_id": "x; rm -rf /"}, "detection_id.*not a finding type"),
    ],
)
def test_unrecognised_input_names_what_was_not_recognised(tmp_path, doc, match):
    p = tmp_path / "f.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(BadInput, match=match):
        triggers.read(p)


@pytest.mark.parametrize(
    "value",
    ["$(touch /tmp/pwned)", "AKIA../../etc/passwd", "AKIAIOSFODNN7EXAMPLE\n--x", "'; import os; os.system('id') #"],
)
def test_a_crafted_key_is_refused_naming_the_field(tmp_path, value):
    doc = json.loads((FIXTURES / "detection-row.json").read_text())
    doc[0]["access_key_id"] = value
    p = tmp_path / "f.json"
    p.write_text(json.dumps(doc))
    f = triggers.read(p)
    assert "access_key_id" not in f.fields
    with pytest.raises(BadInput, match="finding field access_key_id: .* is not an access key id"):
        triggers.parameters(f, triggers.choose(f))


def test_a_trigger_may_not_fill_an_unchecked_parameter(tmp_path):
    """trail_source is a path or URL: a finding may never set it."""
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {"tags": ["parameters"]},
                "outputs": [],
                "execution_count": None,
                "source": 'trail_source = ""\ncase_dir = ""',
            }
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (tmp_path / "nb.ipynb").write_text(json.dumps(nb))
    (tmp_path / "p.yml").write_text(
        "id: t\ntitle: T\ndescription: d\ntriggers:\n  map: {trail_source: source_ip}\nparameters:\n"
        "  - {name: trail_source, type: string, help: h}\nsteps:\n  - notebook: nb.ipynb\n"
    )
    with pytest.raises(BadInput, match="may only fill a parameter with a pattern"):
        pb.load(tmp_path / "p.yml")
    (tmp_path / "p.yml").write_text(
        (tmp_path / "p.yml").read_text().replace("trail_source: source_ip", "nope: source_ip")
    )
    with pytest.raises(BadInput, match="names parameter nope"):
        pb.load(tmp_path / "p.yml")


@pytest.mark.parametrize(
    "value,ok",
    [
        ("2026-12-05T09:08:43Z", "2026-12-05T09:08:43Z"),
        (1764925723000, "2025-12-05T09:08:43Z"),
        ("3d", None),
        ("2026-13-45T00:00:00Z", None),
        (True, None),
        ("x" * 100, None),
    ],
)
def test_finding_times(value, ok):
    if ok is None:
        with pytest.raises(BadInput, match="is not an ISO-8601 time"):
            triggers.check("first_seen", value)
    else:
        assert triggers.check("first_seen", value) == ok


def test_the_trigger_record_keeps_the_finding_without_secrets(tmp_path):
    doc = json.loads((FIXTURES / "eventbridge-cloudtrail.json").read_text())
    doc["detail"]["responseElements"]["credentials"] = {
        "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLETOKEN",
        "accessKeyId": "ASIAIOSFODNN7EXAMPLE",
    }
    p = tmp_path / "f.json"
    p.write_text(json.dumps(doc))
    f = triggers.read(p)
    rec = triggers.record(f, {"access_key_id": "AKIAIOSFODNN7EXAMPLE"}, p)
    text = json.dumps(rec)
    assert "IQoJb3JpZ2luX2VjEXAMPLETOKEN" not in text and rec["type"] == "iam.amazonaws.com:CreateAccessKey"
    assert rec["parameters"] == {"access_key_id": "AKIAIOSFODNN7EXAMPLE"}


def test_cli_from_finding_maps_then_stops_at_the_endpoint(cli, closed_endpoints, tmp_path):
    """The finding is read, the playbook picked and its parameter accepted: the run gets as far as the caller
    identity (a closed endpoint here), so no case is made."""
    code, err = cli(
        ["run", "--from-finding", str(FIXTURES / "guardduty-eventbridge.json"), "--case", str(tmp_path / "c")]
    )
    assert code == 2 and "cannot reach" in err
    assert not (tmp_path / "c").exists()


def test_cli_from_finding_refuses_a_crafted_finding_before_anything(cli, closed_endpoints, tmp_path):
    doc = json.loads((FIXTURES / "guardduty-getfindings.json").read_text())
    doc["Findings"][0]["Resource"]["AccessKeyDetails"]["AccessKeyId"] = "AKIA$(reboot)"
    p = tmp_path / "f.json"
    p.write_text(json.dumps(doc))
    code, err = cli(["run", "--from-finding", str(p), "--case", str(tmp_path / "c")])
    assert code == 2 and "finding field access_key_id" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "c").exists()


def test_cli_from_finding_unknown_shape_exits_2(cli, closed_endpoints, tmp_path):
    p = tmp_path / "f.json"
    p.write_text('{"alert": "something"}')
    code, err = cli(["run", "--from-finding", str(p)])
    assert code == 2 and "not a finding iamkit recognises" in err


def test_cli_run_needs_a_playbook_or_a_finding(cli, closed_endpoints):
    code, err = cli(["run"])
    assert code == 2 and "name a playbook" in err


def test_a_triggered_run_keeps_its_finding_in_the_case(sandbox, tmp_path):
    """On the sandbox: a finding starts a (tiny) playbook of a user folder, its key becomes the parameter the
    notebook sees, and the case keeps the finding as evidence/trigger.json (verified with the rest)."""
    import subprocess
    import sys

    from iamkit.case import Case

    folder = tmp_path / "playbooks"
    folder.mkdir()
    nb = {
        "cells": [
            {
                "id": "p",
                "cell_type": "code",
                "metadata": {"tags": ["parameters"]},
                "outputs": [],
                "execution_count": None,
                "source": 'access_key_id = ""\ncase_dir = ""',
            },
            {
                "id": "c",
                "cell_type": "code",
                "metadata": {},
                "outputs": [],
                "execution_count": None,
                "source": "print('investigating', access_key_id)",
            },
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (folder / "nb.ipynb").write_text(json.dumps(nb))
    (folder / "triggered-check.yml").write_text(
        "id: triggered-check\ntitle: T\ndescription: d\ntriggers:\n  guardduty: ['Test:IAMUser/Triggered*']\n"
        "parameters:\n  - {name: access_key_id, type: string, required: true, pattern: '(AKIA|ASIA)[A-Z0-9]{16}', "
        "help: k}\nsteps:\n  - notebook: nb.ipynb\n"
    )
    doc = json.loads((FIXTURES / "guardduty-getfindings.json").read_text())
    key = sandbox.org.incident.leaked_access_key_id
    doc["Findings"][0]["Type"] = "Test:IAMUser/TriggeredByTest"
    doc["Findings"][0]["Resource"]["AccessKeyDetails"]["AccessKeyId"] = key
    finding = tmp_path / "finding.json"
    finding.write_text(json.dumps(doc))
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "iamkit.cli",
            "run",
            "--from-finding",
            str(finding),
            "--playbooks",
            str(folder),
            "--case",
            str(tmp_path / "case"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    out = r.stdout
    assert r.returncode == 0, r.stderr
    assert "triggered-check.yml" in out and f"access_key_id={key}" in out
    case = Case.open(tmp_path / "case")
    assert case.meta["parameters"] == {"access_key_id": key} and case.verify() == []
    rec = json.loads((case.evidence / "trigger.json").read_text())
    assert rec["type"] == "Test:IAMUser/TriggeredByTest" and rec["parameters"] == {"access_key_id": key}
    assert rec["finding"]["Resource"]["AccessKeyDetails"]["AccessKeyId"] == key
    executed = json.loads((case.path / "notebooks" / "nb.ipynb").read_text())
    assert f"investigating {key}" in json.dumps(executed["cells"][-1]["outputs"])


def test_a_detection_two_playbooks_name_starts_the_one_it_can_fill(tmp_path):
    """iamkit-assume-role-new-source-ip triggers both the key and the role-session playbooks: a detection row
    that carries a key starts the key's playbook; one that carries nothing either needs stays ambiguous."""
    both = {p.id for _, p in triggers.candidates(triggers.read(FIXTURES / "detection-row.json"))}
    assert {"compromised-access-key", "suspicious-role-session"} <= both
    assert triggers.choose(triggers.read(FIXTURES / "detection-row.json")).id == "compromised-access-key"
    doc = json.loads((FIXTURES / "detection-row.json").read_text())
    rows = doc if isinstance(doc, list) else [doc]
    for row in rows:
        row.pop("access_key_id", None)
    p = tmp_path / "no-key.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(BadInput, match="triggers .*compromised-access-key.*suspicious-role-session.*name the one"):
        triggers.choose(triggers.read(p))
