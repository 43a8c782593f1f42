"""`iamkit entra user|signins` and `iamkit correlate` against the fake Entra and moto."""

from __future__ import annotations

import json

import pytest
from entra_helpers import ALICE, trail_records

pytestmark = pytest.mark.sandbox


def run(capsys, *argv: str) -> tuple[int, str, str]:
    from iamkit.cli import main

    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out, err = capsys.readouterr()
    return exc.value.code, out, err


@pytest.fixture(autouse=True)
def _clock(injected_connect):
    """Every command here paces on the injected clock the fake's rate limits also run on."""


@pytest.fixture
def trail_db(fake, aws_env, tmp_path):
    from iamkit.trail import store

    path = tmp_path / "trail.duckdb"
    con = store.connect(path)
    store.insert_records(con, trail_records(fake, aws_env["users"][ALICE]))
    con.close()
    return path


def test_entra_user_json(capsys, entra_env):
    code, out, _ = run(capsys, "entra", "user", ALICE, "--format", "json")
    rows = json.loads(out)
    assert code == 0 and [r["user_principal_name"] for r in rows] == [ALICE]
    assert rows[0]["last_sign_in"].startswith("2026-11-28")


def test_entra_user_unknown_is_exit_2(capsys, entra_env):
    code, _, err = run(capsys, "entra", "user", "nobody@corp.example")
    assert code == 2 and "not found in Entra" in err


def test_entra_signins_since_csv(capsys, entra_env, tmp_path):
    out_file = tmp_path / "s.csv"
    code, _, _ = run(
        capsys, "entra", "signins", ALICE, "--since", "2026-11-28T09:00:00Z", "--format", "csv", "--out", str(out_file)
    )
    import pandas as pd

    df = pd.read_csv(out_file)
    assert code == 0 and set(df["ip_address"]) == {"203.0.113.66"} and (df["status_code"] != 0).all()


def test_entra_signins_bad_since_is_exit_2(capsys, entra_env):
    code, _, err = run(capsys, "entra", "signins", ALICE, "--since", "last tuesday")
    assert code == 2 and "--since" in err


def test_correlate_json_has_every_part(capsys, aws_env, trail_db):
    code, out, _ = run(
        capsys, "correlate", ALICE, "--db", str(trail_db), "--since", "2026-11-15", "--format", "json", "--beta"
    )
    doc = json.loads(out)
    assert code == 0
    assert doc["summary"]["display_name"] == "Alice Ames" and doc["skipped"] == {}
    assert doc["summary"]["mfa_registered"] is True and doc["summary"]["mfa_at_signin"] == "yes"
    assert {s["api_version"] for s in doc["signins"]} == {"beta"}
    assert {s["kind"] for s in doc["sessions"]} == {"saml", "identity_center", "role_session", "iam_user"}
    assert any(r["agreement"] and r["agreement"].startswith("NO") for r in doc["timeline"])
    assert any(r["role_name"].startswith("AWSReservedSSO_AdministratorAccess_") for r in doc["roles"])


def test_correlate_v1_says_what_only_beta_has(capsys, aws_env, trail_db):
    code, out, _ = run(
        capsys, "correlate", ALICE, "--db", str(trail_db), "--since", "2026-11-15", "--format", "json", "--no-aws"
    )
    doc = json.loads(out)
    assert code == 0 and "only in Graph beta" in doc["skipped"]["signins_beta"]
    assert {s["api_version"] for s in doc["signins"]} == {"v1.0"} and {s["event_type"] for s in doc["signins"]} == {
        "interactiveUser"
    }
    assert doc["summary"]["mfa_at_signin"] == "yes"  # alice's v1.0 sign-ins name the MFA they passed


def test_correlate_table_prints_skipped_lines(capsys, aws_env, trail_db, fake):
    fake.licence = "free"
    code, out, _ = run(capsys, "correlate", ALICE, "--db", str(trail_db), "--since", "2026-11-15")
    assert code == 0 and "skipped signins: needs Entra ID P1" in out and "AWSReservedSSO_" in out


def test_correlate_one_part_as_csv(capsys, aws_env, trail_db):
    code, out, _ = run(
        capsys,
        "correlate",
        ALICE,
        "--db",
        str(trail_db),
        "--since",
        "2026-11-15",
        "--part",
        "roles",
        "--format",
        "csv",
        "--no-entra",
    )
    assert code == 0 and out.splitlines()[0].startswith("account_id,permission_set,role_name")


def test_correlate_bad_part_and_missing_db_are_exit_2(capsys, aws_env, tmp_path):
    assert run(capsys, "correlate", ALICE, "--part", "nonsense")[0] == 2
    assert run(capsys, "correlate", ALICE, "--db", str(tmp_path / "missing.duckdb"))[0] == 2
