"""`iamkit trail hunt --format ocsf`: OCSF 1.1 Detection Findings with the rules' ATT&CK mapping, checked
against the schema iamkit ships and against the detections they come from; `--format` lists only what
each trail command writes, anything else is exit 2."""

from __future__ import annotations

import json

import duckdb
import jsonschema
import pandas as pd
import pytest
import rulecases

from iamkit.cli import main
from iamkit.trail import Trail, store
from iamkit.trail.detect import ocsf
from iamkit.trail.detect.synth import at, record, session, user


def run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(["trail", *argv])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("ocsf") / "t.duckdb"
    recs, _ = rulecases.expand(rulecases.load("iamkit-instance-credentials-elsewhere")["positive"], "ice")
    recs += [
        record(
            "ScheduleKeyDeletion",
            "kms.amazonaws.com",
            session("ops", "eve", "ASIAEVE0000000000001"),
            at(60),
            rp={"keyId": "k"},
            event_id="kms-1",
        ),
        record(
            "StopLogging",
            "cloudtrail.amazonaws.com",
            user("mallory", "AKIAMALLORY000000001"),
            at(61),
            rp={"name": "t"},
            event_id="stop-1",
        ),
    ]
    con = duckdb.connect(str(path))
    store.insert_records(con, recs)
    con.close()
    return path


def test_hunt_writes_valid_ocsf_detection_findings(capsys, db, tmp_path):
    code, out, err = run(capsys, "hunt", "--db", str(db), "--format", "ocsf")
    assert code == 0, err
    events = json.loads(out)
    ocsf.validate(events)
    with Trail(duckdb.connect(str(db), read_only=True)) as t:
        det = t.hunt().detections
    assert len(events) == len(det) >= 3
    by_rule = {e["finding_info"]["analytic"]["uid"]: e for e in events}
    kms = by_rule["iamkit-kms-key-deletion"]
    assert (kms["class_uid"], kms["category_uid"], kms["type_uid"]) == (2004, 2, 200401)
    assert kms["severity_id"] == 4 and kms["severity"] == "High"
    assert kms["metadata"]["product"]["name"] == "iamkit" and kms["metadata"]["product"]["version"]
    assert kms["cloud"] == {"provider": "AWS", "account": {"uid": "111111111111", "type": "AWS Account", "type_id": 10}}
    assert (
        kms["attacks"]
        == kms["finding_info"]["attacks"]
        == [
            {
                "version": "v15",
                "technique": {"uid": "T1485", "name": "Data Destruction"},
                "tactic": {"uid": "TA0040", "name": "Impact"},
                "tactics": [{"uid": "TA0040", "name": "Impact"}],
            }
        ]
    )
    assert kms["evidences"][0] == {
        "actor": {
            "user": {"uid": "arn:aws:sts::111111111111:assumed-role/ops/eve", "credential_uid": "ASIAEVE0000000000001"}
        },
        "data": {"event_ids": ["kms-1"]},
    }
    assert {(o["type"], o["value"]) for o in kms["observables"]} == {
        ("Resource UID", "arn:aws:sts::111111111111:assumed-role/ops/eve"),
        ("AWS Access Key ID", "ASIAEVE0000000000001"),
        ("CloudTrail eventID", "kms-1"),
    }
    assert kms["finding_info"]["first_seen_time"] == kms["time"] == 1767225600000 + 60 * 60000  # 2026-01-01 01:00Z
    ice = by_rule["iamkit-instance-credentials-elsewhere"]["attacks"][0]
    assert ice["technique"] == {"uid": "T1552", "name": "Unsecured Credentials"}
    assert ice["sub_technique"] == {"uid": "T1552.005", "name": "Unsecured Credentials: Cloud Instance Metadata API"}
    # a Sigma-format rule's technique comes from its attack.tNNNN tag
    assert by_rule["iamkit-logging-stopped"]["attacks"][0]["sub_technique"]["uid"] == "T1562.008"
    again = json.loads(
        run(capsys, "hunt", "--db", str(db), "--format", "ocsf", "--out", str(tmp_path / "o.json"))[1]
        or (tmp_path / "o.json").read_text()
    )
    assert [e["finding_info"]["uid"] for e in again] == [e["finding_info"]["uid"] for e in events]  # stable ids


def test_schema_refuses_what_ocsf_does_not_say():
    good = ocsf.to_ocsf(
        pd.DataFrame(
            [
                {
                    "detection_id": "x",
                    "severity": "low",
                    "title": "t",
                    "event_ids": ["e"],
                    "principal_arn": None,
                    "access_key_id": None,
                    "first_seen": None,
                    "last_seen": None,
                    "summary": "s",
                }
            ]
        )
    )
    ocsf.validate(good)
    for bad in (
        {**good[0], "class_uid": 2003},
        {**good[0], "severity_id": 9},
        {**good[0], "surprise": 1},
        {**good[0], "attacks": [{"technique": {"uid": "1485", "name": "x"}}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            ocsf.validate([bad])


@pytest.mark.parametrize(
    "cmd",
    [
        ["hunt"],
        ["sql", "SELECT 1"],
        ["load"],
        ["trace", "AKIAEXAMPLE000000001"],
        ["timeline", "AKIAEXAMPLE000000001"],
        ["athena-query", "SELECT 1", "--database", "d"],
    ],
    ids=lambda c: c[0],
)
def test_format_help_lists_only_what_the_command_writes(capsys, monkeypatch, cmd):
    monkeypatch.setenv("COLUMNS", "200")  # one help line per option
    code, out, _ = run(capsys, cmd[0], "--help")
    assert code == 0
    assert ("ocsf" in out) == (cmd[0] == "hunt")
    assert "table|json|csv|parquet" in out


def test_unsupported_format_is_exit_2(capsys, db):
    code, _, err = run(capsys, "sql", "SELECT 1", "--db", str(db), "--format", "ocsf")
    assert code == 2 and "--format ocsf" in err and "table|json|csv|parquet" in err
    code, _, err = run(capsys, "hunt", "--dialect", "trino", "--format", "ocsf")
    assert code == 2 and "--format ocsf" in err
    code, _, err = run(capsys, "hunt", "--db", str(db), "--format", "yaml")
    assert code == 2
