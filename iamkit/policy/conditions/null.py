"""The Null condition operator: ``"true"`` means the key is absent (or empty), ``"false"`` that it is present.

Null looks at the key's existence only, never its value, so it is evaluated apart from the other families.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from iamkit.policy.conditions.base import InvalidPolicyValue
from iamkit.policy.conditions.boolean import parse_bool

NAME = "Null"


@lru_cache(maxsize=256)
def prepare_null(values: tuple[Any, ...]) -> frozenset[bool]:
    """The set of accepted "key is absent" answers; raises InvalidPolicyValue for a non-boolean value."""
    wanted = set()
    for v in values:
        b = parse_bool(v)
        if b is None:
            raise InvalidPolicyValue(f"{v!r} is not true or false")
        wanted.add(b)
    return frozenset(wanted)


def null_matches(wanted: frozenset[bool], present: bool) -> bool:
    """Null is true when the policy asked for the key's absence and it is absent, or presence and it is present."""
    return (not present) in wanted
