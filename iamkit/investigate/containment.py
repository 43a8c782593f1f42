"""Step 3: the containment plan for a traced key, as a dry run (nothing changes here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iamkit.arn import USER, account_of, is_arn, principal
from iamkit.ui.text import code, code_block, md

if TYPE_CHECKING:  # pragma: no cover
    from iamkit.case import Case
    from iamkit.respond import Plan


@dataclass
class PlanView:
    plan: Plan
    case_dir: str

    def sections(self):
        p = self.plan
        yield f"Dry-run plan {p.hash}: {len(p.actions)} reversible action(s), nothing applied", p.frame()
        yield "What would change (before → after, read now)", code_block("\n".join(p.diff()), "diff")
        yield (
            "To apply",
            md(
                "Review, then {}. Every step journals the before-state first; {} restores it.",
                code(f"iamkit remediate apply {self.case_dir} --approve {p.hash}"),
                code(f"iamkit remediate undo {self.case_dir}"),
            ),
        )


def plan_summary(f: dict[str, Any], key_owners: dict[str, str], planned_at: str | None) -> dict[str, Any]:
    """What ``respond.compromised_key_plan`` needs, from the facts: the chain's first long-term key and its
    user (a session key cannot be switched off: its role's sessions are revoked instead), the users and keys
    created (``key_owners``: created key -> user ARN), the policies attached to users, the roles assumed."""
    s = f["subject"]
    user_arn = s.get("principal_arn") or ""
    owner = principal(user_arn)
    origin: dict[str, Any] = {}
    if owner.kind == USER and s.get("origin_access_key_id"):
        origin = {"account_id": s.get("account_id"), "user_arn": user_arn, "user_name": owner.name}
    attached: dict[str, list[str]] = {}
    for p in f["policies_changed"]:
        if p["event_name"] in ("AttachUserPolicy", "PutUserPolicy") and p.get("policy"):
            pol = p["policy"]
            if is_arn(pol):  # an inline policy is removed with the quarantine's review, not detached
                attached.setdefault(p["target"], []).append(pol)
    users = [
        {"arn": u, "account_id": account_of(u), "access_keys": [k for k, owner in key_owners.items() if owner == u]}
        for u in f["created"]["users"]
    ]
    roles = [
        {"role_arn": r["role_arn"], "account_id": r["account_id"], "session_name": r["session_name"]}
        for r in f["roles_assumed"]
    ]
    return {
        "access_key_id": s.get("origin_access_key_id") or s["access_key_id"],
        "origin": origin,
        "created_users": users,
        "policies_attached": attached,
        "assumed_roles": roles,
        "evidence": {},
        "planned_at": planned_at,
    }


def containment_facts(plan: Plan) -> list[dict[str, str]]:
    """The plan's actions as facts: kind and target (key id, user or role ARN, 'user-arn policy-arn')."""
    return [{"kind": a.kind, "target": fact_target(a.kind, a.target_arn, a.params)} for a in plan.actions]


def fact_target(kind: str, target_arn: str, params: dict[str, Any]) -> str:
    """What the facts name as an action's target: the key id, 'principal-arn policy-arn' for a detach,
    'principal-arn inline:name' for an inline policy, else the target ARN."""
    if kind == "deactivate_access_key":
        return params["access_key_id"]
    if kind in ("detach_user_policy", "detach_role_policy", "detach_group_policy"):
        return f"{target_arn} {params['policy_arn']}"
    if kind == "delete_inline_policy":
        return f"{target_arn} inline:{params['policy_name']}"
    return target_arn


def plan_for_case(case: Case) -> PlanView:
    """Build the plan from the facts of steps 1-2 and read the state each action would change."""
    from iamkit.investigate import facts as F
    from iamkit.respond import capture_before, compromised_key_plan
    from iamkit.respond.sessions import iam_client_for

    f = F.load(case)
    nodes = case.load_frame("key-chain")
    keys = nodes[nodes["node_type"] == "key"]
    key_owners = {
        str(r.access_key_id): str(r.principal_arn)
        for r in keys.itertuples()
        if r.access_key_id in f["created"]["access_keys"]
    }
    summary = plan_summary(f, key_owners, case.meta.get("created"))
    plan = capture_before(compromised_key_plan(case.id, summary), iam_client_for)
    for a, before in zip(plan.actions, plan.before, strict=False):
        if "error" in before:
            case.note_unanswered(
                "remediation",
                "the state a containment action would change",
                f"{a.kind} {a.target_arn}: {before['error']}",
            )
    case.save_json("remediation-plan", plan.to_dict())
    (case.evidence / "remediation-plan.diff").write_text("\n".join(plan.diff()) + "\n")
    F.update(case, containment=containment_facts(plan))
    return PlanView(plan, str(case.path))


# ---------------------------------------------------------------- any other subject
@dataclass
class Proposal:
    """One containment change for a subject: an action ``kind`` (``iamkit.respond`` vocabulary), its target
    ARN, its parameters (for restrict_trust: the new trust document) and why; ``before`` is read now."""

    kind: str
    account_id: str
    target_arn: str
    params: dict[str, Any]
    reason: str
    before: dict[str, Any] | None = None


def subject_plan(case_id: str, proposals: list[Proposal]) -> tuple[Plan, list[Proposal]]:
    """The dry-run plan for a subject's proposals: (plan of the kinds ``iamkit.respond`` can apply on this
    build, proposals it cannot apply yet). The one place a new subject's containment meets ``respond``."""
    from iamkit.respond import KINDS, Action, Plan

    known = [p for p in proposals if p.kind in KINDS]
    later = [p for p in proposals if p.kind not in KINDS]
    return Plan(case_id, [Action(p.kind, p.account_id, p.target_arn, p.params, p.reason) for p in known]), later


@dataclass
class SubjectPlanView:
    plan: Plan
    proposals: list[Proposal]
    pending: list[Proposal]
    case_dir: str

    def sections(self):
        import pandas as pd

        p = self.plan
        rows = [
            {
                "kind": x.kind,
                "target": x.target_arn,
                "reason": x.reason,
                "applicable here": "yes" if x not in self.pending else "not yet (no such action in iamkit.respond)",
            }
            for x in self.proposals
        ]
        yield f"Dry-run containment: {len(self.proposals)} change(s) proposed, nothing applied", pd.DataFrame(rows)
        for x in self.proposals:
            if x.before is not None:
                yield (
                    f"{x.kind} {x.target_arn}: before → after",
                    code_block("\n".join(_doc_diff(x.before, x.params)), "diff"),
                )
        if p.actions:
            yield (
                "To apply",
                md(
                    "Review, then {}; {} restores it.",
                    code(f"iamkit remediate apply {self.case_dir} --approve {p.hash}"),
                    code(f"iamkit remediate undo {self.case_dir}"),
                ),
            )


def _doc_diff(before: dict[str, Any], params: dict[str, Any]) -> list[str]:
    import difflib
    import json

    old = json.dumps(before.get("document", before), indent=2, sort_keys=True).splitlines()
    new = json.dumps(params.get("document", params), indent=2, sort_keys=True).splitlines()
    return list(difflib.unified_diff(old, new, "before (read now)", "after (proposed)", lineterm=""))


def plan_for_subject(case: Case, proposals: list[Proposal]) -> SubjectPlanView:
    """Write a subject's dry-run plan (``remediation-plan``, ``proposed-changes``, a diff) and its facts."""
    from dataclasses import asdict

    from iamkit.investigate import facts as F
    from iamkit.respond import capture_before
    from iamkit.respond.sessions import default_clients

    plan, pending = subject_plan(case.id, proposals)
    plan = capture_before(plan, default_clients())  # IAM and Identity Center per account, Graph for Entra
    for a, before in zip(plan.actions, plan.before, strict=False):
        if "error" in before:
            case.note_unanswered(
                "remediation",
                "the state a containment action would change",
                f"{a.kind} {a.target_arn}: {before['error']}",
            )
    case.save_json("remediation-plan", plan.to_dict())
    case.save_json(
        "proposed-changes",
        {"proposals": [asdict(p) for p in proposals], "not_applicable_yet": [p.kind for p in pending]},
    )
    diff = [
        line
        for p in proposals
        if p.before is not None
        for line in [f"# {p.kind} {p.target_arn}  ({p.reason})", *_doc_diff(p.before, p.params)]
    ]
    (case.evidence / "remediation-plan.diff").write_text("\n".join([*plan.diff(), *diff]) + "\n")
    F.update(
        case, containment=[{"kind": p.kind, "target": fact_target(p.kind, p.target_arn, p.params)} for p in proposals]
    )
    return SubjectPlanView(plan, proposals, pending, str(case.path))
