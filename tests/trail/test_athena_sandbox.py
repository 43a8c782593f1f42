"""The Athena back end end to end against the sandbox's Athena (moto, results seeded through its
``/moto-api/static/athena/query-results``): ``AthenaTrail`` (events, timeline, sql, hunt), the CLI
(``trail hunt --athena``, ``trail athena-query``), paging, typing, refusals, failures, and the SQL sent.

Each test works in a scratch account of its own (moto keeps one result queue per account and region),
so the seeded results never leak into another test sharing the server.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pytest
import requests
import sqlglot
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from iamkit import frames
from iamkit.cli import main
from iamkit.errors import BadInput, TrailError
from iamkit.trail import athena, columns
from iamkit.trail.detect.rules import load_rules

REGION = "us-east-1"
DATABASE = "cloudtrail"
SINCE, UNTIL = "2026-03-01T00:00:00Z", "2026-03-03T23:59:59Z"
TS = "timestamp(3) with time zone"
SIGMA_COLS = [
    ("principal_arn", "varchar"),
    ("access_key_id", "varchar"),
    ("event_ids", "array"),
    ("first_seen", TS),
    ("last_seen", TS),
    ("n", "bigint"),
    ("detail", "varchar"),
]
KEY_COLS = [
    ("principal_arn", "varchar"),
    ("access_key_id", "varchar"),
    ("event_ids", "array"),
    ("c_id", "varchar"),
    ("c_time", TS),
    ("creator", "varchar"),
    ("c_ip", "varchar"),
    ("key_user", "varchar"),
    ("first_use", TS),
    ("last_seen", TS),
    ("n", "bigint"),
    ("ips", "varchar"),
    ("names", "varchar"),
]
CANDIDATE_COLS = [
    ("principal_arn", "varchar"),
    ("access_key_id", "varchar"),
    ("event_id", "varchar"),
    ("event_time", TS),
    ("event_name", "varchar"),
    ("recipient_account_id", "varchar"),
    ("rp", "varchar"),
]
EVENT_TYPES = {
    "event_time": TS,
    "read_only": "boolean",
    "mfa_authenticated": "boolean",
    **{
        c: "json"
        for c in ("request_parameters", "response_elements", "additional_event_data", "resources", "user_identity")
    },
}
_accounts = itertools.count(913_000_000_001)


# ------------------------------------------------------------------------------------------------ helpers
def result(columns: list[tuple[str, str]], rows: list[tuple]) -> dict:
    """A moto query result shaped like Athena's: the header row first, values as text (None = NULL)."""

    def row(values):
        return {"Data": [{} if v is None else {"VarCharValue": str(v)} for v in values]}

    return {
        "rows": [row([c for c, _ in columns]), *[row(r) for r in rows]],
        "column_info": [{"Name": c, "Label": c, "Type": t, "Nullable": "UNKNOWN"} for c, t in columns],
    }


@dataclass
class Scratch:
    """A scratch moto account: seed Athena results, capture every SQL string sent, emulate paging."""

    endpoint: str
    account_id: str
    session: Any
    sent: list[str] = field(default_factory=list)
    result_calls: int = 0

    def seed(self, *results: dict) -> None:
        body = {"account_id": self.account_id, "region": REGION, "results": list(results)}
        r = requests.post(f"{self.endpoint}/moto-api/static/athena/query-results", json=body, timeout=10)
        assert r.status_code == 201

    def trail(self, **kw: Any) -> athena.AthenaTrail:
        t = athena.connect_athena(self.session, database=DATABASE, region=REGION, **kw)
        t.runner.sleep = _no_sleep
        self.watch(t.runner.client)
        return t

    def watch(self, client: Any) -> None:
        """Record the SQL of every StartQueryExecution and count GetQueryResults calls."""

        def capture(params, **_):
            self.sent.append(params["QueryString"])

        def count(**_):
            self.result_calls += 1

        client.meta.events.register("before-parameter-build.athena.StartQueryExecution", capture)
        client.meta.events.register("before-call.athena.GetQueryResults", count)

    def executed(self) -> list[str]:
        """The SQL moto received in this account, in order (what the CLI's own client sent)."""
        client = self.session.client("athena", region_name=REGION)
        ids = client.list_query_executions()["QueryExecutionIds"]
        return [client.get_query_execution(QueryExecutionId=i)["QueryExecution"]["Query"] for i in ids]


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"the runner slept {seconds}s although moto answers at once")


