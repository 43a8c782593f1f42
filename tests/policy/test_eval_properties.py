"""Property tests (hypothesis): the engine is monotone the way AWS's logic is, and NotAction is a complement."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policytest import ACCT_A, ACCT_B, OTHER_USER, ROLE, SESSION, USER

from iamkit.policy import catalog, evaluate

ACTIONS = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "iam:PassRole",
    "ec2:RunInstances",
    "kms:Decrypt",
    "sts:AssumeRole",
    "s3:ListAllMyBuckets",
]
PATTERNS = [*ACTIONS, "s3:*", "s3:Get*", "*", "iam:*", "kms:*", "s3:*Object"]
POL_RESOURCES = [
    "*",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::b",
    "arn:aws:s3:::c/*",
    f"arn:aws:iam::{ACCT_A}:role/*",
    "arn:aws:kms:*:*:key/*",
]
REQ_RESOURCES = [
    "arn:aws:s3:::b/k",
    "arn:aws:s3:::b",
    "*",
    f"arn:aws:iam::{ACCT_A}:role/x",
    f"arn:aws:kms:us-east-1:{ACCT_A}:key/k1",
]
CONDITIONS = [
    None,
    {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}},
    {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}},
    {"Null": {"aws:SourceVpce": "true"}},
]
PRINCIPALS = [
    "*",
    {"AWS": USER},
    {"AWS": ACCT_A},
    {"AWS": ROLE},
    {"AWS": OTHER_USER},
    {"AWS": ACCT_B},
    {"AWS": SESSION},
]


def statements(with_principal: bool, effects=("Allow", "Deny")):
    def build(effect, actions, not_action, resources, cond, principal):
        s = {"Effect": effect, ("NotAction" if not_action else "Action"): actions, "Resource": resources}
        if cond:
            s["Condition"] = cond
        if with_principal:
            s["Principal"] = principal
        return s

    return st.builds(
        build,
        st.sampled_from(effects),
        st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=3),
        st.booleans(),
        st.lists(st.sampled_from(POL_RESOURCES), min_size=1, max_size=2),
        st.sampled_from(CONDITIONS),
        st.sampled_from(PRINCIPALS),
    )


def docs(with_principal=False, effects=("Allow", "Deny")):
    return st.lists(statements(with_principal, effects), min_size=1, max_size=3).map(
        lambda sts: {"Version": "2012-10-17", "Statement": sts}
    )


requests = st.fixed_dictionaries(
    {
        "principal": st.sampled_from([USER, SESSION, OTHER_USER, None, f"arn:aws:iam::{ACCT_A}:root"]),
        "action": st.sampled_from(ACTIONS),
        "resource": st.sampled_from(REQ_RESOURCES),
        "time": st.just("2026-01-15T12:00:00Z"),
        "context": st.fixed_dictionaries(
            {},
            optional={
                "aws:RequestedRegion": st.sampled_from(["eu-west-1", "us-east-1"]),
                "aws:SourceIp": st.sampled_from(["10.1.2.3", "203.0.113.9"]),
                "aws:SourceVpce": st.just("vpce-1"),
            },
        ),
    }
)

policy_sets = st.fixed_dictionaries(
    {
        "identity_policies": st.lists(docs(), max_size=2),
        "resource_policy": st.none() | docs(with_principal=True),
        "permission_boundaries": st.none() | st.lists(docs(), min_size=1, max_size=1),
        "scps": st.none() | st.lists(st.lists(docs(), min_size=1, max_size=2), min_size=1, max_size=2),
        "rcps": st.none() | st.lists(st.lists(docs(True, ("Deny",)), min_size=1, max_size=1), min_size=1, max_size=1),
        "session_policies": st.none() | st.lists(docs(), min_size=1, max_size=1),
    }
)

SLOW = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RANK = {"Allowed": 2, "Conditional": 1, "ImplicitlyDenied": 0, "ExplicitlyDenied": 0}


def _with_statement(pols: dict, where: str, statement: dict) -> dict:
    out = dict(pols)
    add = {"Version": "2012-10-17", "Statement": [statement]}
    if where in ("identity_policies", "permission_boundaries", "session_policies"):
        out[where] = [*(out[where] or []), add]
    elif where == "resource_policy":
        base = out[where] or {"Version": "2012-10-17", "Statement": []}
        out[where] = {"Version": "2012-10-17", "Statement": [*base["Statement"], statement]}
    else:  # scps / rcps: add to the first level
        levels = [list(level) for level in (out[where] or [[]])]
        levels[0].append(add)
        out[where] = levels
    return out


@SLOW
@given(
    requests,
    policy_sets,
    statements(True, ("Deny",)),
    st.sampled_from(
        ["identity_policies", "resource_policy", "permission_boundaries", "scps", "rcps", "session_policies"]
    ),
    st.sampled_from(["strict", "discovery"]),
)
def test_adding_a_deny_never_increases_access(request, pols, deny, where, mode):
    if where not in ("resource_policy", "rcps"):
        deny = {k: v for k, v in deny.items() if k != "Principal"}
    before = evaluate(request, mode=mode, explain=False, **pols)
    after = evaluate(request, mode=mode, explain=False, **_with_statement(pols, where, deny))
    assert RANK[after.result] <= RANK[before.result]
    if before.result == "ExplicitlyDenied":
        assert after.result == "ExplicitlyDenied"


@SLOW
@given(requests, policy_sets, statements(False, ("Allow",)), st.sampled_from(["strict", "discovery"]))
def test_adding_an_identity_allow_never_decreases_access(request, pols, allow, mode):
    before = evaluate(request, mode=mode, explain=False, **pols)
    after = evaluate(request, mode=mode, explain=False, **_with_statement(pols, "identity_policies", allow))
    assert RANK[after.result] >= RANK[before.result]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=4), requests, st.sampled_from(["Allow", "Deny"]))
def test_action_and_notaction_complement_decide_alike(chosen, request, effect):
    comp = list(catalog().complement(chosen))
    base = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    a = {"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": chosen, "Resource": "*"}]}
    b = {"Version": "2012-10-17", "Statement": [{"Effect": effect, "NotAction": comp, "Resource": "*"}]}
    extra = [{"Version": "2012-10-17", "Statement": [base]}] if effect == "Deny" else []
    da = evaluate(request, identity_policies=[*extra, a], explain=False)
    db = evaluate(request, identity_policies=[*extra, b], explain=False)
    assert da.result == db.result


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests, policy_sets, st.sampled_from(["strict", "discovery"]))
def test_explained_and_fast_paths_decide_alike(request, pols, mode):
    explained = evaluate(request, mode=mode, explain=True, **pols)
    fast = evaluate(request, mode=mode, explain=False, **pols)
    again = evaluate(request, mode=mode, explain=False, **pols)  # memoised outcomes give the same answer
    assert explained.result == fast.result == again.result
    assert explained.blocked_by == fast.blocked_by
    assert explained.unknown_keys == fast.unknown_keys
