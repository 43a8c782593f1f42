"""Shipped detections (native kinds and iamkit's Sigma-format rules): a positive and a negative case each."""

from __future__ import annotations

import json
from urllib.parse import quote

import duckdb
import pytest

from iamkit import frames
from iamkit.trail import Trail, store
from iamkit.trail.detect import policydoc
from iamkit.trail.detect.hunt import hunt
from iamkit.trail.detect.rules import SHIPPED_DIR
from iamkit.trail.detect.synth import ACCOUNT, at, policy, record, root, session, user

FOREIGN = "999999999999"


def run(records: list[dict], rule: str, extra_sql: str | None = None):
    """Hunt with one shipped rule over ``records``; returns the detections frame (checked)."""
    con = duckdb.connect()
    store.insert_records(con, records)
    if extra_sql:
        con.execute(extra_sql)
    res = hunt(Trail(con), rules=[SHIPPED_DIR / f"{rule}.yml"])
    frames.check(res.detections, "detections")
    assert not res.errors["code"].isin(["rule_failed", "rule_unsupported", "rule_invalid"]).any(), res.errors
    con.close()
    return res


# ---------------------------------------------------------------- access key created then used


def _key_records(
    use_ip: str = "198.51.100.10", creator_ip: str = "198.51.100.10", used: bool = True, error: str | None = None
) -> list[dict]:
    out = [
        record("ListUsers", "iam.amazonaws.com", user("admin", "AKIAADMIN"), at(0), ip=creator_ip),
        record(
            "CreateAccessKey",
            "iam.amazonaws.com",
            user("admin", "AKIAADMIN"),
            at(5),
            ip=creator_ip,
            rp={"userName": "svc"},
            re=None if error else {"accessKey": {"userName": "svc", "accessKeyId": "AKIANEWKEY"}},
            error=error,
            event_id="create",
        ),
        record("GetCallerIdentity", "sts.amazonaws.com", user("other", "AKIAOTHER"), at(6), ip=use_ip),
    ]
    if used:
        out += [
            record("ListBuckets", "s3.amazonaws.com", user("svc", "AKIANEWKEY"), at(10), ip=use_ip, event_id="use1"),
            record("GetObject", "s3.amazonaws.com", user("svc", "AKIANEWKEY"), at(11), ip=use_ip, event_id="use2"),
        ]
    return out


def test_key_created_then_used_positive():
    det = run(_key_records(), "key_created_then_used").detections
    assert len(det) == 1
    row = det.iloc[0]
    assert row["access_key_id"] == "AKIANEWKEY"
    assert row["event_ids"] == ["create", "use1", "use2"]
    assert row["principal_arn"].endswith(":user/svc")
    assert "created by" in row["summary"] and "2 time(s)" in row["summary"]
    assert row["first_seen"] < row["last_seen"]


@pytest.mark.parametrize("kwargs", [{"used": False}, {"error": "LimitExceeded"}])
def test_key_created_then_used_negative(kwargs):
    assert run(_key_records(**kwargs), "key_created_then_used").detections.empty


def test_key_used_from_new_ip_positive():
    det = run(_key_records(use_ip="203.0.113.50"), "key_created_then_used_new_ip").detections
    assert list(det["access_key_id"]) == ["AKIANEWKEY"]
    assert "203.0.113.50" in det.iloc[0]["summary"]


def test_key_used_from_creators_known_ip_negative():
    assert run(_key_records(), "key_created_then_used_new_ip").detections.empty


# ---------------------------------------------------------------- first-seen AssumeRole


def _assume(
    t_days: float, ip: str = "198.51.100.10", ua: str = "aws-cli/2.15.0", who: str = "deployer", eid: str | None = None
) -> dict:
    return record(
        "AssumeRole",
        "sts.amazonaws.com",
        user(who, "AKIADEPLOY"),
        at(t_days * 1440),
        ip=ip,
        ua=ua,
        rp={"roleArn": f"arn:aws:iam::{ACCOUNT}:role/Prod", "roleSessionName": "s"},
        event_id=eid,
    )


def _history(days: int = 20, **kw) -> list[dict]:
    return [_assume(d, **kw) for d in range(days)]


def test_assume_role_new_source_ip_positive():
    det = run(_history() + [_assume(20.5, ip="203.0.113.77", eid="odd")], "assume_role_new_source_ip").detections
    assert len(det) == 1
    assert det.iloc[0]["event_ids"] == ["odd"]
    assert "203.0.113.77" in det.iloc[0]["summary"]
    assert det.iloc[0]["principal_arn"].endswith(":user/deployer")


