"""Evidence values as display text: one place that decides how a hostile string is shown.

Evidence (trail records, policies, Graph pages, case folders) may carry markup, control characters or bidi
overrides. ``visible`` makes the invisible ones visible (``⟨U+202E⟩``), so a terminal, a table cell or a
hover label shows what the record holds rather than what it would do; ``html`` also escapes it for HTML
(reports, widgets, plotly labels, which read ``<b>``, ``<br>``, ``<a>`` as markup). Pure, linear time.
"""

from __future__ import annotations

import html as _html
import re
from typing import Any

# Unicode categories Cc (controls, except tab and newline), Cf (format: bidi overrides and isolates,
# zero-width characters, tags) and Cs (lone surrogates, which cannot even be written as UTF-8).
# Written out (Unicode 15.1) so importing costs nothing; tests/test_hostile_render.py checks it against
# the running Python's unicodedata.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e"
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ud800-\udfff\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f]"
)


def _codepoint(m: re.Match[str]) -> str:
    return f"⟨U+{ord(m.group()):04X}⟩"


def visible(value: Any) -> str:
    """``value`` as text (``None`` → ``""``) with control, format and surrogate characters shown as
    ``⟨U+XXXX⟩``; tab and newline are kept (each context decides what a line break is)."""
    text = "" if value is None else value if isinstance(value, str) else str(value)
    return _INVISIBLE.sub(_codepoint, text)


def html(value: Any) -> str:
    """``value`` as HTML text: ``visible`` then every ``& < > " '`` escaped (safe in elements and quoted
    attributes, and in plotly text, which decodes entities only after it has split out its tags)."""
    return _html.escape(visible(value), quote=True)


def visible_frame(df: Any) -> Any:
    """A copy of a DataFrame whose text cells and labels went through ``visible`` (for display only;
    pandas' HTML escapes the rest)."""
    import pandas as pd

    out = df.copy()
    for i in range(out.shape[1]):
        col = out.iloc[:, i]
        if col.dtype == object or isinstance(col.dtype, pd.StringDtype):
            out.isetitem(i, col.map(lambda v: visible(v) if isinstance(v, str) else v))
    out.columns = [visible(c) if isinstance(c, str) else c for c in out.columns]
    if out.index.dtype == object or isinstance(out.index.dtype, pd.StringDtype):
        out.index = [visible(i) if isinstance(i, str) else i for i in out.index]
    return out


def frame_html(df: Any, **to_html: Any) -> str:
    """A DataFrame as an HTML table with every cell and label escaped (``visible`` first)."""
    opts = {"index": False, "border": 0, "na_rep": "", **to_html, "escape": True}
    return visible_frame(df).to_html(**opts)
