"""The cross-account-trust-exposure playbook end to end on its own sandbox scenario: the four notebooks under
papermill into a case folder whose facts equal the scenario's answer key (the exposed role, what is wrong with
its trust, who used it, the trust to restrict it to, the containment and the standing detection), a report
that opens with the summary and the post-mortem, and a scenario the policy engine agrees with."""

from __future__ import annotations

import html
import json

import pytest

from iamkit import playbook
from iamkit.case import Case
from iamkit.errors import BadInput
from iamkit.investigate import facts as F

pytestmark = [
    pytest.mark.notebook,
    pytest.mark.sandbox,
    pytest.mark.xdist_group("trust_exposure"),
]  # one playbook run, on one worker
SEED = 81  # its own seed: moto's state is per process
PLAYBOOK = "cross-account-trust-exposure"


SCENARIO = PLAYBOOK


@pytest.fixture(scope="module")
def trust_sandbox(scenario_run):
    return scenario_run.sb


@pytest.fixture(scope="module")
def answer_key(scenario_run):
    return scenario_run.key


@pytest.fixture(scope="module")
def run(scenario_run):
    return scenario_run.run


def test_facts_equal_the_answer_key(run, answer_key, trust_sandbox):
    facts = json.loads((run.case.evidence / "facts.json").read_text())
    F.validate(facts)
    assert F.differences(facts, answer_key) == []
    inc = trust_sandbox.org.incident
    # the key is ground truth, not a restatement of the facts: the scenario's planned callers and sessions
    assert answer_key["exposure"]["used_by"] == sorted(inc.details["callers"])
    assert answer_key["exposure"]["sessions"] == len(inc.details["uses"]) > 10
    assert answer_key["exposure"]["proposed_trust"]["principal_org_id"] == trust_sandbox.org.org_id
    assert Case.open(run.case.path).meta["status"] == "complete" and facts["unanswered"] == []


def test_the_proposed_trust_names_the_callers_inside_the_organization(run, answer_key):
    proposed = json.loads((run.case.evidence / "proposed-changes.json").read_text())["proposals"]
    assert [p["kind"] for p in proposed] == ["restrict_trust"]
    plan = json.loads((run.case.evidence / "remediation-plan.json").read_text())  # approvable: respond applies it
    assert [(a["kind"], a["params"]["document"]) for a in plan["actions"]] == [
        ("restrict_trust", proposed[0]["params"]["document"])
    ]
    doc = proposed[0]["params"]["document"]
    # iamkit.respond.actions.restricted_trust: the opened principal replaced in its statement by who used it
    (stmt,) = [s for s in doc["Statement"] if "AWS" in (s.get("Principal") or {})]
    named = stmt["Principal"]["AWS"]
    assert sorted([named] if isinstance(named, str) else named) == answer_key["exposure"]["used_by"]
    assert stmt["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": answer_key["exposure"]["proposed_trust"]["principal_org_id"]}
    }
    assert ":root" not in json.dumps(doc)
    before = proposed[0]["before"]["document"]
    assert before["Statement"][0]["Principal"]["AWS"] == answer_key["exposure"]["trusted"][0]  # read from IAM


def test_the_report_opens_with_the_summary_and_the_postmortem(run, answer_key):
    text = html.unescape((run.case.path / "report.html").read_text())
    summary = text[text.index("id=summary") : text.index("id=notebooks")]
    assert summary.index("Post-mortem") < summary.index("Every call of the subject")  # summary before evidence
    for needle in [
        answer_key["subject"]["id"],
        *answer_key["exposure"]["used_by"],
        "IAMKIT-TRUST-001",
        "aws:PrincipalOrgID",
        "iamkit-trust-policy-opened",
        "time to detect",
        "time to contain",
        "time to recover",
        "guardrail (scp)",
        "guardrail (ci policy gate)",
    ]:
        assert needle in summary, needle
    pm = json.loads((run.case.evidence / "facts.json").read_text())["postmortem"]
    assert {g["kind"] for g in pm["guardrails"]} >= {"scp", "ci_policy_gate", "detection"}
    assert pm["time_to_contain"]["seconds"] is None and "dry-run plan" in pm["time_to_contain"]["note"]
    assert sorted(p.name for p in (run.case.path / "notebooks").glob("*.ipynb")) == [
        "01-enrichment.ipynb",
        "02-assessment.ipynb",
        "03-remediation.ipynb",
        "04-postmortem.ipynb",
    ]


def test_a_bad_subject_is_refused_before_any_notebook_runs(trust_sandbox, sandbox_env, tmp_path):
    with sandbox_env(trust_sandbox), pytest.raises(BadInput, match="subject"):
        playbook.run(PLAYBOOK, {"subject": "arn:aws:iam::123456789012:user/alice"}, case_dir=tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_the_scenario_is_coherent_with_the_seeded_policies(trust_sandbox, replay):
    checked, problems = replay(trust_sandbox)
    uses = len(trust_sandbox.org.incident.details["uses"])  # weekday releases: how many depends on the date
    assert checked >= 2 * uses and not problems, "\n".join(problems)


def test_the_report_draws_the_subjects_calls(run):
    """Figures read the subject's calls in every playbook, not only a key's (``subject-events``)."""
    from iamkit.case import Case
    from iamkit.ui.case_figures import case_figures

    figs = {f.key: f for f in case_figures(Case.open(run.case.path))}
    assert figs["timeline"].figure is not None, figs["timeline"]
    assert figs["sources"].figure is not None, figs["sources"]
