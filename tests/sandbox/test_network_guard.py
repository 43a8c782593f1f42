"""The suite-wide guard: loopback is fine, anything else is refused and recorded."""

from __future__ import annotations

import socket

import pytest


def test_loopback_connects(sandbox):
    host, port = sandbox.endpoint_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5):
        pass
    with socket.create_connection(("localhost", int(port)), timeout=5):
        pass


@pytest.mark.parametrize("addr", [("192.0.2.1", 443), ("10.1.2.3", 80)])
def test_other_addresses_refused_and_recorded(network_violations, addr):
    with pytest.raises(ConnectionRefusedError, match="no_network"):
        socket.create_connection(addr, timeout=1)
    assert network_violations and str(addr[0]) in network_violations[-1]
    network_violations.clear()


def test_name_resolution_refused(network_violations):
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("sts.amazonaws.com", 443)
    assert network_violations == ["resolve 'sts.amazonaws.com'"]
    network_violations.clear()
