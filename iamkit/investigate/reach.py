"""Step 2: what the principals in a key's chain can reach, decided by the policy engine, plus detections.

Probes are sensitive actions a responder asks about first (become admin, read secrets and data, stop
logging, move to other accounts); each is evaluated with the principal's identity policies (attached,
inline and through groups) — a decision, not string matching.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from iamkit.case import Case

PROBES = [
    ("full admin", "iam:AttachUserPolicy", "*"),
    ("create users and keys", "iam:CreateAccessKey", "*"),
    ("pass roles to compute", "iam:PassRole", "*"),
    ("assume roles in other accounts", "sts:AssumeRole", "*"),
    ("read secrets", "secretsmanager:GetSecretValue", "*"),
    ("read S3 objects", "s3:GetObject", "*"),
    ("stop CloudTrail logging", "cloudtrail:StopLogging", "*"),
    ("delete the trail", "cloudtrail:DeleteTrail", "*"),
]


@dataclass
class Reach:
    permissions: pd.DataFrame
    detections: pd.DataFrame
    blast_radius: dict[str, Any]
    errors: list[str] = field(default_factory=list)

    def sections(self):
        import pandas as pd

        yield "Blast radius", pd.DataFrame([{"what": k, "count": len(v) if isinstance(v, list) else v,
                                              "items": ", ".join(map(str, v)) if isinstance(v, list) else ""}
                                             for k, v in self.blast_radius.items()])
        yield "What each principal in the chain can do (policy engine decisions)", self.permissions
        yield "Detections over the window", self.detections
        for e in self.errors:
            yield "Could not assess", e


def _documents(policies: pd.DataFrame, principal_arn: str, groups: list[str]) -> list[dict]:
    """Identity policy documents of a principal: its own and its groups', default versions only."""
    if policies is None or policies.empty:
        return []
    mask = policies["attached_to_arn"].isin([principal_arn, *groups])
    rows = policies[mask]
    if "is_default" in rows.columns:
        rows = rows[rows["is_default"].fillna(True).astype(bool)]
    docs = []
    for d in rows["document"]:
        if isinstance(d, str):
            try:
                d = json.loads(d)
            except ValueError:
                continue
        if isinstance(d, dict):
            docs.append(d)
    return docs


def _iam_frames(case: Case, account_id: str, errors: list[str]) -> tuple[Any, Any]:
    """IAM principals/policies of an account: from the case evidence, else collected now (and saved)."""
    from iamkit.errors import NotFound

    try:
        return case.load_frame(f"iam-{account_id}-principals"), case.load_frame(f"iam-{account_id}-policies")
    except NotFound:
        pass
    try:
        from iamkit.investigate.iam import collect_account
        from iamkit.respond.sessions import session_for

        frames = collect_account(session_for(account_id), account_id)
        case.save_frame(f"iam-{account_id}-principals", frames["principals"])
        case.save_frame(f"iam-{account_id}-policies", frames["policies"])
        return frames["principals"], frames["policies"]
    except Exception as e:
        errors.append(f"IAM of account {account_id}: {e.__class__.__name__}: {e}"[:300])
        return None, None


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
    acct = arn.split(":")[4]
    return [p for p in principals["arn"] if p.split(":")[4] == acct and p.rsplit("/", 1)[-1] in names
            and ":group/" in p]


def assess_key(case: Case) -> Reach:
    import pandas as pd

    from iamkit.policy import evaluate

    kf = case.load_json("key-facts")
    origin = kf["origin"]
    errors: list[str] = []
    chain: list[tuple[str, str, str]] = []  # (role in incident, principal arn, account)
    if origin.get("user_arn") or origin.get("arn"):
        arn = origin.get("user_arn") or origin.get("arn")
        chain.append(("owner of the leaked key", arn, arn.split(":")[4]))
    chain += [("created by the attacker", u["arn"], u["account_id"]) for u in kf["created_users"]]
    chain += [("role assumed by the attacker", a["role_arn"], a["account_id"]) for a in kf["assumed_roles"]]
    rows = []
    for why, arn, acct in chain:
        principals, policies = _iam_frames(case, acct, errors)
        if policies is None:
            continue
        docs = _documents(policies, arn, group_arns_of(principals, arn))
        for label, action, resource in PROBES:
            try:
                d = evaluate({"principal": arn, "action": action, "resource": resource}, identity_policies=docs)
                result = d.result
            except Exception as e:  # a malformed document is listed, never a silent Allow
                result = f"error: {e}"[:120]
            rows.append({"principal": arn, "in_incident_as": why, "can": label, "action": action,
                         "decision": result, "policies": len(docs)})
    perms = pd.DataFrame(rows, columns=["principal", "in_incident_as", "can", "action", "decision", "policies"])
    detections = _detections(case, errors)
    blast = {
        "accounts": sorted(set(kf["accounts"]) | {a for _, _, a in chain}),
        "principals_with_admin": sorted(set(perms.loc[(perms["can"] == "full admin") &
                                                      (perms["decision"] == "Allowed"), "principal"])),
        "created_users": [u["arn"] for u in kf["created_users"]],
        "created_keys": [k["access_key_id"] for k in kf["created_keys"]],
        "assumed_roles": [a["role_arn"] for a in kf["assumed_roles"]],
        "secrets_read": sorted({s["secret"] for s in kf["secrets_read"]}),
        "objects_read": sorted({o["object"] for o in kf["objects_read"]}),
    }
    case.save_frame("reach", perms)
    case.save_json("reach", {"blast_radius": blast, "errors": errors})
    return Reach(perms, detections, blast, errors)


def _detections(case: Case, errors: list[str]) -> pd.DataFrame:
    import pandas as pd

    from iamkit.investigate.access_key import trail_db

    try:
        from iamkit import trail
        from iamkit.trail.detect import hunt

        with trail.open(trail_db(case), read_only=True) as t:
            df = hunt(t.con).detections
        case.save_frame("detections", df)
        return df
    except Exception as e:
        errors.append(f"detections: {e.__class__.__name__}: {e}"[:300])
        return pd.DataFrame()
