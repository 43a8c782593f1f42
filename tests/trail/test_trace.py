"""Key tracing (origin and everything created) and timelines, on a realistic incident."""

from __future__ import annotations

import pytest
from ctrecords import (
    ALICE,
    ATTACKER_IP,
    ATTACKER_UA,
    BACKDOOR,
    BOB_KEY,
    DEV,
    LEAKED,
    NEW_KEY,
    PROD,
    PROD_ROLE,
    SECRET,
    SESSION_ARN,
    SESSION_KEY,
    iam_user,
    rec,
    role_session,
)

import iamkit.trail as trail
from iamkit import frames
from iamkit.errors import BadInput, NotFound
from iamkit.trail import Trail, store
from iamkit.trail.trace import trace


@pytest.fixture
def t(tmp_path, incident):
    tr = trail.open(tmp_path / "t.duckdb")
    store.insert_records(tr.con, incident)
    yield tr
    tr.close()


def test_leaked_key_trace_finds_everything_the_report_needs(t):
    res = t.trace(LEAKED)
    assert res.origin.kind == "iam_user" and res.origin.principal_arn == ALICE and res.origin.chain == [LEAKED]
    s = res.summary
    assert s["ips"] == [ATTACKER_IP] and s["user_agents"] == [ATTACKER_UA]
    assert str(s["ip_first_seen"][ATTACKER_IP]).startswith("2024-03-01 09:00:00")
    assert s["created_users"] == [BACKDOOR]
    assert s["created_keys"] == [NEW_KEY]
    assert s["policies_attached"][0]["policy"] == "arn:aws:iam::aws:policy/AdministratorAccess"
    assert s["policies_attached"][0]["target"] == "svc-backup"
    assert s["cross_account_sessions"] == [SESSION_ARN]
    assert s["sessions"][0]["access_key_id"] == SESSION_KEY and s["sessions"][0]["account_id"] == PROD
    assert s["sessions"][0]["role_arn"] == PROD_ROLE
    assert s["secrets_read"] == [SECRET]
    assert s["objects_read"] == ["arn:aws:s3:::prod-data/customers.csv"]
    assert s["errors"] == {"AccessDenied": 2}
    assert s["accounts"] == [DEV, PROD]
    assert BOB_KEY not in set(res.events.access_key_id)


def test_trace_frames_and_depths(t):
    res = t.trace(LEAKED)
    frames.check(res.nodes, "trace_nodes")
    frames.check(res.events, "trace_events")
    nodes = res.nodes.set_index("node")
    assert nodes.loc[LEAKED, "depth"] == 0 and nodes.loc[NEW_KEY, "parent"] == LEAKED
    assert nodes.loc[BACKDOOR, "node_type"] == "user"
    assert nodes.loc[SESSION_KEY, "parent"] == NEW_KEY and nodes.loc[SESSION_KEY, "depth"] == 2
    assert bool(nodes.loc[SESSION_KEY, "cross_account"]) is True
    by_name = res.events.set_index("event_name")
    assert by_name.loc["GetSecretValue", "depth"] == 2 and by_name.loc["GetSecretValue", "node"] == SESSION_KEY
    assert res.events.event_time.is_monotonic_increasing
    assert res.events.event_id.is_unique


def test_session_key_traced_back_to_the_leaked_key(t):
    res = t.trace(SESSION_KEY)
    assert res.origin.chain == [NEW_KEY, SESSION_KEY]
    # NEW_KEY was created by CreateAccessKey (not STS): the origin is its IAM user, created by the leaked key
    assert res.origin.kind == "iam_user" and res.origin.principal_arn == BACKDOOR
    assert res.origin.detail["created_by_key"] == LEAKED
    assert set(res.events.event_name) == {"StopLogging", "GetSecretValue", "GetObject"}


