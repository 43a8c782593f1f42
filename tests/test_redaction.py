"""Secrets CloudTrail can carry (session tokens, secret keys, passwords, at any depth of a record's request,
response and additional data) never reach the store, its Parquet cache, frames or a case folder; a
sha256 of each original is kept in its place. Raw copies in a case are redacted from the same list."""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import iamkit.trail as trail
from iamkit.investigate.access_key import redact_raw_files
from iamkit.trail import store

SECRETS = {
    "session token": "IQoJb3JpZ2luX2VjSESSIONTOKEN1+/=",
    "secret key": "wJalrXUtnFEMI/K7MDENG/SECRETKEY1",
    "sso secret": "SSOSECRETACCESSKEYVALUE2",
    "sso token": "SSOSESSIONTOKENVALUE2",
    "new key secret": "CREATEACCESSKEYSECRET3",
    "additional token": "ADDITIONALDATASESSIONTOKEN4",
    "password": "Hunter2-PASSWORD-5",
    "new password": "NewPassw0rd-6",
    "old password": "OldPassw0rd-7",
    "deep password": 'Deep"Quoted\\Password-8',
    "upper password": "UPPERCASEPASSWORD9",
    "escaped key token": "ESCAPEDKEYSESSIONTOKEN10",
    "object secret": "OBJECTUNDERPASSWORD11",
    "number secret": 98765432109876,
}
CANARY = "CanaryVisibleUserAgentValue42"  # a plain value in the same records: must be found where secrets are not


def _record(event_id: str) -> dict:
    """An AssumeRole-like record with every secret field CloudTrail can carry, at odd depths and spellings."""
    return {
        "eventVersion": "1.09",
        "eventTime": "2024-03-01T10:00:00Z",
        "eventSource": "sts.amazonaws.com",
        "eventName": "AssumeRole",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.66",
        "userAgent": CANARY,
        "eventID": event_id,
        "recipientAccountId": "111111111111",
        "userIdentity": {
            "type": "IAMUser",
            "arn": "arn:aws:iam::111111111111:user/dev-alice",
            "accountId": "111111111111",
            "accessKeyId": "AKIAOLDLEAKEDKEY0001",
        },
        "requestParameters": {
            "userName": "bob",
            "password": SECRETS["password"],
            "newPassword": SECRETS["new password"],
            "oldPassword": SECRETS["old password"],
            "nested": [{"x": 1}, {"deeper": {"Password": SECRETS["deep password"]}}],
            "PASSWORD": SECRETS["upper password"],
            "masked": {"password": "HIDDEN_DUE_TO_SECURITY_REASONS"},
            "odd": {"password": {"value": SECRETS["object secret"]}},
        },
        "responseElements": {
            "credentials": {
                "accessKeyId": "ASIAKEEPTHISKEYID001",
                "sessionToken": SECRETS["session token"],
                "secretAccessKey": SECRETS["secret key"],
                "expiration": "soon",
            },
            "roleCredentials": {
                "accessKeyId": "ASIAKEEPTHISKEYID002",
                "secretAccessKey": SECRETS["sso secret"],
                "sessionToken": SECRETS["sso token"],
            },
            "accessKey": {"accessKeyId": "AKIAKEEPTHISKEYID003", "secretAccessKey": SECRETS["new key secret"]},
            "ESCAPEDKEY": SECRETS["escaped key token"],
        },
        "additionalEventData": {
            "SessionToken": SECRETS["additional token"],
            "deep": [{"k": {"secretKey": SECRETS["number secret"]}}],
        },
    }


def _text(records: list[dict]) -> str:
    """The records as a delivery file's JSON, with one key spelled with an escape (``session\\u0054oken``)."""
    return json.dumps({"Records": records}).replace('"ESCAPEDKEY"', '"session\\u0054oken"')


def _secret_texts() -> list[bytes]:
    out = []
    for v in SECRETS.values():
        s = str(v)
        out += [s.encode(), json.dumps(s)[1:-1].encode()]  # as stored, and as escaped in JSON text
    return out


