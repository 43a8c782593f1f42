"""Investigations of a person: an Entra user reaching AWS through Identity Center (compromised-entra-user).

01 ``trace`` wraps the person view (``iamkit.correlate``: Entra sign-ins and risk → Identity Center permission
sets → ``AWSReservedSSO_…`` role sessions → their CloudTrail calls) and reads it into the facts: the risky
sign-ins, and as suspicious the AWS sessions opened from an IP a risky sign-in that succeeded came from → 02
``assess`` (reach of the roles those sessions used, detections) → 03 ``plan_containment`` (the person's Entra
sessions revoked, the account disabled, the assignments used removed, the roles' sessions revoked; dry run) →
04 the shared post-mortem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iamkit.errors import BadInput
from iamkit.investigate.subject import Subject
from iamkit.ui.text import bullets

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from iamkit.case import Case

EVENTS = "subject-events"
SIGNINS = "entra-signins"
SESSIONS = "person-sessions"
ASSIGNMENTS = "person-assignments"


def check(parameters: dict[str, Any]) -> None:
    """The parameters a new case needs: ``subject`` is a user principal name (``BadInput`` otherwise)."""
    Subject.parse("person", parameters.get("subject"))


def _iso(v: Any) -> str | None:
    import pandas as pd

    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    return pd.Timestamp(v).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def risky_signins(signins: pd.DataFrame) -> list[dict[str, Any]]:
    """The sign-ins Entra rated above ``none`` (pure), oldest first: time, IP, country, risk level, success."""
    if not len(signins):
        return []
    risky = signins[~signins["risk_level"].fillna("none").isin(["none", "hidden", "unknownFutureValue", ""])]
    return [
        {
            "time": _iso(r["created"]),
            "ip": str(r["ip_address"] or ""),
            "country": r["country"] if isinstance(r["country"], str) and r["country"] else None,
            "risk_level": str(r["risk_level"]),
            "succeeded": bool(r["success"]),
        }
        for _, r in risky.sort_values("created", kind="stable").iterrows()
    ]


def suspicious_sessions(sessions: pd.DataFrame, risky: list[dict[str, Any]]) -> pd.DataFrame:
    """The person's role sessions (pure) opened from an IP a risky sign-in that succeeded came from."""
    ips = {s["ip"] for s in risky if s["succeeded"] and s["ip"]}
    if not len(sessions) or not ips:
        return sessions.iloc[0:0]
    keep = sessions["access_key_id"].notna() & sessions["role_arn"].notna()
    keep &= sessions["source_ips"].map(lambda v: bool(ips & set(v if isinstance(v, list) else [])))
    return sessions[keep & sessions["kind"].isin(["role_session", "saml"])]


@dataclass
class Activity:
    subject: Subject
    events: pd.DataFrame
    facts: dict[str, Any]
    headline: list[str]

    def sections(self):
        yield f"Person {self.subject.id}", bullets(self.headline)
        yield "Risky sign-ins", _frame(self.facts["person"]["risky_signins"])
        yield "Role sessions opened from a risky sign-in's IP", _frame(self.facts["person"]["role_sessions"])
        yield "What those sessions did, oldest first", self.events


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(rows)


def person_view(case: Case, upn: str):
    """The person view of ``upn`` over the case's CloudTrail store, Graph and Identity Center (``correlate``)."""
    from iamkit import trail
    from iamkit.aws.session import new_session
    from iamkit.correlate import correlate
    from iamkit.entra import connect
    from iamkit.investigate.access_key import trail_db

    params = case.meta.get("parameters") or {}
    with trail.open(trail_db(case), read_only=True) as t:
        return correlate(
            upn,
            graph=connect(),
            aws_session=new_session(),
            trail=t,
            since=params.get("start") or "30d",
            until=params.get("end") or None,
        )


