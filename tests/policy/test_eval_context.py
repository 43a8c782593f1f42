"""Global condition keys the engine infers from the request (aws:PrincipalArn, PrincipalAccount, userid…)."""

from __future__ import annotations

import datetime as dt

import pytest
from policytest import ACCT_A, ROLE, SESSION, USER, doc, req, stmt

from iamkit.policy import evaluate
from iamkit.policy.engine import build_request


def ctx(r):
    return build_request(r).context


def test_user_keys():
    c = ctx(req(USER, principal_id="AIDAEXAMPLE"))
    assert c["aws:principalarn"] == USER
    assert c["aws:principalaccount"] == ACCT_A
    assert c["aws:principaltype"] == "User"
    assert c["aws:username"] == "alice"
    assert c["aws:userid"] == "AIDAEXAMPLE"
    assert "aws:multifactorauthpresent" not in c  # long-term keys: the key is absent
    assert c["aws:principalisawsservice"] == "false"


def test_session_keys():
    c = ctx(req(SESSION, principal_id="AROAEXAMPLE"))
    assert c["aws:principalarn"] == ROLE  # a session's PrincipalArn is its role
    assert c["aws:principaltype"] == "AssumedRole"
    assert c["aws:userid"] == "AROAEXAMPLE:s1"
    assert c["aws:multifactorauthpresent"] == "false"
    assert "aws:username" not in c


@pytest.mark.parametrize(
    "principal, ptype",
    [
        (f"arn:aws:iam::{ACCT_A}:root", "Account"),
        (None, "Anonymous"),
        (f"arn:aws:sts::{ACCT_A}:federated-user/carol", "FederatedUser"),
    ],
)
def test_principal_types(principal, ptype):
    assert ctx(req(principal))["aws:principaltype"] == ptype


def test_request_fields_become_keys():
    c = ctx(
        req(
            USER,
            region="eu-west-1",
            principal_org_id="o-abc",
            principal_tags={"Team": "data"},
            resource_tags={"env": "prod"},
            mfa=True,
            resource_account="444455556666",
            context={"aws:SourceIp": "203.0.113.9"},
        )
    )
    assert c["aws:requestedregion"] == "eu-west-1"
    assert c["aws:principalorgid"] == "o-abc"
    assert c["aws:principaltag/team"] == "data"
    assert c["aws:resourcetag/env"] == "prod"
    assert c["aws:multifactorauthpresent"] == "true"
    assert c["aws:resourceaccount"] == "444455556666"
    assert c["aws:sourceip"] == "203.0.113.9"


def test_time_keys_from_injected_clock():
    c = ctx(req(USER, time="2026-01-15T12:00:00Z"))
    assert c["aws:currenttime"] == "2026-01-15T12:00:00Z"
    assert c["aws:epochtime"] == int(dt.datetime(2026, 1, 15, 12, tzinfo=dt.UTC).timestamp())
    r = req(USER)
    del r["time"]
    assert (
        build_request(r, now=dt.datetime(2030, 1, 1, tzinfo=dt.UTC)).context["aws:currenttime"]
        == "2030-01-01T00:00:00Z"
    )


def test_explicit_context_overrides_inferred():
    assert ctx(req(USER, context={"aws:username": "mallory"}))["aws:username"] == "mallory"


def test_inferred_keys_drive_conditions():
    p = doc(stmt(Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}))
    assert evaluate(req(USER, principal_org_id="o-abc"), identity_policies=[p]).allowed
    assert not evaluate(req(USER, principal_org_id="o-xyz"), identity_policies=[p]).allowed
    p = doc(stmt(Condition={"DateLessThan": {"aws:CurrentTime": "2026-06-01T00:00:00Z"}}))
    assert evaluate(req(USER), identity_policies=[p]).allowed
    assert not evaluate(req(USER, time="2026-07-01T00:00:00Z"), identity_policies=[p]).allowed
    p = doc(stmt(Condition={"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCT_A}:role/*"}}))
    assert evaluate(req(SESSION), identity_policies=[p]).allowed
    assert not evaluate(req(USER), identity_policies=[p]).allowed
    p = doc(stmt(Condition={"NumericLessThan": {"aws:EpochTime": "1800000000"}}))
    assert evaluate(req(USER), identity_policies=[p]).allowed
