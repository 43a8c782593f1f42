"""A planted wildcard (``*?*?*?…Z``) must not stall anything that asks the engine.

Policy globs used to compile to backtracking regexes: each of these inputs took minutes against an ordinary
value. Now matching is linear, so each test simply finishes; ``hang_guard`` turns a regression into a failure
instead of a hung CI job. Every test also checks the answer, with a twin pattern that does match.
"""

from __future__ import annotations

import pandas as pd
import pytest
from policytest import ACCT_A, USER, doc, hang_guard, make_inventory, req, stmt

from iamkit.frames import conform
from iamkit.policy import catalog, evaluate, validate, who_can
from iamkit.policy.matching import arn_like, arn_matches, glob_match
from iamkit.trail.detect.policydoc import dangerous_grants

HOSTILE = "*?" * 8 + "Z"  # the shape: stars and single-character wildcards, then a letter never present
KEY = "arn:aws:s3:::corp-data-bucket/reports/2026/quarter-one/summary-of-accounts-final.csv"


def test_the_hostile_pattern_against_an_ordinary_arn_is_answered():
    with hang_guard():
        assert not arn_matches("arn:aws:s3:::" + HOSTILE, KEY)
        assert not glob_match(HOSTILE, KEY)
        assert not arn_like("arn:aws:s3:::" + HOSTILE, KEY)
        assert arn_matches("arn:aws:s3:::" + HOSTILE[:-1] + "v", KEY)  # ends in "v": matches
        assert glob_match("*?" * 40 + "*", KEY) and not glob_match("*?" * 90 + "*", KEY)  # length: 83 characters


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("arn:aws:s3:::" + HOSTILE, "ImplicitlyDenied"),
        (HOSTILE, "ImplicitlyDenied"),  # not six parts: one glob over the whole ARN
        ("arn:aws:s3:::" + HOSTILE[:-1] + "csv", "Allowed"),
        ("arn:aws:s3:::*?*?*?*?*?*?*?*?*c?v", "Allowed"),
    ],
)
def test_engine_resource_pattern(resource, expected):
    with hang_guard():
        d = evaluate(req(USER, resource=KEY), identity_policies=[doc(stmt(resource=resource))])
    assert d.result == expected


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("s3:" + "*?" * 12 + "Z", "ImplicitlyDenied"),  # action names are short: more wildcards to the same effect
        ("*?" * 14 + "Z", "ImplicitlyDenied"),
        ("s3:" + "*?" * 12 + "n", "Allowed"),  # s3:PutBucketOwnershipControlsConfiguration ends in "n"
        ("*?" * 12 + "*", "Allowed"),
    ],
)
def test_engine_action_pattern(action, expected):
    request = req(USER, action="s3:PutBucketOwnershipControlsConfiguration", resource="arn:aws:s3:::bucket")
    with hang_guard():
        d = evaluate(request, identity_policies=[doc(stmt(action=action))])
    assert d.result == expected


def test_catalogue_expansion_and_validation_of_a_hostile_action():
    with hang_guard():
        assert catalog().expand("s3:" + "*?" * 12 + "Z") == ()
        got = set(catalog().expand("s3:" + HOSTILE[:-1] + "Policy"))
        findings = validate(doc(stmt(action="s3:" + HOSTILE)))
    want = {a for a in catalog().expand("s3:*") if a.lower().endswith("policy") and len(a) >= 3 + 8 + 6}
    assert got == want and "s3:GetBucketPolicy" in got
    assert any("s3:" + HOSTILE in f.message for f in findings)  # matches no action: reported, not hung


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"StringLike": {"aws:UserAgent": HOSTILE}}, "ImplicitlyDenied"),
        ({"StringLike": {"aws:UserAgent": ["nope*", HOSTILE, "x?y"]}}, "ImplicitlyDenied"),
        ({"StringNotLike": {"aws:UserAgent": HOSTILE}}, "Allowed"),
        ({"StringLike": {"aws:UserAgent": ["nope*", HOSTILE[:-1] + "0"]}}, "Allowed"),
        ({"ForAnyValue:StringLike": {"aws:TagKeys": HOSTILE}}, "ImplicitlyDenied"),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::" + HOSTILE}}, "ImplicitlyDenied"),
        ({"ArnNotLike": {"aws:SourceArn": "arn:aws:s3:::" + HOSTILE}}, "Allowed"),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::" + HOSTILE[:-1] + "v"}}, "Allowed"),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*?*?*?*?*?*?*?*?*?*?*?*?/*"}}, "Allowed"),
    ],
)
def test_condition_operators(block, expected):
    context = {
        "aws:UserAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120",
        "aws:TagKeys": ["cost-center-for-the-reporting-department-of-the-finance-division", "owner"],
        "aws:SourceArn": KEY,
    }
    with hang_guard():
        d = evaluate(req(USER, context=context), identity_policies=[doc(stmt(Condition=block))])
    assert d.result == expected


