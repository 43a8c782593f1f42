"""IP context: classification of CloudTrail source "IPs", offline country (iptocc), MaxMind mmdb country/ASN."""

from __future__ import annotations

import ipaddress
import socket
import struct

import pandas as pd
import pytest

from iamkit import frames
from iamkit.errors import BadInput
from iamkit.trail.ipcontext import IpContext, classify

# ---------------------------------------------------------------- a minimal MaxMind DB writer (IPv4, 24-bit records)


def _ctrl(type_: int, size: int) -> bytes:
    assert size < 285
    small, extra = (size, b"") if size < 29 else (29, bytes([size - 29]))
    if type_ <= 7:
        return bytes([(type_ << 5) | small]) + extra
    return bytes([small, type_ - 7]) + extra


class U16(int):
    """An int the writer encodes as uint16 (libmaxminddb checks metadata types)."""


class U64(int):
    """An int the writer encodes as uint64."""


def _uint(type_: int, v: int) -> bytes:
    b = v.to_bytes((v.bit_length() + 7) // 8, "big") if v else b""
    return _ctrl(type_, len(b)) + b


def _enc(v) -> bytes:
    if isinstance(v, U16):
        return _uint(5, v)
    if isinstance(v, U64):
        return _uint(9, v)
    if isinstance(v, bool):
        return _ctrl(14, int(v))
    if isinstance(v, str):
        b = v.encode()
        return _ctrl(2, len(b)) + b
    if isinstance(v, int):
        b = v.to_bytes((v.bit_length() + 7) // 8, "big") if v else b""
        return _ctrl(6 if v < 2**32 else 9, len(b)) + b
    if isinstance(v, dict):
        return _ctrl(7, len(v)) + b"".join(_enc(k) + _enc(x) for k, x in v.items())
    if isinstance(v, list):
        return _ctrl(11, len(v)) + b"".join(_enc(x) for x in v)
    raise TypeError(v)


def write_mmdb(path, networks: dict[str, dict], db_type: str) -> None:
    """Write an IPv4 MaxMind DB mapping each CIDR to a record (enough for the reader to answer lookups)."""
    nodes: list[list] = [[None, None]]
    datas: list[bytes] = []
    for cidr, record in networks.items():
        net = ipaddress.ip_network(cidr)
        bits = int(net.network_address)
        node = 0
        for i in range(net.prefixlen):
            bit = (bits >> (31 - i)) & 1
            if i == net.prefixlen - 1:
                nodes[node][bit] = ("data", len(datas))
            else:
                if not isinstance(nodes[node][bit], int):
                    nodes.append([None, None])
                    nodes[node][bit] = len(nodes) - 1
                node = nodes[node][bit]
        datas.append(_enc(record))
    offsets, pos = [], 0
    for d in datas:
        offsets.append(pos)
        pos += len(d)
    n = len(nodes)

    def value(rec):
        if rec is None:
            return n
        if isinstance(rec, int):
            return rec
        return n + 16 + offsets[rec[1]]

    tree = b"".join(value(left).to_bytes(3, "big") + value(right).to_bytes(3, "big") for left, right in nodes)
    meta = {
        "node_count": n,
        "record_size": U16(24),
        "ip_version": U16(4),
        "database_type": db_type,
        "languages": ["en"],
        "binary_format_major_version": U16(2),
        "binary_format_minor_version": U16(0),
        "build_epoch": U64(1700000000),
        "description": {"en": "iamkit test database"},
    }
    path.write_bytes(tree + b"\x00" * 16 + b"".join(datas) + b"\xab\xcd\xefMaxMind.com" + _enc(meta))


@pytest.fixture
def mmdbs(tmp_path):
    country = tmp_path / "country.mmdb"
    asn = tmp_path / "asn.mmdb"
    write_mmdb(
        country,
        {
            "203.0.113.0/24": {"country": {"iso_code": "KP"}},
            "198.51.100.0/24": {"registered_country": {"iso_code": "NL"}},
        },
        "GeoLite2-Country",
    )
    write_mmdb(
        asn,
        {"203.0.113.0/24": {"autonomous_system_number": 64500, "autonomous_system_organization": "Example Hosting"}},
        "GeoLite2-ASN",
    )
    return country, asn


@pytest.fixture(autouse=True)
def refuse_any_socket(monkeypatch):
    """Any socket use during these tests is a bug: IP context is offline by contract."""

    def refuse(*a, **k):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("8.8.8.8", "public"),
        ("2001:4860:4860::8888", "public"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("172.16.5.4", "private"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link_local"),
        ("fe80::1", "link_local"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "reserved"),
        ("iam.amazonaws.com", "aws_service"),
        ("ec2.AMAZONAWS.com", "aws_service"),
        ("AWS Internal", "aws_internal"),
        ("::ffff:10.0.0.1", "private"),
        ("not an ip", "invalid"),
        ("", "invalid"),
        (None, "invalid"),
        (float("nan"), "invalid"),
        ("100.64.0.1", "reserved"),
        ("203.0.113.66", "documentation"),
        ("2001:db8::1", "documentation"),
        ("192.0.2.1", "documentation"),
    ],
)
def test_classify(value, kind):
    assert classify(value) == kind


def test_iptocc_country_offline_and_nothing_for_non_public():
    ctx = IpContext()
    assert ctx.lookup("8.8.8.8")["country"] == "US"
    assert ctx.lookup("8.8.8.8")["source"] == "iptocc"
    for value in ("10.0.0.1", "iam.amazonaws.com"):
        row = ctx.lookup(value)
        assert row["country"] is None and row["asn"] is None and row["source"] is None


def test_mmdb_country_and_asn(mmdbs):
    country, asn = mmdbs
    ctx = IpContext(country_mmdb=country, asn_mmdb=asn, use_iptocc=False)
    assert ctx.lookup("203.0.113.66") == {
        "ip": "203.0.113.66",
        "kind": "documentation",
        "country": "KP",
        "asn": 64500,
        "as_org": "Example Hosting",
        "source": "mmdb+mmdb-asn",
    }
    assert ctx.lookup("198.51.100.7")["country"] == "NL"
    miss = ctx.lookup("8.8.8.8")
    assert (miss["country"], miss["asn"], miss["source"]) == (None, None, None)


def test_mmdb_first_then_iptocc_fallback(mmdbs):
    ctx = IpContext(country_mmdb=mmdbs[0])
    assert ctx.lookup("203.0.113.1")["country"] == "KP"
    assert ctx.lookup("1.1.1.1")["source"] == "iptocc"


def test_frame_and_enrich(mmdbs):
    ctx = IpContext(asn_mmdb=mmdbs[1])
    df = ctx.frame(["203.0.113.66", "203.0.113.66", "iam.amazonaws.com", None])
    frames.check(df, "ip_context")
    assert list(df.ip) == ["203.0.113.66", "iam.amazonaws.com"]
    events = pd.DataFrame({"source_ip": ["203.0.113.66", "10.0.0.1", None], "event_name": ["a", "b", "c"]})
    out = ctx.enrich(events)
    assert list(out.ip_kind.iloc[:2]) == ["documentation", "private"]
    assert out.ip_asn.iloc[0] == 64500 and pd.isna(out.ip_asn.iloc[1])
    assert list(out.event_name) == ["a", "b", "c"]


def test_bad_mmdb_paths(tmp_path):
    with pytest.raises(BadInput, match="not found"):
        IpContext(asn_mmdb=tmp_path / "missing.mmdb")
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(struct.pack(">I", 7) * 10)
    with pytest.raises(BadInput, match="not a MaxMind database"):
        IpContext(asn_mmdb=junk)
