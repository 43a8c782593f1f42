"""Loads that lose nothing: windows remembered per file, changed files read again, one bad S3 object or
bad entry failing alone, and a load where everything failed saying so."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pytest
from ctrecords import incident_records, write_records_file

import iamkit.trail as trail
from iamkit.trail.sources import batch, parse
from iamkit.trail.sources import s3 as s3_source

UTC = dt.UTC


def _t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize(
    ("windows", "start", "end", "expected"),
    [
        ([(None, None)], "2024-03-01T00:00:00Z", "2024-03-02T00:00:00Z", True),
        ([(None, None)], None, None, True),
        ([("2024-03-01T10:00:00Z", "2024-03-01T11:00:00Z")], None, None, False),
        ([("2024-03-01T10:00:00Z", "2024-03-01T11:00:00Z")], "2024-03-01T10:00:00Z", "2024-03-01T10:30:00Z", True),
        ([("2024-03-01T10:00:00Z", "2024-03-01T11:00:00Z")], "2024-03-01T09:59:59Z", "2024-03-01T10:30:00Z", False),
        (
            [("2024-03-01T00:00:00Z", "2024-03-01T23:59:59.999999Z"), ("2024-03-02T00:00:00Z", None)],
            "2024-03-01T12:00:00Z",
            None,
            True,
        ),  # a day's last microsecond and the next day join
        (
            [("2024-03-01T00:00:00Z", "2024-03-01T05:00:00Z"), ("2024-03-01T07:00:00Z", "2024-03-01T12:00:00Z")],
            "2024-03-01T08:00:00Z",
            "2024-03-01T09:00:00Z",
            True,
        ),  # a gap before the window does not matter
        (
            [("2024-03-01T00:00:00Z", "2024-03-01T05:00:00Z"), ("2024-03-01T07:00:00Z", "2024-03-01T12:00:00Z")],
            "2024-03-01T04:00:00Z",
            "2024-03-01T08:00:00Z",
            False,
        ),
        ([], None, None, False),
    ],
)
def test_covers(windows, start, end, expected):
    ws = [(None if a is None else _t(a), None if b is None else _t(b)) for a, b in windows]
    assert batch.covers(ws, None if start is None else _t(start), None if end is None else _t(end)) is expected


def test_a_wider_load_after_a_windowed_one_loads_the_rest(tmp_path):
    """Regression: the file was recorded as loaded after the first window, so the wider load skipped it and
    the events outside the first window never arrived."""
    recs = incident_records()
    path = write_records_file(tmp_path / "in" / "a.json.gz", recs)
    db = tmp_path / "t.duckdb"
    first = trail.load([path], db, start="2024-03-01T10:00:00Z", end="2024-03-01T10:10:00Z")
    in_window = sum("2024-03-01T10:00:00Z" <= r["eventTime"] <= "2024-03-01T10:10:00Z" for r in recs)
    assert 0 < first.events_inserted == in_window < len(recs)
    narrower = trail.load([path], db, start="2024-03-01T10:01:00Z", end="2024-03-01T10:05:00Z")
    assert (narrower.files_unchanged, narrower.files_loaded) == (1, 0)  # covered: not read again
    wider = trail.load([path], db)
    assert (wider.files_unchanged, wider.files_loaded, wider.events_inserted) == (0, 1, len(recs) - in_window)
    with trail.open(db) as t:
        assert set(t.events().event_id) == {r["eventID"] for r in recs}
        hist = t.sql("SELECT window_start, window_end FROM load_history ORDER BY loaded_at")
    assert len(hist) == 2 and hist.window_start.isna().tolist() == [False, True]
    assert trail.load([path], db).files_unchanged == 1  # now everything is loaded


def test_a_changed_file_is_read_again_with_a_warning_and_every_hash_kept(tmp_path):
    """Regression: a file changed since its load kept its old events silently and its sha256 was overwritten."""
    import hashlib
    import os

    recs = incident_records()
    path = write_records_file(tmp_path / "in" / "a.json.gz", recs[:10])
    db = tmp_path / "t.duckdb"
    trail.load([path], db)
    v1 = hashlib.sha256(path.read_bytes()).hexdigest()
    write_records_file(path, recs[:15])  # five more events at the same path
    os.utime(path, ns=(1, 1))  # a different mtime, whatever the clock's resolution
    res = trail.load([path], db)
    v2 = hashlib.sha256(path.read_bytes()).hexdigest()
    assert (res.files_changed, res.files_loaded, res.events_inserted) == (1, 1, 5)
    warn = res.errors[res.errors.code == "FileChanged"]
    assert len(warn) == 1 and v2[:16] in warn.message.iloc[0] and v1[:16] in warn.message.iloc[0]
    with trail.open(db) as t:
        assert t.count() == 15
        assert set(t.sql("SELECT sha256 FROM load_history WHERE status = 'ok'").sha256) == {v1, v2}
        assert t.loaded_files.sha256.tolist() == [v2]
        assert "FileChanged" in set(t.errors.code)
    os.utime(path, ns=(2, 2))  # touched, same content: read again (the size:mtime changed), no warning
    again = trail.load([path], db)
    assert (again.files_loaded, again.files_changed, again.events_inserted) == (1, 0, 0)


def test_bad_entries_are_listed_by_file_and_index_and_the_rest_loads(tmp_path):
    """Regression: non-object entries were stored as empty events, a null Records loaded as nothing, an
    unreadable eventTime went unremarked (and was dropped by a window)."""
    recs = incident_records()
    good = recs[:3]
    bad_time = dict(recs[3], eventTime="yesterday at noon")
    folder = tmp_path / "in"
    for i in range(3):  # a fast batch of clean files around the bad one
        write_records_file(folder / f"clean{i}.json.gz", recs[10 + 3 * i : 13 + 3 * i])
    odd = write_records_file(folder / "odd.json.gz", [good[0], 7, None, "x", good[1], bad_time, [1], good[2]])
    null = folder / "null.json.gz"
    null.write_bytes(gzip.compress(json.dumps({"Records": None}).encode()))
    res = trail.load([folder], tmp_path / "t.duckdb", start="2024-03-01T00:00:00Z", end="2024-03-02")
    assert res.files_loaded == 4 and res.files_failed == 1
    assert res.events_inserted == 9 + 4  # the clean files, the good entries and the untimed record (kept)
    assert res.records_bad == 5 + 1
    rows = res.errors
    by_file = {}
    for op, code, msg in rows[["operation", "code", "message"]].values.tolist():
        by_file.setdefault(Path(op.split(" ", 1)[1]).name, []).append((code, msg))
    assert [m.split(":")[0] for _, m in by_file["odd.json.gz"]] == [
        "Records[1]",
        "Records[2]",
        "Records[3]",
        "Records[6][0]",
        "Records[5]",
    ]
    assert "yesterday at noon" in by_file["odd.json.gz"][-1][1]
    assert by_file["null.json.gz"] == [("BadFile", "no record could be read: Records: Records is null, not a list")]
    with trail.open(tmp_path / "t.duckdb") as t:
        stored = t.events()
        assert bad_time["eventID"] in set(stored.event_id)  # kept, without a time
        assert stored.event_id.notna().all() and stored.event_name.notna().all()  # no empty events
        assert len(t.errors) == len(rows)
        counts = dict(t.sql("SELECT path, records FROM loaded_files").values.tolist())
    assert counts[str(odd)] == 4


def test_a_hostile_file_with_a_million_bad_entries_lists_a_bounded_number(tmp_path):
    p = tmp_path / "many.json"
    p.write_text(json.dumps({"Records": [1] * 5000 + [incident_records()[0]]}))
    res = trail.load([p], tmp_path / "t.duckdb")
    assert (res.files_loaded, res.events_inserted, res.records_bad) == (1, 1, 5000)
    assert len(res.error_rows) == batch.Loader.MAX_PROBLEMS + 1
    assert "4950 more" in res.error_rows[-1]["message"]


def _put(s3, bucket: str, n: int) -> list[str]:
    s3.create_bucket(Bucket=bucket)
    keys = []
    for i in range(n):
        recs = [dict(r, eventID=f"s3-{i}-{j}") for j, r in enumerate(incident_records()[:2])]
        key = f"AWSLogs/111111111111/CloudTrail/us-east-1/2024/03/01/f{i:03d}.json.gz"
        s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(json.dumps({"Records": recs}).encode()))
        keys.append(key)
    return keys


class _Glacier:
    """A botocore before-send hook: GetObject of the chosen keys answers 403 InvalidObjectState (an object
    archived in Glacier), like S3 does."""

    def __init__(self, keys: set[str]):
        self.keys = keys

    def __call__(self, request, **kwargs):
        from botocore.awsrequest import AWSResponse

        if request.method == "GET" and any(request.url.split("?")[0].endswith(k) for k in self.keys):
            body = (
                b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidObjectState</Code>'
                b"<Message>The operation is not valid for the object's storage class</Message></Error>"
            )

            class Raw:
                def stream(self, **kw):
                    yield body

            return AWSResponse(request.url, 403, {"Content-Type": "application/xml"}, Raw())
        return None


def test_one_unreadable_s3_object_fails_alone(s3, tmp_path, monkeypatch):
    """Regression: one failed GetObject dropped its whole download chunk (up to 2,000 good files)."""
    monkeypatch.setattr(s3_source, "S3_CHUNK", 5)  # several chunks, the bad object inside one
    keys = _put(s3, "cold-logs", 12)
    cold = keys[6]
    glacier = _Glacier({cold})
    s3.meta.events.register("before-send.s3.GetObject", glacier)
    db = tmp_path / "t.duckdb"
    res = trail.load(["s3://cold-logs/AWSLogs/"], db, s3_client=s3)
    assert (res.files_loaded, res.files_failed, res.events_inserted) == (11, 1, 22)
    err = res.errors
    assert err.code.tolist() == ["InvalidObjectState"] and err.operation.tolist() == [
        f"s3:GetObject s3://cold-logs/{cold}"
    ]
    assert not res.nothing_read
    s3.meta.events.unregister("before-send.s3.GetObject", glacier)  # the object is restored from Glacier
    again = trail.load(["s3://cold-logs/AWSLogs/"], db, s3_client=s3)
    assert (again.files_unchanged, again.files_loaded, again.events_inserted) == (11, 1, 2)


def test_s3_keys_never_write_outside_the_download_folder(tmp_path):
    dest = tmp_path / "dl"
    assert s3_source._local_for(dest, "AWSLogs/1/f.json.gz") == dest / "AWSLogs" / "1" / "f.json.gz"
    assert s3_source._local_for(dest, "/abs//f.json.gz") == dest / "abs" / "f.json.gz"
    for key in ("../../etc/cron.d/x.json", "a/../../x.json", ".."):
        with pytest.raises(Exception, match="unsafe S3 key"):
            s3_source._local_for(dest, key)


def test_trail_load_exits_2_when_nothing_could_be_read(tmp_path, capsys):
    from iamkit.cli import main

    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.json").write_text("{nope")
    (tmp_path / "bad" / "y.json.gz").write_bytes(b"\x1f\x8b\x08\x00broken")
    db = tmp_path / "t.duckdb"
    with pytest.raises(SystemExit) as e:
        main(["trail", "load", str(tmp_path / "bad"), "--db", str(db), "--format", "json"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "nothing could be read" in err
    write_records_file(tmp_path / "bad" / "good.json.gz", incident_records()[:3])
    with pytest.raises(SystemExit) as e:  # some loaded: success, the failures listed
        main(["trail", "load", str(tmp_path / "bad"), "--db", str(db), "--format", "json"])
    out = capsys.readouterr()
    row = json.loads(out.out)[0]
    assert e.value.code == 0 and row["files_loaded"] == 1 and row["files_failed"] == 2
    assert {p["code"] for p in row["problems"]} == {"BadFile"} and "x.json" in out.err
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit) as e:  # nothing to read is not a failure
        main(["trail", "load", str(empty), "--db", str(db)])
    assert e.value.code == 0


@pytest.mark.parametrize("gz", [False, True])
def test_unpaired_surrogate_in_one_field_does_not_hide_the_file(tmp_path, gz):
    """JSON allows "\\ud800"; DuckDB refuses it. One such value in a field an attacker controls (a user
    agent) kept every event of the file out of the store, with a misleading 'transaction aborted' message."""
    recs = incident_records()[:5]
    recs[2]["userAgent"] = "UA-MARK"
    body = json.dumps({"Records": recs}).replace('"UA-MARK"', '"ua \\ud800 x"', 1)
    assert "\\ud800" in body
    path = tmp_path / ("f.json.gz" if gz else "f.json")
    path.write_bytes(gzip.compress(body.encode()) if gz else body.encode())
    with trail.open(tmp_path / "t.duckdb") as t:
        res = t.load([path])
        assert res.events_inserted == 5 and res.files_failed == 0
        agents = set(t.sql("SELECT user_agent FROM events")["user_agent"])
        assert "ua \\ud800 x" in agents  # kept, as visible text
        errs = t.sql("SELECT code, message FROM load_errors")
    assert list(errs["code"]) == ["BadRecord"] and "Records[2]" in errs["message"][0]
    assert "surrogate" in errs["message"][0]


def test_a_record_the_store_refuses_fails_alone(monkeypatch, tmp_path):
    recs = incident_records()[:4]
    path = tmp_path / "f.json"
    write_records_file(path, recs)
    real = parse.record_text

    def poisoned(r):  # one record whose text the store cannot parse, whatever the reason
        text, changed = real(r)
        return (text[:-1] if r is recs_seen[1] else text), changed

    recs_seen: list = []
    real_read = parse.read_python

    def read(p):
        parsed = real_read(p)
        recs_seen[:] = parsed.records
        return parsed

    monkeypatch.setattr(parse, "record_text", poisoned)
    monkeypatch.setattr(parse, "read_python", read)
    monkeypatch.setattr(batch.Loader, "_load_fast", lambda self, kind, batch: [self._load_python(f) for f in batch])
    with trail.open(tmp_path / "t.duckdb") as t:
        res = t.load([path])
        assert res.events_inserted == 3 and res.files_failed == 0
        errs = t.sql("SELECT code, message FROM load_errors")
    assert list(errs["code"]) == ["BadRecord"] and "Records[1]" in errs["message"][0]
    assert "refused by the store" in errs["message"][0]
