"""Notifications: Slack and Microsoft Teams incoming webhooks, an SNS topic, PagerDuty Events API v2.

A message says the case id, its severity, what was found, what was done and what awaits approval. Every value is
escaped for its target: Slack mrkdwn (``&``, ``<``, ``>`` as entities, so evidence cannot mention @channel or
forge a link), Teams Adaptive Card text (its Markdown subset and ``{{…}}`` functions neutralised), PagerDuty and
SNS as JSON / plain text. Where to send comes from the environment (``IAMKIT_SLACK_WEBHOOK_URL``,
``IAMKIT_TEAMS_WEBHOOK_URL``, ``IAMKIT_SNS_TOPIC_ARN``, ``IAMKIT_PAGERDUTY_ROUTING_KEY`` [+ ``IAMKIT_PAGERDUTY_URL``])
or a file named by ``IAMKIT_NOTIFY_FILE`` (JSON or YAML with the same names in lower case, without the prefix);
none of it is ever written into a case: the journal records which kind of receiver answered what, nothing else.
A receiver that fails gives an ``errors`` row (and the caller a one-line warning); it never fails a remediation.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from iamkit import jsontext
from iamkit.aws.session import connect
from iamkit.errors import BadInput
from iamkit.frames import error_row
from iamkit.severity import LEVELS

KINDS = ("slack", "teams", "sns", "pagerduty")
SETTINGS = {
    "slack": "slack_webhook_url",
    "teams": "teams_webhook_url",
    "sns": "sns_topic_arn",
    "pagerduty": "pagerduty_routing_key",
}
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
# iamkit severity (LEVELS, worst first) -> PagerDuty's four (critical, error, warning, info)
PD_SEVERITY = dict(zip(LEVELS, ("critical", "error", "warning", "info", "info"), strict=True))
MAX_LINES = 20  # per section; the rest is counted, not sent
TIMEOUT = 10.0


@dataclass
class Message:
    """What a notification says (plain text values; each target escapes them its own way)."""

    case_id: str
    severity: str
    found: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    awaiting: list[str] = field(default_factory=list)
    title: str = "iamkit"

    def sections(self) -> list[tuple[str, list[str]]]:
        out = []
        for name, lines in (("Found", self.found), ("Done", self.done), ("Awaiting approval", self.awaiting)):
            if lines:
                more = [f"… and {len(lines) - MAX_LINES} more"] if len(lines) > MAX_LINES else []
                out.append((name, [_clip(x) for x in lines[:MAX_LINES]] + more))
        return out

    @property
    def summary(self) -> str:
        return _clip(
            f"[{self.severity.upper()}] {self.title} — case {self.case_id}: {len(self.found)} found, "
            f"{len(self.done)} done, {len(self.awaiting)} awaiting approval",
            1024,
        )


def _clip(text: Any, n: int = 500) -> str:
    s = " ".join(str(text).split())  # one line: no newline can start a new Markdown block
    return s if len(s) <= n else s[: n - 1] + "…"


# ------------------------------------------------------------------------------------------------ escaping
def slack_escape(text: str) -> str:
    """Slack mrkdwn: the three characters Slack's docs say to escape (control sequences start with ``<``)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_MD_INLINE = re.compile(r"([\\`*_\[\]()~])")
_MD_LEADING = re.compile(r"^(\s*)([-+#>]|\d+\.)")


def teams_escape(text: str) -> str:
    """Adaptive Card TextBlock text (its Markdown subset): emphasis and link characters backslash-escaped, a
    list or heading marker at the start escaped too, and ``{{`` broken so no DATE()/TIME() function runs."""
    out = _MD_INLINE.sub(r"\\\1", text)
    out = _MD_LEADING.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", out)
    return out.replace("{{", "{\u200b{")


# ------------------------------------------------------------------------------------------------ payloads
def slack_payload(m: Message) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": slack_escape(m.summary)}}]
    for name, lines in m.sections():
        body = "\n".join(f"• {slack_escape(x)}" for x in lines)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*{name}*\n{body}"[:3000]}})
    return {"text": slack_escape(m.summary), "blocks": blocks}


