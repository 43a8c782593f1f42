"""Blast radius of a proposed action: who or what loses access, from the policy engine's public query API.

For a change to a principal's policies (quarantine, detach, delete inline, remove from a group) the inventory is
copied with the change made and ``iamkit.policy.query.what_can`` answers before and after, for the target and,
for a group, each member. A trust restriction lists who can assume the role now (``who_can``) and who keeps it.
Kinds that change credentials or sessions rather than policies say in words what stops working. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from iamkit.arn import GROUP, USER, name_of, principal
from iamkit.frames import conform
from iamkit.policy.catalog import catalog
from iamkit.policy.query import what_can, who_can
from iamkit.respond.actions import DENY_ALL, QUARANTINE_POLICY, SENSITIVE_ACTIONS

ALLOWED = ("Allowed",)
LOST_SHOWN = 20


def _with_policies(inv: Any, drop: Any = None, add: list[dict[str, Any]] | None = None, principals: Any = None) -> Any:
    """A copy of ``inv`` with policy rows dropped (``drop(row) -> bool``) / added, or principals rewritten."""
    import pandas as pd

    pol = inv.policies
    if drop is not None and len(pol):
        pol = pol[[not drop(r) for r in pol.to_dict(orient="records")]]
    if add:
        pol = pd.concat([pol, conform(add, "policies")], ignore_index=True)
    new = dataclasses.replace(
        inv, policies=pol.reset_index(drop=True), principals=principals if principals is not None else inv.principals
    )
    new.meta = dict(inv.meta)
    return new


def _allowed(inv: Any, arn: str) -> set[str]:
    df = what_can(arn, inv)
    return (
        set()
        if df.empty
        else {
            f"{a}|{r}" for a, r, res in zip(df["action"], df["resource"], df["result"], strict=True) if res in ALLOWED
        }
    )


def _levels(inv_actions: set[str]) -> dict[str, int]:
    cat = catalog()
    out: dict[str, int] = {}
    for x in inv_actions:
        info = cat.action(x.split("|", 1)[0])
        lvl = info.access_level if info else "Unknown"
        out[lvl] = out.get(lvl, 0) + 1
    return dict(sorted(out.items()))


def _compare(before_inv: Any, after_inv: Any, arns: list[str]) -> dict[str, Any]:
    per = []
    for arn in arns:
        b, a = _allowed(before_inv, arn), _allowed(after_inv, arn)
        lost = sorted(b - a)
        per.append(
            {
                "principal": arn,
                "before": len(b),
                "after": len(a),
                "lost": len(lost),
                "lost_by_level": _levels(set(lost)),
                "lost_examples": [x.replace("|", " on ") for x in lost[:LOST_SHOWN]],
            }
        )
    summary = (
        "; ".join(
            f"{name_of(p['principal'])}: {p['before']} → {p['after']} allowed actions (loses {p['lost']})" for p in per
        )
        or "nobody loses access"
    )
    return {"summary": summary, "principals": per}


def _members(inv: Any, group: str) -> list[str]:
    out = []
    gname = name_of(group)
    for r in inv.principals.to_dict(orient="records"):
        groups = r.get("groups")
        groups = json.loads(groups) if isinstance(groups, str) else groups
        if (
            r.get("principal_type") == "user"
            and groups is not None
            and any(str(g) in (gname, group) for g in list(groups))
        ):
            out.append(r["arn"])
    return out


def _inline(arn: str, name: str, doc: dict[str, Any]) -> dict[str, Any]:
    p = principal(arn)
    return {
        "account_id": p.account,
        "policy_arn": None,
        "policy_name": name,
        "policy_type": "inline",
        "attached_to_arn": arn,
        "attached_to_type": p.kind,
        "version_id": None,
        "is_default": True,
        "document": json.dumps(doc),
        "aws_managed": False,
    }


def blast_radius(action: Any, inv: Any) -> dict[str, Any]:
    """Who or what loses access if ``action`` is applied, on the inventory ``inv``."""
    k, arn, p = action.kind, action.target_arn, action.params
    if k in ("quarantine_user",) or (k == "quarantine_role" and p.get("mode") == "deny-all"):
        return _compare(inv, _with_policies(inv, add=[_inline(arn, QUARANTINE_POLICY, DENY_ALL)]), [arn])
    if k == "quarantine_role":
        deny = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Deny", "Action": SENSITIVE_ACTIONS, "Resource": "*"}],
        }
        out = _compare(inv, _with_policies(inv, add=[_inline(arn, QUARANTINE_POLICY, deny)]), [arn])
        out["summary"] += f"; sessions issued before {p.get('issued_before')} lose everything"
        return out
    if k in ("detach_user_policy", "detach_role_policy", "detach_group_policy"):
        after = _with_policies(
            inv, drop=lambda r: r.get("attached_to_arn") == arn and r.get("policy_arn") == p["policy_arn"]
        )
        who = _members(inv, arn) if principal(arn).kind == GROUP else [arn]
        return _compare(inv, after, who)
    if k == "delete_inline_policy":
        after = _with_policies(
            inv,
            drop=lambda r: (
                r.get("attached_to_arn") == arn
                and r.get("policy_type") == "inline"
                and r.get("policy_name") == p["policy_name"]
            ),
        )
        who = _members(inv, arn) if principal(arn).kind == GROUP else [arn]
        return _compare(inv, after, who)
    if k == "remove_from_group":
        pr = inv.principals.copy()
        gname = p["group_name"]

        def without(row):
            groups = row["groups"]
            groups = json.loads(groups) if isinstance(groups, str) else groups
            if row["arn"] != arn or groups is None:
                return row["groups"]
            return [g for g in list(groups) if name_of(str(g)) != gname and str(g) != gname]

        pr["groups"] = pr.apply(without, axis=1)
        return _compare(inv, _with_policies(inv, principals=pr), [arn])
    if k == "restrict_trust":
        now = who_can("sts:AssumeRole", arn, inv)
        can = sorted(set(now["principal_arn"])) if not now.empty else []
        kept = p.get("kept") or []
        lost = [x for x in can if x not in kept]
        return {
            "summary": f"{len(can)} principal(s) can assume {name_of(arn)} now; {len(kept)} named keep it, "
            f"{len(lost)} lose it",
            "can_assume_now": can,
            "kept": kept,
            "lose": lost,
        }
    if k == "revoke_role_sessions":
        n = len(_allowed(inv, arn))
        return {
            "summary": f"sessions of {name_of(arn)} issued before {p.get('issued_before')} lose all {n} "
            "allowed actions; new sessions keep them",
            "principals": [arn],
        }
    if k == "deactivate_access_key":
        n = len(_allowed(inv, arn)) if principal(arn).kind == USER else 0
        return {
            "summary": f"calls signed with {p['access_key_id']} lose all {n} allowed actions of "
            f"{name_of(arn)}; its other credentials keep them",
            "principals": [arn],
        }
    words = {
        "create_access_key": "nobody loses access (a new key is added)",
        "tag_principal": "nobody loses access (tags only)",
        "remove_login_profile": f"{name_of(arn)} can no longer sign in to the console with a password; "
        "access keys keep working",
        "remove_account_assignment": f"{p.get('principal_type')} {p.get('principal_id')} loses the "
        f"permission set in account {p.get('target_account_id')}",
        "revoke_entra_sessions": f"{p.get('user')} must sign in again everywhere",
        "disable_entra_user": f"{p.get('user')} cannot sign in (and loses what Entra federates to AWS)",
    }
    return {"summary": words.get(k, "not computed for this kind")}
