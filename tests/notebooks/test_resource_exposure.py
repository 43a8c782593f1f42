"""The resource-exposure playbook end to end on its sandbox scenario: investigated from the bucket a prod-deploy
session made public, the four notebooks under papermill give facts equal to the answer key (the rule its policy
breaks, who changed it, the anonymous reads and their IPs, the containment) and a proposed policy without the
public grant."""

from __future__ import annotations

import json

import pytest

from iamkit.investigate import facts as F
from iamkit.investigate.resource import without_outsiders

pytestmark = [
    pytest.mark.notebook,
    pytest.mark.sandbox,
    pytest.mark.xdist_group("resource_exposure"),
]  # one playbook run, on one worker
SCENARIO = PLAYBOOK = "resource-exposure"
SEED = 86


def test_facts_equal_the_answer_key(scenario_run):
    facts = json.loads((scenario_run.run.case.evidence / "facts.json").read_text())
    F.validate(facts)
    assert F.differences(facts, scenario_run.key) == []
    assert facts["unanswered"] == []
    assert scenario_run.key["resource_exposure"]["reads"] == len(scenario_run.sb.org.incident.details["reads"])


def test_the_proposed_policy_drops_the_public_grant(scenario_run):
    inc = scenario_run.sb.org.incident
    proposed = json.loads((scenario_run.run.case.evidence / "proposed-changes.json").read_text())["proposals"]
    (close,) = [p for p in proposed if p["kind"] == "restrict_resource_policy"]
    assert close["before"]["document"] == inc.details["policy"]  # read back from moto: the scenario was played
    assert close["params"]["document"]["Statement"] == []


def test_without_outsiders_keeps_what_is_not_public():
    own = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:role/app"},
        "Action": "s3:GetObject",
        "Resource": "*",
    }
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}
    public = {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": "s3:GetObject", "Resource": "*"}
    assert without_outsiders({"Statement": [own, deny, public]})["Statement"] == [own, deny]
    assert without_outsiders(None)["Statement"] == []
