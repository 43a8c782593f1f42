"""IpAddress / NotIpAddress: AWS doc tables (203.0.113.0/24 and 2001:DB8:1234:5678::/64), v4 and v6."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iamkit.policy.conditions import evaluate_conditions

ABSENT = object()
KEY = "aws:SourceIp"
BOTH = ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]

CASES = [
    ("IpAddress", "203.0.113.0/24", "203.0.113.1", True),  # AWS doc
    ("IpAddress", "203.0.113.0/24", "198.51.100.1", False),
    ("IpAddress", "203.0.113.0/24", ABSENT, False),
    ("IpAddress", BOTH, "2001:db8:1234:5678::1", True),  # AWS doc, IPv6
    ("IpAddress", BOTH, "2001:db8:1234:5679::1", False),
    ("IpAddress", BOTH, "203.0.113.255", True),
    ("IpAddress", "203.0.113.9", "203.0.113.9", True),  # single address
    ("IpAddress", "203.0.113.9/32", "203.0.113.10", False),
    ("IpAddress", "203.0.113.7/24", "203.0.113.200", True),  # host bits set: accepted as its network
    ("IpAddress", "0.0.0.0/0", "::1", False),  # v4 range never holds a v6 address
    ("IpAddress", "203.0.113.0/24", "athena.amazonaws.com", False),  # service as source
    ("NotIpAddress", "203.0.113.0/24", "203.0.113.1", False),
    ("NotIpAddress", "203.0.113.0/24", "198.51.100.1", True),
    ("NotIpAddress", "203.0.113.0/24", ABSENT, True),
    ("NotIpAddress", BOTH, "2001:db8:1234:5678::abcd", False),
    ("NotIpAddress", "203.0.113.0/24", "athena.amazonaws.com", True),  # why Deny+NotIpAddress blocks services
    ("IpAddressIfExists", "203.0.113.0/24", ABSENT, True),
]


@pytest.mark.parametrize(("operator", "values", "request_value", "expected"), CASES)
def test_ip_truth_table(decide, operator, values, request_value, expected):
    context = {} if request_value is ABSENT else {KEY: request_value}
    assert decide(operator, KEY, values, context) is expected


@pytest.mark.parametrize("bad", ["203.0.113.0/33", "300.1.1.1", "not-an-ip", "", 12])
def test_invalid_cidr_never_matches(bad):
    for op in ("IpAddress", "NotIpAddress"):
        out = evaluate_conditions({op: {KEY: ["10.0.0.0/8", bad]}}, {KEY: "10.1.1.1"})
        assert out.matched is False
        assert "IP address or CIDR" in out.errors[0]


@settings(deadline=None)
@given(addr=st.ip_addresses(), prefix=st.integers(0, 128))
def test_ip_membership_agrees_with_ipaddress(addr, prefix):
    prefix = min(prefix, addr.max_prefixlen)
    net = ipaddress.ip_network(f"{addr}/{prefix}", strict=False)
    probe = net.network_address
    assert evaluate_conditions({"IpAddress": {KEY: str(net)}}, {KEY: str(addr)}).matched is True
    assert evaluate_conditions({"IpAddress": {KEY: str(net)}}, {KEY: str(probe)}).matched is True
    assert evaluate_conditions({"NotIpAddress": {KEY: str(net)}}, {KEY: str(addr)}).matched is False
