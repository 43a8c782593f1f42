"""The compromised-entra-user scenario is one story on both sides: the fake Entra's risky sign-in that succeeded
(attacker IP, high risk, its country) comes just before the Identity Center login CloudTrail records from the same
IP, and the AWSReservedSSO session it opened is the one the answer key names, with the calls the scenario planned."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

pytestmark = [pytest.mark.sandbox, pytest.mark.xdist_group("entra_user_scenario")]
SEED = 87


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    import iamkit.sandbox

    sb = iamkit.sandbox.start(
        scenario="compromised-entra-user",
        seed=SEED,
        roles_per_account=25,
        benign_events=300,
        entra=True,
        workdir=tmp_path_factory.mktemp("sandbox-entra-user"),
    )
    yield sb
    sb.stop()


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_answer_key_follows_the_records(sb):
    from iamkit.investigate import facts as F
    from iamkit.sandbox import trailgen

    keys = json.loads(sb.manifest_path.read_text())["answer_keys"]
    assert len(keys) == 1
    key = keys[0]
    F.validate(key)
    inc = sb.org.incident
    person = next(p for p in sb.org.people if p.upn == inc.details["upn"])
    assert key["subject"] == {"kind": "person", "id": person.upn, "account_id": None}
    assert "AWS-Admins" in person.groups and not person.iam_users
    every = trailgen.scenario_records(sb.org, days=14, end=sb.now, seed=sb.org.seed)
    recs = [r for _t, k, r, _o in every if k == "incident"]
    usual = [r for _t, k, r, _o in every if k == "normal"]  # the person's own visit the day before, from home
    assert [r["eventName"] for r in usual[:3]] == ["Authenticate", "Federate", "AssumeRoleWithSAML"]
    assert inc.attacker_ip not in {r["sourceIPAddress"] for r in usual}
    assert {r["userIdentity"].get("arn") for r in usual[3:]} == {r["userIdentity"]["arn"] for r in recs[3:]}
    assert [r["eventName"] for r in recs] == [
        "Authenticate",
        "Federate",
        "AssumeRoleWithSAML",
        "GetCallerIdentity",
        "ListUsers",
        "ListBuckets",
        "GetSecretValue",
    ]
    assert {r["sourceIPAddress"] for r in recs} == {inc.attacker_ip}
    assert recs[0]["userIdentity"]["onBehalfOf"]["userId"] == person.identity_center_user_id
    assert recs[1]["requestParameters"] == {"accountId": inc.account_id, "roleName": "AdministratorAccess"}
    opened = recs[2]
    assert opened["requestParameters"]["roleArn"] == inc.target_role_arn
    session_key = opened["responseElements"]["credentials"]["accessKeyId"]
    p = key["person"]
    assert p["role_sessions"] == [
        {
            "role_arn": inc.target_role_arn,
            "session_name": person.upn,
            "access_key_id": session_key,
            "source_ip": inc.attacker_ip,
        }
    ]
    assert [c["event_name"] for c in p["calls"]] == ["GetCallerIdentity", "ListUsers", "ListBuckets", "GetSecretValue"]
    assert {r["userIdentity"]["accessKeyId"] for r in recs[3:]} == {session_key}
    assert {r["userIdentity"]["arn"] for r in recs[3:]} == {
        f"arn:aws:sts::{inc.account_id}:assumed-role/{inc.target_role_arn.rsplit('/', 1)[1]}/{person.upn}"
    }
    assignment = next(
        a
        for a in sb.org.assignments
        if a.permission_set_arn == inc.details["permission_set_arn"]
        and a.account_id == inc.account_id
        and a.principal_name == "AWS-Admins"
    )
    assert {c["kind"]: c["target"] for c in key["containment"]} == {
        "revoke_entra_sessions": person.upn,
        "disable_entra_user": person.upn,
        "remove_account_assignment": assignment.permission_set_arn,
        "revoke_role_sessions": inc.target_role_arn,
    }


def test_entra_shows_the_risky_signin_just_before_the_aws_login(sb, monkeypatch):
    from iamkit import entra
    from iamkit.entra.queries import person

    inc = sb.org.incident
    for k, v in sb.env().items():
        monkeypatch.setenv(k, v)
    ep = person(entra.connect(), inc.details["upn"], since="14d")
    from_attacker = ep.signins[ep.signins["ip_address"] == inc.attacker_ip]
    ok = from_attacker[from_attacker["success"].astype(bool)]
    assert len(ok) == 1 and len(from_attacker) == 4  # three failed attempts, then the one that got in
    row = ok.iloc[0]
    assert (row["risk_level"], row["country"]) == ("high", "NL")
    login = _t(inc.details["times"]["authenticate"])
    assert 0 < (login - row["created"].to_pydatetime()).total_seconds() <= 120
    # the person's other sign-ins are from home, none risky; the attacker's AWS login is not repeated as a benign one
    rest = ep.signins[ep.signins["ip_address"] != inc.attacker_ip]
    assert len(rest) and set(rest["risk_level"]) == {"none"}
    assert set(ep.risk_detections["ip_address"]) == {inc.attacker_ip}
    # the answer key's risky sign-ins are the ones Graph serves
    key = json.loads(sb.manifest_path.read_text())["answer_keys"][0]
    served = [
        {"time": r["created"].strftime("%Y-%m-%dT%H:%M:%SZ"), "ok": bool(r["success"])}
        for _, r in from_attacker.sort_values("created").iterrows()
    ]
    assert served == [{"time": s["time"], "ok": s["succeeded"]} for s in key["person"]["risky_signins"]]
