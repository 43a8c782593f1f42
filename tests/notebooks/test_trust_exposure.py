"""The cross-account-trust-exposure playbook end to end on its own sandbox scenario: the four notebooks under
papermill into a case folder whose facts equal the scenario's answer key (the exposed role, what is wrong with
its trust, who used it, the trust to restrict it to, the containment and the standing detection), a report
that opens with the summary and the post-mortem, and a scenario the policy engine agrees with."""

from __future__ import annotations

import html
import json
import os

import pytest

from iamkit import playbook
from iamkit.case import Case
from iamkit.errors import BadInput
from iamkit.investigate import facts as F
from iamkit.sandbox import trailgen, verify

pytestmark = [pytest.mark.notebook, pytest.mark.sandbox]
SEED = 81  # its own seed: moto's state is per process
PLAYBOOK = "cross-account-trust-exposure"


class _Env:
    """Point boto3 (and the notebooks' kernels) at one sandbox for a while, then back."""

    def __init__(self, sb):
        self.env = sb.env()

    def __enter__(self):
        import boto3

        self.saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        boto3.DEFAULT_SESSION = None

    def __exit__(self, *exc):
        import boto3

        for k, v in self.saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        boto3.DEFAULT_SESSION = None


@pytest.fixture(scope="module")
def trust_sandbox(tmp_path_factory):
    import iamkit.sandbox

    sb = iamkit.sandbox.start(scenario=PLAYBOOK, seed=SEED, roles_per_account=25, benign_events=300, entra=False,
                              workdir=tmp_path_factory.mktemp("sandbox-trust"))
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture(scope="module")
def answer_key(trust_sandbox):
    keys = json.loads(trust_sandbox.manifest_path.read_text())["answer_keys"]
    assert len(keys) == 1
    F.validate(keys[0])
    return keys[0]


@pytest.fixture(scope="module")
def run(trust_sandbox, answer_key, tmp_path_factory):
    with _Env(trust_sandbox):
        return playbook.run(PLAYBOOK, {"subject": answer_key["subject"]["id"]},
                            case_dir=tmp_path_factory.mktemp("cases") / "trust")


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
    doc = proposed[0]["params"]["document"]
    (stmt,) = [s for s in doc["Statement"] if s.get("Sid") == "IamkitRestrictedTrust"]
    assert sorted(stmt["Principal"]["AWS"]) == answer_key["exposure"]["used_by"]
    assert stmt["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": answer_key["exposure"]["proposed_trust"][
        "principal_org_id"]}}
    assert ":root" not in json.dumps(doc)
    before = proposed[0]["before"]["document"]
    assert before["Statement"][0]["Principal"]["AWS"] == answer_key["exposure"]["trusted"][0]  # read from IAM


def test_the_report_opens_with_the_summary_and_the_postmortem(run, answer_key):
    text = html.unescape((run.case.path / "report.html").read_text())
    summary = text[text.index("id=summary"):text.index("id=notebooks")]
    assert summary.index("Post-mortem") < summary.index("Every call of the subject")  # summary before evidence
    for needle in [answer_key["subject"]["id"], *answer_key["exposure"]["used_by"], "IAMKIT-TRUST-001",
                   "aws:PrincipalOrgID", "iamkit-trust-policy-opened", "time to detect", "time to contain",
                   "time to recover", "guardrail (scp)", "guardrail (ci policy gate)"]:
        assert needle in summary, needle
    pm = json.loads((run.case.evidence / "facts.json").read_text())["postmortem"]
    assert {g["kind"] for g in pm["guardrails"]} >= {"scp", "ci_policy_gate", "detection"}
    assert pm["time_to_contain"]["seconds"] is None and "dry-run plan" in pm["time_to_contain"]["note"]
    assert sorted(p.name for p in (run.case.path / "notebooks").glob("*.ipynb")) == [
        "01-enrichment.ipynb", "02-assessment.ipynb", "03-remediation.ipynb", "04-postmortem.ipynb"]


def test_a_bad_subject_is_refused_before_any_notebook_runs(trust_sandbox, tmp_path):
    with _Env(trust_sandbox), pytest.raises(BadInput, match="subject"):
        playbook.run(PLAYBOOK, {"subject": "arn:aws:iam::123456789012:user/alice"}, case_dir=tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_the_scenario_is_coherent_with_the_seeded_policies(trust_sandbox):
    from iamkit.inventory import collect
    from iamkit.policy import decide

    sb = trust_sandbox
    with _Env(sb):
        inv = collect(org=True, service_last_accessed=False)
    records = trailgen.scenario_records(sb.org, days=14, end=sb.now, seed=sb.org.seed)
    checked, problems = verify.incoherent(records, lambda r: decide(
        inv, r["principal"], r["action"], r["resource"], context=r["context"], explain=False).allowed)
    assert checked > 40 and not problems, "\n".join(problems)