def test_assume_role_new_source_ip_negative_known_ip_and_young_principal():
    assert run(_history() + [_assume(20.5)], "assume_role_new_source_ip").detections.empty
    # a principal with only 3 days of history has no baseline yet: its new IP is not flagged
    young = [_assume(d, who="newbie") for d in range(3)] + [_assume(3.5, who="newbie", ip="203.0.113.1")]
    assert run(young, "assume_role_new_source_ip").detections.empty


def test_first_assume_role_from_an_ip_the_user_never_used_for_anything():
    """The compromised-key shape: a user who works daily from home never assumed a role; then a role is
    assumed from the attacker's IP. The baseline is the user's whole history, not only AssumeRole calls."""
    daily = [
        record("ListBuckets", "s3.amazonaws.com", user("dev", "AKIADEV"), at(d * 24 * 60), ip="198.51.100.9")
        for d in range(10)
    ]
    attack = [
        record("GetCallerIdentity", "sts.amazonaws.com", user("dev", "AKIADEV"), at(10 * 24 * 60), ip="203.0.113.66"),
        record(
            "AssumeRole",
            "sts.amazonaws.com",
            user("dev", "AKIADEV"),
            at(10 * 24 * 60 + 5),
            ip="203.0.113.66",
            rp={"roleArn": f"arn:aws:iam::{ACCOUNT}:role/x", "roleSessionName": "s"},
            event_id="attack",
        ),
    ]
    det = run(daily + attack, "assume_role_new_source_ip").detections
    assert [list(ids) for ids in det["event_ids"]] == [["attack"]]
    from_home = [
        record(
            "AssumeRole",
            "sts.amazonaws.com",
            user("dev", "AKIADEV"),
            at(10 * 24 * 60 + 5),
            ip="198.51.100.9",
            rp={"roleArn": f"arn:aws:iam::{ACCOUNT}:role/x", "roleSessionName": "s"},
        )
    ]
    assert run(daily + from_home, "assume_role_new_source_ip").detections.empty


def test_assume_role_value_learned_during_the_baseline_is_never_new():
    recs = _history(30) + [
        _assume(1, ip="203.0.113.5"),
        _assume(25, ip="203.0.113.5"),
        _assume(26, ip="203.0.113.6", eid="late1"),
        _assume(27, ip="203.0.113.6", eid="late2"),
    ]
    det = run(recs, "assume_role_new_source_ip").detections
    assert [list(ids) for ids in det["event_ids"]] == [["late1", "late2"]]
    assert det.iloc[0]["first_seen"] < det.iloc[0]["last_seen"]


def test_assume_role_new_user_agent_positive_and_negative():
    det = run(_history() + [_assume(21, ua="Pacu/1.0", eid="pacu")], "assume_role_new_user_agent").detections
    assert [list(x) for x in det["event_ids"]] == [["pacu"]]
    assert run(_history() + [_assume(21)], "assume_role_new_user_agent").detections.empty


IP_CONTEXT = (
    "CREATE TABLE ip_context AS SELECT * FROM (VALUES "
    "('198.51.100.10', 'AS64500', 'DE'), ('203.0.113.77', 'AS64511', 'KP'), "
    "('198.51.100.11', 'AS64500', 'DE')) t(ip, asn, country)"
)


def test_assume_role_new_country_and_asn_with_ip_context():
    recs = _history() + [_assume(20.5, ip="203.0.113.77", eid="far"), _assume(20.6, ip="198.51.100.11")]
    for rule in ("assume_role_new_country", "assume_role_new_asn"):
        det = run(recs, rule, IP_CONTEXT).detections
        assert [list(x) for x in det["event_ids"]] == [["far"]], rule
    # a new IP in a known ASN/country is not flagged
    assert run(_history() + [_assume(20.6, ip="198.51.100.11")], "assume_role_new_country", IP_CONTEXT).detections.empty


def test_assume_role_new_country_without_ip_context_is_listed_not_crashed():
    res = run(_history(), "assume_role_new_country")
    assert res.detections.empty
    assert list(res.errors["code"]) == ["rule_skipped"]
    assert "ip_context" in res.errors.iloc[0]["message"]


# ---------------------------------------------------------------- policy content


