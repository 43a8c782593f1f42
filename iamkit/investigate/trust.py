"""The cross-account trust exposure investigation: a role whose trust lets in an account root, ``*`` or an
outsider without ExternalId / ``aws:PrincipalOrgID``.

01 ``trace`` (the role's timeline: who opened its sessions, what they did) + ``exposure`` (its trust now, the
trust rules it breaks, the trust to restrict it to) → 02 ``assess`` (reach of the role and of who used it,
detections) → 03 ``plan_containment`` (restrict the trust to the role ARNs that used it plus
``aws:PrincipalOrgID``, dry run) → 04 the shared post-mortem. Every step takes the case and reads what earlier
steps left in it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iamkit.arn import account_of, name_of
from iamkit.investigate.subject import ASSUME_CALLS, Subject, caller_of, events_of, role_arn_param
from iamkit.respond.actions import restricted_trust
from iamkit.ui.text import bullets

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from iamkit.case import Case

PLAYBOOK = "cross-account-trust-exposure"
EVENTS = "subject-events"
#: the trust rules of ``iamkit/assess/rules/trusts.py`` that make a trust an exposure
RULES = ("IAMKIT-TRUST-001", "IAMKIT-TRUST-002", "IAMKIT-TRUST-003", "IAMKIT-TRUST-004", "IAMKIT-TRUST-005")
#: re-opening the restricted trust raises this shipped detection (iamkit/trail/detections/trust_policy_opened.yml)
STANDING_DETECTION = "iamkit-trust-policy-opened"


def check(parameters: dict[str, Any]) -> None:
    """The parameters a new case needs: ``subject`` is a role ARN (``BadInput`` otherwise)."""
    role_arn_param(parameters.get("subject"))


@dataclass
class Timeline:
    subject: Subject
    events: pd.DataFrame
    usage: dict[str, Any]

    def sections(self):
        import pandas as pd

        u = self.usage
        yield (
            f"Role {self.subject.id}",
            bullets(
                [
                    f"{u['sessions']} session(s) opened between {u['first_used'] or '—'} and {u['last_used'] or '—'}",
                    "opened by: " + (", ".join(u["used_by"]) or "nobody in the window"),
                    f"{len(self.events)} call(s) made by, opening or naming the role",
                ]
            ),
        )
        yield "Who opened its sessions", pd.DataFrame(u["by_caller"])
        cols = [
            c
            for c in (
                "event_time",
                "relation",
                "event_name",
                "principal_arn",
                "recipient_account_id",
                "source_ip",
                "user_agent",
                "error_code",
            )
            if c in self.events.columns
        ]
        yield "Every call, oldest first", self.events[cols]


def trace(case: Case, subject: str) -> Timeline:
    """The role's timeline in the loaded window (``evidence/subject-events``): the sessions opened on it and by
    whom (the caller's role for a session, else its ARN; the role account's copy of a cross-account AssumeRole
    is not counted twice), and every call of those sessions. Starts the facts."""
    from iamkit import trail
    from iamkit.investigate import facts as F
    from iamkit.investigate.access_key import trail_db

    s = role_arn_param(subject)
    with trail.open(trail_db(case), read_only=True) as t:
        ev = events_of(t.con, s)
    case.save_frame(EVENTS, ev, query={"subject": s.id, "kind": s.kind, "db": trail_db(case).name})
    usage = usage_of(ev, s.id)
    case.save_json("trust-usage", usage)
    if not usage["sessions"]:
        case.note_unanswered(
            "enrichment",
            "who used the role",
            "no session of it was opened in the loaded window: widen start, or the trust is unused",
        )
    F.save(
        case,
        {
            "schema_version": F.SCHEMA_VERSION,
            "subject": s.as_facts(),
            "exposure": None,
            "standing_detections": [],
            "detections": None,
            "containment": None,
            "postmortem": None,
            "unanswered": [],
        },
    )
    return Timeline(s, ev, usage)


def usage_of(ev: pd.DataFrame, role_arn: str) -> dict[str, Any]:
    """Who opened sessions of ``role_arn`` (successful STS calls naming it, the caller's own copy only), how
    often, first and last (pure)."""
    from iamkit.investigate.facts import iso
    from iamkit.trail.outcome import SUCCEEDED, outcome

    by: dict[str, list[Any]] = {}
    for _, r in ev.iterrows() if len(ev) else ():
        if r.get("relation") != "opened" or r.get("event_name") not in ASSUME_CALLS:
            continue
        if r.get("identity_type") == "AWSAccount" or outcome(r.get("error_code")) != SUCCEEDED:
            continue  # the role account's copy of a cross-account call, or a refused one
        who = caller_of(r)
        if who:
            by.setdefault(who, []).append(r["event_time"])
    times = [t for ts in by.values() for t in ts]
    return {
        "role_arn": role_arn,
        "used_by": sorted(by),
        "sessions": len(times),
        "first_used": iso(min(times)) if times else None,
        "last_used": iso(max(times)) if times else None,
        "by_caller": [
            {"caller": k, "sessions": len(v), "first": iso(min(v)), "last": iso(max(v))} for k, v in sorted(by.items())
        ],
    }


@dataclass
class Exposure:
    exposure: dict[str, Any]
    findings: pd.DataFrame
    trust_document: dict[str, Any] | None

    def sections(self):
        e = self.exposure
        yield (
            "What is wrong with the trust",
            bullets(
                [
                    f"trusts {', '.join(e['trusted']) or 'nobody'}",
                    "breaks " + (", ".join(e["problems"]) or "no trust rule"),
                    f"restrict it to {', '.join(e['proposed_trust']['principals']) or '(nobody used it: remove it)'}"
                    + (
                        f" within organization {e['proposed_trust']['principal_org_id']}"
                        if e["proposed_trust"]["principal_org_id"]
                        else ""
                    ),
                ]
            ),
        )
        yield "Trust findings on the role (iamkit assess)", self.findings
        if self.trust_document is not None:
            from iamkit.ui.text import code_block

            yield "Its trust policy now", code_block(json.dumps(self.trust_document, indent=2), "json")


def exposure(case: Case) -> Exposure:
    """The role's trust now (its account's IAM and the organization, collected as evidence), the trust rules it
    breaks, and the trust to restrict it to: the ARNs that used it plus ``aws:PrincipalOrgID``."""
    import pandas as pd

    from iamkit import assess
    from iamkit.investigate import facts as F
    from iamkit.investigate.reach import _inventory

    f = F.load(case)
    role = f["subject"]["id"]
    usage = case.load_json("trust-usage")
    errors: list[str] = []
    inv = _inventory(case, [account_of(role)], errors)
    findings, trusted, doc, org_id = pd.DataFrame(), [], None, None
    if inv is not None:
        findings = assess.run(inv, rules=[f"{r}" for r in RULES])
        findings = findings[findings["resource_arn"] == role].reset_index(drop=True) if len(findings) else findings
        case.save_frame("trust-findings", findings)
        rows = inv.trusts[inv.trusts["role_arn"] == role]
        trusted = sorted(
            {
                str(p)
                for p, kind in zip(rows["principal"], rows["principal_type"], strict=False)
                if str(kind).upper() == "AWS"
            }
        )
        ids = inv.accounts["org_id"].dropna().unique().tolist() if len(inv.accounts) else []
        org_id = ids[0] if ids else None
    try:
        from iamkit.respond.sessions import iam_client_for

        doc = _json(
            iam_client_for(account_of(role) or "").get_role(RoleName=name_of(role))["Role"]["AssumeRolePolicyDocument"]
        )
    except Exception as e:  # the account may deny us: said, the rest goes on
        errors.append(f"GetRole {role}: {e.__class__.__name__}: {e}"[:300])
    for e in errors:
        case.note_unanswered("enrichment", "the role's trust policy and its organization", e)
    if org_id is None:
        case.note_unanswered(
            "enrichment",
            "the organization id for aws:PrincipalOrgID",
            "the organization could not be read: the proposed trust names the ARNs only",
        )
    problems = sorted(set(findings["rule_id"])) if len(findings) else []
    exp = {
        "role_arn": role,
        "trusted": trusted,
        "problems": problems,
        "used_by": usage["used_by"],
        "sessions": usage["sessions"],
        "first_used": usage["first_used"],
        "last_used": usage["last_used"],
        "proposed_trust": {"principals": usage["used_by"], "principal_org_id": org_id},
    }
    case.save_json("trust-policy", {"role_arn": role, "document": doc})
    F.update(case, exposure=exp, standing_detections=[STANDING_DETECTION])
    return Exposure(exp, findings, doc)


def _json(v: Any) -> dict[str, Any] | None:
    """A policy document as boto3 returns it (a dict) or as text (JSON, maybe URL-encoded)."""
    from urllib.parse import unquote

    if isinstance(v, dict):
        return v
    try:
        d = json.loads(unquote(v)) if isinstance(v, str) else None
    except ValueError:
        return None
    return d if isinstance(d, dict) else None


def assess(case: Case):
    """Reach of the exposed role and of each principal that used it, and the detections on them."""
    from iamkit.investigate import facts as F
    from iamkit.investigate.reach import assess_principals

    f = F.load(case)
    role = f["subject"]["id"]
    involved = [("exposed role", role)] + [("used the role", a) for a in (f.get("exposure") or {}).get("used_by", [])]
    return assess_principals(case, involved, events=EVENTS)


def plan_containment(case: Case):
    """Restrict the trust (dry run): the ARNs that used it plus ``aws:PrincipalOrgID``; before-state read now."""
    from iamkit.investigate import facts as F
    from iamkit.investigate.containment import Proposal, plan_for_subject

    f = F.load(case)
    exp = f.get("exposure") or {}
    role = f["subject"]["id"]
    before = (case.load_json("trust-policy") or {}).get("document")
    used = exp.get("used_by", [])
    if before is None or not used:  # nobody to keep: the report says to remove the trust; nothing to restrict
        return plan_for_subject(case, [])
    doc = restricted_trust(before, used, (exp.get("proposed_trust") or {}).get("principal_org_id"))
    reason = (
        "trust opens the role to "
        + (", ".join(exp.get("trusted", [])) or "?")
        + f"; only {len(exp.get('used_by', []))} principal(s) used it"
    )
    proposal = Proposal(
        "restrict_trust",
        account_of(role) or "",
        role,
        {"role_name": name_of(role), "document": doc},
        reason,
        before={"document": before} if before is not None else None,
    )
    return plan_for_subject(case, [proposal])
