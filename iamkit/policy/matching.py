"""IAM wildcard matching: actions, resource ARNs, principals and ``StringLike`` / ``ArnLike`` condition values.

IAM globs know two wildcards: ``*`` (any run of characters, possibly empty) and ``?`` (exactly one
character). Text that came from a policy variable must stay literal, so :func:`iamkit.policy.variables.substitute`
(with ``for_glob=True``) passes it through :func:`literal_glob`, which writes a literal ``*`` / ``?`` as the
private-use characters :data:`LITERAL_STAR` / :data:`LITERAL_QMARK` and puts :data:`LITERAL_NEXT` before any of
those three characters the text itself holds; :func:`compile_glob` reads them back as literals.
Use :func:`unescape_glob` to show such a pattern to a person.

Patterns are hostile (a planted policy can hold ``*?*?*?…Z``), so matching never backtracks: the pattern is
split on ``*`` into fixed-length segments; the first must match at the start, the last at the end, and the
middle ones are placed greedily leftmost (which is exact for globs). A segment without ``?`` is a plain
``str.startswith`` / ``endswith`` / ``find``; one with ``?`` is a quantifier-free regex (literals and ``.``),
which cannot backtrack. The worst case is O(len(pattern) × len(value)), never exponential.
Case-insensitive matching lower-cases pattern and value (each once) and then matches case-sensitively.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

__all__ = [
    "LITERAL_NEXT",
    "LITERAL_QMARK",
    "LITERAL_STAR",
    "Glob",
    "action_matches",
    "arn_like",
    "arn_matches",
    "compile_glob",
    "glob_match",
    "is_glob",
    "literal_glob",
    "split_arn",
    "unescape_glob",
]

LITERAL_STAR = "\ue000"
"""Stands for a literal ``*`` inside a glob pattern (not a wildcard)."""
LITERAL_QMARK = "\ue001"
"""Stands for a literal ``?`` inside a glob pattern (not a wildcard)."""
LITERAL_NEXT = "\ue002"
"""Makes the marker character after it (:data:`LITERAL_STAR`, :data:`LITERAL_QMARK`, itself) stand for itself."""

_MARKERS = LITERAL_STAR + LITERAL_QMARK + LITERAL_NEXT
_SPECIAL = frozenset("*?" + _MARKERS)
_UNESCAPE = {ord(LITERAL_STAR): "*", ord(LITERAL_QMARK): "?"}
_LITERAL = {ord("*"): LITERAL_STAR, ord("?"): LITERAL_QMARK, **{ord(c): LITERAL_NEXT + c for c in _MARKERS}}
_ESCAPED_MARKER = re.compile(f"{LITERAL_NEXT}([{_MARKERS}])|[{LITERAL_STAR}{LITERAL_QMARK}]")


def is_glob(pattern: str) -> bool:
    """True when ``pattern`` holds a wildcard or an escaped literal, i.e. plain equality will not do."""
    return not _SPECIAL.isdisjoint(pattern)


def literal_glob(text: str) -> str:
    """``text`` as a glob that matches exactly ``text``: its ``*`` / ``?`` (and any marker character) literal."""
    return text.translate(_LITERAL)


def unescape_glob(pattern: str) -> str:
    """The pattern as a person reads it: escaped literal ``*`` / ``?`` shown as the characters themselves."""
    if LITERAL_NEXT not in pattern:
        return pattern.translate(_UNESCAPE)
    return _ESCAPED_MARKER.sub(lambda m: m.group(1) or _UNESCAPE[ord(m.group(0))], pattern)


# A segment is the text between two wildcard stars: plain text, a fixed-length regex when it holds a '?' and
# literals, or None when it is only '?'s (any characters: nothing to search for).
_Segment = str | re.Pattern | None


def _segment(text: str) -> tuple[_Segment, int]:
    """The segment's matcher and the number of value characters it covers."""
    if "?" not in text:
        plain = unescape_glob(text)
        return plain, len(plain)
    if text.count("?") == len(text):
        return None, len(text)
    parts = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "?":
            parts.append(".")
        elif ch == LITERAL_NEXT and i + 1 < n and text[i + 1] in _MARKERS:
            i += 1
            parts.append(re.escape(text[i]))
        else:
            parts.append(re.escape(_UNESCAPE.get(ord(ch), ch)))
        i += 1
    return re.compile("".join(parts), re.DOTALL), len(parts)


