"""Evidence is never live HTML in notebooks: the escaping helpers, ``show()`` over every section producer,
the timeline figure and widget, with every hostile payload. Each rendering is parsed and its elements and
attributes compared with what the same code emits for a harmless value."""

from __future__ import annotations

import html
import sys
import unicodedata

import pandas as pd
import pytest
from payloads import FRAME_PAYLOADS, PAYLOADS, live, markup, text

from iamkit import escape
from iamkit.ui.text import Markup, as_markdown, bullets, code, code_block, md, md_escape

BENIGN = "value"


def _renderers():
    """Markdown as nbconvert renders it into the report (mistune) and as CommonMark defines it (markdown-it)."""
    from markdown_it import MarkdownIt
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    return {
        "mistune": markdown2html_mistune,
        "commonmark": MarkdownIt("commonmark").enable("table").enable("strikethrough").render,
    }


RENDERERS = _renderers()


def _inline(value: str) -> str:
    """What a reader must see for ``value`` shown inline: every character, invisible ones made visible."""
    return " ".join(escape.visible(value).replace("\n", " ").replace("\t", " ").split())


# ------------------------------------------------------------------------------------------ escape helpers
def test_invisible_characters_are_exactly_unicode_controls_formats_and_surrogates():
    """The written-out class matches the running Python's Unicode data (an update must extend it)."""
    missing, extra = [], []
    for cp in range(sys.maxunicode + 1):
        c = chr(cp)
        cat = unicodedata.category(c)
        want = cat in ("Cc", "Cf", "Cs") and c not in "\t\n"
        got = escape.visible(c) != c
        if want and not got:
            missing.append(f"U+{cp:04X}")
        elif got and not want and cat != "Cn":  # newer Unicode may assign what this Python has unassigned
            extra.append(f"U+{cp:04X}")
    assert not missing and not extra, (missing[:20], extra[:20])


def test_visible_shows_what_would_hide_or_reorder_text():
    assert escape.visible("a\x00b\x1b[31m\u202ec\ud800") == "a⟨U+0000⟩b⟨U+001B⟩[31m⟨U+202E⟩c⟨U+D800⟩"
    assert escape.visible("tab\tand\nnewline stay") == "tab\tand\nnewline stay"
    assert escape.visible(None) == "" and escape.visible(12) == "12"
    assert escape.html('<a href="x">\'&') == "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;"


@pytest.mark.parametrize("renderer", sorted(RENDERERS))
@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_md_escape_renders_to_exactly_the_text(payload, renderer):
    out = RENDERERS[renderer](md_escape(payload))
    assert markup(out) == {("p", None)}, out[:300]
    assert " ".join(text(out).split()) == _inline(payload)


@pytest.mark.parametrize("renderer", sorted(RENDERERS))
def test_helpers_keep_library_markdown_and_escape_values(renderer):
    render = RENDERERS[renderer]
    for payload in PAYLOADS:
        out = render(md("**{}** in {}", payload, code(payload)))
        assert markup(out) == {("p", None), ("strong", None), ("code", None)}, out[:300]
        assert " ".join(text(out).split()) == f"{_inline(payload)} in {_inline(payload)}"
        out = render(bullets([payload, "second"]))
        assert markup(out) == {("ul", None), ("li", None)}
        assert [" ".join(x.split()) for x in text(out).strip().split("\n") if x.strip()] == [_inline(payload), "second"]
        out = render(code_block(f"line one\n{payload}\nlast"))
        assert {t for t, _ in markup(out)} <= {"pre", "code", "div", "span"}, out[:300]
        assert text(out).strip("\n") == escape.visible(f"line one\n{payload}\nlast")


def test_a_plain_string_is_text_and_only_markup_is_markdown():
    assert as_markdown("**x**") == "\\*\\*x\\*\\*"
    assert as_markdown(Markup("**x**")) == "**x**"
    assert not isinstance(Markup("a") + "<b>", Markup), "concatenating a value must drop the trust"
    assert md("{}", Markup("*kept*")) == "*kept*"


# ----------------------------------------------------------------------------------------- show() + sections
def _events(v: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "event_time": pd.Timestamp("2026-01-02T03:04:05Z"),
                "depth": 0,
                "access_key_id": v,
                "event_source": v,
                "event_name": v,
                "recipient_account_id": v,
                "source_ip": v,
                "user_agent": v,
                "error_code": v,
                v: v,
            }
        ]
    )


def _results(v: str) -> list:
    """Every section producer of the investigation, with ``v`` in each field that comes from evidence."""
    from iamkit.investigate.access_key import KeyTrace, Loaded, Owner
    from iamkit.investigate.containment import PlanView
    from iamkit.investigate.postmortem import Postmortem
    from iamkit.investigate.reach import Reach
    from iamkit.respond.plan import Action, Plan
    from iamkit.ui.timeline import TimelineExplorer

    ev = _events(v)
    errors = pd.DataFrame([{"operation": v, "code": v, "message": v}])
    plan = Plan(
        v,
        [
            Action("quarantine_user", v, v, {}, v, [v]),
            Action("deactivate_access_key", v, v, {"access_key_id": v, "user_name": v}, v),
            Action("detach_user_policy", v, v, {"policy_arn": v}, v),
        ],
        before=[{"inline_policies": [v]}, {"status": v}, {"attached_policies": [v]}],
    )
    return [
        Loaded(v, v, v, {"events_inserted": 3, "files_loaded": 1}, errors),
        KeyTrace(v, {"arn": v, "name": v, v: v}, ev, ev, {}, [v, f"Persistence: created user(s) {v}"]),
        Owner(v, ev, ev, ev, [v]),
        Reach(ev, ev, {"accounts": [v], "created_users": [v, v], "assumed_roles": []}, [v]),
        PlanView(plan, v),
        Postmortem(
            {"title": v, "headline": [v, v], "proposed_actions": [{"step": 1, "action": v, "target": v, "reason": v}]},
            ev,
        ),
        TimelineExplorer(ev, title=v),
    ]


def _shown(result, monkeypatch) -> list:
    """What ``show(result)`` displays, in order."""
    import IPython.display

    from iamkit.ui import show

    out: list = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: out.extend(objs))
    show(result)
    return out


def _html_of(obj) -> dict[str, str]:
    """Each way an object becomes HTML in a notebook or the report (Markdown: both renderers)."""
    from IPython.display import Markdown

    if isinstance(obj, Markdown):
        return {name: r(obj.data) for name, r in RENDERERS.items()}
    if isinstance(obj, pd.DataFrame):
        return {"pandas": obj._repr_html_()}
    return {}


@pytest.mark.parametrize("payload", FRAME_PAYLOADS, ids=range(len(FRAME_PAYLOADS)))
def test_show_emits_the_same_elements_for_hostile_values_as_for_harmless_ones(payload, monkeypatch):
    for hostile, benign in zip(_results(payload), _results(BENIGN), strict=True):
        got, want = _shown(hostile, monkeypatch), _shown(benign, monkeypatch)
        assert [type(x) for x in got] == [type(x) for x in want], type(hostile).__name__
        for g, w in zip(got, want, strict=True):
            for how, page in _html_of(g).items():
                expected = _html_of(w)[how]
                assert markup(page) == markup(expected), (type(hostile).__name__, how, page[:400])
                assert live(page) == live(expected), (type(hostile).__name__, how, page[:400])  # heading anchors


def test_show_puts_the_values_on_screen_as_text(monkeypatch):
    """Escaping must not lose evidence: every section's text shows the value, character for character."""
    from IPython.display import Markdown

    payload = PAYLOADS[0] + " " + PAYLOADS[5] + " " + PAYLOADS[17]
    shown = [x for r in _results(payload) for x in _shown(r, monkeypatch) if isinstance(x, Markdown)]
    for render in RENDERERS.values():
        texts = [" ".join(text(render(m.data)).split()) for m in shown]
        assert sum(_inline(payload) in t for t in texts) >= 8, texts


