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
    d = evaluate(req(USER, context={"aws:SourceIp": "10.0.0.1"}), identity_policies=[ALLOW_ALL, IP_DENY],
                 mode="discovery")
    assert d.result == "Allowed"


@pytest.mark.parametrize("extra, expected", [
    ([ALLOW_ALL], "Allowed"),                  # another unconditional Allow decides: unknown key irrelevant
    ([doc(stmt("Deny"))], "ExplicitlyDenied"),  # an unconditional Deny decides
])
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