def _put_policy(doc, name="PutRolePolicy", error=None, eid="pol") -> dict:
    return record(
        name,
        "iam.amazonaws.com",
        user("admin"),
        at(1),
        event_id=eid,
        error=error,
        rp={"roleName": "app", "policyName": "inline1", "policyDocument": doc},
    )


@pytest.mark.parametrize(
    "doc, expect",
    [
        (policy({"Effect": "Allow", "Action": "*", "Resource": "*"}), "every action"),
        (policy({"Effect": "Allow", "Action": ["s3:GetObject", "iam:*"], "Resource": "*"}), "every iam action"),
        (policy({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::1:role/x"}), "iam:PassRole"),
        (policy({"Effect": "Allow", "Action": "IAM:Pass*", "Resource": "*"}), "iam:PassRole"),
        (policy({"Effect": "Allow", "Action": "iam:CreatePolicyVersion", "Resource": "*"}), "iam:CreatePolicy*"),
        (policy({"Effect": "Allow", "Action": "iam:Create*", "Resource": "*"}), "iam:CreatePolicy*"),
        (quote(policy({"Effect": "Allow", "Action": "*", "Resource": "*"})), "every action"),
        (json.dumps({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}), "every action"),
        (policy({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}), "NotAction"),
    ],
)
def test_policy_wildcard_grant_positive(doc, expect):
    det = run([_put_policy(doc)], "policy_wildcard_grant").detections
    assert len(det) == 1 and expect in det.iloc[0]["summary"], det.iloc[0]["summary"] if len(det) else det
    assert det.iloc[0]["event_ids"] == ["pol"]


@pytest.mark.parametrize(
    "event",
    [
        _put_policy(policy({"Effect": "Allow", "Action": ["s3:GetObject", "iam:Get*"], "Resource": "*"})),
        _put_policy(policy({"Effect": "Deny", "Action": "*", "Resource": "*"})),
        _put_policy(policy({"Effect": "Allow", "Action": "*", "Resource": "*"}), error="AccessDenied"),
        _put_policy(policy({"Effect": "Allow", "NotAction": ["iam:*"], "Resource": "*"})),
        record(
            "ListPolicies",
            "iam.amazonaws.com",
            user("admin"),
            at(1),
            rp={"policyDocument": '{"Statement": {"Effect": "Allow", "Action": "*"}}'},
        ),
    ],
)
def test_policy_wildcard_grant_negative(event):
    assert run([event], "policy_wildcard_grant").detections.empty


def test_managed_policy_creation_is_checked_too():
    rec = record(
        "CreatePolicy",
        "iam.amazonaws.com",
        user("admin"),
        at(1),
        event_id="cp",
        rp={"policyName": "Boom", "policyDocument": policy({"Effect": "Allow", "Action": "iam:*", "Resource": "*"})},
    )
    det = run([rec], "policy_wildcard_grant").detections
    assert "Boom" in det.iloc[0]["summary"]


# ---------------------------------------------------------------- trust policies


def _trust(principal, name="UpdateAssumeRolePolicy", cond=None) -> dict:
    st = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    if cond:
        st["Condition"] = cond
    key = "policyDocument" if name == "UpdateAssumeRolePolicy" else "assumeRolePolicyDocument"
    return record(
        name, "iam.amazonaws.com", user("admin"), at(1), event_id="trust", rp={"roleName": "Prod", key: policy(st)}
    )


@pytest.mark.parametrize(
    "event, expect",
    [
        (_trust("*"), "anyone"),
        (_trust({"AWS": "*"}), "anyone"),
        (_trust({"AWS": f"arn:aws:iam::{FOREIGN}:root"}), "foreign account root"),
        (_trust({"AWS": FOREIGN}, name="CreateRole"), "foreign account root"),
        (_trust({"AWS": [f"arn:aws:iam::{FOREIGN}:role/x"]}), "foreign account principal"),
        (_trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}), "account root"),
        (
            _trust({"AWS": f"arn:aws:iam::{FOREIGN}:root"}, cond={"StringEquals": {"sts:ExternalId": "x"}}),
            "with conditions",
        ),
    ],
)
def test_trust_policy_opened_positive(event, expect):
    det = run([event], "trust_policy_opened").detections
    assert len(det) == 1 and expect in det.iloc[0]["summary"]


@pytest.mark.parametrize(
    "event",
    [
        _trust({"Service": "lambda.amazonaws.com"}),
        _trust({"AWS": f"arn:aws:iam::{ACCOUNT}:role/ci"}),
        _trust({"Federated": f"arn:aws:iam::{ACCOUNT}:saml-provider/okta"}, name="CreateRole"),
    ],
)
def test_trust_policy_opened_negative(event):
    assert run([event], "trust_policy_opened").detections.empty


def test_trusted_accounts_are_not_foreign():
    doc = policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{FOREIGN}:role/x"}, "Action": "sts:AssumeRole"}
    )
    assert policydoc.trust_openings(json.loads(doc), ACCOUNT, {FOREIGN}) == []
    assert policydoc.trust_openings(json.loads(doc), ACCOUNT, set())