def test_saml_and_web_identity_and_identity_center_origins(store_con):
    role = f"arn:aws:iam::{DEV}:role/Federated"
    sess = f"arn:aws:sts::{DEV}:assumed-role/Federated/jane@example.com"
    saml_ui = {
        "type": "SAMLUser",
        "principalId": "x:jane@example.com",
        "userName": "jane@example.com",
        "identityProvider": "arn:aws:iam::111111111111:saml-provider/Okta",
    }
    key_saml, key_web, key_sso = "ASIASAMLSESSION00001", "ASIAWEBSESSION000001", "ASIASSOSESSION000001"
    records = [
        rec(
            "AssumeRoleWithSAML",
            "sts.amazonaws.com",
            saml_ui,
            "2024-03-01T08:00:00Z",
            re={
                "credentials": {"accessKeyId": key_saml},
                "assumedRoleUser": {"arn": sess},
                "subject": "jane@example.com",
                "issuer": "https://okta.example.com",
            },
        ),
        rec("ListBuckets", "s3.amazonaws.com", role_session(sess, role, key_saml), "2024-03-01T08:01:00Z"),
        rec(
            "AssumeRoleWithWebIdentity",
            "sts.amazonaws.com",
            {
                "type": "WebIdentityUser",
                "principalId": "accounts.google.com:123",
                "userName": "123",
                "identityProvider": "accounts.google.com",
            },
            "2024-03-01T08:02:00Z",
            re={
                "credentials": {"accessKeyId": key_web},
                "subjectFromWebIdentityToken": "123",
                "provider": "accounts.google.com",
                "assumedRoleUser": {"arn": sess},
            },
        ),
        rec("ListBuckets", "s3.amazonaws.com", role_session(sess, role, key_web), "2024-03-01T08:03:00Z"),
        rec(
            "ListBuckets",
            "s3.amazonaws.com",
            role_session(
                f"arn:aws:sts::{DEV}:assumed-role/AWSReservedSSO_Admin_abc/jane",
                f"arn:aws:iam::{DEV}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_abc",
                key_sso,
            )
            | {"onBehalfOf": {"userId": "9067-user", "identityStoreArn": "arn:aws:identitystore::1:identitystore/d-1"}},
            "2024-03-01T08:04:00Z",
        ),
    ]
    store.insert_records(store_con, records)
    saml = trace(Trail(store_con), key_saml).origin
    assert (saml.kind, saml.name, saml.detail["issuer"]) == (
        "saml_user",
        "jane@example.com",
        "https://okta.example.com",
    )
    web = trace(Trail(store_con), key_web).origin
    assert (web.kind, web.name, web.detail["provider"]) == ("web_identity", "123", "accounts.google.com")
    sso = trace(Trail(store_con), key_sso).origin
    assert (sso.kind, sso.name) == ("identity_center_user", "jane")
    assert sso.detail["identity_store_user_id"] == "9067-user"


def test_get_session_token_chain_and_root_and_service(store_con):
    user = iam_user(ALICE, "AKIAALICEKEY00000001")
    sess_key = "ASIAGETSESSIONTOKEN1"
    ui_sess = dict(iam_user(ALICE, sess_key))
    records = [
        rec(
            "GetSessionToken",
            "sts.amazonaws.com",
            user,
            "2024-03-01T08:00:00Z",
            re={"credentials": {"accessKeyId": sess_key}},
        ),
        rec("ListUsers", "iam.amazonaws.com", ui_sess, "2024-03-01T08:01:00Z"),
        rec(
            "ListUsers",
            "iam.amazonaws.com",
            {
                "type": "Root",
                "arn": f"arn:aws:iam::{DEV}:root",
                "accountId": DEV,
                "accessKeyId": "AKIAROOTKEY000000001",
            },
            "2024-03-01T08:02:00Z",
        ),
        rec(
            "Decrypt",
            "kms.amazonaws.com",
            {"type": "AWSService", "invokedBy": "lambda.amazonaws.com", "accessKeyId": "ASIASERVICEKEY000001"},
            "2024-03-01T08:03:00Z",
        ),
    ]
    store.insert_records(store_con, records)
    o = trace(Trail(store_con), sess_key).origin
    assert (o.kind, o.principal_arn, o.chain) == ("iam_user", ALICE, ["AKIAALICEKEY00000001", sess_key])
    assert trace(Trail(store_con), "AKIAROOTKEY000000001").origin.kind == "root"
    svc = trace(Trail(store_con), "ASIASERVICEKEY000001").origin
    assert (svc.kind, svc.name) == ("service", "lambda.amazonaws.com")


def test_unknown_and_malformed_keys(t):
    with pytest.raises(NotFound, match="never appears"):
        t.trace("AKIANEVERSEENKEY0001")
    with pytest.raises(BadInput, match="not an access key id"):
        t.trace("hello")


def test_assume_role_loop_does_not_hang(store_con):
    a, b = "ASIALOOPKEYAAAAAAAA1", "ASIALOOPKEYBBBBBBBB1"
    s_a = role_session(SESSION_ARN, PROD_ROLE, a)
    s_b = role_session(SESSION_ARN, PROD_ROLE, b)
    store.insert_records(
        store_con,
        [
            rec("AssumeRole", "sts.amazonaws.com", s_a, "2024-03-01T08:00:00Z", re={"credentials": {"accessKeyId": b}}),
            rec("AssumeRole", "sts.amazonaws.com", s_b, "2024-03-01T08:01:00Z", re={"credentials": {"accessKeyId": a}}),
        ],
    )
    res = trace(Trail(store_con), a)
    assert set(res.nodes.node) == {a, b}
    assert len(res.origin.chain) == 2


