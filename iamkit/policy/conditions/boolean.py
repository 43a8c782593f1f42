"""The Bool condition operator: ``"true"`` / ``"false"`` (any case, or JSON booleans) against a boolean key."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from iamkit.policy.conditions.base import InvalidPolicyValue, Operator, Predicate, operators


def parse_bool(value: Any) -> bool | None:
    """``value`` as a boolean (``True``, ``"TRUE"``, ``"false"``…); None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    return None


@lru_cache(maxsize=1024)
def _bool(values: tuple[Any, ...]) -> Predicate:
    wanted = set()
    for v in values:
        b = parse_bool(v)
        if b is None:
            raise InvalidPolicyValue(f"{v!r} is not true or false")
        wanted.add(b)
    frozen = frozenset(wanted)

    def pred(value: Any) -> bool:
        b = parse_bool(value)
        return b is not None and b in frozen

    return pred


OPERATORS = operators(Operator("Bool", "bool", False, False, False, _bool))
