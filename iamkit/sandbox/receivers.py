"""Fake notification receivers on loopback: a Slack and a Teams incoming webhook and PagerDuty's Events API v2,
each recording what it received (tests read ``Receivers.received``), as strict as the real ones about shape:
Slack wants JSON with ``text`` or ``blocks`` (400 ``no_text`` / ``invalid_payload``), Teams a message with
attachments, PagerDuty a 32-character routing key, an event action and the payload's summary, source and
severity (400 ``invalid event`` listing the errors; 202 with the dedup key). SNS is moto's own: ``sns_inbox``
makes a topic with an SQS queue subscribed (raw delivery) so a test can read what was published. It is not made
at start: a topic and a queue in the seeded organization would change what an inventory of it finds.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PD_SEVERITIES = ("critical", "error", "warning", "info")
TOPIC = "iamkit-notifications"


@dataclass
class Receivers:
    """The running receivers; ``received``: one dict per request (receiver, path, content type, parsed body)."""

    host: str
    token: str  # the secret part of the webhook URLs (sandbox only)
    routing_key: str
    received: list[dict[str, Any]] = field(default_factory=list)
    _server: Any = field(default=None, repr=False)
    _lock: Any = field(default_factory=threading.Lock, repr=False)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self._server.server_address[1]}"

    def env(self) -> dict[str, str]:
        """What ``iamkit.respond.notify`` reads to reach these receivers."""
        env = {
            "IAMKIT_SLACK_WEBHOOK_URL": f"{self.base}/slack/services/{self.token}",
            "IAMKIT_TEAMS_WEBHOOK_URL": f"{self.base}/teams/webhookb2/{self.token}",
            "IAMKIT_PAGERDUTY_URL": f"{self.base}/pagerduty/v2/enqueue",
            "IAMKIT_PAGERDUTY_ROUTING_KEY": self.routing_key,
        }
        return env

    def of(self, receiver: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.received if r["receiver"] == receiver]

    def clear(self) -> None:
        with self._lock:
            self.received.clear()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- answering --
    def handle(self, path: str, content_type: str, body: bytes) -> tuple[int, str, bytes]:
        parts = path.strip("/").split("/")
        receiver = parts[0] if parts else ""
        try:
            data = json.loads(body or b"null")
        except (ValueError, RecursionError):
            data = None
        with self._lock:
            self.received.append({"receiver": receiver, "path": path, "content_type": content_type, "body": data})
        if receiver == "slack":
            if parts[-1] != self.token:
                return 404, "text/plain", b"no_service"
            if not isinstance(data, dict):
                return 400, "text/plain", b"invalid_payload"
            if not (isinstance(data.get("text"), str) and data["text"]) and not isinstance(data.get("blocks"), list):
                return 400, "text/plain", b"no_text"
            return 200, "text/plain", b"ok"
        if receiver == "teams":
            if parts[-1] != self.token:
                return 404, "text/plain", b"Webhook not found"
            atts = data.get("attachments") if isinstance(data, dict) else None
            if not isinstance(data, dict) or data.get("type") != "message" or not isinstance(atts, list) or not atts:
                return 400, "text/plain", b"Bad payload received by generic incoming webhook."
            return 200, "text/plain", b"1"
        if receiver == "pagerduty" and path.endswith("/v2/enqueue"):
            errors = _pd_errors(data, self.routing_key)
            if errors:
                return (
                    400,
                    "application/json",
                    json.dumps(
                        {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
                    ).encode(),
                )
            dedup = data.get("dedup_key") or secrets.token_hex(16)
            return (
                202,
                "application/json",
                json.dumps({"status": "success", "message": "Event processed", "dedup_key": dedup}).encode(),
            )
        return 404, "text/plain", b"not found"


def _pd_errors(data: Any, routing_key: str) -> list[str]:
    if not isinstance(data, dict):
        return ["Event object is not valid JSON"]
    errors = []
    if data.get("routing_key") != routing_key:
        errors.append(
            "'routing_key' is invalid"
            if isinstance(data.get("routing_key"), str) and len(data["routing_key"]) == 32
            else "'routing_key' must be 32 characters"
        )
    if data.get("event_action") not in ("trigger", "acknowledge", "resolve"):
        errors.append("'event_action' is invalid")
    payload = data.get("payload")
    if data.get("event_action") == "trigger":
        if not isinstance(payload, dict):
            errors.append("'payload' is missing")
        else:
            if not isinstance(payload.get("summary"), str) or not payload["summary"] or len(payload["summary"]) > 1024:
                errors.append("'payload.summary' is missing or longer than 1024 characters")
            if not isinstance(payload.get("source"), str) or not payload["source"]:
                errors.append("'payload.source' is missing")
            if payload.get("severity") not in PD_SEVERITIES:
                errors.append("'payload.severity' must be one of critical, error, warning, info")
    return errors


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    receivers: Receivers

    def log_message(self, format: str, *args: Any) -> None:  # no stderr log
        return

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = min(int(self.headers.get("Content-Length") or 0), 1 << 20)
        body = self.rfile.read(length) if length else b""
        status, ctype, payload = self.server.receivers.handle(  # type: ignore[attr-defined]
            self.path, self.headers.get("Content-Type", ""), body
        )
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def start(host: str = "127.0.0.1") -> Receivers:
    """Start the receivers on ``host`` (any free port)."""
    rec = Receivers(host=host, token=secrets.token_hex(12), routing_key=secrets.token_hex(16))
    server = _Server((host, 0), _Handler)
    server.receivers = rec  # type: ignore[attr-defined]
    rec._server = server
    threading.Thread(target=server.serve_forever, name="fake-receivers", daemon=True).start()
    return rec


def sns_inbox(sns: Any, sqs: Any, name: str = TOPIC) -> tuple[str, str]:
    """A moto SNS topic with an SQS queue subscribed (raw delivery): (topic ARN, queue URL)."""
    topic = sns.create_topic(Name=name)["TopicArn"]
    queue = sqs.create_queue(QueueName=f"{name}-inbox")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    return topic, queue
