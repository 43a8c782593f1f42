"""start() keeps going, and says so, when the trail generator or the fake Entra is missing or fails."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import iamkit.sandbox as sandbox_mod
from iamkit.errors import TrailError
from iamkit.sandbox.model import Account, SeededOrg


def _sb(tmp_path: Path) -> sandbox_mod.Sandbox:
    org = SeededOrg(seed=1, org_id="o-abc", management_account_id="111111111111", trail_bucket="b")
    org.accounts = [
        Account("111111111111", "m", "Root", "m@x", is_management=True),
        Account("222222222222", "s", "Security", "s@x"),
    ]
    return sandbox_mod.Sandbox(endpoint_url="http://127.0.0.1:1", org=org, workdir=tmp_path, access_key_id="AKIA")


def _write(sb):
    return sandbox_mod._write_trail(
        sb,
        benign_events=10,
        days=1,
        seed=1,
        local_trail_dir=None,
        scenario="compromised-access-key",
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_trail_written_to_the_security_account_bucket(tmp_path, monkeypatch):
    from iamkit.sandbox import trailgen

    seen = {}

    def fake(org, **kw):
        seen.update(kw)
        return {"files": 3}

    monkeypatch.setattr(trailgen, "write_trail", fake)
    sb = _sb(tmp_path)
    assert _write(sb) == {"files": 3} and sb.notes == []
    writer, bucket = seen["dest_s3"]
    assert (writer.account_id, bucket) == ("222222222222", "b") and seen["end"] == datetime(2026, 1, 1, tzinfo=UTC)


def test_partial_trail_is_noted_not_fatal(tmp_path, monkeypatch):
    from iamkit.sandbox import trailgen

    def boom(org, **kw):
        raise TrailError("2 uploads failed: a, b")

    monkeypatch.setattr(trailgen, "write_trail", boom)
    sb = _sb(tmp_path)
    assert _write(sb) == {"errors": ["2 uploads failed: a, b"]}
    assert sb.notes == ["CloudTrail partly written: 2 uploads failed: a, b"]


def test_missing_trail_generator_is_noted(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "iamkit.sandbox.trailgen", None)
    monkeypatch.delattr(sandbox_mod, "trailgen", raising=False)
    sb = _sb(tmp_path)
    assert _write(sb) == {}
    assert "trail generator iamkit.sandbox.trailgen not available" in sb.notes[0]


def test_missing_entra_is_noted(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "iamkit.sandbox.entra", None)
    monkeypatch.delattr(sandbox_mod, "entra", raising=False)
    sb = _sb(tmp_path)
    assert sandbox_mod._start_entra(sb, datetime(2026, 1, 1, tzinfo=UTC)) is None
    assert "fake Entra iamkit.sandbox.entra not available" in sb.notes[0]
    assert "IAMKIT_ENTRA_AUTHORITY" not in sb.env()


def test_env_has_what_clients_need(tmp_path):
    env = _sb(tmp_path).env()
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1" and env["AWS_ACCESS_KEY_ID"] == "AKIA"
    assert env["AWS_EC2_METADATA_DISABLED"] == "true"
    assert Path(env["IAMKIT_SANDBOX_MANIFEST"]).name == "manifest.json"


def test_a_stopped_server_refuses_connections_at_once():
    import socket

    from iamkit.sandbox.server import ping, start_server

    srv = start_server()
    url = srv.endpoint_url
    assert ping(url)
    srv.stop()
    assert not ping(url, timeout=5)
    with socket.socket() as s:
        assert s.connect_ex((srv.host, srv.port)) != 0