def athena_pages(client: Any) -> None:
    """moto returns every row at once and ignores NextToken/MaxResults: cut its (real) answer into the
    pages Athena sends (at most MaxResults rows, the header row counted on the first page)."""

    def keep_params(params, context, **_):
        context["paging"] = (int(params.get("NextToken") or 0), params.get("MaxResults", 1000))

    def slice_page(parsed, context, **_):
        offset, size = context["paging"]
        rows = parsed["ResultSet"]["Rows"]
        parsed["ResultSet"]["Rows"] = rows[offset : offset + size]
        if offset + size < len(rows):
            parsed["NextToken"] = str(offset + size)

    client.meta.events.register("before-parameter-build.athena.GetQueryResults", keep_params)
    client.meta.events.register("after-call.athena.GetQueryResults", slice_page)


def assert_bounded(sql: str, view: str = "events") -> None:
    """The SQL parses as Trino and every SELECT that reads the view filters its partition dates."""
    tree = sqlglot.parse_one(sql, read="trino")
    scans = [t for t in tree.find_all(exp.Table) if t.name == view]
    assert scans, f"no read of {view} in {sql[:80]}"
    for t in scans:
        where = t.find_ancestor(exp.Select).args.get("where")
        assert where is not None, f"unbounded read of {view}: {sql[:200]}"
        bounds = [b for b in where.find_all(exp.Between) if b.this.name == "partition_date"]
        assert bounds, f"read of {view} without a partition_date range: {where.sql('trino')[:200]}"


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(list(argv))
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


@pytest.fixture
def scratch(sandbox) -> Scratch:
    from iamkit.sandbox.server import account_session

    account = str(next(_accounts))
    return Scratch(sandbox.endpoint_url, account, account_session(sandbox.endpoint_url, account, region=REGION))


@pytest.fixture
def scratch_cli_env(scratch, monkeypatch) -> Scratch:
    """The CLI's env credentials: a key of an IAM user in the scratch account (moto maps the key to it)."""
    iam = scratch.session.client("iam", region_name=REGION)
    iam.create_user(UserName="athena-analyst")
    key = iam.create_access_key(UserName="athena-analyst")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    return scratch


def _ts(value: str) -> str:
    """An ISO time as Athena prints a ``timestamp with time zone``."""
    t = dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)
    return t.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


# ---------------------------------------------------------------------------------------- the hunt
@dataclass
class Story:
    """Seeded Athena answers for three rules (built from the sandbox's incident), empty for the rest."""

    results: list[dict]
    order: list[str]
    expected: dict[str, list[dict]]


def incident_story(sandbox, order: list[str]) -> Story:
    inc = sandbox.org.incident
    acct = inc.account_id or sandbox.org.management_account_id
    root = f"arn:aws:iam::{acct}:root"
    admin_doc = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    )
    tame_doc = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}],
        }
    )
    answers = {
        "iamkit-root-activity": result(
            SIGMA_COLS,
            [
                (
                    root,
                    None,
                    "[root-1, root-2, root-3]",
                    _ts("2026-03-01T08:00:00Z"),
                    _ts("2026-03-01T08:09:00Z"),
                    3,
                    "ConsoleLogin, GetAccountSummary",
                )
            ],
        ),
        "iamkit-key-created-then-used": result(
            KEY_COLS,
            [
                (
                    inc.created_user_arn,
                    inc.created_access_key_id,
                    "[use-1, use-2]",
                    "create-1",
                    _ts("2026-03-02T10:00:00Z"),
                    inc.user_arn,
                    inc.attacker_ip,
                    inc.created_user_arn.split("/")[-1],
                    _ts("2026-03-02T10:05:00Z"),
                    _ts("2026-03-02T11:00:00Z"),
                    2,
                    inc.attacker_ip,
                    "ListBuckets",
                )
            ],
        ),
        "iamkit-policy-wildcard-grant": result(
            CANDIDATE_COLS,
            [
                (
                    inc.user_arn,
                    inc.leaked_access_key_id,
                    "pol-admin",
                    _ts("2026-03-02T09:00:00Z"),
                    "PutUserPolicy",
                    acct,
                    json.dumps({"userName": "x", "policyName": "all", "policyDocument": admin_doc}),
                ),
                (
                    inc.user_arn,
                    inc.leaked_access_key_id,
                    "pol-tame",
                    _ts("2026-03-02T09:01:00Z"),
                    "PutUserPolicy",
                    acct,
                    json.dumps({"userName": "x", "policyName": "read", "policyDocument": tame_doc}),
                ),
            ],
        ),
    }
    expected = {
        "iamkit-root-activity": [
            {
                "principal_arn": root,
                "access_key_id": None,
                "event_ids": ["root-1", "root-2", "root-3"],
                "first_seen": pd.Timestamp("2026-03-01T08:00:00Z"),
            }
        ],
        "iamkit-key-created-then-used": [
            {
                "principal_arn": inc.created_user_arn,
                "access_key_id": inc.created_access_key_id,
                "event_ids": ["create-1", "use-1", "use-2"],
                "first_seen": pd.Timestamp("2026-03-02T10:00:00Z"),
            }
        ],
        "iamkit-policy-wildcard-grant": [
            {
                "principal_arn": inc.user_arn,
                "access_key_id": inc.leaked_access_key_id,
                "event_ids": ["pol-admin"],
                "first_seen": pd.Timestamp("2026-03-02T09:00:00Z"),
            }
        ],
    }
    results = [answers.get(rid, result(SIGMA_COLS, [])) for rid in order]
    return Story(results, order, expected)