def trace(case: Case, subject: str) -> Activity:
    """The person's risky sign-ins, the permission sets and role sessions reached from a risky sign-in's IP and
    their calls (``evidence/subject-events``), as facts."""
    from iamkit import trail
    from iamkit.investigate import facts as F
    from iamkit.investigate.access_key import trail_db
    from iamkit.investigate.subject import events_of
    from iamkit.report import headline

    s = Subject.parse("person", subject)
    view = person_view(case, s.id)
    case.save_frame(SIGNINS, view.signins, query={"subject": s.id, "source": "graph"})
    case.save_frame(SESSIONS, view.sessions, query={"subject": s.id, "source": "cloudtrail"})
    case.save_frame(ASSIGNMENTS, view.assignments, query={"subject": s.id, "source": "identity center"})
    for e in view.errors.to_dict("records") if len(view.errors) else []:
        case.note_unanswered("enrichment", "the person view", f"{e.get('source')}: {e.get('message')}")
    risky = risky_signins(view.signins)
    bad = suspicious_sessions(view.sessions, risky)
    keys = list(dict.fromkeys(bad["access_key_id"]))
    import pandas as pd

    with trail.open(trail_db(case), read_only=True) as t:
        parts = [events_of(t.con, Subject("session", k)) for k in keys]
    ev = pd.concat(parts, ignore_index=True) if parts else _no_events()
    ev = ev.sort_values(["event_time", "event_id"]).reset_index(drop=True) if len(ev) else ev
    case.save_frame(EVENTS, ev, query={"subject": s.id, "kind": "person", "sessions": keys})
    if not risky:
        case.note_unanswered("enrichment", "the person's risky sign-ins", "Entra rated none of them risky")
    f = facts_of(s, view, risky, bad, ev)
    f = F.save(case, f)
    return Activity(s, ev, f, headline(f))


def _no_events() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(columns=["event_time", "event_id", "event_name", "access_key_id", "source_ip"])


def facts_of(s: Subject, view: Any, risky: list[dict[str, Any]], bad: pd.DataFrame, ev: pd.DataFrame) -> dict[str, Any]:
    """The facts of step 1 for a person (pure)."""
    from iamkit.arn import name_of
    from iamkit.correlate import permission_set_of
    from iamkit.investigate.facts import SCHEMA_VERSION, agent_family
    from iamkit.trail.outcome import DENIED, outcome

    keys = set(bad["access_key_id"])
    by_key = {r["access_key_id"]: r for _, r in bad.iterrows()}
    first_ok = next((x for x in risky if x["succeeded"]), None)
    profile = view.profile.iloc[0] if len(view.profile) else None
    opened = [r for _, r in view.activity.iterrows() if r["event_name"] == "AssumeRoleWithSAML"] if len(keys) else []
    opened = [r for r in opened if r["source_ip"] in {ip for b in by_key.values() for ip in b["source_ips"]}]
    first = opened[0] if opened else None
    denied = [r for _, r in ev.iterrows() if outcome(r.get("error_code")) == DENIED] if len(ev) else []
    read = []
    for _, r in ev.iterrows() if len(ev) else ():
        req = r.get("request_parameters")
        if r["event_name"] == "GetSecretValue" and isinstance(req, dict) and req.get("secretId"):
            read.append(str(req["secretId"]))
    by_code: dict[str, int] = {}
    for r in denied:
        by_code[str(r["error_code"])] = by_code.get(str(r["error_code"]), 0) + 1
    ps_rows = list(
        {
            (b["account_id"], b["role_arn"]): {
                "permission_set": permission_set_of(name_of(b["role_arn"]) or "") or "",
                "account_id": b["account_id"],
                "role_arn": b["role_arn"],
            }
            for b in by_key.values()
        }.values()
    )
    return {
        "schema_version": SCHEMA_VERSION,
        "subject": s.as_facts(),
        "window": {
            "start": first_ok["time"] if first_ok else None,
            "end": _iso(ev["event_time"].max()) if len(ev) else None,
            "first_event": {
                "event_name": str(first["event_name"]),
                "event_time": _iso(first["event_time"]),
                "access_key_id": None,
                "source_ip": first["source_ip"],
            }
            if first is not None
            else None,
        },
        "activity": {
            "suspicious_calls": len(ev),
            "usual_calls": 0,
            "subject_key_calls": 0,
            "subject_key_denied": 0,
        },
        "sources": {
            "new_ips": sorted({x["ip"] for x in risky if x["succeeded"] and x["ip"]}),
            "new_user_agents": sorted({agent_family(u) for u in ev["user_agent"].dropna()}) if len(ev) else [],
            "usual_ips": [],
            "usual_user_agents": [],
            "via_aws_services": [],
        },
        "roles_assumed": [
            {
                "role_arn": b["role_arn"],
                "session_name": b["session_name"],
                "access_key_id": k,
                "from_principal": s.id,
                "from_account": None,
                "account_id": b["account_id"],
                "cross_account": False,
            }
            for k, b in by_key.items()
        ],
        "resources_read": sorted(set(read)),
        "denied": {"count": len(denied), "by_code": by_code},
        "person": {
            "upn": s.id,
            "entra_object_id": str(profile["id"]) if profile is not None else None,
            "risky_signins": risky,
            "permission_sets": ps_rows,
            "role_sessions": [
                {
                    "role_arn": b["role_arn"],
                    "session_name": b["session_name"],
                    "access_key_id": k,
                    "source_ip": next(iter(b["source_ips"]), None),
                }
                for k, b in by_key.items()
            ],
            "calls": [
                {"event_name": r["event_name"], "time": _iso(r["event_time"]), "access_key_id": r["access_key_id"]}
                for _, r in ev.iterrows()
            ]
            if len(ev)
            else [],
        },
        "reach": None,
        "detections": None,
        "containment": None,
        "standing_detections": [],
        "postmortem": None,
        "unanswered": [],
    }


