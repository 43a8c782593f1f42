"""Seed the organization: management + member accounts in OUs, the CloudTrail-protecting SCP, the
OrganizationAccountAccessRole in each member and the organization trail with its log bucket."""

from __future__ import annotations

from typing import TYPE_CHECKING

from iamkit.sandbox import backend
from iamkit.sandbox.model import Account, Resource, Role
from iamkit.sandbox.seed import doc, dumps, iso

if TYPE_CHECKING:
    from iamkit.sandbox.seed import Ctx

COMPANY = "acme"
OUS = ("Security", "Prod", "Dev", "Sandbox")
WORKLOAD_OUS = ("Prod", "Dev", "Sandbox")
ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
SCP_NAME = "protect-cloudtrail"
SCP_DOCUMENT = doc(
    [
        {
            "Sid": "DenyCloudTrailTampering",
            "Effect": "Deny",
            "Action": ["cloudtrail:StopLogging", "cloudtrail:DeleteTrail"],
            "Resource": "*",
        }
    ]
)


def _member_plan(members: int) -> list[tuple[str, str]]:
    """(OU, account name) for each member: one per OU first, then more workload accounts round-robin."""
    plan = [(ou, f"{COMPANY}-{ou.lower()}") for ou in OUS]
    extra = 0
    while len(plan) < members:
        ou = WORKLOAD_OUS[extra % len(WORKLOAD_OUS)]
        extra += 1
        plan.append((ou, f"{COMPANY}-{ou.lower()}-{extra // len(WORKLOAD_OUS) + 2}"))
    return plan[:members]


def seed_organization(ctx: Ctx, members: int) -> None:
    """Organization, OUs, member accounts, the SCP on the workload OUs, admin access roles."""
    org = ctx.org
    mgmt = org.management_account_id
    orgs = ctx.client("organizations", mgmt)
    org.org_id = orgs.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root_id = orgs.list_roots()["Roots"][0]["Id"]
    _rename_management(mgmt, f"{COMPANY}-management")
    org.accounts.append(
        Account(
            account_id=mgmt,
            name=f"{COMPANY}-management",
            ou="Root",
            email=f"aws-management@{COMPANY}.example",
            ou_id=root_id,
            is_management=True,
        )
    )
    ou_ids = {ou: orgs.create_organizational_unit(ParentId=root_id, Name=ou)["OrganizationalUnit"]["Id"] for ou in OUS}
    for ou, name in _member_plan(members):
        status = orgs.create_account(Email=f"aws-{name}@{COMPANY}.example", AccountName=name)
        account_id = status["CreateAccountStatus"]["AccountId"]
        orgs.move_account(AccountId=account_id, SourceParentId=root_id, DestinationParentId=ou_ids[ou])
        org.accounts.append(
            Account(
                account_id=account_id,
                name=name,
                ou=ou,
                email=f"aws-{name}@{COMPANY}.example",
                ou_id=ou_ids[ou],
            )
        )
    scp_id = orgs.create_policy(
        Content=dumps(SCP_DOCUMENT),
        Description="Deny stopping or deleting CloudTrail",
        Name=SCP_NAME,
        Type="SERVICE_CONTROL_POLICY",
    )["Policy"]["PolicySummary"]["Id"]
    for ou in WORKLOAD_OUS:
        orgs.attach_policy(PolicyId=scp_id, TargetId=ou_ids[ou])
    for acct in org.accounts:
        backend.install_aws_managed_policies(acct.account_id)
        if not acct.is_management:
            _admin_access_role(ctx, acct.account_id)


def _rename_management(mgmt: str, name: str) -> None:
    """moto names the management account "master"; give it the seeded name (no API can)."""
    from moto.organizations.models import organizations_backends

    backend_ = organizations_backends[mgmt]["aws"]
    for acct in backend_.accounts:
        if acct.id == mgmt:
            acct.name = name
            acct.email = f"aws-management@{COMPANY}.example"


def _admin_access_role(ctx: Ctx, account_id: str) -> None:
    """OrganizationAccountAccessRole trusting the management account, with AdministratorAccess."""
    iam = ctx.client("iam", account_id)
    name = "OrganizationAccountAccessRole"
    trust = doc(
        [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ctx.org.management_account_id}:root"},
                "Action": "sts:AssumeRole",
            }
        ]
    )
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=dumps(trust))["Role"]
    iam.attach_role_policy(RoleName=name, PolicyArn=ADMIN_ARN)
    created, used = ctx.ago(days=ctx.rng.uniform(700, 1500)), ctx.ago(days=ctx.rng.uniform(0.5, 20))
    backend.set_role(account_id, name, created=created, last_used=used)
    ctx.org.roles.append(
        Role(
            account_id=account_id,
            name=name,
            arn=role["Arn"],
            role_id=role["RoleId"],
            trust_policy=trust,
            managed_policy_arns=[ADMIN_ARN],
            purpose="org-admin",
            created=iso(created),
            last_used=iso(used),
        )
    )


def security_account(ctx: Ctx) -> Account:
    return ctx.org.accounts_in("Security")[0]


def seed_trail(ctx: Ctx) -> None:
    """The organization trail (multi-region, log validation) writing to a bucket in the Security account."""
    org = ctx.org
    sec = security_account(ctx).account_id
    mgmt = org.management_account_id
    bucket = f"{COMPANY}-org-cloudtrail-{sec}"
    s3 = ctx.client("s3", sec)
    s3.create_bucket(Bucket=bucket)
    policy = doc(
        [
            {
                "Sid": "AWSCloudTrailAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": f"arn:aws:s3:::{bucket}",
                "Condition": {
                    "StringEquals": {
                        "aws:SourceArn": f"arn:aws:cloudtrail:{org.region}:{mgmt}:trail/{COMPANY}-org-trail"
                    }
                },
            },
            {
                "Sid": "AWSCloudTrailWrite",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": [
                    f"arn:aws:s3:::{bucket}/AWSLogs/{mgmt}/*",
                    f"arn:aws:s3:::{bucket}/AWSLogs/{org.org_id}/*",
                ],
                "Condition": {
                    "StringEquals": {
                        "s3:x-amz-acl": "bucket-owner-full-control",
                        "aws:SourceArn": f"arn:aws:cloudtrail:{org.region}:{mgmt}:trail/{COMPANY}-org-trail",
                    }
                },
            },
        ]
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=dumps(policy))
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    ct = ctx.client("cloudtrail", mgmt)
    name = f"{COMPANY}-org-trail"
    ct.create_trail(
        Name=name,
        S3BucketName=bucket,
        IsMultiRegionTrail=True,
        IsOrganizationTrail=True,
        EnableLogFileValidation=True,
        IncludeGlobalServiceEvents=True,
    )
    ct.start_logging(Name=name)
    org.trail_bucket = bucket
    org.trail_name = name
    for acct in org.accounts:  # GuardDuty on everywhere but the Sandbox OU (posture the inventory reads)
        if acct.ou != "Sandbox":
            ctx.client("guardduty", acct.account_id).create_detector(
                Enable=True, FindingPublishingFrequency="SIX_HOURS"
            )
            ctx.cache.setdefault("guardduty", []).append(acct.account_id)
    org.resources.append(
        Resource(
            account_id=sec,
            region=org.region,
            service="s3",
            arn=f"arn:aws:s3:::{bucket}",
            name=bucket,
            policy=policy,
        )
    )