def test_hunt_on_the_sandbox_athena_builds_detections_from_the_seeded_rows(sandbox, scratch):
    trail = scratch.trail()
    planned = trail.hunt_queries(since=SINCE, until=UNTIL)
    story = incident_story(sandbox, list(planned))
    scratch.seed(*story.results)
    res = trail.hunt(since=SINCE, until=UNTIL)

    # exactly the planned queries went out, in order, each Trino with every read of the view bounded
    assert scratch.sent == list(planned.values()) == list(res.queries.values())
    for sql in scratch.sent:
        assert_bounded(sql)
    frames.check(res.detections, "detections")
    rules = {r.id: r for r in load_rules(None)[0]}
    got = {rid: g.to_dict("records") for rid, g in res.detections.groupby("detection_id")}
    assert set(got) == set(story.expected)
    for rid, rows in story.expected.items():
        assert len(got[rid]) == len(rows)
        for want, row in zip(rows, got[rid], strict=True):
            assert row["severity"] == rules[rid].severity and row["title"] == rules[rid].title
            assert {k: (None if row[k] is pd.NA else row[k]) for k in want} == want
    key_row = got["iamkit-key-created-then-used"][0]
    assert sandbox.org.incident.attacker_ip in key_row["summary"]
    assert key_row["summary"].startswith(f"key {sandbox.org.incident.created_access_key_id} of user ")
    assert got["iamkit-policy-wildcard-grant"][0]["summary"].startswith("PutUserPolicy: all on x: Allow '*'")
    # the IP-context rules are listed as skipped (no ip_context table on Athena), nothing failed
    assert set(res.errors["code"]) == {"rule_skipped"}
    assert set(res.errors["operation"]) == {"iamkit-assume-role-new-asn", "iamkit-assume-role-new-country"}
    assert [h["state"] for h in trail.runner.history] == ["SUCCEEDED"] * len(planned)


def test_a_rule_whose_query_is_cancelled_mid_hunt_is_listed_and_the_others_go_on(sandbox, scratch):
    trail = scratch.trail()
    planned = list(trail.hunt_queries(since=SINCE, until=UNTIL))
    story = incident_story(sandbox, planned)
    scratch.seed(*story.results)
    victim = planned.index("iamkit-root-activity")
    operator = scratch.session.client("athena", region_name=REGION)
    started: list[str] = []

    def cancel_the_root_query(http_response, parsed, **_):
        started.append(parsed["QueryExecutionId"])
        if len(started) == victim + 1:  # an operator cancels this one in the Athena console
            operator.stop_query_execution(QueryExecutionId=parsed["QueryExecutionId"])

    trail.runner.client.meta.events.register("after-call.athena.StartQueryExecution", cancel_the_root_query)
    res = trail.hunt(since=SINCE, until=UNTIL)
    assert "iamkit-root-activity" not in set(res.detections["detection_id"])
    assert {"iamkit-key-created-then-used", "iamkit-policy-wildcard-grant"} <= set(res.detections["detection_id"])
    failed = res.errors[res.errors["code"] == "rule_failed"]
    assert list(failed["operation"]) == ["iamkit-root-activity"]
    msg = failed.iloc[0]["message"]
    assert f"Athena query {started[victim]} cancelled" in msg and "query: SELECT principal_arn" in msg


