"""Resource and action matching: case rules, wildcards in ARN segments, Resource "*"-only actions, variables."""

from __future__ import annotations

import pytest
from policytest import ACCT_A, USER, doc, req, stmt

from iamkit.policy import evaluate


def allowed(action, resource, pol_action, pol_resource, **kw):
    return evaluate(
        req(USER, action, resource, **kw), identity_policies=[doc(stmt(action=pol_action, resource=pol_resource))]
    ).allowed


@pytest.mark.parametrize(
    "pol_action, action, expected",
    [
        ("s3:GetObject", "s3:getobject", True),  # actions are case-insensitive
        ("S3:GETOBJECT", "s3:GetObject", True),
        ("s3:Get*", "s3:GetObject", True),
        ("s3:*Object", "s3:GetObject", True),
        ("s3:Get?bject", "s3:GetObject", True),
        ("s3:Put*", "s3:GetObject", False),
        ("*", "s3:GetObject", True),
        ("s3*", "s3:GetObject", True),
        ("ec2:*", "s3:GetObject", False),
    ],
)
def test_action_matching(pol_action, action, expected):
    assert allowed(action, "arn:aws:s3:::b/k", pol_action, "*") is expected


@pytest.mark.parametrize(
    "pol_resource, resource, expected",
    [
        ("arn:aws:s3:::b/*", "arn:aws:s3:::b/k", True),
        ("arn:aws:s3:::b/*", "arn:aws:s3:::b/deep/path/k", True),  # '*' spans '/'
        ("arn:aws:s3:::b/*", "arn:aws:s3:::B/k", False),  # resources are case-sensitive
        ("arn:aws:s3:::B/*", "arn:aws:s3:::b/k", False),
        ("arn:aws:s3:::b/k?", "arn:aws:s3:::b/k1", True),
        ("arn:aws:s3:::b/k?", "arn:aws:s3:::b/k12", False),
        ("arn:aws:s3:::b*", "arn:aws:s3:::bucket/k", True),
        ("arn:aws:s3:::b", "arn:aws:s3:::b/k", False),
    ],
)
def test_resource_matching(pol_resource, resource, expected):
    assert allowed("s3:GetObject", resource, "s3:GetObject", pol_resource) is expected


@pytest.mark.parametrize(
    "pol_resource, expected",
    [
        (f"arn:aws:iam::{ACCT_A}:role/*", True),
        ("arn:aws:iam::*:role/app", True),  # wildcard in the account segment
        (f"arn:aws:iam::{ACCT_A}:role/a*", True),
        (f"arn:aws:iam::{ACCT_A}:user/*", False),
        ("arn:aws:iam::*:*", True),
        ("arn:aws:*:*:*:*", True),
        (f"arn:aws:iam::{ACCT_A}:role/APP", False),
    ],
)
def test_wildcards_within_arn_segments(pol_resource, expected):
    assert allowed("iam:PassRole", f"arn:aws:iam::{ACCT_A}:role/app", "iam:PassRole", pol_resource) is expected


def test_actions_taking_only_resource_star():
    # s3:ListAllMyBuckets supports no resource type: only Resource "*" matches it
    assert allowed("s3:ListAllMyBuckets", "*", "s3:ListAllMyBuckets", "*")
    assert not allowed("s3:ListAllMyBuckets", "*", "s3:ListAllMyBuckets", "arn:aws:s3:::*")
    # even when the request names an ARN, AWS evaluates such an action against "*"
    assert not allowed("s3:ListAllMyBuckets", "arn:aws:s3:::b", "s3:ListAllMyBuckets", "arn:aws:s3:::b")


def test_not_resource():
    p = doc(stmt(action="s3:*", resource=None, NotResource="arn:aws:s3:::secret/*"))
    assert evaluate(req(USER, "s3:GetObject", "arn:aws:s3:::public/k"), identity_policies=[p]).allowed
    assert not evaluate(req(USER, "s3:GetObject", "arn:aws:s3:::secret/k"), identity_policies=[p]).allowed


@pytest.mark.parametrize(
    "user, resource, expected",
    [
        ("alice", "arn:aws:s3:::home/alice/notes", True),
        ("alice", "arn:aws:s3:::home/bob/notes", False),
        ("a*", "arn:aws:s3:::home/alice/notes", False),  # substituted text is literal
    ],
)
def test_policy_variables_in_resource(user, resource, expected):
    p = doc(stmt(action="s3:GetObject", resource="arn:aws:s3:::home/${aws:username}/*"))
    principal = f"arn:aws:iam::{ACCT_A}:user/{user}"
    assert evaluate(req(principal, "s3:GetObject", resource), identity_policies=[p]).allowed is expected


def test_policy_variable_principal_tag_and_default():
    p = doc(stmt(action="s3:GetObject", resource="arn:aws:s3:::team/${aws:PrincipalTag/team, 'none'}/*"))
    r = req(USER, "s3:GetObject", "arn:aws:s3:::team/data/x", principal_tags={"team": "data"})
    assert evaluate(r, identity_policies=[p]).allowed
    r = req(USER, "s3:GetObject", "arn:aws:s3:::team/none/x")
    assert evaluate(r, identity_policies=[p]).allowed
    p2 = doc(stmt(action="s3:GetObject", resource="arn:aws:s3:::team/${aws:PrincipalTag/team}/*"))
    assert not evaluate(req(USER, "s3:GetObject", "arn:aws:s3:::team/x/y"), identity_policies=[p2]).allowed


def test_variable_missing_in_deny_resource_means_deny_does_not_match():
    p = doc(stmt(action="s3:*"), stmt("Deny", action="s3:*", resource="arn:aws:s3:::${aws:PrincipalTag/x}/*"))
    assert evaluate(req(USER), identity_policies=[p]).allowed
