"""Remediation plans: a dry run first (actions + before-state + diff), applied only with the plan's hash.

Every action is reversible and says how: deactivating a key (reactivate), a deny-all quarantine policy on a
user (delete it, or put back the document that was there under that name, byte for byte), revoking a role's
older sessions with a ``aws:TokenIssueTime`` deny (the same), detaching a managed policy (re-attach). Nothing
here deletes what cannot be restored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import unquote

from iamkit.arn import name_of
from iamkit.errors import BadInput

QUARANTINE_POLICY = "iamkit-quarantine"
REVOKE_POLICY = "iamkit-revoke-older-sessions"
DENY_ALL = {"Version": "2012-10-17",
            "Statement": [{"Sid": "IamkitQuarantine", "Effect": "Deny", "Action": "*", "Resource": "*"}]}

KINDS = {
    "deactivate_access_key": "set the access key Inactive (undo: set it Active)",
    "quarantine_user": f"attach inline deny-all policy {QUARANTINE_POLICY} (undo: delete it, or put back the "
                       "document it replaced)",
    "detach_user_policy": "detach a managed policy from a user (undo: attach it again)",
    "revoke_role_sessions": f"inline policy {REVOKE_POLICY} denying sessions issued before now (undo: delete it, "
                            "or put back the document it replaced)",
}


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
            for line in _diff_lines(a, b):
                lines.append(line)
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "created": self.created, "hash": self.hash,
                "actions": [asdict(a) for a in self.actions], "before": self.before}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Plan:
        """A plan from its JSON; anything malformed (or an unknown action kind) is a one-line BadInput."""
        try:
            actions = [Action(**a) for a in d["actions"]]
            plan = cls(str(d["case_id"]), actions, str(d["created"]), list(d.get("before") or []))
            for a in actions:
                if a.kind not in KINDS or not isinstance(a.params, dict):
                    raise ValueError(a.kind)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise BadInput("remediation-plan.json is not a valid plan") from None
        return plan

    def frame(self):
        import pandas as pd

        return pd.DataFrame([{"step": i + 1, "kind": a.kind, "account_id": a.account_id, "target": a.target_arn,
                              "reason": a.reason, "undo": KINDS[a.kind].split("(undo: ")[1].rstrip(")")}
                             for i, a in enumerate(self.actions)])


def _diff_lines(a: Action, before: dict[str, Any]) -> list[str]:
    if a.kind == "deactivate_access_key":
        return [f"- {a.params['access_key_id']} status {before.get('status', '?')}",
                f"+ {a.params['access_key_id']} status Inactive"]
    if a.kind == "quarantine_user":
        return [f"- inline policies: {before.get('inline_policies', '?')}",
                f"+ inline policies: {sorted(set(before.get('inline_policies', [])) | {QUARANTINE_POLICY})}",
                *([f"~ {QUARANTINE_POLICY}: the existing document is replaced (journalled, put back on undo)"]
                  if before.get("document") and not in_place(a, before) else [])]
    if a.kind == "detach_user_policy":
        return [f"- attached: {before.get('attached_policies', '?')}",
                f"+ attached: {sorted(set(before.get('attached_policies', [])) - {a.params['policy_arn']})}"]
    if a.kind == "revoke_role_sessions":
        return [f"- inline policies: {before.get('inline_policies', '?')}",
                f"+ inline policies: {sorted(set(before.get('inline_policies', [])) | {REVOKE_POLICY})}",
                *([f"~ {REVOKE_POLICY}: the existing document is replaced (journalled, put back on undo)"]
                  if before.get("document") and not in_place(a, before) else [])]
    return []


def revoke_document(action: Action) -> dict[str, Any]:
    """The inline policy ``revoke_role_sessions`` puts on the role."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "IamkitRevokeOlderSessions", "Effect": "Deny", "Action": "*", "Resource": "*",
        "Condition": {"DateLessThan": {"aws:TokenIssueTime": action.params["issued_before"]}}}]}


def inline_document(iam, kind: str, name: str, policy: str) -> str:
    """An inline policy's document exactly as IAM stores it (the text, not boto3's parsed dict).

    boto3 decodes policy documents into dicts after every IAM call; a handler registered ahead of that one
    keeps the URL-encoded text, so a document can be put back byte for byte."""
    raw: dict[str, Any] = {}

    def keep(parsed, **_):
        raw["doc"] = parsed.get("PolicyDocument")

    event = f"after-call.iam.{'GetUserPolicy' if kind == 'user' else 'GetRolePolicy'}"
    iam.meta.events.register_first(event, keep, unique_id="iamkit-raw-policy-document")
    try:
        resp = (iam.get_user_policy(UserName=name, PolicyName=policy) if kind == "user"
                else iam.get_role_policy(RoleName=name, PolicyName=policy))
    finally:
        iam.meta.events.unregister(event, unique_id="iamkit-raw-policy-document")
    doc = raw.get("doc")
    if isinstance(doc, str):
        return unquote(doc)
    got = resp.get("PolicyDocument")
    return got if isinstance(got, str) else json.dumps(got)


