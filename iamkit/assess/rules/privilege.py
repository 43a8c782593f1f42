"""Admin-equivalent and over-privileged principals, decided on EFFECTIVE permissions (the engine, with denies,
boundaries and SCPs applied), not on the text of one policy."""

from __future__ import annotations

from collections.abc import Iterator

from iamkit.assess.context import Context
from iamkit.assess.registry import Hit, rule
from iamkit.policy.query import ADMIN_PROBES

PERMISSIONS_MANAGEMENT = (
    "iam:PutUserPolicy",
    "iam:PutRolePolicy",
    "iam:PutGroupPolicy",
    "iam:AttachUserPolicy",
    "iam:AttachRolePolicy",
    "iam:AttachGroupPolicy",
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:UpdateAssumeRolePolicy",
    "iam:AddUserToGroup",
    "iam:DeleteRolePermissionsBoundary",
    "iam:DeleteUserPermissionsBoundary",
)
CREDENTIAL_EXPOSURE = (
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:CreateServiceSpecificCredential",
    "iam:UpdateAccessKey",
    "sts:GetFederationToken",
    "ec2:GetPasswordData",
    "redshift:GetClusterCredentials",
    "rds-db:Connect",
    "lightsail:GetInstanceAccessDetails",
)
DATA_EXFILTRATION = (
    "s3:GetObject",
    "secretsmanager:GetSecretValue",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "dynamodb:Scan",
    "rds:CopyDBSnapshot",
)
RESOURCE_EXPOSURE = (
    "s3:PutBucketPolicy",
    "s3:PutBucketAcl",
    "s3:DeleteBucketPolicy",
    "kms:PutKeyPolicy",
    "kms:CreateGrant",
    "secretsmanager:PutResourcePolicy",
    "lambda:AddPermission",
    "sqs:AddPermission",
    "sqs:SetQueueAttributes",
    "sns:AddPermission",
    "sns:SetTopicAttributes",
    "ecr:SetRepositoryPolicy",
    "glacier:SetVaultAccessPolicy",
    "ec2:ModifySnapshotAttribute",
    "rds:ModifyDBSnapshotAttribute",
)
INFRASTRUCTURE = (
    "ec2:RunInstances",
    "ec2:ModifyInstanceAttribute",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:DeleteVpc",
    "lambda:UpdateFunctionCode",
    "cloudformation:CreateStack",
    "ecs:RunTask",
    "rds:ModifyDBInstance",
    "route53:ChangeResourceRecordSets",
    "cloudtrail:StopLogging",
    "cloudtrail:DeleteTrail",
    "guardduty:DeleteDetector",
    "s3:DeleteBucket",
    "dynamodb:DeleteTable",
)
# service -> one write action that only a `service:*`-like grant (or a broad one) would allow
SENSITIVE_SERVICES = {
    "iam": ("iam:DeleteRole", "iam:CreateUser", "iam:PutRolePolicy"),
    "sts": ("sts:AssumeRole", "sts:GetFederationToken"),
    "kms": ("kms:ScheduleKeyDeletion", "kms:PutKeyPolicy", "kms:Decrypt"),
    "secretsmanager": (
        "secretsmanager:DeleteSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutResourcePolicy",
    ),
    "s3": ("s3:DeleteBucket", "s3:PutBucketPolicy", "s3:GetObject"),
    "organizations": ("organizations:LeaveOrganization", "organizations:DeletePolicy"),
    "cloudtrail": ("cloudtrail:StopLogging", "cloudtrail:DeleteTrail"),
    "ec2": ("ec2:RunInstances", "ec2:TerminateInstances", "ec2:ModifyInstanceAttribute"),
    "lambda": ("lambda:UpdateFunctionCode", "lambda:AddPermission", "lambda:CreateFunction"),
}


def _over(ctx: Context, actions: tuple[str, ...], minimum: int = 1) -> Iterator[tuple[object, list[str]]]:
    """Principals (admins excluded: they have their own rule) allowed at least ``minimum`` of ``actions`` on *."""
    holding: set[str] = set().union(*(ctx.holder_arns(a) for a in actions))  # no Allow for any: nothing to ask
    for pm in ctx.iam_principals:
        if pm.arn in ctx.admins or pm.arn not in holding:
            continue
        got = ctx.first(pm, actions)
        if len(got) >= minimum:
            yield pm, got


@rule(
    "IAMKIT-PRIV-001",
    "privilege",
    "high",
    "Administrator-equivalent principal",
    "The engine allows this principal every administrator probe on all resources: it can do anything in the "
    "account, so its credentials and everyone who can reach it are as sensitive as root.",
    "Replace the broad grant with the actions the workload uses (what it called is in CloudTrail: "
    "iamkit trail sql), or confine it with a "
    "permissions boundary; keep true administrators few, MFA-protected and monitored.",
    ["https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege"],
    controls=["CIS-AWS-3.0:1.16", "NIST-800-53r5:AC-6"],
)
def admin_equivalent(ctx: Context) -> Iterator[Hit]:
    for pm in ctx.iam_principals:
        if pm.arn in ctx.admins:
            yield Hit(
                pm.account_id,
                pm.arn,
                pm.principal_type,
                None,
                f"{pm.principal_type} {pm.arn} is allowed every administrator probe on '*'",
                {"probes": list(ADMIN_PROBES), "policies": [p.name for p in pm.identity]},
            )


