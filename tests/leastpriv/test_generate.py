"""The candidate policy: grouped by service, generalised only past max_resources, split at the size limit, valid,
with a rationale per statement; and usage read from a store (roles, users, denied calls kept apart)."""

from __future__ import annotations

import json

import pytest
from lptest import ACCT, ROLE, USER, rec

from iamkit.errors import BadInput
from iamkit.leastpriv import Principal, candidate, usage
from iamkit.leastpriv.generate import MANAGED_LIMIT, generalise, policy_size
from iamkit.policy import validate


def _records():
    out = [
        rec("s3.amazonaws.com", "GetObject", {"bucketName": "data", "key": f"in/2026/03/0{i}/part.json"})
        for i in range(1, 6)
    ]
    out += [
        rec("s3.amazonaws.com", "ListObjects", {"bucketName": "data"}),
        rec("dynamodb.amazonaws.com", "GetItem", {"tableName": "orders"}),
        rec("ec2.amazonaws.com", "DescribeInstances", {"instancesSet": {}}),
        rec("sts.amazonaws.com", "GetCallerIdentity", None),
        rec("iam.amazonaws.com", "ListUsers", None, error="AccessDenied"),
        rec("s3.amazonaws.com", "GetObject", {"bucketName": "data", "key": "in/x"}, who=USER),
        rec("signin.amazonaws.com", "ConsoleLogin", None, event_type="AwsConsoleSignIn"),
    ]
    return out


def test_usage_of_a_role_keeps_denied_and_free_calls_apart(store):
    t = store(_records())
    u = usage(t, ROLE)
    assert u.events == 11 and u.roles == [ROLE]
    assert u.actions == ["dynamodb:GetItem", "ec2:DescribeInstances", "s3:GetObject", "s3:ListBucket"]
    reasons = sorted(u.skipped["reason"])
    assert any(r.startswith("denied (AccessDenied)") for r in reasons)
    assert any("no permission needed" in r for r in reasons)
    assert any(r.startswith("AwsConsoleSignIn") for r in reasons)
    assert USER not in set(u.uses["role_arn"].dropna())  # the user's call is not the role's


def test_usage_of_a_user(store):
    t = store(_records())
    u = usage(t, USER)
    assert u.events == 1 and u.actions == ["s3:GetObject"]
    assert list(u.uses["resource"]) == ["arn:aws:s3:::data/in/x"]


def test_candidate_grants_exactly_what_was_used_and_validates(store):
    t = store(_records())
    c = candidate(usage(t, ROLE))
    assert c.actions == ["dynamodb:GetItem", "ec2:DescribeInstances", "s3:GetObject", "s3:ListBucket"]
    assert c.valid and not [f for f in c.findings if f["severity"] == "error"]
    assert len(c.documents) == 1 and validate(c.documents[0]) is not None
    by_action = {a: s for s in c.statements for a in s.actions}
    assert by_action["s3:GetObject"].resources == [f"arn:aws:s3:::data/in/2026/03/0{i}/part.json" for i in range(1, 6)]
    assert by_action["ec2:DescribeInstances"].resources == ["*"]
    assert any("no resource type" in w for w in by_action["ec2:DescribeInstances"].why)
    assert by_action["dynamodb:GetItem"].resources == [f"arn:aws:dynamodb:us-east-1:{ACCT}:table/orders"]
    s3 = by_action["s3:GetObject"]
    assert s3.events == 5 and len(s3.event_ids) == 5 and all(i.startswith("evt-") for i in s3.event_ids)
    assert {s.service for s in c.statements} == {"s3", "dynamodb", "ec2"}


def test_resources_generalise_only_past_the_limit(store):
    t = store(_records())
    c = candidate(usage(t, ROLE), max_resources=3)
    get = next(s for s in c.statements if "s3:GetObject" in s.actions)
    assert get.resources == ["arn:aws:s3:::data/in/2026/03/*"]
    assert any("5 resources generalised to 1 pattern" in w for w in get.why)
    assert candidate(usage(t, ROLE), max_resources=0).statements[0].resources != ["*"]


