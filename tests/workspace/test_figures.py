"""Figures from evidence: the right lanes, colours and window; binning past MAX_POINTS; SVG that is inert and
shows hostile values as text; the events pager against pandas' own answer at 100,000 rows."""

from __future__ import annotations

import html
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from iamkit import escape
from iamkit.ui import figures as F
from iamkit.ui.svg import to_svg

sys.path.insert(0, str(Path(__file__).parents[1] / "hostile"))
from payloads import FRAME_PAYLOADS  # noqa: E402

NEW, USUAL = "203.0.113.30", "198.51.100.21"
FACTS = {
    "window": {"start": "2026-12-05T07:00:00Z", "end": "2026-12-05T07:40:00Z"},
    "sources": {
        "new_ips": [NEW],
        "usual_ips": [USUAL],
        "via_aws_services": ["secretsmanager.amazonaws.com"],
        "ip_context": {NEW: {"country": "KP", "asn": 64500}},
    },
}


def events(n_usual=5, n_new=4) -> pd.DataFrame:
    t0 = pd.Timestamp("2026-12-01T08:00:00Z")
    rows = [
        {
            "event_time": t0 + pd.Timedelta(days=i % 3, minutes=i),
            "source_ip": USUAL,
            "error_code": None,
            "event_name": "ListBuckets",
        }
        for i in range(n_usual)
    ]
    t1 = pd.Timestamp("2026-12-05T07:05:00Z")
    rows += [
        {
            "event_time": t1 + pd.Timedelta(minutes=i),
            "source_ip": NEW,
            "error_code": "AccessDenied" if i % 2 else None,
            "event_name": "CreateUser",
        }
        for i in range(n_new)
    ]
    return pd.DataFrame(rows)


def test_timeline_lanes_colours_outcomes_and_the_window():
    fig = F.activity_timeline(events(), FACTS)
    lanes = list(fig.layout.yaxis.categoryarray)
    assert html.unescape(lanes[-1]).startswith(f"{NEW} (KP, AS64500) · new")  # new IPs on top
    by_name = {html.unescape(t.name): t for t in fig.data}
    assert set(by_name) == {"new IP · succeeded", "new IP · denied", "usual IP · succeeded"}
    assert by_name["new IP · denied"].marker.symbol == "x" and by_name["new IP · denied"].marker.color == "#d62728"
    assert len(by_name["new IP · denied"].x) == 2 and len(by_name["usual IP · succeeded"].x) == 5
    (shape,) = fig.layout.shapes
    assert pd.Timestamp(shape.x0) == pd.Timestamp(FACTS["window"]["start"])
    lo, hi = (pd.Timestamp(x) for x in fig.layout.xaxis.range)
    assert lo < pd.Timestamp(FACTS["window"]["start"]) and hi > pd.Timestamp(FACTS["window"]["end"])
    assert hi - lo < pd.Timedelta(hours=1), "zoomed on the 40-minute window, not the whole 4 days"


def test_past_max_points_the_timeline_bins_and_uses_webgl_and_keeps_every_call():
    fig = F.activity_timeline(events(n_usual=6000, n_new=3000), FACTS, max_points=5000)
    assert {t.type for t in fig.data} == {"scattergl"}
    total = sum(int(s.split(" calls")[0]) for t in fig.data for s in t.text)
    assert total == 9000
    assert sum(len(t.x) for t in fig.data) < 4000
    assert "binned" in fig.layout.title.text


def test_sources_over_time_and_the_map_place_the_new_ip():
    fig = F.sources_over_time(events(), FACTS)
    counts = {html.unescape(t.name).split(" ")[0]: int(sum(t.y)) for t in fig.data}
    assert counts == {USUAL: 5, NEW: 4}
    m = F.ip_map(events(), FACTS)
    placed = [html.unescape(t.text[0]) for t in m.data if t.mode == "markers+text"]
    assert placed == ["KP · 4 calls"] and "no country for 1 source" in m.layout.title.text


@pytest.mark.parametrize("payload", FRAME_PAYLOADS, ids=range(len(FRAME_PAYLOADS)))
def test_svg_is_inert_and_shows_hostile_values_as_text(payload):
    ev = events().assign(source_ip=[USUAL] * 5 + [payload] * 4, event_name=payload)
    facts = {**FACTS, "sources": {**FACTS["sources"], "new_ips": [payload]}}
    for fig in (F.activity_timeline(ev, facts), F.sources_over_time(ev, facts), F.ip_map(ev, facts)):
        svg = to_svg(fig)
        root = ET.fromstring(svg)  # well-formed XML: nothing escaped its text
        tags = {el.tag.split("}")[-1] for el in root.iter()}
        assert tags <= {"svg", "g", "rect", "path", "circle", "line", "text"}, tags
        assert not [a for el in root.iter() for a in el.attrib if a.startswith("on") or "href" in a]
    texts = " ".join(el.text or "" for el in ET.fromstring(to_svg(F.activity_timeline(ev, facts))).iter())
    shown = " ".join(escape.visible(payload).replace("\n", " ").replace("\t", " ").split())[:20]
    assert shown in " ".join(texts.split()), "the value is shown, as text"


def test_pager_matches_pandas_at_100k_rows_and_only_a_page_is_rendered():
    from iamkit.ui.widgets import EventsBrowser, FramePager

    n = 100_000
    df = pd.DataFrame(
        {
            "event_time": pd.date_range("2026-01-01", periods=n, freq="s", tz="UTC"),
            "source_ip": [f"10.0.{i % 250}.{i % 7}" for i in range(n)],
            "event_name": [("GetObject", "PutObject", "ListBuckets")[i % 3] for i in range(n)],
        }
    )
    pager = FramePager(df)
    page, total = pager.page(
        3,
        25,
        sort="source_ip",
        ascending=False,
        contains="putobject",
        columns=["event_time", "source_ip", "event_name"],
    )
    want = df[df["event_name"] == "PutObject"].sort_values("source_ip", ascending=False, kind="stable")
    assert total == len(want) == 33_333
    pd.testing.assert_frame_equal(page, want.iloc[75:100][["event_time", "source_ip", "event_name"]])
    clicked = []
    browser = EventsBrowser(df, on_pivot=clicked.append, page_size=25)
    box = browser.widget()
    grid = box.children[-1]
    assert len(grid.children) == 26  # a header and one page of rows, whatever the frame's size
    entity = next(c for row in grid.children[1:] for c in row.children if "iamkit-entity" in c._dom_classes)
    entity.click()
    assert clicked == [df.iloc[0]["source_ip"]]
