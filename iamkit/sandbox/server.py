"""moto's server, in-process on 127.0.0.1 with a free port, and boto3 sessions that pick a moto account.

moto keeps its backends in process-global dicts, so several servers in one process share state; the
seeding therefore derives every account id from the seed (different seeds never collide).
"""

from __future__ import annotations

import json
import logging
import urllib.request
from dataclasses import dataclass
from typing import Any

from iamkit.errors import EndpointUnreachable
from iamkit.sandbox import fastserial

FAKE_SECRET = "sandbox-fake-secret-not-used-by-moto"  # moto does not verify signatures
REGION = "us-east-1"
ACCOUNT_HEADER = "x-moto-account-id"


@dataclass
class MotoServer:
    """A running in-process moto server."""

    host: str
    port: int
    _server: Any

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def seed_random(self, seed: int) -> None:
        """Seed moto's random (``/moto-api/seed``) so the ids it generates are deterministic."""
        req = urllib.request.Request(f"{self.endpoint_url}/moto-api/seed?a={int(seed)}", method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback only
            resp.read()

    def stop(self) -> None:
        """Shut the server down (the backends' state stays in the process)."""
        if self._server is not None:
            wsgi = getattr(self._server, "_server", None)
            self._server.stop()
            if wsgi is not None:  # moto's stop() leaves the socket listening: clients would hang, not fail
                wsgi.server_close()
            self._server = None


def start_server(host: str = "127.0.0.1", port: int = 0) -> MotoServer:
    """Start moto's ThreadedMotoServer on ``host`` (port 0 = any free port) and return the real port."""
    from moto.server import ThreadedMotoServer

    fastserial.apply_for_sandbox()  # byte-identical, faster serializer (IAMKIT_SANDBOX_FAST_SERIALIZER=0: off)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    try:
        server.start()
        real_host, real_port = server.get_host_and_port()
    except OSError as e:
        raise EndpointUnreachable(f"cannot start the moto server on {host}:{port}: {e}") from e
    return MotoServer(host=host, port=int(real_port), _server=server)


def account_session(
    endpoint_url: str, account_id: str | None = None, access_key_id: str = "AKIAIOSFODNN7SANDBOX", region: str = REGION
) -> Any:
    """A boto3 Session whose clients and resources go to the sandbox (whatever the environment says);
    with ``account_id`` every request carries moto's account header."""
    import boto3

    class SandboxSession(boto3.Session):
        def client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:  # noqa: D102
            if not args and kwargs.get("endpoint_url") is None:
                kwargs["endpoint_url"] = endpoint_url
            return super().client(service_name, *args, **kwargs)

        def resource(self, service_name: str, *args: Any, **kwargs: Any) -> Any:  # noqa: D102
            if not args and kwargs.get("endpoint_url") is None:
                kwargs["endpoint_url"] = endpoint_url
            return super().resource(service_name, *args, **kwargs)

    session = SandboxSession(aws_access_key_id=access_key_id, aws_secret_access_key=FAKE_SECRET, region_name=region)
    if account_id:

        def _add_header(request: Any, **_: Any) -> None:
            request.headers[ACCOUNT_HEADER] = account_id

        session.events.register("before-sign", _add_header)
    return session


def client(session: Any, service: str, endpoint_url: str, region: str = REGION) -> Any:
    """A boto3 client on the sandbox endpoint with retries off (moto never throttles)."""
    from botocore.config import Config

    return session.client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, max_pool_connections=32),
    )


def ping(endpoint_url: str, timeout: float = 2.0) -> bool:
    """True when a moto server answers at ``endpoint_url``."""
    try:
        with urllib.request.urlopen(f"{endpoint_url}/moto-api/config", timeout=timeout) as r:  # noqa: S310
            json.loads(r.read() or b"{}")
        return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False
