"""Entra ID through Microsoft Graph: ``connect(...)`` gives a ``GraphClient``; the query functions give frames.

``import iamkit.entra`` is light: msal and pandas load when a client is built or a frame is made.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamkit.entra.errors import (  # noqa: F401 - re-exported
    AuthFailed,
    ExpiredSkipToken,
    GraphError,
    GraphNotFound,
    LicenceRequired,
    PermissionDenied,
    Throttled,
    TokenExpired,
)

if TYPE_CHECKING:  # pragma: no cover
    from iamkit.entra.client import GraphClient

__all__ = [
    "connect",
    "connect_or_none",
    "user",
    "groups",
    "auth_methods",
    "mfa",
    "signins",
    "risky_users",
    "risk_detections",
    "directory_audits",
    "person",
    "parse_since",
    "EntraPerson",
    "GraphError",
    "LicenceRequired",
    "PermissionDenied",
    "GraphNotFound",
    "Throttled",
    "TokenExpired",
    "ExpiredSkipToken",
    "AuthFailed",
]
_QUERIES = {
    "user",
    "groups",
    "auth_methods",
    "mfa",
    "signins",
    "risky_users",
    "risk_detections",
    "directory_audits",
    "person",
    "parse_since",
    "EntraPerson",
}


def connect(
    auth: str = "auto",
    *,
    tenant_id: str | None = None,
    client_id: str | None = None,
    authority: str | None = None,
    graph_url: str | None = None,
    cloud: str | None = None,
    ca_bundle: str | Path | None = None,
    token_cache: str | Path | None = None,
    evidence_dir: str | Path | None = None,
    timeout: float | tuple[float, float] | None = None,
    clock: Callable[[], float] | None = None,
    sleeper: Callable[[float], None] | None = None,
    rng: random.Random | None = None,
    now: Callable[[], datetime] | None = None,
    prompt: Callable[[str], None] = print,
    pacing: dict[str, tuple[int, float]] | None = None,
    max_retries: int = 6,
    beta: bool | None = None,
) -> GraphClient:
    """A Graph client. ``auth``: auto|client_secret|certificate|device_code|interactive|static.

    Unset arguments come from ``IAMKIT_ENTRA_*`` / ``IAMKIT_GRAPH_URL``; secrets only from the environment
    (``IAMKIT_ENTRA_CLIENT_SECRET[_FILE]``, ``IAMKIT_ENTRA_CERT_FILE``, ``IAMKIT_GRAPH_TOKEN[_FILE]``).
    ``clock``/``sleeper``/``rng`` are injectable so retries and pacing never sleep in tests.
    ``pacing``: family -> (requests, seconds), default Graph's documented limits (``IAMKIT_GRAPH_PACING=off``
    turns pacing off); ``beta`` (default ``IAMKIT_GRAPH_BETA``): also query Graph beta where it says more.
    ``timeout``: (connect, read) seconds, default the ``connect_timeout``/``read_timeout`` settings.
    """
    from iamkit.entra.auth import EntraSettings, provider
    from iamkit.entra.client import GraphClient, make_session

    settings = EntraSettings.from_env(
        cloud,
        tenant_id=tenant_id,
        client_id=client_id,
        authority_host=authority,
        graph_url=graph_url,
        ca_bundle=str(ca_bundle) if ca_bundle else None,
        token_cache=token_cache,
    )
    from iamkit.config import load

    conf = load()
    if timeout is None:
        timeout = (conf.connect_timeout, conf.read_timeout)
    if settings.token_cache is None:
        settings.token_cache = conf.home / "entra-token-cache.json"
    session = make_session(settings.ca_bundle)
    tokens = provider(
        settings, session, auth, prompt=prompt, timeout=timeout[1] if isinstance(timeout, tuple) else timeout
    )
    if pacing is None:
        pacing = None if _flag("IAMKIT_GRAPH_PACING", True) else {}
    if beta is None:
        beta = _flag("IAMKIT_GRAPH_BETA", False)
    kw: dict[str, Any] = {}
    for name, value in (("clock", clock), ("sleeper", sleeper), ("rng", rng), ("now", now)):
        if value is not None:
            kw[name] = value
    return GraphClient(
        settings.graph_url,
        tokens,
        session=session,
        timeout=timeout,
        evidence_dir=evidence_dir,
        pacing=pacing,
        max_retries=max_retries,
        beta=beta,
        **kw,
    )


def _flag(name: str, default: bool) -> bool:
    """A yes/no environment variable (1/0, true/false, on/off, yes/no); anything else is a clear error."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "on", "yes"):
        return True
    if value in ("0", "false", "off", "no"):
        return False
    from iamkit.errors import BadInput

    raise BadInput(f"{name}={os.environ[name]!r}: use 1/0, true/false, on/off or yes/no")


def connect_or_none(auth: str = "auto", *, say: Callable[[str], None] = print, **kw: Any) -> GraphClient | None:
    """``connect`` for notebooks: None (after saying ``skipped: Entra …`` and why) instead of raising."""
    from iamkit.errors import IamkitError

    try:
        graph = connect(auth, prompt=say, **kw)
        graph.authenticate()
        return graph
    except (IamkitError, ValueError, OSError) as e:
        say(f"skipped: Entra ID — {str(e).splitlines()[0]}")
        return None


def __getattr__(name: str) -> Any:
    if name in _QUERIES:
        from iamkit.entra import queries

        return getattr(queries, name)
    if name == "GraphClient":
        from iamkit.entra.client import GraphClient

        return GraphClient
    raise AttributeError(f"module 'iamkit.entra' has no attribute {name!r}")