def test_timeline_by_key_principal_and_name(t):
    tl = t.timeline(LEAKED)
    frames.check(tl, "timeline")
    assert list(tl.event_name[:3]) == ["GetCallerIdentity", "ListUsers", "ListBuckets"]
    assert tl.set_index("event_name").loc["AttachUserPolicy", "target"] == (
        "userName=svc-backup policyArn=arn:aws:iam::aws:policy/AdministratorAccess"
    )
    assert len(t.timeline(SESSION_ARN)) == 3
    assert len(t.timeline(PROD_ROLE)) == 3  # by session issuer (the role)
    assert len(t.timeline("maint")) == 3  # by session name
    assert len(t.timeline("dev-alice", start="2024-03-01T09:05:00Z")) == 3
    with pytest.raises(NotFound):
        t.timeline("nobody")


# -- a cross-account AssumeRole is written twice: follow the caller's copy -----------------------------------
def _two_copies() -> tuple[list[dict], dict]:
    """The leaked key's usual call, then AssumeRole into Prod as CloudTrail writes it (the role account's copy,
    with AWSAccount and no key, first), then the session's read."""
    alice = iam_user(ALICE, LEAKED)
    re = {
        "credentials": {"accessKeyId": SESSION_KEY, "sessionToken": "<redacted>"},
        "assumedRoleUser": {"assumedRoleId": "AROAPRODADMIN:maint", "arn": SESSION_ARN},
    }
    rp = {"roleArn": PROD_ROLE, "roleSessionName": "maint"}
    role_copy = rec(
        "AssumeRole",
        "sts.amazonaws.com",
        {"type": "AWSAccount", "principalId": alice["principalId"], "accountId": DEV},
        "2024-03-01T10:00:00Z",
        account=PROD,
        rp=rp,
        re=re,
        read_only=True,
        event_id="ev-a-role-copy",
    )
    caller_copy = rec(
        "AssumeRole",
        "sts.amazonaws.com",
        alice,
        "2024-03-01T10:00:00Z",
        rp=rp,
        re=re,
        read_only=True,
        event_id="ev-b-caller-copy",
    )
    usual = rec("ListBuckets", "s3.amazonaws.com", alice, "2024-03-01T08:00:00Z", ip="198.51.100.7", read_only=True)
    read = rec(
        "GetSecretValue",
        "secretsmanager.amazonaws.com",
        role_session(SESSION_ARN, PROD_ROLE, SESSION_KEY),
        "2024-03-01T10:10:00Z",
        account=PROD,
        rp={"secretId": SECRET},
        read_only=True,
    )
    return [role_copy, caller_copy, usual, read], alice


def test_session_key_of_a_cross_account_assume_role_reaches_the_leaked_key(store_con):
    records, _ = _two_copies()
    store.insert_records(store_con, records)
    res = trace(Trail(store_con), SESSION_KEY)
    o = res.origin
    assert (o.kind, o.principal_arn, o.access_key_id, o.chain) == ("iam_user", ALICE, LEAKED, [LEAKED, SESSION_KEY])
    # and from the leaked key forward, the session is a cross-account child
    nodes = trace(Trail(store_con), LEAKED).nodes.set_index("node")
    assert nodes.loc[SESSION_KEY, "parent"] == LEAKED and bool(nodes.loc[SESSION_KEY, "cross_account"])


def test_only_the_role_accounts_copy_names_the_caller_by_principal_id(store_con):
    records, alice = _two_copies()
    store.insert_records(store_con, [r for r in records if r["eventID"] != "ev-b-caller-copy"])
    o = trace(Trail(store_con), SESSION_KEY).origin
    assert (o.kind, o.principal_arn, o.access_key_id) == ("iam_user", ALICE, None)
    assert "not loaded" in o.detail["note"]


def test_only_the_role_account_loaded_gives_the_callers_account(store_con):
    records, alice = _two_copies()
    store.insert_records(store_con, [records[0], records[3]])
    o = trace(Trail(store_con), SESSION_KEY).origin
    assert (o.kind, o.name, o.account_id) == ("aws_account", alice["principalId"], DEV)