def test_cli_hunt_on_athena_prints_the_detections_table_as_json(sandbox, scratch_cli_env, capsys):
    scratch = scratch_cli_env
    planned = athena.AthenaTrail(None).hunt_queries(since=SINCE, until=UNTIL)
    story = incident_story(sandbox, list(planned))
    scratch.seed(*story.results)
    code, out, err = run_cli(
        capsys,
        "trail",
        "hunt",
        "--athena",
        "--database",
        DATABASE,
        "--since",
        SINCE,
        "--until",
        UNTIL,
        "--format",
        "json",
    )
    assert code == 0, err
    rows = json.loads(out)
    assert set(rows[0]) == set(frames.SCHEMAS["detections"])
    assert {r["detection_id"] for r in rows} == set(story.expected)
    root = next(r for r in rows if r["detection_id"] == "iamkit-root-activity")
    assert root["event_ids"] == ["root-1", "root-2", "root-3"] and root["severity"] == "high"
    assert root["first_seen"].startswith("2026-03-01T08:00:00")
    assert f"{len(planned)} quer(ies) on {DATABASE}.events" in err and "rule_skipped" in err
    sent = scratch.executed()
    assert sent == list(planned.values())
    for sql in sent:
        assert_bounded(sql)


def test_cli_hunt_on_athena_fail_on_gates_the_exit_status(sandbox, scratch_cli_env, capsys):
    planned = athena.AthenaTrail(None).hunt_queries(since=SINCE, until=UNTIL)
    scratch_cli_env.seed(*incident_story(sandbox, list(planned)).results)
    code, _, _ = run_cli(
        capsys,
        "trail",
        "hunt",
        "--athena",
        "--database",
        DATABASE,
        "--since",
        SINCE,
        "--until",
        UNTIL,
        "--fail-on",
        "high",
        "--format",
        "csv",
    )
    assert code == 1


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--athena", "--database", DATABASE, "--since", SINCE], "--since and --until"),
        (["--athena", "--database", DATABASE, "--until", UNTIL], "--since and --until"),
        (["--athena", "--since", SINCE, "--until", UNTIL], "--athena needs --database"),
        (["--database", DATABASE, "--since", SINCE, "--until", UNTIL], "add --athena"),
        (["--athena", "--database", DATABASE, "--since", SINCE, "--until", UNTIL, "--db", "x.duckdb"], "not both"),
        (
            ["--athena", "--database", DATABASE, "--since", SINCE, "--until", UNTIL, "--country-mmdb", "c.mmdb"],
            "ip_context table",
        ),
    ],
)
def test_cli_hunt_on_athena_refuses_bad_options_with_one_line(scratch_cli_env, capsys, argv, words):
    code, out, err = run_cli(capsys, "trail", "hunt", *argv)
    text = " ".join(err.split())  # rich wraps the one-line message at the console width
    assert code == 2 and text.startswith("error: ") and words in text and out == ""
    assert "Traceback" not in err
    assert scratch_cli_env.executed() == []  # nothing was sent


def test_cli_hunt_show_sql_for_athena_needs_no_connection(capsys):
    code, out, _ = run_cli(
        capsys,
        "trail",
        "hunt",
        "--athena",
        "--database",
        DATABASE,
        "--since",
        SINCE,
        "--until",
        UNTIL,
        "--show-sql",
        "--format",
        "json",
    )
    rows = json.loads(out)
    assert code == 0 and "iamkit-root-activity" in {r["detection_id"] for r in rows}
    assert "iamkit-assume-role-new-asn" not in {r["detection_id"] for r in rows}
    for r in rows:
        assert_bounded(r["sql"])


def test_cli_athena_query_bounds_the_window_and_types_the_rows(scratch_cli_env, capsys):
    scratch = scratch_cli_env
    scratch.seed(result([("event_name", "varchar"), ("n", "bigint")], [("AssumeRole", 7), ("GetObject", 2)]))
    code, out, err = run_cli(
        capsys,
        "trail",
        "athena-query",
        "--database",
        DATABASE,
        "SELECT event_name, count(*) AS n FROM events GROUP BY 1",
        "--since",
        "2026-03-01",
        "--until",
        "2026-03-02",
        "--accounts",
        "111111111111",
        "--format",
        "json",
    )
    assert code == 0, err
    assert json.loads(out) == [{"event_name": "AssumeRole", "n": 7}, {"event_name": "GetObject", "n": 2}]
    [sql] = scratch.executed()
    assert_bounded(sql)
    assert "partition_account IN ('111111111111')" in sql
    assert "event_time <= FROM_ISO8601_TIMESTAMP('2026-03-02T23:59:59.999Z')" in sql


