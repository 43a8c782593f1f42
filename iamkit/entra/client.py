"""Microsoft Graph over one ``requests`` session: paging, ``$batch``, throttling, time slices, raw evidence.

Time is injected (``clock`` for pacing, ``sleeper`` for waits, ``rng`` for jitter) so tests never sleep.
Every call carries its own ``client-request-id``; every page is saved as received when an evidence folder
is given; errors come back typed (``iamkit.entra.errors``) with the permission or licence they need.

Requests are paced per service to Graph's documented limits (``RATE_LIMITS``), ``$batch`` sub-requests
included, so a run keeps under them instead of collecting 429s; a 429 that still comes (another app sharing
the tenant's Identity Protection budget) is answered by waiting out the window, with jittered backoff.
"""

from __future__ import annotations

import collections
import json
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from iamkit.entra.errors import (
    ExpiredSkipToken,
    GraphError,
    GraphNotFound,
    LicenceRequired,
    PermissionDenied,
    Throttled,
    TokenExpired,
)

if TYPE_CHECKING:  # pragma: no cover
    import requests

    from iamkit.entra.auth import TokenProvider

BATCH_LIMIT = 20
THROTTLE_STATUSES = {429, 503, 504}
# The permission (app role / delegated scope) each endpoint family needs, for PermissionDenied messages.
PERMISSIONS: list[tuple[str, str]] = [
    (r"/auditLogs/signIns", "AuditLog.Read.All"),
    (r"/auditLogs/directoryAudits", "AuditLog.Read.All"),
    (r"/reports/authenticationMethods", "AuditLog.Read.All"),
    (r"/identityProtection/riskyUsers", "IdentityRiskyUser.Read.All"),
    (r"/identityProtection/riskDetections", "IdentityRiskEvent.Read.All"),
    (r"/authentication/methods", "UserAuthenticationMethod.Read.All"),
    (r"/(transitiveM|m)emberOf$", "GroupMember.Read.All"),
    (r"/users", "User.Read.All"),
    (r"/groups", "GroupMember.Read.All"),
]
# Which licence an endpoint needs when Graph says the tenant is not premium.
LICENCES: list[tuple[str, str]] = [
    (r"/identityProtection/", "P2"),
    (r"/auditLogs/|/reports/|signInActivity", "P1"),
]
LICENCE_CODES = {"Authentication_RequestFromNonPremiumTenantOrB2CTenant", "Request_LicenseRequired"}
EXPIRED_SKIPTOKEN_CODES = {"Directory_ExpiredPageToken", "Request_ExpiredSkipToken"}
# Graph's service limits iamkit paces to (learn.microsoft.com/graph/throttling-limits): "Identity and access
# reports service limits" — 5 requests per 10 seconds per app per tenant (signIn, directoryAudit, the
# authentication-methods reports); "Identity protection and conditional access service limits" — 1 request per
# second per tenant for all apps, answered with 429 and no Retry-After. family -> (path pattern, limit, seconds).
RATE_LIMITS: dict[str, tuple[str, int, float]] = {
    "reports": (r"/(?:v1\.0|beta)/(?:auditLogs|reports)/", 5, 10.0),
    "identityProtection": (r"/(?:v1\.0|beta)/identityProtection/", 1, 1.0),
}
PACING_MARGIN = 0.1  # windows are kept 10 % longer than documented: arrival times drift from send times


def family(url: str) -> str | None:
    """The rate-limited service family a Graph URL belongs to (None: not paced)."""
    path = urlsplit(url).path
    return next((name for name, (pattern, _, _) in RATE_LIMITS.items() if re.search(pattern, path)), None)


