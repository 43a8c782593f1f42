"""Fixtures shared by the whole suite: the sandbox (read-only, one per xdist worker), small isolated
sandboxes for tests that mutate, a network guard that fails any test reaching beyond loopback, and the
hypothesis profiles (``ci``: derandomized, the default; ``fuzz``: many random examples, ``make fuzz``)."""

from __future__ import annotations

import contextlib
import io
import ipaddress
import itertools
import os
import signal
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, is_hypothesis_test, settings

# --------------------------------------------------------------------------------------- hypothesis profiles
# Profiles are the defaults every @settings(...) inherits for the fields it leaves unset, so a test that sets
# its own max_examples is still derandomized under "ci". `make test` passes --hypothesis-profile=ci; plain
# pytest loads it here too, so no run of the suite depends on a random seed unless asked (`make fuzz`).
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True, max_examples=100, database=None)
settings.register_profile(
    "fuzz",
    derandomize=False,
    deadline=None,
    print_blob=True,
    max_examples=5000,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci")

# ------------------------------------------------------------------------------------------- network guard
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo
_violations: list[str] = []


def _loopback_host(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    host = str(host).split("%", 1)[0]
    if host in ("localhost", "") or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host == socket.gethostname()
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified  # 0.0.0.0 / :: reach this host only


def _is_ip(host: Any) -> bool:
    try:
        ipaddress.ip_address(host.decode() if isinstance(host, bytes) else str(host).split("%", 1)[0])
    except ValueError:
        return False
    return True


def _check(sock: socket.socket, address: Any) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback_host(address[0]):
        _violations.append(f"connect to {address!r}")
        raise ConnectionRefusedError(f"tests may only connect to loopback, not {address!r} (no_network guard)")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check(self, address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check(self, address)
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if host is not None and not _loopback_host(host) and not _is_ip(host):
        _violations.append(f"resolve {host!r}")
        raise socket.gaierror(socket.EAI_NONAME, f"tests may not resolve {host!r} (no_network guard)")
    return _real_getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
socket.getaddrinfo = _guarded_getaddrinfo


@pytest.fixture(autouse=True)
def no_network() -> Iterator[None]:
    """Fail the test if anything tried to connect (or resolve a name) beyond loopback, even if it was caught."""
    _violations.clear()
    yield
    if _violations:
        found = list(_violations)
        _violations.clear()
        pytest.fail(f"network access outside loopback: {found}")


@pytest.fixture
def network_violations() -> list[str]:
    """The guard's record of blocked attempts in this test (a test of the guard clears it itself)."""
    return _violations


# ------------------------------------------------------------------------------------------------ sandboxes
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a sandbox fixture ``sandbox`` (so ``-m "not sandbox"`` skips them), and every
    hypothesis test ``property`` (``make fuzz`` runs ``-m property``)."""
    for item in items:
        if {"sandbox", "isolated_sandbox"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.sandbox)
        if is_hypothesis_test(getattr(item, "obj", None)):
            item.add_marker(pytest.mark.property)


_STRIP = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "MOTO_ACCOUNT_ID",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)


def _apply_env(env: dict[str, str]) -> dict[str, str | None]:
    """Set ``env`` (and drop variables that would redirect boto3); return what to restore."""
    saved = {k: os.environ.get(k) for k in (*env, *_STRIP)}
    for k in _STRIP:
        os.environ.pop(k, None)
    os.environ.update(env)
    _forget_default_boto3_session()
    return saved


def _forget_default_boto3_session() -> None:
    """boto3's module-level default session caches credentials: drop it whenever the env changes."""
    import boto3

    boto3.DEFAULT_SESSION = None


def _restore_env(saved: dict[str, str | None]) -> None:
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    _forget_default_boto3_session()


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The default sandbox (seed 7, 4 members × 40 roles, the compromised-access-key incident, fewer benign
    events), its env vars set for the session. READ-ONLY: use ``isolated_sandbox`` to mutate."""
    import iamkit.sandbox

    sb = iamkit.sandbox.start(benign_events=1000, workdir=tmp_path_factory.mktemp("sandbox"))
    saved = _apply_env(sb.env())
    try:
        yield sb
    finally:
        _restore_env(saved)
        sb.stop()


_isolated_seeds = itertools.count(1000)


@pytest.fixture
def isolated_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Any]]:
    """Factory for a small private sandbox a test may mutate: ``sb = isolated_sandbox(set_env=True, **start_kw)``.

    Each gets its own seed, hence its own account ids (moto's state is per process, so this is what isolates
    it). ``set_env=True`` points the env vars at it for the test; everything is restored and stopped after.
    """
    import iamkit.sandbox

    started: list[tuple[Any, dict[str, str | None] | None]] = []

    def make(set_env: bool = False, **kw: Any) -> Any:
        kw.setdefault("seed", next(_isolated_seeds))
        kw.setdefault("roles_per_account", 25)
        kw.setdefault("benign_events", 200)
        kw.setdefault("entra", False)
        kw.setdefault("workdir", tmp_path_factory.mktemp("isolated-sandbox"))
        sb = iamkit.sandbox.start(**kw)
        started.append((sb, _apply_env(sb.env()) if set_env else None))
        return sb

    yield make
    for sb, saved in reversed(started):
        if saved is not None:
            _restore_env(saved)
        sb.stop()


# ------------------------------------------------------------------------------------ the CLI, in-process
HANG_LIMIT_S = 30


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture()
def closed_endpoints(monkeypatch, tmp_path):
    """Every endpoint on a closed loopback port; no credentials anyone could use; fast failure settings."""
    port = closed_port()
    url = f"http://127.0.0.1:{port}"
    for k in list(os.environ):
        if k.startswith(("AWS_", "IAMKIT_ENTRA", "IAMKIT_SANDBOX")):
            monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("IAMKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("IAMKIT_CASES", str(tmp_path / "cases"))
    monkeypatch.setenv("IAMKIT_CONFIG", str(tmp_path / "no-config.yaml"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWALKWALKWALKWALK")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "walk-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("IAMKIT_ENTRA_AUTHORITY", f"https://127.0.0.1:{port}")
    monkeypatch.setenv("IAMKIT_ENTRA_GRAPH_URL", f"https://127.0.0.1:{port}")
    monkeypatch.setenv("IAMKIT_ENTRA_TENANT_ID", "00000000-0000-0000-0000-000000000000")
    monkeypatch.setenv("IAMKIT_ENTRA_CLIENT_ID", "00000000-0000-0000-0000-000000000001")
    monkeypatch.setenv("IAMKIT_ENTRA_CLIENT_SECRET", "walk-secret")
    monkeypatch.setenv("IAMKIT_CONNECT_TIMEOUT", "2")
    monkeypatch.setenv("IAMKIT_READ_TIMEOUT", "2")
    monkeypatch.chdir(tmp_path)
    return url


class Hang(BaseException):  # not an Exception: main() must not be able to swallow it
    pass


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``iamkit ARGV`` in-process: (exit code, stdout, stderr); raises on anything but a clean exit."""
    from iamkit.cli import main

    out, err = io.StringIO(), io.StringIO()

    def on_alarm(*_):
        raise Hang(f"iamkit {' '.join(argv)[:200]} ran over {HANG_LIMIT_S} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(HANG_LIMIT_S)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(argv)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
            else:  # main always exits
                code = -1
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return code, out.getvalue(), err.getvalue()


def check_cli(argv: list[str]) -> tuple[int, str]:
    try:
        code, out, err = run_cli(argv)
    except Hang:
        raise
    except BaseException as e:  # noqa: BLE001 - the point is that nothing escapes
        raise AssertionError(
            f"iamkit {' '.join(map(repr, argv))[:300]} raised {e.__class__.__name__}: {str(e)[:300]}"
        ) from e
    assert code in (0, 1, 2), f"iamkit {argv!r}: exit {code}\n{err[-2000:]}"
    assert "internal error" not in err, f"iamkit {argv!r}: {err[-2000:]}"
    assert "Traceback" not in err and "Traceback" not in out, f"iamkit {argv!r} printed a traceback:\n{err[-3000:]}"
    if code == 2:
        assert err.strip(), f"iamkit {argv!r}: exit 2 with nothing on stderr"
    return code, err


@pytest.fixture()
def cli() -> Callable[[list[str]], tuple[int, str]]:
    """``cli(argv)``: run ``iamkit ARGV`` in-process; fails on a traceback, an escaped exception, an exit code
    outside {0, 1, 2}, an ``internal error`` line or a run over 30 s; returns (exit code, stderr)."""
    return check_cli
