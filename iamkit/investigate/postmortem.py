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
    timeline_title: str = "Calls traced from the key"

    def sections(self):
        from iamkit.ui.timeline import figure

        yield self.summary["title"], bullets(self.summary["headline"])
        yield (
            "Post-mortem: time to detect / contain / recover, detection gaps, guardrails to add",
            self._frame(self.summary.get("postmortem") or []),
        )
        yield "Proposed actions (dry run)", self._frame(self.summary["proposed_actions"])
        yield "Incident timeline", figure(self.events, self.timeline_title)

    @staticmethod
    def _frame(rows):
        import pandas as pd

        return pd.DataFrame(rows)


def summarize(case: Case) -> Postmortem:
    """Settle the facts (schema-checked, with every unanswered question) and write ``evidence/summary.json``
    (read by the report) from them and the evidence of steps 1-3."""
    from iamkit.investigate import facts as F
    from iamkit.report import headline

    f = settle_lessons(case, F.load(case))
    events = case.load_frame("key-events")
    plan = _maybe(case, "remediation-plan") or {"actions": [], "hash": None}
    s = f["subject"]
    summary = {
        "title": f"Compromised access key {s['access_key_id']}",
        "headline": headline(f),
        "who": {k: v for k, v in s.items() if v},
        "what": notable(events),
        "when": {
            "first_suspicious": f["window"]["start"],
            "last_suspicious": f["window"]["end"],
            "first_event": f["window"]["first_event"],
            **f["activity"],
            "denied": f["denied"]["count"],
            "other_errors": f["other_errors"]["count"],
        },
        "from_where": from_where(events, f),
        "blast_radius": {
            **(f.get("reach") or {}),
            "detections": f.get("detections") or [],
            "created_users": f["created"]["users"],
            "created_keys": f["created"]["access_keys"],
            "sessions": f["created"]["sessions"],
            "assumed_roles": [r["role_arn"] for r in f["roles_assumed"]],
            "resources_read": f["resources_read"],
            "resources_changed": f["resources_changed"],
        },
        "proposed_actions": [
            {"step": i + 1, "action": a["kind"], "target": a["target_arn"], "reason": a["reason"]}
            for i, a in enumerate(plan["actions"])
        ],
        "plan_hash": plan.get("hash"),
        "postmortem": lessons_rows(f["postmortem"]),
        "tables": {
            "key-events": "Every call traced from the key",
            "detections": "Detections on the incident",
            "reach": "Effective permissions of the principals involved",
        },
    }
    case.save_json("summary", summary)
    return Postmortem(summary, events)


def summarize_subject(case: Case, title: str, events_name: str, tables: dict[str, str]) -> Postmortem:
    """The summary of any other subject's case, in the same structure (headline from the facts, post-mortem,
    proposed actions, then the evidence tables), written to ``evidence/summary.json``."""
    from iamkit.investigate import facts as F
    from iamkit.report import headline

    f = settle_lessons(case, F.load(case))
    events = case.load_frame(events_name)
    proposed = (_maybe(case, "proposed-changes") or {}).get("proposals") or []
    plan = _maybe(case, "remediation-plan") or {}
    summary = {
        "title": title,
        "headline": headline(f),
        "who": {k: v for k, v in f["subject"].items() if v},
        "what": notable(events),
        "proposed_actions": [
            {"step": i + 1, "action": p["kind"], "target": p["target_arn"], "reason": p["reason"]}
            for i, p in enumerate(proposed)
        ],
        "plan_hash": plan.get("hash"),
        "postmortem": lessons_rows(f["postmortem"]),
        "tables": {
            events_name: "Every call of the subject",
            **tables,
            "detections": "Detections on the incident",
            "reach": "Effective permissions of the principals involved",
        },
    }
    case.save_json("summary", summary)
    return Postmortem(summary, events, "Calls of the subject")


