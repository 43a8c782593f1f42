"""Step 3: the containment plan for a traced key, as a dry run (nothing changes here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

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
        yield "To apply", md("Review, then {}. Every step journals the before-state first; {} restores it.",
                             code(f"iamkit remediate apply {self.case_dir} --approve {p.hash}"),
                             code(f"iamkit remediate undo {self.case_dir}"))


def plan_for_case(case: Case) -> PlanView:
    """Build the plan from the key facts of step 1 and read the state each action would change."""
    from iamkit.respond import capture_before, compromised_key_plan
    from iamkit.respond.sessions import iam_client_for

    kf = case.load_json("key-facts")
    origin = kf["origin"]
    summary = {
        "access_key_id": kf["access_key_id"],
        "origin": {"account_id": origin.get("account_id"), "user_arn": origin.get("user_arn") or origin.get("arn"),
                   "user_name": origin.get("user_name")} if origin.get("user_name") else {},
        "created_users": kf["created_users"],
        "policies_attached": kf["policies_attached"],
        "assumed_roles": kf["assumed_roles"],
        "evidence": kf.get("evidence", {}),
        "planned_at": case.meta.get("created"),
    }
    plan = capture_before(compromised_key_plan(case.id, summary), iam_client_for)
    case.save_json("remediation-plan", plan.to_dict())
    (case.evidence / "remediation-plan.diff").write_text("\n".join(plan.diff()) + "\n")
    return PlanView(plan, str(case.path))
