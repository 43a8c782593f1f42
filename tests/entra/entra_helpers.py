"""Small hand-built SeededOrgs for the Entra tests (until the sandbox seeding produces real ones)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from iamkit.sandbox.model import AccessKey, Account, Assignment, Incident, Person, SeededOrg, User

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)  # the fixed 'now' of every Entra test

MGMT, PROD, DEV = "111111111111", "222222222222", "333333333333"
IC_ACCOUNT = "444455556666"
ALICE = "alice@corp.example"
SSO_ROLE = (
    f"arn:aws:iam::{PROD}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_AdministratorAccess_0123abcd4567ef89"
)
DIRECT_ROLE = f"arn:aws:iam::{DEV}:role/EntraFederatedAdmins"
ATTACKER = "203.0.113.66"


def small_org(incident_start: str = "2026-11-28T10:00:00Z") -> SeededOrg:
    """Three people (one disabled, one without MFA); the incident's IAM user belongs to alice."""
    people = [
        Person(
            upn="alice@corp.example",
            display_name="Alice Ames",
            given_name="Alice",
            surname="Ames",
            department="Engineering",
            entra_object_id="0a0a0a0a-0000-4000-8000-00000000000a",
            groups=["AWS-Admins", "Engineering"],
            mfa_methods=["microsoftAuthenticator", "fido2"],
            iam_users=[f"arn:aws:iam::{PROD}:user/alice"],
            home_ip="198.51.100.10",
        ),
        Person(
            upn="bob@corp.example",
            display_name="Bob Bell",
            given_name="Bob",
            surname="Bell",
            department="Finance",
            entra_object_id="0b0b0b0b-0000-4000-8000-00000000000b",
            groups=["Finance-ReadOnly"],
            mfa_methods=[],
            home_ip="198.51.100.20",
        ),
        Person(
            upn="carol@corp.example",
            display_name="Carol Cho",
            given_name="Carol",
            surname="Cho",
            department="Engineering",
            entra_object_id="0c0c0c0c-0000-4000-8000-00000000000c",
            groups=["Engineering"],
            mfa_methods=["phone"],
            home_ip="198.51.100.30",
            enabled=False,
        ),
    ]
    users = [
        User(
            account_id=PROD,
            name="alice",
            arn=f"arn:aws:iam::{PROD}:user/alice",
            user_id="AIDAALICE000000000001",
            person="alice@corp.example",
            access_keys=[AccessKey("AKIAALICE00000000001", PROD, "alice", "Active", "2025-01-01T00:00:00Z")],
        )
    ]
    incident = Incident(
        scenario="compromised-access-key",
        leaked_access_key_id="AKIAALICE00000000001",
        user_arn=f"arn:aws:iam::{PROD}:user/alice",
        user_name="alice",
        account_id=PROD,
        attacker_ip="203.0.113.66",
        attacker_user_agent="aws-cli/2.15 exploit",
        start=incident_start,
        end=incident_start.replace("10:00", "11:00"),
    )
    return SeededOrg(
        seed=7,
        org_id="o-test",
        management_account_id=MGMT,
        accounts=[
            Account(MGMT, "management", "Root", "m@corp.example", is_management=True),
            Account(PROD, "prod", "Prod", "p@corp.example"),
            Account(DEV, "dev", "Dev", "d@corp.example"),
        ],
        users=users,
        people=people,
        incident=incident,
        assignments=[Assignment(PROD, "AdministratorAccess", "", "GROUP", "AWS-Admins", "")],
    )


