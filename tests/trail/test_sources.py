"""Local sources: every file shape, bad files listed while the rest loads, incremental loads, windows."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from ctrecords import ALICE, LEAKED, iam_user, incident_records, rec, write_records_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import iamkit.trail as trail
from iamkit import frames
from iamkit.errors import BadInput
from iamkit.trail.sources import classify, parse


def _write(path: Path, text: str, gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def _count(db: Path) -> int:
    with trail.open(db) as t:
        return t.count()


@pytest.fixture
def records():
    return incident_records()


def test_classify_every_shape(tmp_path, records):
    r = records[:2]
    cases = {
        "records.json.gz": (json.dumps({"Records": r}), True, "records"),
        "pretty.json": (json.dumps({"Records": r}, indent=2), False, "records"),
        "array.json": (json.dumps(r), False, "array"),
        "lines.jsonl": ("\n".join(json.dumps(x) for x in r), False, "jsonl"),
        "lookup.json": (
            json.dumps({"Events": [{"EventId": "1", "CloudTrailEvent": json.dumps(r[0])}]}),
            False,
            "lookup",
        ),
        "digest.json.gz": (json.dumps({"awsAccountId": "1", "digestStartTime": "x", "logFiles": []}), True, "digest"),
        "insight.json.gz": (
            json.dumps({"Records": [{"eventType": "AwsCloudTrailInsight", "eventID": "i"}]}),
            True,
            "insights",
        ),
        "single.json": (json.dumps(r[0], indent=1), False, "single"),
        "empty.json": ("  \n", False, "empty"),
    }
    for name, (text, gz, kind) in cases.items():
        assert classify.classify(_write(tmp_path / name, text, gz)) == kind, name


def test_every_local_shape_loads_the_same_events(tmp_path, records):
    r = records
    folder = tmp_path / "in"
    write_records_file(folder / "a" / "delivery.json.gz", r[:5])
    _write(folder / "plain.json", json.dumps({"Records": r[5:8]}, indent=2))
    _write(folder / "array.json.gz", json.dumps(r[8:12]), gz=True)
    _write(folder / "lines.jsonl", "\n".join(json.dumps(x) for x in r[12:16]) + "\n")
    _write(
        folder / "lookup.json",
        json.dumps([{"EventId": x["eventID"], "CloudTrailEvent": json.dumps(x)} for x in r[16:20]]),
    )
    renamed = [{("@timestamp" if k == "eventTime" else k): v for k, v in x.items()} for x in r[20:24]]
    _write(folder / "export.jsonl", "\n".join(json.dumps(x) for x in renamed))
    _write(folder / "one.json", json.dumps(r[24], indent=1))
    _write(folder / "digest.json.gz", json.dumps({"digestStartTime": "x", "logFiles": []}), gz=True)
    _write(folder / "notes.txt", "not a trail file")  # ignored: not a JSON/gz name
    res = trail.load([folder], tmp_path / "t.duckdb")
    assert res.files_failed == 0, res.error_rows
    assert res.files_loaded == 7 and res.digests == 1
    assert res.events_inserted == 25
    with trail.open(tmp_path / "t.duckdb") as t:
        got = t.events()
        assert set(got.event_id) == {x["eventID"] for x in r[:25]}
        assert got.event_time.notna().all()
        kinds = dict(t.sql("SELECT kind, count(*) FROM loaded_files GROUP BY 1").values.tolist())
        assert kinds == {"records": 2, "array": 1, "jsonl": 2, "lookup": 1, "single": 1, "digest": 1}


def test_bad_files_are_listed_and_the_rest_loads(tmp_path, records):
    folder = tmp_path / "in"
    good = write_records_file(folder / "good.json.gz", records[:10])
    whole = gzip.compress(json.dumps({"Records": records[10:]}).encode())
    (folder / "truncated.json.gz").write_bytes(whole[: len(whole) // 2])
    _write(folder / "invalid.json", '{"Records": [{"eventID": "x",')
    _write(folder / "unknown.json", json.dumps({"hello": "world"}))
    _write(folder / "notjson.json", "<html>nope</html>")
    res = trail.load([folder], tmp_path / "t.duckdb")
    assert (res.events_inserted, res.files_loaded, res.files_failed, res.files_skipped) == (10, 1, 3, 1)
    errs = res.errors
    frames.check(errs, "errors")
    by_file = {Path(op.split(" ", 1)[1]).name: msg for op, msg in zip(errs.operation, errs.message, strict=True)}
    assert by_file["truncated.json.gz"].startswith("truncated gzip")
    assert by_file["invalid.json"].startswith("invalid JSON")
    assert "not JSON" in by_file["notjson.json"]
    skipped = res.skipped  # a JSON file of no trail shape is not read, and listed with why
    assert [Path(p).name for p in skipped.path] == ["unknown.json"]
    assert skipped.kind.tolist() == ["unknown"] and "unknown shape" in skipped.reason.iloc[0]
    assert not res.nothing_read
    with trail.open(tmp_path / "t.duckdb") as t:
        assert len(t.errors) == 3
        status = dict(t.sql("SELECT path, status FROM loaded_files").values.tolist())
        assert status[str(good.resolve())] == "ok"
        assert sorted(status.values()) == ["error", "error", "error", "ok", "skipped"]


def test_a_bad_file_inside_a_fast_batch_is_isolated(tmp_path, records):
    folder = tmp_path / "in"
    for i in range(4):
        write_records_file(folder / f"f{i}.json.gz", records[i * 5 : (i + 1) * 5])
    whole = gzip.compress(json.dumps({"Records": records[20:]}).encode())
    (folder / "f9.json.gz").write_bytes(whole[:-20])  # same kind (records), truncated: fails the batch
    res = trail.load([folder], tmp_path / "t.duckdb")
    assert (res.files_loaded, res.files_failed, res.events_inserted) == (4, 1, 20)


def test_incremental_load_skips_known_files_and_dedupes(tmp_path, records):
    folder = tmp_path / "in"
    write_records_file(folder / "a.json.gz", records[:10])
    db = tmp_path / "t.duckdb"
    first = trail.load([folder], db)
    assert (first.files_loaded, first.events_inserted) == (1, 10)
    write_records_file(folder / "b.json.gz", records[5:15])  # overlaps a.json.gz by 5 events
    second = trail.load([folder], db)
    assert (second.files_skipped, second.files_loaded, second.records_read, second.events_inserted) == (1, 1, 10, 5)
    assert _count(db) == 15
    third = trail.load([folder], db)
    assert (third.files_skipped, third.files_loaded, third.events_inserted) == (2, 0, 0)


def test_a_failed_file_is_retried_next_time(tmp_path, records):
    folder = tmp_path / "in"
    bad = _write(folder / "x.json", "{broken")
    db = tmp_path / "t.duckdb"
    assert trail.load([folder], db).files_failed == 1
    write_records_file(bad, records[:3], gz=False)
    res = trail.load([folder], db)
    assert (res.files_loaded, res.events_inserted) == (1, 3)


def test_file_larger_than_duckdb_default_object_size(tmp_path):
    big_param = "x" * 2000
    recs = [
        rec(
            "PutObject",
            "s3.amazonaws.com",
            iam_user(ALICE, LEAKED),
            "2024-03-01T09:00:00Z",
            rp={"bucketName": "b", "key": f"k{i}", "blob": big_param},
        )
        for i in range(9000)
    ]
    path = write_records_file(tmp_path / "big.json.gz", recs)
    assert len(gzip.decompress(path.read_bytes())) > 16 * 2**20
    res = trail.load([path], tmp_path / "t.duckdb")
    assert (res.files_failed, res.events_inserted) == (0, 9000)
    assert res.files_loaded == 1


def test_start_end_window_and_date_only_end(tmp_path, records):
    path = write_records_file(tmp_path / "a.json.gz", records)
    res = trail.load([path], tmp_path / "t.duckdb", start="2024-03-01T10:00:00Z", end="2024-03-01")
    with trail.open(tmp_path / "t.duckdb") as t:
        ev = t.events()
    assert res.events_inserted == len(ev) == sum(x["eventTime"] >= "2024-03-01T10:00:00Z" for x in records)


def test_missing_source_and_bad_dates_are_clear_errors(tmp_path):
    with pytest.raises(BadInput, match="not found"):
        trail.load([tmp_path / "nope"], tmp_path / "t.duckdb")
    with pytest.raises(BadInput, match="not an ISO date"):
        trail.load([tmp_path], tmp_path / "t.duckdb", start="yesterday")


def test_parse_python_handles_wrappers():
    def unwrap(obj):
        out = parse.Parsed()
        parse._unwrap(obj, out)
        return out.records, out.where, out.problems

    assert unwrap({"Records": [{"eventID": "a"}]}) == ([{"eventID": "a"}], ["Records[0]"], [])
    assert unwrap({"Events": [{"CloudTrailEvent": '{"eventID": "b"}'}]}) == (
        [{"eventID": "b"}],
        ["Events[0].CloudTrailEvent"],
        [],
    )
    assert unwrap([{"_source": {"eventID": "c"}}]) == ([{"eventID": "c"}], ["[0]._source"], [])
    assert unwrap({"foo": 1})[2] == [("file", "unknown shape: no Records, Events, CloudTrailEvent or record fields")]


_event = st.fixed_dictionaries(
    {
        "eventID": st.uuids().map(str),
        "eventTime": st.datetimes(
            min_value=__import__("datetime").datetime(2020, 1, 1), max_value=__import__("datetime").datetime(2030, 1, 1)
        ).map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
        "eventName": st.sampled_from(["ListUsers", "AssumeRole", "GetObject", "CreateUser"]),
        "sourceIPAddress": st.ip_addresses().map(str),
        "userAgent": st.text(max_size=30),
        "requestParameters": st.one_of(
            st.none(),
            st.dictionaries(
                st.text(min_size=1, max_size=8), st.one_of(st.text(max_size=20), st.integers()), max_size=4
            ),
        ),
        "userIdentity": st.fixed_dictionaries(
            {
                "type": st.sampled_from(["IAMUser", "AssumedRole", "Root"]),
                "accessKeyId": st.from_regex(r"AKIA[A-Z2-7]{16}", fullmatch=True),
            }
        ),
    }
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=st.lists(_event, min_size=1, max_size=15, unique_by=lambda e: e["eventID"]),
    shape=st.sampled_from(["records_gz", "records", "array", "jsonl", "lookup"]),
)
def test_property_any_shape_round_trips(tmp_path_factory, events, shape):
    d = tmp_path_factory.mktemp("prop")
    if shape.startswith("records"):
        write_records_file(d / "f.json.gz", events, gz=shape == "records_gz")
    elif shape == "array":
        _write(d / "f.json", json.dumps(events))
    elif shape == "jsonl":
        _write(d / "f.jsonl", "\n".join(json.dumps(e) for e in events))
    else:
        _write(d / "f.json", json.dumps({"Events": [{"CloudTrailEvent": json.dumps(e)} for e in events]}))
    with trail.open() as t:  # in memory
        res = t.load([d])
        assert res.files_failed == 0 and res.events_inserted == len(events)
        got = t.events().set_index("event_id")
    for e in events:
        row = got.loc[e["eventID"]]
        assert row.event_name == e["eventName"]
        assert row.source_ip == e["sourceIPAddress"]
        assert row.user_agent == e["userAgent"]
        assert row.access_key_id == e["userIdentity"]["accessKeyId"]
        assert row.request_parameters == e["requestParameters"]
        assert row.event_time.strftime("%Y-%m-%dT%H:%M:%SZ") == e["eventTime"]


def test_batched_files_keep_their_own_record_counts(tmp_path, records):
    folder = tmp_path / "in"
    sizes = [1, 4, 0, 7, 2]
    start = 0
    expected = {}
    for i, n in enumerate(sizes):
        p = write_records_file(folder / f"f{i}.json.gz", records[start : start + n])
        expected[str(p)] = n
        start += n
    plain = write_records_file(folder / "plain.json", records[start : start + 3], gz=False)  # not gzipped
    expected[str(plain)] = 3
    res = trail.load([folder], tmp_path / "t.duckdb")
    assert (res.files_loaded, res.events_inserted) == (6, sum(sizes) + 3)
    with trail.open(tmp_path / "t.duckdb") as t:
        got = dict(t.sql("SELECT path, records FROM loaded_files").values.tolist())
    assert got == expected


def test_a_file_with_two_concatenated_objects_still_loads_whole(tmp_path, records):
    folder = tmp_path / "in"
    write_records_file(folder / "a.json.gz", records[:2])
    two = json.dumps({"Records": records[2:4]}) + "\n" + json.dumps({"Records": records[4:6]})
    _write(folder / "b.json.gz", two, gz=True)
    write_records_file(folder / "c.json.gz", records[6:9])
    res = trail.load([folder], tmp_path / "t.duckdb")
    assert (res.files_failed, res.events_inserted) == (0, 9)
    with trail.open(tmp_path / "t.duckdb") as t:
        got = dict(t.sql("SELECT path, records FROM loaded_files").values.tolist())
    assert got[str(folder / "b.json.gz")] == 4


def test_insights_file_is_routed_to_the_insights_table(tmp_path, records):
    insight = {
        "eventVersion": "1.08",
        "eventTime": "2024-03-01T10:00:00Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "CreateAccessKey",
        "eventType": "AwsCloudTrailInsight",
        "eventID": "ins-1",
        "eventCategory": "Insight",
        "awsRegion": "us-east-1",
        "recipientAccountId": "111111111111",
        "insightDetails": {
            "state": "Start",
            "insightType": "ApiCallRateInsight",
            "insightContext": {"statistics": {"baseline": {"average": 0.1}}},
        },
    }
    folder = tmp_path / "AWSLogs" / "111111111111" / "CloudTrail-Insight" / "us-east-1" / "2024" / "03" / "01"
    write_records_file(folder / "i.json.gz", [insight])
    write_records_file(tmp_path / "AWSLogs" / "e.json.gz", records[:3])
    bad = tmp_path / "AWSLogs" / "o-abcdef1234" / "222222222222" / "CloudTrail" / "eu-west-1" / "2024" / "bad.json"
    _write(bad, "{oops")
    res = trail.load([tmp_path / "AWSLogs"], tmp_path / "t.duckdb")
    assert (res.insights_inserted, res.events_inserted, res.files_failed) == (1, 3, 1)
    assert res.errors[["account_id", "region"]].values.tolist() == [["222222222222", "eu-west-1"]]
    with trail.open(tmp_path / "t.duckdb") as t:
        assert t.sql("SELECT insight_type, state FROM insights").values.tolist() == [["ApiCallRateInsight", "Start"]]
        assert "ins-1" not in set(t.events().event_id)
        kinds = dict(t.sql("SELECT kind, count(*) FROM loaded_files GROUP BY 1").values.tolist())
    assert kinds == {"insights": 1, "records": 1, "error": 1}


def test_record_counts_stay_with_their_files_across_vectors(tmp_path):
    """A batch of > 2048 files (more than one DuckDB vector of objects) keeps object n <-> file n."""
    expected, n = {}, 0
    for i in range(2100):
        k = (i * 7919) % 4
        recs = [{"eventID": f"e{n + j}", "eventTime": "2024-03-01T00:00:00Z", "eventName": f"F{i}"} for j in range(k)]
        n += k
        expected[str(write_records_file(tmp_path / "in" / f"f{i:05d}.json.gz", recs))] = (k, f"F{i}")
    res = trail.load([tmp_path / "in"], tmp_path / "t.duckdb")
    assert (res.files_loaded, res.events_inserted) == (2100, n)
    with trail.open(tmp_path / "t.duckdb") as t:
        counts = dict(t.sql("SELECT path, records FROM loaded_files").values.tolist())
    assert counts == {p: k for p, (k, _) in expected.items()}
