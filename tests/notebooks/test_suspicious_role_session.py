"""The suspicious-role-session playbook end to end on its sandbox scenario: investigated from the role, its
usual use by the two pipelines is told apart from the one session the leaked key opened from a new IP; the
facts equal the answer key (the split, the chain, the secret read, a containment that leaves the pipelines
alone) and the post-mortem names the missing detection."""

from __future__ import annotations

import json

import pytest

from iamkit.investigate import facts as F

pytestmark = [
    pytest.mark.notebook,
    pytest.mark.sandbox,
    pytest.mark.xdist_group("suspicious_role_session"),
]  # one playbook run, on one worker
SCENARIO = PLAYBOOK = "suspicious-role-session"
SEED = 85


def test_facts_equal_the_answer_key(scenario_run):
    facts = json.loads((scenario_run.run.case.evidence / "facts.json").read_text())
    F.validate(facts)
    assert F.differences(facts, scenario_run.key) == []
    assert facts["unanswered"] == []
    assert scenario_run.key["activity"]["usual_calls"] > 40  # the pipelines' fortnight is the baseline


def test_the_pipelines_are_left_alone(scenario_run):
    inc = scenario_run.sb.org.incident
    proposed = json.loads((scenario_run.run.case.evidence / "proposed-changes.json").read_text())["proposals"]
    targets = {p["target_arn"] for p in proposed}
    assert not targets & set(inc.details["callers"])
    openers = {
        o["caller"]: o["suspicious"] for o in json.loads((scenario_run.run.case.evidence / "openers.json").read_text())
    }
    assert openers == {inc.user_arn: True, **dict.fromkeys(inc.details["callers"], False)}


def test_the_postmortem_names_the_missing_detection(scenario_run):
    pm = json.loads((scenario_run.run.case.evidence / "facts.json").read_text())["postmortem"]
    gaps = {g["what"] for g in pm["detection_gaps"]}
    assert "no detection fired on the incident" in gaps
    assert "role assumed from a new source IP without a detection" in gaps
    assert pm["time_to_detect"]["seconds"] is None


def test_the_scenario_is_coherent_with_the_seeded_policies(scenario_run, replay):
    checked, problems = replay(scenario_run.sb)
    assert checked >= 2 * len(scenario_run.sb.org.incident.details["uses"]) and not problems, "\n".join(problems)
