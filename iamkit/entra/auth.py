"""Tokens for Microsoft Graph through msal: client secret, certificate, device code, interactive, static.

Settings come from arguments or ``IAMKIT_ENTRA_*`` variables; secrets only from the environment or a file
path (never from parameters a notebook would record). msal shares the client's ``requests`` session, and
instance discovery is turned off when the authority host is not one of Microsoft's (sovereign hosts and the
local sandbox), so nothing is sent to login.microsoftonline.com unless it is the authority.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from iamkit.entra.errors import AuthFailed, TokenExpired
from iamkit.errors import BadInput

if TYPE_CHECKING:  # pragma: no cover
    import requests

# National clouds: authority host and Graph base URL.
CLOUDS: dict[str, tuple[str, str]] = {
    "global": ("https://login.microsoftonline.com", "https://graph.microsoft.com/v1.0"),
    "usgov": ("https://login.microsoftonline.us", "https://graph.microsoft.us/v1.0"),
    "dod": ("https://login.microsoftonline.us", "https://dod-graph.microsoft.us/v1.0"),
    "china": ("https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn/v1.0"),
}
MICROSOFT_AUTHORITY_HOSTS = {
    "login.microsoftonline.com",
    "login.microsoft.com",
    "login.windows.net",
    "sts.windows.net",
    "login.microsoftonline.us",
    "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn",
}
# Delegated (device code / interactive) scopes, relative to the Graph resource.
DELEGATED_SCOPES = [
    "User.Read.All",
    "GroupMember.Read.All",
    "AuditLog.Read.All",
    "UserAuthenticationMethod.Read.All",
    "IdentityRiskyUser.Read.All",
    "IdentityRiskEvent.Read.All",
]
AUTH_KINDS = ("auto", "client_secret", "certificate", "device_code", "interactive", "static")
APP_ONLY = ("client_secret", "certificate")
# Authority "tenants" that name no tenant: fine for delegated sign-in, meaningless for an app token (client
# credentials are issued by one tenant; Entra answers /common and /organizations with AADSTS50059, and msal
# warns that "Using /common or /organizations authority in acquire_token_for_client() is unreliable").
NO_TENANT = ("organizations", "common", "consumers")


def _env(name: str) -> str | None:
    v = os.environ.get(name)
    return v if v else None


def read_secret(var: str) -> str | None:
    """A secret from ``VAR`` or from the file named by ``VAR_FILE`` (stripped); None when neither is set."""
    if _env(var):
        return os.environ[var]
    path = _env(var + "_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as e:
            raise BadInput(f"cannot read {var}_FILE {path}: {e.strerror}") from None
    return None


@dataclass
class EntraSettings:
    """Where the tenant is: tenant id, client id, authority host, Graph base URL, CA bundle, cloud."""

    tenant_id: str = ""
    client_id: str = ""
    authority_host: str = CLOUDS["global"][0]
    graph_url: str = CLOUDS["global"][1]
    ca_bundle: str | None = None
    token_cache: Path | None = None
    scopes: list[str] = field(default_factory=list)

    @classmethod
    def from_env(cls, cloud: str | None = None, **overrides: Any) -> EntraSettings:
        """Settings from ``IAMKIT_ENTRA_*`` / ``IAMKIT_GRAPH_URL``, overridden by non-None ``overrides``."""
        cloud = cloud or _env("IAMKIT_ENTRA_CLOUD") or "global"
        if cloud not in CLOUDS:
            raise BadInput(f"unknown Entra cloud {cloud!r}; one of {', '.join(CLOUDS)}")
        host, graph = CLOUDS[cloud]
        cache = _env("IAMKIT_ENTRA_TOKEN_CACHE")
        s = cls(
            tenant_id=_env("IAMKIT_ENTRA_TENANT_ID") or "organizations",
            client_id=_env("IAMKIT_ENTRA_CLIENT_ID") or "",
            authority_host=_env("IAMKIT_ENTRA_AUTHORITY") or host,
            graph_url=_env("IAMKIT_GRAPH_URL") or graph,
            ca_bundle=_env("IAMKIT_ENTRA_CA_BUNDLE"),
            token_cache=Path(cache) if cache else None,
        )
        for k, v in overrides.items():
            if v is not None:
                setattr(s, k, Path(v) if k == "token_cache" else v)
        s.authority_host = s.authority_host.rstrip("/")
        s.graph_url = s.graph_url.rstrip("/")
        return s

    @property
    def authority(self) -> str:
        """The authority URL msal needs: host + tenant (unless the host URL already names a tenant)."""
        parts = urlsplit(self.authority_host)
        if parts.path.strip("/"):
            return self.authority_host
        return f"{self.authority_host}/{self.tenant_id}"

    @property
    def tenant(self) -> str:
        """The tenant the authority names (its first path segment)."""
        return urlsplit(self.authority).path.strip("/").split("/", 1)[0]

    @property
    def is_microsoft_authority(self) -> bool:
        return (urlsplit(self.authority_host).hostname or "").lower() in MICROSOFT_AUTHORITY_HOSTS

    @property
    def graph_resource(self) -> str:
        """``https://host`` of the Graph base URL (the resource scopes are relative to)."""
        p = urlsplit(self.graph_url)
        return f"{p.scheme}://{p.netloc}"

    def app_scopes(self) -> list[str]:
        return [f"{self.graph_resource}/.default"]

    def delegated_scopes(self) -> list[str]:
        return self.scopes or [f"{self.graph_resource}/{s}" for s in DELEGATED_SCOPES]