def _middle(pieces: list[str]) -> tuple[tuple[_Segment, int], ...]:
    """The segments between the first and last star; runs of '?'-only ones merged (``*?*?*`` is ``*??*``)."""
    out: list[tuple[_Segment, int]] = []
    for piece in pieces:
        if not piece:
            continue
        seg, size = _segment(piece)
        if seg is None and out and out[-1][0] is None:
            out[-1] = (None, out[-1][1] + size)
        else:
            out.append((seg, size))
    return tuple(out)


def _matcher(pattern: str) -> Callable[[str], bool]:
    """A case-sensitive whole-value matcher for one glob, specialised to the pattern's shape."""
    pieces = pattern.split("*")
    if len(pieces) == 1:  # no star: the value has the pattern's length
        seg, size = _segment(pattern)
        if seg is None:
            return lambda value: len(value) == size
        if type(seg) is str:
            return lambda value: value == seg
        return lambda value: seg.fullmatch(value) is not None
    (first, head), (last, tail) = _segment(pieces[0]), _segment(pieces[-1])
    middle = _middle(pieces[1:-1])
    need = head + tail + sum(n for _, n in middle)
    if not middle and type(first) is str and type(last) is str:  # "prefix*suffix", the common shape
        if not tail:
            return (lambda value: value.startswith(first)) if head else (lambda value: True)
        if not head:
            return lambda value: value.endswith(last)
        return lambda value: len(value) >= need and value.startswith(first) and value.endswith(last)
    first_text, last_text = type(first) is str, type(last) is str  # else a regex, or None ('?' only)

    def match(value: str) -> bool:
        n = len(value)
        if n < need:
            return False
        if first_text:
            if not value.startswith(first):
                return False
        elif first is not None and first.match(value) is None:
            return False
        end = n - tail
        if last_text:
            if not value.endswith(last):
                return False
        elif last is not None and last.match(value, end) is None:
            return False
        pos = head
        for seg, size in middle:  # leftmost placement; each search is bounded by [pos, end)
            if seg is None:
                i = pos if pos + size <= end else -1
            elif type(seg) is str:
                i = value.find(seg, pos, end)
            else:
                m = seg.search(value, pos, end)
                i = -1 if m is None else m.start()
            if i < 0:
                return False
            pos = i + size
        return True

    return match


class Glob:
    """A compiled IAM glob; ``matches(value)`` tells whether the whole value matches, in bounded time."""

    __slots__ = ("case_sensitive", "matches", "pattern")

    def __init__(self, pattern: str, *, case_sensitive: bool):
        self.pattern = pattern
        self.case_sensitive = case_sensitive
        if case_sensitive:
            self.matches: Callable[[str], bool] = _matcher(pattern)
        else:
            inner = _matcher(pattern.lower())
            self.matches = lambda value: inner(value.lower())

    def __repr__(self) -> str:
        return f"Glob({unescape_glob(self.pattern)!r}, case_sensitive={self.case_sensitive})"


def compile_glob(pattern: str, *, case_sensitive: bool) -> Glob:
    """Compile an IAM glob to a :class:`Glob` (whole-value matching); cached because policies repeat patterns."""
    return _compiled(pattern, case_sensitive)


@lru_cache(maxsize=65536)
def _compiled(pattern: str, case_sensitive: bool) -> Glob:  # positional: the cheapest cache key
    return Glob(pattern, case_sensitive=case_sensitive)


