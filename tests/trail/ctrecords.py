"""Builders of realistic CloudTrail records for the trail tests (a small incident plus benign noise)."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

DEV, PROD = "111111111111", "222222222222"
LEAKED = "AKIAOLDLEAKEDKEY0001"
NEW_KEY = "AKIANEWBACKDOORKEY01"
SESSION_KEY = "ASIAPRODSESSIONKEY01"
BOB_KEY = "AKIABOBBENIGNKEY0001"
ATTACKER_IP = "203.0.113.66"
ATTACKER_UA = "python-requests/2.31.0 attacker"
ALICE = f"arn:aws:iam::{DEV}:user/dev-alice"
BACKDOOR = f"arn:aws:iam::{DEV}:user/svc-backup"
PROD_ROLE = f"arn:aws:iam::{PROD}:role/ProdAdmin"
SESSION_ARN = f"arn:aws:sts::{PROD}:assumed-role/ProdAdmin/maint"
SECRET = f"arn:aws:secretsmanager:us-east-1:{PROD}:secret:prod/db-AbCdEf"

_ids = itertools.count(1)


def iam_user(arn: str, key: str | None, account: str = DEV) -> dict:
    ui = {
        "type": "IAMUser",
        "principalId": "AIDA" + arn[-8:].upper().replace("-", "X"),
        "arn": arn,
        "accountId": account,
        "userName": arn.rsplit("/", 1)[-1],
    }
    if key:
        ui["accessKeyId"] = key
    return ui


def role_session(session_arn: str, role_arn: str, key: str, mfa: bool = False) -> dict:
    account = session_arn.split(":")[4]
    return {
        "type": "AssumedRole",
        "principalId": "AROAPRODADMIN:" + session_arn.rsplit("/", 1)[-1],
        "arn": session_arn,
        "accountId": account,
        "accessKeyId": key,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAPRODADMIN",
                "arn": role_arn,
                "accountId": account,
                "userName": role_arn.rsplit("/", 1)[-1],
            },
            "attributes": {"creationDate": "2024-03-01T10:00:00Z", "mfaAuthenticated": "true" if mfa else "false"},
        },
    }


def rec(
    name: str,
    source: str,
    ui: dict,
    t: str,
    *,
    account: str = DEV,
    ip: str = ATTACKER_IP,
    ua: str = ATTACKER_UA,
    rp: dict | None = None,
    re: dict | None = None,
    error: str | None = None,
    read_only: bool = False,
    region: str = "us-east-1",
    event_id: str | None = None,
) -> dict:
    r = {
        "eventVersion": "1.09",
        "userIdentity": ui,
        "eventTime": t,
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": ip,
        "userAgent": ua,
        "requestParameters": rp,
        "responseElements": re,
        "requestID": f"req-{next(_ids)}",
        "eventID": event_id or f"ev-{next(_ids):06d}",
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    if error:
        r["errorCode"] = error
        r["errorMessage"] = f"{error}: not allowed"
    return r


def incident_records() -> list[dict]:
    """A compromised key: discovery, persistence, privilege, cross-account session, data access; plus noise."""
    a = iam_user(ALICE, LEAKED)
    s = role_session(SESSION_ARN, PROD_ROLE, SESSION_KEY)
    n = iam_user(BACKDOOR, NEW_KEY)
    creds = {"accessKeyId": SESSION_KEY, "sessionToken": "<redacted>", "expiration": "Mar 1, 2024, 11:00:00 AM"}
    assume_re = {"credentials": creds, "assumedRoleUser": {"assumedRoleId": "AROAPRODADMIN:maint", "arn": SESSION_ARN}}
    out = [
        rec("GetCallerIdentity", "sts.amazonaws.com", a, "2024-03-01T09:00:00Z", read_only=True),
        rec("ListUsers", "iam.amazonaws.com", a, "2024-03-01T09:01:00Z", read_only=True),
        rec("ListBuckets", "s3.amazonaws.com", a, "2024-03-01T09:02:00Z", read_only=True, error="AccessDenied"),
        rec(
            "CreateUser",
            "iam.amazonaws.com",
            a,
            "2024-03-01T09:05:00Z",
            rp={"userName": "svc-backup"},
            re={"user": {"userName": "svc-backup", "userId": "AIDABACKDOOR", "arn": BACKDOOR}},
        ),
        rec(
            "CreateAccessKey",
            "iam.amazonaws.com",
            a,
            "2024-03-01T09:06:00Z",
            rp={"userName": "svc-backup"},
            re={"accessKey": {"userName": "svc-backup", "accessKeyId": NEW_KEY, "status": "Active"}},
        ),
        rec(
            "AttachUserPolicy",
            "iam.amazonaws.com",
            a,
            "2024-03-01T09:07:00Z",
            rp={"userName": "svc-backup", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        ),
        rec(
            "AssumeRole",
            "sts.amazonaws.com",
            n,
            "2024-03-01T10:00:00Z",
            rp={"roleArn": PROD_ROLE, "roleSessionName": "maint"},
            re=assume_re,
        ),
        rec(
            "AssumeRole",
            "sts.amazonaws.com",
            n,
            "2024-03-01T10:00:00Z",
            account=PROD,
            rp={"roleArn": PROD_ROLE, "roleSessionName": "maint"},
            re=assume_re,
        ),
        rec(
            "StopLogging",
            "cloudtrail.amazonaws.com",
            s,
            "2024-03-01T10:05:00Z",
            account=PROD,
            rp={"name": "org-trail"},
            error="AccessDenied",
        ),
        rec(
            "GetSecretValue",
            "secretsmanager.amazonaws.com",
            s,
            "2024-03-01T10:10:00Z",
            account=PROD,
            rp={"secretId": SECRET},
            read_only=True,
        ),
        rec(
            "GetObject",
            "s3.amazonaws.com",
            s,
            "2024-03-01T10:12:00Z",
            account=PROD,
            rp={"bucketName": "prod-data", "key": "customers.csv"},
            read_only=True,
        ),
    ]
    b = iam_user(f"arn:aws:iam::{DEV}:user/bob", BOB_KEY)
    for i in range(20):
        out.append(
            rec(
                "DescribeInstances",
                "ec2.amazonaws.com",
                b,
                f"2024-03-01T{8 + i % 10:02d}:3{i % 10}:00Z",
                ip="198.51.100.7",
                ua="aws-cli/2.15.0",
                read_only=True,
            )
        )
    out.append(
        rec(
            "CreateAccessKey",
            "iam.amazonaws.com",
            b,
            "2024-03-01T08:00:00Z",
            ip="198.51.100.7",
            ua="aws-cli/2.15.0",
            rp={"userName": "bob"},
            re={"accessKey": {"userName": "bob", "accessKeyId": "AKIABOBSECONDKEY0001", "status": "Active"}},
        )
    )
    return out


def write_records_file(path: Path, records: list[dict], *, gz: bool = True) -> Path:
    """A CloudTrail S3 delivery file: ``{"Records": [...]}``."""
    data = json.dumps({"Records": records}).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path
