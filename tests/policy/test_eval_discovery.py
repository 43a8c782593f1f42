"""mode="discovery": a condition on a key the request does not carry gives "Conditional" with the deciding keys."""

from __future__ import annotations

import pytest
from policytest import USER, doc, req, stmt

from iamkit.errors import PolicyError
from iamkit.policy import evaluate

ALLOW_ALL = doc(stmt(action="*"))
VPCE_ALLOW = doc(stmt(Condition={"StringEquals": {"aws:SourceVpce": "vpce-1"}}))
IP_DENY = doc(stmt("Deny", Condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))


def test_unknown_key_on_allow_is_conditional():
    d = evaluate(req(USER), identity_policies=[VPCE_ALLOW], mode="discovery")
    assert d.result == "Conditional" and d.unknown_keys == ["aws:SourceVpce"]


def test_unknown_key_on_allow_is_denied_in_strict_mode():
    d = evaluate(req(USER), identity_policies=[VPCE_ALLOW], mode="strict")
    assert d.result == "ImplicitlyDenied" and d.unknown_keys == []


def test_unknown_key_on_deny_is_conditional():
    d = evaluate(req(USER), identity_policies=[ALLOW_ALL, IP_DENY], mode="discovery")
    assert d.result == "Conditional" and d.unknown_keys == ["aws:SourceIp"]
    assert "identity" in d.blocked_by


def test_known_keys_decide_normally():
    d = evaluate(
        req(USER, context={"aws:SourceIp": "10.0.0.1"}), identity_policies=[ALLOW_ALL, IP_DENY], mode="discovery"
    )
    assert d.result == "Allowed"


@pytest.mark.parametrize(
    "extra, expected",
    [
        ([ALLOW_ALL], "Allowed"),  # another unconditional Allow decides: unknown key irrelevant
        ([doc(stmt("Deny"))], "ExplicitlyDenied"),  # an unconditional Deny decides
    ],
)
def test_unknown_keys_that_cannot_change_the_outcome(extra, expected):
    d = evaluate(req(USER), identity_policies=[VPCE_ALLOW, *extra], mode="discovery")
    assert d.result == expected and d.unknown_keys == []


def test_unknown_key_cannot_rescue_a_missing_layer():
    d = evaluate(req(USER), identity_policies=[VPCE_ALLOW], scps=[[doc(stmt(action="ec2:*"))]], mode="discovery")
    assert d.result == "ImplicitlyDenied"


def test_ifexists_and_null_decide_absent_keys_themselves():
    p = doc(stmt(Condition={"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1"}}))
    assert evaluate(req(USER), identity_policies=[p], mode="discovery").result == "Allowed"
    p = doc(stmt(Condition={"Null": {"aws:SourceVpce": "true"}}))
    assert evaluate(req(USER), identity_policies=[p], mode="discovery").result == "Allowed"


def test_unknown_mode_is_an_error():
    with pytest.raises(PolicyError, match="mode"):
        evaluate(req(USER), identity_policies=[ALLOW_ALL], mode="guess")


# ---- allowed_if: the formula under which a Conditional request is allowed, combined across policy types:
# identity OR resource grants (within one account), AND boundary, AND every SCP level, AND NOT any Deny
# (a Deny's conditions come out inverted)
def leaf(key, value, op="StringEquals"):
    return {"key": key, "operator": op, "values": [value]}


VPC = leaf("aws:SourceVpc", "vpc-1")
VPCE = leaf("aws:SourceVpce", "vpce-1")
ORG = leaf("aws:PrincipalOrgPaths", "o-1/*", "ForAnyValue:StringLike")
TAG = leaf("aws:RequestTag/env", "prod")


def cond(k, v, op="StringEquals"):
    return {op: {k: v}}


def test_allowed_if_single_allow():
    d = evaluate(req(USER), identity_policies=[VPCE_ALLOW], mode="discovery")
    assert d.allowed_if == VPCE
    assert "allowed if StringEquals aws:SourceVpce vpce-1" in d.explain_text()


def test_allowed_if_two_allows_are_alternatives():
    a = doc(stmt(Condition=cond("aws:SourceVpce", "vpce-1")))
    b = doc(stmt(Condition=cond("aws:SourceVpc", "vpc-1")))
    d = evaluate(req(USER), identity_policies=[a, b], mode="discovery")
    assert d.allowed_if == {"any": [VPCE, VPC]}


def test_allowed_if_conditions_of_one_statement_all_hold():
    a = doc(stmt(Condition={"StringEquals": {"aws:SourceVpce": "vpce-1", "aws:SourceVpc": "vpc-1"}}))
    d = evaluate(req(USER), identity_policies=[a], mode="discovery")
    assert d.allowed_if == {"all": [VPCE, VPC]}


def test_allowed_if_deny_is_inverted():
    deny = doc(stmt("Deny", Condition=cond("aws:RequestTag/env", "prod")))
    d = evaluate(req(USER), identity_policies=[ALLOW_ALL, deny], mode="discovery")
    assert d.result == "Conditional" and d.allowed_if == {"not": TAG}


def test_allowed_if_across_identity_boundary_scp_and_rcp():
    identity = doc(stmt(Condition=cond("aws:SourceVpce", "vpce-1")))
    boundary = doc(stmt(Condition=cond("aws:SourceVpc", "vpc-1")))
    scp = doc(stmt(action="*", Condition={"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-1/*"}}))
    rcp = doc(stmt("Deny", action="s3:*", Principal="*", Condition=cond("aws:RequestTag/env", "prod")))
    d = evaluate(
        req(USER),
        identity_policies=[identity],
        permission_boundaries=[boundary],
        scps=[[scp]],
        rcps=[[rcp]],
        mode="discovery",
    )
    assert d.result == "Conditional"
    assert d.allowed_if == {"all": [{"not": TAG}, ORG, VPCE, VPC]}


def test_allowed_if_identity_or_resource_within_one_account():
    identity = doc(stmt(Condition=cond("aws:SourceVpce", "vpce-1")))
    resource = doc(stmt(Principal={"AWS": USER}, Condition=cond("aws:SourceVpc", "vpc-1")))
    d = evaluate(req(USER), identity_policies=[identity], resource_policy=resource, mode="discovery")
    assert d.allowed_if == {"any": [VPC, VPCE]}


def test_allowed_if_cross_account_needs_both_sides():
    from policytest import ACCT_B

    identity = doc(stmt(Condition=cond("aws:SourceVpce", "vpce-1")))
    resource = doc(stmt(Principal={"AWS": USER}, Condition=cond("aws:SourceVpc", "vpc-1")))
    d = evaluate(
        req(USER, resource_account=ACCT_B), identity_policies=[identity], resource_policy=resource, mode="discovery"
    )
    assert d.allowed_if == {"all": [VPCE, VPC]}


def test_allowed_if_is_none_when_decided():
    assert evaluate(req(USER), identity_policies=[ALLOW_ALL], mode="discovery").allowed_if is None
    d = evaluate(req(USER), identity_policies=[VPCE_ALLOW], mode="discovery", explain=False)
    assert d.allowed_if == VPCE  # the fast path (no explanation) builds the same formula
