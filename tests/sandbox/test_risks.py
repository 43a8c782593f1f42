"""Every seeded risk (and safe look-alike) is in moto exactly as the manifest describes it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

pytestmark = pytest.mark.sandbox


def _j(d: Any) -> Any:
    return json.loads(d) if isinstance(d, str) else d


def _role(sb, r) -> dict:
    return sb.client("iam", r.account_id).get_role(RoleName=r.arn.rsplit("/", 1)[1])["Role"]


def _trust(sb, r) -> list[dict]:
    return _j(_role(sb, r)["AssumeRolePolicyDocument"])["Statement"]


def _role_docs(sb, r) -> list[dict]:
    """Every policy document in effect on a role (attached managed + inline)."""
    iam = sb.client("iam", r.account_id)
    name = r.arn.rsplit("/", 1)[1]
    docs = []
    for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        v = iam.get_policy(PolicyArn=p["PolicyArn"])["Policy"]["DefaultVersionId"]
        docs.append(_j(iam.get_policy_version(PolicyArn=p["PolicyArn"], VersionId=v)["PolicyVersion"]["Document"]))
    for n in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        docs.append(_j(iam.get_role_policy(RoleName=name, PolicyName=n)["PolicyDocument"]))
    return docs


def _user_docs(sb, r) -> list[dict]:
    iam = sb.client("iam", r.account_id)
    name = r.arn.rsplit("/", 1)[1]
    docs = []
    for p in iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]:
        v = iam.get_policy(PolicyArn=p["PolicyArn"])["Policy"]["DefaultVersionId"]
        docs.append(_j(iam.get_policy_version(PolicyArn=p["PolicyArn"], VersionId=v)["PolicyVersion"]["Document"]))
    return docs


def _statements(docs: list[dict]) -> list[dict]:
    out = []
    for d in docs:
        sts = d["Statement"]
        out.extend(sts if isinstance(sts, list) else [sts])
    return out


def _as_list(v: Any) -> list:
    return v if isinstance(v, list) else [v]


def _grants(docs: list[dict], action: str, effect: str = "Allow") -> bool:
    return any(
        st["Effect"] == effect and action in _as_list(st["Action"]) and "*" in _as_list(st["Resource"])
        for st in _statements(docs)
    )


def _org_accounts(sb) -> set[str]:
    return {a.account_id for a in sb.org.accounts}


def _keys(sb, r) -> list[dict]:
    iam = sb.client("iam", r.account_id)
    return iam.list_access_keys(UserName=r.arn.rsplit("/", 1)[1])["AccessKeyMetadata"]


NOW = datetime.now(UTC)


def check_root_principal_trust(sb, r):
    (st,) = _trust(sb, r)
    acct = st["Principal"]["AWS"].split(":")[4]
    assert st["Principal"]["AWS"].endswith(":root") and acct != r.account_id and "Condition" not in st


def check_star_trust(sb, r):
    (st,) = _trust(sb, r)
    assert st["Principal"]["AWS"] == "*" and "Condition" not in st


def check_star_trust_conditional(sb, r):
    (st,) = _trust(sb, r)
    assert st["Principal"]["AWS"] == "*" and list(st["Condition"]) == ["StringEquals"]
    assert list(st["Condition"]["StringEquals"]) == ["sts:ExternalId"]


def check_cross_account_no_external_id(sb, r):
    (st,) = _trust(sb, r)
    assert st["Principal"]["AWS"].split(":")[4] not in _org_accounts(sb) and "Condition" not in st


def check_third_party_trust(sb, r):
    (st,) = _trust(sb, r)
    assert st["Principal"]["AWS"].split(":")[4] not in _org_accounts(sb)


def check_safe_cross_account_external_id(sb, r):
    (st,) = _trust(sb, r)
    assert st["Principal"]["AWS"].split(":")[4] in _org_accounts(sb)
    assert set(st["Condition"]["StringEquals"]) == {"sts:ExternalId", "aws:PrincipalOrgID"}
    assert st["Condition"]["StringEquals"]["aws:PrincipalOrgID"] == sb.org.org_id


def check_long_session_admin(sb, r):
    role = _role(sb, r)
    assert role["MaxSessionDuration"] == 43200 and _grants(_role_docs(sb, r), "*")


def check_stale_role(sb, r):
    role = _role(sb, r)
    last = role.get("RoleLastUsed", {}).get("LastUsedDate")
    assert last is None or last < NOW - timedelta(days=90)
    assert role["CreateDate"] < NOW - timedelta(days=90)


def check_safe_wildcard_denied(sb, r):
    docs = _role_docs(sb, r)
    assert _grants(docs, "*") and _grants(docs, "*", effect="Deny")


def check_wildcard_admin_policy(sb, r):
    assert _grants(_role_docs(sb, r), "*")


def check_iam_star(sb, r):
    assert _grants(_user_docs(sb, r), "iam:*")


def check_passrole_lambda(sb, r):
    docs = _role_docs(sb, r)
    assert _grants(docs, "iam:PassRole") and _grants(docs, "lambda:CreateFunction")


def check_github_oidc_no_sub(sb, r):
    (st,) = _trust(sb, r)
    assert st["Principal"]["Federated"].endswith("oidc-provider/token.actions.githubusercontent.com")
    assert not any(k.endswith(":sub") for cond in st["Condition"].values() for k in cond)


def check_safe_github_oidc_sub(sb, r):
    (st,) = _trust(sb, r)
    assert "token.actions.githubusercontent.com:sub" in st["Condition"]["StringLike"]


def check_service_trust_no_source_account(sb, r):
    (st,) = _trust(sb, r)
    assert "Service" in st["Principal"] and "Condition" not in st


def check_user_no_mfa(sb, r):
    iam = sb.client("iam", r.account_id)
    name = r.arn.rsplit("/", 1)[1]
    assert iam.get_login_profile(UserName=name)["LoginProfile"]["UserName"] == name
    assert iam.list_mfa_devices(UserName=name)["MFADevices"] == []


def check_old_access_key(sb, r):
    (key,) = [k for k in _keys(sb, r) if k["AccessKeyId"] == r.access_key_id]
    assert key["Status"] == "Active" and key["CreateDate"] < NOW - timedelta(days=90)


def check_unused_access_key(sb, r):
    iam = sb.client("iam", r.account_id)
    assert r.access_key_id in [k["AccessKeyId"] for k in _keys(sb, r) if k["Status"] == "Active"]
    assert "LastUsedDate" not in iam.get_access_key_last_used(AccessKeyId=r.access_key_id)["AccessKeyLastUsed"]


def check_two_active_keys(sb, r):
    assert sum(1 for k in _keys(sb, r) if k["Status"] == "Active") == 2


def _bucket_policy(sb, r) -> list[dict]:
    s3 = sb.client("s3", r.account_id)
    return json.loads(s3.get_bucket_policy(Bucket=r.arn.removeprefix("arn:aws:s3:::"))["Policy"])["Statement"]


def check_public_bucket(sb, r):
    assert any(st["Principal"] == "*" and "Condition" not in st for st in _bucket_policy(sb, r))


def check_safe_bucket_org_restricted(sb, r):
    (st,) = _bucket_policy(sb, r)
    assert st["Condition"]["StringEquals"]["aws:PrincipalOrgID"] == sb.org.org_id


def check_open_kms_key(sb, r):
    kms = sb.client("kms", r.account_id)
    sts = json.loads(kms.get_key_policy(KeyId=r.arn, PolicyName="default")["Policy"])["Statement"]
    assert any(st["Principal"] == {"AWS": "*"} and "Condition" not in st for st in sts)


def check_cross_account_secret(sb, r):
    sm = sb.client("secretsmanager", r.account_id)
    (st,) = json.loads(sm.get_resource_policy(SecretId=r.arn)["ResourcePolicy"])["Statement"]
    assert st["Principal"]["AWS"].split(":")[4] not in _org_accounts(sb)


CHECKS = {
    name.removeprefix("check_").replace("_", "-"): fn for name, fn in globals().items() if name.startswith("check_")
}


def test_every_kind_has_a_check_and_a_documented_family(sandbox):
    from iamkit.sandbox.risks import RISK_KINDS

    assert {r.kind for r in sandbox.org.risks} == set(CHECKS) == set(RISK_KINDS)
    assert {k for k, (family, _) in RISK_KINDS.items() if family == "safe"} == {
        r.kind for r in sandbox.org.risks if r.safe
    }


def test_risk_ids_unique_and_safe_flags(sandbox):
    risks = sandbox.org.risks
    assert len({r.risk_id for r in risks}) == len(risks)
    assert all(r.safe == r.kind.startswith("safe-") for r in risks)
    assert all(
        r.arn
        in {x.arn for x in sandbox.org.roles}
        | {x.arn for x in sandbox.org.users}
        | {x.arn for x in sandbox.org.resources}
        for r in risks
    )


@pytest.mark.parametrize("kind", sorted(CHECKS))
def test_risk_present_as_described(sandbox, kind):
    found = [r for r in sandbox.org.risks if r.kind == kind]
    assert found, f"no risk of kind {kind} seeded"
    for r in found:
        CHECKS[kind](sandbox, r)