def teams_payload(m: Message) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": teams_escape(m.summary), "weight": "Bolder", "wrap": True}
    ]
    for name, lines in m.sections():
        body.append({"type": "TextBlock", "text": name, "weight": "Bolder", "wrap": True})
        body.extend({"type": "TextBlock", "text": teams_escape(x), "wrap": True, "spacing": "None"} for x in lines)
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def pagerduty_payload(m: Message, routing_key: str) -> dict[str, Any]:
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": f"iamkit-{m.case_id}"[:255],
        "payload": {
            "summary": m.summary,
            "source": "iamkit",
            "severity": PD_SEVERITY.get(m.severity, "info"),
            "custom_details": {"case_id": m.case_id, **{n: lines for n, lines in m.sections()}},
        },
    }


def text_body(m: Message) -> str:
    lines = [m.summary]
    for name, items in m.sections():
        lines += ["", f"{name}:", *[f"- {x}" for x in items]]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ settings
def settings(env: dict[str, str] | None = None) -> dict[str, str]:
    """Receiver settings from ``IAMKIT_NOTIFY_FILE`` then the environment (the environment wins)."""
    env = dict(os.environ if env is None else env)
    out: dict[str, str] = {}
    path = env.get("IAMKIT_NOTIFY_FILE")
    if path:
        text = jsontext.read_text(Path(path), f"IAMKIT_NOTIFY_FILE {path}")
        if text.lstrip()[:1] == "{":
            data = jsontext.parse(text, f"IAMKIT_NOTIFY_FILE {path}")
        else:
            import yaml

            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError:
                raise BadInput(f"IAMKIT_NOTIFY_FILE {path}: not JSON or YAML") from None
        if not isinstance(data, dict):
            raise BadInput(f"IAMKIT_NOTIFY_FILE {path}: expected a mapping of settings")
        out.update({k: str(v) for k, v in data.items() if isinstance(v, str | int)})
    for name in [*SETTINGS.values(), "pagerduty_url"]:
        if env.get(f"IAMKIT_{name.upper()}"):
            out[name] = env[f"IAMKIT_{name.upper()}"]
    return out


def _url_ok(url: str) -> bool:
    u = urlsplit(url)
    return (
        u.scheme == "https"
        and bool(u.hostname)
        or (u.scheme == "http" and u.hostname in ("127.0.0.1", "localhost", "::1"))
    )


def _where(kind: str) -> str:
    return kind  # never the URL or the key: they are credentials