class RateLimit:
    """At most ``limit`` requests in any ``per`` seconds (times ``1 + margin``), on an injected clock.

    A sliding window: the strictest reading of "N requests per W seconds" (a token bucket of the same size
    admits up to 2N-1 in some window), so pacing to it keeps under either reading.
    """

    def __init__(self, limit: int, per: float, margin: float = PACING_MARGIN):
        if limit < 1 or per <= 0:
            raise ValueError("a rate limit needs limit >= 1 and per > 0")
        self.limit, self.per = limit, per * (1 + margin)
        self.sent: collections.deque[float] = collections.deque()

    def delay(self, now: float, k: int = 1) -> float:
        """Seconds to wait from ``now`` before ``k`` more requests fit in the window."""
        if k > self.limit:
            raise ValueError(f"{k} requests can never fit a limit of {self.limit}")
        while self.sent and self.sent[0] <= now - self.per:
            self.sent.popleft()
        over = len(self.sent) + k - self.limit
        return 0.0 if over <= 0 else max(0.0, self.sent[over - 1] + self.per - now)

    def record(self, now: float, k: int = 1) -> None:
        """Count ``k`` requests sent at ``now``."""
        self.sent.extend([now] * k)

    def saturate(self, now: float) -> None:
        """The service said 429: treat the whole window as spent from ``now`` (someone else shares it)."""
        self.sent = collections.deque([now] * self.limit)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def required_permission(url: str) -> str | None:
    """The Graph permission an endpoint needs (None when not known)."""
    path = urlsplit(url).path
    return next((perm for pat, perm in PERMISSIONS if re.search(pat, path)), None)


def required_licence(url: str) -> str:
    """P1 or P2: the Entra ID licence an endpoint needs."""
    return next((lic for pat, lic in LICENCES if re.search(pat, url)), "P1")


