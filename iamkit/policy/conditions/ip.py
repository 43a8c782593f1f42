"""IP address condition operators: IpAddress and NotIpAddress, IPv4 and IPv6, CIDR or single address.

A context value that is not an IP address (``aws:SourceIp`` is a service name for calls AWS makes on your
behalf) is in no range: IpAddress is false and NotIpAddress true for it, as AWS behaves.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

from iamkit.policy.conditions.base import InvalidPolicyValue, Operator, Predicate, operators

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddr = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=16384)
def parse_network(text: str) -> IpNetwork | None:
    """A policy CIDR (``203.0.113.0/24``, ``2001:db8::/32``) or single address; None when invalid."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


@lru_cache(maxsize=65536)
def parse_address(text: str) -> IpAddr | None:
    """A context IP address; None when the text is not one."""
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


@lru_cache(maxsize=8192)
def _in_ranges(values: tuple[Any, ...]) -> Predicate:
    networks = []
    for v in values:
        net = parse_network(v) if isinstance(v, str) else None
        if net is None:
            raise InvalidPolicyValue(f"{v!r} is not an IP address or CIDR")
        networks.append(net)

    def pred(value: Any) -> bool:
        if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
            addr = value
        elif isinstance(value, str):
            addr = parse_address(value)
        else:
            return False
        return addr is not None and any(addr.version == n.version and addr in n for n in networks)

    return pred


OPERATORS = operators(
    Operator("IpAddress", "ip", False, False, False, _in_ranges),
    Operator("NotIpAddress", "ip", True, False, False, _in_ranges),
)