# ------------------------------------------------------------------------------------------------ sending
def send(
    m: Message, *, only: list[str] | None = None, conf: dict[str, str] | None = None, http: Any = None, sns: Any = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Send ``m`` to every configured receiver (or ``only`` those kinds). Returns (one row per receiver: kind,
    ok, status; ``errors`` rows). ``http``: a requests-like session; ``sns``: an SNS client (default: one from
    ``iamkit.aws.session``). Never raises for a receiver's failure."""
    if m.severity not in LEVELS:
        raise BadInput(f"notification severity {m.severity!r}: use one of {', '.join(LEVELS)}")
    conf = settings() if conf is None else conf
    kinds = [k for k in (only or KINDS) if conf.get(SETTINGS[k])]
    results: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    if http is None and any(k != "sns" for k in kinds):
        import requests

        http = requests.Session()
        http.trust_env = False  # no proxy from the environment carries the webhook URL elsewhere
    for kind in kinds:
        row = {"receiver": _where(kind), "ok": False, "status": None}
        try:
            if kind == "sns":
                client = sns if sns is not None else _sns_client(conf["sns_topic_arn"])
                subject = re.sub(r"[^\x20-\x7e]", " ", m.summary)[:100]  # SNS: ASCII, no newlines, 100 max
                resp = client.publish(TopicArn=conf["sns_topic_arn"], Subject=subject, Message=text_body(m))
                row.update(ok=bool(resp.get("MessageId")), status=200)
            else:
                url = conf.get("pagerduty_url", PAGERDUTY_URL) if kind == "pagerduty" else conf[SETTINGS[kind]]
                if not _url_ok(url):
                    raise BadInput(f"{kind}: the receiver URL must be https (http only on loopback)")
                body = {
                    "slack": lambda: slack_payload(m),
                    "teams": lambda: teams_payload(m),
                    "pagerduty": lambda: pagerduty_payload(m, conf["pagerduty_routing_key"]),
                }[kind]()
                resp = http.post(url, json=body, timeout=TIMEOUT, allow_redirects=False)
                row["status"] = resp.status_code
                row["ok"] = 200 <= resp.status_code < 300
                if not row["ok"]:
                    raise BadInput(f"{kind}: HTTP {resp.status_code} {_clip(resp.text, 120)}")
        except BadInput as e:  # iamkit's own message: the kind and the HTTP status, never the URL or key
            errors.append(error_row(f"notify:{kind}", "BadInput", _clip(str(e), 300)))
        except Exception as e:  # a library's text can carry the URL (a credential): the kind and class only
            code = str(getattr(e, "response", {}).get("Error", {}).get("Code", "")) if kind == "sns" else ""
            errors.append(
                error_row(
                    f"notify:{kind}", e.__class__.__name__, f"{kind}: {code or e.__class__.__name__} (not delivered)"
                )
            )
        results.append(row)
    return results, errors


def _sns_client(topic_arn: str) -> Any:
    parts = topic_arn.split(":")
    region = parts[3] if len(parts) > 3 and parts[3] else None
    return connect(region=region).client("sns")


# ------------------------------------------------------------------------------------------------ from a case
def message_for(
    case: Any,
    plan: Any = None,
    results: list[dict[str, Any]] | None = None,
    found: list[str] | None = None,
    severity: str | None = None,
) -> Message:
    """The message for a case: what the plan's proposals say was found (or ``found``), what ``results`` (an
    apply run) changed, and the plan's steps still waiting for approval."""
    results = results or []
    done = [
        f"{r['kind']} {r['target']}" + ("" if r.get("verified") else " (NOT verified)")
        for r in results
        if r.get("changed")
    ]
    failed = [f"{r['kind']} {r['target']}: failed: {r['error']}" for r in results if r.get("error")]
    applied = {(r["kind"], r["target"]) for r in results if r.get("changed") or r.get("verified")}
    awaiting = (
        []
        if plan is None
        else [f"{a.kind} {a.target_arn} — {a.reason}" for a in plan.actions if (a.kind, a.target_arn) not in applied]
    )
    if found is None:
        try:
            props = case.load_json("remediation-proposals").get("proposals", [])
        except Exception:  # no proposals in this case (a key-trace plan): the plan's reasons say it
            props = []
        found = [f"{p.get('rule_id')}: {p.get('target')}" for p in props] or (
            [a.reason for a in plan.actions] if plan is not None else []
        )
    if severity is None:
        try:
            sev = [p.get("severity") for p in case.load_json("remediation-proposals").get("proposals", [])]
        except Exception:
            sev = []
        known = [s for s in sev if s in LEVELS]
        severity = min(known, key=LEVELS.index) if known else "high"
    return Message(case.id, severity, list(dict.fromkeys(found)), done + failed, awaiting, title="iamkit: remediation")


def notify_case(
    case: Any,
    plan: Any = None,
    results: list[dict[str, Any]] | None = None,
    *,
    conf: dict[str, str] | None = None,
    http: Any = None,
    sns: Any = None,
) -> list[str]:
    """Send the case's message to every configured receiver and journal which kinds answered (no URL, no key);
    returns one warning line per receiver that failed (a failed notification never fails the remediation)."""
    conf = settings() if conf is None else conf
    if not any(conf.get(v) for v in SETTINGS.values()):
        return []
    rows, errors = send(message_for(case, plan, results), conf=conf, http=http, sns=sns)
    case.journal(
        {
            "event": "notified",
            "plan_hash": getattr(plan, "hash", None),
            "receivers": rows,
            "errors": [
                {"receiver": e["operation"].split(":", 1)[1], "code": e["code"], "message": e["message"]}
                for e in errors
            ],
        }
    )
    return [f"notification not delivered: {e['message']}" for e in errors]