SENSITIVE = {
    "CreateUser",
    "CreateAccessKey",
    "CreateLoginProfile",
    "UpdateLoginProfile",
    "AttachUserPolicy",
    "PutUserPolicy",
    "AttachRolePolicy",
    "PutRolePolicy",
    "CreatePolicyVersion",
    "UpdateAssumeRolePolicy",
    "AssumeRole",
    "GetSecretValue",
    "GetObject",
    "StopLogging",
    "DeleteTrail",
    "UpdateTrail",
    "PutEventSelectors",
    "GetSessionToken",
    "GetFederationToken",
    "ConsoleLogin",
    "DeleteDetector",
}


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
            rows.append(
                {
                    "time": str(r["event_time"])[:19],
                    "key": r.get("access_key_id"),
                    "call": r["event_name"],
                    "account": r.get("recipient_account_id"),
                    "source_ip": r.get("source_ip"),
                    "target": _target(r),
                    "result": f"{outcome(code)} ({code})" if code else "ok",
                }
            )
    return rows


def from_where(events: pd.DataFrame, f: dict[str, Any]) -> list[dict[str, Any]]:
    """Per source IP: which activity it belongs to (suspicious, usual, via AWS services), calls, denied and
    other errors, first and last seen, the keys and the full user agents (without aws-cli command tokens)."""
    from iamkit.investigate.facts import agent_family

    src = f["sources"]
    out = []
    for ip, g in events.groupby(events["source_ip"].fillna("(none)")):
        kind = (
            "suspicious"
            if ip in src["new_ips"]
            else "usual"
            if ip in src["usual_ips"]
            else "via AWS services"
            if ip in src["via_aws_services"]
            else "other"
        )
        results = g["error_code"].map(outcome)
        agents = g["user_agent"].map(agent_family).value_counts()
        out.append(
            {
                "source_ip": ip,
                "activity": kind,
                "calls": len(g),
                "denied": int((results == DENIED).sum()),
                "other_errors": int((results == FAILED).sum()),
                "first_seen": str(g["event_time"].min())[:19],
                "last_seen": str(g["event_time"].max())[:19],
                "keys": ", ".join(sorted(g["access_key_id"].dropna().unique())),
                "user_agents": "; ".join(f"{u} ({n})" for u, n in agents.head(3).items()),
            }
        )
    return sorted(out, key=lambda r: r["first_seen"])


def _maybe(case: Case, name: str):
    from iamkit.errors import NotFound

    try:
        return case.load_json(name)
    except NotFound:
        return None


# ---------------------------------------------------------------- lessons, for every playbook
def _seconds(a: str | None, b: str | None) -> int | None:
    import pandas as pd

    if not a or not b:
        return None
    return int((pd.Timestamp(b) - pd.Timestamp(a)).total_seconds())


def _duration(start: str | None, end: str | None, note: str) -> dict[str, Any]:
    return {"seconds": _seconds(start, end), "from": start, "to": end, "note": note}


def _first_detection(detections: pd.DataFrame | None) -> str | None:
    from iamkit.investigate.facts import iso

    if detections is None or not len(detections) or "first_seen" not in detections.columns:
        return None
    return iso(detections["first_seen"].min())


def incident_start(f: dict[str, Any]) -> str | None:
    """When the incident's evidence starts: a key's first suspicious call, an exposure's first use, a resource's
    first policy change (else its first outside read)."""
    if (f.get("window") or {}).get("start"):
        return f["window"]["start"]
    r = f.get("resource_exposure") or {}
    if r.get("policy_changes"):
        return r["policy_changes"][0]["time"]
    return (f.get("exposure") or {}).get("first_used") or r.get("first_access")


