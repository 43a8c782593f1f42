"""The public or cross-account resource exposure investigation: a bucket, key, secret or function whose policy
lets in anyone or an outside account.

01 ``trace`` (every call naming the resource: who changed its policy, who read it, from where) + ``exposure``
(its policy now and the exposure rules it breaks) → 02 ``assess`` (reach of who changed it, detections) → 03
``plan_containment`` (the policy without its public or foreign grants, the sessions of who opened it revoked;
dry run) → 04 the shared post-mortem.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iamkit.arn import ROLE, account_of, parse, principal
from iamkit.investigate.subject import Subject, caller_of, events_of
from iamkit.ui.text import bullets

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from iamkit.case import Case

EVENTS = "subject-events"
RULES = ("IAMKIT-EXPO-001", "IAMKIT-EXPO-002")
POLICY_CHANGES = (
    "PutBucketPolicy",
    "DeleteBucketPolicy",
    "PutBucketAcl",
    "PutKeyPolicy",
    "PutResourcePolicy",
    "DeleteResourcePolicy",
    "AddPermission",
    "RemovePermission",
    "ModifySnapshotAttribute",
    "PutPublicAccessBlock",
    "DeletePublicAccessBlock",
)
READ_CALLS = ("GetObject", "GetSecretValue", "Decrypt", "Invoke", "CopySnapshot", "CreateVolume")


def check(parameters: dict[str, Any]) -> None:
    """The parameters a new case needs: ``subject`` is a resource ARN (``BadInput`` otherwise)."""
    Subject.parse("resource", parameters.get("subject"))


def who(row: Any) -> str | None:
    """Who made a call: the caller's role or ARN, ``anonymous``, or the account a foreign copy names."""
    found = caller_of(row)
    if found:
        return found
    ui = row.get("user_identity") if hasattr(row, "get") else None
    ui = json.loads(ui) if isinstance(ui, str) else ui if isinstance(ui, dict) else {}
    return str(ui.get("accountId")) if ui.get("accountId") else None


def usage(ev: pd.DataFrame) -> dict[str, Any]:
    """Policy changes and reads of the resource from its events (pure)."""
    from iamkit.investigate.facts import iso
    from iamkit.trail.outcome import SUCCEEDED, outcome

    changes, readers, ips, objects, times = [], set(), set(), set(), []
    for _, r in ev.iterrows() if len(ev) else ():
        name = r.get("event_name")
        if name in POLICY_CHANGES:
            changes.append(
                {"event_name": name, "by": who(r), "time": iso(r["event_time"]), "result": outcome(r.get("error_code"))}
            )
        elif name in READ_CALLS and outcome(r.get("error_code")) == SUCCEEDED:
            readers.add(who(r) or "unknown")
            if isinstance(r.get("source_ip"), str):
                ips.add(r["source_ip"])
            res = r.get("resources")
            res = json.loads(res) if isinstance(res, str) else res if isinstance(res, list) else []
            objects |= {x["ARN"] for x in res if isinstance(x, dict) and x.get("type") == "AWS::S3::Object"}
            times.append(r["event_time"])
    return {
        "policy_changes": changes,
        "accessed_by": sorted(readers),
        "access_ips": sorted(ips),
        "reads": len(times),
        "objects_read": sorted(objects),
        "first_access": iso(min(times)) if times else None,
        "last_access": iso(max(times)) if times else None,
    }


@dataclass
class Timeline:
    subject: Subject
    events: pd.DataFrame
    usage: dict[str, Any]

    def sections(self):
        u = self.usage
        yield (
            f"Resource {self.subject.id}",
            bullets(
                [
                    "policy changes: "
                    + (
                        "; ".join(
                            f"{c['event_name']} by {c['by']} at {c['time']} ({c['result']})"
                            for c in u["policy_changes"]
                        )
                        or "none in the window"
                    ),
                    f"{u['reads']} read(s) by {', '.join(u['accessed_by']) or 'nobody'} from {len(u['access_ips'])} IP(s)",
                ]
            ),
        )
        cols = [
            c
            for c in ("event_time", "relation", "event_name", "principal_arn", "source_ip", "user_agent", "error_code")
            if c in self.events.columns
        ]
        yield "Every call naming it, oldest first", self.events[cols]


def trace(case: Case, subject: str) -> Timeline:
    """Every call naming the resource (``evidence/subject-events``): policy changes and reads. Starts the facts."""
    from iamkit import trail
    from iamkit.investigate import facts as F
    from iamkit.investigate.access_key import trail_db

    s = Subject.parse("resource", subject)
    with trail.open(trail_db(case), read_only=True) as t:
        ev = events_of(t.con, s)
    case.save_frame(EVENTS, ev, query={"subject": s.id, "kind": s.kind, "db": trail_db(case).name})
    u = usage(ev)
    case.save_json("resource-usage", u)
    F.save(
        case,
        {
            "schema_version": F.SCHEMA_VERSION,
            "subject": s.as_facts(),
            "resource_exposure": None,
            "standing_detections": [],
            "detections": None,
            "containment": None,
            "postmortem": None,
            "unanswered": [],
        },
    )
    return Timeline(s, ev, u)


