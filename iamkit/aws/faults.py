"""Fault injection through botocore's ``before-send`` event: throttling, 5xx, AccessDenied, expired
credentials and added latency on chosen operations (and accounts), for tests, benches and the sandbox.

Usage: ``inj = FaultInjector([Fault("throttle", "iam:GetAccountAuthorizationDetails", times=2)])`` then
``connect(..., hooks=[inj])``: every client the context (and its assumed contexts) creates gets the hook.
"""

from __future__ import annotations

import fnmatch
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from iamkit.aws.calls import action_name

KINDS = ("throttle", "5xx", "denied", "expired", "latency")

# kind -> (http status, query/xml code, json code)
_ERRORS = {
    "throttle": (400, "Throttling", "ThrottlingException"),
    "5xx": (503, "ServiceUnavailable", "ServiceUnavailableException"),
    "denied": (403, "AccessDenied", "AccessDeniedException"),
    "expired": (400, "ExpiredToken", "ExpiredTokenException"),
}
_S3_CODES = {"throttle": (503, "SlowDown")}


@dataclass
class Fault:
    """One rule. ``operation``: glob on ``service:Operation`` (service as the event names it, e.g.
    ``secrets-manager``, as boto3 names it, ``secretsmanager``, or the IAM action, e.g.
    ``s3:GetAccountPublicAccessBlock``) or on ``Operation`` alone; ``account_id``: only clients of that
    account; ``match``: only requests whose URL or body contains this text (e.g. a target account id in
    an AssumeRole call); ``times``: fire this many times then stop (None = always); ``seconds``: latency."""

    kind: str
    operation: str = "*"
    account_id: str | None = None
    times: int | None = None
    seconds: float = 0.05
    match: str | None = None
    message: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(KINDS)}")

    def matches(
        self, service: str, operation: str, account_id: str, request: Any = None, aliases: tuple[str, ...] = ()
    ) -> bool:
        if self.account_id and self.account_id != account_id:
            return False
        if self.match and request is not None:
            body = request.body if isinstance(request.body, (bytes, str)) else b""
            body = body.decode(errors="replace") if isinstance(body, bytes) else body
            if self.match not in body and self.match not in request.url:
                return False
        pat = self.operation.lower()
        names = [f"{service}:{operation}", operation, *aliases]
        return any(fnmatch.fnmatchcase(n.lower(), pat) for n in names)


class _Raw:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_: Any) -> Iterable[bytes]:
        yield self._body


def error_response(url: str, protocol: str, service: str, kind: str, message: str) -> Any:
    """A botocore ``AWSResponse`` carrying the AWS error for ``kind`` in the service's wire protocol."""
    from botocore.awsrequest import AWSResponse

    status, xml_code, json_code = _ERRORS[kind]
    if service == "s3" and kind in _S3_CODES:
        status, xml_code = _S3_CODES[kind]
    headers = {"x-amzn-requestid": "iamkit-fault"}
    if protocol in ("json", "rest-json", "smithy-rpc-v2-cbor"):
        body = json.dumps({"__type": json_code, "message": message}).encode()
        headers |= {"content-type": "application/x-amz-json-1.1", "x-amzn-ErrorType": json_code}
    elif protocol == "rest-xml":
        body = (
            f"<Error><Code>{xml_code}</Code><Message>{message}</Message><RequestId>iamkit-fault</RequestId></Error>"
        ).encode()
        headers["content-type"] = "application/xml"
    else:  # query, ec2
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{xml_code}</Code><Message>{message}</Message>"
            f"</Error><RequestId>iamkit-fault</RequestId></ErrorResponse>"
        ).encode()
        headers["content-type"] = "text/xml"
    return AWSResponse(url, status, headers, _Raw(body))


class FaultInjector:
    """A session hook (see ``AwsContext.hooks``) that answers matching requests with injected faults."""

    def __init__(self, faults: Iterable[Fault] = (), sleep: Callable[[float], None] = time.sleep):
        self.faults = list(faults)
        self.sleep = sleep
        self.fired: Counter[tuple[str, str, str]] = Counter()  # (kind, service:Operation, account) -> n
        self._lock = threading.Lock()

    def add(self, kind: str, operation: str = "*", **kw: Any) -> FaultInjector:
        """Add a rule; returns self for chaining."""
        self.faults.append(Fault(kind, operation, **kw))
        return self

    def __call__(self, client: Any, account_id: str) -> None:
        protocol = client.meta.service_model.protocol
        service_id = client.meta.service_model.service_id.hyphenize()
        name = client.meta.service_model.service_name

        def handler(request: Any, event_name: str = "", **_: Any) -> Any:
            operation = event_name.rsplit(".", 1)[-1]
            aliases = (f"{name}:{operation}", action_name(name, operation))
            return self._fire(request, protocol, service_id, operation, account_id, aliases)

        client.meta.events.register(f"before-send.{service_id}", handler)

    def _fire(
        self, request: Any, protocol: str, service: str, operation: str, account_id: str, aliases: tuple[str, ...] = ()
    ) -> Any:
        delay = 0.0
        chosen: Fault | None = None
        with self._lock:
            for f in self.faults:
                if f.times is not None and f.times <= 0:
                    continue
                if not f.matches(service, operation, account_id, request, aliases):
                    continue
                if f.times is not None:
                    f.times -= 1
                self.fired[(f.kind, f"{service}:{operation}", account_id)] += 1
                if f.kind == "latency":
                    delay += f.seconds
                    continue
                chosen = f
                break
        if delay:
            self.sleep(delay)
        if chosen is None:
            return None
        message = chosen.message or f"injected {chosen.kind} on {service}:{operation}"
        return error_response(request.url, protocol, service, chosen.kind, message)
