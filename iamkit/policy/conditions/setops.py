"""Operator-name grammar (``ForAnyValue:`` / ``ForAllValues:`` prefixes, ``IfExists`` suffix) and set logic.

How one condition key decides, as AWS documents it (condition operators and multivalued-keys pages):

* key absent (or null / empty list): ``ForAllValues`` -> true (vacuous truth), ``ForAnyValue`` -> false (its
  ``IfExists`` changes nothing), ``…IfExists`` -> true, negated operators (``StringNotEquals``,
  ``NotIpAddress``…) -> true, other operators -> false;
* ``ForAnyValue``: at least one context value satisfies the operator; ``ForAllValues``: every one does;
  for a negated operator "satisfies" means "matches none of the policy values", so
  ``ForAllValues:StringNotLike`` is true when no request value is like any policy value;
* no qualifier: a single-valued key compares its one value. A multi-valued key (a list in the context, even
  of one value) makes the condition false, positive or negated operator alike: AWS requires a set operator
  for multivalued keys (behaviour as iam-simulate records it, confirmed by AWS at re:Inforce 2025 IAM431).
  A scalar under ``ForAnyValue`` / ``ForAllValues`` counts as a one-value set.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from iamkit.policy.conditions.base import Operator, Predicate

ANY = "ForAnyValue"
ALL = "ForAllValues"
_QUALIFIERS = {"foranyvalue": ANY, "forallvalues": ALL}
_IF_EXISTS = "ifexists"
MULTI_VALUED = (list, tuple, set, frozenset)
"""Context value types that mark a multivalued key."""


@dataclass(frozen=True, slots=True)
class ParsedOperator:
    """An operator name taken apart: qualifier (ForAnyValue/ForAllValues/None), base name, IfExists flag."""

    text: str
    qualifier: str | None
    base: str  # lower-cased base operator name
    if_exists: bool


@lru_cache(maxsize=4096)
def parse_operator(name: str) -> ParsedOperator:
    """Split ``ForAllValues:StringLikeIfExists`` into its parts (case-insensitive); no check that the base exists."""
    text = name.strip()
    qualifier = None
    base = text
    if ":" in text:
        prefix, base = text.split(":", 1)
        qualifier = _QUALIFIERS.get(prefix.strip().lower(), prefix)
    lowered = base.strip().lower()
    if_exists = lowered.endswith(_IF_EXISTS) and lowered != _IF_EXISTS
    if if_exists:
        lowered = lowered[: -len(_IF_EXISTS)]
    return ParsedOperator(text, qualifier, lowered, if_exists)


def values_of(raw: Any) -> list[Any] | None:
    """A context entry as its list of values; None when absent, null or an empty list (IAM treats those alike)."""
    if raw is None:
        return None
    if isinstance(raw, MULTI_VALUED):
        values = [v for v in raw if v is not None]
        return values or None
    return [raw]


def absent_result(qualifier: str | None, operator: Operator, if_exists: bool) -> bool:
    """The documented outcome of a condition whose key is not in the request."""
    if qualifier == ALL:
        return True
    if qualifier == ANY:
        return False
    return if_exists or operator.negated


def combine(qualifier: str | None, negated: bool, pred: Predicate, values: Iterable[Any]) -> bool:
    """Apply the set qualifier and negation to the positive predicate over the context values."""
    if qualifier == ALL:
        if negated:
            return not any(pred(v) for v in values)
        return all(pred(v) for v in values)
    if qualifier == ANY:
        if negated:
            return any(not pred(v) for v in values)
        return any(pred(v) for v in values)
    hit = any(pred(v) for v in values)
    return not hit if negated else hit
