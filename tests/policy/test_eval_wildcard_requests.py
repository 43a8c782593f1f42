"""Requests that name many resources: ``*`` for an action with resource types ("on any resource?") and patterns
such as ``arn:aws:s3:::bucket/*``; and actions that take only Resource ``*``.

The rule (IAM User Guide, "Policy evaluation logic" and "IAM JSON policy elements: Resource"): a statement applies
to a request when its Resource covers the request's resource. When the request names a set of resources, the
question "is it allowed on some of them?" (``resource_scope="any"``, the default) is answered Allowed when an
Allow shares at least one resource with the set and no Deny covers the whole set (a Deny of part of it leaves
the rest allowed); "is it allowed on every one of them?" (``resource_scope="all"``) needs an Allow covering the
whole set. Actions without resource types (the Service Authorization Reference lists none) are matched only by
``Resource: "*"``.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from policytest import ACCT_A, ACCT_B, USER, doc, examples, req, stmt

from iamkit.policy import evaluate
from iamkit.policy.matching import pattern_covers, pattern_intersects

OTHER_ROLE = f"arn:aws:iam::{ACCT_B}:role/reader"


def allow(resource, action="s3:GetObject"):
    return doc(stmt(action=action, resource=None, **({"Resource": resource})))


def allow_not(resource, action="s3:GetObject"):
    return doc(stmt(action=action, resource=None, NotResource=resource))


ALLOW_ALL = doc(stmt(action="*"))


def res_deny(resource=None, not_resource=None, action="s3:DeleteObject"):
    extra = {"Resource": resource} if resource is not None else {"NotResource": not_resource}
    return doc(stmt("Deny", action=action, resource=None, Principal="*", **extra))


# ---- identity Allow statements against a request on "*" ("on any resource?")
@pytest.mark.parametrize(
    "policy, expected",
    [
        (allow("arn:aws:s3:::bucket/photo.jpg"), "Allowed"),  # a specific resource is one of "any"
        (allow("arn:aws:s3:::bucket/*"), "Allowed"),
        (allow("*"), "Allowed"),
        (allow(["arn:aws:s3:::one/*", "arn:aws:dynamodb:us-east-1:111122223333:table/t"]), "Allowed"),
        (allow_not("arn:aws:s3:::secret/classified.txt"), "Allowed"),  # every other resource is allowed
        (allow_not("*"), "ImplicitlyDenied"),  # NotResource "*" leaves nothing
        (allow("arn:aws:dynamodb:us-east-1:111122223333:table/t", action="dynamodb:GetItem"), "ImplicitlyDenied"),
    ],
)
def test_allow_against_any_resource(policy, expected):
    assert evaluate(req(USER, "s3:GetObject", "*"), identity_policies=[policy]).result == expected


@pytest.mark.parametrize(
    "policy, expected",
    [
        (allow("arn:aws:s3:::bucket/photo.jpg"), "ImplicitlyDenied"),  # one object is not every object
        (allow("arn:aws:s3:::*"), "ImplicitlyDenied"),  # S3 ARNs only: "*" also names other services
        (allow("*"), "Allowed"),
        (allow_not("arn:aws:s3:::secret/*"), "ImplicitlyDenied"),  # secret/* is excluded
    ],
)
def test_allow_against_every_resource(policy, expected):
    r = req(USER, "s3:GetObject", "*", resource_scope="all")
    assert evaluate(r, identity_policies=[policy]).result == expected


# ---- Deny statements against a request on "*": only a Deny covering every resource decides
@pytest.mark.parametrize(
    "deny, expected",
    [
        (res_deny("arn:aws:s3:::protected/*"), "Allowed"),
        (res_deny("arn:aws:s3:::bucket/sensitive/*"), "Allowed"),
        (res_deny("*"), "ExplicitlyDenied"),
        (res_deny(not_resource="arn:aws:s3:::public/*"), "Allowed"),  # public/* itself is not denied
    ],
)
@pytest.mark.parametrize("scope", ["any", "all"])
def test_deny_against_any_resource(deny, expected, scope):
    r = req(USER, "s3:DeleteObject", "*", resource_account=ACCT_A, resource_scope=scope)
    assert evaluate(r, identity_policies=[ALLOW_ALL], resource_policy=deny).result == expected


# ---- a request pattern against statement patterns (cross-account: both sides must allow)
BUCKET_OBJECTS = "arn:aws:s3:::example-bucket/*"
GRANT = doc(
    stmt(
        action=["s3:GetObject", "s3:PutObject"],
        resource=BUCKET_OBJECTS,
        Principal={"AWS": f"arn:aws:iam::{ACCT_B}:root"},
    )
)


@pytest.mark.parametrize(
    "identity_resource, expected",
    [
        ("arn:aws:s3:::*/AWSLogs/*", "Allowed"),  # example-bucket/AWSLogs/x is in both
        ("arn:aws:s3:::*/*/AWSLogs/*", "Allowed"),
        (["arn:aws:s3:::*/*.iso", "arn:aws:s3:::*/*.ISO"], "Allowed"),
        ("arn:aws:s3:::*/generated-prefix-*", "Allowed"),
        ("arn:aws:s3:::*", "Allowed"),
        ("arn:aws:s3:::other-bucket/*", "ImplicitlyDenied"),  # no object in common
        ("arn:aws:s3:::example-bucket", "ImplicitlyDenied"),  # the bucket is not one of its objects
    ],
)
def test_intersecting_patterns(identity_resource, expected):
    r = req(OTHER_ROLE.replace("role/reader", "user/reader"), "s3:GetObject", BUCKET_OBJECTS, resource_account=ACCT_A)
    d = evaluate(r, identity_policies=[allow(identity_resource)], resource_policy=GRANT)
    assert d.result == expected


def test_partial_deny_does_not_deny_the_whole_pattern():
    p = doc(stmt(resource=BUCKET_OBJECTS), stmt("Deny", resource="arn:aws:s3:::*/AWSLogs/*"))
    assert evaluate(req(USER, "s3:GetObject", BUCKET_OBJECTS), identity_policies=[p]).allowed
    p = doc(stmt(resource=BUCKET_OBJECTS), stmt("Deny", resource="arn:aws:s3:::example-*"))
    assert evaluate(req(USER, "s3:GetObject", BUCKET_OBJECTS), identity_policies=[p]).result == "ExplicitlyDenied"


# ---- actions that take only Resource "*"
@pytest.mark.parametrize(
    "resource, expected",
    [
        ("arn:aws:s3:::my-bucket", "ImplicitlyDenied"),
        ("arn:aws:s3:::*", "ImplicitlyDenied"),
        ("*", "Allowed"),
    ],
)
def test_wildcard_only_actions(resource, expected):
    p = allow(resource, action="s3:ListAllMyBuckets")
    assert evaluate(req(USER, "s3:ListAllMyBuckets", "*"), identity_policies=[p]).result == expected


def test_star_only_override():
    # ec2:DescribeInstances supports no resource type: only Resource "*" grants it...
    p = allow(f"arn:aws:ec2:us-east-1:{ACCT_A}:instance/i-1", action="ec2:DescribeInstances")
    assert not evaluate(req(USER, "ec2:DescribeInstances", "*"), identity_policies=[p]).allowed
    # ...unless the caller says the action is not wildcard-only (then "*" means "any resource")
    r = req(USER, "ec2:DescribeInstances", "*", star_only=False)
    assert evaluate(r, identity_policies=[p]).allowed


def test_bad_scope_is_a_clear_error():
    from iamkit.errors import PolicyError

    with pytest.raises(PolicyError, match="resource_scope"):
        evaluate(req(USER, resource_scope="most"), identity_policies=[ALLOW_ALL])


# ---- the matching functions against brute force over a small alphabet
ALPHABET = "ab/"
_glob = st.text(alphabet=ALPHABET + "*?", max_size=6)


def _rx(glob: str) -> re.Pattern:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob), re.DOTALL)


def _words(n: int = 5):
    out = [""]
    frontier = [""]
    for _ in range(n):
        frontier = [w + c for w in frontier for c in ALPHABET]
        out += frontier
    return out


WORDS = _words()


@settings(max_examples=examples(300))
@given(_glob, _glob)
def test_intersects_agrees_with_brute_force(a, b):
    ra, rb = _rx(a), _rx(b)
    shared = any(ra.fullmatch(w) and rb.fullmatch(w) for w in WORDS)
    if shared:  # a shared word within the enumerated lengths proves an intersection
        assert pattern_intersects(a, b)
    if not pattern_intersects(a, b):
        assert not shared


@settings(max_examples=examples(300))
@given(_glob, _glob)
def test_covers_is_sound(a, b):
    # when covers says yes, every enumerated word of b matches a (the test is sufficient, never wrong)
    if pattern_covers(a, b):
        ra, rb = _rx(a), _rx(b)
        assert all(ra.fullmatch(w) for w in WORDS if rb.fullmatch(w))
