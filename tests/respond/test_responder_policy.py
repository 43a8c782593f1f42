"""The responder's own permissions: every AWS call the remediation actions make (plan, apply, verify, undo) is
granted by ``iamkit/policies/responder.json``, checked with iamkit's own engine, and nothing in it goes unused."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from iamkit.aws.recorder import CallRecorder, policy_actions
from iamkit.respond import Plan, apply, capture_before, compromised_key_plan, undo
from iamkit.respond.handover import to_file
from iamkit.respond.plan import rotate_key_actions


def responder_policy() -> dict:
    return json.loads(resources.files("iamkit").joinpath("policies/responder.json").read_text())


def _life(plan, case, cl, **kw):
    capture_before(plan, cl)
    apply(plan, case, cl, approve=plan.hash, **kw)
    apply(plan, case, cl, approve=plan.hash, **kw)
    undo(case, cl)


@pytest.fixture(scope="module")
def recorded(make_scratch, scenarios, tmp_path_factory):
    """Every AWS action sent while each scenario's plan is read, applied, applied again and undone, and the
    same for the key-trace plan's kinds and a key rotation."""
    from iamkit.case import Case

    rec = CallRecorder()
    for name, make in scenarios.items():
        s = make_scratch()
        sc = make(s)
        case = Case.create(tmp_path_factory.mktemp(name), "remediation", {})
        _life(Plan(case.id, sc.actions), case, s.recorded(rec).clients(), allow_irreversible=not sc.reversible)
    s = make_scratch()
    iam = s.iam
    iam.create_user(UserName="dev")
    key = iam.create_access_key(UserName="dev")["AccessKey"]["AccessKeyId"]
    pol = iam.create_policy(
        PolicyName="P",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    )["Policy"]["Arn"]
    iam.attach_user_policy(UserName="dev", PolicyArn=pol)
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    summary = {
        "access_key_id": key,
        "origin": {"account_id": s.acct, "user_arn": s.arn("user", "dev"), "user_name": "dev"},
        "policies_attached": {s.arn("user", "dev"): [pol]},
        "assumed_roles": [{"role_arn": s.arn("role", "r"), "account_id": s.acct}],
        "planned_at": "2026-11-29T00:00:00+00:00",
    }
    case = Case.create(tmp_path_factory.mktemp("trace"), "remediation", {})
    cl = s.recorded(rec).clients()
    _life(compromised_key_plan(case.id, summary), case, cl)
    case = Case.create(tmp_path_factory.mktemp("rotation"), "remediation", {})
    out = tmp_path_factory.mktemp("operator") / "key.env"
    plan = Plan(case.id, rotate_key_actions(s.acct, s.arn("user", "dev"), key, [key]))
    capture_before(plan, cl)
    apply(plan, case, cl, approve=plan.hash, hand_over=to_file(out, case.path), confirm=lambda a: True)
    undo(case, cl)
    _stubbed_identity_center(rec, tmp_path_factory)
    return rec


def _stubbed_identity_center(rec, tmp_path_factory):
    """Real Identity Center answers IN_PROGRESS and the action polls the request's status; moto answers at once,
    so the polling calls are driven through botocore's Stubber (and recorded like the rest)."""
    from botocore.stub import Stubber

    from iamkit.aws.session import AwsContext, new_session
    from iamkit.case import Case
    from iamkit.respond import Action, Clients

    acct = "111122223333"
    ctx = AwsContext(
        session=new_session(region="us-east-1", access_key_id="AKIATEST", secret_access_key="x"),
        region="us-east-1",
        account_id=acct,
        endpoint_url="http://127.0.0.1:9",
        hooks=[rec],
        sleep=lambda s: None,
    )
    sso = ctx.client("sso-admin")
    inst = "arn:aws:sso:::instance/ssoins-1111111111111111"
    ps = "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-1111111111111111"
    a = Action(
        "remove_account_assignment",
        acct,
        ps,
        {"instance_arn": inst, "target_account_id": acct, "principal_type": "USER", "principal_id": "u-1"},
        "t",
    )
    listed = {
        "AccountAssignments": [
            {"AccountId": acct, "PermissionSetArn": ps, "PrincipalType": "USER", "PrincipalId": "u-1"}
        ]
    }
    case = Case.create(tmp_path_factory.mktemp("sso"), "remediation", {})
    plan = Plan(case.id, [a])
    with Stubber(sso) as st:
        st.add_response("list_account_assignments", listed)
        st.add_response(
            "delete_account_assignment",
            {
                "AccountAssignmentDeletionStatus": {
                    "Status": "IN_PROGRESS",
                    "RequestId": "11111111-1111-1111-1111-111111111111",
                }
            },
        )
        st.add_response(
            "describe_account_assignment_deletion_status",
            {
                "AccountAssignmentDeletionStatus": {
                    "Status": "SUCCEEDED",
                    "RequestId": "11111111-1111-1111-1111-111111111111",
                }
            },
        )
        st.add_response("list_account_assignments", {"AccountAssignments": []})
        st.add_response("list_account_assignments", {"AccountAssignments": []})
        st.add_response(
            "create_account_assignment",
            {
                "AccountAssignmentCreationStatus": {
                    "Status": "IN_PROGRESS",
                    "RequestId": "22222222-2222-2222-2222-222222222222",
                }
            },
        )
        st.add_response(
            "describe_account_assignment_creation_status",
            {
                "AccountAssignmentCreationStatus": {
                    "Status": "SUCCEEDED",
                    "RequestId": "22222222-2222-2222-2222-222222222222",
                }
            },
        )
        st.add_response("list_account_assignments", listed)
        cl = Clients(aws=lambda account, service: sso)
        rows = apply(plan, case, cl, approve=plan.hash)
        assert rows[0]["verified"], rows
        assert undo(case, cl)[0]["restored"]
        st.assert_no_pending_responses()


def test_every_call_is_granted(recorded):
    from iamkit.policy import evaluate

    policy = responder_policy()
    refused = []
    for action in sorted(recorded.actions):
        decision = evaluate(
            {"principal": "arn:aws:iam::111122223333:role/iamkit-responder", "action": action, "resource": "*"},
            identity_policies=[policy],
            explain=False,
            resource_policy_required=False,
        )
        if not decision.allowed:
            refused.append((action, decision.result))
    assert refused == []


def test_nothing_in_the_policy_is_unused(recorded):
    granted = {a.lower() for a in policy_actions(responder_policy())}
    used = {a.lower() for a in recorded.actions}
    assert sorted(granted - used) == []
    assert sorted(used - granted) == []
