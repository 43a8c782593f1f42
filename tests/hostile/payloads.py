"""Hostile strings as evidence carries them, and an HTML inspector to check what a rendering really contains.

The checks parse the output (``html.parser``) and compare the set of elements and attributes with what the
library emits for a harmless value: a substring test ("no '<script'") would miss ``<svg onload>``, an
``<a href>`` or an attribute that escaped its quotes.
"""

from __future__ import annotations

from html.parser import HTMLParser

LONG = "A" * 6000 + "<img src=x onerror=alert(1)>"

PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    '"><svg onload=alert(1)>',
    "'><iframe srcdoc='<script>alert(1)</script>'>",
    '<a href="http://evil.example/">click</a>',
    "[x](javascript:alert(1))",
    "![x](http://evil.example/x.png)",
    "<http://evil.example/autolink> www.evil.example http://evil.example/bare mail@evil.example",
    "</td></tr><tr><td>cell",
    "</code></pre></div></details><b>out</b>",
    "```\n<img src=x onerror=alert(1)>\n```",
    "<!-- c --><style>body{display:none}</style>",
    "&lt;img src=x onerror=alert(1)&gt; &amp;",
    "\\<img src=x onerror=alert(1)\\>",
    "| a | b |\n|---|---|\n| <img src=x> | c |",
    "# heading\n\n* item\n\n> quote",
    "$\\href{javascript:alert(1)}{x}$",
    "[bold red]x[/]",
    "[/]",
    "{{7*7}} ${7*7} <%= 7*7 %> %{text}<br>%{x}",
    "<b>bold</b><br><a href='javascript:alert(1)'>x</a><span style='color:red'>s</span>",
    "nul\x00bell\x07esc\x1b[31mred\x1b[0m cr\r",
    "rtl\u202eexe.txt\u2066iso\u200bzw",
    "lone\ud800surrogate",
    LONG,
]


# pandas' Arrow-backed strings refuse lone surrogates, so such a value never reaches a frame (nor the trail
# store: DuckDB rejects the file); the text helpers are tested with it, frame-based renderings without it.
FRAME_PAYLOADS = [p for p in PAYLOADS if not any("\ud800" <= c <= "\udfff" for c in p)]


def joined() -> str:
    """Every payload in one value (for fields that can take only one string)."""
    return " ".join(PAYLOADS)


class _Inspector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.comments: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def handle_comment(self, data):
        self.comments.append(data)


def inspect(html: str) -> _Inspector:
    p = _Inspector()
    p.feed(html)
    p.close()
    return p


def markup(html: str) -> set[tuple[str, str | None]]:
    """Every (element, attribute) pair in ``html`` (``(tag, None)`` for each element)."""
    out: set[tuple[str, str | None]] = set()
    for tag, attrs in inspect(html).elements:
        out.add((tag, None))
        out.update((tag, a) for a in attrs)
    return out


def text(html: str) -> str:
    """The text a reader sees (entities decoded)."""
    return "".join(inspect(html).text)


FORBIDDEN_TAGS = {
    "script",
    "img",
    "svg",
    "iframe",
    "frame",
    "object",
    "embed",
    "a",
    "link",
    "base",
    "form",
    "input",
    "button",
    "meta",
    "style",
    "math",
    "video",
    "audio",
    "source",
    "template",
    "textarea",
}
URL_ATTRIBUTES = {
    "href",
    "src",
    "srcset",
    "srcdoc",
    "action",
    "formaction",
    "xlink:href",
    "background",
    "poster",
    "data",
    "style",
}


# pandas writes this on the header row of every table it renders (the library's own, constant)
PANDAS_HEADER_STYLE = ("tr", "style", "text-align: right;")


def live(
    html: str, *, allowed: set[str] = frozenset(), own: set[tuple[str, str, str]] = frozenset({PANDAS_HEADER_STYLE})
) -> list[str]:
    """What in ``html`` could act: forbidden elements (unless ``allowed``), event handlers, URL and style
    attributes (unless ``own``: exact (tag, attribute, value) the library writes itself)."""
    found = []
    for tag, attrs in inspect(html).elements:
        if tag in FORBIDDEN_TAGS and tag not in allowed:
            found.append(f"<{tag}>")
        for a, v in attrs.items():
            if (a.startswith("on") or a in URL_ATTRIBUTES) and (tag, a, v) not in own:
                found.append(f"<{tag} {a}=…>")
    return found
