"""Calls the sandbox does not implement (Access Analyzer, service last accessed), with botocore's Stubber;
plus the small parsers and the unsupported-endpoint classification."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from iamkit.aws.calls import ErrorLog, Scope, _unsupported_detail
from iamkit.aws.collectors import credential_report, posture
from iamkit.aws.session import AwsContext, new_session

ACCT = "111122223333"
J1, J2 = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"


@pytest.fixture
def ctx():
    slept: list[float] = []
    c = AwsContext(
        session=new_session(region="us-east-1", access_key_id="AKIATEST", secret_access_key="x"),
        region="us-east-1",
        account_id=ACCT,
        arn=f"arn:aws:iam::{ACCT}:role/investigator",
        endpoint_url="http://127.0.0.1:9",
        sleep=slept.append,
    )
    c.slept = slept
    return c


def stub(ctx, service):
    s = Stubber(ctx.client(service))
    s.activate()
    return s


def test_access_analyzer_analyzers_and_findings(ctx):
    aa = stub(ctx, "accessanalyzer")
    arn = f"arn:aws:access-analyzer:us-east-1:{ACCT}:analyzer/org"
    aa.add_response(
        "list_analyzers",
        {
            "analyzers": [
                {
                    "arn": arn,
                    "name": "org",
                    "type": "ORGANIZATION",
                    "createdAt": datetime(2024, 1, 1, tzinfo=UTC),
                    "status": "ACTIVE",
                }
            ]
        },
    )
    aa.add_response(
        "list_findings",
        {
            "findings": [
                {
                    "id": "f1",
                    "resource": "arn:aws:s3:::public",
                    "resourceType": "AWS::S3::Bucket",
                    "isPublic": True,
                    "principal": {"AWS": "*"},
                    "action": ["s3:GetObject"],
                    "condition": {},
                    "status": "ACTIVE",
                    "resourceOwnerAccount": ACCT,
                    "createdAt": datetime(2024, 1, 1, tzinfo=UTC),
                    "analyzedAt": datetime(2024, 1, 1, tzinfo=UTC),
                    "updatedAt": datetime(2024, 1, 1, tzinfo=UTC),
                }
            ]
        },
        {"analyzerArn": arn, "filter": {"status": {"eq": ["ACTIVE"]}}},
    )
    log = ErrorLog()
    rows = posture.analyzers(Scope(ctx, log))
    aa.assert_no_pending_responses()
    assert [r["control"] for r in rows] == ["access_analyzer.analyzer", "access_analyzer.finding"]
    assert rows[0]["status"] == "active" and rows[0]["detail"]["type"] == "ORGANIZATION"
    finding = rows[1]
    assert finding["resource_arn"] == "arn:aws:s3:::public" and finding["detail"]["is_public"] is True
    assert finding["detail"]["analyzer_arn"] == arn and not log.rows


def test_access_analyzer_denied_is_an_error_row(ctx):
    aa = stub(ctx, "accessanalyzer")
    aa.add_client_error("list_analyzers", "AccessDeniedException", "no", 403)
    log = ErrorLog()
    assert posture.analyzers(Scope(ctx, log)) == []
    [row] = log.rows
    assert (row["account_id"], row["operation"], row["code"]) == (
        ACCT,
        "access-analyzer:ListAnalyzers",
        "AccessDeniedException",
    )


def test_service_last_accessed_polls_with_injected_sleep(ctx):
    iam = stub(ctx, "iam")
    role = f"arn:aws:iam::{ACCT}:role/app"
    user = f"arn:aws:iam::{ACCT}:user/bob"
    when = datetime(2024, 3, 1, tzinfo=UTC)
    iam.add_response("generate_service_last_accessed_details", {"JobId": J1}, {"Arn": role})
    iam.add_response(
        "get_service_last_accessed_details",
        {"JobStatus": "IN_PROGRESS", "JobCreationDate": when, "JobCompletionDate": when, "ServicesLastAccessed": []},
        {"JobId": J1},
    )
    iam.add_response(
        "get_service_last_accessed_details",
        {
            "JobStatus": "COMPLETED",
            "JobCreationDate": when,
            "JobCompletionDate": when,
            "ServicesLastAccessed": [
                {
                    "ServiceName": "Amazon S3",
                    "ServiceNamespace": "s3",
                    "LastAuthenticated": when,
                    "LastAuthenticatedEntity": role,
                },
                {"ServiceName": "AWS KMS", "ServiceNamespace": "kms"},
            ],
        },
        {"JobId": J1},
    )
    iam.add_response("generate_service_last_accessed_details", {"JobId": J2}, {"Arn": user})
    iam.add_response(
        "get_service_last_accessed_details",
        {
            "JobStatus": "COMPLETED",
            "JobCreationDate": when,
            "JobCompletionDate": when,
            "ServicesLastAccessed": [{"ServiceName": "AWS KMS", "ServiceNamespace": "kms"}],
        },
        {"JobId": J2},
    )
    log = ErrorLog()
    rows = credential_report.service_last_accessed(Scope(ctx, log), [role, user])
    iam.assert_no_pending_responses()
    assert [(r["resource_arn"], r["status"]) for r in rows] == [(role, "used"), (user, "unused")]
    assert rows[0]["detail"]["services"][0]["namespace"] == "s3"
    assert ctx.slept == [0.1] and not log.rows


def test_service_last_accessed_unsupported_once_then_skipped(ctx):
    iam = stub(ctx, "iam")
    iam.add_client_error("generate_service_last_accessed_details", "NotImplemented", "nope", 501)
    log = ErrorLog()
    arns = [f"arn:aws:iam::{ACCT}:role/r{i}" for i in range(5)]
    assert credential_report.service_last_accessed(Scope(ctx, log), arns) == []
    iam.assert_no_pending_responses()  # one call only: the other four were skipped
    [row] = log.rows
    assert row["code"] == "NotSupportedByEndpoint" and "skipped for every account" in row["message"]


def test_credential_report_polls_until_complete(ctx):
    iam = stub(ctx, "iam")
    iam.add_response("generate_credential_report", {"State": "STARTED"})
    iam.add_response("generate_credential_report", {"State": "INPROGRESS"})
    iam.add_response("generate_credential_report", {"State": "COMPLETE"})
    csv_text = (
        "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
        "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
        "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
        "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
        "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
        "cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n"
        f"<root_account>,arn:aws:iam::{ACCT}:root,2020-01-01T00:00:00+00:00,not_supported,"
        "2024-01-01T00:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,"
        "N/A,N/A,N/A,false,N/A,false,N/A\n"
        f"bob,arn:aws:iam::{ACCT}:user/bob,2021-01-01T00:00:00+00:00,true,no_information,"
        "2021-01-01T00:00:00+00:00,N/A,false,true,2021-02-01T00:00:00+00:00,"
        "2024-02-01T00:00:00+00:00,us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
    )
    iam.add_response(
        "get_credential_report",
        {"Content": csv_text.encode(), "ReportFormat": "text/csv", "GeneratedTime": datetime(2024, 1, 1, tzinfo=UTC)},
    )
    rows = credential_report.credential_report(Scope(ctx, ErrorLog()))
    assert [r["user"] for r in rows] == ["<root_account>", "bob"]
    root, bob = rows
    assert root["mfa_active"] is True and root["password_enabled"] is None
    assert root["password_last_used"] == "2024-01-01T00:00:00+00:00"
    assert bob["password_enabled"] is True and bob["password_last_used"] is None
    assert bob["access_key_1_active"] is True and bob["access_key_1_last_used_date"].startswith("2024-02-01")
    assert len(ctx.slept) == 2


def _client_error(code: str, message: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


@pytest.mark.parametrize(
    "exc, unsupported",
    [
        (_client_error("NotImplemented", "x"), True),
        (_client_error("500", "<!doctype html><title>500 Internal Server Error</title>", 500), True),
        (_client_error("InvalidAction", "x"), True),
        (_client_error("AccessDenied", "x", 403), False),
        (_client_error("ServiceUnavailable", "x", 503), False),
        (_client_error("Throttling", "x"), False),
    ],
)
def test_unsupported_classification(exc, unsupported):
    assert (_unsupported_detail(exc) is not None) is unsupported


def test_html_error_after_success_is_an_error_not_unsupported(ctx):
    kms = stub(ctx, "kms")
    kms.add_response("list_keys", {"Keys": [], "Truncated": False})
    kms.add_client_error("list_keys", "500", "<!doctype html><title>500 Internal Server Error</title>", 500)
    kms.add_response("list_keys", {"Keys": [], "Truncated": False})
    log = ErrorLog()
    scope = Scope(ctx, log)
    assert scope.pages("kms", "ListKeys", "Keys") == []
    assert scope.pages("kms", "ListKeys", "Keys") is None
    assert scope.pages("kms", "ListKeys", "Keys") == []  # still called: not marked unsupported
    [row] = log.rows
    assert row["code"] == "EndpointError" and not log.unsupported


@pytest.mark.parametrize(
    "service, call, kwargs",
    [
        ("iam", "list_users", {}),
        ("kms", "list_keys", {}),
        ("s3", "list_buckets", {}),
        ("lambda", "list_functions", {}),
        ("sqs", "list_queues", {}),
        ("guardduty", "list_detectors", {}),
        ("sso-admin", "list_instances", {}),
        ("s3control", "get_public_access_block", {"AccountId": ACCT}),
    ],
)
@pytest.mark.parametrize(
    "kind, codes, status",
    [
        ("denied", {"AccessDenied", "AccessDeniedException"}, 403),
        ("expired", {"ExpiredToken", "ExpiredTokenException"}, 400),
        ("5xx", {"ServiceUnavailable", "ServiceUnavailableException"}, 503),
    ],
)
def test_injected_faults_parse_in_every_protocol(service, call, kwargs, kind, codes, status):
    from iamkit.aws.faults import Fault, FaultInjector

    inj = FaultInjector([Fault(kind, "*")])
    c = AwsContext(
        session=new_session(region="us-east-1", access_key_id="AKIATEST", secret_access_key="x"),
        region="us-east-1",
        account_id=ACCT,
        endpoint_url="http://127.0.0.1:9",
        hooks=[inj],
        max_attempts=0,
    )
    with pytest.raises(ClientError) as e:
        getattr(c.client(service), call)(**kwargs)
    assert e.value.response["Error"]["Code"] in codes
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert sum(inj.fired.values()) == 1
