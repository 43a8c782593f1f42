"""Record builders for the least-privilege tests: CloudTrail records of a role's sessions or a user, and a store
loaded from them."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

ACCT = "111122223333"
ROLE = f"arn:aws:iam::{ACCT}:role/svc/app"
USER = f"arn:aws:iam::{ACCT}:user/alice"
_ids = itertools.count(1)


def rec(
    source: str,
    name: str,
    params: dict | None = None,
    *,
    who: str = ROLE,
    when: str = "2026-03-02T10:00:00Z",
    error: str | None = None,
    resources: list | None = None,
    region: str = "us-east-1",
    invoked_by: str | None = None,
    event_type: str = "AwsApiCall",
) -> dict:
    """One CloudTrail record of ``who`` (a role: a session of it; a user: the user)."""
    acct = who.split(":")[4]
    if ":role/" in who:
        ident = {
            "type": "AssumedRole",
            "principalId": "AROAAPP:s1",
            "arn": f"arn:aws:sts::{acct}:assumed-role/{who.rsplit('/', 1)[-1]}/s1",
            "accountId": acct,
            "accessKeyId": "ASIAEXAMPLEEXAMPLE01",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAAPP",
                    "arn": who,
                    "accountId": acct,
                    "userName": who.rsplit("/", 1)[-1],
                }
            },
        }
    else:
        ident = {
            "type": "IAMUser",
            "principalId": "AIDAALICE",
            "arn": who,
            "accountId": acct,
            "userName": who.rsplit("/", 1)[-1],
            "accessKeyId": "AKIAEXAMPLEEXAMPLE01",
        }
    if invoked_by:
        ident["invokedBy"] = invoked_by
    r = {
        "eventVersion": "1.09",
        "userIdentity": ident,
        "eventTime": when,
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "test",
        "requestParameters": params,
        "responseElements": None,
        "eventID": f"evt-{next(_ids):06d}",
        "eventType": event_type,
        "recipientAccountId": acct,
        "readOnly": True,
    }
    if error:
        r["errorCode"] = error
        r["errorMessage"] = "x"
    if resources is not None:
        r["resources"] = resources
    return r


def make_store(tmp_path: Path, records: list[dict]):
    """A trail store file loaded from ``records`` (one CloudTrail file), opened read-only."""
    from iamkit import trail

    src = tmp_path / "in"
    src.mkdir(exist_ok=True)
    (src / "trail.json").write_text(json.dumps({"Records": records}))
    db = tmp_path / "t.duckdb"
    trail.load([src], db)
    return trail.open(db, read_only=True)