def test_cli_athena_query_refuses_an_unbounded_scan_unless_all(scratch_cli_env, capsys):
    scratch = scratch_cli_env
    q = "SELECT count(*) AS n FROM events"
    code, out, err = run_cli(capsys, "trail", "athena-query", "--database", DATABASE, q)
    assert code == 2 and "unbounded Athena scan" in " ".join(err.split()) and scratch.executed() == []
    scratch.seed(result([("n", "bigint")], [(42,)]))
    code, out, _ = run_cli(capsys, "trail", "athena-query", "--database", DATABASE, q, "--all", "--format", "json")
    assert code == 0 and json.loads(out) == [{"n": 42}] and scratch.executed() == [q]


def test_cli_athena_query_unknown_workgroup_is_a_clear_error(scratch_cli_env, capsys):
    code, _, err = run_cli(capsys, "trail", "athena-query", "--database", DATABASE, "SELECT 1", "--workgroup", "nope")
    text = " ".join(err.split())
    assert code == 2 and "StartQueryExecution" in text and "WorkGroup does not exist" in text


# ------------------------------------------------------------------------- events, timeline, paging
def event_rows(n: int, account: str) -> list[tuple]:
    """``n`` events as Athena prints them (JSON columns as JSON text, booleans as true/false)."""
    rows = []
    base = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    for i in range(n):
        values = {c: None for c in columns.FRAME_COLUMNS}
        values.update(
            {
                "event_id": f"ev-{i:05d}",
                "event_time": _ts((base + dt.timedelta(seconds=i)).isoformat()),
                "event_source": "s3.amazonaws.com",
                "event_name": "GetObject",
                "aws_region": REGION,
                "recipient_account_id": account,
                "identity_type": "IAMUser",
                "principal_arn": f"arn:aws:iam::{account}:user/u{i % 3}",
                "access_key_id": f"AKIAEXAMPLE{i % 3:09d}",
                "source_ip": "203.0.113.9",
                "read_only": "true" if i % 2 else "false",
                "mfa_authenticated": None if i % 3 == 0 else "false",
                "event_type": "AwsApiCall",
                "request_parameters": json.dumps({"bucketName": "b", "key": f"k{i}"}),
                "resources": json.dumps([{"ARN": f"arn:aws:s3:::b/k{i}"}]),
            }
        )
        rows.append(tuple(values.values()))
    return rows


EVENT_COLS = [(c, EVENT_TYPES.get(c, "varchar")) for c in columns.FRAME_COLUMNS]


@pytest.mark.parametrize("paged", [True, False], ids=["athena-pages", "moto-one-page"])
def test_events_page_over_1000_rows_into_a_typed_events_frame(scratch, paged):
    trail = scratch.trail()
    if paged:
        athena_pages(trail.runner.client)
    scratch.seed(result(EVENT_COLS, event_rows(2345, scratch.account_id)))
    df = trail.events(start="2026-03-01", end="2026-03-01", account_id=scratch.account_id)
    frames.check(df, "events")
    assert len(df) == 2345 and df["event_id"].is_unique
    assert list(df["event_id"][:2]) == ["ev-00000", "ev-00001"] and df["event_id"].iloc[-1] == "ev-02344"
    assert scratch.result_calls == (3 if paged else 1)  # 2,346 rows with the header: 1000 + 1000 + 346
    assert str(df["event_time"].dt.tz) == "UTC"
    assert df["event_time"].iloc[1] == pd.Timestamp("2026-03-01T00:00:01Z")
    assert str(df["read_only"].dtype) == "boolean" and list(df["read_only"][:2]) == [False, True]
    assert str(df["mfa_authenticated"].dtype) == "boolean" and df["mfa_authenticated"].isna().iloc[0]
    assert list(df["mfa_authenticated"][1:3]) == [False, False]
    assert df["request_parameters"].iloc[7] == {"bucketName": "b", "key": "k7"}
    assert df["resources"].iloc[7] == [{"ARN": "arn:aws:s3:::b/k7"}]
    assert df["response_elements"].iloc[0] is None
    [sql] = scratch.sent
    assert_bounded(sql)
    assert f"partition_account IN ('{scratch.account_id}')" in sql
    assert f"recipient_account_id = '{scratch.account_id}'" in sql


