"""A fake Entra authority and Microsoft Graph over HTTPS on 127.0.0.1, seeded from a ``SeededOrg``.

It speaks enough of both for msal and ``iamkit.entra`` to run unchanged: OIDC discovery, the token endpoint
(client secret, client assertion, device code, refresh token), the device-code endpoint, and the Graph routes
iamkit reads, with real paging (``@odata.nextLink`` + skip tokens), ``$batch``, ``ConsistencyLevel`` checks,
licence levels and fault injection (429 with or without Retry-After, 403 licence / permission, 401 expiry,
expired skip tokens). A CA and a server certificate are generated at start-up into ``workdir``.

It is as strict as the real service where iamkit's answers depend on it (each rule cites its page):

- v1.0 ``signIns`` carry only the v1.0 field set; beta adds ``authenticationRequirement``, ``mfaDetail``,
  ``authenticationDetails``, ``userAgent``, ``signInEventTypes`` (``V1_SIGNIN_FIELDS``);
- ``signInActivity`` is selected by object id only, needs ``AuditLog.Read.All`` in the token and a P1 tenant;
- Identity Protection needs P2 and answers other tenants with a generic 403;
- permissions are read from the token's ``roles`` (app) / ``scp`` (delegated), not from the fake's settings;
- the documented rate limits (``RATE_LIMITS``) are enforced on ``clock`` (real or injected) with 429s that
  carry no Retry-After;
- client credentials need a tenant id (``/organizations`` and ``/common`` are refused) and a certificate's
  assertion is checked against its SHA-256 (``x5t#S256``) or SHA-1 (``x5t``) thumbprint.
"""

from __future__ import annotations

import base64
import collections
import functools
import ipaddress
import json
import re
import secrets
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlencode, urlsplit

from iamkit.sandbox.entra_data import Directory, build, signins_from_trail  # noqa: F401 - re-exported
from iamkit.sandbox.model import SeededOrg

CLIENT_SECRET = "sandbox-entra-client-secret"  # a fake secret: only ever valid against this fake
LICENCE_ERROR = (
    "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
    "Neither tenant is B2C or tenant doesn't have premium license",
)
# Identity Protection answers a tenant without Entra ID P2 with a plain 403 that names no licence.
GENERIC_FORBIDDEN = ("Forbidden", "Forbidden")
# GET /users/{upn}?$select=signInActivity, as Graph answers it (learn.microsoft.com/answers/questions/1311910:
# "Selecting the 'signInActivity' resource using UPN is not supported. You need to use the GUID").
SIGNIN_ACTIVITY_BY_UPN = ("BadRequest", "Get By Key only supports UserId and the key has to be a valid Guid")
ALL_PERMISSIONS = {
    "User.Read.All",
    "GroupMember.Read.All",
    "AuditLog.Read.All",
    "Directory.Read.All",
    "UserAuthenticationMethod.Read.All",
    "IdentityRiskyUser.Read.All",
    "IdentityRiskEvent.Read.All",
}
# The two write calls remediation makes, with the app roles that grant them (learn.microsoft.com/graph/api/
# user-revokesigninsessions: User.RevokeSessions.All least privileged, User.ReadWrite.All / Directory.ReadWrite.All
# higher; user-update: accountEnabled needs User.EnableDisableAccount.All + User.Read.All, or User.ReadWrite.All /
# Directory.ReadWrite.All). The sandbox's app holds the least privileged ones: its remediation demo needs them.
REVOKE_SESSIONS_PERMISSIONS = ({"User.RevokeSessions.All"}, {"User.ReadWrite.All"}, {"Directory.ReadWrite.All"})
ENABLE_DISABLE_PERMISSIONS = (
    {"User.EnableDisableAccount.All", "User.Read.All"},
    {"User.ReadWrite.All"},
    {"Directory.ReadWrite.All"},
)
WRITE_PERMISSIONS = {"User.RevokeSessions.All", "User.EnableDisableAccount.All"}
DEFAULT_PERMISSIONS = ALL_PERMISSIONS | WRITE_PERMISSIONS
ROUTE_PERMISSIONS = [  # route -> the app roles that grant it (least privileged first; "Permissions" of each API page)
    (r"^/auditLogs/", ("AuditLog.Read.All", "Directory.Read.All")),  # signin-list / directoryaudit-list
    (r"^/reports/", ("AuditLog.Read.All",)),  # authenticationmethodsroot-list-userregistrationdetails
    (r"^/identityProtection/riskyUsers", ("IdentityRiskyUser.Read.All",)),  # riskyuser-list
    (r"^/identityProtection/riskDetections", ("IdentityRiskEvent.Read.All",)),  # riskdetection-list
    (r"/authentication/methods", ("UserAuthenticationMethod.Read.All",)),  # authentication-list-methods
    (r"/(transitiveM|m)emberOf$", ("GroupMember.Read.All", "Directory.Read.All")),  # user-list-memberof
    (r"^/users", ("User.Read.All", "Directory.Read.All")),  # user-get
]
# user resource, signInActivity: "Details for this property require a Microsoft Entra ID P1 or P2 license and the
# AuditLog.Read.All permission" (learn.microsoft.com/graph/api/resources/user).
SIGNIN_ACTIVITY_PERMISSION = "AuditLog.Read.All"
# The v1.0 signIn resource (learn.microsoft.com/graph/api/resources/signin?view=graph-rest-1.0): every other field
# of a stored sign-in (authenticationRequirement, mfaDetail, authenticationDetails, userAgent, signInEventTypes…)
# exists only in beta (…/signin?view=graph-rest-beta).
V1_SIGNIN_FIELDS = frozenset(
    {
        "id",
        "createdDateTime",
        "appDisplayName",
        "appId",
        "appliedConditionalAccessPolicies",
        "clientAppUsed",
        "conditionalAccessStatus",
        "correlationId",
        "deviceDetail",
        "ipAddress",
        "isInteractive",
        "location",
        "resourceDisplayName",
        "resourceId",
        "riskDetail",
        "riskEventTypes",
        "riskEventTypes_v2",
        "riskLevelAggregated",
        "riskLevelDuringSignIn",
        "riskState",
        "status",
        "userDisplayName",
        "userId",
        "userPrincipalName",
    }
)
# v1.0 signIn: riskDetail, riskLevelAggregated and riskLevelDuringSignIn "require an Azure AD Premium P2 license.
# Other licenses return the value `hidden`."
P2_SIGNIN_FIELDS = ("riskDetail", "riskLevelAggregated", "riskLevelDuringSignIn")
NO_TENANT = ("organizations", "common", "consumers")