@dataclass
class Exposure:
    exposure: dict[str, Any]
    findings: pd.DataFrame
    policy: dict[str, Any] | None

    def sections(self):
        yield (
            "What is wrong with its policy",
            bullets(["breaks " + (", ".join(self.exposure["problems"]) or "no exposure rule")]),
        )
        yield "Exposure findings (iamkit assess)", self.findings
        if self.policy is not None:
            from iamkit.ui.text import code_block

            yield "Its policy now", code_block(json.dumps(self.policy, indent=2), "json")


def exposure(case: Case) -> Exposure:
    """The resource's policy now (its account's resource policies, collected as evidence) and the exposure rules
    it breaks; written into the facts with step 1's usage."""
    import pandas as pd

    from iamkit import assess
    from iamkit.investigate import facts as F
    from iamkit.investigate.reach import _inventory

    f = F.load(case)
    arn = f["subject"]["id"]
    errors: list[str] = []
    acct = f["subject"].get("account_id") or _owner(case, arn)
    inv = _inventory(case, [acct], errors) if acct else None
    findings, doc = pd.DataFrame(), None
    if inv is not None:
        findings = assess.run(inv, rules=list(RULES))
        findings = findings[findings["resource_arn"] == arn].reset_index(drop=True) if len(findings) else findings
        case.save_frame("exposure-findings", findings)
        rows = inv.resource_policies[inv.resource_policies["resource_arn"] == arn]
        if len(rows):
            pol = rows.iloc[0]["policy"]
            doc = json.loads(pol) if isinstance(pol, str) else pol if isinstance(pol, dict) else None
    elif not acct:
        errors.append(f"the account owning {arn} is not in its ARN nor in the trail")
    for e in errors:
        case.note_unanswered("enrichment", "the resource's policy now", e)
    exp = {
        "resource_arn": arn,
        "problems": sorted(set(findings["rule_id"])) if len(findings) else [],
        **case.load_json("resource-usage"),
    }
    case.save_json("resource-policy", {"resource_arn": arn, "account_id": acct, "document": doc})
    F.update(case, resource_exposure=exp)
    return Exposure(exp, findings, doc)


def _owner(case: Case, arn: str) -> str | None:
    """The account owning a resource whose ARN has none (S3): the recipient of the calls naming it."""
    ev = case.load_frame(EVENTS)
    accts = ev["recipient_account_id"].dropna().value_counts() if len(ev) else []
    return str(accts.index[0]) if len(accts) else None


def without_outsiders(doc: dict[str, Any] | None) -> dict[str, Any]:
    """The policy without its statements that allow anyone (``*``) or a principal outside its own AWS
    principals' accounts (pure); Deny statements and service principals are kept."""
    stmts = (doc or {}).get("Statement") or []
    stmts = stmts if isinstance(stmts, list) else [stmts]

    def public(st: dict[str, Any]) -> bool:
        p = st.get("Principal")
        aws = p.get("AWS") if isinstance(p, dict) else p
        aws = aws if isinstance(aws, list) else [aws]
        return st.get("Effect") == "Allow" and "*" in aws

    return {
        "Version": (doc or {}).get("Version", "2012-10-17"),
        "Statement": [s for s in stmts if isinstance(s, dict) and not public(s)],
    }


def assess(case: Case):
    """Reach of whoever changed the policy, and the detections on the resource's events."""
    from iamkit.investigate import facts as F
    from iamkit.investigate.reach import assess_principals

    f = F.load(case)
    changers = {c["by"] for c in (f.get("resource_exposure") or {}).get("policy_changes", []) if c.get("by")}
    involved = [("changed its policy", a) for a in sorted(changers) if parse(a) is not None]
    return assess_principals(case, involved, events=EVENTS, extra_accounts=[f["subject"].get("account_id")])


def plan_containment(case: Case):
    """The policy without its public grants (dry run, with the document diff), and the sessions of the role
    that opened it revoked."""
    from iamkit.investigate import facts as F
    from iamkit.investigate.containment import Proposal, plan_for_subject

    f = F.load(case)
    arn = f["subject"]["id"]
    pol = case.load_json("resource-policy")
    exp = f.get("resource_exposure") or {}
    out = [
        Proposal(
            "restrict_resource_policy",
            pol.get("account_id") or "",
            arn,
            {"document": without_outsiders(pol.get("document"))},
            "its policy lets in " + (", ".join(exp.get("problems", [])) or "outsiders"),
            before={"document": pol.get("document")},
        )
    ]
    for c in exp.get("policy_changes", []):
        if c["result"] == "succeeded" and c.get("by") and principal(c["by"]).kind == ROLE:
            out.append(
                Proposal(
                    "revoke_role_sessions",
                    account_of(c["by"]) or "",
                    c["by"],
                    {"issued_before": case.meta.get("created")},
                    f"a session of it ran {c['event_name']}",
                )
            )
    seen, unique = set(), []
    for p in out:
        if (p.kind, p.target_arn) not in seen:
            seen.add((p.kind, p.target_arn))
            unique.append(p)
    return plan_for_subject(case, unique)
