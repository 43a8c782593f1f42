"""End to end in the shared sandbox: the incident's person, correlated across the fake Entra, Identity Center
on moto and the scenario's CloudTrail (generated in memory from the same ground truth)."""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta

import pytest

from iamkit import entra
from iamkit.correlate import correlate
from iamkit.sandbox.entra_data import incident_person


@pytest.fixture
def entra_clock(sandbox, clock):
    """The shared sandbox's fake Entra and the client on one injected clock (rate limits without real sleeps);
    its request log is emptied so a test reads only its own requests."""
    fake = sandbox._entra
    fake.use_clock(clock)
    fake.log.clear()
    try:
        yield clock
    finally:
        fake.use_clock(time.monotonic)


def _connect(clock, **kw):
    return entra.connect("client_secret", clock=clock, sleeper=clock.sleep, rng=random.Random(3), **kw)


@pytest.fixture(scope="module")
def scenario_trail(sandbox):
    import duckdb

    from iamkit.sandbox import trailgen
    from iamkit.trail import Trail, store

    con = duckdb.connect()
    store.insert_records(con, trailgen.generate(sandbox.org, benign_events=1000, seed=sandbox.org.seed))
    yield Trail(con)
    con.close()


@pytest.mark.sandbox
def test_correlate_finds_the_incident_person_and_flags_the_attacker_session(sandbox, scenario_trail, entra_clock):
    org, inc = sandbox.org, sandbox.org.incident
    person = incident_person(org)
    assert person is not None and inc.user_arn in person.iam_users
    end = datetime.fromisoformat(inc.end.replace("Z", "+00:00"))
    view = correlate(
        person.upn,
        graph=_connect(entra_clock, beta=True),
        aws_session=sandbox.session(),
        trail=scenario_trail,
        since=end - timedelta(days=14),
    )
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
def test_fake_seeded_with_the_trails_portal_signins_makes_sso_sessions_agree(
    sandbox, scenario_trail, tmp_path, monkeypatch, clock
):
    """``aws_signins`` (what the sandbox can pass to ``entra.start``) lines Entra up with the trail's SSO logins."""
    from iamkit.sandbox import entra as fake_entra
    from iamkit.sandbox import trailgen
    from iamkit.sandbox.entra_data import signins_from_trail

    org, inc = sandbox.org, sandbox.org.incident
    person = incident_person(org)
    wanted = signins_from_trail(org, trailgen.generate(org, benign_events=1000, seed=org.seed))
    assert any(w["upn"] == person.upn for w in wanted)
    fake = fake_entra.start(org, tmp_path / "entra", aws_signins=wanted)
    fake.use_clock(clock)
    try:
        for k, v in fake.env().items():
            monkeypatch.setenv(k, v)
        end = datetime.fromisoformat(inc.end.replace("Z", "+00:00"))
        view = correlate(
            person.upn,
            graph=_connect(clock),
            aws_session=sandbox.session(),
            trail=scenario_trail,
            since=end - timedelta(days=14),
        )
    finally:
        fake.stop()
    aws = view.timeline[view.timeline["source"] == "aws"]
    portal = aws[aws["kind"] == "identity_center"]
    assert len(portal) >= 1 and portal["agreement"].str.startswith("yes").all()
    assert aws[aws["ip"] == inc.attacker_ip]["agreement"].str.startswith("NO").all()


def _cli_json(capsys, *argv: str) -> dict:
    import json

    from iamkit.cli import main

    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out, err = capsys.readouterr()
    assert exc.value.code == 0, err
    return json.loads(out)


@pytest.mark.sandbox
@pytest.mark.parametrize("beta", [False, True])
def test_iamkit_correlate_gives_every_seeded_persons_mfa(sandbox, entra_clock, injected_connect, capsys, beta):
    """`iamkit correlate UPN` for each person the sandbox seeded, against entra_data's ground truth: who has a
    strong method registered, and whether their successful sign-ins passed MFA — "no" only from beta, where the
    sign-in shows it; v1.0 says "unknown" for a single-factor sign-in rather than "no MFA"."""
    from iamkit.sandbox.entra_data import STRONG

    truth = sandbox._entra.directory.signin_mfa
    seen = set()
    for person in sandbox.org.people:
        doc = _cli_json(
            capsys, "correlate", person.upn, "--no-aws", "--format", "json", *(["--beta"] if beta else ["--no-beta"])
        )
        summary = doc["summary"]
        assert summary["mfa_registered"] is bool(set(person.mfa_methods) & STRONG), person.upn
        ok = {truth[s["id"]] for s in doc["signins"] if s["success"]}
        expected = "yes" if ok == {"yes"} else "unknown" if not ok else ("no" if beta else "unknown")
        assert summary["mfa_at_signin"] == expected, (person.upn, summary["mfa_signins"])
        for s in doc["signins"]:
            assert s["mfa"] in ("unknown", truth[s["id"]]), (person.upn, s["id"])
        assert doc["errors"] == [], doc["errors"]
        seen.add(expected)
    assert seen == ({"yes", "no"} if beta else {"yes", "unknown"})  # both kinds of people are in the seed
    # one command after the other on a clock that does not move: each new process starts a fresh limiter while the
    # service's window is still full, gets 429 without Retry-After, waits the window out and goes on
    throttled = [e for e in sandbox._entra.log if e["status"] == 429]
    assert throttled and all("Retry-After" not in e.get("headers", {}) for e in throttled)
