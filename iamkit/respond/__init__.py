"""Response: remediation plans (dry run by default), approval by plan hash, journal runs, undo."""

# imported here, not wrapped lazily: a wrapper named ``apply`` would be replaced by the submodule of that name
# as soon as anything imported ``iamkit.respond.apply`` (and ``from iamkit.respond import apply`` then gave the module)
from iamkit.respond.apply import apply, record_approval, runs, undo
from iamkit.respond.plan import KINDS, Action, Plan, capture_before, compromised_key_plan, in_place

__all__ = ["KINDS", "Action", "Plan", "capture_before", "compromised_key_plan", "in_place", "apply", "undo",
           "runs", "record_approval"]
