"""Step 2: who can reach what afterwards, decided by the policy engine over the involved accounts, plus the
detections raised on the incident.

The accounts of the incident's principals (the key's owner, the users it created, the roles it assumed) are
collected with the organization's SCPs (``iamkit.inventory.collect``); the privilege-escalation graph says which
of those principals are administrator or can make themselves so (``admin_principals``, administrator as
``iamkit.policy.query.is_admin`` defines it) and which sensitive resources they can use (``sensitive_resources``);
a table of probes shows each principal's effective decision (``iamkit.policy.decide``: identity policies,
boundary, SCPs, RCPs and resource policies) for the actions a responder asks about first, on any resource. Detections are the shipped rules over the case's CloudTrail,
kept when they name the incident's keys, principals or events.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from iamkit.arn import GROUP, ROOT, account_of, parse
from iamkit.arn import principal as principal_of

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from iamkit.case import Case

PROBES = [
    ("create users and keys", "iam:CreateAccessKey", "*"),
    ("attach policies to users", "iam:AttachUserPolicy", "*"),
    ("pass roles to compute", "iam:PassRole", "*"),
    ("assume roles", "sts:AssumeRole", "*"),
    ("read secrets", "secretsmanager:GetSecretValue", "*"),
    ("read S3 objects", "s3:GetObject", "*"),
    ("stop CloudTrail logging", "cloudtrail:StopLogging", "*"),
    ("delete the trail", "cloudtrail:DeleteTrail", "*"),
]
STEP = "assessment"


@dataclass
class Reach:
    permissions: pd.DataFrame
    detections: pd.DataFrame
    blast_radius: dict[str, Any]
    errors: list[str] = field(default_factory=list)

    def sections(self):
        import pandas as pd

        yield (
            "Blast radius",
            pd.DataFrame(
                [
                    {
                        "what": k,
                        "count": len(v) if isinstance(v, list) else v,
                        "items": ", ".join(map(str, v)) if isinstance(v, list) else "",
                    }
                    for k, v in self.blast_radius.items()
                ]
            ),
        )
        yield "What each principal of the incident can do (policy engine decisions, SCPs applied)", self.permissions
        yield "Detections on the incident", self.detections
        for e in self.errors:
            yield "Could not assess", e


def group_arns_of(principals: Any, arn: str) -> list[str]:
    if principals is None or principals.empty:
        return []
    me = principals[principals["arn"] == arn]
    if me.empty:
        return []
    g = me.iloc[0]["groups"]
    if isinstance(g, str):
        g = json.loads(g) if g.startswith("[") else [g]
    names = list(g) if isinstance(g, (list, tuple)) or hasattr(g, "tolist") else []
    acct = account_of(arn)
    groups = (principal_of(p) for p in principals["arn"])
    return [g.value for g in groups if g.kind == GROUP and g.account == acct and g.name in names]


def incident_principals(f: dict[str, Any]) -> list[tuple[str, str]]:
    """(why, ARN) of the IAM principals of the incident: the key's owner, users created, roles assumed."""
    out: list[tuple[str, str]] = []
    owner = parse(f["subject"].get("principal_arn"))
    if owner is not None and owner.service == "iam":
        out.append(("owner of the key", f["subject"]["principal_arn"]))
    out += [("created by the attacker", a) for a in f["created"]["users"]]
    out += [("role assumed by the attacker", r["role_arn"]) for r in f["roles_assumed"]]
    return list(dict.fromkeys(out))


def assess_key(case: Case) -> Reach:
    """Reach and detections of a key investigation: its owner, the users it created, the roles it assumed."""
    from iamkit.investigate import facts as F

    f = F.load(case)
    s = f["subject"]
    keys = {*s["chain"], *f["created"]["access_keys"], *f["created"]["sessions"], s["access_key_id"]}
    return assess_principals(
        case, incident_principals(f), events="key-events", keys=keys, extra_accounts=[s["account_id"]]
    )


