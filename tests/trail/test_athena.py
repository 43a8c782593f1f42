"""Athena: DDL with partition projection, the events view, partition predicates, the query runner (Stubber)."""

from __future__ import annotations

import boto3
import pytest
import sqlglot
from botocore.stub import Stubber

from iamkit.errors import BadInput, TrailError
from iamkit.trail import athena, columns


def test_ddl_has_projection_for_account_region_date():
    ddl = athena.cloudtrail_ddl(
        table="ct",
        location="s3://logs/AWSLogs/o-abc123defg",
        accounts=["111111111111"],
        regions=["us-east-1", "eu-west-1"],
        start_date="2024/01/01",
    )
    assert "PARTITIONED BY (account STRING, region STRING, date STRING)" in ddl
    assert "'projection.account.values'='111111111111'" in ddl
    assert "'projection.region.values'='us-east-1,eu-west-1'" in ddl
    assert "'projection.date.range'='2024/01/01,NOW'" in ddl
    assert "'storage.location.template'='s3://logs/AWSLogs/o-abc123defg/${account}/CloudTrail/${region}/${date}'" in ddl
    tree = sqlglot.parse_one(ddl, read="athena")
    assert tree.find(sqlglot.exp.Create) is not None


def _projection(ddl: str) -> dict[str, str]:
    import re

    return dict(re.findall(r"'projection\.(\w+)\.type'='(\w+)'", ddl))


def _injected_violations(ddl: str, sql: str) -> list[str]:
    """Athena's rule for injected projection: a query must give every injected partition column static
    equality values (partition_account = '…' / IN ('…')) wherever it reads the view; what it misses."""
    view_col = {"account": "partition_account", "region": "partition_region"}
    missing = []
    tree = sqlglot.parse_one(sql, read="trino")
    for col, kind in _projection(ddl).items():
        if kind != "injected":
            continue
        for t in tree.find_all(sqlglot.exp.Table):
            if t.name != "events":
                continue
            where = t.find_ancestor(sqlglot.exp.Select).args.get("where")
            preds = (
                []
                if where is None
                else [p for p in where.find_all(sqlglot.exp.EQ, sqlglot.exp.In) if p.this.name == view_col[col]]
            )
            if not preds:
                missing.append(col)
    return missing


def test_the_default_ddl_projects_no_column_as_injected():
    """Regression: account/region were injected by default, and Athena refuses every query that gives no
    static value for an injected column, which a hunt over the whole organization never does."""
    ddl = athena.cloudtrail_ddl(accounts=["111111111111", "222222222222"])
    assert _projection(ddl) == {"account": "enum", "region": "enum", "date": "date"}
    regions = athena.partition_regions()
    assert "us-east-1" in regions and "eu-west-1" in regions and len(regions) > 20
    assert f"'projection.region.values'='{','.join(regions)}'" in ddl
    for sql in athena.AthenaTrail(None).hunt_queries(since="2026-01-01", until="2026-01-02").values():
        assert _injected_violations(ddl, sql) == []
    sqlglot.parse_one(ddl, read="athena")


def test_injected_projection_only_when_asked_and_then_every_query_must_name_both():
    ddl = athena.cloudtrail_ddl(injected=True)
    assert _projection(ddl) == {"account": "injected", "region": "injected", "date": "date"}
    hunts = athena.AthenaTrail(None).hunt_queries(since="2026-01-01", until="2026-01-02")
    assert all(set(_injected_violations(ddl, sql)) == {"account", "region"} for sql in hunts.values())
    scoped = athena.AthenaTrail(None, accounts=["111111111111"], regions=["us-east-1"])
    assert all(
        _injected_violations(ddl, sql) == []
        for sql in scoped.hunt_queries(since="2026-01-01", until="2026-01-02").values()
    )


def test_a_table_without_its_accounts_is_refused_with_the_reason():
    with pytest.raises(BadInput, match="accounts are needed for partition projection.*refuse every query"):
        athena.cloudtrail_ddl()


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"table": "x; DROP"}, "table"),
        ({"location": "/tmp/x"}, "s3://"),
        ({"location": "s3://b/x' OR '1"}, "no quotes"),
        ({"database": "a-b"}, "database"),
        ({"accounts": ["1111'"]}, "not an AWS account"),
        ({"regions": ["us east"]}, "not an AWS region"),
        ({"start_date": "2020-01-01'"}, "YYYY/MM/DD"),
    ],
)
def test_ddl_rejects_bad_names(kw, msg):
    with pytest.raises(BadInput, match=msg):
        athena.cloudtrail_ddl(**({"accounts": ["111111111111"]} | kw))


