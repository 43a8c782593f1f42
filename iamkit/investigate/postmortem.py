"""Step 4: the summary the report opens with, and the incident timeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
        yield "Incident timeline", figure(self.events, "Calls traced from the leaked key")
        yield "Proposed actions (dry run)", self._frame(self.summary["proposed_actions"])

    @staticmethod
    def _frame(rows):
        import pandas as pd

        return pd.DataFrame(rows)


def summarize(case: Case) -> Postmortem:
    """Write ``evidence/summary.json`` (read by the report) from the evidence of steps 1-3."""
    kf = case.load_json("key-facts")
    origin = kf["origin"]
    events = case.load_frame("key-events")
    reach = _maybe(case, "reach")
    plan = _maybe(case, "remediation-plan") or {"actions": [], "hash": None}
    summary = {
        "title": f"Compromised access key {kf['access_key_id']}",
        "headline": kf["headline"],
        "who": {k: v for k, v in origin.items() if v},
        "what": notable(events),
        "when": {"first_seen": kf["first_seen"], "last_seen": kf["last_seen"], "calls": kf["events"],
                 "denied": kf["denied"]},
        "from_where": from_where(events),
        "blast_radius": (reach or {}).get("blast_radius") or {
            "accounts": kf["accounts"], "created_users": [u["arn"] for u in kf["created_users"]],
            "created_keys": [k["access_key_id"] for k in kf["created_keys"]],
            "assumed_roles": [a["role_arn"] for a in kf["assumed_roles"]],
            "secrets_read": [s["secret"] for s in kf["secrets_read"]],
            "objects_read": [o["object"] for o in kf["objects_read"]]},
        "proposed_actions": [{"step": i + 1, "action": a["kind"], "target": a["target_arn"], "reason": a["reason"]}
                             for i, a in enumerate(plan["actions"])],
        "plan_hash": plan.get("hash"),
        "tables": {"key-events": "Every call traced from the key", "detections": "Detections in the window",
                   "reach": "Effective permissions of the principals involved"},
    }
    case.save_json("summary", summary)
    return Postmortem(summary, events)


SENSITIVE = {"CreateUser", "CreateAccessKey", "CreateLoginProfile", "AttachUserPolicy", "PutUserPolicy",
             "AttachRolePolicy", "PutRolePolicy", "CreatePolicyVersion", "UpdateAssumeRolePolicy", "AssumeRole",
             "GetSecretValue", "GetObject", "StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors",
             "GetSessionToken", "GetFederationToken", "ConsoleLogin", "DeleteDetector"}


def _target(row) -> str:
    req = row.get("request_parameters")
    if isinstance(req, str) and req.startswith("{"):
        import json

        req = json.loads(req)
    if not isinstance(req, dict):
        return ""
    for k in ("roleArn", "secretId", "userName", "policyArn", "name", "bucketName", "key"):
        if req.get(k):
            v = str(req[k])
            return f"{v}/{req['key']}" if k == "bucketName" and req.get("key") else v
    return ""


def notable(events: pd.DataFrame) -> list[dict[str, Any]]:
    """The incident's steps in order: writes, sensitive reads and every denied call (not routine listing)."""
    rows = []
    for _, r in events.iterrows():
        denied = isinstance(r.get("error_code"), str) and r["error_code"] != ""
        if r["event_name"] in SENSITIVE or denied or r.get("read_only") is False:
            rows.append({"time": str(r["event_time"])[:19], "key": r.get("access_key_id"), "call": r["event_name"],
                         "account": r.get("recipient_account_id"), "source_ip": r.get("source_ip"),
                         "target": _target(r), "result": r["error_code"] if denied else "ok"})
    return rows


def from_where(events: pd.DataFrame) -> list[dict[str, Any]]:
    """Per source IP: calls, denied, first and last seen, the user agents used."""
    out = []
    for ip, g in events.groupby(events["source_ip"].fillna("(none)")):
        uas = g["user_agent"].fillna("").str.split(" ").str[0].value_counts()
        out.append({"source_ip": ip, "calls": len(g), "denied": int(g["error_code"].notna().sum()),
                    "first_seen": str(g["event_time"].min())[:19], "last_seen": str(g["event_time"].max())[:19],
                    "keys": ", ".join(sorted(g["access_key_id"].dropna().unique())),
                    "user_agents": ", ".join(f"{u} ({n})" for u, n in uas.head(3).items())})
    return sorted(out, key=lambda r: r["first_seen"])


def _maybe(case: Case, name: str):
    from iamkit.errors import NotFound

    try:
        return case.load_json(name)
    except NotFound:
        return None
