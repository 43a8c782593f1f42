"""Hunt orchestration: shipped rules, rule loading errors, dialects, time windows, the CLI command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlglot
from typer.testing import CliRunner

import iamkit.trail as trail
from iamkit import frames
from iamkit.errors import BadInput
from iamkit.trail import Trail, store
from iamkit.trail.athena import AthenaTrail
from iamkit.trail.detect.hunt import QueryRunner, execute, hunt, plan, render_rule, resolve_rules
from iamkit.trail.detect.rules import SHIPPED_DIR, load_rules
from iamkit.trail.detect.synth import at, policy, record, root, user
from iamkit.window import Window

FIXTURES = Path(__file__).parent / "fixtures"


def _records() -> list[dict]:
    return [
        record("StopLogging", "cloudtrail.amazonaws.com", root(), at(0), event_id="stop", rp={"name": "t"}),
        record(
            "PutUserPolicy",
            "iam.amazonaws.com",
            user("eve", "AKIAEVE"),
            at(60),
            event_id="pol",
            rp={
                "userName": "eve",
                "policyName": "x",
                "policyDocument": policy({"Effect": "Allow", "Action": "*", "Resource": "*"}),
            },
        ),
        record("ListUsers", "iam.amazonaws.com", user("bob"), at(120), event_id="noise"),
    ]


@pytest.fixture
def con():
    c = duckdb.connect()
    store.insert_records(c, _records())
    yield c
    c.close()


def test_shipped_rules_load_cleanly_and_cover_the_issue():
    rules, errors = load_rules()
    assert errors == []
    kinds = {r.kind for r in rules}
    assert {
        "sigma",
        "key_created_then_used",
        "first_seen",
        "policy_grant",
        "trust_opened",
        "selectors_narrowed",
        "denied_burst",
    } <= kinds
    assert all(r.description and r.title and r.severity for r in rules)
    assert len({r.id for r in rules}) == len(rules)


@pytest.mark.parametrize("dialect", ["duckdb", "trino"])
def test_every_shipped_rule_renders_and_parses(dialect):
    rules, _ = load_rules()
    for r in rules:
        sql = render_rule(r, dialect).sql
        sqlglot.parse_one(sql, read=dialect)


def test_hunt_returns_typed_frames_sorted_by_severity(con):
    res = hunt(Trail(con))
    frames.check(res.detections, "detections")
    frames.check(res.errors, "errors")
    ids = list(res.detections["detection_id"])
    assert {"iamkit-logging-stopped", "iamkit-root-activity", "iamkit-policy-wildcard-grant"} <= set(ids)
    ranks = [["critical", "high", "medium", "low", "info"].index(s) for s in res.detections["severity"]]
    assert ranks == sorted(ranks)
    assert "noise" not in {e for ids_ in res.detections["event_ids"] for e in ids_}
    assert set(res.queries) == {r.id for r in load_rules()[0]}


def test_hunt_on_the_shared_incident(incident):
    c = duckdb.connect()
    store.insert_records(c, incident)
    det = hunt(Trail(c)).detections
    new_key = [r for r in det.itertuples() if r.detection_id == "iamkit-key-created-then-used"]
    assert any(r.access_key_id == "AKIANEWBACKDOORKEY01" for r in new_key)
    assert "iamkit-admin-managed-policy-attached" in set(det["detection_id"])
    # StopLogging was denied in the incident: "stopped" must not fire, the denied attempt must
    assert "iamkit-logging-stopped" not in set(det["detection_id"])
    assert "iamkit-logging-stop-attempt-denied" in set(det["detection_id"])


def test_successful_stop_logging_is_not_a_denied_attempt():
    from iamkit.trail.detect import synth

    c = duckdb.connect()
    store.insert_records(
        c,
        [
            synth.record(
                "StopLogging", "cloudtrail.amazonaws.com", synth.user("ops"), synth.at(1), rp={"name": "org-trail"}
            )
        ],
    )
    ids = set(hunt(Trail(c)).detections["detection_id"])
    assert "iamkit-logging-stopped" in ids and "iamkit-logging-stop-attempt-denied" not in ids


def test_time_window_limits_events(con):
    res = hunt(Trail(con), since="2026-01-01T00:30:00Z")
    assert "iamkit-logging-stopped" not in set(res.detections["detection_id"])
    assert "iamkit-policy-wildcard-grant" in set(res.detections["detection_id"])
    res = hunt(Trail(con), until="2026-01-01T00:30:00Z")
    assert "iamkit-policy-wildcard-grant" not in set(res.detections["detection_id"])


def test_hunt_takes_a_back_end_and_nothing_else(tmp_path):
    db = tmp_path / "t.duckdb"
    c = store.connect(db)
    store.insert_records(c, _records())
    c.close()
    with trail.open(db, read_only=True) as t:
        assert "iamkit-root-activity" in set(hunt(t).detections["detection_id"])
        assert "iamkit-root-activity" in set(t.hunt().detections["detection_id"])
    for wrong in (str(db), db, duckdb.connect()):  # no guessing: a path or a connection is refused, named
        with pytest.raises(BadInput, match="trail back end"):
            hunt(wrong)


def test_bad_rule_files_are_listed_and_the_rest_runs(con, tmp_path):
    (tmp_path / "broken.yml").write_text("title: [unclosed\n")
    (tmp_path / "unknown_kind.yml").write_text("id: a\ntitle: a\nseverity: high\nkind: teleport\n")
    (tmp_path / "bad_severity.yml").write_text("id: b\ntitle: b\nseverity: urgent\nkind: denied_burst\n")
    (tmp_path / "neither.yml").write_text("foo: bar\n")
    (tmp_path / "dup.yml").write_text((SHIPPED_DIR / "root_activity.yml").read_text())
    (tmp_path / "windows.yml").write_text(
        "title: w\nlogsource: {product: windows}\ndetection: {s: {EventID: 1}, condition: s}\n"
    )
    (tmp_path / "agg.yml").write_text(
        "title: agg\nid: agg\nlogsource: {product: aws, service: cloudtrail}\n"
        "detection: {s: {eventTime|minute: 5}, condition: s}\n"
    )
    (tmp_path / "bad_param.yml").write_text(
        "id: c\ntitle: c\nseverity: low\nkind: first_seen\nparams: {attribute: shoe_size}\n"
    )
    res = hunt(Trail(con), rules=[SHIPPED_DIR, tmp_path])
    codes = dict(zip(res.errors["operation"].map(lambda p: Path(p).name), res.errors["code"], strict=True))
    assert codes["broken.yml"] == "rule_invalid"
    assert codes["unknown_kind.yml"] == "rule_invalid"
    assert codes["bad_severity.yml"] == "rule_invalid"
    assert codes["neither.yml"] == "rule_invalid"
    assert codes["dup.yml"] == "rule_duplicate"
    assert codes["agg"] == "rule_unsupported"
    assert codes["c"] == "rule_unsupported"
    assert "windows.yml" not in codes  # another log source: skipped silently
    msg = res.errors.set_index("operation").loc[str(tmp_path / "unknown_kind.yml"), "message"]
    assert "teleport" in msg
    assert "iamkit-root-activity" in set(res.detections["detection_id"])


def test_engine_errors_are_per_rule():
    c = duckdb.connect()  # an events table without most columns: every rule fails alone, nothing crashes
    c.execute("CREATE TABLE events AS SELECT 'e1' AS event_id, now() AS event_time, 'StopLogging' AS event_name")
    res = hunt(Trail(c))
    assert res.detections.empty
    failed = res.errors[res.errors["code"] == "rule_failed"]
    assert len(failed) >= 10 and failed["message"].str.contains("Binder Error").all()


def test_missing_events_table_is_one_clear_error():
    from iamkit.errors import NotFound

    with pytest.raises(NotFound, match="no table 'events'"):
        hunt(Trail(duckdb.connect()))


def test_single_path_arguments_are_accepted(con):
    res = hunt(Trail(con), rules=SHIPPED_DIR / "root_activity.yml", sigma_dirs=str(FIXTURES / "sigma" / "unsupported"))
    assert set(res.detections["detection_id"]) == {"iamkit-root-activity"}
    assert len(res.errors) == 1  # the |expand rule (placeholders without values)


def test_sigma_dirs_are_added_to_shipped_rules(con):
    res = hunt(Trail(con), sigma_dirs=[FIXTURES / "sigma"])  # unsupported/ is inside: loaded recursively
    ids = set(res.detections["detection_id"])
    assert "4db60cc0-36fb-42b7-9b58-a5b53019fb74" in ids  # SigmaHQ trail change rule
    assert "iamkit-logging-stopped" in ids
    unsupported = res.errors[res.errors["code"] == "rule_unsupported"]
    assert len(unsupported) == 1
    assert unsupported["message"].str.contains("expand").any()
    assert "45251c1d-3fda-47d4-a990-b7ce4d635fc0" not in set(res.errors["operation"])  # count() runs now


class Runner:
    """An Athena runner stand-in: ``execute(sql)`` answers each query."""

    database = "stand-in"

    def __init__(self, execute):
        self.run = execute


def test_trino_back_end_renders_and_runs_through_its_runner():
    queries = AthenaTrail(None).hunt_queries(all=True)
    assert queries
    for sql in queries.values():
        sqlglot.parse_one(sql, read="trino")
    seen = []

    def execute(sql):
        seen.append(sql)
        return pd.DataFrame(
            columns=["principal_arn", "access_key_id", "event_ids", "first_seen", "last_seen", "n", "detail"]
        )

    res = AthenaTrail(Runner(execute)).hunt(all=True)
    assert seen == list(res.queries.values()) == list(queries.values()) and res.detections.empty


def test_trino_time_window_is_a_timestamp_literal():
    rules, _ = resolve_rules([SHIPPED_DIR / "root_activity.yml"])
    sql = next(iter(AthenaTrail(None).hunt_queries(rules, since="2026-01-01T00:00:00Z", all=True).values()))
    assert "from_iso8601_timestamp('2026-01-01T00:00:00.000Z')" in sql
    sqlglot.parse_one(sql, read="trino")


def test_ip_context_frame_can_be_given(con):
    recs = [
        record("AssumeRole", "sts.amazonaws.com", user("d", "AKIAD"), at(d * 1440), ip="198.51.100.10")
        for d in range(20)
    ]
    recs.append(
        record("AssumeRole", "sts.amazonaws.com", user("d", "AKIAD"), at(20.5 * 1440), ip="203.0.113.7", event_id="far")
    )
    c = duckdb.connect()
    store.insert_records(c, recs)
    ctx = pd.DataFrame({"ip": ["198.51.100.10", "203.0.113.7"], "asn": [64500, 64511], "country": ["DE", "KP"]})
    res = hunt(
        Trail(c),
        rules=[SHIPPED_DIR / "assume_role_new_country.yml", SHIPPED_DIR / "assume_role_new_asn.yml"],
        ip_context=ctx,
    )
    assert sorted(res.detections["detection_id"]) == ["iamkit-assume-role-new-asn", "iamkit-assume-role-new-country"]
    assert res.errors.empty
    assert "ip_context" not in {r[0] for r in c.execute("SELECT table_name FROM information_schema.tables").fetchall()}


def test_import_is_lazy():
    code = (
        "import sys, iamkit.trail.detect, iamkit.trail.detect.sigma, iamkit.trail.detect.native; "
        "print(sorted(m for m in ('duckdb', 'pandas', 'sqlglot') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ---------------------------------------------------------------- CLI


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "store.duckdb"
    c = store.connect(path)
    store.insert_records(c, _records())
    c.close()
    return path


def _cli(args):
    from iamkit.cli import app

    return CliRunner().invoke(app, args)


def test_cli_hunt_json(db):
    r = _cli(["trail", "hunt", "--db", str(db), "--format", "json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert {"iamkit-root-activity", "iamkit-policy-wildcard-grant"} <= {x["detection_id"] for x in rows}
    assert all(isinstance(x["event_ids"], list) for x in rows)


def test_cli_hunt_fail_on_and_sigma(db, tmp_path):
    r = _cli(
        [
            "trail",
            "hunt",
            "--db",
            str(db),
            "--fail-on",
            "high",
            "--format",
            "csv",
            "--sigma",
            str(FIXTURES / "sigma" / "unsupported"),
        ]
    )
    assert r.exit_code == 1
    assert "rule_unsupported" in r.stderr
    only = tmp_path / "only"
    only.mkdir()
    (only / "r.yml").write_text((SHIPPED_DIR / "access_denied_burst.yml").read_text())
    r = _cli(["trail", "hunt", "--db", str(db), "--rules", str(only), "--fail-on", "medium"])
    assert r.exit_code == 0, r.output


def test_cli_hunt_trino_prints_sql(tmp_path):
    out = tmp_path / "q.json"
    r = _cli(["trail", "hunt", "--dialect", "trino", "--format", "json", "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = json.loads(out.read_text())
    assert rows and all(sqlglot.parse_one(x["sql"], read="trino") for x in rows)
    assert {x["detection_id"] for x in rows} == {r.id for r in load_rules()[0]}  # the country/ASN rules too


@pytest.mark.parametrize(
    "args",
    [
        ["trail", "hunt"],
        ["trail", "hunt", "--db", "/nonexistent/x.duckdb"],
        ["trail", "hunt", "--dialect", "oracle"],
        ["trail", "hunt", "--dialect", "trino", "--rules", "/nonexistent/rules"],
    ],
)
def test_cli_hunt_bad_input_exits_2(args):
    from iamkit.cli import main

    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 2


def test_cli_fail_on_must_be_a_severity(db):
    from iamkit.cli import main

    with pytest.raises(SystemExit) as e:
        main(["trail", "hunt", "--db", str(db), "--fail-on", "scary"])
    assert e.value.code == 2


def test_single_scan_gives_the_same_detections_as_one_query_per_rule(con):
    fixtures = sorted((FIXTURES / "sigma").glob("*.yml"))
    combined = hunt(Trail(con), sigma_dirs=fixtures)
    assert "(single scan)" in combined.timings
    one_by_one = execute(plan(Trail(con), None, fixtures), QueryRunner(lambda sql: con.execute(sql).fetch_df()))
    assert "(single scan)" not in one_by_one.timings
    key = ["detection_id", "principal_arn", "access_key_id"]
    a = combined.detections.sort_values(key).reset_index(drop=True)
    b = one_by_one.detections.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) >= 5


def test_a_predicate_the_engine_rejects_fails_only_its_rule(con, tmp_path):
    # DuckDB's RE2 rejects a lookahead; pySigma checks rule regexes with RE2 too, so the rule is refused
    # when it loads (naming the file) and the others run
    (tmp_path / "lookahead.yml").write_text(
        "title: la\nid: la\nlogsource: {product: aws, service: cloudtrail}\n"
        "detection: {s: {eventName|re: 'Stop(?=Logging)'}, condition: s}\n"
    )
    res = hunt(Trail(con), sigma_dirs=[tmp_path])
    bad = res.errors[res.errors["code"].isin(["rule_failed", "rule_invalid"])]
    assert [Path(p).name for p in bad["operation"]] == ["lookahead.yml"]
    assert bad["message"].str.contains("Stop(?=Logging)", regex=False).all()
    assert {"iamkit-logging-stopped", "iamkit-root-activity"} <= set(res.detections["detection_id"])


def test_trino_bounded_hunt_has_partition_predicates_and_no_json_casts():
    queries = AthenaTrail(None).hunt_queries(since="2026-01-02T00:00:00Z", until="2026-01-03T00:00:00Z")
    for rule_id, sql in queries.items():
        assert "partition_date BETWEEN '2026/01/01' AND '2026/01/04'" in sql, rule_id
        assert "CAST(request_parameters AS VARCHAR)" not in sql
        sqlglot.parse_one(sql, read="trino")
    # the key rule bounds both its creations and its uses
    key_sql = queries["iamkit-key-created-then-used"]
    assert key_sql.count("partition_date BETWEEN") >= 2


def test_package_exports_the_hunt_function():
    import iamkit.trail.detect as det

    assert callable(det.hunt) and det.hunt.__module__ == "iamkit.trail.detect.hunt"


def test_cli_show_sql_needs_no_db():
    r = _cli(["trail", "hunt", "--show-sql", "--format", "csv"])
    assert r.exit_code == 0, r.output
    assert "json_extract_string" in r.stdout and "detection_id,sql" in r.stdout


def test_cli_bad_mmdb_is_bad_input(db, tmp_path):
    from iamkit.cli import main

    with pytest.raises(SystemExit) as e:
        main(["trail", "hunt", "--db", str(db), "--asn-mmdb", str(tmp_path / "missing.mmdb")])
    assert e.value.code == 2


def test_country_rule_uses_offline_ip_context_by_default():
    from iamkit.trail.ipcontext import IpContext

    home, away = "8.8.8.8", "193.0.6.139"
    ctx = IpContext()
    assert ctx.lookup(home)["country"] != ctx.lookup(away)["country"]  # the premise, from the offline data
    recs = [record("AssumeRole", "sts.amazonaws.com", user("d", "AKIAD"), at(d * 1440), ip=home) for d in range(20)]
    recs.append(
        record("AssumeRole", "sts.amazonaws.com", user("d", "AKIAD"), at(20.5 * 1440), ip=away, event_id="away")
    )
    c = duckdb.connect()
    store.insert_records(c, recs)
    res = hunt(Trail(c), rules=[SHIPPED_DIR / "assume_role_new_country.yml", SHIPPED_DIR / "assume_role_new_asn.yml"])
    assert [list(x) for x in res.detections["event_ids"]] == [["away"]]
    assert ctx.lookup(away)["country"] in res.detections.iloc[0]["summary"]
    # no ASN database given: the ASN rule is listed as skipped, not silently empty
    assert list(res.errors["operation"]) == ["iamkit-assume-role-new-asn"]
    assert list(res.errors["code"]) == ["rule_skipped"]


def test_athena_text_results_become_typed_detections():
    """Athena pages arrays and timestamps back as text: the frame is still typed and ids are a list."""
    rules, _ = resolve_rules([SHIPPED_DIR / "logging_stopped.yml", SHIPPED_DIR / "access_denied_burst.yml"])

    def execute(sql):
        if "StopLogging" in sql or "stoplogging" in sql:
            return pd.DataFrame(
                {
                    "principal_arn": ["arn:aws:iam::1:root"],
                    "access_key_id": [None],
                    "event_ids": ["[e-1, e-2]"],
                    "first_seen": ["2026-01-01 00:00:00.000 UTC"],
                    "last_seen": ["2026-01-01 00:05:00.000 UTC"],
                    "n": ["2"],
                    "detail": ["StopLogging"],
                },
                dtype="string",
            )
        return pd.DataFrame(
            {
                "principal_arn": ["arn:aws:iam::1:user/x"],
                "access_key_id": ["AKIAX"],
                "event_ids": ["[d-1]"],
                "first_seen": ["2026-01-01 00:00:00.000 UTC"],
                "last_seen": ["2026-01-01 00:00:00.000 UTC"],
                "n": ["25"],
                "peak": ["25"],
                "names": ["ListRoles"],
            },
            dtype="string",
        )

    res = AthenaTrail(Runner(execute)).hunt(rules, all=True)
    frames.check(res.detections, "detections")
    by_id = res.detections.set_index("detection_id")
    assert by_id.loc["iamkit-logging-stopped", "event_ids"] == ["e-1", "e-2"]
    assert by_id.loc["iamkit-logging-stopped", "summary"] == "2 event(s): StopLogging"
    assert by_id.loc["iamkit-access-denied-burst", "event_ids"] == ["d-1"]
    assert str(by_id.loc["iamkit-logging-stopped", "last_seen"]) == "2026-01-01 00:05:00+00:00"


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, []),
        ("[]", []),
        ("[a, b]", ["a", "b"]),
        ('["a","b"]', ["a", "b"]),
        (["a"], ["a"]),
        (("x", "y"), ["x", "y"]),
    ],
)
def test_as_id_list(value, expected):
    from iamkit.trail.detect.hunt import as_id_list

    assert as_id_list(value) == expected


def test_hunt_on_athena_through_the_runner():
    """The Athena back end (H2a's AthenaRunner under botocore's Stubber) runs a rule's Trino SQL and its
    text results become a typed detections frame."""
    import boto3
    from botocore.stub import ANY, Stubber

    from iamkit.trail.athena import AthenaRunner

    client = boto3.client("athena", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    names = ["principal_arn", "access_key_id", "event_ids", "first_seen", "last_seen", "n", "detail"]
    types = ["varchar", "varchar", "array", "timestamp with time zone", "timestamp with time zone", "bigint", "varchar"]
    cols = [{"Name": n, "Type": t} for n, t in zip(names, types, strict=True)]
    data = (
        "arn:aws:iam::111111111111:root",
        None,
        "[ev-1, ev-2]",
        "2026-01-01 00:00:00.000 UTC",
        "2026-01-01 00:05:00.000 UTC",
        "2",
        "StopLogging",
    )
    rows = [{"Data": [{"VarCharValue": v} if v is not None else {} for v in r]} for r in (names, data)]
    with Stubber(client) as stub:
        stub.add_response(
            "start_query_execution",
            {"QueryExecutionId": "q1"},
            {"QueryString": ANY, "QueryExecutionContext": {"Database": "default"}},
        )
        stub.add_response(
            "get_query_execution",
            {"QueryExecution": {"QueryExecutionId": "q1", "Status": {"State": "SUCCEEDED"}}},
            {"QueryExecutionId": "q1"},
        )
        stub.add_response(
            "get_query_results",
            {"ResultSet": {"Rows": rows, "ResultSetMetadata": {"ColumnInfo": cols}}},
            {"QueryExecutionId": "q1", "MaxResults": 1000},
        )
        runner = AthenaRunner(client, clock=lambda: 0.0, sleep=lambda s: None)
        res = AthenaTrail(runner).hunt(
            [SHIPPED_DIR / "logging_stopped.yml"], since="2026-01-01T00:00:00Z", until="2026-01-02T00:00:00Z"
        )
        stub.assert_no_pending_responses()
    frames.check(res.detections, "detections")
    row = res.detections.iloc[0]
    assert row["event_ids"] == ["ev-1", "ev-2"] and row["summary"] == "2 event(s): StopLogging"
    assert str(row["first_seen"]) == "2026-01-01 00:00:00+00:00"
    assert "partition_date BETWEEN" in res.queries["iamkit-logging-stopped"]


def test_ip_context_covers_the_calls_of_every_rule(tmp_path):
    for name in ("AssumeRole", "GetSessionToken"):
        (tmp_path / f"{name}.yml").write_text(
            f"id: c-{name}\ntitle: {name} new country\nseverity: low\nkind: first_seen\n"
            f"params: {{event_names: [{name}], attribute: country, baseline_days: 5}}\n"
        )
    recs = []
    for name in ("AssumeRole", "GetSessionToken"):
        recs += [record(name, "sts.amazonaws.com", user(name, "AKIAD"), at(d * 1440), ip="8.8.8.8") for d in range(8)]
        recs.append(
            record(
                name, "sts.amazonaws.com", user(name, "AKIAD"), at(9 * 1440), ip="193.0.6.139", event_id=f"away-{name}"
            )
        )
    c = duckdb.connect()
    store.insert_records(c, recs)
    res = hunt(Trail(c), rules=[tmp_path])
    assert res.errors.empty
    assert sorted(x for ids in res.detections["event_ids"] for x in ids) == ["away-AssumeRole", "away-GetSessionToken"]


@pytest.mark.parametrize(
    "since, until, expect",
    [
        ("2026-01-01", "2026-01-01", ("2026-01-01T00:00:00.000Z", "2026-01-01T23:59:59.999Z")),
        ("2026-01-01T10:00:00+02:00", "2026-01-01T10:00:00Z", ("2026-01-01T08:00:00.000Z", "2026-01-01T10:00:00.000Z")),
    ],
)
def test_time_window_bounds(since, until, expect):
    from iamkit.trail.predicates import Filters

    w = Filters.make(window=Window.parse(since, until)).where("trino")
    assert f"from_iso8601_timestamp('{expect[0]}')" in w and f"from_iso8601_timestamp('{expect[1]}')" in w


def test_bad_time_is_bad_input(con):
    from iamkit.errors import BadInput

    with pytest.raises(BadInput, match="not an ISO"):
        hunt(Trail(con), since="yesterday-ish")


def test_hunt_scoped_to_accounts_and_regions():
    """--accounts/--regions: detections only from those; every rule's SQL carries the filter."""
    other = "222222222222"
    c = duckdb.connect()
    store.insert_records(
        c,
        [
            *_records(),
            record(
                "StopLogging",
                "cloudtrail.amazonaws.com",
                root(other),
                at(30),
                event_id="stop-other",
                rp={"name": "t"},
                account=other,
            ),
        ],
    )
    everywhere = hunt(Trail(c))
    scoped = hunt(Trail(c), accounts=[other])
    ids = lambda res: {e for ids in res.detections["event_ids"] for e in ids}  # noqa: E731
    assert {"stop", "stop-other"} <= ids(everywhere)
    assert "stop-other" in ids(scoped) and not ids(scoped) & {"stop", "pol"}
    assert hunt(Trail(c), regions=["eu-west-3"]).detections.empty  # every record is in us-east-1
    assert "stop" in ids(hunt(Trail(c), regions=["us-east-1"]))
    c.close()


def test_trino_scoped_hunt_prunes_account_and_region_partitions():
    queries = AthenaTrail(None).hunt_queries(
        since="2026-01-02", until="2026-01-03", accounts=["222222222222"], regions=["eu-west-1"]
    )
    for rule_id, sql in queries.items():
        assert "partition_account IN ('222222222222')" in sql and "partition_region IN ('eu-west-1')" in sql, rule_id
        sqlglot.parse_one(sql, read="trino")


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"accounts": ["12345"]}, "not an AWS account"),
        ({"accounts": ["1' OR '1'='1"]}, "not an AWS account"),
        ({"regions": ["us east"]}, "not an AWS region"),
    ],
)
def test_scope_values_are_checked_before_they_reach_sql(con, kw, msg):
    with pytest.raises(BadInput, match=msg):
        hunt(Trail(con), **kw)


def test_cli_hunt_accounts_option(db):
    res = _cli(["trail", "hunt", "--db", str(db), "--accounts", "999999999999", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == []
