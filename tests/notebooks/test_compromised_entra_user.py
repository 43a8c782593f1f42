"""The compromised-entra-user playbook end to end on its sandbox scenario: investigated from the person's UPN,
the risky Entra sign-in that succeeded leads to the Identity Center session it opened into Prod and that
session's calls; the facts equal the answer key (the sign-ins, the permission set and account, the session, the
calls, the secret read, a containment in Entra and AWS)."""

from __future__ import annotations

import json

import pytest

from iamkit.investigate import facts as F

pytestmark = [
    pytest.mark.notebook,
    pytest.mark.sandbox,
    pytest.mark.xdist_group("compromised_entra_user"),  # one playbook run, on one worker
]
SCENARIO = PLAYBOOK = "compromised-entra-user"
SEED = 88
ENTRA = True


def test_facts_equal_the_answer_key(scenario_run):
    facts = json.loads((scenario_run.run.case.evidence / "facts.json").read_text())
    F.validate(facts)
    assert F.differences(facts, scenario_run.key) == []
    assert facts["unanswered"] == []
    assert len(facts["person"]["calls"]) == 4 and facts["resources_read"] == scenario_run.sb.org.incident.secret_arns


def test_the_persons_usual_sessions_are_not_taken_for_the_attackers(scenario_run):
    import pandas as pd

    inc = scenario_run.sb.org.incident
    sessions = pd.read_parquet(scenario_run.run.case.evidence / "person-sessions.parquet")
    facts = json.loads((scenario_run.run.case.evidence / "facts.json").read_text())
    mine = {r["access_key_id"] for r in facts["person"]["role_sessions"]}
    others = set(sessions["access_key_id"].dropna()) - mine
    assert others, "the person's own sessions from home are in the view"
    assert {s["source_ip"] for s in facts["person"]["role_sessions"]} == {inc.attacker_ip}


def test_the_plan_reads_entra_and_identity_center(scenario_run):
    plan = json.loads((scenario_run.run.case.evidence / "remediation-plan.json").read_text())
    kinds = [a["kind"] for a in plan["actions"]]
    assert kinds[:2] == ["revoke_entra_sessions", "disable_entra_user"]
    before = dict(zip(kinds, plan["before"], strict=False))
    assert before["disable_entra_user"] == {"account_enabled": True}
    assert before["remove_account_assignment"] == {"assigned": True}


def test_the_scenario_is_coherent_with_the_seeded_policies(scenario_run, replay):
    checked, problems = replay(scenario_run.sb)
    assert checked >= 4 and not problems, "\n".join(problems)
