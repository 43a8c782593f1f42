"""Date condition operators: DateEquals, DateNotEquals, DateLessThan[Equals], DateGreaterThan[Equals].

Values are ISO-8601 (``2026-01-01``, ``2026-01-01T12:00:00Z``, with offset or fraction) or epoch seconds;
both sides become UTC instants, so ``aws:EpochTime`` compares with an ISO policy value and vice versa.
"""

from __future__ import annotations

import operator as op
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from iamkit.policy.conditions.base import InvalidPolicyValue, Operator, Predicate, operators

_EPOCH_RE = re.compile(r"^[+-]?\d+(\.\d+)?$")


@lru_cache(maxsize=16384)
def _parse_text(text: str) -> float | None:
    text = text.strip()
    if _EPOCH_RE.match(text):
        return float(text)
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "zZ" and text else text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def parse_date(value: Any) -> float | None:
    """``value`` (ISO text, epoch seconds, datetime or date) as UTC epoch seconds; None when unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
    if isinstance(value, str) and value:
        return _parse_text(value)
    return None


def _builder(compare: Callable[[Any, Any], bool]) -> Callable[[tuple[Any, ...]], Predicate]:
    @lru_cache(maxsize=8192)
    def prepare(values: tuple[Any, ...]) -> Predicate:
        instants = []
        for v in values:
            t = parse_date(v)
            if t is None:
                raise InvalidPolicyValue(f"{v!r} is not a date (ISO-8601 or epoch seconds)")
            instants.append(t)

        def pred(value: Any) -> bool:
            t = parse_date(value)
            return t is not None and any(compare(t, p) for p in instants)

        return pred

    return prepare


_eq, _lt, _le, _gt, _ge = (_builder(f) for f in (op.eq, op.lt, op.le, op.gt, op.ge))

OPERATORS = operators(
    Operator("DateEquals", "date", False, False, False, _eq),
    Operator("DateNotEquals", "date", True, False, False, _eq),
    Operator("DateLessThan", "date", False, False, False, _lt),
    Operator("DateLessThanEquals", "date", False, False, False, _le),
    Operator("DateGreaterThan", "date", False, False, False, _gt),
    Operator("DateGreaterThanEquals", "date", False, False, False, _ge),
)
