"""The investigation's answers as data, on small hand-made traces: suspicious vs usual activity, what counts
as denied, AWS-side sources, successful logging changes, the headline, the comparison with an answer key, and a
case that could not answer everything ('complete with errors')."""

from __future__ import annotations

import itertools

import duckdb
import pandas as pd
import pytest

from iamkit.case import COMPLETE_WITH_ERRORS, Case
from iamkit.investigate import facts as F
from iamkit.report import headline
from iamkit.trail.outcome import denied_sql, is_denied, outcome

DEV, PROD = "111111111111", "222222222222"
KEY, SESSION = "AKIAOWNERKEY00000001", "ASIASESSIONKEY000001"
USER = f"arn:aws:iam::{DEV}:user/dana"
HOME, ATTACKER = "198.51.100.7", "203.0.113.9"
CLI = "aws-cli/2.15.30 Python/3.11.8 Darwin/23.4.0 exe/x86_64 prompt/off command/{}"
EVIL = "python-requests/2.31.0 (x)"
_ids = itertools.count(1)


def ev(
    t: str,
    name: str,
    *,
    ip: str = HOME,
    ua: str = CLI.format("s3.ls"),
    key: str = KEY,
    code=None,
    source: str = "iam",
    rp=None,
    re=None,
    node: str = KEY,
    principal: str = USER,
    ui=None,
    read_only: bool = True,
    account: str = DEV,
) -> dict:
    return {
        "event_time": pd.Timestamp(t, tz="UTC"),
        "event_id": f"e{next(_ids):04d}",
        "event_name": name,
        "event_source": f"{source}.amazonaws.com",
        "recipient_account_id": account,
        "aws_region": "us-east-1",
        "principal_arn": principal,
        "access_key_id": key,
        "source_ip": ip,
        "user_agent": ua,
        "error_code": code,
        "read_only": read_only,
        "request_parameters": rp,
        "response_elements": re,
        "resources": None,
        "user_identity": ui or {"type": "IAMUser", "arn": principal},
        "node": node,
    }


SUBJECT = {
    "access_key_id": KEY,
    "key_type": "long-term",
    "principal_arn": USER,
    "account_id": DEV,
    "person": None,
    "session_arn": None,
    "origin_access_key_id": KEY,
    "chain": [KEY],
}


def usual_days() -> list[dict]:
    """The owner at work on three days: one IP, one CLI (different commands)."""
    return [
        ev(f"2026-03-0{d}T09:0{i}:00Z", "ListBuckets", source="s3", ua=CLI.format(cmd))
        for d in (2, 3, 4)
        for i, cmd in enumerate(("s3.ls", "sts.get-caller-identity"))
    ]


def test_the_baseline_separates_the_attack_from_the_owner():
    rows = usual_days() + [
        ev("2026-03-05T10:00:00Z", "GetCallerIdentity", source="sts", ip=ATTACKER, ua=EVIL),
        ev("2026-03-05T10:01:00Z", "ListUsers", ip=ATTACKER, ua=EVIL, code="AccessDenied"),
        ev("2026-03-05T10:02:00Z", "ListRoles", ip=HOME, ua=EVIL),  # owner's IP, new agent: suspicious
        ev("2026-03-05T10:03:00Z", "ListPolicies", ip=ATTACKER, ua=CLI.format("iam.list-policies")),  # new IP
        ev("2026-03-05T11:00:00Z", "ListBuckets", source="s3", ua=CLI.format("s3.ls")),  # the owner, same day
    ]
    f = F.activity_facts(pd.DataFrame(rows), SUBJECT)
    assert f["activity"]["suspicious_calls"] == 4 and f["activity"]["usual_calls"] == 7
    assert f["window"]["start"] == "2026-03-05T10:00:00Z" and f["window"]["end"] == "2026-03-05T10:03:00Z"
    assert f["window"]["first_event"] == {
        "event_name": "GetCallerIdentity",
        "event_time": "2026-03-05T10:00:00Z",
        "access_key_id": KEY,
        "source_ip": ATTACKER,
    }
    src = f["sources"]
    assert src["new_ips"] == [ATTACKER] and src["usual_ips"] == [HOME]
    assert src["new_user_agents"] == [EVIL]  # the CLI with another command is the same agent
    assert src["usual_user_agents"] == ["aws-cli/2.15.30 Python/3.11.8 Darwin/23.4.0 exe/x86_64 prompt/off"]
    assert f["denied"] == {"count": 1, "by_code": {"AccessDenied": 1}}


