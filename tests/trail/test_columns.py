"""The events column table (iamkit.trail.columns) and everything generated from it agree: the frame schema,
the DuckDB table and projection, the Athena view and the Sigma field map."""

from __future__ import annotations

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from iamkit import frames
from iamkit.trail import athena, columns, store
from iamkit.trail.detect import sigma, sigma_backend, sigma_pipeline
from iamkit.trail.dialect import get


def test_the_frame_schema_is_the_tables_frame_columns():
    assert frames.SCHEMAS["events"] == columns.FRAME_COLUMNS
    assert list(columns.FRAME_COLUMNS) == [c.name for c in columns.EVENTS if c.frame]
    assert [c for c in columns.DDL_TYPES if c not in columns.FRAME_COLUMNS] == ["source_file"]
    assert set(columns.JSON_COLUMNS) == {c for c, t in columns.FRAME_COLUMNS.items() if t == frames.J}


def test_the_duckdb_table_and_projection_have_the_tables_columns_and_types():
    con = duckdb.connect()
    store.create_schema(con)
    table = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'events' ORDER BY ordinal_position"
    ).fetchall()
    duck = {"VARCHAR": "VARCHAR", "TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE", "BOOLEAN": "BOOLEAN", "JSON": "JSON"}
    assert table == [(c, duck[t]) for c, t in columns.DDL_TYPES.items()]
    projected = con.execute(
        f"DESCRIBE {store.record_projection(chr(10) + 'SELECT NULL::JSON AS r, NULL AS _file')}"
    ).fetchall()
    names = [r[0] for r in projected]
    assert names == [*columns.DDL_TYPES, "_category", "_insight", "_file"]


def test_the_athena_view_has_the_tables_columns_then_the_partitions():
    tree = sqlglot.parse_one(athena.events_view_sql("ct"), read="trino")
    select = tree.find(exp.Select)
    names = [e.alias_or_name for e in select.expressions]
    assert names == [*columns.DDL_TYPES, *columns.VIEW_PARTITIONS]
    assert [e.this.sql("trino") for e in select.expressions[len(columns.DDL_TYPES) :]] == list(
        columns.VIEW_PARTITIONS.values()
    )
    for c, e in zip(columns.EVENTS, select.expressions, strict=False):  # each is the table's expression
        assert e.this.sql("trino") == sqlglot.parse_one(c.athena, read="trino").sql("trino"), c.name


def test_the_sigma_field_map_is_generated_from_the_table():
    scalar, identity, roots = columns.sigma_fields()
    assert (sigma_pipeline.SCALAR_FIELDS, sigma_pipeline.IDENTITY_FIELDS, sigma_pipeline.JSON_ROOTS) == (
        scalar,
        identity,
        roots,
    )
    assert columns.NON_TEXT_COLUMNS == {c for c, t in columns.FRAME_COLUMNS.items() if t in (frames.TS, frames.B)}
    for mapping in (scalar, identity, roots):
        assert set(mapping.values()) <= set(columns.FRAME_COLUMNS)
    for c in columns.EVENTS:
        for f in c.fields:
            assert sigma_backend.field_expr(f, get("duckdb")).column == c.name, f


#: a record whose every mapped field holds a value of its own (nested where CloudTrail nests it)
RECORD = {
    "eventID": "ev-1",
    "eventTime": "2026-03-01T10:00:00Z",
    "eventSource": "iam.amazonaws.com",
    "eventName": "CreateUser",
    "awsRegion": "eu-west-1",
    "recipientAccountId": "111122223333",
    "sourceIPAddress": "203.0.113.7",
    "userAgent": "agent/1.0",
    "errorCode": "Err",
    "errorMessage": "msg",
    "readOnly": False,
    "eventType": "AwsApiCall",
    "userIdentity": {
        "type": "AssumedRole",
        "arn": "arn:aws:sts::111122223333:assumed-role/r/sess",
        "principalId": "AROAX:sess",
        "accessKeyId": "ASIAXXXXXXXXXXXXXXX1",
        "sessionContext": {
            "sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/r"},
            "attributes": {"mfaAuthenticated": "true"},
        },
    },
    "requestParameters": {"userName": "bob"},
    "responseElements": {"user": {"userName": "bob"}},
    "additionalEventData": {"k": "v"},
    "resources": [{"ARN": "arn:aws:iam::111122223333:user/bob"}],
}


@pytest.mark.parametrize("field", [f for c in columns.EVENTS for f in c.fields])
def test_a_sigma_rule_on_every_mapped_field_matches_the_stored_value(field):
    """The map sends each field to the column the projection fills from that same field."""
    value = RECORD
    for part in field.split("."):
        value = value[part]
    text = str(value).lower() if isinstance(value, bool) else value
    if field == "eventTime":  # a time column compares as its text (2026-03-01 10:00:00+00)
        text = "2026-03-01*"
    con = duckdb.connect()
    store.insert_records(con, [RECORD])
    rule = sigma.parse_rule(
        {
            "title": "t",
            "logsource": {"product": "aws", "service": "cloudtrail"},
            "detection": {"s": {field: text}, "condition": "s"},
        }
    )
    where = sigma.compile_rule(rule, get("duckdb")).where
    assert con.execute(f"SELECT count(*) FROM events WHERE {where}").fetchone()[0] == 1, where
    rule.detection["s"] = {field: "no such value"}
    where = sigma.compile_rule(rule, get("duckdb")).where
    assert con.execute(f"SELECT count(*) FROM events WHERE {where}").fetchone()[0] == 0, where