class FakeClock:
    """An injected clock: ``sleep`` advances time and records the wait instead of sleeping."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


def ct_record(
    name: str,
    when: str,
    identity: dict,
    *,
    source: str = "sts.amazonaws.com",
    account: str = PROD,
    ip: str = "198.51.100.10",
    req: dict | None = None,
    resp: dict | None = None,
    error: str | None = None,
    ua: str = "aws-cli/2.15",
    event_id: str | None = None,
) -> dict:
    """A raw CloudTrail record (the shape the trail store loads)."""
    import uuid

    return {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": when,
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": ua,
        "requestParameters": req,
        "responseElements": resp,
        "errorCode": error,
        "eventID": event_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"{name}{when}{ip}{json_key(identity)}")),
        "readOnly": name.startswith(("Get", "List", "Describe")),
        "eventType": "AwsApiCall",
        "recipientAccountId": account,
    }


def json_key(obj: dict) -> str:
    import json

    return json.dumps(obj, sort_keys=True)


def _signin_time(fake, upn: str, ip: str):
    """A successful interactive sign-in of ``upn`` from ``ip`` in the fake (ground truth for the timeline)."""
    import pandas as pd

    s = next(
        s
        for s in fake.directory.signins
        if s["userPrincipalName"] == upn
        and s["ipAddress"] == ip
        and s["status"]["errorCode"] == 0
        and s["isInteractive"]
        and s["createdDateTime"] < "2026-11-28T07"
    )
    return pd.Timestamp(s["createdDateTime"])


def trail_records(fake, ic_user_id: str) -> list[dict]:
    """CloudTrail for alice: portal sign-in, SSO federation + work, a direct SAML role, the leaked IAM key (+ bob)."""
    home = "198.51.100.10"
    morning = "2026-11-28T08:01:00Z"
    assumed = {
        "type": "AssumedRole",
        "principalId": f"AROAADMIN:{ALICE}",
        "arn": f"arn:aws:sts::{PROD}:assumed-role/{SSO_ROLE.rsplit('/', 1)[-1]}/{ALICE}",
        "accountId": PROD,
        "accessKeyId": "ASIAALICESSO00000001",
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "arn": SSO_ROLE, "principalId": "AROAADMIN"},
            "attributes": {"mfaAuthenticated": "false"},
        },
    }
    iam_user = {
        "type": "IAMUser",
        "principalId": "AIDAALICE000000000001",
        "accountId": PROD,
        "arn": f"arn:aws:iam::{PROD}:user/alice",
        "accessKeyId": "AKIAALICE00000000001",
        "userName": "alice",
    }
    direct_t = (_signin_time(fake, ALICE, home) + timedelta(minutes=4)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recs = [
        ct_record(
            "Authenticate",
            "2026-11-28T08:00:30Z",
            {
                "type": "IdentityCenterUser",
                "accountId": "111111111111",
                "onBehalfOf": {"userId": ic_user_id, "identityStoreArn": "arn:aws:identitystore::1:identitystore/x"},
                "credentialId": "cred-1",
            },
            source="sso.amazonaws.com",
            account="111111111111",
            ip=home,
        ),
        ct_record(
            "AssumeRoleWithSAML",
            morning,
            {"type": "SAMLUser", "principalId": f"q:{ALICE}", "userName": ALICE, "identityProvider": "q"},
            ip=home,
            req={"roleArn": SSO_ROLE, "roleSessionName": ALICE},
            resp={"credentials": {"accessKeyId": "ASIAALICESSO00000001"}, "subject": ALICE},
        ),
        ct_record("ListBuckets", "2026-11-28T08:05:00Z", assumed, source="s3.amazonaws.com", ip=home),
        ct_record("DescribeInstances", "2026-11-28T08:09:00Z", assumed, source="ec2.amazonaws.com", ip=home),
        ct_record(
            "AssumeRoleWithSAML",
            direct_t,
            {"type": "SAMLUser", "principalId": f"entra:{ALICE}", "userName": ALICE, "identityProvider": "entra"},
            account=DEV,
            ip=home,
            req={"roleArn": DIRECT_ROLE, "roleSessionName": ALICE},
            resp={"credentials": {"accessKeyId": "ASIAALICEDIRECT00001"}},
        ),
        ct_record("GetCallerIdentity", "2026-11-28T10:00:00Z", iam_user, ip=ATTACKER),
        ct_record("ListUsers", "2026-11-28T10:01:00Z", iam_user, source="iam.amazonaws.com", ip=ATTACKER),
        ct_record(
            "CreateUser",
            "2026-11-28T10:02:00Z",
            iam_user,
            source="iam.amazonaws.com",
            ip=ATTACKER,
            error="AccessDenied",
        ),
        # someone else: must not show up
        ct_record(
            "ListBuckets",
            "2026-11-28T09:00:00Z",
            {
                **assumed,
                "arn": assumed["arn"].replace(ALICE, "bob@corp.example"),
                "accessKeyId": "ASIABOB0000000000001",
            },
            source="s3.amazonaws.com",
            ip="198.51.100.20",
        ),
    ]
    return recs
