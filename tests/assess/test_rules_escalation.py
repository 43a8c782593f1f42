"""Escalation rules over the graph: a path to administrator (ESC-001) and takeover of others (ESC-002)."""

from __future__ import annotations

import json

from assesstest import ACCT, ALLOW_ALL, allow, deny, doc, flagged, run, trust

LAMBDA = {"Service": "lambda.amazonaws.com"}
CREATE = ["lambda:CreateFunction", "lambda:InvokeFunction"]


def test_path_to_admin_positive_and_denied(b):
    admin = b.role("lambda-admin", trust(LAMBDA), policies=(doc(ALLOW_ALL),))
    dev = b.user("dev", policies=(doc(allow(CREATE), allow("iam:PassRole", admin)),))
    blocked = b.user("blocked", policies=(doc(allow(CREATE), allow("iam:PassRole", admin), deny("iam:PassRole")),))
    df = run(b, "IAMKIT-ESC-001")
    assert flagged(df, "IAMKIT-ESC-001") == {dev}
    ev = json.loads(df.evidence.iloc[0])
    assert ev["hops"] == 1 and ev["methods"] == ["lambda-create-invoke"] and ev["admin_of"] == ACCT
    assert df.severity.iloc[0] == "critical" and blocked not in flagged(df, "IAMKIT-ESC-001")


def test_admins_themselves_are_not_escalation_findings(b):
    admin = b.user("boss", policies=(doc(ALLOW_ALL),))
    assert admin not in flagged(run(b, "IAMKIT-ESC-001", "IAMKIT-ESC-002"), "IAMKIT-ESC-001")


def test_takeover_of_other_principals(b):
    worker = b.role("worker", trust(LAMBDA), policies=(doc(allow("s3:ListAllMyBuckets")),))
    dev = b.user("dev", policies=(doc(allow(CREATE), allow("iam:PassRole", worker)),))
    plain = b.user("plain", policies=(doc(allow(CREATE)),))  # no PassRole: cannot use the role
    assumer = b.user("assumer", policies=(doc(allow("sts:AssumeRole", "*")),))
    b.role("assumable", trust({"AWS": f"arn:aws:iam::{ACCT}:root"}))
    df = run(b, "IAMKIT-ESC-002")
    hit = flagged(df, "IAMKIT-ESC-002")
    assert dev in hit and plain not in hit
    assert assumer not in hit  # ordinary AssumeRole is designed access, not a takeover