def glob_match(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """Whether ``value`` matches the IAM glob ``pattern`` as a whole (``*`` any run, ``?`` one character)."""
    if pattern == "*":
        return True
    if not is_glob(pattern):
        if case_sensitive:
            return pattern == value
        return pattern.lower() == value.lower()
    return _compiled(pattern, case_sensitive).matches(value)


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


# ---- one pattern against another (requests that name many resources: "*", "arn:aws:s3:::bucket/*") --------------
_STAR, _ONE = object(), object()


@lru_cache(maxsize=16384)
def _tokens(pattern: str) -> tuple:
    """The glob as a tuple of tokens: ``_STAR``, ``_ONE`` (``?``) or one literal character (escapes resolved)."""
    out: list = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if not out or out[-1] is not _STAR:  # "**" is "*"
                out.append(_STAR)
        elif ch == "?":
            out.append(_ONE)
        elif ch == LITERAL_NEXT and i + 1 < n and pattern[i + 1] in _MARKERS:
            i += 1
            out.append(pattern[i])
        else:
            out.append(_UNESCAPE.get(ord(ch), ch))
        i += 1
    return tuple(out)


def _glob_intersects(a: tuple, b: tuple) -> bool:
    """Whether some text matches both token sequences: reachability over (position in a, position in b), so at
    most len(a) x len(b) states, each visited once."""
    n, m = len(a), len(b)
    seen = {(0, 0)}
    todo = [(0, 0)]
    while todo:
        i, j = todo.pop()
        if i == n and j == m:
            return True
        ta = a[i] if i < n else None
        tb = b[j] if j < m else None
        nexts = []
        if ta is _STAR:
            nexts.append((i + 1, j))  # the star matches nothing more
        if tb is _STAR:
            nexts.append((i, j + 1))
        if ta is not None and tb is not None and (ta is _STAR or tb is _STAR or ta is _ONE or tb is _ONE or ta == tb):
            # one character both accept: a star stays where it is, anything else moves on
            step = (i if ta is _STAR else i + 1, j if tb is _STAR else j + 1)
            if step != (i, j):
                nexts.append(step)
        for s in nexts:
            if s not in seen:
                seen.add(s)
                todo.append(s)
    return False


def _glob_covers(a: tuple, b: tuple) -> bool:
    """Whether every text matching ``b`` matches ``a`` (sufficient test: ``b``'s stars may only be absorbed by
    ``a``'s stars, its ``?`` by ``a``'s ``?`` or stars); bounded by len(a) x len(b) states."""
    n, m = len(a), len(b)
    seen = {(0, 0)}
    todo = [(0, 0)]
    while todo:
        i, j = todo.pop()
        if i == n and j == m:
            return True
        nexts = []
        if i < n:
            ta = a[i]
            if ta is _STAR:
                nexts.append((i + 1, j))
                if j < m:
                    nexts.append((i, j + 1))
            elif j < m:
                tb = b[j]
                if tb is not _STAR and (ta is _ONE or (tb is not _ONE and ta == tb)):
                    nexts.append((i + 1, j + 1))
        for s in nexts:
            if s not in seen:
                seen.add(s)
                todo.append(s)
    return False


def _pattern_pairs(pattern: str, request: str) -> list[tuple[str, str]] | None:
    """The parts to compare: the six ARN parts one by one when both are ARNs, else the two whole texts."""
    pparts = _split_pattern(pattern)
    rparts = _split_pattern(request) if pparts is not None else None
    if pparts is not None and rparts is not None:
        return list(zip(pparts, rparts, strict=True))
    return None


@lru_cache(maxsize=65536)
def pattern_intersects(pattern: str, request: str) -> bool:
    """Whether some resource matches both the policy's ``pattern`` and the request's ``request`` pattern
    (``arn:aws:s3:::*/AWSLogs/*`` and ``arn:aws:s3:::example-bucket/*`` share ``example-bucket/AWSLogs/x``)."""
    if pattern == "*" or request == "*":
        return True
    pairs = _pattern_pairs(pattern, request) or [(pattern, request)]
    return all(p == r or _glob_intersects(_tokens(p), _tokens(r)) for p, r in pairs)


@lru_cache(maxsize=65536)
def pattern_covers(pattern: str, request: str) -> bool:
    """Whether the policy's ``pattern`` matches every resource the request's ``request`` pattern can name."""
    if pattern == "*" or pattern == request:
        return True
    if request == "*":
        return all(t is _STAR for t in _tokens(pattern))
    pairs = _pattern_pairs(pattern, request) or [(pattern, request)]
    return all(p == r or _glob_covers(_tokens(p), _tokens(r)) for p, r in pairs)
