"""The events table: schema, row extraction from raw records, dedupe, insights routing, Trail queries, cache."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest
from ctrecords import ALICE, DEV, LEAKED, PROD_ROLE, SESSION_ARN, SESSION_KEY, iam_user, rec, role_session

import iamkit.trail as trail
from iamkit import frames
from iamkit.trail import columns, store
from iamkit.window import Window


def test_schema_columns_follow_the_frame_contract(store_con):
    cols = store_con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'events' ORDER BY ordinal_position"
    ).fetchall()
    assert [c for c, _ in cols] == [*columns.FRAME_COLUMNS, "source_file"]
    types = dict(cols)
    assert types["event_time"] == "TIMESTAMP WITH TIME ZONE"
    assert types["read_only"] == types["mfa_authenticated"] == "BOOLEAN"
    assert all(types[c] == "JSON" for c in trail.JSON_COLUMNS)


def test_create_schema_is_idempotent(store_con):
    store.create_schema(store_con)
    tables = {r[0] for r in store_con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"events", "insights", "loaded_files", "load_errors"} <= tables


def test_identity_fields_of_an_assumed_role_session(store_con):
    r = rec(
        "GetSecretValue",
        "secretsmanager.amazonaws.com",
        role_session(SESSION_ARN, PROD_ROLE, SESSION_KEY, mfa=True),
        "2024-03-01T10:10:00Z",
        rp={"secretId": "s"},
        read_only=True,
    )
    assert store.insert_records(store_con, [r]) == 1
    row = store_con.execute("SELECT * FROM events").df().iloc[0]
    assert row.identity_type == "AssumedRole"
    assert row.principal_arn == SESSION_ARN
    assert row.access_key_id == SESSION_KEY
    assert row.session_issuer_arn == PROD_ROLE
    assert row.session_name == "maint"
    assert bool(row.mfa_authenticated) is True
    assert bool(row.read_only) is True
    assert row.event_time == pd.Timestamp("2024-03-01T10:10:00Z")
    assert json.loads(row.request_parameters) == {"secretId": "s"}
    assert json.loads(row.user_identity)["sessionContext"]["sessionIssuer"]["arn"] == PROD_ROLE


def test_iam_user_fields_and_console_mfa_from_additional_data(store_con):
    r = rec("ConsoleLogin", "signin.amazonaws.com", iam_user(ALICE, None), "2024-03-01T08:00:00Z")
    r["additionalEventData"] = {"MFAUsed": "No", "LoginTo": "https://console"}
    r["errorCode"], r["errorMessage"] = "Failed authentication", "bad password"
    store.insert_records(store_con, [r])
    row = store_con.execute("SELECT * FROM events").df().iloc[0]
    assert (row.identity_type, row.principal_arn, row.session_name) == ("IAMUser", ALICE, None)
    assert bool(row.mfa_authenticated) is False
    assert (row.error_code, row.error_message) == ("Failed authentication", "bad password")


@pytest.mark.parametrize(
    "stamp",
    ["2024-03-01T10:00:00Z", "2024-03-01T10:00:00.000Z", "2024-03-01 10:00:00+00:00", "1709287200000", "1709287200"],
)
def test_renamed_time_field_in_any_common_format(store_con, stamp):
    store.insert_records(store_con, [{"eventID": "x", "@timestamp": stamp, "eventName": "ListUsers"}])
    got = store_con.execute("SELECT event_time FROM events").fetchone()[0]
    assert pd.Timestamp(got) == pd.Timestamp("2024-03-01T10:00:00Z")


def test_dedupe_within_a_batch_and_against_the_table(store_con, incident):
    assert store.insert_records(store_con, incident + incident[:3]) == len(incident)
    assert store.insert_records(store_con, incident) == 0
    assert store_con.execute("SELECT count(DISTINCT event_id), count(*) FROM events").fetchone() == (
        len(incident),
        len(incident),
    )


def test_record_without_event_id_gets_a_stable_content_id(store_con):
    r = {"eventTime": "2024-03-01T10:00:00Z", "eventName": "ListRoles"}
    assert store.insert_records(store_con, [r]) == 1
    assert store.insert_records(store_con, [r]) == 0


def test_insights_are_routed_to_their_own_table(store_con):
    insight = {
        "eventVersion": "1.08",
        "eventTime": "2024-03-01T10:00:00Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "CreateAccessKey",
        "eventType": "AwsCloudTrailInsight",
        "eventID": "ins-1",
        "eventCategory": "Insight",
        "recipientAccountId": DEV,
        "awsRegion": "us-east-1",
        "insightDetails": {"state": "Start", "insightType": "ApiCallRateInsight"},
    }
    store.insert_records(
        store_con, [insight, rec("ListUsers", "iam.amazonaws.com", iam_user(ALICE, LEAKED), "2024-03-01T09:00:00Z")]
    )
    assert store_con.execute("SELECT count(*) FROM events").fetchone()[0] == 1
    assert store_con.execute("SELECT insight_type, state FROM insights").fetchall() == [("ApiCallRateInsight", "Start")]


def test_session_tokens_and_secret_keys_are_redacted(store_con):
    r = rec(
        "AssumeRole",
        "sts.amazonaws.com",
        iam_user(ALICE, LEAKED),
        "2024-03-01T10:00:00Z",
        re={"credentials": {"accessKeyId": "ASIAXXXXXXXXXXXXXXX1", "sessionToken": "TOPSECRETTOKEN"}},
    )
    r2 = rec(
        "CreateAccessKey",
        "iam.amazonaws.com",
        iam_user(ALICE, LEAKED),
        "2024-03-01T10:01:00Z",
        re={"accessKey": {"accessKeyId": "AKIAXXXXXXXXXXXXXXX1", "secretAccessKey": "TOPSECRETKEY"}},
    )
    store.insert_records(store_con, [r, r2])
    dump = json.dumps(store_con.execute("SELECT response_elements FROM events").fetchall())
    assert "TOPSECRET" not in dump
    assert "ASIAXXXXXXXXXXXXXXX1" in dump and "AKIAXXXXXXXXXXXXXXX1" in dump


def test_window_keeps_only_events_inside(store_con, incident):
    n = store.insert_records(store_con, incident, window=Window.parse("2024-03-01T10:00:00Z", "2024-03-01T10:10:00Z"))
    times = [t for (t,) in store_con.execute("SELECT event_time FROM events").fetchall()]
    assert n == len(times) and n > 0
    assert all(
        pd.Timestamp("2024-03-01T10:00:00Z") <= pd.Timestamp(t) <= pd.Timestamp("2024-03-01T10:10:00Z") for t in times
    )


def test_trail_events_filters_and_frame_schema(tmp_path, incident):
    t = trail.open(tmp_path / "t.duckdb")
    store.insert_records(t.con, incident)
    df = t.events(access_key_id=LEAKED)
    frames.check(df, "events")
    assert len(df) == 6 and df.event_time.is_monotonic_increasing
    assert isinstance(df.request_parameters.iloc[3], dict)
    assert set(t.events(principal="dev-alice").event_id) == set(df.event_id)
    assert list(t.events(event_name=["CreateUser", "AttachUserPolicy"]).event_name) == [
        "CreateUser",
        "AttachUserPolicy",
    ]
    assert set(t.events(error_code="AccessDenied").event_name) == {"ListBuckets", "StopLogging"}
    assert len(t.events(start="2024-03-01T10:00:00Z", end="2024-03-01T10:06:00Z", account_id="222222222222")) == 2
    assert t.events(source_ip="192.0.2.1").empty
    assert t.count() == len(incident)
    t.close()


def test_trail_sql_and_bad_sql(tmp_path, incident):
    from iamkit.errors import BadInput

    with trail.open(tmp_path / "t.duckdb") as t:
        store.insert_records(t.con, incident)
        df = t.sql("SELECT event_name, count(*) AS n FROM events GROUP BY 1 ORDER BY n DESC LIMIT 1")
        assert df.iloc[0].event_name == "DescribeInstances"
        with pytest.raises(BadInput, match="SQL failed"):
            t.sql("SELECT nope FROM events")


def test_parquet_cache_is_reused_until_the_store_changes(tmp_path, incident):
    t = trail.open(tmp_path / "t.duckdb")
    store.insert_records(t.con, incident[:10])
    cached = t.cache()
    assert cached.count() == 10
    mtime = (tmp_path / "t.events.parquet").stat().st_mtime_ns
    assert t.cache().count() == 10 and (tmp_path / "t.events.parquet").stat().st_mtime_ns == mtime
    store.insert_records(t.con, incident)
    t.con.execute("INSERT INTO loaded_files (path, etag, status, loaded_at) VALUES ('x', 'e', 'ok', now())")
    again = t.cache()
    assert again.count() == len(incident)
    frames.check(again.events(access_key_id=LEAKED), "events")
    t.close()


def test_open_parquet_folder_and_missing_file(tmp_path, incident):
    from iamkit.errors import NotFound

    con = duckdb.connect()
    store.insert_records(con, incident)
    store.export_parquet(con, tmp_path / "pq" / "part-0.parquet")
    assert trail.open(tmp_path / "pq").count() == len(incident)
    with pytest.raises(NotFound):
        trail.open(tmp_path / "missing.parquet")
    with pytest.raises(NotFound):
        trail.open(tmp_path / "missing.duckdb", read_only=True)


def _insert_via(con, records: list[dict], how: str, *, name: str = "f.json", start=None, end=None):
    """Insert ``records`` (read as file ``name``) in one transaction through the staged or the direct path."""
    import pyarrow as pa

    texts = pa.table({"r": [json.dumps(r) for r in records], "_file": [name] * len(records)})  # noqa: F841
    con.register("_texts", texts)
    con.execute("BEGIN TRANSACTION")
    try:
        source = "SELECT r::JSON AS r, _file FROM _texts"
        if how == "direct":
            out = store.insert_direct(con, source, window=Window.parse(start, end))
        else:
            out = store.insert_json_relation(con, source, window=Window.parse(start, end))
        con.execute("ROLLBACK" if out is None else "COMMIT")
        return out
    finally:
        con.unregister("_texts")


def _table(con) -> list[tuple]:
    return con.execute("SELECT * EXCLUDE (source_file) FROM events ORDER BY event_id").fetchall()


@pytest.mark.parametrize("case", ["plain", "repeats in the batch", "second batch overlaps", "window"])
def test_direct_insert_stores_what_the_staged_insert_stores(incident, case):
    """The direct path (no staging copy) must give the same rows, counts and per-file counts."""
    batches = [incident]
    kw: dict = {}
    if case == "repeats in the batch":
        batches = [incident + incident[:4]]
    elif case == "second batch overlaps":
        batches = [incident[:6], incident[3:]]
    elif case == "window":
        kw = {"start": pd.Timestamp("2024-03-01T10:00:00Z"), "end": pd.Timestamp("2024-03-01T10:10:00Z")}
    results, tables = {}, {}
    for how in ("staged", "direct"):
        con = duckdb.connect()
        store.create_schema(con)
        results[how] = [_insert_via(con, b, how, name=f"batch{i}", **kw) for i, b in enumerate(batches)]
        tables[how] = _table(con)
        con.close()
    assert tables["direct"] == tables["staged"] and tables["direct"]
    strip = [{k: v for k, v in r.items() if k != "insights"} for r in results["staged"]]
    assert [{k: v for k, v in r.items() if k != "insights"} for r in results["direct"]] == strip


def test_direct_insert_hands_batches_with_insights_back_untouched(store_con):
    insight = {
        "eventTime": "2024-03-01T10:00:00Z",
        "eventType": "AwsCloudTrailInsight",
        "eventID": "ins-1",
        "insightDetails": {"state": "Start"},
    }
    normal = rec("ListUsers", "iam.amazonaws.com", iam_user(ALICE, LEAKED), "2024-03-01T09:00:00Z")
    assert _insert_via(store_con, [normal, insight], "direct") is None
    assert store_con.execute("SELECT count(*) FROM events").fetchone()[0] == 0  # rolled back: nothing half-done


def test_every_loaded_event_names_the_file_it_came_from(tmp_path, incident):
    import gzip

    folder = tmp_path / "logs"
    folder.mkdir()
    halves = {"a.json.gz": incident[:5], "b.json.gz": incident[5:]}
    for name, recs in halves.items():
        (folder / name).write_bytes(gzip.compress(json.dumps({"Records": recs}).encode()))
    trail.load([folder], tmp_path / "t.duckdb")
    with trail.open(tmp_path / "t.duckdb") as t:
        got = dict(t.sql("SELECT source_file, count(*) FROM events GROUP BY 1").values.tolist())
        files = dict(t.sql("SELECT path, records FROM loaded_files").values.tolist())
    assert got == {str((folder / n).resolve()): len(r) for n, r in halves.items()} == files


def test_a_bare_end_date_means_the_whole_day_everywhere(tmp_path, incident):
    """Trail.events, trail load and the Athena window agree: end=2024-03-01 includes all of that day."""
    import datetime as dt

    w = Window.parse("2024-03-01", "2024-03-01")
    assert (w.start.isoformat(), w.end.isoformat()) == ("2024-03-01T00:00:00+00:00", "2024-03-01T23:59:59.999999+00:00")
    assert Window.parse(None, dt.date(2024, 3, 1)).end == w.end and Window.parse(" 2024-03-01 ", "2024-03-01") == w
    assert Window.parse(None, "2024-03-01T10:00:00Z").end.isoformat() == "2024-03-01T10:00:00+00:00"
    db = tmp_path / "t.duckdb"
    with trail.open(db) as t:
        store.insert_records(t.con, incident)
        whole_day = t.events(start="2024-03-01", end="2024-03-01")
        assert len(whole_day) == t.count() and len(whole_day) > 0  # the incident happens on 2024-03-01
        assert len(t.events(end="2024-03-01T10:00:00Z")) < len(whole_day)
