"""The kit's own permissions: every API operation a collection sends is granted by
``iamkit/policies/investigator.json``, and nothing in it goes unused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.stub import Stubber

from iamkit.aws.calls import ErrorLog, Scope
from iamkit.aws.collectors import credential_report, posture
from iamkit.aws.recorder import CallRecorder, investigator_policy, policy_actions
from iamkit.aws.session import AwsContext, new_session
from iamkit.inventory import collect


def _stubbed_only_calls(recorder: CallRecorder) -> None:
    """Drive the calls no moto endpoint answers (Access Analyzer findings, service last accessed)."""
    acct = "111122223333"
    ctx = AwsContext(
        session=new_session(region="us-east-1", access_key_id="AKIATEST", secret_access_key="x"),
        region="us-east-1",
        account_id=acct,
        endpoint_url="http://127.0.0.1:9",
        hooks=[recorder],
        sleep=lambda s: None,
    )
    when = datetime(2024, 1, 1, tzinfo=UTC)
    arn = f"arn:aws:access-analyzer:us-east-1:{acct}:analyzer/a"
    with Stubber(ctx.client("accessanalyzer")) as aa, Stubber(ctx.client("iam")) as iam:
        aa.add_response(
            "list_analyzers",
            {"analyzers": [{"arn": arn, "name": "a", "type": "ACCOUNT", "createdAt": when, "status": "ACTIVE"}]},
        )
        aa.add_response("list_findings", {"findings": []})
        job = "11111111-1111-1111-1111-111111111111"
        iam.add_response("generate_service_last_accessed_details", {"JobId": job})
        iam.add_response(
            "get_service_last_accessed_details",
            {"JobStatus": "COMPLETED", "JobCreationDate": when, "JobCompletionDate": when, "ServicesLastAccessed": []},
        )
        posture.analyzers(Scope(ctx, ErrorLog()))
        credential_report.service_last_accessed(Scope(ctx, ErrorLog()), [f"arn:aws:iam::{acct}:role/r"])


@pytest.fixture(scope="module")
def recorded(sandbox, mini_org):
    """Every action sent while collecting the shared sandbox, the seeded mini organization (trail,
    detector, delegated admin) and the stub-only calls."""
    rec = CallRecorder()
    collect(org=True, hooks=[rec])  # the shared sandbox's environment is active for the session
    mp = pytest.MonkeyPatch()
    for k, v in mini_org.env().items():
        mp.setenv(k, v) if v else mp.delenv(k, raising=False)
    try:
        collect(org=True, hooks=[rec])
    finally:
        mp.undo()
    _stubbed_only_calls(rec)
    return rec


def test_every_call_is_granted(recorded):
    from iamkit.policy import evaluate

    policy = investigator_policy()
    refused = []
    for action in sorted(recorded.actions):
        # the identity side only: KMS would also need its key policy to agree (that is the key's owner's call)
        decision = evaluate(
            {"principal": "arn:aws:iam::111122223333:role/iamkit-investigator", "action": action, "resource": "*"},
            identity_policies=[policy],
            explain=False,
            resource_policy_required=False,
        )
        if not decision.allowed:
            refused.append((action, decision.result))
    assert refused == []


def test_nothing_in_the_policy_is_unused(recorded):
    granted = {a.lower() for a in policy_actions(investigator_policy())}
    used = {a.lower() for a in recorded.actions}
    assert sorted(granted - used) == []
    assert sorted(used - granted) == []


def test_policy_is_read_only_apart_from_report_jobs_and_assume_role():
    from iamkit.policy import access_level

    writes = {a for a in policy_actions(investigator_policy()) if access_level(a) not in ("List", "Read")}
    assert writes <= {"sts:AssumeRole", "iam:GenerateCredentialReport", "iam:GenerateServiceLastAccessedDetails"}
