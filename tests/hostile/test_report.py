"""The report is safe by construction: a crafted case folder (summary, case.yaml, evidence tables, executed
notebooks with hostile outputs of every kind) renders with nothing live, under a strict CSP."""

from __future__ import annotations

import base64
import json

import nbformat
import pandas as pd
import pytest
from payloads import FRAME_PAYLOADS, PANDAS_HEADER_STYLE, PAYLOADS, inspect, joined, live, markup, text

from iamkit import escape, report
from iamkit.case import Case

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src 'none'; base-uri 'none'; form-action 'none'"
)
# what the report itself writes around the sanitized notebooks
REPORT_TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "h1",
    "h2",
    "h3",
    "p",
    "code",
    "ul",
    "li",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "details",
    "summary",
    "div",
    "em",
    "figure",
    "figcaption",
    "img",
    "strong",
}
# what a report figure (an SVG in an <img> data URI) may hold: drawing elements only, no links, scripts or styles
SVG_TAGS = {"svg", "g", "rect", "path", "circle", "line", "text"}
SVG_ATTRIBUTES = {
    "xmlns",
    "width",
    "height",
    "viewbox",
    "font-family",
    "font-size",
    "font-weight",
    "x",
    "y",
    "x1",
    "y1",
    "x2",
    "y2",
    "cx",
    "cy",
    "r",
    "d",
    "fill",
    "fill-opacity",
    "fill-rule",
    "stroke",
    "stroke-width",
    "stroke-dasharray",
    "opacity",
    "text-anchor",
}


def check_figures(body: str) -> set[tuple[str, str, str]]:
    """Each <img> is one of the report's figures: an SVG data URI holding drawing elements only. Returns them as
    the report's own (tag, attribute, value) triples for ``live``."""
    own = set()
    for tag, attrs in inspect(body).elements:
        if tag != "img":
            continue
        assert set(attrs) == {"src", "alt"}, attrs
        assert attrs["src"].startswith("data:image/svg+xml;base64,"), attrs["src"][:60]
        svg = base64.b64decode(attrs["src"].split(",", 1)[1]).decode("utf-8")
        parsed = inspect(svg)
        assert {t for t, _ in parsed.elements} <= SVG_TAGS, {t for t, _ in parsed.elements} - SVG_TAGS
        assert {a for _, at in parsed.elements for a in at} <= SVG_ATTRIBUTES
        assert not live(svg, allowed={"svg"}) and not parsed.comments
        own.add(("img", "src", attrs["src"]))
    return own


def check_report(page: str) -> None:
    """The report's invariants: CSP first in <head>, one <style>, nothing live in <body>, known elements only."""
    head, body = page.split("<body>", 1)
    metas = [attrs for tag, attrs in inspect(head).elements if tag == "meta"]
    assert metas == [
        {"charset": "utf-8"},
        {"http-equiv": "Content-Security-Policy", "content": CSP},
        {"name": "referrer", "content": "no-referrer"},
    ]
    assert [t for t, _ in inspect(head).elements] == ["html", "head", "meta", "meta", "meta", "title", "style"]
    assert "script-src" not in CSP and "default-src 'none'" in CSP
    own = check_figures(body)
    assert not live(body, allowed={"img"}, own=own | {PANDAS_HEADER_STYLE}), live(body)[:10]
    tags = {t for t, _ in markup(page)}
    assert tags <= REPORT_TAGS | report.NOTEBOOK_TAGS, tags - REPORT_TAGS - report.NOTEBOOK_TAGS
    attrs = {(t, a) for t, a in markup(body) if a}
    assert attrs <= {
        ("p", "class"),
        ("ul", "class"),
        ("div", "class"),
        ("h2", "id"),
        ("table", "class"),
        ("tr", "style"),
        ("th", "colspan"),
        ("td", "colspan"),
        ("th", "rowspan"),
        ("td", "rowspan"),
        ("ol", "start"),
        ("td", "class"),
        ("img", "src"),
        ("img", "alt"),
    }, attrs
    assert not inspect(page).comments


def _in_frame(value: str) -> str:
    return value if value in FRAME_PAYLOADS else "surrogates never reach a frame"


