"""Resource exposure: buckets, keys, secrets, functions, queues, topics and repositories that anonymous or
foreign principals can reach (decided by the engine against the resource policy), ACL grants to everyone,
and S3 public access blocks turned off."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from iamkit import arn as arns
from iamkit.assess.context import FOREIGN_ACCOUNT, FOREIGN_ORG, Context, as_json
from iamkit.assess.registry import Hit, rule
from iamkit.policy.engine import ALLOWED

PROBES = {
    "s3": ("s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject"),
    "kms": ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"),
    "secretsmanager": ("secretsmanager:GetSecretValue",),
    "lambda": ("lambda:InvokeFunction", "lambda:UpdateFunctionCode"),
    "sqs": ("sqs:SendMessage", "sqs:ReceiveMessage"),
    "sns": ("sns:Publish", "sns:Subscribe"),
    "ecr": ("ecr:BatchGetImage", "ecr:PutImage"),
}
PUBLIC_GRANTEES = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)
PAB_FIELDS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def _resources(ctx: Context) -> Iterator[tuple[dict[str, Any], Any]]:
    for r in ctx.rows("resource_policies"):
        arn = r.get("resource_arn")
        hit = ctx.model.resource_policies.get(arn or "")
        if hit is not None and (r.get("service") or "") in PROBES:
            yield r, hit[1]


def _target(service: str, arn: str, action: str) -> str:
    if service == "s3" and action.endswith("Object"):
        return arn + "/*"
    return arn


def _open_actions(ctx: Context, r: dict[str, Any], pol: Any, principal: str | None, org: str | None) -> list[str]:
    arn, svc, acct = r["resource_arn"], r["service"], r.get("account_id") or ""
    out = []
    for a in PROBES[svc]:
        res = ctx.outsider_result(
            pol, a, _target(svc, arn, a), acct, principal=principal, org_id=org, resource_account=acct
        )
        if res == ALLOWED:
            out.append(a)
    return out


def _hit(r: dict[str, Any], detail: str, **ev: Any) -> Hit:
    return Hit(r.get("account_id"), None, None, r.get("resource_arn"), detail, {"service": r.get("service"), **ev})


@rule(
    "IAMKIT-EXPO-001",
    "exposure",
    "critical",
    "Resource reachable by anyone",
    "The engine allows an anonymous or arbitrary outside principal to act on this resource: it is public.",
    "Remove the Principal '*' statement or add conditions (aws:PrincipalOrgID, aws:SourceVpce) that keep "
    "outsiders out; turn on S3 Block Public Access.",
    ["https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-concepts.html"],
    controls=["NIST-800-53r5:AC-3"],
)
def public_resources(ctx: Context) -> Iterator[Hit]:
    for r, pol in _resources(ctx):
        anon = _open_actions(ctx, r, pol, None, None)
        outsider = _open_actions(ctx, r, pol, f"arn:aws:iam::{FOREIGN_ACCOUNT}:role/outsider", FOREIGN_ORG)
        if anon or outsider:
            who = "anonymous callers" if anon else "any AWS account"
            yield _hit(
                r,
                f"{r['service']} {r['resource_arn']} allows {who}: {', '.join(anon or outsider)}",
                anonymous_actions=anon,
                outsider_actions=outsider,
            )
    for r in ctx.rows("resource_policies"):
        extra = as_json(r.get("extra")) or {}
        grants = extra.get("acl_grants") if isinstance(extra, dict) else None
        public = [
            g for g in grants or [] if isinstance(g, dict) and (g.get("grantee") or {}).get("URI") in PUBLIC_GRANTEES
        ]
        if public:
            yield _hit(
                r,
                f"bucket ACL grants {', '.join(g.get('permission', '?') for g in public)} to everyone",
                acl_grants=public,
            )


def _foreign_accounts(ctx: Context, pol: Any) -> list[str]:
    out = []
    for st in pol.statements:
        if st.effect != "Allow":
            continue
        for e in st.principals or ():
            if e.kind == "AWS" and arns.is_arn(e.value):
                acct = arns.account_of(e.value)
                if acct and acct not in ctx.accounts and acct not in out:
                    out.append(acct)
    return out


@rule(
    "IAMKIT-EXPO-002",
    "exposure",
    "high",
    "Resource shared with an account outside the organization",
    "The resource policy lets an account the organization does not control read or change the resource.",
    "Confirm the sharing is intended and limited; prefer a narrow role ARN and aws:PrincipalOrgID guards.",
    ["https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies-cross-account-resource-access.html"],
    controls=["NIST-800-53r5:AC-3"],
)
def foreign_access(ctx: Context) -> Iterator[Hit]:
    for r, pol in _resources(ctx):
        for acct in _foreign_accounts(ctx, pol):
            acts = _open_actions(ctx, r, pol, f"arn:aws:iam::{acct}:root", None)
            if acts:
                yield _hit(
                    r,
                    f"{r['service']} {r['resource_arn']} allows account {acct} (outside the "
                    f"organization): {', '.join(acts)}",
                    external_account=acct,
                    actions=acts,
                )


@rule(
    "IAMKIT-EXPO-003",
    "exposure",
    "low",
    "S3 account-level Block Public Access is off",
    "Without account-level Block Public Access one bucket policy or ACL edit can make data public.",
    "Turn on all four Block Public Access settings at the account level (s3control PutPublicAccessBlock).",
    ["https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html"],
    controls=["NIST-800-53r5:AC-3"],
)
def public_access_block(ctx: Context) -> Iterator[Hit]:
    for r in ctx.rows("resource_policies"):
        if r.get("resource_type") != "account_public_access_block":
            continue
        extra = as_json(r.get("extra")) or {}
        pab = extra.get("public_access_block") if isinstance(extra, dict) else None
        off = [f for f in PAB_FIELDS if not (pab or {}).get(f)]
        if off:
            yield Hit(
                r.get("account_id"),
                None,
                None,
                r.get("resource_arn"),
                f"account {r.get('account_id')}: Block Public Access off ({', '.join(off)})",
                {"off": off},
            )
