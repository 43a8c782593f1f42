"""The compromised-access-key playbook on the scenario's variants, each compared with its answer key field by
field: started from the session key GuardDuty would report (on the default sandbox), with the logging change
succeeding, and through a console session (each on its own small sandbox, whose scenario is also replayed
through the policy engine: the sandbox must not contradict itself)."""

from __future__ import annotations

import json
import os

import pytest

from iamkit import playbook
from iamkit.case import Case
from iamkit.investigate import facts as F
from iamkit.sandbox import trailgen, verify

pytestmark = [pytest.mark.notebook, pytest.mark.sandbox]
VARIANT_SEEDS = {"logging-succeeds": 71, "console": 72}  # own seeds: moto's state is per process


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
def variants(tmp_path_factory):
    import iamkit.sandbox

    started = {}
    try:
        for variant, seed in VARIANT_SEEDS.items():
            started[variant] = iamkit.sandbox.start(
                variant=variant,
                seed=seed,
                roles_per_account=25,
                benign_events=300,
                entra=False,
                workdir=tmp_path_factory.mktemp(f"sandbox-{variant}"),
            )
        yield started
    finally:
        for sb in started.values():
            sb.stop()


def investigate(sb, access_key_id: str, case_dir) -> tuple[dict, dict, playbook.RunResult]:
    """Run the playbook from ``access_key_id`` on ``sb``: (facts, the manifest's answer key, the run)."""
    with _Env(sb):
        res = playbook.run("compromised-access-key", {"access_key_id": access_key_id}, case_dir=case_dir)
    keys = json.loads(sb.manifest_path.read_text())["answer_keys"]
    key = next(k for k in keys if k["subject"]["access_key_id"] == access_key_id)
    facts = json.loads((res.case.evidence / "facts.json").read_text())
    F.validate(facts)
    F.validate(key)
    return facts, key, res


def test_from_the_session_key_the_whole_incident_is_found(sandbox, tmp_path):
    inc = sandbox.org.incident
    facts, key, res = investigate(sandbox, inc.session_access_key_id, tmp_path / "asia")
    assert F.differences(facts, key) == []
    # what differs from the leaked key's answer: only the subject and its own call counts
    akia = next(
        k
        for k in json.loads(sandbox.manifest_path.read_text())["answer_keys"]
        if k["subject"]["access_key_id"] == inc.leaked_access_key_id
    )
    assert {d.split(":")[0].split(".")[0] for d in F.differences(facts, akia)} == {"subject", "activity"}
    assert facts["subject"]["chain"] == [inc.leaked_access_key_id, inc.session_access_key_id]
    plan = json.loads((res.case.evidence / "remediation-plan.json").read_text())
    assert {a["kind"] for a in plan["actions"]} >= {"deactivate_access_key", "revoke_role_sessions"}
    assert Case.open(res.case.path).meta["status"] == "complete"
    assert inc.user_arn in res.summary["headline"][0] and "unknown principal" not in res.summary["headline"][0]


@pytest.mark.parametrize("variant", list(VARIANT_SEEDS))
def test_variant_scenario_is_coherent_with_the_seeded_policies(variants, variant):
    from iamkit.inventory import collect
    from iamkit.policy import decide

    sb = variants[variant]
    with _Env(sb):
        inv = collect(org=True, service_last_accessed=False)
    records = trailgen.scenario_records(sb.org, days=14, end=sb.now, seed=sb.org.seed)
    checked, problems = verify.incoherent(
        records,
        lambda r: decide(inv, r["principal"], r["action"], r["resource"], context=r["context"], explain=False).allowed,
    )
    assert checked > 60 and not problems, "\n".join(problems)


def test_a_successful_logging_change_is_reported(variants, tmp_path):
    sb = variants["logging-succeeds"]
    inc = sb.org.incident
    facts, key, res = investigate(sb, inc.leaked_access_key_id, tmp_path / "logging")
    assert F.differences(facts, key) == []
    assert {
        "event_name": "PutEventSelectors",
        "target": inc.logging_trail_arn,
        "result": "succeeded",
        "error_code": None,
    } in facts["logging_changes"]
    assert "PutEventSelectors succeeded" in res.summary["headline"][-1]
    assert "iamkit-event-selectors-narrowed" in facts["detections"]


def test_through_a_console_session(variants, tmp_path):
    sb = variants["console"]
    inc = sb.org.incident
    facts, key, res = investigate(sb, inc.leaked_access_key_id, tmp_path / "console")
    assert F.differences(facts, key) == []
    assert facts["console_logins"] == [inc.created_user_arn]
    assert facts["roles_assumed"][0]["from_principal"] == inc.created_user_arn
    assert "AWS Internal" in facts["sources"]["via_aws_services"]  # the console's own calls: not a source IP
    assert "AWS Internal" not in facts["sources"]["new_ips"] + facts["sources"]["new_user_agents"]
    events = res.case.load_frame("key-events")
    console = events[events["access_key_id"] == inc.console_access_key_id]
    assert len(console) and (console["principal_arn"] == inc.created_user_arn).all()