def test_events_filters_and_limit_are_in_the_sql(scratch):
    trail = scratch.trail(accounts=["111111111111", "222222222222"], regions=["eu-west-1"])
    scratch.seed(result(EVENT_COLS, []))
    df = trail.events(
        principal="o'brien",
        event_name=["AssumeRole", "GetSessionToken"],
        error_code="AccessDenied",
        start="2026-03-01T10:00:00Z",
        end="2026-03-01T12:00:00+02:00",
        limit=50,
    )
    frames.check(df, "events")
    assert df.empty
    [sql] = scratch.sent
    assert_bounded(sql)
    tree = sqlglot.parse_one(sql, read="trino")
    assert tree.args["limit"].expression.name == "50"
    where = tree.args["where"].sql("trino")
    assert "partition_account IN ('111111111111', '222222222222')" in where
    assert "partition_region IN ('eu-west-1')" in where
    assert "event_time <= FROM_ISO8601_TIMESTAMP('2026-03-01T10:00:00.000Z')" in where  # 12:00+02:00 in UTC
    assert "principal_arn LIKE '%/o''brien'" in where and "event_name IN ('AssumeRole', 'GetSessionToken')" in where


def test_timeline_on_athena_is_a_timeline_frame(scratch):
    trail = scratch.trail()
    from iamkit.trail.timeline import TIMELINE_COLUMNS

    cols = [(c, TS if c == "event_time" else "varchar") for c in TIMELINE_COLUMNS]
    key = "AKIAEXAMPLE000000001"
    scratch.seed(
        result(
            cols,
            [
                (
                    _ts("2026-03-01T09:00:00Z"),
                    "GetObject",
                    "s3.amazonaws.com",
                    REGION,
                    scratch.account_id,
                    "arn:aws:iam::1:user/u",
                    key,
                    None,
                    "203.0.113.9",
                    "cli",
                    None,
                    "bucketName=b key=k",
                    "ev-1",
                )
            ],
        )
    )
    df = trail.timeline(key, start="2026-03-01", end="2026-03-01")
    frames.check(df, "timeline")
    assert df.iloc[0]["target"] == "bucketName=b key=k" and df.iloc[0]["event_time"] == pd.Timestamp(
        "2026-03-01T09:00:00Z"
    )
    [sql] = scratch.sent
    assert_bounded(sql)
    assert f"access_key_id = '{key}'" in sql and "json_extract_scalar(request_parameters, '$.userName')" in sql


def test_sql_with_a_window_bounds_every_read_of_the_view(scratch):
    trail = scratch.trail()
    scratch.seed(result([("n", "bigint")], [(1,)]))
    q = (
        "WITH c AS (SELECT principal_arn FROM events WHERE event_name = 'CreateUser') "
        "SELECT count(*) AS n FROM events e JOIN c ON c.principal_arn = e.principal_arn"
    )
    assert trail.sql(q, start=SINCE, end=UNTIL)["n"].tolist() == [1]
    [sql] = scratch.sent
    assert_bounded(sql)
    assert "e.partition_date BETWEEN" in sql and "events.partition_date BETWEEN" in sql


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda t: t.events(), "unbounded Athena scan"),
        (lambda t: t.events(start=SINCE), "both start and end"),
        (lambda t: t.timeline("AKIAEXAMPLE000000001", end=UNTIL), "both start and end"),
        (lambda t: t.hunt(since=SINCE), "unbounded Athena hunt"),
        (lambda t: t.sql("SELECT * FROM events WHERE event_name = 'x'"), "unbounded Athena scan"),
        (lambda t: t.sql("SELECT * FROM events", start=SINCE), "both start and end"),
        (lambda t: t.sql("SELEC * FROM"), "not a Trino query"),
        (lambda t: t.sql("SELECT * FROM cloudtrail_logs", start=SINCE, end=UNTIL), "reads none"),
        (lambda t: t.sql("SELECT * FROM events", accounts=["111111111111"]), "give start and end too"),
    ],
)
def test_unbounded_questions_are_refused_before_anything_is_sent(scratch, call, words):
    trail = scratch.trail()
    with pytest.raises(BadInput, match=words):
        call(trail)
    assert scratch.sent == []


