"""Review logic that needs no sandbox: where the external-access review takes its findings from (Access Analyzer
when the collection reached it — moto has none, so this side is checked here — else iamkit's own rules)."""

from __future__ import annotations

import json

from iamkit import reviews
from iamkit.inventory import Inventory

ACCT = "111122223333"
BUCKET = "arn:aws:s3:::shared-reports"
ROLE = f"arn:aws:iam::{ACCT}:role/partner"


def _analyzer_rows(status: str = "active") -> list[dict]:
    scope = {"account_id": ACCT, "region": "us-east-1"}
    return [
        {
            **scope,
            "control": "access_analyzer.analyzer",
            "status": "active",
            "resource_arn": f"arn:aws:access-analyzer:us-east-1:{ACCT}:analyzer/org",
            "detail": {"type": "ORGANIZATION"},
        },
        {
            **scope,
            "control": "access_analyzer.finding",
            "status": status,
            "resource_arn": BUCKET,
            "detail": {"id": "f-1", "resource_type": "AWS::S3::Bucket"},
        },
        {
            **scope,
            "control": "access_analyzer.finding",
            "status": "archived",
            "resource_arn": ROLE,
            "detail": {"id": "f-2", "resource_type": "AWS::IAM::Role"},
        },
    ]


def test_access_analyzer_findings_are_used_when_the_collection_reached_it():
    inv = Inventory.from_rows({"posture": _analyzer_rows()})
    kind, found = reviews.external_findings(inv)
    assert kind == "access-analyzer"
    assert found["resource_arn"].tolist() == [BUCKET]  # active only; the archived one is left out
    assert json.loads(found["detail"][0]) == {"id": "f-1", "resource_type": "AWS::S3::Bucket"}


def test_iamkits_own_findings_when_access_analyzer_is_missing():
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    rows = {
        "accounts": [{"account_id": ACCT, "name": "a", "is_management": True}],
        "principals": [{"account_id": ACCT, "principal_type": "role", "name": "partner", "arn": ROLE}],
        "trusts": [
            {
                "account_id": ACCT,
                "role_arn": ROLE,
                "effect": "Allow",
                "principal_type": "AWS",
                "principal": "*",
                "actions": ["sts:AssumeRole"],
                "conditions": {},
                "document": trust,
            }
        ],
        "errors": [
            {
                "account_id": ACCT,
                "operation": "access-analyzer:ListAnalyzers",
                "code": "NotSupportedByEndpoint",
                "message": "no",
            }
        ],
    }
    inv = Inventory.from_rows(rows)
    kind, found = reviews.external_findings(inv)
    assert kind == "iamkit"
    assert ROLE in found["resource_arn"].tolist()
    assert set(found["source"]) <= set(reviews.EXTERNAL_RULES)
    # a listed analyzer does not count when ListAnalyzers failed somewhere: the review says iamkit's own
    inv2 = Inventory.from_rows({**rows, "posture": _analyzer_rows()})
    assert reviews.external_findings(inv2)[0] == "iamkit"