def test_without_a_day_of_history_everything_is_suspicious():
    rows = [ev("2026-03-05T10:00:00Z", "ListUsers"), ev("2026-03-05T10:30:00Z", "ListRoles", ip=ATTACKER)]
    f = F.activity_facts(pd.DataFrame(rows), SUBJECT)
    assert f["activity"] == {"suspicious_calls": 2, "usual_calls": 0, "subject_key_calls": 2, "subject_key_denied": 0}
    assert f["sources"]["usual_ips"] == [] and f["sources"]["new_ips"] == [HOME, ATTACKER]
    assert "No usual activity to compare with" in headline(F.save(_Case(), f))[0]


def test_denied_is_access_denied_class_only_and_aws_sources_are_not_ips():
    internal = {"type": "IAMUser", "arn": USER, "invokedBy": "AWS Internal"}
    rows = usual_days() + [
        ev("2026-03-05T10:00:00Z", "ListUsers", ip=ATTACKER, ua=EVIL, code="AccessDenied"),
        ev(
            "2026-03-05T10:00:01Z",
            "DescribeVpcs",
            source="ec2",
            ip=ATTACKER,
            ua=EVIL,
            code="Client.UnauthorizedOperation",
        ),
        ev(
            "2026-03-05T10:00:02Z", "DescribeParameters", source="ssm", ip=ATTACKER, ua=EVIL, code="ThrottlingException"
        ),
        ev("2026-03-05T10:00:03Z", "GetUser", ip=ATTACKER, ua=EVIL, code="NoSuchEntityException"),
        ev("2026-03-05T10:00:04Z", "ListAliases", source="kms", ip="AWS Internal", ua="AWS Internal", ui=internal),
        ev(
            "2026-03-05T10:00:05Z",
            "Decrypt",
            source="kms",
            ip="secretsmanager.amazonaws.com",
            ua="secretsmanager.amazonaws.com",
            ui={"type": "IAMUser", "arn": USER, "invokedBy": "secretsmanager.amazonaws.com"},
        ),
    ]
    f = F.activity_facts(pd.DataFrame(rows), SUBJECT)
    assert f["denied"] == {"count": 2, "by_code": {"AccessDenied": 1, "Client.UnauthorizedOperation": 1}}
    assert f["other_errors"] == {"count": 2, "by_code": {"NoSuchEntityException": 1, "ThrottlingException": 1}}
    assert f["sources"]["new_ips"] == [ATTACKER]
    assert f["sources"]["via_aws_services"] == ["AWS Internal", "secretsmanager.amazonaws.com"]
    assert "AWS Internal" not in f["sources"]["new_user_agents"]
    assert f["activity"]["suspicious_calls"] == 6  # the services' calls for the key follow the attack's


def test_a_successful_logging_change_is_a_fact_not_a_crash():
    # a missing error code is a missing value in a frame (NaN/None): the old code concatenated it to a string
    rows = usual_days() + [
        ev(
            "2026-03-05T10:00:00Z",
            "StopLogging",
            source="cloudtrail",
            ip=ATTACKER,
            ua=EVIL,
            read_only=False,
            rp={"name": "org-trail"},
        ),
        ev(
            "2026-03-05T10:01:00Z",
            "PutEventSelectors",
            source="cloudtrail",
            ip=ATTACKER,
            ua=EVIL,
            read_only=False,
            rp={"trailName": "prod-trail"},
            code="AccessDenied",
        ),
        ev(
            "2026-03-05T10:02:00Z",
            "DeleteDetector",
            source="guardduty",
            ip=ATTACKER,
            ua=EVIL,
            read_only=False,
            rp={"detectorId": "d-1"},
        ),
    ]
    df = pd.DataFrame(rows)
    df["error_code"] = df["error_code"].astype(object).where(df["error_code"].notna(), float("nan"))
    f = F.activity_facts(df, SUBJECT)
    assert f["logging_changes"] == [
        {"event_name": "StopLogging", "target": "org-trail", "result": "succeeded", "error_code": None},
        {"event_name": "PutEventSelectors", "target": "prod-trail", "result": "denied", "error_code": "AccessDenied"},
        {"event_name": "DeleteDetector", "target": "d-1", "result": "succeeded", "error_code": None},
    ]
    assert f["resources_changed"] == []  # logging changes are listed apart
    line = headline(F.save(_Case(), f))[-1]
    assert "StopLogging succeeded, PutEventSelectors denied (AccessDenied), DeleteDetector succeeded" in line