def _assert_clean(blob: bytes, where: str) -> None:
    for s in _secret_texts():
        assert s not in blob, f"{s!r} found in {where}"


def _write_sources(folder: Path) -> None:
    """Every load path: a batch of delivery files (joined), one array file (read alone), LookupEvents output."""
    folder.mkdir(parents=True)
    for i in range(2):
        (folder / f"d{i}.json.gz").write_bytes(gzip.compress(_text([_record(f"batch-{i}")]).encode()))
    (folder / "array.json").write_text(_text([_record("array")])[len('{"Records": ') : -1])
    lookup = {
        "Events": [{"EventId": "lookup", "CloudTrailEvent": _text([_record("lookup")])[len('{"Records": [') : -2]}]
    }
    (folder / "lookup.json").write_text(json.dumps(lookup))


def test_no_secret_reaches_the_store_the_cache_frames_or_a_case_folder(tmp_path):
    case = tmp_path / "cases" / "c-1"
    raw = case / "evidence" / "cloudtrail"
    _write_sources(raw)  # raw copies kept in the case, as load_trail keeps S3 downloads
    (case / "case.yaml").write_text("id: c-1\n")
    db = case / "trail.duckdb"
    with trail.open(db) as t:
        t.con.execute("SET force_compression = 'uncompressed'")  # so a byte search of the file means something
        res = t.load([raw])
        assert res.files_failed == 0 and res.events_inserted == 4, res.error_rows
        store.insert_records(t.con, json.loads(_text([_record("api")]))["Records"])
        t.con.execute("CHECKPOINT")
        frame = t.events()
        dumps = [
            t.con.execute(f'SELECT * FROM "{name}"').df().to_json()
            for (name,) in t.con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'trail'"
            ).fetchall()
        ]
        cached = t.cache(tmp_path / "cache" / "events.parquet")
        cached.close()
    assert len(frame) == 5 and frame.user_agent.eq(CANARY).all()
    redactions = redact_raw_files(raw)
    assert sorted(r["file"] for r in redactions) == ["array.json", "d0.json.gz", "d1.json.gz", "lookup.json"]

    _assert_clean(frame.to_json().encode(), "the events frame")
    for d in dumps:
        _assert_clean(d.encode(), "a table of the store")
    blob = db.read_bytes()
    assert CANARY.encode() in blob  # the search can see stored text
    _assert_clean(blob, "the DuckDB file")
    pq = (tmp_path / "cache" / "events.parquet").read_bytes()
    _assert_clean(pq, "the Parquet cache")
    frame.drop(columns=["event_time"]).to_json(case / "evidence" / "key-events.json")
    for f in case.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            _assert_clean(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data, str(f))

    row = frame.set_index("event_id").loc["batch-0"]
    mark = store.redaction_mark
    assert row.response_elements["credentials"] == {
        "accessKeyId": "ASIAKEEPTHISKEYID001",
        "sessionToken": mark(SECRETS["session token"]),
        "secretAccessKey": mark(SECRETS["secret key"]),
        "expiration": "soon",
    }
    assert row.response_elements["sessionToken"] == mark(SECRETS["escaped key token"])
    assert row.request_parameters["nested"][1]["deeper"]["Password"] == mark(SECRETS["deep password"])
    assert row.request_parameters["masked"] == {"password": "HIDDEN_DUE_TO_SECURITY_REASONS"}
    assert row.request_parameters["odd"]["password"] == mark({"value": SECRETS["object secret"]})
    assert row.additional_event_data["deep"][0]["k"]["secretKey"] == mark(SECRETS["number secret"])
    assert mark("x") == f"<redacted:sha256:{hashlib.sha256(b'x').hexdigest()}>"
    by_id = frame.set_index("event_id")
    for eid in ("batch-1", "array", "lookup", "api"):  # every path stores the same redacted subtrees
        for col in ("request_parameters", "response_elements", "additional_event_data"):
            assert by_id.loc[eid, col] == row[col], (eid, col)
    raw_doc = json.loads(gzip.decompress((raw / "d0.json.gz").read_bytes()))
    assert raw_doc["Records"][0]["responseElements"] == row.response_elements  # raw copies: the same marks