class TokenProvider:
    """Base: ``token(force_refresh)`` returns a bearer token; ``refreshable`` says whether a 401 can be retried."""

    kind = "none"
    refreshable = True

    def token(self, *, force_refresh: bool = False) -> str:  # pragma: no cover - interface
        raise NotImplementedError


class StaticToken(TokenProvider):
    """A token given as is (air-gapped replay, or one minted elsewhere): never refreshed."""

    kind = "static"
    refreshable = False

    def __init__(self, token: str):
        if not token:
            raise BadInput("static Graph token is empty (set IAMKIT_GRAPH_TOKEN or IAMKIT_GRAPH_TOKEN_FILE)")
        self._token = token

    def token(self, *, force_refresh: bool = False) -> str:
        if force_refresh:
            raise TokenExpired("the static Graph token expired and cannot be renewed; mint a new one")
        return self._token

    def __repr__(self) -> str:
        return "StaticToken(<redacted>)"


def _cert_credential(path: str) -> dict[str, str]:
    """msal's certificate credential from a PEM file holding the private key and the certificate.

    The certificate is named by its SHA-256 thumbprint (``x5t#S256``, PS256). The pinned msal (1.39) has no
    ``thumbprint_sha256`` key: it computes the SHA-256 thumbprint from ``public_certificate`` when no SHA-1
    ``thumbprint`` is given (msal ``ConfidentialClientApplication`` docs, "Changed in version 1.35.0"), so the
    SHA-1 ``thumbprint`` is left out on purpose. ``thumbprint_sha256`` is returned for display and checks
    (it is what the app registration lists); ``MsalToken`` passes msal only the keys msal knows.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    try:
        pem = Path(path).read_bytes()
    except OSError as e:
        raise BadInput(f"cannot read certificate file {path}: {e.strerror}") from None
    try:
        cert = x509.load_pem_x509_certificate(pem)
        serialization.load_pem_private_key(pem, password=None)
    except ValueError as e:
        raise BadInput(f"{path} must hold a PEM private key and certificate: {e}") from None
    return {
        "private_key": pem.decode(),
        "thumbprint_sha256": cert.fingerprint(hashes.SHA256()).hex(),
        "public_certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
    }


class MsalToken(TokenProvider):
    """Tokens from msal: app-only (secret, certificate) or delegated (device code, interactive)."""

    def __init__(
        self,
        settings: EntraSettings,
        kind: str,
        session: requests.Session,
        *,
        credential: Any = None,
        prompt: Callable[[str], None] = print,
        timeout: float = 30,
    ):
        import msal

        if not settings.client_id:
            raise BadInput("Entra client id missing: set IAMKIT_ENTRA_CLIENT_ID or pass client_id")
        if kind in APP_ONLY and settings.tenant.lower() in NO_TENANT:
            raise BadInput(
                f"{kind} sign-in needs a tenant id, not {settings.tenant!r}: set IAMKIT_ENTRA_TENANT_ID "
                "(app-only tokens are issued by one tenant)"
            )
        self.kind = kind
        self.settings = settings
        self._prompt = prompt
        self._cache = msal.SerializableTokenCache()
        self._cache_path = settings.token_cache if kind in ("device_code", "interactive") else None
        if self._cache_path and self._cache_path.is_file():
            self._cache.deserialize(self._cache_path.read_text())
        common = dict(authority=settings.authority, http_client=session, token_cache=self._cache, timeout=timeout)
        if not settings.is_microsoft_authority:
            common.update(instance_discovery=False, validate_authority=False)
        self.thumbprint_sha256 = credential.get("thumbprint_sha256") if isinstance(credential, dict) else None
        if isinstance(credential, dict):  # msal gets only the keys it knows (see _cert_credential)
            credential = {k: v for k, v in credential.items() if k != "thumbprint_sha256"}
        try:
            if kind in APP_ONLY:
                self._app = msal.ConfidentialClientApplication(
                    settings.client_id, client_credential=credential, **common
                )
            else:
                self._app = msal.PublicClientApplication(settings.client_id, **common)
        except ValueError as e:
            raise AuthFailed(f"Entra authority {settings.authority} rejected: {e}") from None

    def _save_cache(self) -> None:
        """Persist the delegated token cache (0600) only when msal changed it."""
        if not self._cache_path or not self._cache.has_state_changed:
            return
        self._cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._cache_path.with_name(self._cache_path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self._cache.serialize())
        os.chmod(tmp, 0o600)
        os.replace(tmp, self._cache_path)
        self._cache.has_state_changed = False

    def _check(self, result: dict | None, what: str) -> str:
        if not result or "access_token" not in result:
            err = (result or {}).get("error", "no_token")
            desc = ((result or {}).get("error_description") or "").splitlines()[0:1]
            raise AuthFailed(f"Entra {what} failed: {err}{': ' + desc[0] if desc else ''}", code=err)
        self._save_cache()
        return result["access_token"]

    def token(self, *, force_refresh: bool = False) -> str:
        if self.kind in APP_ONLY:
            if force_refresh:
                self._app.remove_tokens_for_client()
            return self._check(self._app.acquire_token_for_client(self.settings.app_scopes()), self.kind)
        scopes = self.settings.delegated_scopes()
        accounts = self._app.get_accounts()
        if accounts:
            result = self._app.acquire_token_silent(scopes, account=accounts[0], force_refresh=force_refresh)
            if result and "access_token" in result:
                return self._check(result, "silent refresh")
        if self.kind == "interactive":
            if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY") and os.name == "posix":
                raise BadInput("interactive Entra sign-in needs a local desktop; use auth='device_code'")
            return self._check(self._app.acquire_token_interactive(scopes), "interactive sign-in")
        flow = self._app.initiate_device_flow(scopes=scopes)
        if "user_code" not in flow:
            raise AuthFailed(
                f"Entra device code request failed: {flow.get('error', 'unknown error')}", code=flow.get("error")
            )
        self._prompt(flow["message"])
        return self._check(self._app.acquire_token_by_device_flow(flow), "device code sign-in")


def provider(
    settings: EntraSettings,
    session: requests.Session,
    auth: str = "auto",
    *,
    prompt: Callable[[str], None] = print,
    timeout: float = 30,
) -> TokenProvider:
    """Pick the token source: ``auto`` = static token, else client secret, else certificate, else device code."""
    if auth not in AUTH_KINDS:
        raise BadInput(f"unknown Entra auth {auth!r}; one of {', '.join(AUTH_KINDS)}")
    token = read_secret("IAMKIT_GRAPH_TOKEN")
    secret = read_secret("IAMKIT_ENTRA_CLIENT_SECRET")
    cert = _env("IAMKIT_ENTRA_CERT_FILE")
    if auth == "auto":
        auth = "static" if token else "client_secret" if secret else "certificate" if cert else "device_code"
    if auth == "static":
        return StaticToken(token or "")
    if auth == "client_secret":
        if not secret:
            raise BadInput("client secret missing: set IAMKIT_ENTRA_CLIENT_SECRET or IAMKIT_ENTRA_CLIENT_SECRET_FILE")
        return MsalToken(settings, auth, session, credential=secret, timeout=timeout)
    if auth == "certificate":
        if not cert:
            raise BadInput("certificate missing: set IAMKIT_ENTRA_CERT_FILE (PEM with key and certificate)")
        return MsalToken(settings, auth, session, credential=_cert_credential(cert), timeout=timeout)
    return MsalToken(settings, auth, session, prompt=prompt, timeout=timeout)


def token_claims(token: str) -> dict | None:
    """The (unverified) claims of a JWT access token; None when it is not a readable JWT.

    Only ever read from the caller's own token, to know its expiry and the permissions it carries.
    """
    import base64
    import json

    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, TypeError):
        return None
    return claims if isinstance(claims, dict) else None


def token_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT access token (epoch seconds), None when it is not a readable JWT."""
    try:
        return float((token_claims(token) or {})["exp"])
    except (KeyError, ValueError, TypeError):
        return None


def token_permissions(token: str) -> set[str] | None:
    """The permissions a token carries: app roles (``roles``) and delegated scopes (``scp``); None when unknown."""
    claims = token_claims(token)
    if claims is None or ("roles" not in claims and "scp" not in claims):
        return None
    roles = claims.get("roles") or []
    scopes = claims.get("scp") or ""
    return {str(r) for r in roles if isinstance(r, str)} | set(str(scopes).split())


def is_expired(token: str, now: float | None = None) -> bool:
    """True when a JWT's ``exp`` is in the past (unknown expiry counts as not expired)."""
    exp = token_expiry(token)
    return exp is not None and exp <= (now if now is not None else time.time())