# ---------------------------------------------------------------- logging


def _selectors(rp: dict) -> dict:
    return record(
        "PutEventSelectors",
        "cloudtrail.amazonaws.com",
        user("admin"),
        at(1),
        event_id="sel",
        rp={"trailName": "main", **rp},
    )


@pytest.mark.parametrize(
    "rp, expect",
    [
        ({"eventSelectors": [{"readWriteType": "WriteOnly", "includeManagementEvents": True}]}, "WriteOnly"),
        ({"eventSelectors": [{"readWriteType": "All", "includeManagementEvents": False}]}, "includeManagementEvents"),
        (
            {
                "eventSelectors": [
                    {
                        "readWriteType": "All",
                        "includeManagementEvents": True,
                        "excludeManagementEventSources": ["kms.amazonaws.com"],
                    }
                ]
            },
            "exclude",
        ),
        (
            {"advancedEventSelectors": [{"fieldSelectors": [{"field": "eventCategory", "equals": ["Data"]}]}]},
            "no management events",
        ),
        (
            {
                "advancedEventSelectors": [
                    {
                        "fieldSelectors": [
                            {"field": "eventCategory", "equals": ["Management"]},
                            {"field": "readOnly", "equals": ["true"]},
                        ]
                    }
                ]
            },
            "readOnly",
        ),
    ],
)
def test_event_selectors_narrowed_positive(rp, expect):
    det = run([_selectors(rp)], "event_selectors_narrowed").detections
    assert len(det) == 1 and expect in det.iloc[0]["summary"]


