"""The trail back-end protocol: a local Trail and an AthenaTrail are both TrailBackends, take the same
windows, and build their predicates from the same filters."""

from __future__ import annotations

import inspect

import duckdb
import pytest
import sqlglot

from iamkit.errors import BadInput
from iamkit.trail import Trail, athena
from iamkit.trail.backend import TrailBackend
from iamkit.trail.predicates import Filters
from iamkit.window import Window

QUESTIONS = ("events", "timeline", "sql", "hunt", "trace")


def test_both_back_ends_are_trail_backends_with_the_same_questions():
    local, remote = Trail(duckdb.connect()), athena.AthenaTrail(None)
    for b in (local, remote):
        assert isinstance(b, TrailBackend)
        for q in QUESTIONS:
            assert "window" in inspect.signature(getattr(b, q)).parameters, (type(b).__name__, q)
    assert (local.dialect.name, remote.dialect.name) == ("duckdb", "trino")
    assert not isinstance(duckdb.connect(), TrailBackend)


def test_one_filter_rendered_per_dialect():
    f = Filters.make(
        window=Window.parse("2026-03-01", "2026-03-01"),
        accounts=["111111111111"],
        principal="o'brien_x",
        event_name=["AssumeRole", "GetSessionToken"],
    )
    local = Trail(duckdb.connect()).scope(f)
    remote = athena.AthenaTrail(None).scope(f)
    for sql, d in ((local, "duckdb"), (remote, "trino")):
        sqlglot.parse_one(f"SELECT 1 FROM events WHERE {sql}", read=d)
        assert (
            "recipient_account_id = '111111111111'" in sql and "event_name IN ('AssumeRole', 'GetSessionToken')" in sql
        )
        assert "LIKE '%/o''brien\\_x' ESCAPE '\\'" in sql  # a principal's _ and % are literal
    assert "partition_" not in local
    assert "partition_date BETWEEN '2026/02/28' AND '2026/03/02'" in remote
    assert "partition_account IN ('111111111111')" in remote


def test_like_escaping_matches_the_literal_name_only():
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE events AS SELECT p AS principal_arn, NULL AS session_issuer_arn, NULL AS principal_id, "
        "NULL AS session_name FROM (VALUES ('arn:aws:iam::1:user/svc_a'), ('arn:aws:iam::1:user/svcXa'), "
        "('arn:aws:iam::1:user/path/svc_a')) t(p)"
    )
    where = Filters(principal="svc_a").where("duckdb")
    assert [r[0] for r in con.execute(f"SELECT principal_arn FROM events WHERE {where} ORDER BY 1").fetchall()] == [
        "arn:aws:iam::1:user/path/svc_a",
        "arn:aws:iam::1:user/svc_a",
    ]


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"accounts": ["12345"]}, "not an AWS account"),
        ({"regions": ["us east"]}, "not an AWS region"),
        ({"window": Window(), "start": "2026-03-01"}, "not both"),
    ],
)
def test_filters_check_their_values(kw, words):
    with pytest.raises(BadInput, match=words):
        Filters.make(**kw)
