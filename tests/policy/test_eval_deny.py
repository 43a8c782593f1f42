"""Explicit deny wins: a matching Deny in any applicable policy type decides ExplicitlyDenied."""

from __future__ import annotations

import pytest
from policytest import ACCT_A, ALLOW, DENY, OBJECT, ROLE, SESSION, USER, doc, req, stmt

from iamkit.policy import evaluate

FULL = doc(stmt(action="*"))
RES_ALLOW = doc(stmt(Principal={"AWS": USER}))
RES_DENY = doc(stmt("Deny", Principal="*"))


def test_identity_allow_alone_allows():
    d = evaluate(req(USER), identity_policies=[ALLOW])
    assert d.result == "Allowed" and d.blocked_by == [] and d.allowed


def test_no_policy_is_implicit_deny():
    d = evaluate(req(USER), identity_policies=[])
    assert d.result == "ImplicitlyDenied" and d.blocked_by == ["identity"]


@pytest.mark.parametrize(
    "where, kwargs",
    [
        ("identity", {"identity_policies": [ALLOW, DENY]}),
        ("resource", {"identity_policies": [ALLOW], "resource_policy": RES_DENY}),
        ("permission_boundary", {"identity_policies": [ALLOW], "permission_boundaries": [doc(stmt(), stmt("Deny"))]}),
        ("scp", {"identity_policies": [ALLOW], "scps": [[FULL, DENY]]}),
        ("rcp", {"identity_policies": [ALLOW], "rcps": [[doc(stmt("Deny", Principal="*"))]]}),
        (
            "endpoint",
            {
                "identity_policies": [ALLOW],
                "endpoint_policies": [doc(stmt(Principal="*"), stmt("Deny", Principal="*"))],
            },
        ),
    ],
)
def test_deny_in_any_policy_type_wins(where, kwargs):
    d = evaluate(req(USER), **kwargs)
    assert d.result == "ExplicitlyDenied"
    assert d.blocked_by == [where]


def test_deny_in_session_policy_wins_for_a_session():
    d = evaluate(req(SESSION), identity_policies=[ALLOW], session_policies=[doc(stmt(), stmt("Deny"))])
    assert d.result == "ExplicitlyDenied" and d.blocked_by == ["session"]


def test_deny_beats_a_direct_resource_grant():
    d = evaluate(req(USER), identity_policies=[DENY], resource_policy=RES_ALLOW)
    assert d.result == "ExplicitlyDenied"


def test_deny_not_matching_the_action_does_not_apply():
    d = evaluate(req(USER), identity_policies=[ALLOW, doc(stmt("Deny", action="s3:PutObject"))])
    assert d.result == "Allowed"


def test_deny_with_not_action_covers_everything_else():
    d = evaluate(req(USER), identity_policies=[ALLOW, doc(stmt("Deny", action=None, NotAction="iam:*"))])
    assert d.result == "ExplicitlyDenied"
    d = evaluate(
        req(USER, "iam:ListUsers", "*"),
        identity_policies=[doc(stmt(action="*")), doc(stmt("Deny", action=None, NotAction="iam:*"))],
    )
    assert d.result == "Allowed"


def test_deny_explain_lists_the_statement():
    d = evaluate(req(USER), identity_policies=[ALLOW, doc(stmt("Deny", Sid="Stop"))])
    assert any(e.statement == "Stop" and e.effect == "Deny" and e.applied for e in d.explain)
    assert "ExplicitlyDenied" in d.explain_text()


def test_several_deny_sources_all_listed():
    d = evaluate(req(USER), identity_policies=[DENY], scps=[[DENY]])
    assert d.result == "ExplicitlyDenied" and set(d.blocked_by) == {"identity", "scp"}


def test_role_caller_decision_dict():
    d = evaluate(req(ROLE, resource_account=ACCT_A), identity_policies=[ALLOW])
    out = d.to_dict()
    assert out["result"] == "Allowed" and out["explain"][0]["policy_type"] == "identity"
    assert out["explain"][0]["applied"] is True and OBJECT.startswith("arn:aws:s3:::")
