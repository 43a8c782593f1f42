"""The sandbox does not contradict itself: every call of the scripted scenario (the incident and the leaked
key's owner at work) replayed through iamkit's policy engine with the seeded IAM, SCPs and resource policies
(collected from the sandbox) is allowed when its trail records a success, refused when it records a denial.
The scenario's variants are replayed in tests/notebooks/test_variants.py, on the sandboxes their playbooks use."""

from __future__ import annotations

import pytest

from iamkit.sandbox import trailgen, verify


def replay(sb) -> tuple[int, list[str]]:
    """(requests replayed, contradictions) for the scenario of a running sandbox (its env vars set)."""
    from iamkit.inventory import collect
    from iamkit.policy import decide

    inv = collect(org=True, service_last_accessed=False)
    records = trailgen.scenario_records(sb.org, days=14, end=sb.now, seed=sb.org.seed)
    return verify.incoherent(
        records,
        lambda r: decide(inv, r["principal"], r["action"], r["resource"], context=r["context"], explain=False).allowed,
    )


def test_default_scenario_is_coherent_with_the_seeded_policies(sandbox):
    checked, problems = replay(sandbox)
    assert checked > 100
    assert not problems, "\n".join(problems)


def test_a_contradiction_is_reported():
    rec = {
        "eventType": "AwsApiCall",
        "eventSource": "iam.amazonaws.com",
        "eventName": "CreateUser",
        "recipientAccountId": "111111111111",
        "sourceIPAddress": "203.0.113.9",
        "eventTime": "2026-01-01T00:00:00Z",
        "requestParameters": {"userName": "x"},
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111111111111:user/u", "userName": "u"},
    }
    checked, problems = verify.incoherent([(0, "incident", rec, "ok")], lambda r: False)
    assert checked == 1 and "written ok, the policies deny iam:CreateUser" in problems[0]
    assert verify.incoherent([(0, "incident", rec, "denied")], lambda r: False) == (1, [])


@pytest.mark.parametrize(
    "record, expected",
    [
        (
            {
                "eventType": "AwsConsoleSignIn",
                "eventSource": "signin.amazonaws.com",
                "eventName": "ConsoleLogin",
                "userIdentity": {"type": "IAMUser"},
            },
            None,
        ),
        (
            {
                "eventType": "AwsApiCall",
                "eventSource": "kms.amazonaws.com",
                "eventName": "Decrypt",
                "userIdentity": {"type": "AssumedRole", "invokedBy": "secretsmanager.amazonaws.com"},
            },
            None,
        ),
        (
            {
                "eventType": "AwsApiCall",
                "eventSource": "sts.amazonaws.com",
                "eventName": "GetCallerIdentity",
                "userIdentity": {"type": "IAMUser"},
            },
            None,
        ),
    ],
)
def test_records_iam_does_not_decide_are_skipped(record, expected):
    assert verify.authorization_request(record) is expected


def test_requests_name_the_resource_acted_on():
    ui = {"type": "IAMUser", "arn": "arn:aws:iam::111111111111:user/dana", "userName": "dana"}
    base = {
        "eventType": "AwsApiCall",
        "recipientAccountId": "111111111111",
        "sourceIPAddress": "203.0.113.9",
        "eventTime": "2026-01-01T00:00:00Z",
        "userIdentity": ui,
    }
    r = verify.authorization_request(
        {**base, "eventSource": "iam.amazonaws.com", "eventName": "GetUser", "requestParameters": None}
    )
    assert (r["action"], r["resource"]) == ("iam:GetUser", "arn:aws:iam::111111111111:user/dana")
    r = verify.authorization_request(
        {
            **base,
            "eventSource": "s3.amazonaws.com",
            "eventName": "ListObjects",
            "requestParameters": {"bucketName": "b"},
        }
    )
    assert (r["action"], r["resource"]) == ("s3:ListBucket", "arn:aws:s3:::b")
    r = verify.authorization_request(
        {**base, "eventSource": "lambda.amazonaws.com", "eventName": "ListFunctions20150331", "requestParameters": None}
    )
    assert r["action"] == "lambda:ListFunctions"
    r = verify.authorization_request(
        {
            **base,
            "eventSource": "iam.amazonaws.com",
            "eventName": "AttachUserPolicy",
            "requestParameters": {"userName": "svc-x", "policyArn": "arn:p"},
        }
    )
    assert r["resource"].endswith(":user/svc-x") and r["context"]["iam:PolicyARN"] == "arn:p"
