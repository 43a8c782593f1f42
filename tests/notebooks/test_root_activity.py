"""The root-activity playbook end to end on its sandbox scenario: investigated from the account root, the four
notebooks under papermill give facts equal to the answer key (every call, the console sign-in without MFA, the
root key and the user created with it, the detections, the user quarantined) and a post-mortem naming the SCP
that keeps root out."""

from __future__ import annotations

import html
import json

import pytest

from iamkit.investigate import facts as F

pytestmark = [
    pytest.mark.notebook,
    pytest.mark.sandbox,
    pytest.mark.xdist_group("root_activity"),
]  # one playbook run, on one worker
SCENARIO = PLAYBOOK = "root-activity"
SEED = 83


def test_facts_equal_the_answer_key(scenario_run):
    facts = json.loads((scenario_run.run.case.evidence / "facts.json").read_text())
    F.validate(facts)
    assert F.differences(facts, scenario_run.key) == []
    inc = scenario_run.sb.org.incident
    assert facts["created"]["access_keys"] == [inc.created_access_key_id]  # root's own key, from the record
    assert facts["console_logins"] == [f"arn:aws:iam::{inc.account_id}:root"]
    assert facts["unanswered"] == []


def test_the_report_names_what_root_did_and_the_guardrail(scenario_run):
    inc = scenario_run.sb.org.incident
    text = html.unescape((scenario_run.run.case.path / "report.html").read_text())
    summary = text[text.index("id=summary") : text.index("id=notebooks")]
    for needle in [
        inc.attacker_ip,
        inc.created_access_key_id,
        inc.created_user_arn,
        "ConsoleLogin",
        "iamkit-root-activity",
        "aws:PrincipalArn arn:aws:iam::*:root",
        "time to detect",
    ]:
        assert needle in summary, needle
    pm = json.loads((scenario_run.run.case.evidence / "facts.json").read_text())["postmortem"]
    assert pm["time_to_detect"]["seconds"] == 0  # the sign-in itself is detected
    assert pm["time_to_detect"]["from"] == inc.start


def test_moto_holds_the_user_root_created(scenario_run):
    """The policy engine has no say over root (verify.incoherent skips it): check the scenario was played."""
    sb, inc = scenario_run.sb, scenario_run.sb.org.incident
    users = sb.client("iam", inc.account_id).list_users()["Users"]
    assert inc.created_user_arn in {u["Arn"] for u in users}
