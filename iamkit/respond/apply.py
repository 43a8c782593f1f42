"""Apply an approved plan and undo it, journalling the before-state before every change.

Each ``apply`` is its own run in the journal (run id, plan hash, approver). Per action: read the before-state
(with the full document of any inline policy iamkit's change would replace) → if the change is already in
place, journal a no-op and touch nothing → else journal the before-state (fsynced) → change → read the
after-state → journal it with the verification. ``undo`` restores one run (default: the newest run with changes
not yet undone), newest step first, each to exactly the before-state that run journalled.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from iamkit.arn import name_of
from iamkit.errors import BadInput, RemediationError
from iamkit.respond.plan import (
    DENY_ALL,
    KINDS,
    QUARANTINE_POLICY,
    REVOKE_POLICY,
    Action,
    Plan,
    in_place,
    read_state,
    revoke_document,
)


def _change(a: Action, iam) -> None:
    if a.kind == "deactivate_access_key":
        iam.update_access_key(UserName=a.params["user_name"], AccessKeyId=a.params["access_key_id"], Status="Inactive")
    elif a.kind == "quarantine_user":
        iam.put_user_policy(UserName=name_of(a.target_arn), PolicyName=QUARANTINE_POLICY,
                            PolicyDocument=json.dumps(DENY_ALL))
    elif a.kind == "detach_user_policy":
        iam.detach_user_policy(UserName=name_of(a.target_arn), PolicyArn=a.params["policy_arn"])
    elif a.kind == "revoke_role_sessions":
        iam.put_role_policy(RoleName=name_of(a.target_arn), PolicyName=REVOKE_POLICY,
                            PolicyDocument=json.dumps(revoke_document(a)))
    else:
        raise RemediationError(f"unknown action kind {a.kind}")


def _restore_inline(iam, kind: str, name: str, policy: str, before: dict[str, Any], now: dict[str, Any]) -> None:
    """Put back the document that was there (byte for byte), or delete iamkit's if there was none."""
    if "document" not in before:  # journalled before documents were kept: only iamkit's own is removed
        if policy not in before.get("inline_policies", []) and policy in now.get("inline_policies", []):
            (iam.delete_user_policy(UserName=name, PolicyName=policy) if kind == "user"
             else iam.delete_role_policy(RoleName=name, PolicyName=policy))
        return
    doc = before["document"]
    if doc is None:
        if now.get("document") is not None:
            (iam.delete_user_policy(UserName=name, PolicyName=policy) if kind == "user"
             else iam.delete_role_policy(RoleName=name, PolicyName=policy))
    elif now.get("document") != doc:
        (iam.put_user_policy(UserName=name, PolicyName=policy, PolicyDocument=doc) if kind == "user"
         else iam.put_role_policy(RoleName=name, PolicyName=policy, PolicyDocument=doc))


def _restore(a: Action, before: dict[str, Any], iam) -> None:
    now = read_state(a, iam)
    if a.kind == "deactivate_access_key":
        if before.get("status") and now.get("status") != before["status"]:
            iam.update_access_key(UserName=a.params["user_name"], AccessKeyId=a.params["access_key_id"],
                                  Status=before["status"])
    elif a.kind == "quarantine_user":
        _restore_inline(iam, "user", name_of(a.target_arn), QUARANTINE_POLICY, before, now)
    elif a.kind == "detach_user_policy":
        arn = a.params["policy_arn"]
        if arn in before.get("attached_policies", []) and arn not in now.get("attached_policies", []):
            iam.attach_user_policy(UserName=name_of(a.target_arn), PolicyArn=arn)
    elif a.kind == "revoke_role_sessions":
        _restore_inline(iam, "role", name_of(a.target_arn), REVOKE_POLICY, before, now)


def _run_id() -> str:
    return f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def apply(plan: Plan, case, iam_for: Callable[[str], Any], *, approve: str | None,
          approver: str | None = None) -> list[dict[str, Any]]:
    """Apply ``plan`` if ``approve`` equals its hash, as a new run; returns one result row per action.

    A change already in place is journalled as a no-op and not made again, so applying twice changes nothing."""
    if approve != plan.hash:
        raise BadInput(f"not applied: approval must be the plan hash {plan.hash} (got {approve or 'none'})")
    run = _run_id()
    case.journal({"event": "approved", "run": run, "plan_hash": plan.hash, "actions": len(plan.actions),
                  "approver": approver or os.environ.get("USER") or "analyst"})
    results = []
    for i, a in enumerate(plan.actions):
        row: dict[str, Any] = {"run": run, "step": i + 1, "kind": a.kind, "target": a.target_arn,
                               "changed": False, "verified": False, "error": None}
        try:
            iam = iam_for(a.account_id)
            before = read_state(a, iam)  # a target that cannot be read is not touched
            if in_place(a, before):
                case.journal({"event": "noop", "run": run, "plan_hash": plan.hash, "step": i, "kind": a.kind,
                              "target": a.target_arn, "state": before, "note": "already in place, not changed"})
                row["verified"] = True
                results.append(row)
                continue
            case.journal({"event": "before", "run": run, "plan_hash": plan.hash, "step": i, "kind": a.kind,
                          "target": a.target_arn, "params": a.params, "account_id": a.account_id,
                          "state": before})
            _change(a, iam)
            row["changed"] = True
            after = read_state(a, iam)
            ok = in_place(a, after)
            case.journal({"event": "after", "run": run, "plan_hash": plan.hash, "step": i, "state": after,
                          "verified": ok})
            row["verified"] = ok
        except Exception as e:
            case.journal({"event": "failed", "run": run, "plan_hash": plan.hash, "step": i, "error": str(e)[:300]})
            row["error"] = f"{e.__class__.__name__}: {e}"[:300]
        results.append(row)
    case.journal({"event": "applied", "run": run, "plan_hash": plan.hash,
                  "changed": sum(r["changed"] for r in results), "failed": sum(bool(r["error"]) for r in results)})
    return results


