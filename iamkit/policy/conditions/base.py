"""What every condition-operator family provides: an :class:`Operator` spec and its value helpers.

A family module builds, from the policy values of one condition key, a *predicate* telling whether one
context value satisfies the operator's positive form against ANY of the policy values (IAM ORs the values).
Negated operators (``StringNotEquals``, ``NotIpAddress``…) reuse the positive predicate with ``negated=True``;
:mod:`iamkit.policy.conditions.setops` applies the negation and the set qualifiers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Predicate = Callable[[Any], bool]
"""One context value -> whether it satisfies the positive operator against any policy value."""


class InvalidPolicyValue(ValueError):
    """A policy value the operator cannot use (bad CIDR, date, number, ARN, base64, boolean)."""


@dataclass(frozen=True, slots=True)
class Operator:
    """A base condition operator: canonical name, family, whether it is a negation, and its predicate builder."""

    name: str
    family: str
    negated: bool
    variables: bool  # policy variables in its values are substituted (string and ARN operators)
    glob: bool  # values are globs: variables are substituted with for_glob=True
    prepare: Callable[[tuple[Any, ...]], Predicate]  # raises InvalidPolicyValue; cached by the family


def operators(*specs: Operator) -> dict[str, Operator]:
    """Index operator specs by lower-cased name (IAM operator names are matched ignoring case)."""
    return {spec.name.lower(): spec for spec in specs}


def never(_value: Any) -> bool:
    """Predicate of an operator left with no usable policy value (all were unresolved variables)."""
    return False
