"""Fast-path batches: files joined into parallel batch files keep their own records, whatever the order."""

from __future__ import annotations

import gzip
import json
import zlib

import pytest
from ctrecords import write_records_file
from hypothesis import given, settings
from hypothesis import strategies as st

import iamkit.trail as trail
from iamkit.trail import store
from iamkit.trail.sources import batch, classify


def _recs(i: int, k: int) -> list[dict]:
    return [
        {
            "eventID": f"f{i}-e{j}",
            "eventTime": "2024-03-01T00:00:00Z",
            "eventName": f"F{i}",
            "requestParameters": {"n": j, "nested": {"file": i}},
        }
        for j in range(k)
    ]


@given(st.binary(max_size=4096))
@settings(max_examples=50, deadline=None)
def test_stored_gzip_member_round_trips(data):
    assert gzip.decompress(batch._stored_gzip(data)) == data


def test_stored_gzip_members_concatenate_with_compressed_ones():
    name = 's3://b/AWSLogs/f"7".json.gz'
    joined = batch._wrap_head(name, True) + gzip.compress(b'{"Records": []}') + batch._WRAP_TAIL
    assert json.loads(gzip.decompress(joined)) == {"f": name, "d": {"Records": []}}
    assert zlib.decompressobj(wbits=31).decompress(batch._stored_gzip(b"abc")) == b"abc"


@pytest.mark.parametrize("parts", [1, 2, 3, 8])
def test_split_keeps_order_and_every_file(parts, tmp_path):
    infos = [
        batch.FileInfo(local=tmp_path / f"{i}", name=str(i), etag="", size=10, raw_size=(i % 5 + 1) * 100)
        for i in range(23)
    ]
    chunks = batch._split(infos, parts)
    assert 1 <= len(chunks) <= parts
    assert [n for c in chunks for n, _ in c] == list(range(1, 24))
    assert [f for c in chunks for _, f in c] == infos
    assert all(c for c in chunks)


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("parts", [1, 2, 5])
def test_each_record_keeps_its_file_in_parallel_batch_files(tmp_path, gz, parts):
    sizes = [3, 0, 5, 1, 4, 2, 6]
    paths = {}
    for i, k in enumerate(sizes):
        p = tmp_path / "in" / (f"f{i}.json.gz" if gz else f"f{i}.json")
        if i % 2 and not gz:  # pretty-printed: objects span lines
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(json.dumps({"Records": _recs(i, k)}, indent=2))
        else:
            write_records_file(p, _recs(i, k), gz=gz)
        paths[str(p)] = (i, k)
    con = store.connect()
    loader = batch.Loader(con)
    loader.parts = parts
    infos = [batch.local_file_info(p) for p in batch.discover([tmp_path / "in"])]
    res = loader.load_files(infos)
    assert (res.files_loaded, res.files_failed, res.events_inserted) == (len(sizes), 0, sum(sizes))
    rows = con.execute("SELECT path, records, kind FROM loaded_files").fetchall()
    assert {p: n for p, n, _ in rows} == {p: k for p, (_, k) in paths.items()}
    assert {kind for *_, kind in rows} == {"records"}
    got = con.execute("SELECT event_id, event_name, request_parameters FROM events").fetchall()
    for eid, name, rp in got:  # every record parsed with its own file's content
        i = int(eid.split("-")[0][1:])
        assert name == f"F{i}" and json.loads(rp)["nested"] == {"file": i}
    assert not list(tmp_path.glob("iamkit-batch-*"))


def test_odd_file_names_survive_the_batch_wrapper(tmp_path):
    """Names are JSON strings inside the batch files: quotes, backslashes, spaces and non-ASCII must survive."""
    names = ['a "quoted" name.json.gz', "back\\slash.json.gz", "naïve café 日本.json.gz", "plain.json.gz"]
    for i, n in enumerate(names):
        write_records_file(tmp_path / "in" / n, _recs(i, 2))
    db = tmp_path / "t.duckdb"
    res = trail.load([tmp_path / "in"], db)
    assert (res.files_loaded, res.events_inserted) == (4, 8)
    with trail.open(db) as t:
        got = dict(t.sql("SELECT source_file, count(*) FROM events GROUP BY 1").values.tolist())
    assert got == {str((tmp_path / "in" / n).resolve()): 2 for n in names}


