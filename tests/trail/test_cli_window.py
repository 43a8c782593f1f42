"""One window spelling across `iamkit trail …`: --since/--until (ISO, date or span) on every command that takes
a window; the old --start/--end still work, hidden, with a one-line notice."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from ctrecords import incident_records, write_records_file

from iamkit.cli import main

WINDOWED = [
    ["load"],
    ["timeline", "AKIAEXAMPLE000000001"],
    ["trace", "AKIAEXAMPLE000000001"],
    ["hunt"],
    ["sql", "SELECT 1"],
    ["athena-query", "SELECT 1", "--database", "db"],
]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(["trail", *argv])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


@pytest.mark.parametrize("cmd", WINDOWED, ids=lambda c: c[0])
def test_every_windowed_command_takes_since_and_until_and_hides_the_old_names(capsys, cmd):
    code, out, _ = run(capsys, cmd[0], "--help")
    assert code == 0 and "--since" in out and "--until" in out
    assert "--start " not in out and "--end " not in out


@pytest.fixture
def logs(tmp_path):
    recs = incident_records()
    path = write_records_file(tmp_path / "a.json.gz", recs)
    return path, recs


def _loaded(capsys, path, db, *flags: str) -> tuple[dict, str]:
    code, out, err = run(capsys, "load", str(path), "--db", str(db), "--format", "json", *flags)
    assert code == 0, err
    return json.loads(out)[0], err


def test_load_window_old_and_new_spellings_load_the_same(capsys, logs, tmp_path):
    path, recs = logs
    inside = sum("2024-03-01T10:00:00Z" <= r["eventTime"] <= "2024-03-01T10:10:00Z" for r in recs)
    new, err_new = _loaded(
        capsys, path, tmp_path / "new.duckdb", "--since", "2024-03-01T10:00:00Z", "--until", "2024-03-01T10:10:00Z"
    )
    old, err_old = _loaded(
        capsys, path, tmp_path / "old.duckdb", "--start", "2024-03-01T10:00:00Z", "--end", "2024-03-01T10:10:00Z"
    )
    assert new["events_inserted"] == old["events_inserted"] == inside > 0
    assert "deprecated" not in err_new
    notes = [ln for ln in err_old.splitlines() if "deprecated" in ln]
    assert notes == [
        "note: --start is deprecated, use --since (same values)",
        "note: --end is deprecated, use --until (same values)",
    ]


def test_a_span_back_from_now_is_a_window(capsys, logs, tmp_path):
    path, recs = logs  # the incident is in 2024: a 14-day span from now keeps none of it
    got, _ = _loaded(capsys, path, tmp_path / "t.duckdb", "--since", "14d")
    assert got["events_inserted"] == 0 and got["records_read"] == len(recs)
    days = (dt.datetime.now(dt.UTC) - dt.datetime(2024, 2, 1, tzinfo=dt.UTC)).days
    got, _ = _loaded(capsys, path, tmp_path / "t2.duckdb", "--since", f"{days}d")
    assert got["events_inserted"] == len(recs)


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--since", "2024-03-01", "--start", "2024-03-01"], "--start is the old spelling of --since"),
        (["--until", "2024-03-01", "--end", "2024-03-01"], "--end is the old spelling of --until"),
        (["--since", "yesterday"], "--since 'yesterday': not an ISO date/time nor a span"),
        (["--start", "yesterday"], "--start 'yesterday'"),
        (["--since", "2024-03-02", "--until", "2024-03-01"], "--since 2024-03-02T00:00:00.000Z is after --until"),
    ],
)
def test_window_mistakes_are_one_line_and_exit_2(capsys, logs, tmp_path, flags, words):
    path, _ = logs
    code, _, err = run(capsys, "load", str(path), "--db", str(tmp_path / "t.duckdb"), *flags)
    assert code == 2 and words in err


def test_timeline_and_trace_take_the_window(capsys, logs, tmp_path):
    path, recs = logs
    db = tmp_path / "t.duckdb"
    _loaded(capsys, path, db)
    key = next(r["userIdentity"]["accessKeyId"] for r in recs if r["userIdentity"].get("accessKeyId"))
    times = sorted(r["eventTime"] for r in recs if r["userIdentity"].get("accessKeyId") == key)
    cut = times[len(times) // 2]
    code, out, err = run(capsys, "timeline", key, "--db", str(db), "--format", "json")
    every = json.loads(out)
    code, out, err = run(capsys, "timeline", key, "--db", str(db), "--format", "json", "--until", cut)
    early = json.loads(out)
    assert code == 0 and 0 < len(early) < len(every) and all(r["event_time"] <= cut for r in early)
    code, out, err = run(capsys, "timeline", key, "--db", str(db), "--format", "json", "--end", cut)
    assert code == 0 and json.loads(out) == early and "--end is deprecated" in err
    code, out, err = run(capsys, "trace", key, "--db", str(db), "--format", "json", "--since", cut)
    late = json.loads(out)
    assert code == 0 and late and all(r["event_time"] >= cut for r in late)


def test_sql_window_bounds_every_read_of_events(capsys, logs, tmp_path):
    path, recs = logs
    db = tmp_path / "t.duckdb"
    _loaded(capsys, path, db)
    q = "SELECT count(*) AS n FROM events e JOIN (SELECT event_id FROM events) x USING (event_id)"
    code, out, err = run(
        capsys,
        "sql",
        q,
        "--db",
        str(db),
        "--format",
        "json",
        "--since",
        "2024-03-01T10:00:00Z",
        "--until",
        "2024-03-01T10:10:00Z",
    )
    assert code == 0, err
    assert json.loads(out) == [
        {"n": sum("2024-03-01T10:00:00Z" <= r["eventTime"] <= "2024-03-01T10:10:00Z" for r in recs)}
    ]
