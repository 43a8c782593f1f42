"""Investigations of a principal (a role, a user, an account root): what it did and who opened its sessions, for
the playbooks whose subject is the principal a detection named (logging or guardrail tampering, …).

01 ``trace`` (its calls and the calls that opened its sessions, read with the same rules as a key's: a baseline
of its first day, what it created, changed, assumed, denied, the logging and guardrail changes) → 02 ``assess``
(reach of the principal and of who opened it, detections) → 03 ``plan_containment`` (its sessions revoked, the
keys and users that opened them switched off and quarantined; dry run) → 04 the shared post-mortem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iamkit.arn import ROLE, USER, account_of, name_of, principal
from iamkit.investigate.subject import Subject, caller_of, events_of
from iamkit.ui.text import bullets

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from iamkit.case import Case

EVENTS = "subject-events"


def check(parameters: dict[str, Any]) -> None:
    """The parameters a new case needs: ``subject`` is a role, user or root ARN (``BadInput`` otherwise)."""
    Subject.parse("principal", parameters.get("subject"))


@dataclass
class Activity:
    subject: Subject
    events: pd.DataFrame
    facts: dict[str, Any]
    headline: list[str]

    def sections(self):
        yield f"{self.subject.kind.capitalize()} {self.subject.id}", bullets(self.headline)
        cols = [
            c
            for c in (
                "event_time",
                "relation",
                "event_name",
                "principal_arn",
                "access_key_id",
                "recipient_account_id",
                "source_ip",
                "user_agent",
                "error_code",
            )
            if c in self.events
        ]
        yield "Every call, oldest first", self.events[cols]


def trace(case: Case, subject: str) -> Activity:
    """The principal's calls and the calls that opened its sessions (``evidence/subject-events``), read into
    the facts with the key investigation's rules (``facts.activity_facts``; the principal is the trace's root)."""
    from iamkit import trail
    from iamkit.investigate import facts as F
    from iamkit.investigate.access_key import _ip_context, trail_db
    from iamkit.report import headline

    s = Subject.parse("principal", subject)
    with trail.open(trail_db(case), read_only=True) as t:
        ev = events_of(t.con, s)
    case.save_frame(EVENTS, ev, query={"subject": s.id, "kind": s.kind, "db": trail_db(case).name})
    mine = ev[(ev["relation"] == "made") | ((ev["relation"] == "opened") & (ev["identity_type"] != "AWSAccount"))]
    # the calls that opened its sessions are part of its use: the baseline (its first day) learns their sources
    mine = mine.assign(node=s.id).sort_values(["event_time", "event_id"]).reset_index(drop=True)
    if not len(mine):
        case.note_unanswered("enrichment", "what the principal did", "no call of it in the loaded window: widen start")
    f = F.activity_facts(mine, s.as_facts(), root_key=s.id, ip_context=_ip_context(case))
    f.update(standing_detections=[], postmortem=None, risky_changes=risky_changes(mine, f["policies_changed"]))
    suspicious = set(mine.loc[F.classify_activity(mine, s.id)[0], "event_id"]) if len(mine) else set()
    case.save_json("openers", opened_by(ev, suspicious))
    f = F.save(case, f)
    return Activity(s, ev, f, headline(f))


#: administrator managed policies (attaching one is a risky change)
ADMIN_POLICIES = (
    "arn:aws:iam::aws:policy/AdministratorAccess",
    "arn:aws:iam::aws:policy/IAMFullAccess",
    "arn:aws:iam::aws:policy/PowerUserAccess",
)
DOCUMENT_EVENTS = ("PutUserPolicy", "PutRolePolicy", "PutGroupPolicy", "CreatePolicyVersion", "CreatePolicy")


def policy_risks(event_name: str, req: dict[str, Any]) -> list[str]:
    """What makes one policy change risky (pure): ``wildcard`` (Allow of ``*``), ``passrole-star``
    (iam:PassRole on ``*``), ``admin-attached``, ``new-default-version``; the document read as the detections
    read it (``trail.detect.policydoc``: JSON or URL-encoded)."""
    from iamkit.trail.detect import policydoc

    risks = set()
    if str(req.get("policyArn") or "") in ADMIN_POLICIES and event_name.startswith("Attach"):
        risks.add("admin-attached")
    if event_name == "SetDefaultPolicyVersion" or (
        event_name == "CreatePolicyVersion" and req.get("setAsDefault") in (True, "true")
    ):
        risks.add("new-default-version")
    doc = policydoc.load_document(req.get("policyDocument")) if event_name in DOCUMENT_EVENTS else None
    if doc is not None:
        if policydoc.dangerous_grants(doc, ["*"]):
            risks.add("wildcard")
        for st in policydoc.statements(doc):
            res = st.get("Resource")
            on_star = res == "*" or (isinstance(res, list) and "*" in res)
            if on_star and policydoc.dangerous_grants({"Statement": [st]}, ["iam:PassRole"]):
                risks.add("passrole-star")
    return sorted(risks)


def risky_changes(events: pd.DataFrame, changed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The policy changes (``facts.policies_changed``, in event order) with their risks, the risky ones only."""
    import json

    from iamkit.investigate.facts import POLICY_EVENTS
    from iamkit.trail.outcome import SUCCEEDED, outcome

    rows = (
        [
            r
            for _, r in events.iterrows()
            if r.get("event_name") in POLICY_EVENTS and outcome(r.get("error_code")) == SUCCEEDED
        ]
        if len(events)
        else []
    )
    out = []
    for r, c in zip(rows, changed, strict=False):
        req = r.get("request_parameters")
        req = json.loads(req) if isinstance(req, str) else req if isinstance(req, dict) else {}
        risks = policy_risks(str(r["event_name"]), req or {})
        if risks:
            out.append({**c, "risks": risks})
    return out


