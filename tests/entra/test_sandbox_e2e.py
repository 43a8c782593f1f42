"""End to end in the shared sandbox: the incident's person, correlated across the fake Entra, Identity Center
on moto and the scenario's CloudTrail (generated in memory from the same ground truth)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from iamkit import entra
from iamkit.correlate import correlate
from iamkit.sandbox.entra_data import incident_person


@pytest.fixture(scope="module")
def scenario_trail(sandbox):
    import duckdb

    from iamkit.sandbox import trailgen
    from iamkit.trail import store

    con = duckdb.connect()
    store.insert_records(con, trailgen.generate(sandbox.org, benign_events=1000, seed=sandbox.org.seed))
    yield con
    con.close()


@pytest.mark.sandbox
def test_correlate_finds_the_incident_person_and_flags_the_attacker_session(sandbox, scenario_trail):
    org, inc = sandbox.org, sandbox.org.incident
    person = incident_person(org)
    assert person is not None and inc.user_arn in person.iam_users
    end = datetime.fromisoformat(inc.end.replace("Z", "+00:00"))
    view = correlate(person.upn, graph=entra.connect("client_secret"), aws_session=sandbox.session(),
                     trail=scenario_trail, since=end - timedelta(days=14))
    assert view.skipped == {} and len(view.errors) == 0, view.errors.to_dict("records")
    assert view.profile["id"].tolist() == [person.entra_object_id]
    assert view.identity_center_user["user_id"].tolist() == [person.identity_center_user_id]
    expected = {(a.account_id, a.permission_set) for a in org.assignments if a.principal_name in person.groups}
    assert {(a["account_id"], a["permission_set"]) for a in view.assignments.to_dict("records")} == expected
    reachable = {(r["account_id"], r["permission_set"]) for r in view.roles.to_dict("records") if r["permission_set"]}
    assert expected <= reachable
    attacker = view.timeline[(view.timeline["source"] == "aws") & (view.timeline["ip"] == inc.attacker_ip)]
    assert len(attacker) >= 1 and attacker["agreement"].str.startswith("NO").all()
    assert set(attacker["ip_seen_in_entra"]) == {"failed_only"}
    failed = view.signins[(view.signins["ip_address"] == inc.attacker_ip)]
    assert len(failed) >= 1 and not failed["success"].any()
    own = view.sessions[view.sessions["kind"] == "iam_user"]
    assert inc.user_arn in set(own["principal_arn"])
    assert view.summary()["risk"] == "high (atRisk)"


@pytest.mark.sandbox
def test_fake_seeded_with_the_trails_portal_signins_makes_sso_sessions_agree(sandbox, scenario_trail, tmp_path,
                                                                             monkeypatch):
    """``aws_signins`` (what the sandbox can pass to ``entra.start``) lines Entra up with the trail's SSO logins."""
    from iamkit.sandbox import entra as fake_entra
    from iamkit.sandbox import trailgen
    from iamkit.sandbox.entra_data import signins_from_trail

    org, inc = sandbox.org, sandbox.org.incident
    person = incident_person(org)
    wanted = signins_from_trail(org, trailgen.generate(org, benign_events=1000, seed=org.seed))
    assert any(w["upn"] == person.upn for w in wanted)
    fake = fake_entra.start(org, tmp_path / "entra", aws_signins=wanted)
    try:
        for k, v in fake.env().items():
            monkeypatch.setenv(k, v)
        end = datetime.fromisoformat(inc.end.replace("Z", "+00:00"))
        view = correlate(person.upn, graph=entra.connect("client_secret"), aws_session=sandbox.session(),
                         trail=scenario_trail, since=end - timedelta(days=14))
    finally:
        fake.stop()
    aws = view.timeline[view.timeline["source"] == "aws"]
    portal = aws[aws["kind"] == "identity_center"]
    assert len(portal) >= 1 and portal["agreement"].str.startswith("yes").all()
    assert aws[aws["ip"] == inc.attacker_ip]["agreement"].str.startswith("NO").all()