def test_events_view_parses_as_trino_and_has_every_events_column():

    sql = athena.events_view_sql("ct")
    tree = sqlglot.parse_one(sql, read="trino")
    select = tree.find(sqlglot.exp.Select)
    names = [e.alias_or_name for e in select.expressions]
    assert names[: len(columns.DDL_TYPES)] == list(columns.DDL_TYPES)  # the store's columns, source_file last
    assert names[len(columns.DDL_TYPES) :] == ["partition_account", "partition_region", "partition_date"]


def test_partition_predicate_window_and_filters():
    from iamkit.trail.predicates import partition_predicate
    from iamkit.window import Window

    p = partition_predicate(
        Window.parse("2024-03-01T10:00:00Z", "2024-03-03"), ["1", "2"], ["us-east-1"], cols=athena.TABLE_PARTITIONS
    )
    assert p == ("date BETWEEN '2024/02/29' AND '2024/03/04' AND account IN ('1', '2') AND region IN ('us-east-1')")
    sqlglot.parse_one(f"SELECT * FROM t WHERE {p}", read="trino")


@pytest.mark.parametrize(
    "query",
    [
        "SELECT event_name, count(*) AS n FROM events GROUP BY 1",
        "SELECT * FROM events WHERE event_name = 'AssumeRole' AND source_ip <> '1.2.3.4'",
        "SELECT e.event_id FROM events AS e WHERE json_extract_scalar(e.request_parameters, '$.userName') = 'x'",
    ],
)
def test_with_partitions_adds_predicates_and_stays_trino(query):
    out = athena.with_partitions(query, "2024-03-01", "2024-03-02", accounts=["111111111111"])
    tree = sqlglot.parse_one(out, read="trino")
    where = tree.args["where"].sql(dialect="trino")
    assert "partition_date BETWEEN '2024/02/29' AND '2024/03/03'" in where
    assert "partition_account IN ('111111111111')" in where


def test_with_partitions_on_table_names_and_errors():
    out = athena.with_partitions("SELECT 1 FROM ct", "2024-03-01", "2024-03-01", on_view=False)
    assert "date BETWEEN" in out and "partition_date" not in out
    with pytest.raises(BadInput, match="Trino"):
        athena.with_partitions("SELEC nope FROM", "2024-03-01", "2024-03-02")
    with pytest.raises(BadInput, match="SELECT"):
        athena.with_partitions("DROP TABLE x", "2024-03-01", "2024-03-02")


class FakeClock:
    def __init__(self):
        self.now, self.sleeps = 0.0, []

    def clock(self):
        return self.now

    def sleep(self, s):
        self.sleeps.append(s)
        self.now += s


