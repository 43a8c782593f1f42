"""Guarded API calls: every failure becomes an ``errors`` row and the caller goes on.

``Scope`` is what a collector gets: one account (and region) through one ``AwsContext``. ``call`` and
``pages`` return ``None`` on failure after recording it; codes named in ``absent`` mean "nothing there"
(e.g. a bucket without a policy) and are not errors. Operations the endpoint does not implement are
listed once per run and not called again; expired credentials stop the account's remaining calls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from iamkit.aws.session import AwsContext
from iamkit.frames import error_row

UNSUPPORTED = "NotSupportedByEndpoint"
EXPIRED_CODES = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "InvalidClientTokenId"}
_UNSUPPORTED_CODES = {
    "NotImplemented",
    "InvalidAction",
    "UnknownOperationException",
    "UnknownOperation",
    "NotImplementedException",
}
# IAM action prefixes where the boto3 service name differs, and operations whose IAM action differs
_PREFIX = {"accessanalyzer": "access-analyzer", "sso-admin": "sso", "s3control": "s3"}
_ACTION = {
    ("s3", "ListBuckets"): "ListAllMyBuckets",
    ("s3", "GetPublicAccessBlock"): "GetBucketPublicAccessBlock",
    ("s3control", "GetPublicAccessBlock"): "GetAccountPublicAccessBlock",
}


def action_name(service: str, operation: str) -> str:
    """The IAM action a boto3 ``service`` operation needs (``s3control`` GetPublicAccessBlock ->
    ``s3:GetAccountPublicAccessBlock``); used in error rows and to check ``investigator.json``."""
    return f"{_PREFIX.get(service, service)}:{_ACTION.get((service, operation), operation)}"


class ErrorLog:
    """Thread-safe list of error rows, plus the operations found unsupported and accounts whose
    credentials expired."""

    def __init__(self, clock: Callable[[], datetime] | None = None):
        self.rows: list[dict[str, Any]] = []
        self.unsupported: dict[str, int] = {}
        self.succeeded: set[str] = set()  # operations that worked at least once in this run
        self.expired: set[str] = set()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()

    def add(self, account_id: str | None, region: str | None, operation: str, code: str, message: str) -> None:
        """Record one failure."""
        with self._lock:
            self.rows.append(
                error_row(operation, code, message, account_id=account_id, region=region, when=self._clock())
            )

    def extend(self, rows: list[dict[str, Any]]) -> None:
        """Record rows built elsewhere (``when`` filled in when missing)."""
        with self._lock:
            for r in rows:
                self.rows.append({**r, "when": r.get("when") or self._clock()})

    def mark_unsupported(self, operation: str, account_id: str, region: str | None, detail: str) -> bool:
        """Record that ``operation`` is not implemented by the endpoint (one row per run); True if new."""
        with self._lock:
            first = operation not in self.unsupported
            self.unsupported[operation] = self.unsupported.get(operation, 0) + 1
            if first:
                self.rows.append(
                    error_row(
                        operation,
                        UNSUPPORTED,
                        f"{operation} is not supported by this endpoint ({detail}); skipped for every account",
                        account_id=account_id,
                        region=region,
                        when=self._clock(),
                    )
                )
            return first

    def is_unsupported(self, operation: str) -> bool:
        with self._lock:
            return operation in self.unsupported

    def mark_expired(self, account_id: str, region: str | None, operation: str, message: str) -> None:
        """Record (once per account) that its credentials expired; later calls for it are skipped."""
        with self._lock:
            if account_id in self.expired:
                return
            self.expired.add(account_id)
            self.rows.append(
                error_row(
                    operation,
                    "ExpiredToken",
                    f"credentials for account {account_id} expired during {operation} "
                    f"({message}); its remaining calls were skipped — re-run for this "
                    "account with fresh credentials",
                    account_id=account_id,
                    region=region,
                    when=self._clock(),
                )
            )


def _unsupported_detail(exc: Exception) -> str | None:
    """Why ``exc`` means the endpoint does not implement the call, or None."""
    import botocore.exceptions as bx
    from botocore.parsers import ResponseParserError

    if isinstance(exc, ResponseParserError):
        return "HTML page instead of an API response" if "<html" in str(exc).lower() else "unparseable response"
    if isinstance(exc, bx.ClientError):
        err = exc.response.get("Error", {})
        code, msg = str(err.get("Code", "")), str(err.get("Message", ""))
        if code in _UNSUPPORTED_CODES:
            return code
        if "<html" in msg.lower() or "<!doctype" in msg.lower():  # a web server, not an AWS API, answered
            return f"HTTP {exc.response.get('ResponseMetadata', {}).get('HTTPStatusCode', code)} HTML page"
        if code in ("404", "NotFound") and not msg:
            return "HTTP 404"
    return None


class Scope:
    """One account (and region) as seen through ``ctx``; guarded calls record failures in ``log``."""

    def __init__(self, ctx: AwsContext, log: ErrorLog, region: str | None = None, account_id: str | None = None):
        self.ctx = ctx
        self.log = log
        self.region = region or ctx.region
        self.account_id = account_id or ctx.account_id

    @property
    def sleep(self) -> Callable[[float], None]:
        return self.ctx.sleep

    def client(self, service: str) -> Any:
        return self.ctx.client(service, self.region)

    def call(
        self, service: str, operation: str, *, absent: tuple[str, ...] = (), region: str | None = None, **kwargs: Any
    ) -> dict[str, Any] | None:
        """``client.<operation>(**kwargs)``; None when absent or failed (failures recorded)."""
        op = action_name(service, operation)
        if self.account_id in self.log.expired or self.log.is_unsupported(op):
            return None
        try:
            client = self.ctx.client(service, region or self.region)
            result = getattr(client, _snake(operation))(**kwargs)
            self.log.succeeded.add(op)
            return result
        except Exception as e:  # every failure is data; see _record
            return self._record(e, op, absent, region)

    def pages(
        self,
        service: str,
        operation: str,
        key: str,
        *,
        absent: tuple[str, ...] = (),
        region: str | None = None,
        **kwargs: Any,
    ) -> list[Any] | None:
        """Every item under ``key`` across the pages of a paginated operation; None on failure."""
        op = action_name(service, operation)
        if self.account_id in self.log.expired or self.log.is_unsupported(op):
            return None
        items: list[Any] = []
        try:
            client = self.ctx.client(service, region or self.region)
            for page in client.get_paginator(_snake(operation)).paginate(**kwargs):
                items.extend(page.get(key) or [])
            self.log.succeeded.add(op)
            return items
        except Exception as e:
            return self._record(e, op, absent, region)

    def iter_pages(self, service: str, operation: str, **kwargs: Any) -> Any:
        """Pages of a paginated operation as a generator; a failure is recorded and ends it."""
        op = action_name(service, operation)
        if self.account_id in self.log.expired or self.log.is_unsupported(op):
            return
        try:
            client = self.ctx.client(service, self.region)
            yield from client.get_paginator(_snake(operation)).paginate(**kwargs)
            self.log.succeeded.add(op)
        except Exception as e:
            self._record(e, op, (), None)

    def _record(self, exc: Exception, op: str, absent: tuple[str, ...], region: str | None) -> None:
        import botocore.exceptions as bx

        region = region or self.region
        if isinstance(exc, bx.ClientError):
            err = exc.response.get("Error", {})
            code = str(err.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
            if code in absent:
                return None
            if code in EXPIRED_CODES:
                self.log.mark_expired(self.account_id, region, op, f"{code}: {err.get('Message', '')}")
                return None
        detail = _unsupported_detail(exc)
        if detail and op not in self.log.succeeded:
            self.log.mark_unsupported(op, self.account_id, region, detail)
            return None
        if detail:  # it worked elsewhere in this run: a one-off server failure, not a missing API
            self.log.add(self.account_id, region, op, "EndpointError", f"the endpoint failed: {detail}")
            return None
        if isinstance(exc, bx.ClientError):
            msg = str(err.get("Message") or exc)
            self.log.add(self.account_id, region, op, code, msg[:500])
        else:
            self.log.add(self.account_id, region, op, type(exc).__name__, str(exc)[:500])
        return None


def _snake(operation: str) -> str:
    """``GetAccountAuthorizationDetails`` -> ``get_account_authorization_details``."""
    from botocore import xform_name

    return xform_name(operation)
