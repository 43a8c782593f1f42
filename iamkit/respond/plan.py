"""Remediation plans: a dry run first (actions + before-state + diff), applied only with the plan's hash.

Each action says how it is undone (``iamkit.respond.actions`` has one class per kind: what it reads, changes
and restores). Two kinds cannot be undone and run only when the operator allows irreversible steps: removing a
console login profile and revoking Entra sign-in sessions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from iamkit.arn import name_of
from iamkit.errors import BadInput
from iamkit.respond.actions import (  # noqa: F401 - re-exported: the names plans and tests use
    DENY_ALL,
    QUARANTINE_POLICY,
    REGISTRY,
    REVOKE_POLICY,
    inline_document,
    revoke_document,
)

KINDS: dict[str, str] = {k: f"{spec.summary} (undo: {spec.undo})" for k, spec in REGISTRY.items()}
IRREVERSIBLE = frozenset(k for k, spec in REGISTRY.items() if not spec.reversible)
DESTRUCTIVE = frozenset(k for k, spec in REGISTRY.items() if spec.destructive)


@dataclass
class Action:
    kind: str
    account_id: str
    target_arn: str
    params: dict[str, Any]
    reason: str
    evidence: list[str] = field(default_factory=list)  # event ids / finding ids that justify it

    @property
    def description(self) -> str:
        return f"{self.kind} on {self.target_arn}: {KINDS[self.kind]}"


@dataclass
class Plan:
    case_id: str
    actions: list[Action]
    created: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    before: list[dict[str, Any]] = field(default_factory=list)  # read-only state per action, at plan time

    @property
    def hash(self) -> str:
        """The approval token: sha256 of the canonical actions (what would change), 16 hex digits."""
        canon = json.dumps([asdict(a) for a in self.actions], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canon.encode()).hexdigest()[:16]

    def diff(self) -> list[str]:
        """One line per action, ``- before`` / ``+ after`` style."""
        lines = []
        for a, b in zip(self.actions, self.before or [{}] * len(self.actions), strict=False):
            lines.append(f"# {a.kind} {a.target_arn}  ({a.reason})")
            if "error" in b:
                lines.append(f"! the state could not be read: {b['error']}")
                continue
            lines.extend(REGISTRY[a.kind].diff(a, b))
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "created": self.created,
            "hash": self.hash,
            "actions": [asdict(a) for a in self.actions],
            "before": self.before,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Plan:
        """A plan from its JSON; anything malformed (or an unknown action kind) is a one-line BadInput."""
        try:
            actions = [Action(**a) for a in d["actions"]]
            plan = cls(str(d["case_id"]), actions, str(d["created"]), list(d.get("before") or []))
            for a in actions:
                if (
                    a.kind not in KINDS
                    or not isinstance(a.params, dict)
                    or not isinstance(a.target_arn, str)
                    or not isinstance(a.account_id, str)
                ):
                    raise ValueError(a.kind)
                REGISTRY[a.kind].check(a)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise BadInput("remediation-plan.json is not a valid plan") from None
        return plan

    def frame(self):
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "step": i + 1,
                    "kind": a.kind,
                    "account_id": a.account_id,
                    "target": a.target_arn,
                    "reason": a.reason,
                    "undo": REGISTRY[a.kind].undo,
                }
                for i, a in enumerate(self.actions)
            ]
        )

    @property
    def irreversible(self) -> list[int]:
        """Steps (1-based) that cannot be undone."""
        return [i + 1 for i, a in enumerate(self.actions) if a.kind in IRREVERSIBLE]

    @property
    def destructive(self) -> list[int]:
        """Steps (1-based) that remove something (two-person approval applies to them when it is on)."""
        return [i + 1 for i, a in enumerate(self.actions) if a.kind in DESTRUCTIVE]


def read_state(action: Action, client: Any) -> dict[str, Any]:
    """The current state an action would change (read-only calls only; ``client``: the action's service client),
    complete enough for undo to put it back exactly."""
    return REGISTRY[action.kind].read(action, client)


def in_place(action: Action, state: dict[str, Any]) -> bool:
    """Is the action's change already there (so applying it again changes nothing)?"""
    return REGISTRY[action.kind].in_place(action, state)


def capture_before(plan: Plan, clients: Any) -> Plan:
    """Fill ``plan.before`` from live state. ``clients``: a ``Clients`` (``iamkit.respond.sessions``) or, as
    before, ``iam_for(account_id)`` returning an IAM client for that account."""
    from iamkit.respond.sessions import as_clients

    cl = as_clients(clients)
    plan.before = []
    for a in plan.actions:
        try:
            plan.before.append(read_state(a, cl.for_action(a)))
        except Exception as e:  # a read that fails is listed in the plan, not fatal to planning
            plan.before.append({"error": f"{e.__class__.__name__}: {e}"[:300]})
    return plan


def compromised_key_plan(case_id: str, trace_summary: dict[str, Any]) -> Plan:
    """Containment for a leaked key, from a key trace's summary: the key, what it created, where it went."""
    actions: list[Action] = []
    origin = trace_summary.get("origin", {})
    leaked = trace_summary["access_key_id"]
    if origin.get("user_name"):
        actions.append(
            Action(
                "deactivate_access_key",
                origin["account_id"],
                origin["user_arn"],
                {"access_key_id": leaked, "user_name": origin["user_name"]},
                "the leaked key",
                trace_summary.get("evidence", {}).get(leaked, []),
            )
        )
        actions.append(
            Action(
                "quarantine_user",
                origin["account_id"],
                origin["user_arn"],
                {},
                "owner of the leaked key: deny everything until investigated",
            )
        )
        for pol in trace_summary.get("policies_attached", {}).get(origin["user_arn"], []):
            actions.append(
                Action(
                    "detach_user_policy",
                    origin["account_id"],
                    origin["user_arn"],
                    {"policy_arn": pol},
                    "attached by the attacker",
                )
            )
    for u in trace_summary.get("created_users", []):
        for key in u.get("access_keys", []):
            actions.append(
                Action(
                    "deactivate_access_key",
                    u["account_id"],
                    u["arn"],
                    {"access_key_id": key, "user_name": name_of(u["arn"])},
                    "key created by the attacker (persistence)",
                )
            )
        actions.append(Action("quarantine_user", u["account_id"], u["arn"], {}, "user created by the attacker"))
        for pol in trace_summary.get("policies_attached", {}).get(u["arn"], []):
            actions.append(
                Action("detach_user_policy", u["account_id"], u["arn"], {"policy_arn": pol}, "attached by the attacker")
            )
    for s in trace_summary.get("assumed_roles", []):
        actions.append(
            Action(
                "revoke_role_sessions",
                s["account_id"],
                s["role_arn"],
                {
                    "issued_before": trace_summary.get("planned_at")
                    or dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
                },
                f"session {s.get('session_name', '')} was opened with attacker credentials",
            )
        )
    return Plan(case_id, actions)


def rotate_key_actions(
    account_id: str, user_arn: str, access_key_id: str, existing: list[str], reason: str = "rotate the exposed key"
) -> list[Action]:
    """Rotation as two steps: create a new key (its secret handed to the operator, never to the case), then
    deactivate the old one only once the operator confirms the new one works (``apply(..., confirm=…)``)."""
    user = name_of(user_arn)
    if len(existing) >= 2:
        raise BadInput(
            f"user {user} already has two access keys ({', '.join(sorted(existing))}): IAM allows two; "
            "delete an unused one before rotating"
        )
    return [
        Action("create_access_key", account_id, user_arn, {"user_name": user, "existing": sorted(existing)}, reason),
        Action(
            "deactivate_access_key",
            account_id,
            user_arn,
            {"access_key_id": access_key_id, "user_name": user, "confirm": True},
            f"{reason}: the old key, once the new one works",
        ),
    ]