def _client():
    return boto3.client("athena", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")


def _state(state, reason=None):
    status = {"State": state} | ({"StateChangeReason": reason} if reason else {})
    return {"QueryExecution": {"QueryExecutionId": "q1", "Status": status}}


def _rows(*rows):
    return [{"Data": [{"VarCharValue": v} if v is not None else {} for v in r]} for r in rows]


def test_runner_polls_pages_and_types_results():
    client = _client()
    cols = [
        {"Name": "event_name", "Type": "varchar"},
        {"Name": "n", "Type": "bigint"},
        {"Name": "ok", "Type": "boolean"},
    ]
    with Stubber(client) as stub:
        stub.add_response(
            "start_query_execution",
            {"QueryExecutionId": "q1"},
            {
                "QueryString": "SELECT 1",
                "QueryExecutionContext": {"Database": "ct"},
                "WorkGroup": "wg",
                "ResultConfiguration": {"OutputLocation": "s3://out/"},
            },
        )
        stub.add_response("get_query_execution", _state("QUEUED"), {"QueryExecutionId": "q1"})
        stub.add_response("get_query_execution", _state("RUNNING"), {"QueryExecutionId": "q1"})
        stub.add_response("get_query_execution", _state("SUCCEEDED"), {"QueryExecutionId": "q1"})
        stub.add_response(
            "get_query_results",
            {
                "ResultSet": {
                    "Rows": _rows(("event_name", "n", "ok"), ("AssumeRole", "3", "true")),
                    "ResultSetMetadata": {"ColumnInfo": cols},
                },
                "NextToken": "p2",
            },
            {"QueryExecutionId": "q1", "MaxResults": 1000},
        )
        stub.add_response(
            "get_query_results",
            {
                "ResultSet": {
                    "Rows": _rows(("GetObject", "5", "false"), ("Nothing", None, None)),
                    "ResultSetMetadata": {"ColumnInfo": cols},
                }
            },
            {"QueryExecutionId": "q1", "MaxResults": 1000, "NextToken": "p2"},
        )
        fc = FakeClock()
        runner = athena.AthenaRunner(
            client, database="ct", workgroup="wg", output_location="s3://out/", clock=fc.clock, sleep=fc.sleep
        )
        df = runner.run("SELECT 1")
        stub.assert_no_pending_responses()
    assert df.to_dict("records") == [
        {"event_name": "AssumeRole", "n": 3, "ok": True},
        {"event_name": "GetObject", "n": 5, "ok": False},
        {"event_name": "Nothing", "n": None, "ok": None},
    ]
    assert fc.sleeps == [1.0, 1.0]


def test_runner_failed_query_names_the_reason():
    client = _client()
    with Stubber(client) as stub:
        stub.add_response("get_query_execution", _state("FAILED", "SYNTAX_ERROR: line 1:8"), {"QueryExecutionId": "q1"})
        with pytest.raises(TrailError, match="q1 failed: SYNTAX_ERROR"):
            athena.AthenaRunner(client).wait("q1")


def test_runner_times_out_with_an_injected_clock():
    client = _client()
    fc = FakeClock()
    with Stubber(client) as stub:
        for _ in range(4):
            stub.add_response("get_query_execution", _state("RUNNING"), {"QueryExecutionId": "q1"})
        with pytest.raises(TrailError, match="still RUNNING after 3s"):
            athena.AthenaRunner(client, timeout_seconds=3, clock=fc.clock, sleep=fc.sleep).wait("q1")
    assert fc.sleeps == [1.0, 1.0, 1.0]


def test_lake_runner_polls_and_pages():
    client = boto3.client("cloudtrail", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    sql = "SELECT eventName, count(*) AS n FROM eds1 GROUP BY 1"
    with Stubber(client) as stub:
        stub.add_response("start_query", {"QueryId": "a" * 36}, {"QueryStatement": sql})
        stub.add_response("describe_query", {"QueryStatus": "RUNNING"}, {"QueryId": "a" * 36})
        stub.add_response("describe_query", {"QueryStatus": "FINISHED"}, {"QueryId": "a" * 36})
        stub.add_response(
            "get_query_results",
            {"QueryResultRows": [[{"eventName": "AssumeRole"}, {"n": "3"}]], "NextToken": "t" * 8},
            {"QueryId": "a" * 36},
        )
        stub.add_response(
            "get_query_results",
            {"QueryResultRows": [[{"eventName": "GetObject"}, {"n": "5"}]]},
            {"QueryId": "a" * 36, "NextToken": "t" * 8},
        )
        fc = FakeClock()
        df = athena.LakeRunner(client, clock=fc.clock, sleep=fc.sleep).run(sql)
        stub.assert_no_pending_responses()
    assert df.to_dict("records") == [{"eventName": "AssumeRole", "n": "3"}, {"eventName": "GetObject", "n": "5"}]
    assert fc.sleeps == [1.0]


def test_lake_runner_failure_is_a_clear_error():
    client = boto3.client("cloudtrail", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(client) as stub:
        stub.add_response("start_query", {"QueryId": "b" * 36}, {"QueryStatement": "SELECT 1"})
        stub.add_response(
            "describe_query", {"QueryStatus": "FAILED", "ErrorMessage": "bad column"}, {"QueryId": "b" * 36}
        )
        with pytest.raises(TrailError, match="failed: bad column"):
            athena.LakeRunner(client).run("SELECT 1")


def test_json_columns_from_athena_text_keep_each_rows_own_keys():
    """Regression: Athena's JSON comes back as (Arrow-backed) text; parsing it by mapping that column made
    every row's dict one struct type, so each request gained every other row's keys as None."""
    from iamkit.trail import parse_json_columns

    df = athena.result_frame(
        [{"Name": "request_parameters", "Type": "json"}],
        [['{"userName": "bob"}'], ['{"roleArn": "arn:x", "durationSeconds": 900}'], [None]],
    )
    assert parse_json_columns(df)["request_parameters"].tolist() == [
        {"userName": "bob"},
        {"roleArn": "arn:x", "durationSeconds": 900},
        None,
    ]
