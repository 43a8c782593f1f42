"""The rule registry: every assessment rule with its id, severity, title, rationale, remediation and references.

A rule is data plus one check function ``check(ctx) -> Iterable[Hit]``; rule modules register themselves with
``@rule(...)`` so ``iamkit.assess.run`` finds them all by id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from iamkit.severity import LEVELS as SEVERITIES


@dataclass
class Hit:
    """One thing a rule found; ``severity`` overrides the rule's default when a case is worse or milder."""

    account_id: str | None
    principal_arn: str | None = None
    principal_type: str | None = None
    resource_arn: str | None = None
    detail: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    severity: str | None = None


@dataclass(frozen=True)
class Rule:
    """An assessment rule: metadata shown with every finding and the function that checks an inventory."""

    id: str
    family: str
    severity: str
    title: str
    rationale: str
    remediation: str
    references: tuple[str, ...]
    check: Callable[[Any], Iterable[Hit]]


RULES: dict[str, Rule] = {}


def rule(id: str, family: str, severity: str, title: str, rationale: str, remediation: str,
         references: Iterable[str] = ()) -> Callable[[Callable[[Any], Iterable[Hit]]], Callable[[Any], Iterable[Hit]]]:
    """Register the decorated check function as rule ``id``."""
    if severity not in SEVERITIES:
        raise ValueError(f"rule {id}: unknown severity {severity!r}")

    def wrap(fn: Callable[[Any], Iterable[Hit]]) -> Callable[[Any], Iterable[Hit]]:
        if id in RULES and RULES[id].check is not fn:
            raise ValueError(f"rule {id} registered twice")
        RULES[id] = Rule(id, family, severity, title, rationale, remediation, tuple(references), fn)
        return fn

    return wrap


def all_rules() -> dict[str, Rule]:
    """Every registered rule (importing the rule modules on first use)."""
    from iamkit.assess.rules import credentials, escalation, exposure, posture, privilege, trusts  # noqa: F401

    return RULES
