"""Principal matching in resource policies: every form, role ARN vs sessions, NotPrincipal, anonymous, services."""

from __future__ import annotations

import pytest
from policytest import ACCT_A, ACCT_B, ALLOW, OTHER_SESSION, ROLE, SESSION, USER, doc, req, stmt

from iamkit.errors import PolicyError
from iamkit.policy import evaluate


def res(principal, effect="Allow"):
    return doc(stmt(effect, Principal=principal))


@pytest.mark.parametrize(
    "principal, caller, allowed",
    [
        ("*", USER, True),
        ({"AWS": "*"}, USER, True),
        ({"AWS": USER}, USER, True),
        ({"AWS": [f"arn:aws:iam::{ACCT_A}:user/x", USER]}, USER, True),
        ({"AWS": f"arn:aws:iam::{ACCT_A}:user/x"}, USER, False),
        ({"AWS": ROLE}, SESSION, True),
        ({"AWS": f"arn:aws:iam::{ACCT_A}:role/path/app"}, SESSION, True),  # the session ARN drops the role path
        ({"AWS": f"arn:aws:iam::{ACCT_B}:role/app"}, SESSION, False),  # same name, another account
        ({"AWS": SESSION}, SESSION, True),
        ({"AWS": f"arn:aws:sts::{ACCT_A}:assumed-role/app/other"}, SESSION, False),
        ({"Service": "ec2.amazonaws.com"}, USER, False),
        ({"Service": "ec2.amazonaws.com"}, "ec2.amazonaws.com", True),
        ({"AWS": "*"}, None, True),  # anonymous
        ({"AWS": USER}, None, False),
    ],
)
def test_principal_forms_same_account(principal, caller, allowed):
    assert evaluate(req(caller), resource_policy=res(principal)).allowed is allowed


def test_role_arn_with_path_given_in_request():
    role_with_path = f"arn:aws:iam::{ACCT_A}:role/team/app"
    r = req(SESSION, role_arn=role_with_path)
    assert evaluate(r, resource_policy=res({"AWS": role_with_path})).allowed


def test_anonymous_needs_public_resource_policy():
    assert not evaluate(req(None), identity_policies=[ALLOW]).allowed
    d = evaluate(req("anonymous"), resource_policy=None)
    assert d.result == "ImplicitlyDenied" and d.blocked_by == ["resource"]


def test_not_principal_deny_exempts_only_fully_listed_callers():
    # AWS: to exempt a role session from a Deny with NotPrincipal, list the session, the role and the account
    full = {"AWS": [SESSION, ROLE, f"arn:aws:iam::{ACCT_A}:root"]}
    partial = {"AWS": [ROLE]}
    allow = doc(stmt(Principal="*"))
    deny_full = doc(stmt(Principal="*"), stmt("Deny", NotPrincipal=full))
    deny_partial = doc(stmt(Principal="*"), stmt("Deny", NotPrincipal=partial))
    assert evaluate(req(SESSION), resource_policy=deny_full).allowed
    assert evaluate(req(SESSION), resource_policy=deny_partial).result == "ExplicitlyDenied"
    assert evaluate(req(USER), resource_policy=deny_full).result == "ExplicitlyDenied"
    assert evaluate(req(None), resource_policy=deny_full).result == "ExplicitlyDenied"
    assert evaluate(req(SESSION), resource_policy=allow).allowed


# Allow with NotPrincipal: everyone except those listed (IAM User Guide, NotPrincipal). A caller the list names
# (its own ARN, or a session's role) is excluded, alone or among other entries; naming only its account does not
# exclude it.
@pytest.mark.parametrize(
    "listed, caller, expected",
    [
        ([f"arn:aws:iam::{ACCT_A}:user/someone-else"], USER, "Allowed"),
        ([f"arn:aws:iam::{ACCT_A}:user/x", f"arn:aws:iam::{ACCT_A}:user/y"], USER, "Allowed"),
        ([USER], USER, "ImplicitlyDenied"),
        ([USER, f"arn:aws:iam::{ACCT_A}:user/x"], USER, "ImplicitlyDenied"),
        ([USER, ACCT_A], USER, "ImplicitlyDenied"),
        ([ACCT_A], USER, "Allowed"),
        ([USER, ACCT_A], SESSION, "Allowed"),
        ([SESSION], SESSION, "ImplicitlyDenied"),
        ([ROLE], SESSION, "ImplicitlyDenied"),  # the session's role names it too
        ([USER], None, "Allowed"),  # anonymous is "everyone else" too
    ],
)
def test_allow_with_not_principal_grants_everyone_else(listed, caller, expected):
    p = doc(stmt(NotPrincipal={"AWS": listed}))
    assert evaluate(req(caller), resource_policy=p).result == expected


def test_cross_account_session_via_account_principal():
    p = doc(stmt(Principal={"AWS": ACCT_B}))
    r = req(OTHER_SESSION, resource_account=ACCT_A)
    assert evaluate(r, identity_policies=[ALLOW], resource_policy=p).allowed


@pytest.mark.parametrize(
    "bad",
    ["arn:aws:iam::12:user/x", "not-an-arn", "arn:aws:s3:::bucket", "arn:aws:sts::111122223333:assumed-role/onlyrole"],
)
def test_bad_request_principal_is_a_clear_error(bad):
    with pytest.raises(PolicyError, match="principal"):
        evaluate(req(bad), identity_policies=[ALLOW])


def test_not_principal_deny_always_applies_to_principals_with_a_boundary():
    # IAM User Guide (permissions boundaries): a Deny with NotPrincipal always denies a principal that has a
    # permissions boundary, whatever the NotPrincipal lists
    full = {"AWS": [SESSION, ROLE, f"arn:aws:iam::{ACCT_A}:root"]}
    p = doc(stmt(Principal="*"), stmt("Deny", NotPrincipal=full))
    assert evaluate(req(SESSION), resource_policy=p).allowed
    d = evaluate(req(SESSION), resource_policy=p, permission_boundaries=[ALLOW])
    assert d.result == "ExplicitlyDenied" and d.blocked_by == ["resource"]


def test_resource_policy_statement_without_principal_never_applies():
    # stored documents sometimes lack Principal: such a statement names no one (Allow or Deny), the rest applies,
    # and the defect is reported on the decision
    no_principal_allow = doc(stmt())
    d = evaluate(req(USER), resource_policy=no_principal_allow)
    assert d.result == "ImplicitlyDenied" and d.defects and "no Principal" in d.defects[0]
    no_principal_deny = doc(stmt("Deny"))
    assert evaluate(req(USER), identity_policies=[doc(stmt())], resource_policy=no_principal_deny).allowed
    with_sibling = doc(stmt(), stmt(Principal="*"))
    assert evaluate(req(USER), resource_policy=with_sibling).allowed


def test_bare_string_principal_is_read_as_aws():
    p = doc(stmt(Principal=USER))
    d = evaluate(req(USER), resource_policy=p)
    assert d.allowed and "bare string principal" in d.defects[0]
    assert not evaluate(req(SESSION), resource_policy=p).allowed


def test_principal_in_identity_policy_is_ignored_and_reported():
    p = doc(stmt(Principal={"AWS": "arn:aws:iam::999999999999:root"}))
    d = evaluate(req(USER), identity_policies=[p])
    assert d.allowed and "cannot name a Principal" in d.defects[0]
    assert "defect:" in d.explain_text() and d.to_dict()["defects"] == d.defects
