"""Session policies intersect with the role's (or federated user's) identity-based permissions.

IAM User Guide, "Session policies": a resource policy naming the session ARN is not limited by the session policy;
one naming the role ARN is.
"""

from __future__ import annotations

import pytest
from policytest import ACCT_A, ALLOW, ROLE, SESSION, USER, doc, req, stmt

from iamkit.policy import evaluate

NO_S3 = doc(stmt(action="ec2:*"))
FED = f"arn:aws:sts::{ACCT_A}:federated-user/carol"


@pytest.mark.parametrize("identity, session, expected", [
    ([ALLOW], [ALLOW], "Allowed"),
    ([ALLOW], [NO_S3], "ImplicitlyDenied"),
    ([], [ALLOW], "ImplicitlyDenied"),  # a session policy grants nothing by itself
    ([ALLOW], [NO_S3, ALLOW], "Allowed"),  # managed + inline session policies: any may allow
    ([ALLOW], [], "ImplicitlyDenied"),  # an empty set of session policies allows nothing
])
def test_session_policy_intersection(identity, session, expected):
    d = evaluate(req(SESSION), identity_policies=identity, session_policies=session)
    assert d.result == expected
    if expected != "Allowed":
        assert d.blocked_by == (["session"] if identity else ["identity"])


def test_no_session_policy_means_no_limit():
    assert evaluate(req(SESSION), identity_policies=[ALLOW], session_policies=None).allowed


@pytest.mark.parametrize("named, expected", [(SESSION, "Allowed"), (ROLE, "ImplicitlyDenied")])
def test_resource_policy_naming_session_or_role(named, expected):
    res = doc(stmt(Principal={"AWS": named}))
    assert evaluate(req(SESSION), resource_policy=res, session_policies=[NO_S3]).result == expected


def test_federated_user_session():
    res = doc(stmt(Principal={"AWS": FED}))
    assert evaluate(req(FED), resource_policy=res, session_policies=[NO_S3]).allowed
    assert not evaluate(req(FED), identity_policies=[ALLOW], session_policies=[NO_S3]).allowed
    assert evaluate(req(FED), identity_policies=[ALLOW], session_policies=[ALLOW]).allowed


def test_session_policies_do_not_apply_to_long_term_user_credentials():
    assert evaluate(req(USER), identity_policies=[ALLOW], session_policies=[NO_S3]).allowed
