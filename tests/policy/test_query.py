"""who_can / what_can / effective_permissions over a hand-built inventory."""

from __future__ import annotations

import pytest
from policytest import ACCT_A, ACCT_B, MGMT, make_inventory

from iamkit.errors import BadInput
from iamkit.frames import check
from iamkit.policy import effective_permissions, what_can, who_can
from iamkit.policy.query import decide, model

ALICE = f"arn:aws:iam::{ACCT_A}:user/alice"
ADMIN = f"arn:aws:iam::{ACCT_A}:user/admin"
APP = f"arn:aws:iam::{ACCT_A}:role/svc/app"
AUDITOR = f"arn:aws:iam::{ACCT_B}:role/auditor"
NOBODY = f"arn:aws:iam::{ACCT_B}:user/nobody"
ROOT_ADMIN = f"arn:aws:iam::{MGMT}:user/root-admin"
SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCT_A}:secret:db"


def test_model_resolves_groups_boundaries_and_scp_levels(inventory):
    m = model(inventory)
    assert m.errors == []
    alice = m.by_arn[ALICE]
    assert [p.name for p in alice.identity] == [f"arn:aws:iam::{ACCT_A}:policy/s3-read"]  # via group "readers"
    assert m.by_arn[APP].boundaries and m.by_arn[APP].boundaries[0].kind == "boundary"
    assert len(m.scps[ACCT_A]) == 3  # root, ou-prod (from the OU name path), account
    assert len(m.scps[ACCT_B]) == 2
    assert MGMT in m.management
    assert model(inventory) is m  # cached


def test_who_can_read_the_bucket(inventory):
    df = who_can("s3:GetObject", "arn:aws:s3:::data/report.csv", inventory, context={"aws:SecureTransport": "true"})
    check(df, "who_can")
    got = dict(zip(df["principal_arn"], df["result"], strict=True))
    assert got == {ALICE: "Allowed", ADMIN: "Allowed", APP: "Allowed", AUDITOR: "Allowed"}
    assert dict(zip(df["principal_arn"], df["via"], strict=True))[AUDITOR] == "identity"


def test_who_can_discovery_reports_unknown_keys(inventory):
    df = who_can("s3:GetObject", "arn:aws:s3:::data/report.csv", inventory)
    assert set(df["result"]) == {"Conditional"}
    assert all(keys == ["aws:SecureTransport"] for keys in df["unknown_keys"])
    strict = who_can("s3:GetObject", "arn:aws:s3:::data/report.csv", inventory, mode="strict")
    assert set(strict["result"]) == {"Allowed"}  # absent SecureTransport: the RCP Deny (Bool false) does not match


def test_who_can_applies_scps_and_the_management_exemption(inventory):
    df = who_can("iam:CreateUser", "*", inventory)
    # admin in the prod OU is stopped by the OU's SCP; the management account is exempt from SCPs
    assert list(df["principal_arn"]) == [ROOT_ADMIN]


def test_who_can_applies_denies_and_boundaries(inventory):
    df = who_can("secretsmanager:GetSecretValue", SECRET, inventory)
    # admin: inline Deny; app: boundary allows only s3; nobody (other account): named by the secret's policy
    # but holds no identity permission
    assert len(df) == 0
    full = who_can("secretsmanager:GetSecretValue", SECRET, inventory, include_denied=True)
    by = dict(zip(full["principal_arn"], full["blocked_by"], strict=True))
    assert by[ADMIN] == ["identity"] and by[APP] == ["permission_boundary"] and by[NOBODY] == ["identity"]


def test_who_can_assume_role_uses_the_trust_policy(inventory):
    df = who_can("sts:AssumeRole", APP, inventory, include_denied=True)
    by = dict(zip(df["principal_arn"], df["result"], strict=True))
    assert by[AUDITOR] == "ImplicitlyDenied"  # trusted account, but no sts:AssumeRole in its policies
    assert by[ALICE] == "ImplicitlyDenied"  # same account, not trusted