@rule(
    "IAMKIT-PRIV-002",
    "privilege",
    "high",
    "Can manage IAM permissions on any resource",
    "Permissions-management actions (put/attach policies, new policy versions, trust updates, group "
    "membership) on '*' let a principal grant itself or others any permission: administrator in one step.",
    "Scope IAM write actions to specific paths or ARNs, require a permissions boundary on what it creates "
    "(iam:PermissionsBoundary condition), or move IAM changes to a pipeline role.",
    [
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html",
        "https://pathfinding.cloud (iam-001, iam-005, iam-007..iam-013)",
    ],
    controls=["NIST-800-53r5:AC-6", "NIST-800-53r5:AC-6(1)"],
)
def permissions_management(ctx: Context) -> Iterator[Hit]:
    for pm, got in _over(ctx, PERMISSIONS_MANAGEMENT):
        yield Hit(
            pm.account_id,
            pm.arn,
            pm.principal_type,
            None,
            f"allowed {len(got)} permissions-management action(s) on '*': {', '.join(got)}",
            {"actions": got},
        )


@rule(
    "IAMKIT-PRIV-003",
    "privilege",
    "high",
    "Can create or expose credentials of other principals",
    "Creating access keys or login profiles for other users, or minting federation tokens, hands out "
    "another identity's credentials.",
    "Restrict credential actions to the caller's own user (Resource arn:aws:iam::*:user/${aws:username}).",
    ["https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_aws_my-sec-creds-self-manage.html"],
    controls=["NIST-800-53r5:AC-6"],
)
def credential_exposure(ctx: Context) -> Iterator[Hit]:
    for pm, got in _over(ctx, CREDENTIAL_EXPOSURE):
        iam = any(a.startswith("iam:") for a in got)
        yield Hit(
            pm.account_id,
            pm.arn,
            pm.principal_type,
            None,
            f"allowed credential-exposing action(s) on '*': {', '.join(got)}",
            {"actions": got},
            severity=None if iam else "medium",
        )


@rule(
    "IAMKIT-PRIV-004",
    "privilege",
    "medium",
    "Unrestricted read of secrets, parameters or objects",
    "Reading every secret, parameter, object or decrypting with every key on '*' is what data exfiltration "
    "after a credential leak looks like.",
    "Limit secret, parameter, object and key access to the resources the workload owns.",
    ["https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access.html"],
    controls=["NIST-800-53r5:AC-6"],
)
def data_exfiltration(ctx: Context) -> Iterator[Hit]:
    for pm, got in _over(ctx, DATA_EXFILTRATION):
        yield Hit(
            pm.account_id,
            pm.arn,
            pm.principal_type,
            None,
            f"allowed data-reading action(s) on '*': {', '.join(got)}",
            {"actions": got},
        )


@rule(
    "IAMKIT-PRIV-005",
    "privilege",
    "medium",
    "Can rewrite resource policies on any resource",
    "Writing bucket, key, secret, queue, topic, function or repository policies on '*' lets a principal open "
    "any resource to the world or to another account.",
    "Scope resource-policy writes to named resources and deny Principal '*' grants with an SCP.",
    ["https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_identity-vs-resource.html"],
    controls=["NIST-800-53r5:AC-6"],
)
def resource_exposure(ctx: Context) -> Iterator[Hit]:
    for pm, got in _over(ctx, RESOURCE_EXPOSURE):
        yield Hit(
            pm.account_id,
            pm.arn,
            pm.principal_type,
            None,
            f"allowed resource-policy write(s) on '*': {', '.join(got)}",
            {"actions": got},
        )


@rule(
    "IAMKIT-PRIV-006",
    "privilege",
    "low",
    "Broad infrastructure modification",
    "Launching, deleting or reconfiguring infrastructure (instances, functions, stacks, DNS, trails) on '*' "
    "gives a large blast radius and several privilege-escalation footholds.",
    "Scope infrastructure writes by resource, tag (aws:ResourceTag) or region.",
    ["https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html"],
    controls=["NIST-800-53r5:AC-6"],
)
def infrastructure(ctx: Context) -> Iterator[Hit]:
    for pm, got in _over(ctx, INFRASTRUCTURE, minimum=3):
        yield Hit(
            pm.account_id,
            pm.arn,
            pm.principal_type,
            None,
            f"allowed {len(got)} infrastructure-modifying actions on '*': {', '.join(got)}",
            {"actions": got},
        )


@rule(
    "IAMKIT-PRIV-007",
    "privilege",
    "medium",
    "Service-wide wildcard on a sensitive service",
    "A 'service:*' grant on a sensitive service (IAM, STS, KMS, Secrets Manager, S3, Organizations, "
    "CloudTrail, EC2, Lambda) includes every present and future action of that service.",
    "List the actions needed instead of 'service:*'.",
    ["https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege"],
    controls=["NIST-800-53r5:AC-6"],
)
def sensitive_wildcards(ctx: Context) -> Iterator[Hit]:
    for pm in ctx.iam_principals:
        if pm.arn in ctx.admins:
            continue
        services = []
        granted = {
            a.lower() for p in pm.identity for s in p.statements if s.effect == "Allow" and s.actions for a in s.actions
        }
        for svc, probes in SENSITIVE_SERVICES.items():
            texts = f"{svc}:*" in granted
            check = ctx.allowed_default_key if svc == "kms" else ctx.allowed
            if texts and all(check(pm, a) for a in probes):
                services.append(svc)
        if services:
            yield Hit(
                pm.account_id,
                pm.arn,
                pm.principal_type,
                None,
                f"effective '<service>:*' on '*' for: {', '.join(services)}",
                {"services": services},
                severity="high" if "iam" in services or "sts" in services else None,
            )