def test_explicit_partition_filters_or_all_let_a_query_through(scratch):
    trail = scratch.trail()
    scratch.seed(
        result([("n", "bigint")], [(3,)]),
        result([("n", "bigint")], [(4,)]),
        result(EVENT_COLS, event_rows(2, scratch.account_id)),
    )
    own = "SELECT count(*) AS n FROM events WHERE partition_date = '2026/03/01'"
    assert trail.sql(own)["n"].tolist() == [3]
    assert trail.sql("SELECT count(*) AS n FROM events", all=True)["n"].tolist() == [4]
    assert len(trail.events(all=True, access_key_id="AKIAEXAMPLE000000001")) == 2
    assert scratch.sent[:2] == [own, "SELECT count(*) AS n FROM events"]
    assert "partition_date" not in scratch.sent[2] and "access_key_id = 'AKIAEXAMPLE000000001'" in scratch.sent[2]


# ------------------------------------------------------------------------------ polling and failures
def test_runner_polls_the_sandbox_until_the_query_succeeds(sandbox, scratch):
    """moto's state manager walks QUEUED -> RUNNING -> SUCCEEDED, one step per poll; the sleeps are injected."""
    url = f"{sandbox.endpoint_url}/moto-api/state-manager"
    requests.post(
        f"{url}/set-transition",
        json={"model_name": "athena::execution", "transition": {"progression": "manual", "times": 1}},
        timeout=10,
    )
    try:
        trail = scratch.trail(poll_seconds=2.5)
        sleeps: list[float] = []
        trail.runner.sleep = sleeps.append
        scratch.seed(result([("n", "bigint")], [(5,)]))
        assert trail.sql("SELECT 5 AS n")["n"].tolist() == [5]
    finally:
        requests.post(f"{url}/unset-transition", json={"model_name": "athena::execution"}, timeout=10)
    assert sleeps == [2.5]


def test_cancelled_query_on_the_sandbox_names_the_query(scratch):
    trail = scratch.trail()
    qid = trail.runner.start("SELECT 1")
    scratch.session.client("athena", region_name=REGION).stop_query_execution(QueryExecutionId=qid)
    with pytest.raises(TrailError, match=f"Athena query {qid} cancelled"):
        trail.runner.wait(qid, "SELECT 1")


def test_failed_query_is_a_clear_error_naming_the_query():
    """moto cannot make a query fail: botocore's Stubber plays Athena's FAILED answer."""
    import boto3

    client = boto3.client("athena", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y")
    trail = athena.AthenaTrail(athena.AthenaRunner(client, sleep=_no_sleep))
    with Stubber(client) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": "q-failed"})
        stub.add_response(
            "get_query_execution",
            {
                "QueryExecution": {
                    "QueryExecutionId": "q-failed",
                    "Status": {
                        "State": "FAILED",
                        "StateChangeReason": "COLUMN_NOT_FOUND: line 3:7: Column 'partition_date' cannot be resolved",
                    },
                }
            },
        )
        with pytest.raises(TrailError) as e:
            trail.events(start=SINCE, end=UNTIL)
    msg = str(e.value)
    assert msg.startswith("Athena query q-failed failed: COLUMN_NOT_FOUND") and "(query: SELECT event_id" in msg
    assert "\n" not in msg


def test_access_denied_on_start_is_reported_as_such():
    import boto3

    from iamkit.errors import AccessDenied

    client = boto3.client("athena", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(client) as stub:
        stub.add_client_error("start_query_execution", "AccessDeniedException", "not allowed: athena:Start")
        with pytest.raises(AccessDenied, match="Athena StartQueryExecution of \\[SELECT 1\\] refused"):
            athena.AthenaRunner(client).run("SELECT 1")


def test_connect_athena_checks_its_arguments(scratch):
    with pytest.raises(BadInput, match="database is required"):
        athena.connect_athena(scratch.session, database="")
    with pytest.raises(BadInput, match="s3:// uri"):
        athena.connect_athena(scratch.session, database=DATABASE, output_location="/tmp/out")
    with pytest.raises(BadInput, match="view"):
        athena.connect_athena(scratch.session, database=DATABASE, view="events; DROP")


def test_results_are_stored_where_asked_and_the_history_says_what_ran(sandbox, scratch):
    s3 = scratch.session.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="athena-results-scratch")
    trail = scratch.trail(output_location="s3://athena-results-scratch/hunts/", workgroup="primary")
    scratch.seed(result([("n", "bigint")], [(9,)]))
    trail.sql("SELECT 9 AS n")
    [h] = trail.runner.history
    assert h["state"] == "SUCCEEDED" and h["sql"] == "SELECT 9 AS n" and h["data_scanned_bytes"] == 0
    key = f"hunts/{h['query_execution_id']}.csv"
    assert s3.get_object(Bucket="athena-results-scratch", Key=key)["Body"].read().decode().splitlines()[1] == '"9"'


# ----------------------------------------------------------------------------------- pure pieces
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01 10:00:00.000 UTC", "2026-03-01T10:00:00Z"),
        ("2026-03-01 12:00:00.250 +02:00", "2026-03-01T10:00:00.25Z"),
        ("2026-03-01T10:00:00Z", "2026-03-01T10:00:00Z"),
        ("2026-03-01 10:00:00.000", "2026-03-01T10:00:00Z"),
    ],
)
def test_athena_timestamp_text_is_read_as_utc(text, expected):
    s = athena._timestamps([text, None], "t")
    assert s.iloc[0] == pd.Timestamp(expected) and pd.isna(s.iloc[1])


