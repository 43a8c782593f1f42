"""Response: remediation plans (dry run by default), approval by plan hash, journal, undo."""

from iamkit.respond.plan import KINDS, Action, Plan, capture_before, compromised_key_plan

__all__ = ["KINDS", "Action", "Plan", "capture_before", "compromised_key_plan", "apply", "undo"]


def apply(*args, **kwargs):
    from iamkit.respond.apply import apply as _apply

    return _apply(*args, **kwargs)


def undo(*args, **kwargs):
    from iamkit.respond.apply import undo as _undo

    return _undo(*args, **kwargs)