def test_markdown_shown_for_a_section_is_escaped_in_the_notebook_output(monkeypatch):
    """Regression: ``show`` used to hand section text to ``Markdown`` as it was (raw HTML stayed live)."""
    from IPython.display import Markdown

    from iamkit.investigate.access_key import KeyTrace

    r = KeyTrace("AKIAEXAMPLE000000001", {}, pd.DataFrame(), _events("x"), {}, [PAYLOADS[0]])
    md_out = [x.data for x in _shown(r, monkeypatch) if isinstance(x, Markdown)]
    assert "<img" not in "".join(md_out)
    assert any("&lt;img src\\=x onerror\\=alert\\(1\\)&gt;" in m for m in md_out)


# ---------------------------------------------------------------------------------------- figures + widget
def _plotly_strings(fig) -> list[str]:
    """Every string plotly renders as (pseudo-)HTML: trace names, text, hover text, category ticks, title."""
    out = [fig.layout.title.text or ""]
    for t in fig.data:
        out.append(t.name or "")
        for attr in ("text", "hovertext", "y"):
            vals = getattr(t, attr, None)
            if vals is None:
                continue
            out += [str(x) for x in ([vals] if isinstance(vals, str) else vals) if isinstance(x, str)]
    return out


@pytest.mark.parametrize("payload", FRAME_PAYLOADS, ids=range(len(FRAME_PAYLOADS)))
def test_timeline_figure_labels_are_escaped(payload):
    from iamkit.ui.timeline import figure

    # one denied call (an AccessDenied-class code: only those are marked denied) and one that succeeded
    ev = pd.concat(
        [_events(payload).assign(error_code="AccessDenied"), _events(payload).assign(error_code=None)],
        ignore_index=True,
    )
    fig = figure(ev, title=payload)
    strings = _plotly_strings(fig)
    assert not [s for s in strings if "<" in s or ">" in s], "plotly would read these tags"
    # the lane (source IP) and the hover text name the hostile value, shown as text
    visible = escape.visible(payload)
    assert any(visible in html.unescape(s) for s in strings)
    assert html.unescape(fig.layout.title.text) == visible


@pytest.mark.parametrize("payload", FRAME_PAYLOADS, ids=range(len(FRAME_PAYLOADS)))
def test_timeline_widget_table_and_dropdown_are_escaped(payload):
    from iamkit.ui.timeline import TimelineExplorer

    def parts(v):
        box = TimelineExplorer(
            pd.concat([_events(v), _events(v).assign(event_source="other")], ignore_index=True)
        ).widget()
        return box.children

    pick, table = parts(payload)
    _, benign = parts(BENIGN)
    assert markup(table.value) == markup(benign.value) and live(table.value) == live(benign.value)
    shown = escape.visible(payload).replace("\n", "\\n").replace("\t", "\\t")  # pandas writes line breaks as \n
    assert shown in text(table.value)
    labels = [label for label, _ in pick.options]
    assert labels[0] == "(all)" and sorted(labels[1:]) == sorted(["other", escape.visible(payload)])
    pick.value = payload  # the filter still matches the raw value
    assert text(table.value).count("other") == 0 and shown in text(table.value)


@pytest.mark.parametrize("payload", FRAME_PAYLOADS, ids=range(len(FRAME_PAYLOADS)))
def test_privesc_figure_labels_are_escaped(payload):
    """Principal names come from IAM and policies: the graph's labels and hover text are escaped."""
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "assess"))
    from assesstest import ALLOW_ALL, Builder, allow, doc, trust

    from iamkit.assess.privesc import build_graph
    from iamkit.assess.privesc.figure import figure

    b = Builder()
    name = payload.replace("/", "∕")  # a name cannot hold "/" (the ARN's path separator)
    admin = b.role(f"admin-{name}", trust({"Service": "lambda.amazonaws.com"}), policies=(doc(ALLOW_ALL),))
    user = b.user(
        name, policies=(doc(allow(["lambda:CreateFunction", "lambda:InvokeFunction"]), allow("iam:PassRole", "*")),)
    )
    fig = figure(build_graph(b.inventory()))
    strings = _plotly_strings(fig)
    assert not [s for s in strings if "<" in s or ">" in s], "plotly would read these tags"
    hover = {html.unescape(x) for t in fig.data if t.hovertext is not None for x in t.hovertext}
    assert {escape.visible(user), escape.visible(admin)} <= hover
    labels = {html.unescape(x) for t in fig.data if t.name == "user" for x in t.text}
    assert labels == {escape.visible(name)}
