"""Trust policies and KMS key policies must allow even within one account."""

from __future__ import annotations

from policytest import ACCT_A, ACCT_B, OTHER_USER, USER, doc, req, stmt

from iamkit.policy import evaluate

TARGET = f"arn:aws:iam::{ACCT_A}:role/target"
KEY = f"arn:aws:kms:us-east-1:{ACCT_A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ASSUME = doc(stmt(action="sts:AssumeRole"))
DECRYPT = doc(stmt(action="kms:Decrypt"))


def trust(principal, **extra):
    return doc(stmt(action="sts:AssumeRole", resource=None, Principal=principal, **extra))


def test_same_account_assume_role_needs_the_trust_policy():
    d = evaluate(req(USER, "sts:AssumeRole", TARGET), identity_policies=[ASSUME])
    assert d.result == "ImplicitlyDenied" and d.blocked_by == ["resource"]


def test_trust_naming_the_user_is_enough_in_the_same_account():
    d = evaluate(req(USER, "sts:AssumeRole", TARGET), resource_policy=trust({"AWS": USER}))
    assert d.result == "Allowed"


def test_trust_naming_the_account_needs_identity_permission_too():
    t = trust({"AWS": ACCT_A})
    d = evaluate(req(USER, "sts:AssumeRole", TARGET), resource_policy=t)
    assert d.result == "ImplicitlyDenied" and set(d.blocked_by) == {"resource", "identity"}
    assert evaluate(req(USER, "sts:AssumeRole", TARGET), identity_policies=[ASSUME], resource_policy=t).allowed


def test_cross_account_assume_role():
    t = trust({"AWS": ACCT_B})
    assert evaluate(req(OTHER_USER, "sts:AssumeRole", TARGET), identity_policies=[ASSUME], resource_policy=t).allowed
    assert not evaluate(req(OTHER_USER, "sts:AssumeRole", TARGET), resource_policy=t).allowed


def test_trust_with_external_id_condition():
    t = trust({"AWS": ACCT_B}, Condition={"StringEquals": {"sts:ExternalId": "xyz"}})
    r = req(OTHER_USER, "sts:AssumeRole", TARGET, context={"sts:ExternalId": "xyz"})
    assert evaluate(r, identity_policies=[ASSUME], resource_policy=t).allowed
    r = req(OTHER_USER, "sts:AssumeRole", TARGET)
    assert evaluate(r, identity_policies=[ASSUME], resource_policy=t).result == "ImplicitlyDenied"


def test_service_principal_assumes_role():
    t = trust({"Service": "ec2.amazonaws.com"})
    assert evaluate(req("ec2.amazonaws.com", "sts:AssumeRole", TARGET), resource_policy=t).allowed
    assert not evaluate(req("lambda.amazonaws.com", "sts:AssumeRole", TARGET), resource_policy=t).allowed


def test_web_identity_federation():
    t = doc(
        stmt(
            action="sts:AssumeRoleWithWebIdentity",
            resource=None,
            Principal={"Federated": "cognito-identity.amazonaws.com"},
            Condition={"StringEquals": {"cognito-identity.amazonaws.com:aud": "us-east-1:pool"}},
        )
    )
    r = req(
        "cognito-identity.amazonaws.com",
        "sts:AssumeRoleWithWebIdentity",
        TARGET,
        principal_type="Federated",
        context={"cognito-identity.amazonaws.com:aud": "us-east-1:pool"},
    )
    assert evaluate(r, resource_policy=t).allowed


def test_kms_key_policy_required_in_same_account():
    assert evaluate(req(USER, "kms:Decrypt", KEY), identity_policies=[DECRYPT]).result == "ImplicitlyDenied"
    key_root = doc(stmt(action="kms:*", Principal={"AWS": f"arn:aws:iam::{ACCT_A}:root"}))
    assert evaluate(req(USER, "kms:Decrypt", KEY), identity_policies=[DECRYPT], resource_policy=key_root).allowed
    assert not evaluate(req(USER, "kms:Decrypt", KEY), resource_policy=key_root).allowed
    key_user = doc(stmt(action="kms:Decrypt", Principal={"AWS": USER}))
    assert evaluate(req(USER, "kms:Decrypt", KEY), resource_policy=key_user).allowed


def test_account_level_kms_actions_need_no_key_policy():
    # kms:ListKeys / ListAliases name no key: no key policy is involved, the identity policy decides
    lister = doc(stmt(action=["kms:ListKeys", "kms:ListAliases"], resource="*"))
    for action in ("kms:ListKeys", "kms:ListAliases"):
        assert evaluate(req(USER, action, "*"), identity_policies=[lister]).allowed
        assert not evaluate(req(USER, action, "*"), identity_policies=[DECRYPT]).allowed


def test_resource_policy_required_can_be_forced():
    r = req(USER)
    assert not evaluate(r, identity_policies=[doc(stmt())], resource_policy_required=True).allowed


# KMS (Developer Guide, "Key policies" and "Controlling access to aliases"): a key policy governs actions on a
# key, so kms:Decrypt on a key needs it even within one account; aliases have no policy of their own (IAM
# policies decide), and actions on no key at all (ListKeys, CreateKey, or a question about "any key") need only
# the identity side.
ALIAS = f"arn:aws:kms:us-east-1:{ACCT_A}:alias/app"


def test_kms_identity_only_cases():
    list_keys = doc(stmt(action="kms:ListKeys"))
    assert evaluate(req(USER, "kms:ListKeys", "*"), identity_policies=[list_keys]).allowed
    assert evaluate(req(USER, "kms:ListKeys", "*", star_only=False), identity_policies=[list_keys]).allowed
    assert evaluate(req(USER, "kms:Decrypt", "*"), identity_policies=[DECRYPT]).allowed  # "any key": identity side
    for action in ("kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"):
        p = doc(stmt(action=action, resource=ALIAS))
        assert evaluate(req(USER, action, ALIAS), identity_policies=[p]).allowed


def test_kms_key_needs_its_key_policy():
    d = evaluate(req(USER, "kms:Decrypt", KEY), identity_policies=[DECRYPT])
    assert d.result == "ImplicitlyDenied" and d.blocked_by == ["resource"]
    key_policy = doc(stmt(action="kms:*", Principal={"AWS": ACCT_A}))
    assert evaluate(req(USER, "kms:Decrypt", KEY), identity_policies=[DECRYPT], resource_policy=key_policy).allowed
