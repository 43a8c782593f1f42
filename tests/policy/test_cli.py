"""`iamkit policy eval|who-can|what-can|validate` through the real command line entry point."""

from __future__ import annotations

import json

import pytest
from policytest import ACCT_A, USER, doc, make_inventory, stmt

from iamkit.cli import main


def run(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    from iamkit.inventory import Inventory

    inv = make_inventory()
    path = tmp_path_factory.mktemp("snap")
    Inventory(
        principals=inv.principals,
        policies=inv.policies,
        resource_policies=inv.resource_policies,
        trusts=inv.trusts,
        accounts=inv.accounts,
        posture=inv.posture,
    ).save(path)
    return path


def test_eval_json(tmp_path, capsys):
    f = tmp_path / "req.json"
    f.write_text(
        json.dumps(
            {
                "request": {
                    "principal": USER,
                    "action": "s3:GetObject",
                    "resource": "arn:aws:s3:::b/k",
                    "time": "2026-01-01T00:00:00Z",
                },
                "identity_policies": [doc(stmt())],
                "scps": [[doc(stmt("Deny"))]],
            }
        )
    )
    code, out, _ = run(["policy", "eval", str(f), "--format", "json"], capsys)
    rows = json.loads(out)
    assert code == 0
    assert {r["result"] for r in rows} == {"ExplicitlyDenied"} and rows[0]["blocked_by"] == "scp"
    assert {r["policy_type"] for r in rows} == {"identity", "scp"}


def test_eval_flat_request_and_out_file(tmp_path, capsys):
    f = tmp_path / "req.json"
    f.write_text(
        json.dumps(
            {
                "principal": USER,
                "action": "s3:GetObject",
                "resource": "arn:aws:s3:::b/k",
                "identity_policies": [doc(stmt())],
            }
        )
    )
    out_file = tmp_path / "out.csv"
    code, _, _ = run(["policy", "eval", str(f), "--format", "csv", "--out", str(out_file)], capsys)
    assert code == 0 and "Allowed" in out_file.read_text()


@pytest.mark.parametrize(
    "content, words",
    [("{broken", "not valid JSON"), ('{"request": {"principal": "x", "action": "s3:GetObject"}}', "principal")],
)
def test_eval_bad_input_exits_2(tmp_path, capsys, content, words):
    f = tmp_path / "req.json"
    f.write_text(content)
    code, _, err = run(["policy", "eval", str(f)], capsys)
    assert code == 2 and words in err


def test_validate_and_fail_on(tmp_path, capsys):
    f = tmp_path / "p.json"
    f.write_text(json.dumps(doc(stmt(action="s3:GetObjekt"))))
    code, out, _ = run(["policy", "validate", str(f), "--format", "json"], capsys)
    assert code == 0 and "UNKNOWN_ACTION" in out
    code, _, _ = run(["policy", "validate", str(f), "--fail-on", "error", "--format", "csv"], capsys)
    assert code == 1
    g = tmp_path / "ok.json"
    g.write_text(json.dumps(doc(stmt())))
    code, _, _ = run(["policy", "validate", str(g), "--fail-on", "warning", "--format", "csv"], capsys)
    assert code == 0
    code, _, err = run(["policy", "validate", str(g), "--fail-on", "bogus"], capsys)
    assert code == 2


def test_who_can_and_what_can_on_a_snapshot(snapshot, capsys):
    code, out, _ = run(
        ["policy", "who-can", "iam:CreateUser", "*", "--snapshot", str(snapshot), "--format", "json"], capsys
    )
    assert code == 0
    assert [r["principal_arn"] for r in json.loads(out)] == ["arn:aws:iam::999988887777:user/root-admin"]
    code, out, _ = run(
        ["policy", "what-can", f"arn:aws:iam::{ACCT_A}:user/alice", "--snapshot", str(snapshot), "--format", "json"],
        capsys,
    )
    assert code == 0
    assert {r["action"] for r in json.loads(out)} == {"s3:GetObject", "s3:ListBucket"}


def test_who_can_missing_snapshot_exits_2(tmp_path, capsys):
    code, _, err = run(["policy", "who-can", "s3:GetObject", "*", "--snapshot", str(tmp_path / "none")], capsys)
    assert code == 2 and "snapshot" in err


def test_who_can_with_context_and_strict_mode(snapshot, capsys):
    argv = [
        "policy",
        "who-can",
        "s3:GetObject",
        "arn:aws:s3:::data/x",
        "--snapshot",
        str(snapshot),
        "--context",
        "aws:SecureTransport=false",
        "--format",
        "json",
    ]
    code, out, _ = run(argv, capsys)
    assert code == 0 and json.loads(out) == []  # the RCP denies insecure transport
    code, out, _ = run(argv[:-4] + ["--context", "aws:SecureTransport=true", "--format", "json"], capsys)
    assert code == 0 and {r["result"] for r in json.loads(out)} == {"Allowed"}
    code, _, err = run(argv[:-4] + ["--context", "novalue", "--format", "json"], capsys)
    assert code == 2 and "KEY=VALUE" in err
    code, _, err = run(argv[:-2] + ["--mode", "guess"], capsys)
    assert code == 2 and "mode" in err
