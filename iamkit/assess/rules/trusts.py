"""Unsafe role trusts: whole-account and '*' principals, outsiders without ExternalId, privileged roles
humans assume without MFA, confused-deputy service trusts, OIDC without ``sub``, SAML without ``SAML:aud``,
long sessions on privileged roles."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from iamkit import arn as arns
from iamkit.assess.context import FOREIGN_ACCOUNT, FOREIGN_ORG, Context, as_json
from iamkit.assess.registry import Hit, rule
from iamkit.assess.rules.privilege import PERMISSIONS_MANAGEMENT
from iamkit.policy.engine import ALLOWED, CONDITIONAL

# Compute runtimes assume their execution role only inside the caller's own account: no confused deputy.
EXECUTION_SERVICES = frozenset(
    {
        "lambda.amazonaws.com",
        "ec2.amazonaws.com",
        "ecs-tasks.amazonaws.com",
        "edgelambda.amazonaws.com",
        "eks.amazonaws.com",
        "eks-fargate-pods.amazonaws.com",
        "ecs.amazonaws.com",
        "spot.amazonaws.com",
        "autoscaling.amazonaws.com",
    }
)
NARROWING_KEYS = (
    "sts:externalid",
    "aws:principalarn",
    "aws:sourceidentity",
    "aws:principaltag/",
    "aws:userid",
    "aws:username",
)
LONG_SESSION = 3600


def _keys(conditions: Any) -> set[str]:
    conds = as_json(conditions) or {}
    keys: set[str] = set()
    if isinstance(conds, dict):
        for block in conds.values():
            if isinstance(block, dict):
                keys |= {str(k).lower() for k in block}
    return keys


def _trust_rows(ctx: Context) -> list[dict[str, Any]]:
    return [r for r in ctx.rows("trusts") if (r.get("effect") or "Allow") == "Allow" and r.get("role_arn")]


def _role_account(role_arn: str) -> str:
    return arns.account_of(role_arn) or ""


def privileged(ctx: Context, role_arn: str) -> bool:
    """Administrator-equivalent or able to manage IAM permissions on '*'."""
    pm = ctx.model.by_arn.get(role_arn)
    return pm is not None and (pm.arn in ctx.admins or bool(ctx.first(pm, PERMISSIONS_MANAGEMENT)))


def _hit(r: dict[str, Any], detail: str, **evidence: Any) -> Hit:
    ev = {
        "principal": r.get("principal"),
        "principal_type": r.get("principal_type"),
        "conditions": as_json(r.get("conditions")),
        **evidence,
    }
    return Hit(r.get("account_id") or _role_account(r["role_arn"]), r["role_arn"], "role", r["role_arn"], detail, ev)


@rule(
    "IAMKIT-TRUST-001",
    "trusts",
    "medium",
    "Role trusts a whole other account",
    "A trust naming an account root delegates the choice of who may assume the role to every administrator of "
    "that account; nothing in the trust narrows it to one role or user.",
    "Name the exact role ARNs that need access, or add aws:PrincipalArn / sts:ExternalId conditions.",
    ["https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-accounts"],
    controls=["NIST-800-53r5:AC-3"],
)
def account_root_trust(ctx: Context) -> Iterator[Hit]:
    for r in _trust_rows(ctx):
        p = r.get("principal") or ""
        if r.get("principal_type") != "AWS" or not p.endswith(":root"):
            continue
        if (r.get("principal_account_id") or arns.account_of(p)) == _role_account(r["role_arn"]):
            continue
        keys = _keys(r.get("conditions"))
        if any(k.startswith(n) for k in keys for n in NARROWING_KEYS):
            continue
        yield _hit(
            r,
            f"trusts every principal of account {arns.account_of(p)} with no narrowing condition",
            condition_keys=sorted(keys),
        )


@rule(
    "IAMKIT-TRUST-002",
    "trusts",
    "critical",
    "Anyone can assume the role (Principal '*', no condition)",
    "A trust policy allowing Principal '*' with nothing else lets any AWS account in the world assume the role.",
    "Replace '*' with the principals that need the role.",
    ["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html"],
    controls=["NIST-800-53r5:AC-3"],
)
def star_trust(ctx: Context) -> Iterator[Hit]:
    yield from _star(ctx, conditional=False)


@rule(
    "IAMKIT-TRUST-003",
    "trusts",
    "high",
    "Principal '*' trust guarded only by conditions",
    "A '*' trust restricted by conditions (a guessable sts:ExternalId, a tag) is one misconfiguration away from "
    "public; the engine cannot prove the conditions keep outsiders out.",
    "Name the trusted accounts or roles explicitly and keep the condition as a second check.",
    ["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-user_externalid.html"],
    controls=["NIST-800-53r5:AC-3"],
)
def star_trust_conditional(ctx: Context) -> Iterator[Hit]:
    yield from _star(ctx, conditional=True)


def _star(ctx: Context, conditional: bool) -> Iterator[Hit]:
    seen: set[str] = set()
    for r in _trust_rows(ctx):
        role = r["role_arn"]
        if r.get("principal") != "*" or role in seen or role not in ctx.model.trusts:
            continue
        seen.add(role)
        result = ctx.outsider_result(
            ctx.model.trusts[role],
            "sts:AssumeRole",
            role,
            _role_account(role),
            principal=f"arn:aws:iam::{FOREIGN_ACCOUNT}:role/outsider",
            org_id=FOREIGN_ORG,
        )
        if (result == ALLOWED and not conditional) or (result == CONDITIONAL and conditional):
            yield _hit(
                r,
                "any AWS principal can assume it" + (" if it satisfies the conditions" if conditional else ""),
                engine=result,
            )


def _external(ctx: Context, r: dict[str, Any]) -> str | None:
    p = r.get("principal") or ""
    acct = r.get("principal_account_id") or arns.principal_account(p) or ""
    if r.get("principal_type") != "AWS" or not acct or acct in ctx.accounts:
        return None
    return acct


@rule(
    "IAMKIT-TRUST-004",
    "trusts",
    "low",
    "Role trusts an account outside the organization",
    "Accounts outside the organization are governed by someone else's controls; each such trust is a "
    "third-party access path to review.",
    "Confirm the third party, require sts:ExternalId, and limit the role to what the vendor needs.",
    ["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_common-scenarios_third-party.html"],
    controls=["NIST-800-53r5:AC-3"],
)
def external_account(ctx: Context) -> Iterator[Hit]:
    for r in _trust_rows(ctx):
        acct = _external(ctx, r)
        if acct:
            yield _hit(r, f"trusts account {acct}, outside the organization", external_account=acct)


@rule(
    "IAMKIT-TRUST-005",
    "trusts",
    "high",
    "Third-party trust without sts:ExternalId",
    "Without an ExternalId a third party's other customers can make it assume this role for them "
    "(the confused-deputy problem).",
    "Add a StringEquals sts:ExternalId condition with a unique, unguessable value agreed with the vendor.",
    ["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-user_externalid.html"],
    controls=["NIST-800-53r5:AC-3"],
)
def external_no_external_id(ctx: Context) -> Iterator[Hit]:
    for r in _trust_rows(ctx):
        acct = _external(ctx, r)
        if acct and "sts:externalid" not in _keys(r.get("conditions")):
            yield _hit(
                r,
                f"account {acct} (outside the organization) can assume it without sts:ExternalId",
                external_account=acct,
            )


@rule(
    "IAMKIT-TRUST-006",
    "trusts",
    "high",
    "Privileged role assumable by humans without MFA",
    "A privileged role that users (or a whole account) can assume without aws:MultiFactorAuthPresent turns "
    "one leaked password or access key into administrator access.",
    "Require Bool aws:MultiFactorAuthPresent true in the trust policy, or move humans to Identity Center.",
    ["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_configure-api-require.html"],
)
def privileged_no_mfa(ctx: Context) -> Iterator[Hit]:
    seen: set[str] = set()
    for r in _trust_rows(ctx):
        p = r.get("principal") or ""
        human = r.get("principal_type") == "AWS" and (p.endswith(":root") or ":user/" in p)
        if not human or r["role_arn"] in seen or r.get("mfa_required"):
            continue
        if "aws:multifactorauthpresent" in _keys(r.get("conditions")) or not privileged(ctx, r["role_arn"]):
            continue
        seen.add(r["role_arn"])
        yield _hit(r, f"privileged role assumable by {p} without MFA")


@rule(
    "IAMKIT-TRUST-007",
    "trusts",
    "medium",
    "Service trust without aws:SourceAccount / aws:SourceArn",
    "A service that acts for many customers can be tricked into using this role for someone else's resource "
    "unless the trust pins the source account or ARN (cross-service confused deputy).",
    "Add aws:SourceAccount (and aws:SourceArn where the service sets it) conditions to the trust.",
    ["https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html"],
    controls=["NIST-800-53r5:AC-3"],
)
def service_confused_deputy(ctx: Context) -> Iterator[Hit]:
    for r in _trust_rows(ctx):
        svc = (r.get("principal") or "").lower()
        if r.get("principal_type") != "Service" or svc in EXECUTION_SERVICES:
            continue
        keys = _keys(r.get("conditions"))
        if not keys & {"aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid", "aws:sourceorgpaths"}:
            yield _hit(r, f"trusts {svc} without aws:SourceAccount or aws:SourceArn")


@rule(
    "IAMKIT-TRUST-008",
    "trusts",
    "critical",
    "OIDC trust without a subject restriction",
    "An OIDC trust (GitHub Actions, GitLab, EKS…) that checks only the audience lets every repository or "
    "workload of that provider assume the role.",
    "Add a StringEquals/StringLike condition on '<provider>:sub' naming the repository and branch.",
    [
        "https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/"
        "configuring-openid-connect-in-amazon-web-services"
    ],
    controls=["NIST-800-53r5:AC-3"],
)
def oidc_without_sub(ctx: Context) -> Iterator[Hit]:
    for r in _trust_rows(ctx):
        p = r.get("principal") or ""
        if r.get("principal_type") != "Federated" or ":oidc-provider/" not in p:
            continue
        host = p.split(":oidc-provider/", 1)[1].lower()
        conds = as_json(r.get("conditions")) or {}
        subs = [
            v
            for block in (conds.values() if isinstance(conds, dict) else [])
            if isinstance(block, dict)
            for k, v in block.items()
            if str(k).lower() == f"{host}:sub"
        ]
        values = [x for v in subs for x in (v if isinstance(v, list) else [v])]
        if not values or any(str(x).strip() in ("*", "repo:*") for x in values):
            yield _hit(r, f"OIDC provider {host} trusted without a '{host}:sub' restriction", sub=values)


@rule(
    "IAMKIT-TRUST-009",
    "trusts",
    "medium",
    "SAML trust without SAML:aud",
    "Without SAML:aud the role accepts assertions meant for another service provider.",
    "Add StringEquals SAML:aud https://signin.aws.amazon.com/saml to the trust.",
    ["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-idp_saml.html"],
    controls=["NIST-800-53r5:AC-3"],
)
def saml_without_aud(ctx: Context) -> Iterator[Hit]:
    for r in _trust_rows(ctx):
        if r.get("principal_type") == "Federated" and ":saml-provider/" in (r.get("principal") or ""):
            if "saml:aud" not in _keys(r.get("conditions")):
                yield _hit(r, "SAML provider trusted without a SAML:aud condition")


@rule(
    "IAMKIT-TRUST-010",
    "trusts",
    "medium",
    "Privileged role with a long maximum session",
    "Sessions longer than an hour keep stolen privileged credentials valid long after the theft.",
    "Set MaxSessionDuration to 3600 seconds (or less) on privileged roles.",
    ["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_update-role-settings.html"],
    controls=["NIST-800-53r5:AC-12"],
)
def long_session(ctx: Context) -> Iterator[Hit]:
    for arn, p in ctx.principal_rows.items():
        dur = p.get("max_session_duration")
        if p.get("principal_type") == "role" and dur and int(dur) > LONG_SESSION and privileged(ctx, arn):
            yield Hit(
                p.get("account_id"),
                arn,
                "role",
                arn,
                f"privileged role with MaxSessionDuration {int(dur)} s ({int(dur) / 3600:g} h)",
                {"max_session_duration": int(dur)},
            )