def test_what_a_suspicious_call_creates_is_suspicious_with_everything_it_does():
    creds = {"credentials": {"accessKeyId": SESSION}}
    session = f"arn:aws:sts::{PROD}:assumed-role/deploy/x"
    rows = usual_days() + [
        ev(
            "2026-03-05T10:00:00Z",
            "AssumeRole",
            source="sts",
            ip=ATTACKER,
            ua=EVIL,
            rp={"roleArn": f"arn:aws:iam::{PROD}:role/deploy", "roleSessionName": "x"},
            re=creds,
        ),
        ev(
            "2026-03-05T10:05:00Z",
            "GetSecretValue",
            source="secretsmanager",
            ip=HOME,
            ua=CLI.format("x"),
            key=SESSION,
            node=SESSION,
            principal=session,
            account=PROD,
            rp={"secretId": f"arn:aws:secretsmanager:us-east-1:{PROD}:secret:db-AbCdEf"},
        ),
    ]
    df = pd.DataFrame(rows)
    nodes = pd.DataFrame(
        [
            {"node": KEY, "depth": 0, "created_by_event": None},
            {"node": SESSION, "depth": 1, "created_by_event": rows[-2]["event_id"]},
        ]
    )
    f = F.activity_facts(df, SUBJECT, nodes=nodes)
    assert f["activity"]["suspicious_calls"] == 2  # the session's read from the owner's IP/agent too
    assert f["resources_read"] == [f"arn:aws:secretsmanager:us-east-1:{PROD}:secret:db-AbCdEf"]
    assert f["roles_assumed"] == [
        {
            "role_arn": f"arn:aws:iam::{PROD}:role/deploy",
            "session_name": "x",
            "access_key_id": SESSION,
            "from_principal": USER,
            "from_account": DEV,
            "account_id": PROD,
            "cross_account": True,
        }
    ]
    assert f["created"]["sessions"] == [SESSION]


class _Case:
    """Just enough of a case for ``facts.save`` (nothing unanswered)."""

    def unanswered(self):
        return []

    def save_json(self, name, obj):
        self.saved = obj


def test_a_case_that_could_not_answer_everything_says_so_first(tmp_path):
    case = Case.create(tmp_path, "compromised-access-key", {"access_key_id": KEY})
    f = F.activity_facts(pd.DataFrame(usual_days()), SUBJECT)
    case.note_unanswered("enrichment", "the owner's IAM details and person", "AccessDenied: iam:GetUser")
    f = F.save(case, f)
    assert f["unanswered"] == [
        {"step": "enrichment", "question": "the owner's IAM details and person", "reason": "AccessDenied: iam:GetUser"}
    ]
    assert headline(f)[0] == (
        "Not answered: the owner's IAM details and person — AccessDenied: iam:GetUser (enrichment)"
    )
    case.finish("complete")
    meta = Case.open(case.path).meta
    assert meta["status"] == COMPLETE_WITH_ERRORS and meta["unanswered"]
    assert Case.open(case.path).verify() == [], "it finished: sealed and verifiable, not INCOMPLETE"
    clean = Case.create(tmp_path / "clean", "compromised-access-key", {"access_key_id": KEY})
    clean.finish("complete")
    assert Case.open(clean.path).meta["status"] == "complete"


def test_headline_names_country_and_asn_when_known():
    f = F.activity_facts(
        pd.DataFrame(usual_days() + [ev("2026-03-05T10:00:00Z", "ListUsers", ip=ATTACKER, ua=EVIL)]), SUBJECT
    )
    f["sources"]["ip_context"] = {ATTACKER: {"country": "KP", "asn": 64500, "as_org": "Example Hosting"}}
    assert f"new IP {ATTACKER} (KP, AS64500 Example Hosting)" in headline(F.save(_Case(), f))[0]


def test_facts_that_break_the_schema_are_refused():
    f = F.activity_facts(pd.DataFrame(usual_days()), SUBJECT)
    f["subject"] = {**f["subject"], "key_type": "forever"}
    with pytest.raises(ValueError, match="subject/key_type"):
        F.validate(f)


def test_differences_follow_the_schema_rules():
    f = F.activity_facts(pd.DataFrame(usual_days()), SUBJECT)
    f.update(
        reach={"admin_principals": [USER], "sensitive_resources": ["arn:aws:s3:::a", "arn:aws:s3:::b"]},
        detections=["d1", "d2"],
        containment=[{"kind": "quarantine_user", "target": USER}],
    )
    key = {
        **f,
        "detections": ["d2"],
        "reach": {"admin_principals": [USER], "sensitive_resources": ["arn:aws:s3:::b"]},
        "sources": {**f["sources"], "ip_context": {"x": {}}},
    }
    assert F.differences(f, key) == []  # at-least fields, ignored ip_context
    assert F.differences(f, {**key, "detections": ["d3"]}) == ["detections: missing ['d3']"]
    swapped = {**key, "subject": {**key["subject"], "chain": [KEY, SESSION]}}
    assert F.differences(f, swapped) == [f'subject.chain: expected ["{KEY}", "{SESSION}"], got ["{KEY}"]']
    assert F.differences({**f, "reach": None}, key)[0].startswith("reach: expected")


