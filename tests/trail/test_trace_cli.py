"""The `iamkit trail` commands end to end on a local store (load, sql, trace, timeline, athena-ddl)."""

from __future__ import annotations

import json

import pytest
import sqlglot
from ctrecords import LEAKED, NEW_KEY, SECRET, SESSION_ARN, incident_records, write_records_file

from iamkit.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(list(argv))
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


@pytest.fixture
def db(tmp_path, capsys):
    write_records_file(tmp_path / "in" / "a.json.gz", incident_records())
    path = tmp_path / "t.duckdb"
    code, out, _ = run(capsys, "trail", "load", str(tmp_path / "in"), "--db", str(path), "--format", "json")
    assert code == 0
    assert json.loads(out)[0]["events_inserted"] == 32
    return path


def test_load_again_skips_and_reports_bad_files(tmp_path, capsys, db):
    (tmp_path / "in" / "bad.json").write_text("{nope")
    code, out, err = run(capsys, "trail", "load", str(tmp_path / "in"), "--db", str(db), "--format", "json")
    row = json.loads(out)[0]
    assert code == 0 and (row["files_skipped"], row["files_failed"], row["events_inserted"]) == (1, 1, 0)
    assert "bad.json" in err and "invalid JSON" in err


def test_trace_summary_events_and_nodes(capsys, db):
    code, out, err = run(capsys, "trail", "trace", LEAKED, "--db", str(db), "--show", "summary", "--format", "json")
    s = json.loads(out)
    assert code == 0 and "origin: iam_user" in err
    assert s["secrets_read"] == [SECRET] and s["cross_account_sessions"] == [SESSION_ARN]
    code, out, _ = run(capsys, "trail", "trace", LEAKED, "--db", str(db), "--format", "json")
    assert {"GetSecretValue", "GetObject", "AttachUserPolicy"} <= {r["event_name"] for r in json.loads(out)}
    code, out, _ = run(capsys, "trail", "trace", LEAKED, "--db", str(db), "--show", "nodes", "--format", "csv")
    assert NEW_KEY in out


def test_sql_timeline_and_errors(capsys, db, tmp_path):
    code, out, _ = run(capsys, "trail", "sql", "SELECT count(*) AS n FROM events", "--db", str(db), "--format", "json")
    assert json.loads(out) == [{"n": 32}]
    code, out, _ = run(
        capsys, "trail", "sql", "SELECT count(*) AS n FROM events", "--db", str(db), "--cache", "--format", "json"
    )
    assert json.loads(out) == [{"n": 32}] and db.with_suffix(".events.parquet").exists()
    code, out, _ = run(capsys, "trail", "timeline", "dev-alice", "--db", str(db), "--format", "json")
    assert [r["event_name"] for r in json.loads(out)][:2] == ["GetCallerIdentity", "ListUsers"]
    assert run(capsys, "trail", "trace", "AKIANEVERSEENKEY0001", "--db", str(db))[0] == 2
    assert run(capsys, "trail", "sql", "SELECT nope", "--db", str(db))[0] == 2
    code, _, err = run(capsys, "trail", "sql", "SELECT 1", "--db", str(tmp_path / "missing.duckdb"))
    assert code == 2 and "no such trail database" in err
    assert not (tmp_path / "missing.duckdb").exists()


def test_athena_ddl_command(capsys):
    code, out, _ = run(
        capsys,
        "trail",
        "athena-ddl",
        "--location",
        "s3://logs/AWSLogs/o-abc1234567/",
        "--regions",
        "us-east-1,eu-west-1",
        "--accounts",
        "111111111111,222222222222",
    )
    assert code == 0 and "'projection.region.values'='us-east-1,eu-west-1'" in out
    assert "'projection.account.values'='111111111111,222222222222'" in out
    table, view = (s for s in sqlglot.parse(out, read="athena") if s is not None)
    assert isinstance(table, sqlglot.exp.Create) and "CREATE OR REPLACE VIEW default.events" in out


def test_athena_ddl_without_accounts_says_why(capsys):
    code, out, err = run(capsys, "trail", "athena-ddl", "--location", "s3://logs/AWSLogs/o-abc1234567/")
    assert code == 2 and not out and "--accounts" in err and "--org" in err and "--injected" in err
    code, out, _ = run(capsys, "trail", "athena-ddl", "--injected")
    assert code == 0 and "'projection.account.type'='injected'" in out


def test_trace_of_a_session_key_prints_its_origin(capsys, tmp_path):
    from ctrecords import ALICE, DEV, PROD, PROD_ROLE, SESSION_KEY, iam_user, rec, role_session

    alice = iam_user(ALICE, LEAKED)
    re = {"credentials": {"accessKeyId": SESSION_KEY}, "assumedRoleUser": {"arn": SESSION_ARN}}
    rp = {"roleArn": PROD_ROLE, "roleSessionName": "maint"}
    records = [  # CloudTrail's two copies of a cross-account AssumeRole, the role account's first
        rec(
            "AssumeRole",
            "sts.amazonaws.com",
            {"type": "AWSAccount", "principalId": alice["principalId"], "accountId": DEV},
            "2024-03-01T10:00:00Z",
            account=PROD,
            rp=rp,
            re=re,
        ),
        rec("AssumeRole", "sts.amazonaws.com", alice, "2024-03-01T10:00:00Z", rp=rp, re=re),
        rec(
            "GetSecretValue",
            "secretsmanager.amazonaws.com",
            role_session(SESSION_ARN, PROD_ROLE, SESSION_KEY),
            "2024-03-01T10:10:00Z",
            account=PROD,
            rp={"secretId": SECRET},
        ),
    ]
    write_records_file(tmp_path / "in" / "a.json.gz", records)
    db = tmp_path / "t.duckdb"
    assert run(capsys, "trail", "load", str(tmp_path / "in"), "--db", str(db))[0] == 0
    code, _, err = run(capsys, "trail", "trace", SESSION_KEY, "--db", str(db), "--show", "nodes")
    assert code == 0 and f"origin: iam_user {ALICE} (chain: {LEAKED} -> {SESSION_KEY})" in err