def test_event_selectors_narrowed_negative():
    full = {
        "eventSelectors": [
            {
                "readWriteType": "All",
                "includeManagementEvents": True,
                "dataResources": [{"type": "AWS::S3::Object", "values": ["arn:aws:s3"]}],
            }
        ]
    }
    assert run([_selectors(full)], "event_selectors_narrowed").detections.empty
    adv = {"advancedEventSelectors": [{"fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}]}]}
    assert run([_selectors(adv)], "event_selectors_narrowed").detections.empty


@pytest.mark.parametrize("name", ["StopLogging", "DeleteTrail", "UpdateTrail"])
def test_logging_stopped_positive(name):
    rec = record(name, "cloudtrail.amazonaws.com", user("admin"), at(1), rp={"name": "main"}, event_id="x")
    assert list(run([rec], "logging_stopped").detections["detection_id"]) == ["iamkit-logging-stopped"]


def test_logging_stopped_negative():
    recs = [
        record("StopLogging", "cloudtrail.amazonaws.com", user("admin"), at(1), error="AccessDenied"),
        record("DescribeTrails", "cloudtrail.amazonaws.com", user("admin"), at(2)),
    ]
    assert run(recs, "logging_stopped").detections.empty


# ---------------------------------------------------------------- root, console, bursts, security services


def test_root_activity_positive_and_negative():
    pos = [record("ListBuckets", "s3.amazonaws.com", root(), at(1), event_id="r")]
    det = run(pos, "root_activity").detections
    assert list(det["event_ids"]) == [["r"]] and det.iloc[0]["severity"] == "high"
    neg = [
        record("ListBuckets", "s3.amazonaws.com", root(), at(1), event_type="AwsServiceEvent"),
        record("Decrypt", "kms.amazonaws.com", {**root(), "invokedBy": "cloudtrail.amazonaws.com"}, at(2)),
        record("ListBuckets", "s3.amazonaws.com", user("alice"), at(3)),
    ]
    assert run(neg, "root_activity").detections.empty


def _login(ui: dict, mfa: str = "No", result: str = "Success") -> dict:
    return record(
        "ConsoleLogin",
        "signin.amazonaws.com",
        ui,
        at(1),
        re={"ConsoleLogin": result},
        extra={"additionalEventData": {"MFAUsed": mfa, "LoginTo": "https://console.aws.amazon.com"}},
    )


def test_console_login_without_mfa():
    assert len(run([_login(user("alice")), _login(root())], "console_login_without_mfa").detections) == 2
    neg = [
        _login(user("alice"), mfa="Yes"),
        _login(user("bob"), result="Failure"),
        _login(session("SSOAdmin", "alice@example.com")),
    ]
    assert run(neg, "console_login_without_mfa").detections.empty


def _denied(n: int, spacing_min: float, who: str = "recon", error: str | None = "AccessDenied") -> list[dict]:
    return [
        record(f"List{i}", "iam.amazonaws.com", user(who, "AKIARECON"), at(i * spacing_min), error=error)
        for i in range(n)
    ]


def test_access_denied_burst_positive():
    det = run(_denied(25, 0.2) + _denied(3, 0.1, who="ok"), "access_denied_burst").detections
    assert len(det) == 1
    row = det.iloc[0]
    assert row["principal_arn"].endswith(":user/recon") and len(row["event_ids"]) == 25
    assert row["summary"].startswith("25 denied calls within 10 min")


@pytest.mark.parametrize("records", [_denied(25, 30), _denied(40, 0.1, error=None), _denied(19, 0.1)])
def test_access_denied_burst_negative(records):
    assert run(records, "access_denied_burst").detections.empty


@pytest.mark.parametrize(
    "rule, source, name, rp",
    [
        ("guardduty_disabled", "guardduty.amazonaws.com", "DeleteDetector", {"detectorId": "d"}),
        ("guardduty_disabled", "guardduty.amazonaws.com", "UpdateDetector", {"detectorId": "d", "enable": False}),
        ("guardduty_disabled", "guardduty.amazonaws.com", "DisassociateFromAdministratorAccount", {}),
        ("access_analyzer_deleted", "access-analyzer.amazonaws.com", "DeleteAnalyzer", {"analyzerName": "a"}),
        ("config_disabled", "config.amazonaws.com", "StopConfigurationRecorder", {"configurationRecorderName": "d"}),
        ("config_disabled", "config.amazonaws.com", "DeleteDeliveryChannel", {}),
        (
            "admin_managed_policy_attached",
            "iam.amazonaws.com",
            "AttachRolePolicy",
            {"roleName": "r", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        ),
    ],
)
def test_security_services_and_admin_attach_positive(rule, source, name, rp):
    det = run([record(name, source, user("admin"), at(1), rp=rp, event_id="hit")], rule).detections
    assert list(det["event_ids"]) == [["hit"]]


@pytest.mark.parametrize(
    "rule, source, name, rp, error",
    [
        ("guardduty_disabled", "guardduty.amazonaws.com", "UpdateDetector", {"detectorId": "d", "enable": True}, None),
        ("guardduty_disabled", "guardduty.amazonaws.com", "DeleteDetector", {"detectorId": "d"}, "AccessDenied"),
        ("access_analyzer_deleted", "access-analyzer.amazonaws.com", "CreateAnalyzer", {"analyzerName": "a"}, None),
        ("config_disabled", "config.amazonaws.com", "StartConfigurationRecorder", {}, None),
        (
            "admin_managed_policy_attached",
            "iam.amazonaws.com",
            "AttachRolePolicy",
            {"roleName": "r", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
            None,
        ),
    ],
)
def test_security_services_and_admin_attach_negative(rule, source, name, rp, error):
    assert run([record(name, source, user("admin"), at(1), rp=rp, error=error)], rule).detections.empty


# ---------------------------------------------------------------- pure helpers


@pytest.mark.parametrize(
    "value",
    [
        '{"Statement": []}',
        quote('{"Statement": []}'),
        quote(quote('{"Statement": []}')) and quote('{"Statement": []}'),
        {"Statement": []},
        json.dumps(json.dumps({"Statement": []})),
    ],
)
def test_load_document_shapes(value):
    assert policydoc.load_document(value) == {"Statement": []}


@pytest.mark.parametrize("value", [None, "", "not json", "[1, 2]", 42])
def test_load_document_unreadable(value):
    assert policydoc.load_document(value) is None


def test_unreadable_policy_document_is_reported():
    det = run([_put_policy('{"Statement": [{"Effect": "Allow", "Action": "*"')], "policy_wildcard_grant").detections
    assert "unreadable" in det.iloc[0]["summary"]
