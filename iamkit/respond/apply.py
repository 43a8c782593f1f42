"""Apply an approved plan and undo it, journalling before-state before every change.

Order per action: re-read the before-state → journal it (fsynced) → change → read after-state → journal
after + verification. ``undo`` walks the journal backwards and restores each before-state.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from iamkit.errors import BadInput, RemediationError
from iamkit.respond.plan import DENY_ALL, QUARANTINE_POLICY, REVOKE_POLICY, Action, Plan, _name, read_state


def _change(a: Action, iam) -> None:
    if a.kind == "deactivate_access_key":
        iam.update_access_key(UserName=a.params["user_name"], AccessKeyId=a.params["access_key_id"], Status="Inactive")
    elif a.kind == "quarantine_user":
        iam.put_user_policy(UserName=_name(a.target_arn), PolicyName=QUARANTINE_POLICY,
                            PolicyDocument=json.dumps(DENY_ALL))
    elif a.kind == "detach_user_policy":
        iam.detach_user_policy(UserName=_name(a.target_arn), PolicyArn=a.params["policy_arn"])
    elif a.kind == "revoke_role_sessions":
        doc = {"Version": "2012-10-17", "Statement": [{
            "Sid": "IamkitRevokeOlderSessions", "Effect": "Deny", "Action": "*", "Resource": "*",
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": a.params["issued_before"]}}}]}
        iam.put_role_policy(RoleName=_name(a.target_arn), PolicyName=REVOKE_POLICY, PolicyDocument=json.dumps(doc))
    else:
        raise RemediationError(f"unknown action kind {a.kind}")


def _verify(a: Action, after: dict[str, Any]) -> bool:
    if a.kind == "deactivate_access_key":
        return after.get("status") == "Inactive"
    if a.kind == "quarantine_user":
        return QUARANTINE_POLICY in after.get("inline_policies", [])
    if a.kind == "detach_user_policy":
        return a.params["policy_arn"] not in after.get("attached_policies", [])
    if a.kind == "revoke_role_sessions":
        return REVOKE_POLICY in after.get("inline_policies", [])
    return False


def _restore(a: Action, before: dict[str, Any], iam) -> None:
    if a.kind == "deactivate_access_key" and before.get("status"):
        iam.update_access_key(UserName=a.params["user_name"], AccessKeyId=a.params["access_key_id"],
                              Status=before["status"])
    elif a.kind == "quarantine_user" and QUARANTINE_POLICY not in before.get("inline_policies", []):
        iam.delete_user_policy(UserName=_name(a.target_arn), PolicyName=QUARANTINE_POLICY)
    elif a.kind == "detach_user_policy" and a.params["policy_arn"] in before.get("attached_policies", []):
        iam.attach_user_policy(UserName=_name(a.target_arn), PolicyArn=a.params["policy_arn"])
    elif a.kind == "revoke_role_sessions" and REVOKE_POLICY not in before.get("inline_policies", []):
        iam.delete_role_policy(RoleName=_name(a.target_arn), PolicyName=REVOKE_POLICY)


def apply(plan: Plan, case, iam_for: Callable[[str], Any], *, approve: str | None) -> list[dict[str, Any]]:
    """Apply ``plan`` if ``approve`` equals its hash; returns one result row per action."""
    if approve != plan.hash:
        raise BadInput(f"not applied: approval must be the plan hash {plan.hash} (got {approve or 'none'})")
    case.journal({"event": "approved", "plan_hash": plan.hash, "actions": len(plan.actions)})
    results = []
    for i, a in enumerate(plan.actions):
        try:
            iam = iam_for(a.account_id)
            before = read_state(a, iam)  # a target that cannot be read is not touched
            case.journal({"event": "before", "plan_hash": plan.hash, "step": i, "kind": a.kind,
                          "target": a.target_arn, "params": a.params, "account_id": a.account_id,
                          "state": before})
            _change(a, iam)
            after = read_state(a, iam)
            ok = _verify(a, after)
            case.journal({"event": "after", "plan_hash": plan.hash, "step": i, "state": after, "verified": ok})
            results.append({"step": i + 1, "kind": a.kind, "target": a.target_arn, "verified": ok, "error": None})
        except Exception as e:
            case.journal({"event": "failed", "plan_hash": plan.hash, "step": i, "error": str(e)[:300]})
            results.append({"step": i + 1, "kind": a.kind, "target": a.target_arn, "verified": False,
                            "error": f"{e.__class__.__name__}: {e}"[:300]})
    return results


def undo(case, iam_for: Callable[[str], Any], plan_hash: str | None = None) -> list[dict[str, Any]]:
    """Restore every journalled before-state of ``plan_hash`` (default: the last applied plan), newest first."""
    entries = case.journal_entries()
    applied = [e for e in entries if e.get("event") == "approved"]
    if not applied:
        raise BadInput(f"case {case.id}: nothing was applied, nothing to undo")
    plan_hash = plan_hash or applied[-1]["plan_hash"]
    done = {e["step"] for e in entries if e.get("event") == "undone" and e.get("plan_hash") == plan_hash}
    befores = [e for e in entries if e.get("event") == "before" and e.get("plan_hash") == plan_hash
               and e["step"] not in done]
    results = []
    for e in reversed(befores):
        a = Action(e["kind"], e["account_id"], e["target"], e["params"], "undo")
        iam = iam_for(a.account_id)
        try:
            _restore(a, e["state"], iam)
            now = read_state(a, iam)
            ok = all(now.get(k) == v for k, v in e["state"].items())
            case.journal({"event": "undone", "plan_hash": plan_hash, "step": e["step"], "state": now,
                          "verified": ok, "at_undo": dt.datetime.now(dt.UTC).isoformat()})
            results.append({"step": e["step"] + 1, "kind": a.kind, "target": a.target_arn, "restored": ok})
        except Exception as ex:
            results.append({"step": e["step"] + 1, "kind": a.kind, "target": a.target_arn, "restored": False,
                            "error": f"{ex.__class__.__name__}: {ex}"[:300]})
    return results