@pytest.mark.parametrize(
    "code, result",
    [
        (None, "succeeded"),
        (float("nan"), "succeeded"),
        (pd.NA, "succeeded"),
        ("", "succeeded"),
        ("AccessDenied", "denied"),
        ("AccessDeniedException", "denied"),
        ("Client.UnauthorizedOperation", "denied"),
        ("UnauthorizedOperation", "denied"),
        ("AuthorizationError", "denied"),
        ("403", "denied"),
        ("ThrottlingException", "failed"),
        ("NoSuchEntityException", "failed"),
        ("TrailNotFoundException", "failed"),
        ("Client.InvalidRouteTableID.NotFound", "failed"),
        ("ValidationException", "failed"),
    ],
)
def test_one_definition_of_denied(code, result):
    assert outcome(code) == result and is_denied(code) == (result == "denied")
    con = duckdb.connect()
    got = con.execute(
        f"SELECT {denied_sql('c')} FROM (SELECT ?::VARCHAR AS c)", [code if isinstance(code, str) else None]
    ).fetchone()[0]
    assert bool(got) == (result == "denied")


def _store(records: list[dict]):
    from iamkit.trail import store

    con = duckdb.connect()
    store.create_schema(con)
    store.insert_records(con, records)
    return con


def _rec(name: str, ui: dict, t: str, rp=None, re=None, account: str = DEV) -> dict:
    return {
        "eventVersion": "1.09",
        "userIdentity": ui,
        "eventTime": t,
        "eventSource": "iam.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": ATTACKER,
        "userAgent": EVIL,
        "requestParameters": rp,
        "responseElements": re,
        "requestID": f"r{next(_ids)}",
        "eventID": f"x{next(_ids):05d}",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }


def test_the_chain_is_followed_up_to_the_key_that_made_it():
    from iamkit.investigate.access_key import origin_chain
    from iamkit.trail import Trail
    from iamkit.trail.trace import trace

    backdoor = f"arn:aws:iam::{DEV}:user/svc-x"
    owner = {
        "type": "IAMUser",
        "principalId": "AIDAOWNER",
        "arn": USER,
        "accountId": DEV,
        "userName": "dana",
        "accessKeyId": KEY,
    }
    new_key, console_key = "AKIANEWKEY0000000001", "ASIACONSOLEKEY000001"
    bd = {"type": "IAMUser", "principalId": "AIDASVCX", "arn": backdoor, "accountId": DEV, "userName": "svc-x"}
    con = _store(
        [
            _rec(
                "CreateUser",
                owner,
                "2026-03-05T10:00:00Z",
                {"userName": "svc-x"},
                {"user": {"userName": "svc-x", "arn": backdoor}},
            ),
            _rec(
                "CreateAccessKey",
                owner,
                "2026-03-05T10:01:00Z",
                {"userName": "svc-x"},
                {"accessKey": {"userName": "svc-x", "accessKeyId": new_key}},
            ),
            _rec("ListUsers", {**bd, "accessKeyId": new_key}, "2026-03-05T10:02:00Z"),
            _rec("ListRoles", {**bd, "accessKeyId": console_key}, "2026-03-05T10:03:00Z"),  # a console session
        ]
    )
    for key, chain in ((new_key, [KEY, new_key]), (console_key, [KEY, console_key])):
        got, origin = origin_chain(Trail(con), trace(Trail(con), key).origin)
        assert got == chain and (origin.kind, origin.principal_arn) == ("iam_user", USER)


def test_the_owners_iam_is_collected(sandbox):
    # iam.collect returns follow-up tasks: the investigation read it as rows and found nobody
    from iamkit.investigate.iam import collect_account

    inc = sandbox.org.incident
    frames = collect_account(sandbox.session(inc.account_id), inc.account_id)
    me = frames["principals"][frames["principals"]["arn"] == inc.user_arn]
    assert len(me) == 1 and me.iloc[0]["tags"] == {"email": sandbox.org.user(inc.user_arn).person}
    group = f"arn:aws:iam::{inc.account_id}:group/platform-engineers"
    assert set(frames["policies"].loc[frames["policies"]["attached_to_arn"] == group, "policy_name"]) == {
        "dev-developer-access",
        "platform-engineer",
    }
    assert (frames["credentials"]["arn"] == inc.user_arn).any()


def test_the_reach_step_collects_only_what_it_needs(sandbox):
    from iamkit.errors import BadInput
    from iamkit.inventory import collect

    dev = sandbox.org.incident.account_id
    inv = collect(accounts=[dev], parts=("iam",))
    assert (inv.principals["account_id"] == dev).any()
    assert inv.resource_policies.empty and inv.credentials.empty and inv.errors.empty
    with pytest.raises(BadInput, match="unknown inventory parts"):
        collect(accounts=[dev], parts=("iam", "everything"))
