"""Every CloudTrail file shape loads completely or is listed with its reason: a hand-written sample of each
(``fixtures/shapes``: a pretty-printed single event, one compact event without ``Records``, data events,
a network-activity event, Insights events in ``Records`` and alone, a bare array, a digest file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import iamkit.trail as trail

SHAPES = Path(__file__).parent / "fixtures" / "shapes"
#: file -> (kind the classifier must say, where its records go)
EXPECTED = {
    "pretty_single_event.json": ("single", "events"),
    "one_event_compact.json": ("single", "events"),
    "data_events.json": ("records", "events"),
    "network_activity_event.json": ("single", "events"),
    "console_login_array.json": ("array", "events"),
    "insight_events.json": ("insights", "insights"),
    "single_insight_event.json": ("single", "insights"),
    "digest.json": ("digest", None),
}


def _records(path: Path) -> list[dict]:
    doc = json.loads(path.read_text())
    return doc["Records"] if isinstance(doc, dict) and "Records" in doc else doc if isinstance(doc, list) else [doc]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    db = tmp_path_factory.mktemp("shapes") / "t.duckdb"
    res = trail.load([SHAPES], db)
    with trail.open(db, read_only=True) as t:
        events = t.sql("SELECT * FROM events")
        insights = t.sql("SELECT * FROM insights")
        files = dict(t.sql("SELECT path, kind FROM loaded_files").values.tolist())
    return res, events, insights, files


def test_every_sample_is_known():
    assert sorted(p.name for p in SHAPES.glob("*.json")) == sorted(EXPECTED)


def test_each_shape_loads_completely_or_is_listed_with_its_reason(loaded):
    res, events, insights, files = loaded
    assert res.errors.empty and res.records_bad == 0 and res.files_failed == 0
    for name, (kind, table) in EXPECTED.items():
        path = str(SHAPES / name)
        assert files[path] == kind, name
        if table is None:
            continue
        want = {r["eventID"] for r in _records(SHAPES / name)}
        got = events if table == "events" else insights
        assert set(got.loc[got["source_file"] == path, "event_id"]) == want, name
    assert res.events_inserted == len(events) == 6 and res.insights_inserted == len(insights) == 3
    # the digest is not loaded as events: listed, with the reason
    assert res.skipped[["kind"]].values.tolist() == [["digest"]]
    assert Path(res.skipped["path"].iloc[0]).name == "digest.json" and "digest" in res.skipped["reason"].iloc[0]
    assert res.digests == 1


def test_fields_of_the_odd_shapes_are_read(loaded):
    _, events, insights, _ = loaded
    by_id = events.set_index("event_id")
    net = by_id.loc["shape-network-0001"]
    assert (net["event_type"], net["error_code"], net["recipient_account_id"], net["source_ip"]) == (
        "AwsVpceEvent",
        "VpceAccessDenied",
        "123456789012",
        "10.1.2.3",
    )
    pretty = by_id.loc["shape-pretty-0001"]
    assert (pretty["principal_arn"], pretty["access_key_id"], pretty["event_name"]) == (
        "arn:aws:iam::123456789012:user/Alice",
        "AKIAIOSFODNN7EXAMPLE",
        "CreateUser",
    )
    assert json.loads(pretty["request_parameters"]) == {"userName": "Bob"}
    data = by_id.loc["shape-data-0001"]
    assert bool(data["read_only"]) is True
    assert json.loads(data["resources"])[0]["ARN"] == "arn:aws:s3:::amzn-s3-demo-bucket/reports/q1.csv"
    compact = by_id.loc["shape-compact-0001"]
    assert compact["session_issuer_arn"] == "arn:aws:iam::123456789012:role/Dev"
    ins = insights.set_index("event_id")
    # an Insights record names its API inside insightDetails: kept in the insights table's columns
    assert ins.loc["shape-insight-0003", ["event_source", "event_name", "insight_type", "state"]].tolist() == [
        "iam.amazonaws.com",
        "DeleteUser",
        "ApiErrorRateInsight",
        "Start",
    ]
    assert ins.loc["shape-insight-0002", "state"] == "End"