def opened_by(ev: pd.DataFrame, suspicious: set[str] = frozenset()) -> list[dict[str, Any]]:
    """Who opened the principal's sessions: caller (role of a session, else ARN), the key it used, how often,
    and whether any of those calls was suspicious (its event id in ``suspicious``) (pure)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for _, r in ev[ev["relation"] == "opened"].iterrows() if len(ev) else ():
        if r.get("identity_type") == "AWSAccount":
            continue  # the role account's copy of a cross-account AssumeRole
        who = caller_of(r) or ""
        key = r.get("access_key_id") if isinstance(r.get("access_key_id"), str) else ""
        row = out.setdefault((who, key), {"caller": who, "access_key_id": key or None, "calls": 0, "suspicious": False})
        row["calls"] += 1
        row["suspicious"] = row["suspicious"] or r.get("event_id") in suspicious
    return list(out.values())


@dataclass
class Context:
    subject: str
    openers: pd.DataFrame

    def sections(self):
        yield f"Who opened the sessions of {self.subject}", self.openers


def context(case: Case) -> Context:
    """Who opened the principal's sessions, and with which key (from step 1's evidence)."""
    import pandas as pd

    f = case.load_json("facts")
    return Context(f["subject"]["id"], pd.DataFrame(case.load_json("openers")))


def assess(case: Case):
    """Reach of the principal, of those who opened its sessions and of those its risky changes granted more,
    and the detections on them."""
    from iamkit.investigate import facts as F
    from iamkit.investigate.reach import assess_principals

    f = F.load(case)
    me = f["subject"]["id"]
    involved = [("subject", me)] + [
        ("opened its sessions", o["caller"]) for o in case.load_json("openers") if o["caller"]
    ]
    involved += [
        ("granted more by it", c["target"])
        for c in f.get("risky_changes") or []
        if principal(c["target"]).kind in (USER, ROLE)
    ]
    keys = {o["access_key_id"] for o in case.load_json("openers") if o["access_key_id"]}
    return assess_principals(
        case, list(dict.fromkeys(involved)), events=EVENTS, keys=keys | set(f["created"]["sessions"])
    )


def proposals(f: dict[str, Any], openers: list[dict[str, Any]], planned_at: str | None) -> list[Any]:
    """Containment of a principal (pure): a role's sessions revoked; each IAM user that opened them
    suspiciously (a call outside the principal's baseline) with a long-term key has the key switched off and is
    quarantined; users it created are quarantined. (An account
    root's own credentials are not IAM's to switch off: the post-mortem's guardrails say what to do.)"""
    from iamkit.investigate.containment import Proposal

    me = f["subject"]["id"]
    out = []
    if principal(me).kind == USER:  # the subject itself made the calls: its keys off, itself quarantined
        for key in f.get("subject_keys") or []:
            out.append(
                Proposal(
                    "deactivate_access_key",
                    account_of(me) or "",
                    me,
                    {"access_key_id": key, "user_name": name_of(me)},
                    "the key that made the calls",
                )
            )
        out.append(Proposal("quarantine_user", account_of(me) or "", me, {}, "made the calls: deny everything"))
    for c in f.get("risky_changes") or []:
        out += _reversal(c)
    if principal(me).kind == ROLE:
        out.append(
            Proposal(
                "revoke_role_sessions",
                account_of(me) or "",
                me,
                {"issued_before": planned_at},
                "its sessions did what the investigation found",
            )
        )
    for o in openers:
        who = principal(o["caller"])
        if who.kind != USER or not o.get("suspicious", True):
            continue  # a role's own sessions are revoked with it; a usual opener is left alone
        key = o.get("access_key_id") or ""
        if key.startswith("AKIA"):
            out.append(
                Proposal(
                    "deactivate_access_key",
                    who.account or "",
                    o["caller"],
                    {"access_key_id": key, "user_name": name_of(o["caller"])},
                    f"the key that opened the sessions of {me}",
                )
            )
        out.append(
            Proposal(
                "quarantine_user",
                who.account or "",
                o["caller"],
                {},
                f"opened the sessions of {me}: deny everything until investigated",
            )
        )
    for role in dict.fromkeys(c["target"] for c in f.get("risky_changes") or [] if principal(c["target"]).kind == ROLE):
        out.append(
            Proposal(
                "revoke_role_sessions",
                account_of(role) or "",
                role,
                {"issued_before": planned_at},
                "its permissions were widened: sessions opened since may hold them",
            )
        )
    for u in f["created"]["users"]:
        out.append(Proposal("quarantine_user", account_of(u) or "", u, {}, f"created by {me} in the incident"))
    return out


def _reversal(c: dict[str, Any]) -> list[Any]:
    """The action that takes a risky change back: detach what was attached, delete the inline policy put."""
    from iamkit.investigate.containment import Proposal

    target, policy, event = c["target"], c.get("policy") or "", c["event_name"]
    who = principal(target)
    kind = {USER: "user", ROLE: "role"}.get(who.kind, "group")
    why = f"{event}: {', '.join(c['risks'])}"
    if event.startswith("Attach") and policy:
        return [Proposal(f"detach_{kind}_policy", who.account or "", target, {"policy_arn": policy}, why)]
    if event.startswith("Put") and policy.startswith("inline:"):
        return [
            Proposal(
                "delete_inline_policy",
                who.account or "",
                target,
                {"policy_name": policy.split(":", 1)[1], "principal_type": kind},
                why,
            )
        ]
    return []


def plan_containment(case: Case):
    """The dry-run plan (``containment.plan_for_subject``), before-state read now."""
    from iamkit.investigate import facts as F
    from iamkit.investigate.containment import plan_for_subject

    f = F.load(case)
    ev = case.load_frame(EVENTS)
    made = ev[ev["relation"] == "made"]
    keys = sorted({k for k in made["access_key_id"].dropna() if str(k).startswith("AKIA")})
    return plan_for_subject(
        case, proposals({**f, "subject_keys": keys}, case.load_json("openers"), case.meta.get("created"))
    )