#: guardrails to add, by what the facts show: (test on the facts, kind, what, why)
GUARDRAILS: list[tuple[Any, str, str, str]] = [
    (
        lambda f: bool((f.get("exposure") or {}).get("problems")),
        "scp",
        "a resource control policy (RCP) denying sts:AssumeRole to principals outside the organization "
        "(aws:PrincipalOrgID), with exceptions for named partners",
        "a trust naming an account root or '*' then lets in only the organization, whatever the trust says",
    ),
    (
        lambda f: bool((f.get("exposure") or {}).get("problems")),
        "ci_policy_gate",
        "gate infrastructure changes on `iamkit assess --rules 'IAMKIT-TRUST-*' --fail-on high` (trust policies "
        "naming an account root, '*', or outsiders without sts:ExternalId fail the build)",
        "the exposure was written in a trust policy; the pipeline that deploys it can refuse it",
    ),
    (
        lambda f: bool((f.get("created") or {}).get("users") or (f.get("created") or {}).get("access_keys")),
        "scp",
        "an SCP denying iam:CreateUser, iam:CreateAccessKey and iam:CreateLoginProfile except to the identity "
        "pipeline's role (aws:PrincipalArn)",
        "the attacker made a user and keys of its own to stay in",
    ),
    (
        lambda f: any(
            p.get("event_name")
            in ("AttachUserPolicy", "PutUserPolicy", "AttachRolePolicy", "PutRolePolicy", "CreatePolicyVersion")
            for p in f.get("policies_changed") or []
        ),
        "permission_boundary",
        "a permissions boundary required on every user and role that principals other than the identity pipeline "
        "create (iam:PermissionsBoundary condition on iam:CreateUser / iam:CreateRole)",
        "a policy granted there could not reach past the boundary",
    ),
    (
        lambda f: bool((f.get("resource_exposure") or {}).get("problems")),
        "scp",
        "account-level S3 Block Public Access on, locked by an SCP denying s3:PutAccountPublicAccessBlock and "
        "s3:PutBucketPolicy/PutBucketAcl outside the platform role; an RCP denying access from outside the "
        "organization (aws:PrincipalOrgID) to buckets, keys and secrets",
        "a bucket policy granting '*' then has no effect, whoever writes it",
    ),
    (
        lambda f: bool((f.get("resource_exposure") or {}).get("problems")),
        "ci_policy_gate",
        "gate resource policies in CI on `iamkit assess --rules 'IAMKIT-EXPO-*' --fail-on high`",
        "the public grant would have failed the build",
    ),
    (
        lambda f: bool(f.get("risky_changes")),
        "ci_policy_gate",
        "make IAM changes go through the pipeline and gate them on `iamkit assess --fail-on high` (wildcard grants, "
        "iam:PassRole on '*', administrator policies attached fail the build); deny them to other principals by SCP",
        "the grants were written by hand with a CI credential, outside any review",
    ),
    (
        lambda f: bool(f.get("logging_changes")),
        "scp",
        "an SCP denying cloudtrail:StopLogging, DeleteTrail, UpdateTrail and PutEventSelectors, guardduty:Delete* "
        "and config:Stop* / Delete* outside the security account's role",
        "logging was tampered with or tried",
    ),
    (
        lambda f: str((f.get("subject") or {}).get("id") or "").endswith(":root"),
        "scp",
        "an SCP denying every action to member-account root users (aws:PrincipalArn arn:aws:iam::*:root), and "
        "centralized root access in IAM to remove their passwords and keys",
        "root cannot be restricted by IAM policies or quarantined; only an SCP or removing its credentials stops it",
    ),
    (
        lambda f: bool(f.get("roles_assumed")),
        "ci_policy_gate",
        "gate trust policies of deployment roles in CI: name the pipeline role ARNs, never an account root",
        "the attacker's session moved into another account through a role trusting a whole account",
    ),
]


