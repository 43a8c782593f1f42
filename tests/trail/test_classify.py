"""Files are classified by their structure, never by a substring: a trail file cannot pass for a digest,
and every file that is not read is listed with its reason."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from ctrecords import incident_records, write_records_file
from hypothesis import given, settings
from hypothesis import strategies as st

import iamkit.trail as trail
from iamkit.errors import TrailError
from iamkit.trail.sources import classify
from iamkit.window import Window, parse_time

DIGEST = {
    "awsAccountId": "111111111111",
    "digestStartTime": "2024-03-01T09:00:00Z",
    "digestEndTime": "2024-03-01T10:00:00Z",
    "digestS3Bucket": "logs",
    "digestS3Object": "x.json.gz",
    "digestPublicKeyFingerprint": "ab",
    "digestSignatureAlgorithm": "SHA256withRSA",
    "previousDigestSignature": "cd",
    "logFiles": [{"s3Bucket": "logs", "s3Object": "Records.json.gz"}],
}

SHAPES = {  # text -> kind
    json.dumps({"Records": [{"eventID": "a", "eventTime": "2024-03-01T00:00:00Z"}]}): "records",
    json.dumps(DIGEST): "digest",
    json.dumps({"Records": [{"eventID": "a", "requestParameters": DIGEST}]}): "records",
    json.dumps({**DIGEST, "Records": [{"eventID": "a"}]}): "records",
    json.dumps({"eventID": "a", "eventName": "X", "digestStartTime": "x"}): "single",
    json.dumps({"Records": [{"eventType": "AwsCloudTrailInsight", "eventID": "i"}]}): "insights",
    json.dumps({"Records": None}): "irregular",
    json.dumps({"Events": [{"EventId": "1", "CloudTrailEvent": "{}"}]}): "lookup",
    json.dumps([{"EventId": "1", "CloudTrailEvent": "{}"}]): "lookup",
    json.dumps([{"eventID": "1", "nested": {"CloudTrailEvent": "{}"}}]): "array",
    json.dumps([1, {"eventID": "1"}]): "array",
    "[]": "array",
    json.dumps({"eventID": "1"}) + "\n" + json.dumps({"eventID": "2"}): "jsonl",
    json.dumps({"eventID": "1", "x": [1, {"Records": [2]}]}, indent=2): "single",
    json.dumps({"hello": "world", "s": '"Records": [', 'digestStartTime"': 1}): "unknown",
    '{"Rec\\u006frds": [{"eventID": "a"}]}': "records",  # a key spelled with an escape is the same key
    '\ufeff{"Records": []}': "records",
    " \n\t": "empty",
}


def test_every_shape_from_its_structure(tmp_path):
    for i, (text, kind) in enumerate(SHAPES.items()):
        for gz in (False, True):
            data = gzip.compress(text.encode()) if gz else text.encode()
            p = tmp_path / f"f{i}{'.json.gz' if gz else '.json'}"
            p.write_bytes(data)
            assert classify.classify(p) == kind, text
            assert classify._classify_small(p, data)[0] == kind, text


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(0, 400), max_size=12), which=st.sampled_from(sorted(SHAPES)))
def test_property_the_verdict_does_not_depend_on_how_the_bytes_are_cut(cuts, which):
    """Chunk boundaries inside strings, escapes and keys change nothing (the scanner keeps its state)."""
    data = which.encode()
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    assert classify._classify(p for p in pieces if p)[0] == SHAPES[which]


@pytest.mark.parametrize("text", ["<html>", "{broken", '{"a": 1', "5"])
def test_what_is_not_json_is_an_error_not_a_skip(tmp_path, text):
    p = tmp_path / "x.json"
    p.write_text(text)
    with pytest.raises(TrailError, match="JSON"):
        classify.classify(p)


def test_a_trail_file_cannot_hide_as_a_digest(tmp_path):
    """Regression: a record whose requestParameters hold "digestStartTime" (in the first 64 KB) was taken
    for a digest and skipped with exit 0. Now it loads; a real digest beside it is skipped and listed."""
    recs = incident_records()[:5]
    recs[0]["requestParameters"] = {
        "digestStartTime": "2024-03-01T00:00:00Z",
        "digestEndTime": "x",
        "previousDigestSignature": "y",
    }
    hostile = write_records_file(tmp_path / "in" / "hostile.json.gz", recs)
    (tmp_path / "in" / "digest.json.gz").write_bytes(gzip.compress(json.dumps(DIGEST).encode()))
    res = trail.load([tmp_path / "in"], tmp_path / "t.duckdb")
    assert (res.files_loaded, res.events_inserted, res.digests) == (1, 5, 1)
    assert res.skipped[["kind"]].values.tolist() == [["digest"]]
    assert Path(res.skipped.path.iloc[0]).name == "digest.json.gz"
    with trail.open(tmp_path / "t.duckdb") as t:
        kinds = dict(t.sql("SELECT path, kind FROM loaded_files").values.tolist())
    assert kinds[str(hostile)] == "records"


def test_digest_keys_far_down_a_big_file_do_not_decide_it(tmp_path):
    """Top-level digest keys, then megabytes, then Records: the scan goes on (linearly) and finds them."""
    recs = incident_records()[:3]
    doc = {"digestStartTime": "x", "digestEndTime": "y", "padding": "z" * 3_000_000, "Records": recs}
    p = tmp_path / "big.json.gz"
    p.write_bytes(gzip.compress(json.dumps(doc).encode()))
    assert classify.classify(p) == "records"
    res = trail.load([p], tmp_path / "t.duckdb")
    assert (res.files_loaded, res.events_inserted) == (1, 3)


def test_every_skipped_file_is_listed_with_its_reason(tmp_path, capsys):
    from iamkit.cli import main

    folder = tmp_path / "AWSLogs" / "111111111111" / "CloudTrail" / "us-east-1" / "2024" / "03" / "01"
    recs = incident_records()
    inside = write_records_file(folder / "111111111111_CloudTrail_us-east-1_20240301T1015Z_abc.json.gz", recs)
    early = write_records_file(folder / "111111111111_CloudTrail_us-east-1_20240301T0200Z_def.json.gz", recs[:2])
    (folder / "digest.json").write_text(json.dumps(DIGEST))
    (folder / "empty.json").write_text("\n")
    (folder / "other.json").write_text(json.dumps({"config": True}))
    db = tmp_path / "t.duckdb"
    args = [
        "trail",
        "load",
        str(tmp_path / "AWSLogs"),
        "--db",
        str(db),
        "--start",
        "2024-03-01T10:00:00Z",
        "--format",
        "json",
    ]
    with pytest.raises(SystemExit) as e:
        main(args)
    out = capsys.readouterr()
    row = json.loads(out.out)[0]
    assert e.value.code == 0 and row["files_loaded"] == 1 and row["files_skipped"] == 4
    why = {Path(s["path"]).name: (s["kind"], s["reason"]) for s in row["skipped_files"]}
    assert why[early.name][0] == "outside-window" and "2024-03-01T02:00Z" in why[early.name][1]
    assert why["digest.json"][0] == "digest" and why["empty.json"][0] == "empty"
    assert why["other.json"][0] == "unknown" and "config" in why["other.json"][1]
    assert "4 file(s) skipped" in out.err
    with pytest.raises(SystemExit):  # the same load again: the read file is now skipped as already loaded
        main(args)
    again = json.loads(capsys.readouterr().out)[0]
    why = {Path(s["path"]).name: s["kind"] for s in again["skipped_files"]}
    assert why[inside.name] == "loaded" and again["files_unchanged"] == 1 and again["files_loaded"] == 0


def test_delivery_time_from_cloudtrail_names_only():
    assert (
        classify.delivery_time(
            "s3://b/AWSLogs/1/CloudTrail/us-east-1/2024/03/01/"
            "111111111111_CloudTrail_us-east-1_20240301T1015Z_AbC123.json.gz"
        ).isoformat()
        == "2024-03-01T10:15:00+00:00"
    )
    assert classify.delivery_time("111111111111_CloudTrail-Insight_eu-west-1_20240301T1015Z_x.json.gz") is not None
    for name in (
        "notes_20240301T1015Z_x.json.gz",
        "111111111111_CloudTrail_us-east-1_20241301T1015Z_x.json.gz",
        "a.json",
    ):
        assert classify.delivery_time(name) is None
    w = Window(start=parse_time("2024-03-01T10:00:00Z"), end=parse_time("2024-03-01T12:00:00Z"))
    ok = [parse_time(t) for t in ("2024-03-01T09:00:00Z", "2024-03-01T12:30:00Z", "2024-03-02T12:00:00Z")]
    out = [parse_time(t) for t in ("2024-03-01T08:59:00Z", "2024-03-02T12:01:00Z")]
    assert all(classify.delivery_ok(w, t) for t in ok) and not any(classify.delivery_ok(w, t) for t in out)
