"""Remote sources: s3:// org and single-account trails on the local moto server; lookup: with botocore Stubber."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import boto3
import pytest
from botocore.stub import Stubber
from ctrecords import ALICE, iam_user, rec
from hypothesis import given
from hypothesis import strategies as st

import iamkit.trail as trail
from iamkit.errors import BadInput
from iamkit.trail.sources import classify, lookup
from iamkit.trail.sources import s3 as s3_source
from iamkit.window import Window

ORG = "o-abcdef1234"
ACCOUNTS = ["111111111111", "222222222222", "333333333333"]
REGIONS = ["us-east-1", "eu-west-1"]
DAYS = [dt.date(2024, 3, 1), dt.date(2024, 3, 2), dt.date(2024, 3, 5)]


def _put_trail(s3, bucket: str, org: str | None = ORG) -> dict[str, str]:
    """One file per account/region/day (2 events each) plus digests; returns key -> first event id."""
    s3.create_bucket(Bucket=bucket)
    keys = {}
    base = f"AWSLogs/{org}/" if org else "AWSLogs/"
    for acct in ACCOUNTS:
        for region in REGIONS:
            for day in DAYS:
                t = f"{day:%Y-%m-%d}T12:00:00Z"
                recs = [
                    rec(
                        "ListUsers",
                        "iam.amazonaws.com",
                        iam_user(ALICE, "AKIAAAAAAAAAAAAAAAA1", acct),
                        t,
                        account=acct,
                        region=region,
                        event_id=f"{acct}-{region}-{day}-{i}",
                    )
                    for i in range(2)
                ]
                key = (
                    f"{base}{acct}/CloudTrail/{region}/{day:%Y/%m/%d}/"
                    f"{acct}_CloudTrail_{region}_{day:%Y%m%d}T1200Z_abc.json.gz"
                )
                s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(json.dumps({"Records": recs}).encode()))
                keys[key] = recs[0]["eventID"]
                digest = (
                    f"{base}{acct}/CloudTrail-Digest/{region}/{day:%Y/%m/%d}/"
                    f"{acct}_CloudTrail-Digest_{region}_x_{day:%Y%m%d}T1200Z.json.gz"
                )
                s3.put_object(Bucket=bucket, Key=digest, Body=gzip.compress(b'{"digestStartTime": "x"}'))
    return keys


class _Calls:
    """Counts S3 operations and the prefixes listed (to prove pruning happens before download)."""

    def __init__(self, client):
        self.ops: list[tuple[str, dict]] = []
        client.meta.events.register("provide-client-params.s3.*", self._hook)

    def _hook(self, params, model, **kw):
        self.ops.append((model.name, dict(params)))

    def count(self, name: str) -> int:
        return sum(op == name for op, _ in self.ops)


def test_org_trail_pruned_before_download(s3, tmp_path):
    _put_trail(s3, "org-logs")
    calls = _Calls(s3)
    res = trail.load(
        ["s3://org-logs/AWSLogs/"],
        tmp_path / "t.duckdb",
        s3_client=s3,
        accounts=["222222222222"],
        regions=["eu-west-1"],
        start="2024-03-01",
        end="2024-03-02",
    )
    assert res.files_failed == 0
    assert res.files_loaded == 2 and res.events_inserted == 4
    assert calls.count("GetObject") == 2  # only the two matching day files were fetched
    listed = [p.get("Prefix", "") for op, p in calls.ops if op == "ListObjectsV2"]
    assert not any("/111111111111/" in p or "/333333333333/" in p for p in listed)
    assert not any("/us-east-1/" in p or "CloudTrail-Digest" in p for p in listed)
    assert not any(p.endswith("/05/") for p in listed)
    with trail.open(tmp_path / "t.duckdb") as t:
        names = list(t.loaded_files.path)
        assert all(n.startswith("s3://org-logs/AWSLogs/o-abcdef1234/222222222222/CloudTrail/eu-west-1/") for n in names)
        assert set(t.events().recipient_account_id) == {"222222222222"}
        assert t.loaded_files.etag.str.len().min() > 0
        per_object = dict(t.sql("SELECT source_file, count(*) FROM events GROUP BY 1").values.tolist())
        assert per_object == dict(t.loaded_files[["path", "records"]].values.tolist())  # the S3 object, not a temp file


def test_single_account_trail_whole_bucket_and_incremental(s3, tmp_path):
    keys = _put_trail(s3, "acct-logs", org=None)
    db = tmp_path / "t.duckdb"
    calls = _Calls(s3)
    res = trail.load(["s3://acct-logs"], db, s3_client=s3)
    assert res.files_loaded == len(keys) and res.events_inserted == 2 * len(keys)
    assert res.digests == 0  # digest folders are pruned by name before listing their files
    first_gets = calls.count("GetObject")
    again = trail.load(["s3://acct-logs/"], db, s3_client=s3)
    assert again.files_skipped == len(keys) and again.files_loaded == 0
    assert calls.count("GetObject") == first_gets  # nothing downloaded the second time


def test_s3_single_object_and_missing_bucket(s3, tmp_path):
    keys = _put_trail(s3, "one-logs")
    key = next(iter(keys))
    res = trail.load([f"s3://one-logs/{key}"], tmp_path / "t.duckdb", s3_client=s3)
    assert (res.files_loaded, res.events_inserted) == (1, 2)
    missing = trail.load(["s3://no-such-bucket/AWSLogs/"], tmp_path / "t.duckdb", s3_client=s3)
    assert missing.errors.code.tolist() == ["NoSuchBucket"]


def test_s3_uses_aws_endpoint_url_without_an_explicit_client(s3, tmp_path):
    _put_trail(s3, "env-logs")
    res = trail.load(["s3://env-logs/AWSLogs/o-abcdef1234/333333333333/"], tmp_path / "t.duckdb", regions=["us-east-1"])
    assert res.files_loaded == 3 and res.events_inserted == 6


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://b", ("b", "")),
        ("s3://b/", ("b", "")),
        ("s3://b/AWSLogs", ("b", "AWSLogs/")),
        ("s3://b/x/AWSLogs/o-1/", ("b", "x/AWSLogs/o-1/")),
        ("s3://b/k/f.json.gz", ("b", "k/f.json.gz")),
    ],
)
def test_parse_s3_uri(uri, expected):
    assert s3_source.parse_s3_uri(uri) == expected


def test_walk_state_from_a_deep_prefix():
    st = classify.layout_state("logs/AWSLogs/o-abcdef1234/111111111111/CloudTrail/us-east-1/2024/03/")
    assert (st["level"], st["account"], st["region"], st["y"], st["m"]) == (
        "month",
        "111111111111",
        "us-east-1",
        2024,
        3,
    )


@given(
    start=st.dates(dt.date(2020, 1, 1), dt.date(2026, 12, 31)),
    span=st.integers(0, 400),
    probe=st.dates(dt.date(2019, 6, 1), dt.date(2027, 12, 31)),
)
def test_property_pruning_never_drops_a_day_in_the_window(start, span, probe):
    end = start + dt.timedelta(days=span)
    w = Window(
        start=dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC),
        end=dt.datetime(end.year, end.month, end.day, 23, 59, tzinfo=dt.UTC),
    )
    inside = start - dt.timedelta(days=1) <= probe <= end + dt.timedelta(days=1)
    assert w.day_ok(probe.year, probe.month, probe.day) == inside
    if inside:  # a folder holding a kept day is never pruned higher up
        assert w.day_ok(probe.year, probe.month) and w.day_ok(probe.year)


def test_window_day_pruning_has_a_day_of_margin():
    w = Window(start=dt.datetime(2024, 3, 2, tzinfo=dt.UTC), end=dt.datetime(2024, 3, 3, tzinfo=dt.UTC))
    assert w.day_ok(2024, 3, 1) and w.day_ok(2024, 3, 4)
    assert not w.day_ok(2024, 2, 28) and not w.day_ok(2024, 3, 5)
    assert w.day_ok(2024, 3) and not w.day_ok(2024, 1) and not w.day_ok(2023)
    assert Window().day_ok(1999, 1, 1)


# ---------------------------------------------------------------- lookup:


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def _lookup_event(i: int) -> dict:
    r = rec(
        "ConsoleLogin", "signin.amazonaws.com", iam_user(ALICE, None), f"2024-03-01T09:{i:02d}:00Z", event_id=f"lk-{i}"
    )
    return {"EventId": r["eventID"], "EventName": r["eventName"], "CloudTrailEvent": json.dumps(r)}


def test_pacer_allows_two_calls_per_second_per_region():
    fc = FakeClock()
    p = lookup.Pacer(clock=fc.clock, sleep=fc.sleep)
    for _ in range(3):
        p.wait("us-east-1")
    p.wait("eu-west-1")
    assert fc.sleeps == [0.5, 0.5]


def test_lookup_pages_paces_and_sends_one_attribute():
    client = boto3.client("cloudtrail", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    attr = {"AttributeKey": "Username", "AttributeValue": "dev-alice"}
    with Stubber(client) as stub:
        stub.add_response(
            "lookup_events",
            {"Events": [_lookup_event(0), _lookup_event(1)], "NextToken": "t1"},
            {"LookupAttributes": [attr], "MaxResults": 50},
        )
        stub.add_response(
            "lookup_events",
            {"Events": [_lookup_event(2)]},
            {"LookupAttributes": [attr], "MaxResults": 50, "NextToken": "t1"},
        )
        fc = FakeClock()
        out = list(
            lookup.lookup_events(
                lambda r: client, ["us-east-1"], attribute=attr, pacer=lookup.Pacer(clock=fc.clock, sleep=fc.sleep)
            )
        )
        stub.assert_no_pending_responses()
    assert [r["eventID"] for _, r, _ in out] == ["lk-0", "lk-1", "lk-2"]
    assert fc.sleeps == [0.5]


def test_lookup_throttling_is_listed_and_other_regions_go_on():
    east = boto3.client("cloudtrail", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    west = boto3.client("cloudtrail", region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(east) as s1, Stubber(west) as s2:
        s1.add_client_error("lookup_events", service_error_code="ThrottlingException", service_message="Rate exceeded")
        s2.add_response("lookup_events", {"Events": [_lookup_event(5)]})
        fc = FakeClock()
        out = list(
            lookup.lookup_events(
                {"us-east-1": east, "us-west-2": west}.get,
                ["us-east-1", "us-west-2"],
                pacer=lookup.Pacer(clock=fc.clock, sleep=fc.sleep),
            )
        )
    errors = [e for _, _, e in out if e]
    assert errors[0]["code"] == "ThrottlingException" and errors[0]["region"] == "us-east-1"
    assert [r["eventID"] for _, r, _ in out if r] == ["lk-5"]


def test_load_lookup_source_into_the_store(tmp_path):
    client = boto3.client("cloudtrail", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")

    class Session:
        region_name = "eu-west-1"

        def client(self, name, region_name=None):
            assert (name, region_name) == ("cloudtrail", "eu-west-1")
            return client

    with Stubber(client) as stub:
        stub.add_response(
            "lookup_events",
            {"Events": [_lookup_event(i) for i in range(3)]},
            {"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "ConsoleLogin"}], "MaxResults": 50},
        )
        fc = FakeClock()
        res = trail.load(
            ["lookup:eu-west-1?EventName=ConsoleLogin"],
            tmp_path / "t.duckdb",
            session=Session(),
            pacer=lookup.Pacer(clock=fc.clock, sleep=fc.sleep),
        )
    assert res.events_inserted == 3
    with trail.open(tmp_path / "t.duckdb") as t:
        assert set(t.events().event_name) == {"ConsoleLogin"}


@pytest.mark.parametrize("spec", ["lookup:?Foo=bar", "lookup:us-east-1?Username"])
def test_bad_lookup_specs(spec):
    with pytest.raises(BadInput, match="lookup attribute"):
        lookup.parse_lookup_spec(spec)


def test_lookup_spec_parsing():
    assert lookup.parse_lookup_spec("lookup:") == {"regions": [], "attribute": None}
    assert lookup.parse_lookup_spec("lookup:us-east-1,eu-west-1?AccessKeyId=AKIA1") == {
        "regions": ["us-east-1", "eu-west-1"],
        "attribute": {"AttributeKey": "AccessKeyId", "AttributeValue": "AKIA1"},
    }