def read_state(action: Action, iam) -> dict[str, Any]:
    """The current state an action would change (read-only calls only), with the full document of an inline
    policy already under the name iamkit would use, so undo can put it back."""
    if action.kind == "deactivate_access_key":
        user = action.params["user_name"]
        keys = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
        k = next((k for k in keys if k["AccessKeyId"] == action.params["access_key_id"]), None)
        return {"exists": k is not None, "status": k["Status"] if k else None}
    if action.kind in ("quarantine_user", "detach_user_policy"):
        user = name_of(action.target_arn)
        state = {"inline_policies": sorted(iam.list_user_policies(UserName=user)["PolicyNames"]),
                 "attached_policies": sorted(p["PolicyArn"] for p in
                                             iam.list_attached_user_policies(UserName=user)["AttachedPolicies"])}
        if action.kind == "quarantine_user":
            state["document"] = inline_document(iam, "user", user, QUARANTINE_POLICY) \
                if QUARANTINE_POLICY in state["inline_policies"] else None
        return state
    if action.kind == "revoke_role_sessions":
        role = name_of(action.target_arn)
        names = sorted(iam.list_role_policies(RoleName=role)["PolicyNames"])
        return {"inline_policies": names,
                "document": inline_document(iam, "role", role, REVOKE_POLICY) if REVOKE_POLICY in names else None}
    raise ValueError(action.kind)


def _same_document(text: str | None, doc: dict[str, Any]) -> bool:
    try:
        return text is not None and json.loads(text) == doc
    except (ValueError, RecursionError):
        return False


def in_place(action: Action, state: dict[str, Any]) -> bool:
    """Is the action's change already there (so applying it again changes nothing)?"""
    if action.kind == "deactivate_access_key":
        return state.get("exists") is True and state.get("status") == "Inactive"
    if action.kind == "quarantine_user":
        return _same_document(state.get("document"), DENY_ALL)
    if action.kind == "detach_user_policy":
        return action.params["policy_arn"] not in state.get("attached_policies", [])
    if action.kind == "revoke_role_sessions":
        return _same_document(state.get("document"), revoke_document(action))
    return False


def capture_before(plan: Plan, iam_for) -> Plan:
    """Fill ``plan.before`` from live state; ``iam_for(account_id)`` returns an IAM client for that account."""
    plan.before = []
    for a in plan.actions:
        try:
            plan.before.append(read_state(a, iam_for(a.account_id)))
        except Exception as e:  # a read that fails is listed in the plan, not fatal to planning
            plan.before.append({"error": f"{e.__class__.__name__}: {e}"[:300]})
    return plan


def compromised_key_plan(case_id: str, trace_summary: dict[str, Any]) -> Plan:
    """Containment for a leaked key, from a key trace's summary: the key, what it created, where it went."""
    actions: list[Action] = []
    origin = trace_summary.get("origin", {})
    leaked = trace_summary["access_key_id"]
    if origin.get("user_name"):
        actions.append(Action("deactivate_access_key", origin["account_id"], origin["user_arn"],
                              {"access_key_id": leaked, "user_name": origin["user_name"]},
                              "the leaked key", trace_summary.get("evidence", {}).get(leaked, [])))
        actions.append(Action("quarantine_user", origin["account_id"], origin["user_arn"], {},
                              "owner of the leaked key: deny everything until investigated"))
        for pol in trace_summary.get("policies_attached", {}).get(origin["user_arn"], []):
            actions.append(Action("detach_user_policy", origin["account_id"], origin["user_arn"],
                                  {"policy_arn": pol}, "attached by the attacker"))
    for u in trace_summary.get("created_users", []):
        for key in u.get("access_keys", []):
            actions.append(Action("deactivate_access_key", u["account_id"], u["arn"],
                                  {"access_key_id": key, "user_name": name_of(u["arn"])},
                                  "key created by the attacker (persistence)"))
        actions.append(Action("quarantine_user", u["account_id"], u["arn"], {}, "user created by the attacker"))
        for pol in trace_summary.get("policies_attached", {}).get(u["arn"], []):
            actions.append(Action("detach_user_policy", u["account_id"], u["arn"], {"policy_arn": pol},
                                  "attached by the attacker"))
    for s in trace_summary.get("assumed_roles", []):
        actions.append(Action("revoke_role_sessions", s["account_id"], s["role_arn"],
                              {"issued_before": trace_summary.get("planned_at")
                               or dt.datetime.now(dt.UTC).isoformat(timespec="seconds")},
                              f"session {s.get('session_name', '')} was opened with attacker credentials"))
    return Plan(case_id, actions)
