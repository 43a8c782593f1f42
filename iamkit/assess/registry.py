"""The rule registry: every assessment rule with its id, severity, title, rationale, remediation, references and
the compliance controls it bears on (ids defined in ``controls.yml``: CIS AWS Foundations Benchmark v3.0.0
section 1, NIST SP 800-53 Rev. 5 AC family).

A rule is data plus one check function ``check(ctx) -> Iterable[Hit]``; rule modules register themselves with
``@rule(...)`` so ``iamkit.assess.run`` finds them all by id.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from iamkit.severity import LEVELS as SEVERITIES

CONTROL_ID = re.compile(r"^(CIS-AWS-3\.0:1\.\d{1,2}|NIST-800-53r5:AC-\d{1,2}(\(\d{1,2}\))?)$")


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
    controls: tuple[str, ...] = ()


RULES: dict[str, Rule] = {}


def rule(
    id: str,
    family: str,
    severity: str,
    title: str,
    rationale: str,
    remediation: str,
    references: Iterable[str] = (),
    controls: Iterable[str] = (),
) -> Callable[[Callable[[Any], Iterable[Hit]]], Callable[[Any], Iterable[Hit]]]:
    """Register the decorated check function as rule ``id`` (``controls``: compliance control ids)."""
    if severity not in SEVERITIES:
        raise ValueError(f"rule {id}: unknown severity {severity!r}")
    bad = [c for c in controls if not CONTROL_ID.match(c)]
    if bad:
        raise ValueError(f"rule {id}: malformed control id(s) {bad}")

    def wrap(fn: Callable[[Any], Iterable[Hit]]) -> Callable[[Any], Iterable[Hit]]:
        if id in RULES and RULES[id].check is not fn:
            raise ValueError(f"rule {id} registered twice")
        RULES[id] = Rule(id, family, severity, title, rationale, remediation, tuple(references), fn, tuple(controls))
        return fn

    return wrap


def all_rules() -> dict[str, Rule]:
    """Every registered rule (importing the rule modules on first use)."""
    from iamkit.assess.rules import credentials, escalation, exposure, posture, privilege, trusts  # noqa: F401

    return RULES


@lru_cache(maxsize=1)
def control_catalog() -> dict[str, Any]:
    """``controls.yml``: the frameworks (title, scope) and every control id with its title."""
    import yaml

    return yaml.safe_load((Path(__file__).parent / "controls.yml").read_text())
