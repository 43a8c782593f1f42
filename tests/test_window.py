"""iamkit.window: the one time-window parser and renderer (ISO times, bare dates, spans, SQL, partitions)."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
import sqlglot
from hypothesis import given
from hypothesis import strategies as st

from iamkit.errors import BadInput
from iamkit.window import Window, parse_time

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 10, 12, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("since", "until", "start", "end"),
    [
        (
            "2026-03-01",
            "2026-03-01",
            dt.datetime(2026, 3, 1, tzinfo=UTC),
            dt.datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=UTC),
        ),  # a bare end date: that whole day
        (
            "2026-03-01T10:00:00Z",
            "2026-03-01T12:00:00+02:00",
            dt.datetime(2026, 3, 1, 10, tzinfo=UTC),
            dt.datetime(2026, 3, 1, 10, tzinfo=UTC),
        ),  # offsets converted to UTC
        ("2026-03-01T10:00:00", None, dt.datetime(2026, 3, 1, 10, tzinfo=UTC), None),  # naive: UTC; empty: open
        ("14d", "36h", NOW - dt.timedelta(days=14), NOW - dt.timedelta(hours=36)),  # spans back from now
        (" 90m ", "", NOW - dt.timedelta(minutes=90), None),
        (
            dt.date(2026, 3, 1),
            dt.date(2026, 3, 2),
            dt.datetime(2026, 3, 1, tzinfo=UTC),
            dt.datetime(2026, 3, 2, 23, 59, 59, 999999, tzinfo=UTC),
        ),
        (
            dt.timedelta(hours=1),
            dt.datetime(2026, 3, 10, 12, 0),
            NOW - dt.timedelta(hours=1),
            dt.datetime(2026, 3, 10, 12, 0, tzinfo=UTC),
        ),
        (None, None, None, None),
    ],
)
def test_parse_every_form(since, until, start, end):
    w = Window.parse(since, until, now=NOW)
    assert (w.start, w.end) == (start, end)


def test_empty_sides_are_explicit():
    assert Window.parse(None, None, now=NOW).open
    w = Window.parse(None, None, now=NOW, end_now=True, default_span=dt.timedelta(days=30))
    assert (w.start, w.end) == (NOW - dt.timedelta(days=30), NOW) and w.bounded
    w = Window.parse(None, "2026-03-01", now=NOW, default_span=dt.timedelta(days=1))
    assert w.start == dt.datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=UTC) - dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("since", "until", "words"),
    [
        ("yesterday", None, "--since 'yesterday': not an ISO date/time nor a span"),
        (None, "soon", "--until 'soon'"),
        ("2026-02-30", None, "not a calendar date"),
        ("2026-03-02", "2026-03-01", "--since 2026-03-02T00:00:00.000Z is after --until 2026-03-01T23:59:59.999Z"),
        ("x" * 5000, None, "…"),
    ],
)
def test_bad_input_is_one_line_naming_the_flag(since, until, words):
    with pytest.raises(BadInput) as e:
        Window.parse(since, until, now=NOW)
    assert words in str(e.value) and "\n" not in str(e.value) and len(str(e.value)) < 200


def test_either_a_window_or_its_ends():
    w = Window.parse("2026-03-01", "2026-03-02")
    assert Window.either(w) is w and Window.either(None, "2026-03-01", "2026-03-02") == w
    assert Window.either(("2026-03-01", "2026-03-02")) == w
    with pytest.raises(BadInput, match="not both"):
        Window.either(w, "2026-03-01")


@pytest.mark.parametrize("dialect", ["duckdb", "trino"])
def test_where_renders_and_keeps_exactly_the_window(dialect):
    w = Window.parse("2026-03-01T10:00:00Z", "2026-03-01")
    sql = w.where(dialect, "t")
    sqlglot.parse_one(f"SELECT 1 FROM x WHERE {sql}", read=dialect)
    assert Window().where(dialect) is None
    if dialect == "duckdb":  # run it: the edges are in, a microsecond outside is out
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        times = [
            "2026-03-01 09:59:59.999999+00",
            "2026-03-01 10:00:00+00",
            "2026-03-01 23:59:59.999999+00",
            "2026-03-02 00:00:00+00",
        ]
        kept = con.execute(
            f"SELECT count(*) FROM (SELECT unnest($1)::TIMESTAMPTZ AS t) WHERE {sql}", [times]
        ).fetchone()[0]
        assert kept == 2
    else:
        assert sql == (
            "t >= from_iso8601_timestamp('2026-03-01T10:00:00.000Z') AND "
            "t <= from_iso8601_timestamp('2026-03-01T23:59:59.999Z')"
        )


def test_days_yield_partitions_with_a_day_of_margin():
    w = Window.parse("2026-02-28T23:00:00Z", "2026-03-01")
    assert [f"{d:%Y/%m/%d}" for d in w.days()] == ["2026/02/27", "2026/02/28", "2026/03/01", "2026/03/02"]
    assert Window.parse("2026-03-01", None).day_range() == (dt.date(2026, 2, 28), None)
    with pytest.raises(BadInput, match="open window"):
        list(Window.parse("2026-03-01", None).days())


@given(
    start=st.dates(dt.date(2020, 1, 1), dt.date(2026, 12, 31)),
    span=st.integers(0, 400),
    probe=st.dates(dt.date(2019, 6, 1), dt.date(2027, 12, 31)),
)
def test_day_ok_never_drops_a_day_the_window_needs(start, span, probe):
    end = start + dt.timedelta(days=span)
    w = Window.parse(start, end)
    inside = start - dt.timedelta(days=1) <= probe <= end + dt.timedelta(days=1)
    assert w.day_ok(probe.year, probe.month, probe.day) == inside == (probe in set(w.days()))
    if inside:
        assert w.day_ok(probe.year, probe.month) and w.day_ok(probe.year)


def test_parse_time_and_the_window_type_guard():
    assert parse_time("2026-03-01", end=True) == dt.datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=UTC)
    assert parse_time("   ") is None
    with pytest.raises(TypeError, match="aware datetime"):
        Window(dt.datetime(2026, 1, 1))  # naive datetimes only through parse
    assert str(Window.parse("2026-03-01", None)) == "2026-03-01T00:00:00.000Z to now"


def test_every_layer_uses_this_parser():
    """The entra ``--since``, the investigation window and the playbook check all read the same forms."""
    from iamkit.entra.queries import parse_since
    from iamkit.investigate.access_key import _window

    assert parse_since("7d", now=NOW) == Window.parse("7d", None, now=NOW).start
    assert parse_since(None, now=NOW) == NOW - dt.timedelta(days=14)
    s, e = _window("2026-03-01", "2026-03-01")
    assert (s, e) == (Window.parse("2026-03-01", "2026-03-01").start, Window.parse("2026-03-01", "2026-03-01").end)
    with pytest.raises(BadInput, match="not before"):
        _window("2026-03-01T10:00:00Z", "2026-03-01T10:00:00Z")
