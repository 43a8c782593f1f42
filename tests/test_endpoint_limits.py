"""Bounded failure when an endpoint misbehaves, and usage errors that are one line, through the real entry point."""

from __future__ import annotations

import pytest


def test_unknown_command_and_option_are_usage_errors(closed_endpoints, cli):
    for argv in (["nosuchcmd"], ["trail", "nosuchcmd"], ["--nosuch"], ["trail", "load", "--nosuch"]):
        code, err = cli(argv)
        assert code == 2, (argv, err)


@pytest.fixture()
def blackhole():
    """A loopback server that accepts connections and never answers."""
    import socket
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                held.append(conn)
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join(2)
    for c in held:
        c.close()
    srv.close()


@pytest.fixture()
def untrusted_tls(tmp_path):
    """An HTTPS server on loopback whose certificate no trust store holds."""
    import datetime as dt
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "k.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )

    class H(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.send_response(500)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_endpoint_that_never_answers_fails_in_bounded_time(closed_endpoints, cli, blackhole, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{blackhole}")
    monkeypatch.setenv("IAMKIT_READ_TIMEOUT", "1")
    monkeypatch.setenv("IAMKIT_CONNECT_TIMEOUT", "1")
    monkeypatch.setenv("IAMKIT_MAX_ATTEMPTS", "2")
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    code, err = cli(["inventory", "collect", "--out", str(tmp_path / "snap")])
    assert code == 2 and "unreachable" in err.lower(), err
    assert not (tmp_path / "snap").exists()


def test_endpoint_with_an_untrusted_certificate_is_one_line(
    closed_endpoints, cli, untrusted_tls, monkeypatch, tmp_path
):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"https://127.0.0.1:{untrusted_tls}")
    code, err = cli(["inventory", "collect", "--out", str(tmp_path / "snap")])
    assert code == 2 and "certificate" in err.lower(), err


@pytest.mark.parametrize("value", ["abc", "-1", "0"])
def test_bad_time_limit_settings_are_one_line(closed_endpoints, cli, monkeypatch, tmp_path, value):
    monkeypatch.setenv("IAMKIT_READ_TIMEOUT", value)
    code, err = cli(["inventory", "collect", "--out", str(tmp_path / "snap")])
    assert code == 2 and "IAMKIT_READ_TIMEOUT" in err, err


def test_graph_that_never_answers_fails_in_bounded_time(closed_endpoints, cli, blackhole, monkeypatch):
    monkeypatch.setenv("IAMKIT_ENTRA_AUTHORITY", f"http://127.0.0.1:{blackhole}")
    monkeypatch.setenv("IAMKIT_GRAPH_URL", f"http://127.0.0.1:{blackhole}")
    monkeypatch.setenv("IAMKIT_GRAPH_TOKEN", "header.payload.signature")
    monkeypatch.setenv("IAMKIT_READ_TIMEOUT", "1")
    monkeypatch.setenv("IAMKIT_CONNECT_TIMEOUT", "1")
    code, err = cli(["entra", "user", "someone@example.com", "--auth", "static"])
    assert code == 2 and "unreachable: readtimeout" in err.lower(), err