def assess_principals(
    case: Case,
    involved: list[tuple[str, str]],
    *,
    events: str,
    keys: set[str] = frozenset(),
    extra_accounts: list[str | None] = (),
) -> Reach:
    """Reach and blast radius of the ``involved`` principals ((why, ARN) pairs) of any subject, decided by the
    policy engine over their accounts, plus the shipped detections that name them, ``keys`` or the subject's
    events (the case's ``events`` frame); ``reach`` and ``detections`` are written into the facts."""
    import pandas as pd

    from iamkit.investigate import facts as F

    f = F.load(case)
    accounts = sorted(({account_of(a) for _, a in involved} | set(extra_accounts)) - {None})
    errors: list[str] = []
    rows: list[dict[str, Any]] = []
    admin: list[str] = []
    sensitive: set[str] = set()
    inv = _inventory(case, accounts, errors)
    if inv is not None:
        from iamkit.assess.privesc.graph import build_graph
        from iamkit.assess.privesc.paths import blast_radius, paths_to_admin
        from iamkit.policy import decide

        known = set(inv.principals["arn"])
        for why, arn in involved:
            if arn not in known:
                errors.append(f"{arn} ({why}) is not in the IAM collected from account {account_of(arn)}")
                continue
            for label, action, resource in PROBES:
                try:
                    result = decide(inv, arn, action, resource, explain=False, scope="any").result
                except Exception as e:  # a malformed document is listed, never a silent Allow
                    result = f"error: {e}"[:120]
                rows.append(
                    {"principal": arn, "in_incident_as": why, "can": label, "action": action, "decision": result}
                )
        graph = build_graph(inv)
        can_admin = set(paths_to_admin(graph)["principal_arn"])
        admin = sorted(a for _, a in involved if a in can_admin)
        for _, arn in involved:
            if arn in known and principal_of(arn).kind != ROOT:  # root is no node of the escalation graph
                br = blast_radius(graph, arn)
                sensitive |= set(br.loc[br["kind"] == "resource", "arn"])
    perms = pd.DataFrame(rows, columns=["principal", "in_incident_as", "can", "action", "decision"])
    detections = _detections(case, {a for _, a in involved}, keys, events, errors)
    for e in errors:
        case.note_unanswered(STEP, "who can reach what afterwards", e)
    reach = {"admin_principals": admin, "sensitive_resources": sorted(sensitive)}
    ids = sorted(set(detections["detection_id"])) if len(detections) else []
    case.save_frame("reach", perms)
    f = F.update(case, reach=reach if inv is not None else None, detections=ids)
    blast = {"accounts": accounts, "admin_principals": admin, "sensitive_resources": sorted(sensitive)}
    if "created" in f:  # a key investigation: what the attacker made and used
        blast.update(
            created_users=f["created"]["users"],
            created_keys=f["created"]["access_keys"],
            assumed_roles=[r["role_arn"] for r in f["roles_assumed"]],
            resources_read=f["resources_read"],
        )
    return Reach(perms, detections, blast, errors)


def _inventory(case: Case, accounts: list[str], errors: list[str]) -> Any:
    """IAM, resource policies and the organization's SCPs of ``accounts`` (saved as evidence), or None."""
    from iamkit.inventory import collect

    try:
        inv = collect(org=True, accounts=accounts, parts=("iam", "resources"))
    except Exception as e:
        errors.append(f"collecting accounts {', '.join(accounts)}: {e.__class__.__name__}: {e}"[:300])
        return None
    inv.save(case.evidence / "inventory")
    for acct in accounts:
        if not (inv.principals["account_id"] == acct).any():
            errs = inv.errors[inv.errors["account_id"] == acct] if len(inv.errors) else inv.errors
            why = f"{errs.iloc[0]['operation']}: {errs.iloc[0]['code']}" if len(errs) else "nothing returned"
            errors.append(f"the IAM of account {acct} could not be read ({why})")
    return inv


def _detections(case: Case, principals: set[str], keys: set[str], events_name: str, errors: list[str]) -> pd.DataFrame:
    """The shipped detections over the case's CloudTrail that name the subject's keys, principals or events."""
    import pandas as pd

    from iamkit.investigate.access_key import trail_db

    try:
        from iamkit import trail
        from iamkit.trail.detect import hunt

        with trail.open(trail_db(case), read_only=True) as t:
            df = hunt(t).detections
        events = case.load_frame(events_name)
    except Exception as e:
        errors.append(f"detections: {e.__class__.__name__}: {e}"[:300])
        return pd.DataFrame()
    principals = {*principals, *set(events["principal_arn"].dropna())}
    ids = set(events["event_id"].dropna())

    def ours(r: Any) -> bool:
        evs = r.event_ids
        evs = json.loads(evs) if isinstance(evs, str) and evs.startswith("[") else evs
        return (
            r.access_key_id in keys
            or r.principal_arn in principals
            or bool(ids & set(evs if isinstance(evs, (list, tuple)) or hasattr(evs, "tolist") else []))
        )

    mine = df[[ours(r) for r in df.itertuples()]] if len(df) else df
    case.save_frame("detections", mine)
    return mine