@pytest.mark.parametrize("cut", [1, 4, 8, 12, 40])
def test_a_truncated_file_found_only_by_the_batch_read_is_isolated(tmp_path, monkeypatch, cut):
    """Past its first 4 KiB a delivery file is checked by DuckDB's read; bisection isolates it, temp files go."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    for i in range(4):
        write_records_file(tmp_path / "in" / f"f{i}.json.gz", _recs(i, 2))
    big = [{"eventID": f"b{j}", "eventName": "y" * 200} for j in range(100)]  # ~22 KiB of JSON
    (tmp_path / "in" / "f2b.json.gz").write_bytes(gzip.compress(json.dumps({"Records": big}).encode())[:-cut])
    res = trail.load([tmp_path / "in"], tmp_path / "t.duckdb")
    assert (res.files_loaded, res.files_failed, res.events_inserted) == (4, 1, 8)
    assert res.errors.message.iloc[0].startswith("truncated gzip")
    assert list((tmp_path / "tmp").iterdir()) == []


def test_repeats_inside_one_batch_are_kept_once_the_earliest(tmp_path):
    a = [{"eventID": "same", "eventTime": "2024-03-01T00:00:05Z", "eventName": "Later"}]
    b = [
        {"eventID": "same", "eventTime": "2024-03-01T00:00:01Z", "eventName": "Earlier"},
        {"eventID": "other", "eventTime": "2024-03-01T00:00:02Z", "eventName": "X"},
    ]
    write_records_file(tmp_path / "in" / "a.json.gz", a)
    write_records_file(tmp_path / "in" / "b.json.gz", b)
    res = trail.load([tmp_path / "in"], tmp_path / "t.duckdb")
    assert (res.records_read, res.events_inserted) == (3, 2)
    with trail.open(tmp_path / "t.duckdb") as t:
        names = dict(t.sql("SELECT event_id, event_name FROM events").values.tolist())
    assert names == {"same": "Earlier", "other": "X"}


def test_small_file_classification_agrees_with_the_full_look(tmp_path):
    big = [{"eventID": f"e{i}", "eventName": "x" * 300} for i in range(40)]  # > 4 KiB head
    cases = {
        "records": {"Records": big},
        "insights": {"Records": [{"eventType": "AwsCloudTrailInsight", "eventID": "i"}]},
        "digest": {"awsAccountId": "1", "digestStartTime": "x", "digestEndTime": "y"},
        "lookup": {"Events": [{"EventId": "1", "CloudTrailEvent": "{}"}]},
        "array": big,
    }
    for kind, obj in cases.items():
        data = gzip.compress(json.dumps(obj).encode())
        p = tmp_path / f"{kind}.json.gz"
        p.write_bytes(data)
        assert classify._classify_small(p, data)[0] == classify.classify(p) == kind


def test_object_limit_fits_the_batch_or_falls_back_to_the_maximum(tmp_path):
    def info(raw: int) -> batch.FileInfo:
        return batch.FileInfo(local=tmp_path, name="x", etag="", size=10, raw_size=raw)

    assert batch._object_limit([info(1000), info(5000)]) == 64 * 2**20
    assert batch._object_limit([info(100 * 2**20)]) == 200 * 2**20 + 4096
    assert batch._object_limit([info(1000), info(0)]) == batch.MAX_OBJECT_SIZE  # size unknown
    assert batch._object_limit([info(2**31)]) == batch.MAX_OBJECT_SIZE


def test_a_file_larger_than_the_batch_object_limit_is_read_on_its_own(tmp_path, monkeypatch):
    """ISIZE can understate a multi-member gzip: the batch fails, bisection reads the file alone, all loads."""
    monkeypatch.setattr(batch, "_object_limit", lambda files: 2000)
    sizes = [1, 2, 40, 3]  # the 40-record file is far above 2000 bytes
    for i, k in enumerate(sizes):
        write_records_file(tmp_path / "in" / f"f{i}.json.gz", _recs(i, k))
    res = trail.load([tmp_path / "in"], tmp_path / "t.duckdb")
    assert (res.files_loaded, res.files_failed, res.events_inserted) == (4, 0, sum(sizes))
    with trail.open(tmp_path / "t.duckdb") as t:
        counts = dict(t.sql("SELECT path, records FROM loaded_files").values.tolist())
    assert sorted(counts.values()) == sorted(sizes)


@pytest.mark.parametrize(("free_mib", "want_mib"), [(512, 64), (4096, 128), (8192, 256), (65536, 512)])
def test_batch_size_follows_the_memory_available(monkeypatch, free_mib, want_mib):
    monkeypatch.delenv(batch.BATCH_ENV, raising=False)
    pages = {"SC_AVPHYS_PAGES": free_mib * 256, "SC_PAGE_SIZE": 4096}
    monkeypatch.setattr(batch.os, "sysconf", lambda name: pages[name])
    assert batch.batch_bytes() == want_mib * 2**20


def test_batch_size_from_the_environment_and_its_errors(monkeypatch):
    from iamkit.errors import BadInput

    monkeypatch.setenv(batch.BATCH_ENV, "32")
    assert batch.batch_bytes() == 32 * 2**20
    for bad, msg in (("lots", "whole number"), ("4", "between 8 and 8192")):
        monkeypatch.setenv(batch.BATCH_ENV, bad)
        with pytest.raises(BadInput, match=msg):
            batch.batch_bytes()


def test_small_batches_load_the_same_events(tmp_path, monkeypatch):
    """Whatever the batch size, the same events and per-file counts land in the store."""
    for i, k in enumerate([5, 3, 8, 1, 6]):
        write_records_file(tmp_path / "in" / f"f{i}.json.gz", _recs(i, k))
    got = {}
    for size in (2000, 10**9):  # one file per batch (each above 2000 bytes) / everything in one batch
        monkeypatch.setattr(batch, "BATCH_BYTES", size)
        db = tmp_path / f"t{size}.duckdb"
        res = trail.load([tmp_path / "in"], db)
        assert (res.files_loaded, res.events_inserted) == (5, 23)
        with trail.open(db) as t:
            got[size] = (
                t.sql("SELECT * EXCLUDE (source_file) FROM events ORDER BY event_id").values.tolist(),
                sorted(t.sql("SELECT path, records FROM loaded_files").values.tolist()),
            )
    assert got[2000] == got[10**9]
