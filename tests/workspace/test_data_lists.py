"""Offline IP lists: AWS's ranges (shipped example snapshot, or the copy a refresh fetched), Tor exits, hosting.
The refresh commands are tested against a server on 127.0.0.1, never the internet."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from iamkit import data
from iamkit.errors import BadInput

REAL_SHAPE = {
    "syncToken": "1700000000",
    "createDate": "2026-11-30-12-00-00",
    "prefixes": [
        {"ip_prefix": "192.0.2.0/24", "region": "eu-west-1", "service": "AMAZON", "network_border_group": "eu-west-1"},
        {"ip_prefix": "192.0.2.128/25", "region": "eu-west-1", "service": "EC2", "network_border_group": "eu-west-1"},
    ],
    "ipv6_prefixes": [],
}


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("IAMKIT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def server():
    pages: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = pages.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", pages
    srv.shutdown()


def test_the_shipped_snapshot_is_labelled_an_example_and_answers_for_its_prefixes(home):
    doc = json.loads(data.SNAPSHOT.read_text())
    assert "NOT AWS'S LIST" in doc["iamkit_note"]
    hit = data.ip_reputation("96.127.10.1")
    assert hit["aws"] and hit["aws_prefix"] == "96.127.0.0/17" and hit["aws_list"].startswith("example")
    miss = data.ip_reputation("203.0.113.30")
    assert not miss["aws"] and miss["tor_exit"] is None and miss["hosting"] is None  # unknown, not "no"
    assert data.ip_reputation("not an ip")["aws"] is False


def test_refresh_fetches_checks_and_is_used_afterwards(home, server):
    base, pages = server
    pages["/ip-ranges.json"] = json.dumps(REAL_SHAPE).encode()
    path, ranges = data.refresh_ip_ranges(base + "/ip-ranges.json")
    assert path == home / "data" / "aws-ip-ranges.json" and not ranges.example
    hit = data.ip_reputation("192.0.2.200")
    assert hit["aws"] and hit["aws_services"] == ["EC2", "AMAZON"] and hit["aws_prefix"] == "192.0.2.128/25"
    assert hit["aws_list"] == "published 2026-11-30-12-00-00"
    assert not data.ip_reputation("96.127.10.1")["aws"], "the example snapshot is no longer read"


@pytest.mark.parametrize(
    "body, message",
    [
        (b"<html>not json</html>", "not valid JSON"),
        (json.dumps({"prefixes": [{"ip_prefix": "300.1.2.0/24"}]}).encode(), "is not an IP prefix"),
        (json.dumps({"prefixes": "x"}).encode(), "no 'prefixes' list"),
        (data.SNAPSHOT.read_bytes(), "example snapshot"),
    ],
)
def test_a_bad_download_is_refused_and_nothing_is_stored(home, server, body, message):
    base, pages = server
    pages["/r"] = body
    with pytest.raises(BadInput, match=message):
        data.refresh_ip_ranges(base + "/r")
    assert not (home / "data" / "aws-ip-ranges.json").exists()
    with pytest.raises(BadInput, match="HTTP 404"):
        data.refresh_ip_ranges(base + "/missing")
    with pytest.raises(BadInput, match="http"):
        data.refresh_ip_ranges("file:///etc/passwd")


def test_tor_and_hosting_lists(home, server):
    base, pages = server
    pages["/tor"] = b"198.51.100.7\n# comment\n2001:db8::7\n"
    path, n = data.refresh_tor_exits(base + "/tor")
    assert n == 2 and path.read_text().split() == ["198.51.100.7", "2001:db8::7"]
    (home / "data" / "hosting-ranges.txt").write_text("203.0.113.0/24 Example Hosting\n")
    r = data.ip_reputation("198.51.100.7")
    assert r["tor_exit"] is True and r["hosting"] == ""
    r = data.ip_reputation("203.0.113.30")
    assert r["tor_exit"] is False and r["hosting"] == "Example Hosting"
    pages["/bad"] = b"198.51.100.7\n<script>\n"
    with pytest.raises(BadInput, match="is not an IP address"):
        data.refresh_tor_exits(base + "/bad")
    assert [row["entries"] for row in data.status()][1:] == [2, 1]


def test_lookup_cost_does_not_grow_with_the_list():
    """One dict probe per prefix length: 50,000 /32s cost no more to search than one."""
    import ipaddress

    table = data.PrefixTable()
    for i in range(50_000):
        table.add(ipaddress.ip_network(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}/32"), {"n": i})
    assert table.match("10.0.1.44") == [{"n": 300}]
    assert len(table._by_len) == 1  # a single probe answers