def test_generalise_keeps_accounts_and_types_apart():
    keys = {f"arn:aws:kms:us-east-1:{ACCT}:key/{i:08d}-aaaa" for i in range(4)} | {
        "arn:aws:kms:us-east-1:999999999999:key/0000-bbbb",
        "arn:aws:kms:us-east-1:999999999999:key/0001-bbbb",
    }
    out, note = generalise(keys, 2)
    assert out == [f"arn:aws:kms:us-east-1:{ACCT}:key/*", "arn:aws:kms:us-east-1:999999999999:key/*"]
    assert note
    assert generalise(keys, 10) == (sorted(keys), "")
    assert generalise({"*", "arn:aws:s3:::b"}, 10) == (["*"], "")


def test_split_at_the_size_limit(store):
    recs = [
        rec("dynamodb.amazonaws.com", n, {"tableName": f"table-{i:03d}-" + "x" * 40})
        for i in range(40)
        for n in ("GetItem", "PutItem", "Query", "DeleteItem", "UpdateItem")
    ]
    recs += [
        rec("sqs.amazonaws.com", "SendMessage", {"queueUrl": f"https://sqs.us-east-1.amazonaws.com/{ACCT}/q{i}"})
        for i in range(40)
    ]
    recs += [
        rec("lambda.amazonaws.com", f"{n}20150331", {"functionName": f"fn-{i:03d}"})
        for i in range(40)
        for n in ("GetFunction", "ListVersionsByFunction")
    ]
    t = store(recs)
    u = usage(t, ROLE)
    c = candidate(u, max_resources=0, limit=2048)
    assert len(c.documents) > 1
    assert all(policy_size(d) <= 2048 for d in c.documents)
    assert c.valid
    granted = {
        (a, r)
        for d in c.documents
        for s in d["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
    }
    assert {(a, r) for a, r in zip(u.uses["action"], u.uses["resource"], strict=True)} <= granted
    big = candidate(u, max_resources=0)
    assert len(big.documents) < len(c.documents) and all(policy_size(d) <= MANAGED_LIMIT for d in big.documents)
    assert len(candidate(u).documents) == 1  # generalised past 10 resources: one small document
    assert policy_size({"a": " b "}) == len('{"a":"b"}')


def test_bad_inputs_are_one_line_errors(store):
    with pytest.raises(BadInput, match="not a principal"):
        Principal.parse("alice")
    with pytest.raises(BadInput, match="not a role or user ARN"):
        Principal.parse(f"arn:aws:iam::{ACCT}:policy/p")
    assert Principal.parse("permission-set/Developer").kind == "permission-set"
    assert Principal.parse(f"arn:aws:sts::{ACCT}:assumed-role/app/s1").arn == f"arn:aws:iam::{ACCT}:role/app"
    t = store(_records())
    with pytest.raises(BadInput, match="too small"):
        candidate(usage(t, ROLE), limit=10)


def test_a_principal_that_used_nothing_gets_no_document(store):
    t = store([rec("sts.amazonaws.com", "GetCallerIdentity", None)])
    c = candidate(usage(t, ROLE))
    assert c.documents == [] and c.valid and "grants nothing" in c.notes[0]
    json.dumps(c.to_dict())


def test_records_missing_fields_are_read_not_crashed_on(store):
    # no eventType, no awsRegion, no sourceIPAddress: pandas' NA in the frame must not reach a truth test
    bare = rec("s3.amazonaws.com", "ListBuckets", None)
    for k in ("eventType", "awsRegion", "sourceIPAddress"):
        bare.pop(k)
    t = store([bare, rec("dynamodb.amazonaws.com", "GetItem", {"tableName": "t"})])
    u = usage(t, ROLE)
    assert u.actions == ["dynamodb:GetItem", "s3:ListAllMyBuckets"]
    from iamkit.leastpriv import prove

    c = candidate(u)
    assert prove(u, c).coverage == 1.0