@dataclass
class Context:
    subject: str
    assignments: pd.DataFrame

    def sections(self):
        yield f"Identity Center assignments of {self.subject}", self.assignments


def context(case: Case) -> Context:
    """The person's Identity Center assignments (from step 1's evidence)."""
    return Context(case.load_json("facts")["subject"]["id"], case.load_frame(ASSIGNMENTS))


def assess(case: Case):
    """Reach of the roles the suspicious sessions used, and the detections on them."""
    from iamkit.investigate import facts as F
    from iamkit.investigate.reach import assess_principals

    f = F.load(case)
    involved = [("used from a risky sign-in's IP", r["role_arn"]) for r in f["roles_assumed"]]
    keys = {r["access_key_id"] for r in f["roles_assumed"]}
    return assess_principals(case, list(dict.fromkeys(involved)), events=EVENTS, keys=keys)


def proposals(
    f: dict[str, Any], assignments: list[dict[str, Any]], instance_arn: str, mgmt: str, planned_at: str | None
) -> list[Any]:
    """Containment of a person (pure): their Entra sign-in sessions revoked and the account disabled; each
    Identity Center assignment that gave a suspicious session its permission set in its account removed; the
    sessions of each role used revoked."""
    from iamkit.arn import account_of
    from iamkit.investigate.containment import Proposal

    upn = f["subject"]["id"]
    out = [
        Proposal(
            "revoke_entra_sessions",
            "",
            upn,
            {"user": upn, "issued_before": planned_at},
            "a risky sign-in succeeded: its refresh tokens must not outlive it",
        ),
        Proposal("disable_entra_user", "", upn, {"user": upn}, "taken over: no sign-in until investigated"),
    ]
    used = {(p["permission_set"], p["account_id"]) for p in f["person"]["permission_sets"]}
    for a in assignments:
        if (a["permission_set"], a["account_id"]) in used:
            out.append(
                Proposal(
                    "remove_account_assignment",
                    mgmt,
                    a["permission_set_arn"],
                    {
                        "instance_arn": instance_arn,
                        "target_account_id": a["account_id"],
                        "principal_type": a["principal_type"],
                        "principal_id": a["principal_id"],
                    },
                    f"gave {upn} {a['permission_set']} in {a['account_id']} ({a.get('via') or 'direct'})",
                )
            )
    for role in dict.fromkeys(r["role_arn"] for r in f["roles_assumed"]):
        out.append(
            Proposal(
                "revoke_role_sessions",
                account_of(role) or "",
                role,
                {"issued_before": planned_at},
                "its session was opened from a risky sign-in's IP",
            )
        )
    return out


def plan_containment(case: Case):
    """The dry-run plan (``containment.plan_for_subject``), before-state read now."""
    from iamkit.aws.session import client_config, new_session
    from iamkit.investigate import facts as F
    from iamkit.investigate.containment import plan_for_subject

    f = F.load(case)
    session = new_session()
    sso = session.client("sso-admin", config=client_config())
    instances = sso.list_instances().get("Instances") or []
    if not instances:
        raise BadInput(
            "no Identity Center instance is visible to these credentials: cannot plan the assignment removal"
        )
    instance = instances[0]["InstanceArn"]
    mgmt = session.client("sts", config=client_config()).get_caller_identity()["Account"]
    assignments = case.load_frame(ASSIGNMENTS).to_dict("records")
    return plan_for_subject(case, proposals(f, assignments, instance, mgmt, case.meta.get("created")))