def test_raw_copies_keep_the_original_hash_and_are_left_alone_without_secrets(tmp_path):
    rec_ = {
        "Records": [
            {
                "eventName": "AssumeRole",
                "responseElements": {
                    "credentials": {
                        "accessKeyId": "ASIAEXAMPLE",
                        "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLETOKEN//+=",
                        "expiration": "x",
                    }
                },
            }
        ]
    }
    raw = gzip.compress(json.dumps(rec_).encode())
    (tmp_path / "a.json.gz").write_bytes(raw)
    plain = json.dumps({"Records": [{"eventName": "GetObject", "requestParameters": {"key": "password.txt"}}]})
    (tmp_path / "b.json").write_text(plain)
    (tmp_path / "c.json.gz").write_bytes(raw[:20])  # truncated: left as received
    lines = (
        "\n".join(json.dumps(r) for r in [{"eventID": "1", "requestParameters": {"password": "p1"}}, {"eventID": "2"}])
        + "\nnot json\n"
    )
    (tmp_path / "d.jsonl").write_text(lines)
    out = redact_raw_files(tmp_path)
    assert [o["file"] for o in out] == ["a.json.gz", "d.jsonl"]
    assert out[0]["original_sha256"] == hashlib.sha256(raw).hexdigest()
    text = gzip.decompress((tmp_path / "a.json.gz").read_bytes()).decode()
    assert (
        "EXAMPLETOKEN" not in text
        and json.loads(text)["Records"][0]["responseElements"]["credentials"]["accessKeyId"] == "ASIAEXAMPLE"
    )
    assert (tmp_path / "b.json").read_text() == plain  # nothing secret: untouched, byte for byte
    assert (tmp_path / "c.json.gz").read_bytes() == raw[:20]
    d = (tmp_path / "d.jsonl").read_text().splitlines()
    assert "p1" not in d[0] and d[1:] == ['{"eventID": "2"}', "not json"]
    assert redact_raw_files(tmp_path) == []  # idempotent


_key = st.sampled_from(
    [
        "sessionToken",
        "SessionToken",
        "secretAccessKey",
        "password",
        "Password",
        "newPassword",
        "accessToken",
        "userName",
        "roleArn",
        "value",
        "credentials",
        "x",
    ]
)
_scalar = st.one_of(st.text(max_size=12), st.integers(-(10**6), 10**6), st.booleans(), st.none())
_tree = st.recursive(
    _scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_key, inner, max_size=4)),
    max_leaves=14,
)


@settings(max_examples=80, deadline=None)
@given(tree=st.dictionaries(_key, _tree, min_size=1, max_size=4))
def test_property_the_store_redacts_exactly_as_the_python_walk(tree):
    """Two implementations (SQL for string values at load speed, Python for raw copies and odd values)
    give the same result on any nesting of secret and plain keys."""
    con = duckdb.connect()
    try:
        store.insert_records(con, [{"eventID": "p", "eventTime": "2024-03-01T00:00:00Z", "responseElements": tree}])
        got = json.loads(con.execute("SELECT response_elements FROM events").fetchone()[0])
    finally:
        con.close()
    want = copy.deepcopy(tree)
    store.redact_secrets(want)
    assert got == want


@pytest.mark.parametrize(
    "text",
    ['{"a": {"session\\u0054oken": "s3cr3t"}}', '{"PassWord": ["s3cr3t"]}', '{"x": [[{"refreshToken": "s3cr3t"}]]}'],
)
def test_odd_spellings_and_shapes(text):
    con = duckdb.connect()
    store.insert_records(con, [{"eventID": "o", "requestParameters": json.loads(text)}])
    stored = con.execute("SELECT request_parameters FROM events").fetchone()[0]
    assert "s3cr3t" not in stored and "<redacted:sha256:" in stored
    con.close()
