"""ARN condition operators: ArnEquals, ArnLike, ArnNotEquals, ArnNotLike (ArnEquals behaves as ArnLike).

Each of the six colon parts is matched separately, case-sensitive, with ``*`` / ``?`` wildcards
(:func:`iamkit.policy.matching.arn_like`). A policy value that is not an ARN makes the condition not match.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from iamkit.policy.conditions.base import InvalidPolicyValue, Operator, Predicate, operators
from iamkit.policy.conditions.string import context_text, policy_text
from iamkit.policy.matching import _split_pattern, arn_like, unescape_glob


@lru_cache(maxsize=16384)
def _arn_like(values: tuple[Any, ...]) -> Predicate:
    patterns = []
    for v in values:
        text = policy_text(v)
        if text != "*" and _split_pattern(text) is None:
            raise InvalidPolicyValue(
                f"{unescape_glob(text)!r} is not an ARN (arn:partition:service:region:account:resource)"
            )
        patterns.append(text)
    if "*" in patterns:
        return lambda value: context_text(value) is not None

    def pred(value: Any) -> bool:
        text = context_text(value)
        return text is not None and any(arn_like(p, text) for p in patterns)

    return pred


OPERATORS = operators(
    Operator("ArnEquals", "arn", False, True, True, _arn_like),
    Operator("ArnLike", "arn", False, True, True, _arn_like),
    Operator("ArnNotEquals", "arn", True, True, True, _arn_like),
    Operator("ArnNotLike", "arn", True, True, True, _arn_like),
)
