"""What became of a CloudTrail call: succeeded, denied (an AccessDenied-class error code) or failed otherwise.

The one definition of "denied" (reports, facts, detections, timelines): a code containing ``AccessDenied`` or
``Unauthorized`` in any case (AccessDenied, AccessDeniedException, Client.UnauthorizedOperation,
UnauthorizedAccess…) or one of ``DENIED_EXACT`` (SNS's AuthorizationError, bare HTTP refusals). Throttling,
NoSuch*, *NotFound, validation and limit errors are failures, not denials: the call was authorized.
"""

from __future__ import annotations

from typing import Any

DENIED_PARTS = ("accessdenied", "unauthorized")
DENIED_EXACT = frozenset({"AuthorizationError", "AuthorizationErrorException", "Forbidden", "403"})

SUCCEEDED, DENIED, FAILED = "succeeded", "denied", "failed"


def _code(code: Any) -> str:
    if code is None or (isinstance(code, float) and code != code):  # None, NaN, pd.NA's float form
        return ""
    try:
        return "" if code != code else str(code)  # pd.NA raises on bool(); NaN != NaN
    except TypeError:
        return ""


def is_denied(code: Any) -> bool:
    """Is ``code`` (a CloudTrail errorCode, or None) an AccessDenied-class refusal?"""
    text = _code(code)
    if not text:
        return False
    low = text.lower()
    return text in DENIED_EXACT or any(p in low for p in DENIED_PARTS)


def outcome(code: Any) -> str:
    """``succeeded`` (no error code), ``denied`` (``is_denied``) or ``failed`` (any other error)."""
    if not _code(code):
        return SUCCEEDED
    return DENIED if is_denied(code) else FAILED


def denied_sql(column: str = "error_code") -> str:
    """SQL (DuckDB and Trino) true for the rows whose ``column`` is an AccessDenied-class code."""
    exact = ", ".join("'" + c + "'" for c in sorted(DENIED_EXACT))
    parts = " OR ".join(f"strpos(lower({column}), '{p}') > 0" for p in DENIED_PARTS)
    return f"({column} IN ({exact}) OR {parts})"