def test_hostile_principal_and_principal_arn_condition_in_a_resource_policy():
    caller = f"arn:aws:iam::{ACCT_A}:user/division/engineering/platform-and-tooling/europe-west/contractors/alice"

    def bucket_policy(principal_arn_pattern):
        return doc(
            stmt(resource="arn:aws:s3:::bucket/*", Principal={"AWS": f"arn:aws:iam::{ACCT_A}:user/" + HOSTILE}),
            stmt(
                resource="arn:aws:s3:::bucket/*",
                Principal="*",
                Condition={"ArnLike": {"aws:PrincipalArn": principal_arn_pattern}},
            ),
        )

    with hang_guard():
        denied = evaluate(req(caller), resource_policy=bucket_policy("arn:aws:iam::*:user/" + HOSTILE))
        allowed = evaluate(req(caller), resource_policy=bucket_policy("arn:aws:iam::*:user/" + HOSTILE[:-1] + "e"))
    assert denied.result == "ImplicitlyDenied"
    assert allowed.result == "Allowed"  # alice ends in "e"


def test_who_can_with_a_planted_policy():
    inv = make_inventory()
    planted = [
        {
            "account_id": ACCT_A,
            "policy_arn": None,
            "policy_name": name,
            "policy_type": "inline",
            "attached_to_arn": arn,
            "attached_to_type": "user",
            "is_default": True,
            "document": doc(stmt(resource=resource)),
        }
        for name, arn, resource in [
            ("planted", USER, "arn:aws:s3:::" + HOSTILE),
            ("planted-match", f"arn:aws:iam::{ACCT_A}:user/admin", "arn:aws:s3:::" + HOSTILE[:-1] + "v"),
        ]
    ]
    inv.policies = conform(pd.concat([inv.policies, conform(planted, "policies")], ignore_index=True), "policies")
    with hang_guard():
        df = who_can("s3:GetObject", KEY, inv, context={"aws:SecureTransport": "true"}, include_denied=True)
    got = dict(zip(df["principal_arn"], df["result"], strict=True))
    assert got[USER] == "ImplicitlyDenied"  # alice: her planted pattern does not match, the group grants data/* only
    assert got[f"arn:aws:iam::{ACCT_A}:user/admin"] == "Allowed"


def test_trail_policy_documents_use_iam_globs():
    """CloudTrail carries attacker-written documents: same matcher, and '[' is literal in IAM (not fnmatch's class)."""
    targets = ["iam:CreatePolicyVersion", "iam:PassRole"]
    with hang_guard():
        assert dangerous_grants(doc(stmt(action="iam:" + HOSTILE)), targets) == []
        assert dangerous_grants(doc(stmt(action="iam:" + HOSTILE[:-1] + "n")), targets) == [
            "Allow 'iam:*?*?*?*?*?*?*?*?n' on * (grants iam:CreatePolicyVersion)"
        ]
    assert dangerous_grants(doc(stmt(action="iam:[Pp]assRole")), targets) == []
    assert dangerous_grants(doc(stmt(action="IAM:pass?ole")), targets) == [
        "Allow 'IAM:pass?ole' on * (grants iam:PassRole)"
    ]
