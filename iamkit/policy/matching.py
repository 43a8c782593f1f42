"""IAM wildcard matching: actions, resource ARNs and ``ArnLike`` condition values.

IAM globs know two wildcards: ``*`` (any run of characters, possibly empty) and ``?`` (exactly one
character). Text that came from a policy variable must stay literal, so :func:`iamkit.policy.variables.substitute`
(with ``for_glob=True``) writes a literal ``*`` / ``?`` as the private-use characters :data:`LITERAL_STAR` /
:data:`LITERAL_QMARK`; :func:`compile_glob` turns them into an escaped, literal ``*`` / ``?``.
Use :func:`unescape_glob` to show such a pattern to a person.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = [
    "LITERAL_QMARK",
    "LITERAL_STAR",
    "action_matches",
    "arn_like",
    "arn_matches",
    "compile_glob",
    "glob_match",
    "is_glob",
    "split_arn",
    "unescape_glob",
]

LITERAL_STAR = "\ue000"
"""Stands for a literal ``*`` inside a glob pattern (not a wildcard)."""
LITERAL_QMARK = "\ue001"
"""Stands for a literal ``?`` inside a glob pattern (not a wildcard)."""

_TRANSLATE = {
    ord("*"): ".*",
    ord("?"): ".",
    ord(LITERAL_STAR): r"\*",
    ord(LITERAL_QMARK): r"\?",
}
_SPECIAL = frozenset("*?" + LITERAL_STAR + LITERAL_QMARK)
_UNESCAPE = {ord(LITERAL_STAR): "*", ord(LITERAL_QMARK): "?"}


def is_glob(pattern: str) -> bool:
    """True when ``pattern`` holds a wildcard or an escaped literal, i.e. plain equality will not do."""
    return not _SPECIAL.isdisjoint(pattern)


def unescape_glob(pattern: str) -> str:
    """The pattern as a person reads it: escaped literal ``*`` / ``?`` shown as the characters themselves."""
    return pattern.translate(_UNESCAPE)


@lru_cache(maxsize=65536)
def compile_glob(pattern: str, *, case_sensitive: bool) -> re.Pattern:
    """Compile an IAM glob to an anchored regex (use ``fullmatch``); cached because policies repeat patterns."""
    parts = []
    for ch in pattern:
        special = _TRANSLATE.get(ord(ch))
        parts.append(special if special is not None else re.escape(ch))
    body = "".join(parts)
    # collapse runs of ".*" produced by "**" so long patterns cannot backtrack badly
    while ".*.*" in body:
        body = body.replace(".*.*", ".*")
    flags = re.DOTALL if case_sensitive else re.DOTALL | re.IGNORECASE
    return re.compile(body, flags)


def glob_match(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """Whether ``value`` matches the IAM glob ``pattern`` as a whole (``*`` any run, ``?`` one character)."""
    if pattern == "*":
        return True
    if not is_glob(pattern):
        if case_sensitive:
            return pattern == value
        return pattern.lower() == value.lower()
    return compile_glob(pattern, case_sensitive=case_sensitive).fullmatch(value) is not None


def action_matches(pattern: str, action: str) -> bool:
    """Whether an Action/NotAction entry (``"s3:Get*"``, ``"*"``) covers ``action``; IAM compares actions ignoring case."""
    return glob_match(pattern, action, case_sensitive=False)


def split_arn(arn: str) -> tuple[str, str, str, str, str, str] | None:
    """The six parts of an ARN (``arn``, partition, service, region, account, resource) or None when it is not one.

    The resource part keeps any further colons (``log-group:x:log-stream:y``).
    """
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return parts[0], parts[1], parts[2], parts[3], parts[4], parts[5]


@lru_cache(maxsize=65536)
def _split_pattern(pattern: str) -> tuple[str, ...] | None:
    """Split an ARN pattern into its six parts; the first part may itself be a glob (``a*``) and still count."""
    parts = pattern.split(":", 5)
    if len(parts) != 6:
        return None
    if not glob_match(parts[0], "arn"):
        return None
    return tuple(parts)


def _parts_match(pparts: tuple[str, ...], vparts: list[str]) -> bool:
    for p, v in zip(pparts, vparts, strict=True):
        if p == v:
            continue
        if not is_glob(p) or not glob_match(p, v):
            return False
    return True


def arn_like(pattern: str, arn: str) -> bool:
    """``ArnLike`` / ``ArnEquals``: the six colon parts matched one by one, case-sensitive.

    Wildcards in the first five parts do not cross a ``:``; in the resource part they may. A bare ``"*"``
    matches any ARN; a pattern or value that is not a six-part ARN does not match.
    """
    if pattern == "*":
        return True
    pparts = _split_pattern(pattern)
    if pparts is None:
        return False
    vparts = arn.split(":", 5)
    return len(vparts) == 6 and _parts_match(pparts, vparts)


def arn_matches(pattern: str, arn: str) -> bool:
    """Resource / NotResource matching as IAM does it: case-sensitive, ``"*"`` matches anything.

    A six-part ARN pattern is matched part by part (as :func:`arn_like`), so ``arn:aws:s3:::bucket/*`` covers
    every key below ``bucket/`` (wildcards span ``/`` and, in the resource part, ``:``) but an account
    wildcard cannot eat into the resource part. Any other pattern is matched as one glob over the whole text.
    """
    if pattern == "*":
        return True
    if pattern == arn:
        return True
    pparts = _split_pattern(pattern)
    if pparts is not None:
        vparts = arn.split(":", 5)
        if len(vparts) == 6:
            return _parts_match(pparts, vparts)
    return glob_match(pattern, arn, case_sensitive=True)