def test_what_can(inventory):
    df = what_can(ALICE, inventory, context={"aws:SecureTransport": "true"})
    check(df, "what_can")
    assert set(df["action"]) == {"s3:GetObject", "s3:ListBucket"}
    assert set(df["access_level"]) == {"Read", "List"}
    app = what_can(APP, inventory, mode="strict")
    # the boundary keeps only s3 (and sts:GetCallerIdentity, which no policy can take away)
    assert len(app) and {a.split(":")[0] for a in app["action"] if a != "sts:GetCallerIdentity"} == {"s3"}
    admin = what_can(ADMIN, inventory, services=["secretsmanager", "iam"], mode="strict")
    assert not any(a.startswith("secretsmanager:") for a in admin["action"])  # denied inline
    assert "iam:CreateUser" not in set(admin["action"])  # SCP of the prod OU
    assert "iam:ListUsers" in set(admin["action"])


def test_what_can_includes_resource_policy_grants(inventory):
    df = what_can(AUDITOR, inventory, mode="strict", services=["s3"])
    assert ("s3:GetObject", "arn:aws:s3:::data/*") in set(zip(df["action"], df["resource"], strict=True))


def test_effective_permissions_and_decide(inventory):
    df = effective_permissions(inventory, [ALICE, AUDITOR], mode="strict")
    assert set(df["principal_arn"]) == {ALICE, AUDITOR}
    d = decide(inventory, ADMIN, "iam:CreateUser")
    assert d.result == "ExplicitlyDenied" and d.blocked_by == ["scp"]
    with pytest.raises(BadInput):
        decide(inventory, "arn:aws:iam::1:user/ghost", "s3:GetObject")


def test_who_can_over_thousands_of_principals_matches_evaluating_everyone():
    # the candidate index must not lose anyone: same answer as evaluating every principal (timings: bench/)
    inv = make_inventory(n_extra_users=3000)
    df = who_can("s3:GetObject", "arn:aws:s3:::bucket7/x", inv, mode="strict")
    full = who_can("s3:GetObject", "arn:aws:s3:::bucket7/x", inv, mode="strict", include_denied=True)
    allowed = set(full.loc[full["result"] == "Allowed", "principal_arn"])
    assert set(df["principal_arn"]) == allowed
    expected = {f"arn:aws:iam::{ACCT_A if i % 2 else ACCT_B}:user/u{i}" for i in range(3000) if i % 50 == 7}
    assert expected <= allowed and len(allowed) < len(full)


def test_who_can_reports_anonymous_access_to_a_public_resource():
    inv = make_inventory()
    rp = inv.resource_policies.copy()
    rp.loc[len(rp)] = {
        "account_id": ACCT_A,
        "region": "us-east-1",
        "service": "s3",
        "resource_type": "bucket",
        "resource_arn": "arn:aws:s3:::public-site",
        "policy": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::public-site/*",
                }
            ],
        },
        "extra": None,
    }
    inv.resource_policies = rp
    df = who_can("s3:GetObject", "arn:aws:s3:::public-site/index.html", inv, mode="strict")
    assert "anonymous" in set(df["principal_arn"])
    assert dict(zip(df["principal_arn"], df["result"], strict=True))["anonymous"] == "Allowed"
    private = who_can("s3:GetObject", "arn:aws:s3:::data/x", inv, mode="strict")
    assert "anonymous" not in set(private["principal_arn"])


def test_one_definition_of_administrator(inventory):
    from iamkit.assess.context import Context
    from iamkit.policy import ADMIN_PROBES, is_admin

    admin = "arn:aws:iam::111122223333:user/admin"
    # admin holds AdministratorAccess but an inline Deny of secretsmanager:* takes a probe away
    assert not is_admin(inventory, admin)
    assert "secretsmanager:GetSecretValue" in ADMIN_PROBES
    ctx = Context(inventory)
    assert ctx.admins == {a for a in (p.arn for p in ctx.iam_principals) if is_admin(inventory, a)}


def test_decide_scope_any_vs_all(inventory):
    # alice may read objects of one bucket: allowed on some resource, not on every resource
    assert decide(inventory, ALICE, "s3:GetObject", "*", explain=False).result == "Allowed"
    assert decide(inventory, ALICE, "s3:GetObject", "*", explain=False, scope="all").result == "ImplicitlyDenied"
