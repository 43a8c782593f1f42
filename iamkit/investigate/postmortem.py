"""Step 4: the summary the report opens with (rendered from the facts) and the incident timeline."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iamkit.trail.outcome import DENIED, FAILED, outcome
from iamkit.ui.text import bullets

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from iamkit.case import Case


@dataclass
class Postmortem:
    summary: dict[str, Any]
    events: pd.DataFrame

    def sections(self):
        from iamkit.ui.timeline import figure

        yield self.summary["title"], bullets(self.summary["headline"])
        yield "Incident timeline", figure(self.events, "Calls traced from the key")
        yield "Proposed actions (dry run)", self._frame(self.summary["proposed_actions"])

    @staticmethod
    def _frame(rows):
        import pandas as pd

        return pd.DataFrame(rows)


def summarize(case: Case) -> Postmortem:
    """Settle the facts (schema-checked, with every unanswered question) and write ``evidence/summary.json``
    (read by the report) from them and the evidence of steps 1-3."""
    from iamkit.investigate import facts as F
    from iamkit.report import headline

    f = F.save(case, F.load(case))
    events = case.load_frame("key-events")
    plan = _maybe(case, "remediation-plan") or {"actions": [], "hash": None}
    s = f["subject"]
    summary = {
        "title": f"Compromised access key {s['access_key_id']}",
        "headline": headline(f),
        "who": {k: v for k, v in s.items() if v},
        "what": notable(events),
        "when": {"first_suspicious": f["window"]["start"], "last_suspicious": f["window"]["end"],
                 "first_event": f["window"]["first_event"], **f["activity"], "denied": f["denied"]["count"],
                 "other_errors": f["other_errors"]["count"]},
        "from_where": from_where(events, f),
        "blast_radius": {**(f.get("reach") or {}), "detections": f.get("detections") or [],
                         "created_users": f["created"]["users"], "created_keys": f["created"]["access_keys"],
                         "sessions": f["created"]["sessions"],
                         "assumed_roles": [r["role_arn"] for r in f["roles_assumed"]],
                         "resources_read": f["resources_read"], "resources_changed": f["resources_changed"]},
        "proposed_actions": [{"step": i + 1, "action": a["kind"], "target": a["target_arn"], "reason": a["reason"]}
                             for i, a in enumerate(plan["actions"])],
        "plan_hash": plan.get("hash"),
        "tables": {"key-events": "Every call traced from the key", "detections": "Detections on the incident",
                   "reach": "Effective permissions of the principals involved"},
    }
    case.save_json("summary", summary)
    return Postmortem(summary, events)


SENSITIVE = {"CreateUser", "CreateAccessKey", "CreateLoginProfile", "UpdateLoginProfile", "AttachUserPolicy",
             "PutUserPolicy", "AttachRolePolicy", "PutRolePolicy", "CreatePolicyVersion", "UpdateAssumeRolePolicy",
             "AssumeRole", "GetSecretValue", "GetObject", "StopLogging", "DeleteTrail", "UpdateTrail",
             "PutEventSelectors", "GetSessionToken", "GetFederationToken", "ConsoleLogin", "DeleteDetector"}


def _target(row) -> str:
    req = row.get("request_parameters")
    if isinstance(req, str) and req.startswith("{"):
        req = json.loads(req)
    if not isinstance(req, dict):
        return ""
    for k in ("roleArn", "secretId", "userName", "policyArn", "name", "trailName", "bucketName", "key"):
        if req.get(k):
            v = str(req[k])
            return f"{v}/{req['key']}" if k == "bucketName" and req.get("key") else v
    return ""


def _error(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def notable(events: pd.DataFrame) -> list[dict[str, Any]]:
    """The incident's steps in order: writes, sensitive reads and every failed call (not routine listing)."""
    rows = []
    for _, r in events.iterrows():
        code = _error(r.get("error_code"))
        if r["event_name"] in SENSITIVE or code or r.get("read_only") is False:
            rows.append({"time": str(r["event_time"])[:19], "key": r.get("access_key_id"), "call": r["event_name"],
                         "account": r.get("recipient_account_id"), "source_ip": r.get("source_ip"),
                         "target": _target(r), "result": f"{outcome(code)} ({code})" if code else "ok"})
    return rows


def from_where(events: pd.DataFrame, f: dict[str, Any]) -> list[dict[str, Any]]:
    """Per source IP: which activity it belongs to (suspicious, usual, via AWS services), calls, denied and
    other errors, first and last seen, the keys and the full user agents (without aws-cli command tokens)."""
    from iamkit.investigate.facts import agent_family

    src = f["sources"]
    out = []
    for ip, g in events.groupby(events["source_ip"].fillna("(none)")):
        kind = ("suspicious" if ip in src["new_ips"] else "usual" if ip in src["usual_ips"]
                else "via AWS services" if ip in src["via_aws_services"] else "other")
        results = g["error_code"].map(outcome)
        agents = g["user_agent"].map(agent_family).value_counts()
        out.append({"source_ip": ip, "activity": kind, "calls": len(g), "denied": int((results == DENIED).sum()),
                    "other_errors": int((results == FAILED).sum()),
                    "first_seen": str(g["event_time"].min())[:19], "last_seen": str(g["event_time"].max())[:19],
                    "keys": ", ".join(sorted(g["access_key_id"].dropna().unique())),
                    "user_agents": "; ".join(f"{u} ({n})" for u, n in agents.head(3).items())})
    return sorted(out, key=lambda r: r["first_seen"])


def _maybe(case: Case, name: str):
    from iamkit.errors import NotFound

    try:
        return case.load_json(name)
    except NotFound:
        return None
