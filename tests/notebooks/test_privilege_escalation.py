"""The privilege-escalation playbook end to end on its sandbox scenario: investigated from the CI user whose key
widened its own policy and a Lambda role's, the four notebooks under papermill give facts equal to the answer
key (each policy change and what makes it risky, the detections, the containment taking every grant back) and a
report that names them."""

from __future__ import annotations

import html
import json

import pytest

from iamkit.investigate import facts as F
from iamkit.investigate.principal import policy_risks

pytestmark = [
    pytest.mark.notebook,
    pytest.mark.sandbox,
    pytest.mark.xdist_group("privilege_escalation"),
]  # one playbook run, on one worker
SCENARIO = PLAYBOOK = "privilege-escalation"
SEED = 84


def test_facts_equal_the_answer_key(scenario_run):
    facts = json.loads((scenario_run.run.case.evidence / "facts.json").read_text())
    F.validate(facts)
    assert F.differences(facts, scenario_run.key) == []
    assert facts["unanswered"] == []
    assert scenario_run.sb.org.incident.target_role_arn in facts["reach"]["admin_principals"]


def test_moto_holds_the_escalation(scenario_run):
    sb, inc = scenario_run.sb, scenario_run.sb.org.incident
    iam = sb.client("iam", inc.account_id)
    role = inc.target_role_arn.rsplit("/", 1)[1]
    attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]}
    assert inc.admin_policy_arn in attached
    assert (
        iam.get_policy(PolicyArn=inc.details["policy_arn"])["Policy"]["DefaultVersionId"] == inc.details["version_id"]
    )


def test_the_report_names_each_risky_change(scenario_run):
    inc = scenario_run.sb.org.incident
    text = html.unescape((scenario_run.run.case.path / "report.html").read_text())
    summary = text[text.index("id=summary") : text.index("id=notebooks")]
    for needle in [
        "CreatePolicyVersion",
        "new-default-version",
        "passrole-star",
        "admin-attached",
        "detach_role_policy",
        "delete_inline_policy",
        inc.leaked_access_key_id,
        "guardrail (permission boundary)",
    ]:
        assert needle in summary, needle


@pytest.mark.parametrize(
    ("event", "req", "risks"),
    [
        (
            "PutRolePolicy",
            {"policyDocument": '{"Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}]}'},
            ["passrole-star"],
        ),
        (
            "PutRolePolicy",
            {
                "policyDocument": '{"Statement":[{"Effect":"Allow","Action":"iam:PassRole",'
                '"Resource":"arn:aws:iam::111122223333:role/app"}]}'
            },
            [],
        ),
        (
            "PutUserPolicy",
            {
                "policyDocument": "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22%2A"
                "%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D"
            },
            ["passrole-star", "wildcard"],
        ),
        ("PutUserPolicy", {"policyDocument": '{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}'}, []),
        ("AttachUserPolicy", {"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}, ["admin-attached"]),
        ("AttachUserPolicy", {"policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}, []),
        (
            "SetDefaultPolicyVersion",
            {"policyArn": "arn:aws:iam::111122223333:policy/p", "versionId": "v3"},
            ["new-default-version"],
        ),
        ("CreatePolicyVersion", {"policyDocument": "not json", "setAsDefault": False}, []),
    ],
)
def test_policy_risks(event, req, risks):
    assert policy_risks(event, req) == risks