def lessons(
    f: dict[str, Any], detections: pd.DataFrame | None, journal: list[dict[str, Any]], plan_hash: str | None
) -> dict[str, Any]:
    """The post-mortem's facts (pure): time to detect (incident start → first detection), to contain (→ first
    applied containment), to recover (→ every applied change verified), the detection gaps, the guardrails to add
    (SCP, permission boundary, CI policy gating) and the standing detections to keep."""
    start = incident_start(f)
    detected = _first_detection(detections)
    applied = [e for e in journal if e.get("event") == "applied" and not e.get("failed")]
    verified = [e for e in journal if e.get("event") == "after" and e.get("verified")]
    contained = min((e["at"] for e in applied if e.get("at")), default=None)
    recovered = max((e["at"] for e in verified if e.get("at")), default=None) if applied else None
    from iamkit.investigate.facts import iso

    contained, recovered = iso(contained), iso(recovered)
    ttd = _duration(
        start,
        detected,
        "first evidence → first shipped detection raised on it"
        if detected
        else "no shipped detection raised on it: it was found by the investigation",
    )
    ttc = _duration(
        detected or start,
        contained,
        "→ containment applied (journal)"
        if contained
        else f"not contained yet: dry-run plan {plan_hash or '(none)'} awaits approval",
    )
    ttr = _duration(
        detected or start,
        recovered,
        "→ every applied change verified (journal)"
        if recovered
        else "not recovered yet: nothing applied and verified in this case",
    )
    gaps = []
    if not detected:
        gaps.append(
            {
                "what": "no detection fired on the incident",
                "why": "the evidence was in the trail, but none of the shipped rules matched it",
            }
        )
    exp = f.get("exposure") or {}
    if exp.get("problems"):
        gaps.append(
            {
                "what": f"the trust of {exp['role_arn']} was open ({', '.join(exp['problems'])}) with no alert",
                "why": "trust-opened detections fire when a trust is changed, not on one that was always open; "
                "only a scheduled assessment of trusts finds it",
            }
        )
    if (
        f.get("sources", {}).get("new_ips")
        and "iamkit-assume-role-new-source-ip" not in (f.get("detections") or [])
        and f.get("roles_assumed")
    ):
        gaps.append(
            {
                "what": "role assumed from a new source IP without a detection",
                "why": "the principal had no history to compare with",
            }
        )
    guardrails = [{"kind": kind, "what": what, "why": why} for test, kind, what, why in GUARDRAILS if test(f)]
    for d in f.get("standing_detections") or []:
        guardrails.append(
            {
                "kind": "detection",
                "what": f"keep detection {d} on (hunt daily)",
                "why": "it raises the same exposure if it comes back",
            }
        )
    return {
        "time_to_detect": ttd,
        "time_to_contain": ttc,
        "time_to_recover": ttr,
        "detection_gaps": gaps,
        "guardrails": guardrails,
    }


def settle_lessons(case: Case, f: dict[str, Any]) -> dict[str, Any]:
    """Compute the post-mortem facts from the case (its detections, journal and plan) and save them."""
    from iamkit.errors import NotFound
    from iamkit.investigate import facts as F

    try:
        det = case.load_frame("detections")
    except NotFound:
        det = None
    plan = _maybe(case, "remediation-plan") or {}
    f["postmortem"] = lessons(f, det, case.journal_entries(), plan.get("hash"))
    return F.save(case, f)


def lessons_rows(pm: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The post-mortem as rows a report shows (what, value, note)."""
    if not pm:
        return []
    rows = [
        {
            "what": name.replace("_", " "),
            "value": "—" if d["seconds"] is None else _human(d["seconds"]),
            "note": d["note"],
        }
        for name, d in ((k, pm[k]) for k in ("time_to_detect", "time_to_contain", "time_to_recover"))
    ]
    rows += [{"what": "detection gap", "value": g["what"], "note": g["why"]} for g in pm["detection_gaps"]]
    rows += [
        {"what": f"guardrail ({g['kind'].replace('_', ' ')})", "value": g["what"], "note": g["why"]}
        for g in pm["guardrails"]
    ]
    return rows


def _human(seconds: int) -> str:
    s = abs(seconds)
    d, r = divmod(s, 86400)
    h, r = divmod(r, 3600)
    m, _ = divmod(r, 60)
    return ("-" if seconds < 0 else "") + (f"{d} d {h} h" if d else f"{h} h {m} min" if h else f"{m} min")
