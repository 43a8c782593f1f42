"""String condition operators: StringEquals, StringNotEquals, …IgnoreCase, StringLike, StringNotLike.

Equality is case-sensitive except the ``IgnoreCase`` pair; ``StringLike`` values are globs (``*``, ``?``),
also case-sensitive. Policy variables in the values are substituted before comparison.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from iamkit.policy.conditions.base import InvalidPolicyValue, Operator, Predicate, operators
from iamkit.policy.matching import compile_glob, is_glob
from iamkit.policy.variables import value_to_text


def policy_text(value: Any) -> str:
    """A policy value as text (JSON booleans and numbers allowed); containers are invalid."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise InvalidPolicyValue(f"{value!r} is not a string")


def context_text(value: Any) -> str | None:
    """A single context value as text, None when it has no text form."""
    if type(value) is str:
        return value
    return value_to_text(value) if not isinstance(value, list | tuple | set | frozenset) else None


@lru_cache(maxsize=16384)
def _equals(values: tuple[Any, ...]) -> Predicate:
    wanted = frozenset(policy_text(v) for v in values)

    def pred(value: Any) -> bool:
        return context_text(value) in wanted

    return pred


@lru_cache(maxsize=16384)
def _equals_ignore_case(values: tuple[Any, ...]) -> Predicate:
    wanted = frozenset(policy_text(v).lower() for v in values)

    def pred(value: Any) -> bool:
        text = context_text(value)
        return text is not None and text.lower() in wanted

    return pred


@lru_cache(maxsize=16384)
def _like(values: tuple[Any, ...]) -> Predicate:
    texts = [policy_text(v) for v in values]
    if not any(is_glob(t) for t in texts):
        return _equals(tuple(texts))
    if "*" in texts:
        return lambda value: context_text(value) is not None
    exact = frozenset(t for t in texts if not is_glob(t))
    globs = tuple(compile_glob(t, case_sensitive=True).matches for t in dict.fromkeys(texts) if is_glob(t))

    def pred(value: Any) -> bool:
        text = value if type(value) is str else context_text(value)
        if text is None:
            return False
        if text in exact:
            return True
        for matches in globs:
            if matches(text):
                return True
        return False

    return pred


OPERATORS = operators(
    Operator("StringEquals", "string", False, True, False, _equals),
    Operator("StringNotEquals", "string", True, True, False, _equals),
    Operator("StringEqualsIgnoreCase", "string", False, True, False, _equals_ignore_case),
    Operator("StringNotEqualsIgnoreCase", "string", True, True, False, _equals_ignore_case),
    Operator("StringLike", "string", False, True, True, _like),
    Operator("StringNotLike", "string", True, True, True, _like),
)