def record_approval(plan: Plan, case, steps: list[int], approver: str | None = None) -> dict[str, Any]:
    """Record a dry-run approval of some of ``plan``'s steps (1-based) in the journal: who, when, which steps and
    the plan hash. Nothing is applied (``apply`` with ``--approve HASH`` does that); ``undo`` ignores it."""
    if not steps or any(not isinstance(i, int) or not 1 <= i <= len(plan.actions) for i in steps):
        raise BadInput(f"approve steps between 1 and {len(plan.actions)} (got {steps})")
    entry = {"event": "approved-dry-run", "plan_hash": plan.hash, "steps": sorted(set(steps)),
             "actions": [{"kind": plan.actions[i - 1].kind, "target": plan.actions[i - 1].target_arn}
                         for i in sorted(set(steps))],
             "approver": approver or os.environ.get("USER") or "analyst", "applied": False}
    case.journal(entry)
    return entry


@dataclass
class Run:
    """One ``apply`` as the journal records it: its journalled before-states and the steps already undone."""

    id: str
    plan_hash: str | None
    befores: dict[int, dict[str, Any]] = field(default_factory=dict)
    undone: set[int] = field(default_factory=set)

    @property
    def pending(self) -> list[int]:
        return sorted(set(self.befores) - self.undone)


def _checked_before(e: dict[str, Any], run: str) -> dict[str, Any]:
    ok = (isinstance(e.get("step"), int) and e.get("kind") in KINDS and isinstance(e.get("account_id"), str)
          and isinstance(e.get("target"), str) and isinstance(e.get("params"), dict)
          and isinstance(e.get("state"), dict))
    if not ok:
        raise RemediationError(f"journal.jsonl: run {run}: a before-state entry is malformed (step "
                               f"{e.get('step')!r}); nothing undone")
    return e


def runs(entries: list[dict[str, Any]]) -> list[Run]:
    """The journal's runs, oldest first. Entries of journals written before runs existed are grouped by the
    approval they follow (an undo there is matched to the newest approval of its plan hash)."""
    out: dict[str, Run] = {}
    legacy, legacy_by_hash = None, {}
    for idx, e in enumerate(entries, 1):
        ev, rid = e.get("event"), e.get("run")
        if not isinstance(rid, str):
            if ev == "approved":
                legacy = f"line-{idx}"
                legacy_by_hash[e.get("plan_hash")] = legacy
            rid = legacy_by_hash.get(e.get("plan_hash")) if ev == "undone" else legacy
            if rid is None:
                continue
        run = out.setdefault(rid, Run(rid, e.get("plan_hash")))
        if ev == "before":
            run.befores[e.get("step")] = _checked_before(e, rid)
        elif ev == "undone" and isinstance(e.get("step"), int):
            run.undone.add(e["step"])
    return list(out.values())


def undo(case, iam_for: Callable[[str], Any], run: str | None = None) -> list[dict[str, Any]]:
    """Restore one run's journalled before-states, newest step first (default: the newest run with changes not
    yet undone). A torn last journal line is reported (in the journal and by ``case.read_journal``) and the
    complete entries before it are honoured."""
    entries, warnings = case.read_journal()
    all_runs = runs(entries)
    if not any(e.get("event") == "approved" for e in entries):
        raise BadInput(f"case {case.id}: nothing was applied, nothing to undo")
    if run is not None:
        target = next((r for r in all_runs if r.id == run), None)
        if target is None:
            raise BadInput(f"case {case.id}: no run {run!r}; runs: {', '.join(r.id for r in all_runs) or 'none'}")
        if not target.pending:
            raise BadInput(f"case {case.id}: run {run} has nothing left to undo")
    else:
        target = next((r for r in reversed(all_runs) if r.pending), None)
        if target is None:
            raise BadInput(f"case {case.id}: every applied change is already undone, nothing to undo")
    undo_id = _run_id()
    case.journal({"event": "undo", "run": target.id, "undo": undo_id, "plan_hash": target.plan_hash,
                  "steps": target.pending, "warnings": warnings})
    results = []
    for step in reversed(target.pending):
        e = target.befores[step]
        a = Action(e["kind"], e["account_id"], e["target"], e["params"], "undo")
        row: dict[str, Any] = {"run": target.id, "step": step + 1, "kind": a.kind, "target": a.target_arn,
                               "restored": False, "error": None}
        try:
            iam = iam_for(a.account_id)
            _restore(a, e["state"], iam)
            now = read_state(a, iam)
            ok = all(now.get(k) == v for k, v in e["state"].items())
            case.journal({"event": "undone", "run": target.id, "undo": undo_id, "plan_hash": target.plan_hash,
                          "step": step, "state": now, "verified": ok})
            row["restored"] = ok
        except Exception as ex:
            case.journal({"event": "undo-failed", "run": target.id, "undo": undo_id, "step": step,
                          "error": str(ex)[:300]})
            row["error"] = f"{ex.__class__.__name__}: {ex}"[:300]
        results.append(row)
    return results
