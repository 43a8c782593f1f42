"""Section text for notebooks: evidence is escaped by default, library Markdown is opt-in.

A section's text is either a plain ``str``, shown as text (every character literal: no Markdown, no HTML,
no links), or ``Markup``, Markdown the library wrote. ``md(template, *values)`` is the way to mix the two:
the template is library Markdown and every value is escaped (a ``Markup`` value is kept as it is, so
helpers compose). ``Markup("…")`` directly is for constant library text only, never for a value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from iamkit.escape import visible


class Markup(str):
    """Markdown written by the library (trusted). ``Markup + str`` is a plain ``str`` again, hence escaped."""

    __slots__ = ()


# HTML-active characters become entities (Markdown decodes them to text); every other ASCII punctuation
# character is backslash-escaped (CommonMark lets any of them be), which also stops GFM's bare-URL and
# e-mail autolinks, math delimiters ($) and tables (|). Line breaks become spaces: a value stays inline.
_MD = str.maketrans(
    {
        **{c: "\\" + c for c in "!#$%()*+,-./:;=?@[\\]^_`{|}~"},
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "'": "&#x27;",
        "\n": " ",
        "\t": " ",
    }
)


def md_escape(value: Any) -> str:
    """``value`` as Markdown that renders to exactly its text (``visible``), inline, with nothing live."""
    if isinstance(value, Markup):
        return value
    return visible(value).translate(_MD)


def md(template: str, *values: Any, **named: Any) -> Markup:
    """Library Markdown ``template`` (``str.format`` fields) with each value escaped by ``md_escape``."""
    return Markup(template.format(*(md_escape(v) for v in values), **{k: md_escape(v) for k, v in named.items()}))


def code(value: Any) -> Markup:
    """``value`` in a monospace inline span, escaped like any other value."""
    return Markup(f"<code>{md_escape(value)}</code>")


def bullets(lines: Iterable[Any]) -> Markup:
    """A Markdown list, one escaped item per line."""
    return Markup("\n".join(f"- {md_escape(line)}" for line in lines))


_TICKS = re.compile(r"`+")


def code_block(text: Any, language: str = "") -> Markup:
    """A fenced code block (contents are literal in Markdown): the fence is longer than any run of
    backticks in ``text``, so nothing in it can close the block early."""
    body = visible(text)
    fence = "`" * max(3, 1 + max((len(m.group()) for m in _TICKS.finditer(body)), default=0))
    return Markup(f"{fence}{language}\n{body}\n{fence}")


def as_markdown(thing: Any) -> Markup:
    """What ``show`` hands to ``IPython.display.Markdown``: ``Markup`` as it is, anything else escaped."""
    return thing if isinstance(thing, Markup) else Markup(md_escape(thing))
