"""Session policies intersect with the role's (or federated user's) identity-based permissions.

IAM User Guide, "Session policies" and "Policy evaluation logic": session policies limit the session whatever
grants the permission: an explicit deny in a session policy always denies, and so does an implicit deny, even when
a resource policy names the session ARN itself or the role.
"""

from __future__ import annotations

import pytest
from policytest import ACCT_A, ALLOW, ROLE, SESSION, USER, doc, req, stmt

from iamkit.policy import evaluate

NO_S3 = doc(stmt(action="ec2:*"))
FED = f"arn:aws:sts::{ACCT_A}:federated-user/carol"


@pytest.mark.parametrize(
    "identity, session, expected",
    [
        ([ALLOW], [ALLOW], "Allowed"),
        ([ALLOW], [NO_S3], "ImplicitlyDenied"),
        ([], [ALLOW], "ImplicitlyDenied"),  # a session policy grants nothing by itself
        ([ALLOW], [NO_S3, ALLOW], "Allowed"),  # managed + inline session policies: any may allow
        ([ALLOW], [], "ImplicitlyDenied"),  # an empty set of session policies allows nothing
    ],
)
def test_session_policy_intersection(identity, session, expected):
    d = evaluate(req(SESSION), identity_policies=identity, session_policies=session)
    assert d.result == expected
    if expected != "Allowed":
        assert d.blocked_by == (["session"] if identity else ["identity"])


def test_no_session_policy_means_no_limit():
    assert evaluate(req(SESSION), identity_policies=[ALLOW], session_policies=None).allowed


# (named in the resource policy, session policy, expected): the truth table of the session-policy rule
@pytest.mark.parametrize(
    "named, session, expected",
    [
        (SESSION, [NO_S3], "ImplicitlyDenied"),  # implicit deny in the session policy: denied, session ARN named
        (ROLE, [NO_S3], "ImplicitlyDenied"),  # ... or the role ARN named
        (SESSION, [ALLOW], "Allowed"),  # the session policy allows: the resource policy grants
        (ROLE, [ALLOW], "Allowed"),
        (SESSION, None, "Allowed"),  # no session policy passed: nothing limits the grant
        (SESSION, [doc(stmt("Deny"))], "ExplicitlyDenied"),  # explicit deny in the session policy
        (ROLE, [doc(stmt("Deny"))], "ExplicitlyDenied"),
    ],
)
def test_resource_policy_naming_session_or_role(named, session, expected):
    res = doc(stmt(Principal={"AWS": named}))
    d = evaluate(req(SESSION), resource_policy=res, session_policies=session)
    assert d.result == expected
    if expected == "ImplicitlyDenied":
        assert d.blocked_by == ["session"]


def test_resource_policy_naming_session_still_escapes_the_boundary():
    # IAM User Guide, permissions boundaries: a resource policy naming the session ARN is not limited by the
    # boundary (only by session policies)
    res = doc(stmt(Principal={"AWS": SESSION}))
    assert evaluate(req(SESSION), resource_policy=res, permission_boundaries=[NO_S3]).allowed
    assert not evaluate(
        req(SESSION), resource_policy=doc(stmt(Principal={"AWS": ROLE})), permission_boundaries=[NO_S3]
    ).allowed


def test_federated_user_session():
    res = doc(stmt(Principal={"AWS": FED}))
    assert not evaluate(req(FED), resource_policy=res, session_policies=[NO_S3]).allowed
    assert evaluate(req(FED), resource_policy=res, session_policies=[ALLOW]).allowed
    assert not evaluate(req(FED), identity_policies=[ALLOW], session_policies=[NO_S3]).allowed
    assert evaluate(req(FED), identity_policies=[ALLOW], session_policies=[ALLOW]).allowed


def test_session_policies_do_not_apply_to_long_term_user_credentials():
    assert evaluate(req(USER), identity_policies=[ALLOW], session_policies=[NO_S3]).allowed