class RateRule(NamedTuple):
    """At most ``limit`` requests in any ``per`` seconds, counted per app (``scope="app"``) or per tenant."""

    pattern: str
    limit: int
    per: float
    scope: str


# learn.microsoft.com/graph/throttling-limits — "Identity and access reports service limits": 5 requests per 10 s
# per app per tenant on signIn, directoryAudit, provisioning and the authentication-methods reports; "Identity
# protection and conditional access service limits": 1 request per second per tenant for all apps, "The resources
# listed earlier do not return a Retry-After header on 429 Too Many Requests responses". Sub-requests of a
# $batch count one by one.
RATE_LIMITS: dict[str, RateRule] = {
    "reports": RateRule(r"^/(auditLogs|reports)/", 5, 10.0, "app"),
    "identityProtection": RateRule(r"^/identityProtection/", 1, 1.0, "tenant"),
}


# ---------------------------------------------------------------------------------------------- certificates
def make_certificates(workdir: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1/localhost: (ca.pem, server.pem, server.key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    workdir.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "iamkit sandbox CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=7))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = workdir / "entra-ca.pem", workdir / "entra-server.pem", workdir / "entra-server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_path, cert_path, key_path


def make_client_certificate(workdir: Path, client_id: str) -> tuple[Path, Any]:
    """A self-signed RSA client certificate (key + cert in one PEM, 0600) for certificate auth tests."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"iamkit-{client_id}")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=7))
        .sign(key, hashes.SHA256())
    )
    path = workdir / "entra-client-cert.pem"
    path.touch(mode=0o600)
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        + cert.public_bytes(serialization.Encoding.PEM)
    )
    return path, key.public_key()


# ---------------------------------------------------------------------------------------------- faults
@dataclass
class Fault:
    pattern: str
    status: int
    retry_after: float | None = None
    times: int | None = 1  # None = every matching request
    code: str = ""
    message: str = ""
    only_paged: bool = False  # only requests carrying a $skiptoken
    revoke_token: bool = False
    hits: int = 0


class Faults:
    """Fault injection for Graph routes: the first live fault whose regex matches the path answers instead."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.active: list[Fault] = []

    def add(
        self,
        route_pattern: str,
        status: int = 429,
        retry_after: float | None = None,
        times: int | None = 1,
        *,
        code: str = "",
        message: str = "",
        only_paged: bool = False,
        revoke_token: bool = False,
    ) -> Fault:
        """Answer the next ``times`` requests whose Graph path matches ``route_pattern`` with ``status``."""
        f = Fault(route_pattern, status, retry_after, times, code, message, only_paged, revoke_token)
        with self._lock:
            self.active.append(f)
        return f

    def throttle(self, route_pattern: str, retry_after: float | None = None, times: int | None = 1) -> Fault:
        return self.add(route_pattern, 429, retry_after, times, code="TooManyRequests", message="Too many requests.")

    def licence(self, route_pattern: str, times: int | None = None) -> Fault:
        return self.add(route_pattern, 403, None, times, code=LICENCE_ERROR[0], message=LICENCE_ERROR[1])

    def forbid(self, route_pattern: str, times: int | None = None) -> Fault:
        return self.add(
            route_pattern,
            403,
            None,
            times,
            code="Authorization_RequestDenied",
            message="Insufficient privileges to complete the operation.",
        )

    def expire_token(self, route_pattern: str = ".*", times: int = 1) -> Fault:
        return self.add(
            route_pattern,
            401,
            None,
            times,
            code="InvalidAuthenticationToken",
            message="Lifetime validation failed, the token is expired.",
            revoke_token=True,
        )

    def expire_skiptoken(self, route_pattern: str, times: int = 1) -> Fault:
        return self.add(
            route_pattern,
            400,
            None,
            times,
            code="Directory_ExpiredPageToken",
            message="The specified page token value has expired and can no longer be included in your request.",
            only_paged=True,
        )

    def clear(self) -> None:
        with self._lock:
            self.active.clear()

    def match(self, path: str, paged: bool) -> Fault | None:
        with self._lock:
            for f in self.active:
                if (f.times is None or f.hits < f.times) and re.search(f.pattern, path) and (paged or not f.only_paged):
                    f.hits += 1
                    return f
        return None


# ---------------------------------------------------------------------------------------------- OData filters
_CMP = re.compile(r"^([A-Za-z_][\w/]*)\s+(eq|ne|ge|gt|le|lt)\s+(.+)$")
_ANY = re.compile(r"^([A-Za-z_]\w*)/any\((\w+):\s*\2(?:/([\w/]+))?\s+eq\s+'(.*)'\)$")
_STARTS = re.compile(r"^startswith\(([\w/]+),\s*'(.*)'\)$")


class BadFilter(ValueError):
    pass


def _lookup(obj: Any, path: str) -> Any:
    for part in path.split("/"):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def _literal(text: str) -> Any:
    text = text.strip()
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("''", "'")
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    if re.match(r"^\d{4}-\d\d-\d\dT", text):
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    try:
        return float(text)
    except ValueError:
        raise BadFilter(f"Invalid filter clause: unsupported literal {text!r}") from None


@functools.lru_cache(maxsize=65536)
def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _compare(value: Any, op: str, lit: Any) -> bool:
    if isinstance(lit, datetime):
        if not value:
            return False
        value = _time(str(value))
    elif isinstance(lit, str) and isinstance(value, str):
        value, lit = value.lower(), lit.lower()
    if op == "eq":
        return value == lit
    if op == "ne":
        return value != lit
    if value is None:
        return False
    return {"ge": value >= lit, "gt": value > lit, "le": value <= lit, "lt": value < lit}[op]


def _clauses(text: str) -> list[str]:
    out = []
    for clause in re.split(r"\s+and\s+", text.strip()):
        clause = clause.strip()
        while clause.startswith("(") and clause.endswith(")") and "any(" not in clause[:5]:
            clause = clause[1:-1].strip()
        out.append(clause)
    return out


def filter_fields(text: str | None) -> set[str]:
    """The top-level properties a ``$filter`` names (for refusing properties a resource version lacks)."""
    names = set()
    for clause in _clauses(text or ""):
        m = _ANY.match(clause) or _STARTS.match(clause) or _CMP.match(clause)
        if m:
            names.add(m.group(1).split("/", 1)[0])
    return names


def compile_filter(text: str | None):
    """A predicate for the OData ``$filter`` subset Graph's log endpoints accept (clauses joined by ``and``)."""
    if not text:
        return lambda item: True
    preds = []
    for clause in _clauses(text):
        if m := _ANY.match(clause):
            coll, _, sub, val = m.groups()

            def pred(item, coll=coll, sub=sub, val=val.lower()):
                items = item.get(coll) or []
                return any(str(_lookup(x, sub) if sub else x).lower() == val for x in items)
        elif m := _STARTS.match(clause):

            def pred(item, f=m.group(1), v=m.group(2).lower()):
                return str(_lookup(item, f) or "").lower().startswith(v)
        elif m := _CMP.match(clause):
            fld, op, lit = m.group(1), m.group(2), _literal(m.group(3))

            def pred(item, fld=fld, op=op, lit=lit):
                return _compare(_lookup(item, fld), op, lit)
        else:
            raise BadFilter(f"Invalid filter clause: {clause}")
        preds.append(pred)
    return lambda item: all(p(item) for p in preds)


# ---------------------------------------------------------------------------------------------- the fake
@dataclass
class _Page:
    items: list[dict]
    offset: int
    top: int
    needs_consistency: bool
    params: dict[str, str]


@dataclass
class FakeEntra:
    """A running fake Entra authority + Graph. ``env()`` gives what msal and ``iamkit.entra`` need."""

    tenant_id: str
    client_id: str
    directory: Directory = field(repr=False)
    workdir: Path
    ca_bundle: Path = field(default=Path())
    client_cert: Path | None = None
    licence: str = "P2"  # P2 | P1 | free
    granted: set[str] = field(default_factory=lambda: set(DEFAULT_PERMISSIONS))  # app roles put in new tokens
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)  # rate limits run on this clock
    rate_limits: dict[str, RateRule] = field(default_factory=lambda: dict(RATE_LIMITS))
    page_size: int = 50
    token_lifetime: int = 3600
    device_user: str = ""  # UPN that "approves" device codes (default: the first person)
    faults: Faults = field(repr=False, default_factory=Faults)
    log: list[dict] = field(repr=False, default_factory=list)
    _server: Any = field(default=None, repr=False)
    _thread: Any = field(default=None, repr=False)
    _tokens: dict[str, dict] = field(repr=False, default_factory=dict)
    _refresh: dict[str, dict] = field(repr=False, default_factory=dict)
    _device: dict[str, dict] = field(repr=False, default_factory=dict)
    _pages: dict[str, _Page] = field(repr=False, default_factory=dict)
    _client_key: Any = field(default=None, repr=False)
    _lock: Any = field(repr=False, default_factory=threading.Lock)
    _windows: dict[tuple, collections.deque] = field(repr=False, default_factory=dict)

    # -- endpoints --
    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def authority_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def graph_url(self) -> str:
        return f"{self.authority_url}/v1.0"

    @property
    def client_secret(self) -> str:
        return CLIENT_SECRET

    def env(self) -> dict[str, str]:
        """Variables that point msal and ``iamkit.entra`` at this fake (the secret is a sandbox-only fake)."""
        return {
            "IAMKIT_ENTRA_AUTHORITY": self.authority_url,
            "IAMKIT_GRAPH_URL": self.graph_url,
            "IAMKIT_ENTRA_TENANT_ID": self.tenant_id,
            "IAMKIT_ENTRA_CLIENT_ID": self.client_id,
            "IAMKIT_ENTRA_CLIENT_SECRET": CLIENT_SECRET,
            "IAMKIT_ENTRA_CA_BUNDLE": str(self.ca_bundle),
        }

    def stop(self) -> None:
        """Shut the server down."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def reset(self) -> None:
        """Forget faults, the request log, paging and rate-limit state, licence/permission and clock changes."""
        self.faults.clear()
        with self._lock:
            self.log.clear()
            self._pages.clear()
            self._windows.clear()
        self.licence = "P2"
        self.granted = set(DEFAULT_PERMISSIONS)
        self.page_size = 50
        self.clock = time.monotonic
        self.rate_limits = dict(RATE_LIMITS)

    def use_clock(self, clock: Callable[[], float] = time.monotonic) -> None:
        """Count rate limits on ``clock`` from now on (a test's injected clock, or back to the real one); the
        windows counted on the previous clock are forgotten, their times mean nothing on the new one."""
        with self._lock:
            self.clock = clock
            self._windows.clear()

    def issue_token(self, *, upn: str | None = None, lifetime: int | None = None, app_id: str | None = None) -> str:
        """Mint an access token directly (for static-token replays and tests); ``app_id``: another app of the
        tenant (rate limits count per app or per tenant). It carries the permissions granted now."""
        now = int(time.time())
        claims = {
            "aud": "https://graph.microsoft.com",
            "iss": f"{self.authority_url}/{self.tenant_id}/v2.0",
            "tid": self.tenant_id,
            "appid": app_id or self.client_id,
            "iat": now,
            "exp": now + (self.token_lifetime if lifetime is None else lifetime),
            "roles": sorted(self.granted) if not upn else [],
            "jti": uuid.uuid4().hex,
        }
        if upn:
            u = self.directory.user(upn)
            claims.update(upn=upn, oid=u["id"] if u else "", scp=" ".join(sorted(self.granted)))
        token = ".".join([_b64({"typ": "JWT", "alg": "none"}), _b64(claims), secrets.token_urlsafe(16)])
        with self._lock:
            self._tokens[token] = claims
        return token

    def revoke(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)

    # -- request handling (called by the handler thread) --
    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, bytes]:
        parts = urlsplit(raw_path)
        path = parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        entry = {
            "method": method,
            "path": path,
            "query": query,
            "host": headers.get("host", ""),
            "client_request_id": headers.get("client-request-id"),
            "consistency_level": headers.get("consistencylevel"),
            "authorized": headers.get("authorization", "").startswith("Bearer "),
            "status": None,
            "t": self.clock(),
        }
        with self._lock:
            self.log.append(entry)
        try:
            if path.startswith("/v1.0/") or path.startswith("/beta/"):
                status, hdrs, payload = self._graph(method, path, query, headers, body)
            else:
                status, hdrs, payload = self._authority(method, path, headers, body, entry)
        except Exception as e:  # a bug in the fake must show as a 500, not kill the thread
            status, hdrs, payload = 500, {}, {"error": {"code": "FakeInternalError", "message": repr(e)}}
        entry["status"] = status
        if headers.get("client-request-id"):
            hdrs.setdefault("client-request-id", headers["client-request-id"])
        return status, hdrs, b"" if status == 204 else json.dumps(payload).encode()

    # authority
    def _authority(self, method: str, path: str, headers: dict, body: bytes, entry: dict) -> tuple[int, dict, Any]:
        m = re.match(
            r"^/([^/]+)/(v2\.0/\.well-known/openid-configuration|oauth2/v2\.0/token|"
            r"oauth2/v2\.0/devicecode|discovery/v2\.0/keys|oauth2/v2\.0/authorize)$",
            path,
        )
        if not m:
            return 404, {}, {"error": "not_found", "error_description": f"no such endpoint {path}"}
        tenant, what = m.groups()
        if tenant not in (self.tenant_id, "organizations", "common"):
            return (
                400,
                {},
                {"error": "invalid_tenant", "error_description": f"AADSTS90002: Tenant '{tenant}' not found."},
            )
        base = f"{self.authority_url}/{self.tenant_id}"
        if what.endswith("openid-configuration"):
            return (
                200,
                {},
                {
                    "issuer": f"{base}/v2.0",
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                    "jwks_uri": f"{base}/discovery/v2.0/keys",
                    "response_types_supported": ["code", "id_token", "code id_token"],
                    "subject_types_supported": ["pairwise"],
                    "tenant_region_scope": "NA",
                    "id_token_signing_alg_values_supported": ["RS256"],
                },
            )
        if what.endswith("keys"):
            return 200, {}, {"keys": []}
        if what.endswith("authorize"):
            return 400, {}, {"error": "unsupported", "error_description": "the sandbox has no browser sign-in"}
        form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
        if form.get("client_id") != self.client_id:
            return (
                400,
                {},
                {
                    "error": "unauthorized_client",
                    "error_description": f"AADSTS700016: Application '{form.get('client_id')}' not found.",
                },
            )
        if what.endswith("devicecode"):
            code = secrets.token_urlsafe(24)
            user_code = secrets.token_hex(4).upper()
            with self._lock:
                self._device[code] = {
                    "upn": self.device_user or next(iter(self.directory.users.values()))["userPrincipalName"],
                    "scope": form.get("scope", ""),
                }
            return (
                200,
                {},
                {
                    "device_code": code,
                    "user_code": user_code,
                    "verification_uri": f"{self.authority_url}/devicelogin",
                    "expires_in": 900,
                    "interval": 5,
                    "message": f"To sign in, open {self.authority_url}/devicelogin and enter the code "
                    f"{user_code} to authenticate.",
                },
            )
        return self._token(form, f"{base}/oauth2/v2.0/token", tenant, entry)

    def _token(self, form: dict, token_endpoint: str, tenant: str, entry: dict) -> tuple[int, dict, Any]:
        grant = form.get("grant_type", "")
        if grant == "client_credentials":
            if tenant.lower() in NO_TENANT:  # an app token is for one tenant; /organizations and /common name none
                return (
                    400,
                    {},
                    {
                        "error": "invalid_request",
                        "error_description": "AADSTS50059: No "
                        "tenant-identifying information found in either the request or implied by any "
                        "provided credentials.",
                    },
                )
            if form.get("client_secret"):
                if form["client_secret"] != CLIENT_SECRET:
                    return (
                        401,
                        {},
                        {
                            "error": "invalid_client",
                            "error_description": "AADSTS7000215: Invalid client secret provided.",
                        },
                    )
            elif form.get("client_assertion"):
                entry["assertion_header"] = _jwt_header(form["client_assertion"])
                if not self._assertion_ok(form["client_assertion"], token_endpoint):
                    return (
                        401,
                        {},
                        {
                            "error": "invalid_client",
                            "error_description": "AADSTS700027: Client assertion failed signature validation.",
                        },
                    )
            else:
                return 401, {}, {"error": "invalid_client", "error_description": "AADSTS7000216: credential missing"}
            return (
                200,
                {},
                {
                    "token_type": "Bearer",
                    "expires_in": self.token_lifetime,
                    "ext_expires_in": self.token_lifetime,
                    "access_token": self.issue_token(),
                },
            )
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            with self._lock:
                dev = self._device.pop(form.get("device_code", ""), None)
            if not dev:
                return 400, {}, {"error": "expired_token", "error_description": "AADSTS70020: device code expired"}
            return 200, {}, self._user_tokens(dev["upn"], dev["scope"])
        if grant == "refresh_token":
            with self._lock:
                ref = self._refresh.pop(form.get("refresh_token", ""), None)
            if not ref:
                return 400, {}, {"error": "invalid_grant", "error_description": "AADSTS700082: refresh token expired"}
            return 200, {}, self._user_tokens(ref["upn"], form.get("scope") or ref["scope"])
        return 400, {}, {"error": "unsupported_grant_type", "error_description": grant}

    def _user_tokens(self, upn: str, scope: str) -> dict:
        u = self.directory.user(upn) or {}
        oid = u.get("id", "")
        now = int(time.time())
        id_token = ".".join(
            [
                _b64({"typ": "JWT", "alg": "none"}),
                _b64(
                    {
                        "aud": self.client_id,
                        "iss": f"{self.authority_url}/{self.tenant_id}/v2.0",
                        "iat": now,
                        "nbf": now,
                        "exp": now + 3600,
                        "oid": oid,
                        "sub": oid,
                        "tid": self.tenant_id,
                        "preferred_username": upn,
                        "name": u.get("displayName", upn),
                    }
                ),
                "",
            ]
        )
        refresh = secrets.token_urlsafe(32)
        with self._lock:
            self._refresh[refresh] = {"upn": upn, "scope": scope}
        return {
            "token_type": "Bearer",
            "scope": scope,
            "expires_in": self.token_lifetime,
            "access_token": self.issue_token(upn=upn),
            "refresh_token": refresh,
            "id_token": id_token,
            "client_info": base64.urlsafe_b64encode(json.dumps({"uid": oid, "utid": self.tenant_id}).encode())
            .decode()
            .rstrip("="),
        }

    def _assertion_ok(self, assertion: str, audience: str) -> bool:
        """The assertion names the registered certificate by thumbprint (x5t#S256, else x5t) and is signed by it."""
        if self._client_key is None or self.client_cert is None:
            return False
        import jwt
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes

        header = _jwt_header(assertion)
        cert = x509.load_pem_x509_certificate(Path(self.client_cert).read_bytes())
        if "x5t#S256" in header:
            if str(header["x5t#S256"]).rstrip("=") != _b64bytes(cert.fingerprint(hashes.SHA256())):
                return False
        elif str(header.get("x5t")).rstrip("=") != _b64bytes(cert.fingerprint(hashes.SHA1())):  # noqa: S303
            return False
        try:
            claims = jwt.decode(assertion, self._client_key, algorithms=["RS256", "PS256"], audience=audience)
        except jwt.PyJWTError:
            return False
        return claims.get("iss") == self.client_id and claims.get("sub") == self.client_id

    # graph
    def _graph(self, method: str, path: str, query: dict, headers: dict, body: bytes) -> tuple[int, dict, Any]:
        token = headers.get("authorization", "")[7:] if headers.get("authorization", "").startswith("Bearer ") else ""
        with self._lock:
            claims = self._tokens.get(token)
        if not claims:
            return _err(
                401,
                "InvalidAuthenticationToken",
                "Access token is empty." if not token else "Access token validation failure. Invalid audience.",
            )
        if claims["exp"] <= time.time():
            return _err(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
        version, rel = path[1:].split("/", 1)
        rel = "/" + rel
        if rel == "/$batch" and method == "POST":
            fault = self.faults.match(rel, False)
            if fault:
                return self._fault(fault, token)
            return self._batch(version, json.loads(body or b"{}"), headers, token, claims)
        return self._route(method, version, rel, query, headers, token, claims, body)

    def _write(self, method: str, version: str, rel: str, body: bytes, held: set[str]) -> tuple[int, dict, Any]:
        """The two write calls: ``POST /users/{id}/revokeSignInSessions`` (200, ``value: true``; the user's
        ``signInSessionsValidFromDateTime`` becomes now) and ``PATCH /users/{id}`` with ``accountEnabled`` only
        (204). Permissions come from the token, as for reads."""
        m = re.match(r"^/users/([^/]+)(/revokeSignInSessions)?$", rel)
        if not m or (method, bool(m.group(2))) not in (("POST", True), ("PATCH", False)):
            return _err(405, "Request_BadRequest", f"{method} is not supported on {rel}")
        need = REVOKE_SESSIONS_PERMISSIONS if m.group(2) else ENABLE_DISABLE_PERMISSIONS
        if not any(option <= held for option in need):
            return _err(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        user = self.directory.user(m.group(1))
        if user is None:
            return _err(
                404,
                "Request_ResourceNotFound",
                f"Resource '{m.group(1)}' does not exist or one of its "
                "queried reference-property objects are not present.",
            )
        if m.group(2):
            with self._lock:
                user["signInSessionsValidFromDateTime"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            return 200, {}, {"@odata.context": f"{self.authority_url}/{version}/$metadata#Edm.Boolean", "value": True}
        try:
            patch = json.loads(body or b"null")
        except ValueError:
            return _err(400, "BadRequest", "Unable to read JSON request payload.")
        if not isinstance(patch, dict) or not patch:
            return _err(400, "BadRequest", "Empty Payload. JSON content expected.")
        other = sorted(set(patch) - {"accountEnabled"})
        if other:  # the fake changes accountEnabled only
            return _err(400, "Request_BadRequest", f"the sandbox only updates accountEnabled, not {other[0]!r}")
        if not isinstance(patch["accountEnabled"], bool):
            return _err(400, "BadRequest", "Cannot convert the literal to the expected type 'Edm.Boolean'.")
        with self._lock:
            user["accountEnabled"] = patch["accountEnabled"]
        return 204, {}, None

    def _fault(self, f: Fault, token: str) -> tuple[int, dict, Any]:
        if f.revoke_token:
            self.revoke(token)
        hdrs = (
            {"Retry-After": str(int(f.retry_after) if float(f.retry_after).is_integer() else f.retry_after)}
            if f.retry_after is not None
            else {}
        )
        status, _, payload = _err(f.status, f.code or "FaultInjected", f.message or "injected fault")
        return status, hdrs, payload

    def _route(
        self,
        method: str,
        version: str,
        rel: str,
        query: dict,
        headers: dict,
        token: str,
        claims: dict,
        body: bytes = b"",
    ) -> tuple[int, dict, Any]:
        fault = self.faults.match(rel, "$skiptoken" in query)
        if fault:
            return self._fault(fault, token)
        if not self._admit(rel, claims):
            return _err(429, "TooManyRequests", "Too many requests.")  # no Retry-After: see RATE_LIMITS
        held = _permissions(claims)
        if method != "GET":
            return self._write(method, version, rel, body, held)
        need = next((perms for pat, perms in ROUTE_PERMISSIONS if re.search(pat, rel)), ())
        if rel.startswith("/identityProtection/") and self.licence != "P2":
            return _err(403, *GENERIC_FORBIDDEN)
        if need and not held & set(need):
            return _err(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        if re.match(r"^/(auditLogs|reports)/", rel) and self.licence == "free":
            return _err(403, *LICENCE_ERROR)
        d = self.directory
        if "$skiptoken" in query:
            return self._next_page(version, rel, query, headers)
        if rel == "/users":
            advanced = "$count" in query or "$search" in query
            if advanced and headers.get("consistencylevel", "").lower() != "eventual":
                return _err(
                    400,
                    "Request_UnsupportedQuery",
                    "$count/$search on users need the header ConsistencyLevel: eventual",
                )
            return self._collection(version, rel, query, list(d.users.values()), needs_consistency=advanced)
        if m := re.match(r"^/users/([^/]+)(/.*)?$", rel):
            key, sub = m.group(1), m.group(2) or ""
            user = d.user(key)
            if user is None:
                return _err(
                    404,
                    "Request_ResourceNotFound",
                    f"Resource '{key}' does not exist or one of its "
                    "queried reference-property objects are not present.",
                )
            uid = user["id"]
            if sub == "" and "signinactivity" in query.get("$select", "").lower():
                if key != uid:  # by UPN (or anything but the object id)
                    return _err(400, *SIGNIN_ACTIVITY_BY_UPN)
                if SIGNIN_ACTIVITY_PERMISSION not in held:
                    return _err(
                        403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
                    )
                if self.licence == "free":
                    return _err(403, *LICENCE_ERROR)
            if sub == "":
                return 200, {}, self._select(user, query)
            if sub in ("/memberOf", "/transitiveMemberOf"):
                return self._collection(version, rel, query, [d.groups[g] for g in d.member_of.get(uid, [])])
            if sub == "/authentication/methods":
                return self._collection(version, rel, query, d.methods.get(uid, []))
            return _err(400, "BadRequest", f"Resource not found for the segment '{sub.strip('/')}'.")
        if m := re.match(r"^/reports/authenticationMethods/userRegistrationDetails(?:/([^/]+))?$", rel):
            if m.group(1):
                reg = d.registration.get(m.group(1))
                return (200, {}, reg) if reg else _err(404, "Request_ResourceNotFound", f"{m.group(1)} not found")
            return self._collection(version, rel, query, list(d.registration.values()))
        if rel == "/auditLogs/signIns":
            # Both versions list interactive sign-ins; beta also lists the others when $filter asks for them by
            # signInEventTypes (signin-list?view=graph-rest-beta). v1.0 answers with its own field set and
            # refuses to filter or select on a property it does not have.
            if version != "beta":
                named = filter_fields(query.get("$filter")) | {
                    f.strip().split("/", 1)[0] for f in query.get("$select", "").split(",") if f.strip()
                }
                missing = sorted(named - V1_SIGNIN_FIELDS)
                if missing:
                    return _err(
                        400,
                        "BadRequest",
                        f"Could not find a property named '{missing[0]}' on type 'microsoft.graph.signIn'.",
                    )
            asked = version == "beta" and "signineventtypes" in query.get("$filter", "").lower()
            rows = d.signins if asked else [s for s in d.signins if s["isInteractive"]]
            return self._collection(version, rel, query, rows, shape=self._signin_shape(version))
        if rel == "/auditLogs/directoryAudits":
            return self._collection(version, rel, query, d.audits)
        if rel == "/identityProtection/riskyUsers":
            return self._collection(version, rel, query, d.risky_users)
        if m := re.match(r"^/identityProtection/riskyUsers/([^/]+)$", rel):
            ru = next((r for r in d.risky_users if r["id"] == m.group(1)), None)
            return (200, {}, ru) if ru else _err(404, "ResourceNotFound", f"risky user {m.group(1)} not found")
        if rel == "/identityProtection/riskDetections":
            return self._collection(version, rel, query, d.risk_detections)
        return _err(400, "BadRequest", f"Resource not found for the segment '{rel.strip('/').split('/')[0]}'.")

    def _signin_shape(self, version: str):
        """What a stored (beta-shaped) sign-in looks like on ``version`` for this tenant's licence."""
        hidden = self.licence != "P2"

        def shape(s: dict) -> dict:
            out = {k: v for k, v in s.items() if k in V1_SIGNIN_FIELDS} if version != "beta" else dict(s)
            if hidden:
                out.update({k: "hidden" for k in P2_SIGNIN_FIELDS if k in out})
            return out

        return shape

    def _admit(self, rel: str, claims: dict) -> bool:
        """Count the request against its service's rate limit; False when it is over (answer 429)."""
        for name, rule in self.rate_limits.items():
            if not re.search(rule.pattern, rel):
                continue
            key = (name, claims.get("appid") if rule.scope == "app" else self.tenant_id)
            now = self.clock()
            with self._lock:
                window = self._windows.setdefault(key, collections.deque())
                while window and window[0] <= now - rule.per:
                    window.popleft()
                if len(window) >= rule.limit:
                    return False
                window.append(now)
        return True

    @staticmethod
    def _select(obj: dict, query: dict) -> dict:
        sel = query.get("$select")
        if not sel:
            return {k: v for k, v in obj.items() if k != "signInActivity"}
        keep = {s.strip() for s in sel.split(",")} | {"id", "@odata.type"}
        return {k: v for k, v in obj.items() if k in keep}

    def _collection(
        self, version: str, rel: str, query: dict, items: list[dict], *, needs_consistency: bool = False, shape=None
    ) -> tuple[int, dict, Any]:
        try:
            pred = compile_filter(query.get("$filter"))
        except BadFilter as e:
            return _err(400, "BadRequest", str(e))
        rows = [i for i in items if pred(i)]
        if shape is not None:  # v1.0 leaves out beta-only fields
            rows = [shape(i) for i in rows]
        if "$select" in query:
            rows = [self._select(i, query) for i in rows]
        try:
            top = min(int(query.get("$top", self.page_size)), 999)
        except ValueError:
            return _err(400, "BadRequest", f"Invalid value for $top: {query.get('$top')}")
        page = _Page(
            rows,
            0,
            max(1, top),
            needs_consistency,
            {k: v for k, v in query.items() if k in ("$filter", "$top", "$select", "$count")},
        )
        return self._serve(version, rel, page, query)

    def _serve(self, version: str, rel: str, page: _Page, query: dict) -> tuple[int, dict, Any]:
        chunk = page.items[page.offset : page.offset + page.top]
        out: dict[str, Any] = {
            "@odata.context": f"{self.authority_url}/{version}/$metadata#{rel.strip('/')}",
            "value": chunk,
        }
        if "$count" in page.params:
            out["@odata.count"] = len(page.items)
        nxt = page.offset + page.top
        if nxt < len(page.items):
            tok = secrets.token_urlsafe(18)
            with self._lock:
                self._pages[tok] = _Page(page.items, nxt, page.top, page.needs_consistency, page.params)
            out["@odata.nextLink"] = f"{self.authority_url}/{version}{rel}?" + urlencode(
                {**page.params, "$skiptoken": tok}
            )
        return 200, {}, out

    def _next_page(self, version: str, rel: str, query: dict, headers: dict) -> tuple[int, dict, Any]:
        with self._lock:
            page = self._pages.pop(query["$skiptoken"], None)
        if page is None:
            return _err(
                400,
                "Directory_ExpiredPageToken",
                "The specified page token value has expired and can no longer be included in your request.",
            )
        if page.needs_consistency and headers.get("consistencylevel", "").lower() != "eventual":
            return _err(
                400,
                "Request_UnsupportedQuery",
                "$count/$search on users need the header ConsistencyLevel: eventual (on every page)",
            )
        if {k: v for k, v in query.items() if k != "$skiptoken"} != page.params:
            return _err(400, "BadRequest", "the nextLink was altered: its query must be sent unchanged")
        return self._serve(version, rel, page, query)

    def _batch(self, version: str, payload: dict, headers: dict, token: str, claims: dict) -> tuple[int, dict, Any]:
        reqs = payload.get("requests") or []
        if len(reqs) > 20:
            return _err(400, "BadRequest", "The number of requests in a batch cannot exceed 20.")
        out = []
        for r in reqs:
            url = r.get("url", "")
            rel = "/" + url.lstrip("/")
            parts = urlsplit(rel)
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            sub_headers = {
                **{k.lower(): v for k, v in (r.get("headers") or {}).items()},
                "authorization": headers.get("authorization", ""),
            }
            status, hdrs, body = self._route(
                r.get("method", "GET"), version, parts.path, query, sub_headers, token, claims
            )
            with self._lock:
                self.log.append(
                    {
                        "method": r.get("method", "GET"),
                        "path": parts.path,
                        "query": query,
                        "host": "$batch",
                        "client_request_id": None,
                        "consistency_level": sub_headers.get("consistencylevel"),
                        "authorized": True,
                        "status": status,
                        "t": self.clock(),
                    }
                )
            out.append(
                {
                    "id": r.get("id"),
                    "status": status,
                    "headers": {"Content-Type": "application/json", **hdrs},
                    "body": body,
                }
            )
        return 200, {}, {"responses": out}


def _b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")


def _b64bytes(raw: bytes) -> str:
    """base64url of a thumbprint, unpadded (the x5t / x5t#S256 header value, RFC 7515 §4.1.7-8)."""
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _jwt_header(token: str) -> dict:
    """The (unverified) JOSE header of a JWT; {} when it is not one."""
    try:
        head = token.split(".", 1)[0]
        value = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
        return value if isinstance(value, dict) else {}
    except (ValueError, IndexError):
        return {}


def _permissions(claims: dict) -> set[str]:
    """The permissions a token carries: app roles (``roles``) or delegated scopes (``scp``)."""
    return set(claims.get("roles") or []) | set((claims.get("scp") or "").split())


def _err(status: int, code: str, message: str) -> tuple[int, dict, Any]:
    return (
        status,
        {},
        {
            "error": {
                "code": code,
                "message": message,
                "innerError": {
                    "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                    "request-id": str(uuid.uuid4()),
                },
            }
        },
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # keep-alive + Nagle + delayed ACK would add ~40 ms per answer
    wbufsize = 1 << 16
    fake: FakeEntra

    def log_message(self, format: str, *args: Any) -> None:  # silence the default stderr log
        return

    def _do(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, hdrs, payload = self.server.fake.handle(self.command, self.path, headers, body)  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for k, v in hdrs.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()

    do_GET = do_POST = do_PATCH = do_DELETE = _do


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def start(
    org: SeededOrg,
    workdir: Path,
    *,
    tenant_id: str | None = None,
    client_id: str | None = None,
    now: datetime | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    aws_signins: list[dict] | None = None,
) -> FakeEntra:
    """Start the fake Entra authority + Graph for ``org`` on ``host`` (port 0 = any free port).

    ``aws_signins`` (from ``entra_data.signins_from_trail(org, records)``) makes the Entra sign-ins to the AWS
    app line up with the Identity Center sign-ins the trail generator wrote.
    """
    workdir = Path(workdir)
    tenant_id = tenant_id or str(uuid.uuid5(uuid.NAMESPACE_DNS, f"tenant-{org.seed}-{org.org_id}"))
    client_id = client_id or str(uuid.uuid5(uuid.NAMESPACE_DNS, f"client-{org.seed}-{org.org_id}"))
    ca, cert, key = make_certificates(workdir)
    fake = FakeEntra(
        tenant_id=tenant_id,
        client_id=client_id,
        directory=build(org, tenant_id=tenant_id, now=now, aws_signins=aws_signins),
        workdir=workdir,
        ca_bundle=ca,
    )
    fake.client_cert, fake._client_key = make_client_certificate(workdir, client_id)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    server = _Server((host, port), _Handler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.fake = fake  # type: ignore[attr-defined]
    fake._server = server
    fake._thread = threading.Thread(target=server.serve_forever, name="fake-entra", daemon=True)
    fake._thread.start()
    return fake