def test_an_unreadable_timestamp_is_an_error_not_a_silent_null():
    with pytest.raises(TrailError, match="column 'first_seen': cannot read timestamp 'yesterday'"):
        athena._timestamps(["2026-03-01 10:00:00.000 UTC", "yesterday"], "first_seen")


def test_with_partitions_skips_cte_names_and_qualifies_by_alias():
    out = athena.with_partitions(
        "WITH events_x AS (SELECT * FROM ct AS t) SELECT * FROM events_x", "2026-03-01", "2026-03-01", on_view=False
    )
    assert "t.date BETWEEN '2026/02/28' AND '2026/03/02'" in out
    assert out.count("BETWEEN") == 1
    union = athena.with_partitions(
        "SELECT event_id FROM events UNION ALL SELECT event_id FROM other", "2026-03-01", "2026-03-01", table="events"
    )
    assert union.count("partition_date BETWEEN") == 1 and "events.partition_date" in union


class _Recorder:
    database = DATABASE

    def __init__(self):
        self.sent: list[str] = []

    def run(self, sql):
        self.sent.append(sql)
        return pd.DataFrame()


@settings(max_examples=60, deadline=None)
@given(
    day=st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2030, 12, 31)),
    span=st.integers(min_value=0, max_value=400),
    hour=st.integers(0, 23),
    accounts=st.lists(st.from_regex(r"\d{12}", fullmatch=True), max_size=3),
    name=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12),
)
def test_every_events_query_parses_and_its_partitions_cover_the_window(day, span, hour, accounts, name):
    rec = _Recorder()
    trail = athena.AthenaTrail(rec, accounts=accounts or None)
    start = dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=span)
    trail.events(start=start, end=end, principal=name or None)
    [sql] = rec.sent
    assert_bounded(sql)
    between = next(
        b for b in sqlglot.parse_one(sql, read="trino").find_all(exp.Between) if b.this.name == "partition_date"
    )
    lo, hi = between.args["low"].name, between.args["high"].name
    assert lo <= f"{start.date():%Y/%m/%d}" and hi >= f"{end.date():%Y/%m/%d}"
    assert (dt.datetime.strptime(hi, "%Y/%m/%d") - dt.datetime.strptime(lo, "%Y/%m/%d")).days == span + 2


def test_the_public_entry_point_is_connect_athena(scratch):
    import iamkit.trail as trail

    t = trail.open_athena(DATABASE, session=scratch.session, region=REGION, workgroup="primary")
    assert isinstance(t, athena.AthenaTrail) and t.runner.database == DATABASE and t.runner.workgroup == "primary"


def test_a_trail_narrowed_to_accounts_hunts_only_their_partitions():
    t = athena.AthenaTrail(None, accounts=["222222222222"], regions=["eu-west-1"])
    queries = t.hunt_queries(since="2026-01-02", until="2026-01-03")
    assert queries
    for rule_id, sql in queries.items():
        assert "partition_account IN ('222222222222')" in sql and "partition_region IN ('eu-west-1')" in sql, rule_id


def test_athena_ddl_org_projects_the_organizations_accounts(sandbox, capsys):
    """--org: the account enum is the organization's accounts (ListAccounts on the sandbox's organization)."""
    code, out, err = run_cli(
        capsys,
        "trail",
        "athena-ddl",
        "--org",
        "--location",
        f"s3://trail/AWSLogs/{sandbox.org.org_id}/",
        "--regions",
        "us-east-1",
    )
    assert code == 0, err
    want = ",".join(sorted(a.account_id for a in sandbox.org.accounts))
    assert f"'projection.account.values'='{want}'" in out and "'projection.account.type'='enum'" in out
    code, _, err = run_cli(capsys, "trail", "athena-ddl", "--org", "--accounts", "111111111111")
    assert code == 2 and "not both" in err
