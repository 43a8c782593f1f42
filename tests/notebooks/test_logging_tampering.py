"""The logging-tampering playbook end to end on its sandbox scenario: investigated from the operations role the
attacker's session used, the four notebooks under papermill give facts equal to the answer key (every call,
the session opened with the leaked key, the guardrail changes and their outcomes, the detections, the
containment of the session and of the key and user that opened it) and a report with the post-mortem."""

from __future__ import annotations

import html
import json

import pytest

from iamkit.case import Case
from iamkit.investigate import facts as F

pytestmark = [
    pytest.mark.notebook,
    pytest.mark.sandbox,
    pytest.mark.xdist_group("logging_tampering"),
]  # one playbook run, on one worker
SCENARIO = PLAYBOOK = "logging-tampering"
SEED = 82


def test_facts_equal_the_answer_key(scenario_run):
    facts = json.loads((scenario_run.run.case.evidence / "facts.json").read_text())
    F.validate(facts)
    assert F.differences(facts, scenario_run.key) == []
    inc = scenario_run.sb.org.incident
    results = {(c["event_name"], c["result"]) for c in scenario_run.key["logging_changes"]}
    assert results == {
        ("StopLogging", "denied"),
        ("UpdateTrail", "succeeded"),
        ("DeleteDetector", "succeeded"),
        ("StopConfigurationRecorder", "succeeded"),
    }
    assert facts["roles_assumed"][0]["from_principal"] == inc.user_arn
    assert Case.open(scenario_run.run.case.path).meta["status"] == "complete" and facts["unanswered"] == []


def test_moto_holds_the_aftermath(scenario_run, sandbox_env):
    """The scenario was played, not only written: the trail no longer validates, the detector is gone."""
    sb, inc = scenario_run.sb, scenario_run.sb.org.incident
    prod = inc.account_id
    trail = sb.client("cloudtrail", prod).get_trail(Name=inc.logging_trail_arn)["Trail"]
    assert trail["LogFileValidationEnabled"] is False
    assert inc.details["detector_id"] not in sb.client("guardduty", prod).list_detectors()["DetectorIds"]


def test_the_postmortem_times_the_detection_and_names_the_scp(scenario_run):
    facts = json.loads((scenario_run.run.case.evidence / "facts.json").read_text())
    pm = facts["postmortem"]
    inc = scenario_run.sb.org.incident
    first_change = inc.details["times"]["stop"]  # the first detection is the refused StopLogging
    assert pm["time_to_detect"]["from"] == inc.start and pm["time_to_detect"]["to"] == first_change
    assert pm["time_to_detect"]["seconds"] > 0
    assert any(g["kind"] == "scp" and "cloudtrail:StopLogging" in g["what"] for g in pm["guardrails"])
    text = html.unescape((scenario_run.run.case.path / "report.html").read_text())
    summary = text[text.index("id=summary") : text.index("id=notebooks")]
    for needle in [
        "StopConfigurationRecorder succeeded",
        "DeleteDetector succeeded",
        "StopLogging denied",
        inc.user_arn,
        inc.leaked_access_key_id,
        "time to detect",
        "guardrail (scp)",
    ]:
        assert needle in summary, needle


def test_the_scenario_is_coherent_with_the_seeded_policies(scenario_run, replay):
    checked, problems = replay(scenario_run.sb)
    assert checked >= 8 and not problems, "\n".join(problems)
