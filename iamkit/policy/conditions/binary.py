"""The BinaryEquals condition operator: base64 policy values compared byte for byte with the context value.

The context value may be ``bytes`` or base64 text (as request contexts carry it).
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from typing import Any

from iamkit.policy.conditions.base import InvalidPolicyValue, Operator, Predicate, operators


def decode_base64(text: Any) -> bytes | None:
    """Strict base64 decode; None when ``text`` is not base64."""
    if not isinstance(text, str):
        return None
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


@lru_cache(maxsize=1024)
def _binary_equals(values: tuple[Any, ...]) -> Predicate:
    wanted = set()
    for v in values:
        decoded = decode_base64(v)
        if decoded is None:
            raise InvalidPolicyValue(f"{v!r} is not base64")
        wanted.add(decoded)
    frozen = frozenset(wanted)

    def pred(value: Any) -> bool:
        raw = bytes(value) if isinstance(value, bytes | bytearray | memoryview) else decode_base64(value)
        return raw is not None and raw in frozen

    return pred


OPERATORS = operators(Operator("BinaryEquals", "binary", False, False, False, _binary_equals))
