"""Numeric condition operators: NumericEquals, NumericNotEquals, NumericLessThan[Equals], NumericGreaterThan[Equals].

Integers and decimals, given as JSON numbers or strings; the context value is compared against each policy
value (``context < policy`` for LessThan). A value that is not a finite number never matches.
"""

from __future__ import annotations

import math
import operator as op
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from iamkit.policy.conditions.base import InvalidPolicyValue, Operator, Predicate, operators

_INT_RE = re.compile(r"^[+-]?\d+$")


def parse_number(value: Any) -> int | float | None:
    """``value`` as an int or float; None when it is not a finite number (booleans are not numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip()
        if "_" in text:  # Python accepts "1_000"; IAM does not
            return None
        if _INT_RE.match(text):
            return int(text)
        try:
            number = float(text)
        except ValueError:
            return None
        return number if math.isfinite(number) and any(c.isdigit() for c in text) else None
    return None


def _builder(compare: Callable[[Any, Any], bool]) -> Callable[[tuple[Any, ...]], Predicate]:
    @lru_cache(maxsize=8192)
    def prepare(values: tuple[Any, ...]) -> Predicate:
        numbers = []
        for v in values:
            n = parse_number(v)
            if n is None:
                raise InvalidPolicyValue(f"{v!r} is not a number")
            numbers.append(n)

        def pred(value: Any) -> bool:
            n = parse_number(value)
            return n is not None and any(compare(n, p) for p in numbers)

        return pred

    return prepare


_eq, _lt, _le, _gt, _ge = (_builder(f) for f in (op.eq, op.lt, op.le, op.gt, op.ge))

OPERATORS = operators(
    Operator("NumericEquals", "numeric", False, False, False, _eq),
    Operator("NumericNotEquals", "numeric", True, False, False, _eq),
    Operator("NumericLessThan", "numeric", False, False, False, _lt),
    Operator("NumericLessThanEquals", "numeric", False, False, False, _le),
    Operator("NumericGreaterThan", "numeric", False, False, False, _gt),
    Operator("NumericGreaterThanEquals", "numeric", False, False, False, _ge),
)