def error_for(
    status: int,
    body: Any,
    url: str,
    request_id: str | None = None,
    retry_after: float | None = None,
    held: set[str] | None = None,
) -> GraphError:
    """The typed error for a Graph error answer (status + JSON body ``{"error": {code, message}}``).

    ``held``: the permissions the token carries (None when unknown). Identity Protection answers a tenant
    without Entra ID P2 with a 403 that names nothing (throttling-limits / riskyUser pages: "requires a
    Microsoft Entra ID P2 license"); the held permissions tell a missing licence from a missing permission.
    """
    err = body.get("error", {}) if isinstance(body, dict) else {}
    if not isinstance(err, dict):
        err = {"code": str(err)}
    code = err.get("code") or ""
    message = (err.get("message") or "").strip()
    short = urlsplit(url).path
    kw = dict(status=status, code=code or None, request_id=request_id, url=url)
    low = message.lower()
    if code in EXPIRED_SKIPTOKEN_CODES or ("skip" in low and "token" in low and "expired" in low):
        return ExpiredSkipToken(f"Graph skip token expired on {short}: {message or code}", **kw)
    if status == 401:
        return TokenExpired(f"Graph refused the access token on {short}: {message or code or 'HTTP 401'}", **kw)
    if status == 403 and (code in LICENCE_CODES or "licen" in low or "premium" in low):
        lic = required_licence(url)
        return LicenceRequired(f"{short} needs Entra ID {lic}: {message or code}", licence=lic, **kw)
    if status == 403 and "/identityProtection/" in short and code != "Authorization_RequestDenied":
        perm = required_permission(url)
        if held is not None and perm in held:
            return LicenceRequired(
                f"{short} needs Entra ID P2 (Graph answered 403 although the token holds {perm})", licence="P2", **kw
            )
        if held is None:
            return LicenceRequired(
                f"{short} needs Entra ID P2 or {perm} (Graph's 403 does not say which)",
                licence="P2",
                alternative=perm,
                **kw,
            )
    if status == 403:
        perm = required_permission(url)
        need = f" (needs {perm})" if perm else ""
        return PermissionDenied(f"Graph denied {short}{need}: {message or code or 'HTTP 403'}", permission=perm, **kw)
    if status == 404:
        return GraphNotFound(f"not found in Entra: {short} ({message or code or 'HTTP 404'})", **kw)
    if status in THROTTLE_STATUSES:
        return Throttled(f"Graph still throttling {short} after retries (HTTP {status})", retry_after=retry_after, **kw)
    return GraphError(f"Graph {short} failed: HTTP {status} {code} {message}".strip(), **kw)


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class GraphClient:
    """A Graph client bound to one base URL and one token provider (see ``iamkit.entra.connect``)."""

    def __init__(
        self,
        base_url: str,
        token_provider: TokenProvider,
        *,
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = (10, 60),
        evidence_dir: Path | str | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleeper: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        max_retries: int = 6,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        pacing: dict[str, tuple[int, float]] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        beta: bool = False,
    ):
        self.base_url = base_url.rstrip("/")
        self.tokens = token_provider
        self.session = session or make_session()
        self.timeout = timeout
        self.evidence_dir = Path(evidence_dir) if evidence_dir else None
        self.clock, self.sleeper, self.now = clock, sleeper, now
        self.rng = rng or random.Random()
        self.max_retries, self.backoff_base, self.backoff_cap = max_retries, backoff_base, backoff_cap
        limits = {k: (n, per) for k, (_, n, per) in RATE_LIMITS.items()} if pacing is None else pacing
        unknown = set(limits) - set(RATE_LIMITS)
        if unknown:
            raise ValueError(f"unknown pacing families {sorted(unknown)}; known: {sorted(RATE_LIMITS)}")
        self.limits = {k: RateLimit(n, per) for k, (n, per) in limits.items()}
        self.beta = beta  # query Graph beta where it says more (sign-in MFA fields, non-interactive sign-ins)
        self._token: str | None = None
        self._seq = 0
        self.waits: list[float] = []  # every wait, for the record (and tests)
        self.calls = 0

    # -- plumbing --
    def url(self, path: str) -> str:
        """Absolute URL for a path relative to the base; an absolute URL (a nextLink) must be on the Graph host,
        so the bearer token is never sent anywhere else."""
        if not (path.startswith("https://") or path.startswith("http://")):
            return f"{self.base_url}/{path.lstrip('/')}"
        mine, theirs = urlsplit(self.base_url), urlsplit(path)
        if (theirs.scheme, theirs.netloc.lower()) != (mine.scheme, mine.netloc.lower()):
            raise GraphError(
                f"refusing to follow a link to {theirs.scheme}://{theirs.netloc} (not the Graph host {mine.netloc})",
                url=path,
            )
        return path

    @property
    def beta_url(self) -> str:
        return re.sub(r"/v1\.0$", "/beta", self.base_url)

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self.waits.append(seconds)
            self.sleeper(seconds)

    def _pace(self, url: str) -> None:
        """Wait until one more request to ``url``'s service fits its rate limit, then count it."""
        limit = self.limits.get(family(url) or "")
        if limit is not None:
            self._wait(limit.delay(self.clock()))
            limit.record(self.clock())

    def _throttled(self, url: str, attempt: int, retry_after: float | None) -> float:
        """How long to wait after a 429/503 on ``url``: Retry-After when given, else jittered backoff (and the
        service's window counts as spent, so the next request also waits it out)."""
        if retry_after is not None:
            return retry_after
        limit = self.limits.get(family(url) or "")
        if limit is not None:
            limit.saturate(self.clock())
        return self.backoff(attempt)

    def granted(self) -> set[str] | None:
        """The permissions the current token carries (roles or scp claims); None when it cannot be read."""
        from iamkit.entra.auth import token_permissions

        return token_permissions(self._token) if self._token else None

    def error_for(
        self, status: int, body: Any, url: str, request_id: str | None = None, retry_after: float | None = None
    ) -> GraphError:
        """``error_for`` with this client's token permissions (to tell a missing licence from a permission)."""
        return error_for(status, body, url, request_id, retry_after, held=self.granted())

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter (half fixed, half random), for throttles that give no Retry-After."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2**attempt)
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def _bearer(self, force: bool = False) -> str:
        if self._token is None or force:
            self._token = self.tokens.token(force_refresh=force)
        return self._token

    def authenticate(self) -> None:
        """Get a token now (device code prompts here) so a bad setup fails before the first query."""
        self._bearer()

    def save_raw(self, name: str, content: bytes) -> Path | None:
        """Write one raw answer, as received, to ``evidence_dir/graph/NNNN-name.json``."""
        if self.evidence_dir is None:
            return None
        folder = self.evidence_dir / "graph"
        folder.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[:80] or "answer"
        while True:  # never overwrite evidence: another client may have written to this folder
            self._seq += 1
            path = folder / f"{self._seq:04d}-{safe}.json"
            try:
                with open(path, "xb") as fh:
                    fh.write(content)
                return path
            except FileExistsError:
                continue

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        headers: dict | None = None,
        json_body: Any = None,
        save_as: str | None = None,
    ) -> requests.Response:
        """One Graph call with retries on throttling and one token renewal on 401; raises typed errors."""
        import requests

        url = self.url(path)
        attempt, renewed = 0, False
        while True:
            self._pace(url)
            request_id = str(uuid.uuid4())
            hdrs = {
                "Accept": "application/json",
                **(headers or {}),
                "client-request-id": request_id,
                "return-client-request-id": "true",
                "Authorization": f"Bearer {self._bearer()}",
            }
            self.calls += 1
            try:
                resp = self.session.request(
                    method, url, params=params, headers=hdrs, json=json_body, timeout=self.timeout
                )
            except requests.RequestException as e:
                from iamkit.errors import EndpointUnreachable

                raise EndpointUnreachable(
                    f"Graph endpoint {urlsplit(url).netloc} unreachable: {type(e).__name__}"
                ) from None
            if resp.status_code < 400:
                if save_as:
                    self.save_raw(save_as, resp.content)
                return resp
            body = _json(resp)
            retry_after = _retry_after(resp.headers.get("Retry-After"))
            if resp.status_code in THROTTLE_STATUSES and attempt < self.max_retries:
                self._wait(self._throttled(url, attempt, retry_after))
                attempt += 1
                continue
            err = self.error_for(resp.status_code, body, url, request_id, retry_after)
            if isinstance(err, TokenExpired) and not renewed and self.tokens.refreshable:
                renewed = True
                self._bearer(force=True)
                continue
            if isinstance(err, TokenExpired) and not self.tokens.refreshable:
                err = TokenExpired(
                    f"{err} (a {self.tokens.kind} token cannot be renewed)",
                    status=err.status,
                    code=err.code,
                    request_id=request_id,
                    url=url,
                )
            raise err

    def get(
        self, path: str, *, params: dict | None = None, headers: dict | None = None, save_as: str | None = None
    ) -> dict:
        """GET one object (JSON)."""
        return _json(self.request("GET", path, params=params, headers=headers, save_as=save_as)) or {}

    def pages(
        self, path: str, *, params: dict | None = None, headers: dict | None = None, save_as: str | None = None
    ) -> Iterator[dict]:
        """Every page of a collection: follows ``@odata.nextLink`` exactly, re-sending ``headers``."""
        url, query = self.url(path), params
        name = save_as or urlsplit(url).path.rsplit("/", 1)[-1]
        while url:
            page = self.get(url, params=query, headers=headers, save_as=name)
            yield page
            url, query = page.get("@odata.nextLink"), None

    def get_all(self, path: str, **kw: Any) -> list[dict]:
        """All items of a collection (``value`` of every page)."""
        return [item for page in self.pages(path, **kw) for item in page.get("value", [])]

    def _chunk(self, pending: list[dict], *, first: bool = False) -> tuple[list[dict], list[dict]]:
        """The next ``$batch`` chunk: up to 20 sub-requests whose services' limits admit them now (each
        sub-request counts on its own); the rest wait for a later chunk. ``first``: admit the first one
        whatever its limit says (it has just been waited for)."""
        now = self.clock()
        chunk: list[dict] = []
        later: list[dict] = []
        planned: dict[str, int] = {}
        for r in pending:
            fam = family(self.url(r["url"]))
            limit = self.limits.get(fam or "")
            k = planned.get(fam or "", 0) + 1
            forced = first and not chunk and not later
            if len(chunk) >= BATCH_LIMIT or (
                limit is not None and not forced and (k > limit.limit or limit.delay(now, k) > 0)
            ):
                later.append(r)
                continue
            chunk.append(r)
            if fam is not None and limit is not None:
                planned[fam] = planned.get(fam, 0) + 1
        for fam, k in planned.items():
            self.limits[fam].record(now, k)
        return chunk, later

    def batch(self, requests_: list[dict], *, max_rounds: int = 8, save_as: str = "batch") -> dict[str, dict]:
        """Run sub-requests through ``$batch`` in chunks of 20, paced per service (a sub-request whose service
        is at its limit waits for a later chunk); throttled ones are re-queued after Retry-After or backoff.

        Each sub-request is ``{"id", "method" (GET), "url" (relative), "headers"}``; the answer maps id to
        ``{"status", "headers", "body"}`` (throttled ones that never got through keep their last 429).
        """
        pending = [{"method": "GET", **r} for r in requests_]
        done: dict[str, dict] = {}
        attempts: dict[str, int] = {}
        while pending:
            chunk, later = self._chunk(pending)
            if not chunk:  # every remaining sub-request waits on its service's window: wait for the soonest
                now = self.clock()
                pending.sort(key=lambda r: self.limits[family(self.url(r["url"])) or ""].delay(now))
                self._wait(self.limits[family(self.url(pending[0]["url"])) or ""].delay(now))
                chunk, later = self._chunk(pending, first=True)
            answer = _json(
                self.request(
                    "POST",
                    "$batch",
                    json_body={"requests": chunk},
                    headers={"Content-Type": "application/json"},
                    save_as=save_as,
                )
            )
            by_id = {str(r["id"]): r for r in chunk}
            retry: list[dict] = []
            hint: float | None = None
            for sub in (answer or {}).get("responses", []):
                sid = str(sub.get("id"))
                status = int(sub.get("status", 0))
                hdrs = {k.lower(): v for k, v in (sub.get("headers") or {}).items()}
                done[sid] = {"status": status, "headers": hdrs, "body": sub.get("body")}
                if status in THROTTLE_STATUSES and sid in by_id:
                    attempts[sid] = attempts.get(sid, 0) + 1
                    ra = _retry_after(hdrs.get("retry-after"))
                    hint = max(hint or 0.0, ra) if ra is not None else hint
                    if ra is None and (limit := self.limits.get(family(self.url(by_id[sid]["url"])) or "")):
                        limit.saturate(self.clock())
                    if attempts[sid] < max_rounds:
                        retry.append(by_id[sid])
            pending = later + retry
            if retry:
                self._wait(hint if hint is not None else self.backoff(max(attempts[str(r["id"])] for r in retry) - 1))
        return done

    def sliced(
        self,
        path: str,
        *,
        since: datetime,
        until: datetime | None = None,
        time_field: str = "createdDateTime",
        filter_: str | None = None,
        slice_: timedelta = timedelta(days=1),
        top: int | None = None,
        headers: dict | None = None,
        max_restarts: int = 3,
        save_as: str | None = None,
    ) -> list[dict]:
        """A log pulled slice by slice (newest first), so an expired skip token restarts only its slice."""
        until = until or self.now()
        if since.tzinfo is None or until.tzinfo is None:
            raise ValueError("since/until must be timezone-aware (UTC)")
        bounds: list[tuple[datetime, datetime]] = []
        hi = until
        while hi > since:
            lo = max(since, hi - slice_)
            bounds.append((lo, hi))
            hi = lo
        out: list[dict] = []
        name = save_as or urlsplit(self.url(path)).path.rsplit("/", 1)[-1]
        for lo, hi in bounds:
            clause = f"{time_field} ge {_iso(lo)} and {time_field} lt {_iso(hi)}"
            params = {"$filter": f"{filter_} and {clause}" if filter_ else clause}
            if top:
                params["$top"] = str(top)
            for restart in range(max_restarts + 1):
                try:
                    rows = self.get_all(path, params=params, headers=headers, save_as=f"{name}-{lo:%Y%m%dT%H%M}")
                    break
                except ExpiredSkipToken:
                    if restart == max_restarts:
                        raise
            out.extend(rows)
        return out


def make_session(ca_bundle: str | None = None) -> requests.Session:
    """A requests session that trusts ``ca_bundle`` even when REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE say otherwise.

    (requests lets those variables override ``Session.verify``; the Graph client must honour its own CA.)
    """
    import requests

    class _Session(requests.Session):
        def merge_environment_settings(self, url, proxies, stream, verify, cert):  # noqa: ANN001
            merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
            if ca_bundle and verify in (None, True):
                merged["verify"] = ca_bundle
            return merged

    session = _Session()
    if ca_bundle:
        session.verify = ca_bundle
    return session


def _json(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except (ValueError, json.JSONDecodeError):
        return None
