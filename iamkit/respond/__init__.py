"""Response: remediation plans (dry run by default), approval by plan hash (optionally by two people), journal
runs, undo, plans from findings and detections, notifications, and the event-driven auto-response handler."""

# imported here, not wrapped lazily: a wrapper named ``apply`` would be replaced by the submodule of that name
# as soon as anything imported ``iamkit.respond.apply`` (and ``from iamkit.respond import apply`` then gave the module)
from iamkit.respond.apply import apply, record_approval, runs, undo
from iamkit.respond.approval import approve
from iamkit.respond.plan import KINDS, Action, Plan, capture_before, compromised_key_plan, in_place
from iamkit.respond.sessions import Clients

__all__ = [
    "KINDS",
    "Action",
    "Clients",
    "Plan",
    "capture_before",
    "compromised_key_plan",
    "in_place",
    "apply",
    "approve",
    "undo",
    "runs",
    "record_approval",
]
