"""Apply an approved plan and undo it, journalling the before-state before every change.

Each ``apply`` is its own run in the journal (run id, plan hash, who approved it, when and from where). Per
action: read the before-state (complete enough to put it back exactly) → if the change is already in place,
journal a no-op and touch nothing → else journal the before-state (fsynced) → change → read the after-state →
journal it with the verification. ``undo`` restores one run (default: the newest run with changes not yet
undone), newest step first, each to exactly the before-state that run journalled; a step that cannot be undone
(a removed console password, revoked Entra sessions) is journalled as such with the reason.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from iamkit.errors import BadInput, RemediationError
from iamkit.respond import approval
from iamkit.respond.actions import REGISTRY, Hooks
from iamkit.respond.plan import KINDS, Action, Plan
from iamkit.respond.sessions import as_clients


def _run_id() -> str:
    return f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def _err(e: Exception) -> str:
    return f"{e.__class__.__name__}: {e}"[:300]


def preflight(plan: Plan, approve: str | None, *, allow_irreversible: bool = False) -> None:
    """Refuse (``BadInput``, nothing journalled or changed) a wrong hash or irreversible steps not allowed."""
    if approve != plan.hash:
        raise BadInput(f"not applied: approval must be the plan hash {plan.hash} (got {approve or 'none'})")
    if plan.irreversible and not allow_irreversible:
        kinds = sorted({plan.actions[i - 1].kind for i in plan.irreversible})
        raise BadInput(
            f"not applied: step(s) {', '.join(map(str, plan.irreversible))} ({', '.join(kinds)}) cannot "
            "be undone; pass --allow-irreversible to apply them"
        )


def apply(
    plan: Plan,
    case,
    clients: Any,
    *,
    approve: str | None,
    approver: str | dict[str, Any] | None = None,
    allow_irreversible: bool = False,
    two_person: bool | None = None,
    hand_over: Callable[[str, str, str], str] | None = None,
    confirm: Callable[[Action], bool] | None = None,
) -> list[dict[str, Any]]:
    """Apply ``plan`` if ``approve`` equals its hash, as a new run; returns one result row per action.

    ``clients``: ``iamkit.respond.sessions.Clients`` (or a function of the account id giving an IAM client).
    ``approver``: a name, or an identity from ``approval.identity``. ``hand_over(user, key_id, secret)`` gives a
    new key's secret to the operator and says where (never to the case); ``confirm(action)`` answers a step
    that waits for the operator (deactivating a rotated key). A change already in place is journalled as a
    no-op and not made again, so applying twice changes nothing."""
    preflight(plan, approve, allow_irreversible=allow_irreversible)
    who = approval.identity(approver)
    extra: dict[str, Any] = {}
    if approval.two_person_required(two_person) and plan.destructive:
        first = approval.second_approval(plan, case.read_journal()[0], who)
        extra["first_approval"] = {k: first.get(k) for k in ("approver", "approver_source", "approved_at")}
    cl = as_clients(clients)
    hooks = Hooks(hand_over, confirm)
    run = _run_id()
    case.journal(
        approval.entry(
            "approved",
            plan.hash,
            who,
            run=run,
            actions=len(plan.actions),
            allow_irreversible=allow_irreversible,
            **extra,
        )
    )
    results = []
    for i, a in enumerate(plan.actions):
        spec = REGISTRY[a.kind]
        row: dict[str, Any] = {
            "run": run,
            "step": i + 1,
            "kind": a.kind,
            "target": a.target_arn,
            "changed": False,
            "verified": False,
            "pending": False,
            "irreversible": not spec.reversible,
            "error": None,
        }
        try:
            if a.params.get("confirm") and not (confirm is not None and confirm(a)):
                case.journal(
                    {
                        "event": "awaiting-confirmation",
                        "run": run,
                        "plan_hash": plan.hash,
                        "step": i,
                        "kind": a.kind,
                        "target": a.target_arn,
                        "note": "not changed: waits for the operator's confirmation (apply again with "
                        "--confirm once the new key works)",
                    }
                )
                row["pending"] = True
                results.append(row)
                continue
            client = cl.for_action(a)
            before = spec.read(a, client)  # a target that cannot be read is not touched
            if spec.in_place(a, before):
                case.journal(
                    {
                        "event": "noop",
                        "run": run,
                        "plan_hash": plan.hash,
                        "step": i,
                        "kind": a.kind,
                        "target": a.target_arn,
                        "state": before,
                        "note": "already in place, not changed",
                    }
                )
                row["verified"] = True
                results.append(row)
                continue
            entry = {
                "event": "before",
                "run": run,
                "plan_hash": plan.hash,
                "step": i,
                "kind": a.kind,
                "target": a.target_arn,
                "params": a.params,
                "account_id": a.account_id,
                "state": before,
            }
            if not spec.reversible:
                entry.update(irreversible=True, note=f"irreversible: {spec.undo}")
            case.journal(entry)
            made = spec.change(a, client, before, hooks)
            row["changed"] = True
            after = spec.read(a, client)
            ok = spec.in_place(a, after)
            case.journal(
                {
                    "event": "after",
                    "run": run,
                    "plan_hash": plan.hash,
                    "step": i,
                    "state": after,
                    "verified": ok,
                    **made,
                }
            )
            row["verified"] = ok
        except Exception as e:
            case.journal({"event": "failed", "run": run, "plan_hash": plan.hash, "step": i, "error": str(e)[:300]})
            row["error"] = _err(e)
        results.append(row)
    case.journal(
        {
            "event": "applied",
            "run": run,
            "plan_hash": plan.hash,
            "changed": sum(r["changed"] for r in results),
            "failed": sum(bool(r["error"]) for r in results),
            "pending": sum(r["pending"] for r in results),
        }
    )
    return results


def record_approval(plan: Plan, case, steps: list[int], approver: str | dict[str, Any] | None = None) -> dict[str, Any]:
    """Record a dry-run approval of some of ``plan``'s steps (1-based) in the journal: who, when, from where,
    which steps and the plan hash. Nothing is applied (``apply`` with ``--approve HASH`` does that); ``undo``
    ignores it."""
    if not steps or any(not isinstance(i, int) or not 1 <= i <= len(plan.actions) for i in steps):
        raise BadInput(f"approve steps between 1 and {len(plan.actions)} (got {steps})")
    chosen = sorted(set(steps))
    e = approval.entry(
        "approved-dry-run",
        plan.hash,
        approval.identity(approver),
        steps=chosen,
        actions=[{"kind": plan.actions[i - 1].kind, "target": plan.actions[i - 1].target_arn} for i in chosen],
        applied=False,
    )
    case.journal(e)
    return e


@dataclass
class Run:
    """One ``apply`` as the journal records it: its journalled before- and after-states and the steps undone."""

    id: str
    plan_hash: str | None
    befores: dict[int, dict[str, Any]] = field(default_factory=dict)
    afters: dict[int, dict[str, Any]] = field(default_factory=dict)
    undone: set[int] = field(default_factory=set)

    @property
    def pending(self) -> list[int]:
        return sorted(set(self.befores) - self.undone)


def _checked_before(e: dict[str, Any], run: str) -> dict[str, Any]:
    ok = (
        isinstance(e.get("step"), int)
        and e.get("kind") in KINDS
        and isinstance(e.get("account_id"), str)
        and isinstance(e.get("target"), str)
        and isinstance(e.get("params"), dict)
        and isinstance(e.get("state"), dict)
    )
    if not ok:
        raise RemediationError(
            f"journal.jsonl: run {run}: a before-state entry is malformed (step {e.get('step')!r}); nothing undone"
        )
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
        elif ev == "after" and isinstance(e.get("step"), int):
            run.afters[e["step"]] = e
        elif ev == "undone" and isinstance(e.get("step"), int):
            run.undone.add(e["step"])
    return list(out.values())


def undo(case, clients: Any, run: str | None = None) -> list[dict[str, Any]]:
    """Restore one run's journalled before-states, newest step first (default: the newest run with changes not
    yet undone). A step that cannot be undone is journalled with the reason and reported (``irreversible``).
    A torn last journal line is reported (in the journal and by ``case.read_journal``) and the complete entries
    before it are honoured."""
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
    cl = as_clients(clients)
    undo_id = _run_id()
    case.journal(
        {
            "event": "undo",
            "run": target.id,
            "undo": undo_id,
            "plan_hash": target.plan_hash,
            "steps": target.pending,
            "warnings": warnings,
        }
    )
    results = []
    for step in reversed(target.pending):
        e = target.befores[step]
        a = Action(e["kind"], e["account_id"], e["target"], e["params"], "undo")
        spec = REGISTRY[a.kind]
        row: dict[str, Any] = {
            "run": target.id,
            "step": step + 1,
            "kind": a.kind,
            "target": a.target_arn,
            "restored": False,
            "irreversible": not spec.reversible,
            "note": None,
            "error": None,
        }
        try:
            client = cl.for_action(a)
            if not spec.reversible:
                try:
                    spec.restore(a, e["state"], client, target.afters.get(step, {}))
                except RemediationError as why:
                    row["note"] = str(why)
                    case.journal(
                        {
                            "event": "undone",
                            "run": target.id,
                            "undo": undo_id,
                            "plan_hash": target.plan_hash,
                            "step": step,
                            "irreversible": True,
                            "verified": False,
                            "note": str(why),
                        }
                    )
                    results.append(row)
                    continue
            spec.restore(a, e["state"], client, target.afters.get(step, {}))
            now = spec.read(a, client)
            ok = spec.restored(e["state"], now)
            case.journal(
                {
                    "event": "undone",
                    "run": target.id,
                    "undo": undo_id,
                    "plan_hash": target.plan_hash,
                    "step": step,
                    "state": now,
                    "verified": ok,
                }
            )
            row["restored"] = ok
        except Exception as ex:
            case.journal(
                {"event": "undo-failed", "run": target.id, "undo": undo_id, "step": step, "error": str(ex)[:300]}
            )
            row["error"] = _err(ex)
        results.append(row)
    return results
