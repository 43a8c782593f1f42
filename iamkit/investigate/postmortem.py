"""Step 4: the summary the report opens with, and the incident timeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from iamkit.case import Case


@dataclass
class Postmortem:
    summary: dict[str, Any]
    events: pd.DataFrame

    def sections(self):
        from iamkit.ui.timeline import figure

        yield self.summary["title"], "\n".join(f"- {h}" for h in self.summary["headline"])
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
        "what": [f"{n}: {c}" for n, c in events["event_name"].value_counts().head(25).items()],
        "when": {"first_seen": kf["first_seen"], "last_seen": kf["last_seen"], "calls": kf["events"],
                 "denied": kf["denied"]},
        "from_where": [{"source_ip": ip, "calls": n} for ip, n in kf["source_ips"].items()]
        + [{"user_agent": ua, "calls": n} for ua, n in kf["user_agents"].items()],
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


def _maybe(case: Case, name: str):
    from iamkit.errors import NotFound

    try:
        return case.load_json(name)
    except NotFound:
        return None
