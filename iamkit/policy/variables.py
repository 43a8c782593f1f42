"""Policy variables (``${aws:username}``, ``${aws:PrincipalTag/team, 'default'}``) and the request context.

AWS substitutes policy variables in the Resource element and in string / ARN condition values. A variable
whose key is absent from the request context (and has no default) makes that element not match, so
:func:`substitute` returns ``None`` then. The escapes ``${*}``, ``${?}`` and ``${$}`` stand for a literal
``*``, ``?`` and ``$``.

Glob scheme: with ``for_glob=True`` every character that came from a context value or an escape is literal,
so a literal ``*`` / ``?`` is written as :data:`iamkit.policy.matching.LITERAL_STAR` /
:data:`~iamkit.policy.matching.LITERAL_QMARK` (:func:`iamkit.policy.matching.literal_glob`), which
:func:`iamkit.policy.matching.compile_glob` and :func:`~iamkit.policy.matching.glob_match` treat as the
literal character. Wildcards written in the policy text itself stay wildcards.

Context keys are case-insensitive: :func:`as_context` builds a :class:`RequestContext` (keys lower-cased,
done once per request) and :func:`context_get` looks a key up in one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from iamkit.errors import PolicyError
from iamkit.policy.matching import LITERAL_QMARK, LITERAL_STAR, literal_glob

__all__ = [
    "RequestContext",
    "VariableError",
    "as_context",
    "context_get",
    "has_variables",
    "referenced_keys",
    "substitute",
    "value_to_text",
]


class VariableError(PolicyError):
    """A policy variable is written wrongly (empty name, default without quotes, unclosed ``${``)."""


class RequestContext(dict):
    """Request context with lower-cased keys, so lookups ignore case as IAM does. Build with :func:`as_context`."""

    __slots__ = ()


def as_context(context: Mapping[str, Any] | None) -> RequestContext:
    """The context as a :class:`RequestContext` (returned unchanged when it already is one)."""
    if isinstance(context, RequestContext):
        return context
    ctx = RequestContext()
    if context:
        for key, value in context.items():
            ctx[str(key).lower()] = value
    return ctx


_MISSING = object()


def context_get(context: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """Look ``key`` up ignoring case; ``default`` when absent."""
    if isinstance(context, RequestContext):
        return context.get(key.lower(), default)
    value = context.get(key, _MISSING)
    if value is not _MISSING:
        return value
    lowered = key.lower()
    for k, v in context.items():
        if str(k).lower() == lowered:
            return v
    return default


def value_to_text(value: Any) -> str | None:
    """A single context value as IAM's text form (booleans ``true``/``false``); None for a multi-valued one."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        if len(items) != 1:
            return None  # AWS does not allow multivalued keys as policy variables
        return value_to_text(items[0])
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        text = value.isoformat()
        return text.replace("+00:00", "Z")
    return str(value)


_VAR_RE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT_RE = re.compile(r"^\s*([^,]*?)\s*,\s*'([^']*)'\s*$")
_ESCAPES = {"*": ("*", LITERAL_STAR), "?": ("?", LITERAL_QMARK), "$": ("$", "$")}

# A template is a tuple of segments: str (literal policy text) or (kind, key_lower, default, raw) where kind is
# "var" or "esc" (for an escape, key_lower holds the escape character).
_Segment = str | tuple[str, str, str | None, str]


def has_variables(text: str) -> bool:
    """Whether ``text`` holds a ``${…}`` policy variable or escape (cheap; no parsing)."""
    return "${" in text


@lru_cache(maxsize=32768)
def _parse(text: str) -> tuple[_Segment, ...]:
    """Split ``text`` into literal runs and variables; raise :class:`VariableError` on a malformed one."""
    segments: list[_Segment] = []
    pos = 0
    for m in _VAR_RE.finditer(text):
        if m.start() > pos:
            segments.append(text[pos : m.start()])
        inner = m.group(1)
        stripped = inner.strip()
        if stripped in _ESCAPES:
            segments.append(("esc", stripped, None, m.group(0)))
        elif not stripped:
            raise VariableError(f"empty policy variable '${{}}' in {text!r}")
        elif "," in inner:
            dm = _DEFAULT_RE.match(inner)
            if dm is None or not dm.group(1):
                raise VariableError(
                    f"policy variable {m.group(0)!r} in {text!r}: a default must be written ${{key, 'value'}}"
                )
            segments.append(("var", dm.group(1).lower(), dm.group(2), m.group(0)))
        else:
            segments.append(("var", stripped.lower(), None, m.group(0)))
        pos = m.end()
    rest = text[pos:]
    if "${" in rest:
        raise VariableError(f"unclosed policy variable '${{' in {text!r}")
    if rest:
        segments.append(rest)
    return tuple(segments)


def referenced_keys(text: str, *, keep_case: bool = False) -> list[str]:
    """Context keys the variables in ``text`` refer to, in order, without escapes; lower-cased unless keep_case."""
    if not has_variables(text):
        return []
    keys = []
    for seg in _parse(text):
        if isinstance(seg, tuple) and seg[0] == "var":
            keys.append(seg[1] if not keep_case else seg[3][2:-1].split(",", 1)[0].strip())
    return keys


def substitute(text: str, context: Mapping[str, Any], *, for_glob: bool) -> str | None:
    """Replace the policy variables in ``text`` from ``context``; None when a key is missing with no default.

    With ``for_glob=True`` substituted text is escaped (see the module doc) so it matches literally.
    Raises :class:`VariableError` for a malformed variable.
    """
    if "${" not in text:
        return text
    out: list[str] = []
    for seg in _parse(text):
        if isinstance(seg, str):
            out.append(seg)
            continue
        kind, key, default, _raw = seg
        if kind == "esc":
            plain, globbed = _ESCAPES[key]
            out.append(globbed if for_glob else plain)
            continue
        raw = context_get(context, key, None)
        value = value_to_text(raw) if raw is not None else None
        if value is None:
            if default is None:
                return None
            value = default
        out.append(literal_glob(value) if for_glob else value)
    return "".join(out)
