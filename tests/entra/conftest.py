"""Fixtures for the Entra tests: the fake Entra/Graph (HTTPS, its own CA), a moto server, a loopback guard."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from entra_helpers import ALICE, DEV, IC_ACCOUNT, NOW, PROD, FakeClock, small_org  # noqa: E402

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def _host_of(address) -> str | None:
    return address[0] if isinstance(address, tuple) and address else None


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Refuse (and record) any connection or name lookup that is not loopback: nothing leaves the machine."""
    real_connect, real_connect_ex, real_getaddrinfo = (
        socket.socket.connect,
        socket.socket.connect_ex,
        socket.getaddrinfo,
    )
    refused: list[str] = []
    connections: list[tuple[str, int]] = []  # every TCP destination opened during the test

    def check(address):
        host = _host_of(address)
        if host is None:  # AF_UNIX
            return
        connections.append((host, address[1]))
        if host not in LOOPBACK:
            refused.append(f"{host}:{address[1]}")
            raise ConnectionRefusedError(f"test guard: non-loopback destination {host}:{address[1]}")

    def connect(self, address):
        check(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        check(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kw):
        h = host.decode() if isinstance(host, bytes) else host
        if h is not None and h not in LOOPBACK:
            refused.append(f"dns:{h}")
            raise socket.gaierror(f"test guard: refusing to resolve {h}")
        return real_getaddrinfo(host, *args, **kw)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield {"refused": refused, "connections": connections}
    assert not refused, f"non-loopback traffic attempted: {refused}"


@pytest.fixture(scope="session")
def org():
    return small_org()


@pytest.fixture(scope="session")
def fake_server(org, tmp_path_factory):
    from iamkit.sandbox import entra as fake_entra

    fake = fake_entra.start(org, tmp_path_factory.mktemp("fake-entra"), now=NOW)
    yield fake
    fake.stop()


@pytest.fixture
def fake(fake_server, clock):
    """The fake, reset to a clean state (no faults, empty log, P2 licence, every permission), its rate limits
    running on the test's injected clock (the one the ``graph`` client paces on)."""
    fake_server.reset()
    fake_server.use_clock(clock)
    yield fake_server
    fake_server.reset()


@pytest.fixture
def entra_env(fake, monkeypatch, tmp_path):
    """Environment pointing iamkit.entra at the fake (client secret auth); no other Entra variables."""
    import os

    for var in list(os.environ):
        if var.startswith(("IAMKIT_ENTRA_", "IAMKIT_GRAPH_")):
            monkeypatch.delenv(var)
    for k, v in fake.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("IAMKIT_HOME", str(tmp_path / "home"))
    return fake.env()


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def graph(entra_env, clock, tmp_path):
    """A GraphClient on the fake with an injected clock (no real sleeping) and an evidence folder."""
    import random

    from iamkit import entra

    return entra.connect(
        "client_secret",
        clock=clock,
        sleeper=clock.sleep,
        rng=random.Random(5),
        now=lambda: NOW,
        evidence_dir=tmp_path / "evidence",
    )


@pytest.fixture
def beta_graph(entra_env, clock, tmp_path):
    """Like ``graph``, but opted in to Graph beta (the way an analyst does: IAMKIT_GRAPH_BETA=1)."""
    import random

    from iamkit import entra

    return entra.connect(
        "client_secret",
        clock=clock,
        sleeper=clock.sleep,
        rng=random.Random(5),
        now=lambda: NOW,
        evidence_dir=tmp_path / "evidence-beta",
        beta=True,
    )


@pytest.fixture
def injected_connect(monkeypatch, clock):
    """``iamkit.entra.connect`` as the CLI and correlate call it, but pacing and backing off on the test's
    injected clock (so the rate limits never make a test sleep for real)."""
    import functools
    import random

    from iamkit import entra

    monkeypatch.setattr(
        entra, "connect", functools.partial(entra.connect, clock=clock, sleeper=clock.sleep, rng=random.Random(5))
    )
    return clock


@pytest.fixture
def raw(fake):
    """Bare HTTPS calls to the fake (no iamkit client): ``raw(method, path, token=..., **requests_kw)``."""
    from iamkit.entra.client import make_session

    session = make_session(str(fake.ca_bundle))  # trusts the fake's CA whatever REQUESTS_CA_BUNDLE says

    def call(method: str, path: str, *, token: str | None = None, **kw):
        headers = {**kw.pop("headers", {}), "Authorization": f"Bearer {token or fake.issue_token()}"}
        return session.request(method, fake.authority_url + path, headers=headers, timeout=10, **kw)

    yield call
    session.close()


@pytest.fixture(scope="session")
def moto_endpoint():
    from iamkit.sandbox.server import start_server

    server = start_server()
    yield server.endpoint_url
    server.stop()


@pytest.fixture(scope="session")
def identity_center(moto_endpoint):
    """Identity Center seeded by hand: alice (+ AWS-Admins group → Admin in PROD, direct ReadOnly in DEV), bob."""
    from iamkit.sandbox.server import account_session, client

    session = account_session(moto_endpoint, IC_ACCOUNT)
    sso, ids = client(session, "sso-admin", moto_endpoint), client(session, "identitystore", moto_endpoint)
    inst = sso.list_instances()["Instances"][0]
    store, iarn = inst["IdentityStoreId"], inst["InstanceArn"]
    users = {}
    for upn, given in ((ALICE, "Alice"), ("bob@corp.example", "Bob")):
        users[upn] = ids.create_user(
            IdentityStoreId=store,
            UserName=upn,
            DisplayName=given,
            Name={"GivenName": given, "FamilyName": "X"},
            Emails=[{"Value": upn, "Primary": True}],
        )["UserId"]
    admins = ids.create_group(IdentityStoreId=store, DisplayName="AWS-Admins")["GroupId"]
    ids.create_group_membership(IdentityStoreId=store, GroupId=admins, MemberId={"UserId": users[ALICE]})
    ps = {
        n: sso.create_permission_set(Name=n, InstanceArn=iarn)["PermissionSet"]["PermissionSetArn"]
        for n in ("AdministratorAccess", "ReadOnly")
    }
    sso.create_account_assignment(
        InstanceArn=iarn,
        TargetId=PROD,
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=ps["AdministratorAccess"],
        PrincipalType="GROUP",
        PrincipalId=admins,
    )
    sso.create_account_assignment(
        InstanceArn=iarn,
        TargetId=DEV,
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=ps["ReadOnly"],
        PrincipalType="USER",
        PrincipalId=users[ALICE],
    )
    sso.create_account_assignment(
        InstanceArn=iarn,
        TargetId=DEV,
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=ps["AdministratorAccess"],
        PrincipalType="USER",
        PrincipalId=users["bob@corp.example"],
    )
    iam = client(session, "iam", moto_endpoint)  # a key of this account, for processes that cannot add a header
    iam.create_user(UserName="notebook-analyst")
    key = iam.create_access_key(UserName="notebook-analyst")["AccessKey"]
    return {
        "session": session,
        "users": users,
        "group": admins,
        "store": store,
        "key": (key["AccessKeyId"], key["SecretAccessKey"]),
    }


@pytest.fixture
def aws_env(entra_env, identity_center, moto_endpoint, monkeypatch, tmp_path):
    """Env for child processes (papermill kernel, CLI): the fake Entra and moto, keyed to the Identity Center account."""
    key_id, secret = identity_center["key"]
    for k, v in {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": key_id,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    return identity_center