def _notebook(value: str) -> nbformat.NotebookNode:
    """An executed notebook as a crafted case folder could hold it: ``value`` in every kind of output."""
    v4 = nbformat.v4
    nb = v4.new_notebook()
    nb.cells = [
        v4.new_markdown_cell(f"# {value}\n\n{value}"),
        v4.new_code_cell(
            "x",
            outputs=[
                v4.new_output("display_data", data={"text/markdown": value, "text/plain": value}),
                v4.new_output("display_data", data={"text/html": value, "text/plain": value}),
                v4.new_output(
                    "display_data",
                    data={"text/html": pd.DataFrame({_in_frame(value): [_in_frame(value)]})._repr_html_()},
                ),
                v4.new_output(
                    "display_data", data={"image/svg+xml": f"<svg onload=alert(1)><text>{value}</text></svg>"}
                ),
                v4.new_output("display_data", data={"application/javascript": f"alert({json.dumps(value)})"}),
                v4.new_output("display_data", data={"text/latex": f"$\\href{{javascript:alert(1)}}{{{value}}}$"}),
                v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": value}),
                v4.new_output("execute_result", data={"text/plain": value}, execution_count=1),
                v4.new_output("stream", name="stdout", text=value),
                v4.new_output("error", ename=value, evalue=value, traceback=[value, "\x1b[31m" + value]),
            ],
        ),
    ]
    return nb


def _case(tmp_path, value: str) -> Case:
    case = Case.create(
        tmp_path,
        "compromised-access-key",
        {"access_key_id": value},
        analyst=value,
        caller_identity={"Arn": value},
        case_id="case",
    )
    frame_value = _in_frame(value)
    rows = [{"step": 1, "time": value, "source_ip": value, value: value, "target": value}]
    case.save_json(
        "summary",
        {
            "title": value,
            "headline": [value, value],
            "who": {"arn": value, value: value, "chain": [value]},
            "what": rows,
            "when": {"first_seen": value},
            "from_where": [value, {"ip": value}],
            "blast_radius": {"accounts": [value], "created_users": [value]},
            "proposed_actions": [{"step": 1, "action": value, "target": value, "reason": value}],
            "tables": {"key-events": value, "../../outside": "must not be read", value: value},
        },
    )
    case.save_frame("key-events", pd.DataFrame([{"user_agent": frame_value, frame_value: frame_value}]))
    raw = json.dumps(_notebook(value))  # ASCII with \u escapes, as a crafted file may be (lone surrogates too)
    (case.path / "notebooks" / "01-enrichment.ipynb").write_text(raw)
    name = "x" if "/" in value or "\x00" in value or "\ud800" in value else value[:80]
    (case.path / "notebooks" / f"{name}.ipynb").write_text(raw)
    return case


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_report_of_a_crafted_case_has_nothing_live(tmp_path, payload):
    page = report.render(_case(tmp_path, payload))
    check_report(page)
    seen = " ".join(text(page).split())
    shown = " ".join(escape.visible(payload).split())
    assert seen.count(shown) >= 10, "the evidence must still be shown, as text"


def test_every_payload_at_once_and_the_file_is_written(tmp_path):
    case = _case(tmp_path, joined())
    path = report.build(case)
    page = path.read_text(encoding="utf-8")
    check_report(page)
    assert "⟨U+D800⟩" in page and "⟨U+202E⟩" in page and "\u202e" not in page


def test_sanitizer_keeps_tables_and_text_only():
    dirty = (
        '<div class="headline" style="position:fixed" onclick="x()"><table><tr><td colspan="2" '
        'onmouseover="x()">c</td></tr></table><a href="http://evil.example/">link text</a>'
        '<img src="data:image/png;base64,AAAA"><script>alert(1)</script><style>*{}</style>'
        '<p>para<!-- hidden --></p><form action="http://evil.example"><input name=q></form></div>'
    )
    out = report.sanitize(dirty)
    assert markup(out) == {
        ("div", None),
        ("table", None),
        ("tbody", None),
        ("tr", None),
        ("td", None),
        ("td", "colspan"),
        ("p", None),
    }
    assert text(out) == "clink textpara"


def test_regression_markdown_output_with_an_image_handler_was_live(tmp_path):
    """Old report: nbconvert passed text/markdown and text/html outputs through; only <script> was removed."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "x",
            outputs=[
                nbformat.v4.new_output(
                    "display_data", data={"text/markdown": "<img src=x onerror=alert(1)> [x](javascript:alert(1))"}
                )
            ],
        )
    ]
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, str(path))
    out = report._notebook_html(path)
    assert not live(out)
    assert "[x](javascript:alert(1))" not in out and "x" in text(out)


def test_a_summary_cannot_pull_in_files_outside_the_evidence_folder(tmp_path):
    case = _case(tmp_path, "v")
    pd.DataFrame([{"secret": "OUTSIDE-THE-CASE"}]).to_parquet(tmp_path / "outside.parquet")
    (case.evidence / "sub").mkdir()
    assert "OUTSIDE-THE-CASE" not in report.render(case)
