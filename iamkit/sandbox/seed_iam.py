"""Seed IAM in every account: realistic roles, users, groups, policies and keys, plus the deliberate risks
(and safe look-alikes) that the assessment must find (or must not flag)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from iamkit.sandbox import backend
from iamkit.sandbox.model import AccessKey, Account, Risk, Role, User
from iamkit.sandbox.seed import OPERATOR_USER, doc, dumps, iso

if TYPE_CHECKING:
    from iamkit.sandbox.seed import Ctx

AWS = "arn:aws:iam::aws:policy/"
ADMIN = backend.aws_policy_arn("AdministratorAccess")
READONLY = backend.aws_policy_arn("ReadOnlyAccess")
POWERUSER = backend.aws_policy_arn("PowerUserAccess")
THIRD_PARTY_MONITORING = "464622532012"  # a monitoring vendor's account (outside the organization)
THIRD_PARTY_BACKUP = "777788889999"  # a backup vendor's account (outside the organization)
APPS = [
    "orders",
    "payments",
    "inventory",
    "catalog",
    "checkout",
    "search",
    "notifications",
    "billing",
    "reporting",
    "auth",
    "shipping",
    "analytics",
    "recommendations",
    "pricing",
    "customer-profile",
    "fraud-check",
    "media",
    "gateway",
    "ledger",
    "loyalty",
]
KINDS = ["lambda", "ecs-task", "ec2", "ecs-exec", "app", "batch"]
ENV = {"Root": "mgmt", "Security": "sec", "Prod": "prod", "Dev": "dev", "Sandbox": "sbx"}


def trust_service(service: str, conditions: dict[str, Any] | None = None) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if conditions:
        st["Condition"] = conditions
    return doc([st])


def trust_aws(principal: str | list[str], conditions: dict[str, Any] | None = None) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    if conditions:
        st["Condition"] = conditions
    return doc([st])


# -- primitives ---------------------------------------------------------------------------------------------


def make_role(
    ctx: Ctx,
    acct: str,
    name: str,
    trust: dict[str, Any],
    *,
    managed: list[str] = (),
    inline: dict[str, dict[str, Any]] | None = None,
    purpose: str = "app",
    max_session: int = 3600,
    created_days: float | None = None,
    last_used_days: float | None = -1.0,
    description: str = "",
    bulk: bool = False,
) -> Role:
    """Create a role with its policies and backdated dates; record it. ``last_used_days=None``: never used.

    ``bulk`` creates it straight in moto's backend (the generic roles that make up the volume)."""
    description = description or f"{purpose} role"
    if bulk:
        arn, role_id = backend.create_role(
            acct,
            name,
            dumps(trust),
            description=description,
            max_session=max_session,
            managed=list(managed),
            inline={k: dumps(v) for k, v in (inline or {}).items()},
        )
        r = {"Arn": arn, "RoleId": role_id}
    else:
        iam = ctx.client("iam", acct)
        r = iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=dumps(trust),
            MaxSessionDuration=max_session,
            Description=description,
        )["Role"]
        for arn in managed:
            iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        for pname, pdoc in (inline or {}).items():
            iam.put_role_policy(RoleName=name, PolicyName=pname, PolicyDocument=dumps(pdoc))
    created = ctx.ago(days=created_days if created_days is not None else ctx.rng.uniform(30, 700))
    if last_used_days is not None and last_used_days < 0:
        last_used_days = ctx.rng.uniform(0.1, 20)
    last_used = ctx.ago(days=last_used_days) if last_used_days is not None else None
    backend.set_role(acct, name, created=created, last_used=last_used)
    role = Role(
        account_id=acct,
        name=name,
        arn=r["Arn"],
        role_id=r["RoleId"],
        trust_policy=trust,
        managed_policy_arns=list(managed),
        inline_policies=dict(inline or {}),
        max_session_duration=max_session,
        purpose=purpose,
        last_used=iso(last_used),
        created=iso(created),
    )
    ctx.org.roles.append(role)
    return role


def make_policy(ctx: Ctx, acct: str, name: str, document: dict[str, Any], description: str = "") -> str:
    """Create a customer-managed policy (backdated); return its ARN."""
    iam = ctx.client("iam", acct)
    arn = iam.create_policy(PolicyName=name, PolicyDocument=dumps(document), Description=description or name)["Policy"][
        "Arn"
    ]
    backend.set_policy_created(acct, arn, ctx.ago(days=ctx.rng.uniform(60, 900)))
    ctx.cache.setdefault(f"policies:{acct}", []).append(arn)
    return arn


def make_user(
    ctx: Ctx,
    acct: str,
    name: str,
    *,
    groups: list[str] = (),
    console: bool = False,
    mfa: bool = False,
    keys: list[tuple[float, float | None, str]] = (),
    managed: list[str] = (),
    inline: dict[str, dict[str, Any]] | None = None,
    person: str | None = None,
    created_days: float = 400,
) -> User:
    """Create a user; ``keys`` = [(age days, last used days ago or None, status)]. Backdates everything."""
    iam = ctx.client("iam", acct)
    # the human behind a user is recorded as an ``email`` tag, as many organizations do (investigations read it)
    u = iam.create_user(UserName=name, Tags=[{"Key": "email", "Value": person}] if person else [])["User"]
    for g in groups:
        iam.add_user_to_group(GroupName=g, UserName=name)
    for arn in managed:
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
    for pname, pdoc in (inline or {}).items():
        iam.put_user_policy(UserName=name, PolicyName=pname, PolicyDocument=dumps(pdoc))
    user_id = ctx.upper_id("AIDA")
    created = ctx.ago(days=max([created_days] + [k[0] + 1 for k in keys]))
    pw_used = None
    if console:
        iam.create_login_profile(UserName=name, Password=f"Sandbox-{ctx.hex(12)}!Aa1")
        pw_used = ctx.ago(days=ctx.rng.uniform(0.2, 10))
    if mfa:
        serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]["SerialNumber"]
        iam.enable_mfa_device(
            UserName=name, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
        )
    backend.set_user(acct, name, user_id=user_id, created=created, password_last_used=pw_used)
    user = User(
        account_id=acct,
        name=name,
        arn=u["Arn"],
        user_id=user_id,
        groups=list(groups),
        mfa=mfa,
        console=console,
        person=person,
        created=iso(created),
    )
    for age, used, status in keys:
        kid = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
        if status != "Active":
            iam.update_access_key(UserName=name, AccessKeyId=kid, Status=status)
        service = ctx.rng.choice(["s3", "sts", "lambda", "dynamodb", "ecr"])
        last = ctx.ago(days=used) if used is not None else None
        backend.set_access_key(acct, kid, created=ctx.ago(days=age), last_used=last, service=service)
        user.access_keys.append(
            AccessKey(
                access_key_id=kid,
                account_id=acct,
                user_name=name,
                status=status,
                created=iso(ctx.ago(days=age)),
                last_used=iso(last),
                last_used_service=service if last else None,
            )
        )
    ctx.org.users.append(user)
    return user


def make_group(ctx: Ctx, acct: str, name: str, managed: list[str] = ()) -> None:
    iam = ctx.client("iam", acct)
    iam.create_group(GroupName=name)
    for arn in managed:
        iam.attach_group_policy(GroupName=name, PolicyArn=arn)
    ctx.cache.setdefault(f"groups:{acct}", []).append(name)


def risk(ctx: Ctx, kind: str, acct: str, arn: str, what: str, *, safe: bool = False, access_key_id: str = "") -> Risk:
    """Record a deliberate risk (or, with ``safe``, a look-alike that must not be flagged)."""
    n = sum(1 for r in ctx.org.risks if r.kind == kind) + 1
    r = Risk(
        risk_id=f"{kind}-{n}",
        account_id=acct,
        arn=arn,
        what=what,
        safe=safe,
        kind=kind,
        access_key_id=access_key_id,
    )
    ctx.org.risks.append(r)
    return r


# -- per-account content --------------------------------------------------------------------------------------


def seed_iam(ctx: Ctx) -> None:
    """Fixed content and risks per OU, then generic roles up to ``roles_per_account`` in every account."""
    org = ctx.org
    for acct in org.accounts:
        env = ENV[acct.ou]
        _groups(ctx, acct, env)
        {"Root": _management, "Security": _security, "Prod": _prod, "Dev": _dev, "Sandbox": _sandbox}[acct.ou](
            ctx, acct, first=acct is org.accounts_in(acct.ou)[0]
        )
    for acct in org.accounts:
        _filler_roles(ctx, acct)


def _groups(ctx: Ctx, acct: Account, env: str) -> None:
    a = acct.account_id
    dev_policy = make_policy(
        ctx,
        a,
        f"{env}-developer-access",
        doc(
            [
                {
                    "Effect": "Allow",
                    "Action": ["lambda:*", "dynamodb:*", "logs:*", "cloudwatch:*", "sqs:*", "sns:*"],
                    "Resource": "*",
                },
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
                    "Resource": [f"arn:aws:s3:::acme-{env}-*", f"arn:aws:s3:::acme-{env}-*/*"],
                },
            ]
        ),
    )
    ci_policy = make_policy(
        ctx,
        a,
        f"{env}-ci-deploy",
        doc(
            [
                {
                    "Effect": "Allow",
                    "Action": [
                        "cloudformation:*",
                        "ecr:*",
                        "ecs:UpdateService",
                        "ecs:DescribeServices",
                        "s3:PutObject",
                        "s3:GetObject",
                    ],
                    "Resource": "*",
                }
            ]
        ),
    )
    make_group(ctx, a, "developers", [READONLY, dev_policy])
    make_group(ctx, a, "admins", [ADMIN])
    make_group(ctx, a, "readonly", [READONLY])
    make_group(ctx, a, "ci", [ci_policy])


def _management(ctx: Ctx, acct: Account, first: bool) -> None:
    a = acct.account_id
    op = make_user(ctx, a, OPERATOR_USER, keys=[(0, 0, "Active")], created_days=0)
    ctx.cache["operator_key"] = op.access_keys[0].access_key_id
    make_user(
        ctx,
        a,
        "billing-admin",
        groups=["readonly"],
        console=True,
        mfa=True,
        managed=[backend.aws_policy_arn("ViewOnlyAccess")],
        created_days=900,
    )
    make_role(
        ctx,
        a,
        "org-security-automation",
        trust_aws(f"arn:aws:iam::{_sec(ctx)}:role/incident-responder"),
        managed=[backend.aws_policy_arn("SecurityAudit")],
        purpose="cross-account",
    )


def _sec(ctx: Ctx) -> str:
    return ctx.org.accounts_in("Security")[0].account_id


def _security(ctx: Ctx, acct: Account, first: bool) -> None:
    a = acct.account_id
    make_role(
        ctx,
        a,
        "incident-responder",
        trust_aws(f"arn:aws:iam::{a}:root", {"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
        managed=[backend.aws_policy_arn("SecurityAudit"), READONLY],
        purpose="security",
        max_session=14400,
    )
    make_role(
        ctx,
        a,
        "security-audit",
        trust_aws(f"arn:aws:iam::{a}:role/incident-responder"),
        managed=[backend.aws_policy_arn("SecurityAudit")],
        purpose="security",
    )
    make_user(
        ctx,
        a,
        "security-scanner",
        groups=["readonly"],
        keys=[(40, 0.3, "Active")],
        managed=[backend.aws_policy_arn("SecurityAudit")],
        created_days=300,
    )


def _prod(ctx: Ctx, acct: Account, first: bool) -> None:
    a = acct.account_id
    org = ctx.org
    dev = org.accounts_in("Dev")[0].account_id
    sec = _sec(ctx)
    make_user(ctx, a, "ci-deployer", groups=["ci"], keys=[(25, 0.5, "Active")], created_days=500)
    if not first:
        return
    make_role(
        ctx,
        a,
        "order-webhook-exec",
        trust_service("lambda.amazonaws.com"),
        managed=[backend.aws_policy_arn("AWSLambdaBasicExecutionRole")],
        purpose="service",
    )
    read_data = doc(
        [
            {
                "Sid": "AppSecrets",
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                "Resource": f"arn:aws:secretsmanager:{org.region}:{a}:secret:prod/*",
            },
            {
                "Sid": "CustomerData",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": [
                    f"arn:aws:s3:::acme-prod-customer-data-{a}",
                    f"arn:aws:s3:::acme-prod-customer-data-{a}/*",
                ],
            },
        ]
    )
    r = make_role(
        ctx,
        a,
        "prod-deploy",
        trust_aws(f"arn:aws:iam::{dev}:root"),
        managed=[POWERUSER],
        inline={"read-app-data": read_data},
        purpose="cross-account",
        description="Deployments from the Dev account's pipelines",
    )
    risk(
        ctx,
        "root-principal-trust",
        a,
        r.arn,
        f"trusts the whole Dev account ({dev}:root) with no ExternalId or other condition; PowerUser + secrets",
    )
    u = make_user(
        ctx,
        a,
        "legacy-batch",
        groups=["ci"],
        keys=[(300, 1.5, "Active"), (20, 0.4, "Active")],
        created_days=800,
    )
    risk(
        ctx,
        "two-active-keys",
        a,
        u.arn,
        "two active access keys",
        access_key_id=u.access_keys[0].access_key_id,
    )
    r = make_role(
        ctx,
        a,
        "legacy-partner-access",
        trust_aws("*"),
        managed=[READONLY],
        purpose="cross-account",
        created_days=1100,
    )
    risk(ctx, "star-trust", a, r.arn, "trust policy Principal AWS '*' with no condition: anyone can assume it")
    r = make_role(
        ctx,
        a,
        "shared-services-reader",
        trust_aws("*", {"StringEquals": {"sts:ExternalId": "acme-shared"}}),
        managed=[backend.aws_policy_arn("AmazonS3ReadOnlyAccess")],
        purpose="cross-account",
    )
    risk(
        ctx,
        "star-trust-conditional",
        a,
        r.arn,
        "trust policy Principal AWS '*' only guarded by a guessable sts:ExternalId",
    )
    r = make_role(
        ctx,
        a,
        "vendor-backup-access",
        trust_aws(f"arn:aws:iam::{THIRD_PARTY_BACKUP}:root"),
        managed=[backend.aws_policy_arn("AmazonS3ReadOnlyAccess")],
        purpose="third-party",
    )
    risk(
        ctx,
        "cross-account-no-external-id",
        a,
        r.arn,
        f"third-party account {THIRD_PARTY_BACKUP} (outside the organization) can assume it without sts:ExternalId",
    )
    r = make_role(
        ctx,
        a,
        "vendor-monitoring",
        trust_aws(
            f"arn:aws:iam::{THIRD_PARTY_MONITORING}:root",
            {"StringEquals": {"sts:ExternalId": f"acme-{ctx.hex(24)}"}},
        ),
        managed=[backend.aws_policy_arn("SecurityAudit")],
        purpose="third-party",
    )
    risk(
        ctx,
        "third-party-trust",
        a,
        r.arn,
        f"trusts account {THIRD_PARTY_MONITORING}, outside the organization (with an ExternalId)",
    )
    r = make_role(
        ctx,
        a,
        "security-audit-readonly",
        trust_aws(
            f"arn:aws:iam::{sec}:role/security-audit",
            {
                "StringEquals": {
                    "sts:ExternalId": f"acme-audit-{ctx.hex(16)}",
                    "aws:PrincipalOrgID": org.org_id,
                }
            },
        ),
        managed=[backend.aws_policy_arn("SecurityAudit")],
        purpose="cross-account",
    )
    risk(
        ctx,
        "safe-cross-account-external-id",
        a,
        r.arn,
        "cross-account role from the Security account WITH ExternalId and aws:PrincipalOrgID",
        safe=True,
    )
    r = make_role(
        ctx,
        a,
        "break-glass-admin",
        trust_aws(f"arn:aws:iam::{sec}:role/incident-responder", {"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
        managed=[ADMIN],
        purpose="admin",
        max_session=43200,
        last_used_days=45,
    )
    risk(ctx, "long-session-admin", a, r.arn, "AdministratorAccess role with a 12-hour maximum session")
    r = make_role(
        ctx,
        a,
        "old-reporting-etl",
        trust_service("lambda.amazonaws.com"),
        managed=[
            backend.aws_policy_arn("AWSLambdaBasicExecutionRole"),
            backend.aws_policy_arn("AmazonS3ReadOnlyAccess"),
        ],
        purpose="app",
        created_days=700,
        last_used_days=260,
    )
    risk(ctx, "stale-role", a, r.arn, "not used for 260 days")
    allow_all = make_policy(ctx, a, "break-glass-template", doc([{"Effect": "Allow", "Action": "*", "Resource": "*"}]))
    r = make_role(
        ctx,
        a,
        "restricted-ops",
        trust_aws(f"arn:aws:iam::{sec}:role/incident-responder"),
        managed=[allow_all],
        inline={"deny-all-until-approved": doc([{"Effect": "Deny", "Action": "*", "Resource": "*"}])},
        purpose="admin",
    )
    risk(
        ctx,
        "safe-wildcard-denied",
        a,
        r.arn,
        "an Allow *:* (break-glass-template) cancelled by an explicit Deny *:* inline policy",
        safe=True,
    )


def _dev(ctx: Ctx, acct: Account, first: bool) -> None:
    a = acct.account_id
    org = ctx.org
    make_user(ctx, a, "ci-github-actions", groups=["ci"], keys=[(15, 0.2, "Active")], created_days=200)
    if not first:
        return
    developers = [p for p in org.people if "AWS-Developers" in p.groups]
    leaked = ctx.rng.choice([p for p in developers if p.department == "Engineering"])
    no_mfa = ctx.rng.choice([p for p in developers if p is not leaked])
    _platform_group(ctx, a)
    for p in developers:
        name = p.upn.split("@")[0]
        if p is leaked:
            keys = [(412, 2.5, "Active")]
        else:
            keys = [(ctx.rng.uniform(5, 80), ctx.rng.uniform(0.1, 3), "Active")]
        u = make_user(
            ctx,
            a,
            name,
            groups=[PLATFORM_GROUP if p is leaked else "developers"],
            console=True,
            mfa=p is not no_mfa,
            keys=keys,
            person=p.upn,
            created_days=ctx.rng.uniform(420, 1200),
        )
        p.iam_users.append(u.arn)
        if p is leaked:
            ctx.cache["leaked_user"] = u
            risk(
                ctx,
                "old-access-key",
                a,
                u.arn,
                "active access key created 412 days ago (never rotated)",
                access_key_id=u.access_keys[0].access_key_id,
            )
        if p is no_mfa:
            risk(ctx, "user-no-mfa", a, u.arn, "console password and no MFA device")
    u = make_user(ctx, a, "ci-legacy-uploader", groups=["ci"], keys=[(150, None, "Active")], created_days=400)
    risk(
        ctx,
        "unused-access-key",
        a,
        u.arn,
        "active access key created 150 days ago and never used",
        access_key_id=u.access_keys[0].access_key_id,
    )
    iam_all = make_policy(ctx, a, "iam-full-management", doc([{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]))
    u = make_user(ctx, a, "ci-jenkins", groups=["ci"], keys=[(60, 1, "Active")], managed=[iam_all], created_days=900)
    risk(ctx, "iam-star", a, u.arn, "customer-managed policy iam-full-management grants iam:* on *")
    full = make_policy(ctx, a, "legacy-full-access", doc([{"Effect": "Allow", "Action": "*", "Resource": "*"}]))
    r = make_role(ctx, a, "ops-automation", trust_service("ec2.amazonaws.com"), managed=[full], purpose="app")
    risk(ctx, "wildcard-admin-policy", a, r.arn, "customer-managed policy legacy-full-access grants *:*")
    r = make_role(
        ctx,
        a,
        "dev-build-runner",
        trust_service("codebuild.amazonaws.com", {"StringEquals": {"aws:SourceAccount": a}}),
        inline={
            "build-and-deploy": doc(
                [
                    {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
                    {
                        "Effect": "Allow",
                        "Action": [
                            "lambda:CreateFunction",
                            "lambda:InvokeFunction",
                            "lambda:UpdateFunctionCode",
                        ],
                        "Resource": "*",
                    },
                ]
            )
        },
        purpose="ci",
    )
    risk(
        ctx,
        "passrole-lambda",
        a,
        r.arn,
        "iam:PassRole on * with lambda:CreateFunction/InvokeFunction: can run code as any Lambda-trusting role",
    )
    provider = ctx.client("iam", a).create_open_id_connect_provider(
        Url="https://token.actions.githubusercontent.com",
        ClientIDList=["sts.amazonaws.com"],
        ThumbprintList=["6938fd4d98bab03faadb97b34396831e3780aea1"],
    )["OpenIDConnectProviderArn"]
    aud = {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}
    r = make_role(
        ctx,
        a,
        "github-actions-deploy",
        doc(
            [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {"StringEquals": aud},
                }
            ]
        ),
        managed=[POWERUSER],
        purpose="ci",
    )
    risk(
        ctx,
        "github-oidc-no-sub",
        a,
        r.arn,
        "GitHub OIDC trust checks only the audience: any GitHub repository can assume it",
    )
    r = make_role(
        ctx,
        a,
        "github-actions-readonly",
        doc(
            [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": aud,
                        "StringLike": {
                            "token.actions.githubusercontent.com:sub": "repo:acme/webapp:ref:refs/heads/main"
                        },
                    },
                }
            ]
        ),
        managed=[READONLY],
        purpose="ci",
    )
    risk(
        ctx,
        "safe-github-oidc-sub",
        a,
        r.arn,
        "GitHub OIDC trust restricted to one repository and branch",
        safe=True,
    )
    r = make_role(
        ctx,
        a,
        "config-recorder",
        trust_service("config.amazonaws.com"),
        managed=[backend.aws_policy_arn("SecurityAudit")],
        purpose="service",
    )
    risk(
        ctx,
        "service-trust-no-source-account",
        a,
        r.arn,
        "trusts config.amazonaws.com without aws:SourceAccount / aws:SourceArn (confused deputy)",
    )


PLATFORM_GROUP = "platform-engineers"
SERVICE_ACCOUNTS = "svc-"  # the user-name prefix platform engineers may create and manage


def platform_engineer_policy(dev: str, prod: str) -> dict[str, Any]:
    """What the leaked developer (a platform engineer) may do beyond the Dev developer policy: read their own
    identity and a few inventories, manage ``svc-*`` service-account users (which is how the attacker made an
    administrator) and assume ``prod-deploy``. Nothing else: the incident's other calls are denied, as its
    trail records (the coherence test replays them through the policy engine)."""
    return doc(
        [
            {
                "Sid": "OwnIdentity",
                "Effect": "Allow",
                "Action": [
                    "iam:GetUser",
                    "iam:ListAttachedUserPolicies",
                    "iam:ListUserPolicies",
                    "iam:ListGroupsForUser",
                    "iam:ListAccessKeys",
                    "iam:ListMFADevices",
                ],
                "Resource": f"arn:aws:iam::{dev}:user/${{aws:username}}",
            },
            {
                "Sid": "ServiceAccounts",
                "Effect": "Allow",
                "Action": [
                    "iam:GetUser",
                    "iam:CreateUser",
                    "iam:CreateAccessKey",
                    "iam:CreateLoginProfile",
                    "iam:AttachUserPolicy",
                    "iam:ListAttachedUserPolicies",
                ],
                "Resource": f"arn:aws:iam::{dev}:user/{SERVICE_ACCOUNTS}*",
            },
            {
                "Sid": "Inventories",
                "Effect": "Allow",
                "Action": [
                    "iam:ListUsers",
                    "iam:ListRoles",
                    "iam:ListPolicies",
                    "s3:ListAllMyBuckets",
                    "ec2:DescribeRegions",
                    "ec2:DescribeInstances",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                    "cloudformation:DescribeStacks",
                    "cloudformation:ListStacks",
                    "cloudtrail:DescribeTrails",
                    "ecr:DescribeRepositories",
                    "kms:ListKeys",
                    "kms:ListAliases",
                ],
                "Resource": "*",
            },
            {
                "Sid": "DeployToProd",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": f"arn:aws:iam::{prod}:role/prod-deploy",
            },
        ]
    )


def _platform_group(ctx: Ctx, a: str) -> None:
    """The Dev account's platform engineers: the developer policy plus ``platform_engineer_policy``."""
    prod = ctx.org.accounts_in("Prod")[0].account_id
    arn = make_policy(ctx, a, "platform-engineer", platform_engineer_policy(a, prod))
    make_group(ctx, a, PLATFORM_GROUP, [f"arn:aws:iam::{a}:policy/{ENV['Dev']}-developer-access", arn])


def _sandbox(ctx: Ctx, acct: Account, first: bool) -> None:
    a = acct.account_id
    if not first:
        return
    u = make_user(ctx, a, "sandbox-tester", groups=["admins"], console=True, mfa=False, created_days=200)
    risk(ctx, "user-no-mfa", a, u.arn, "console password, AdministratorAccess via group, no MFA device")
    r = make_role(
        ctx,
        a,
        "sandbox-experiment-2024",
        trust_service("lambda.amazonaws.com"),
        managed=[backend.aws_policy_arn("AWSLambdaBasicExecutionRole")],
        purpose="app",
        created_days=500,
        last_used_days=None,
    )
    risk(ctx, "stale-role", a, r.arn, "created 500 days ago and never used")


# -- generic roles -----------------------------------------------------------------------------------------------


def _filler_roles(ctx: Ctx, acct: Account) -> None:
    """Realistic service / app roles until the account has ``roles_per_account`` roles."""
    a = acct.account_id
    env = ENV[acct.ou]
    have = sum(1 for r in ctx.org.roles if r.account_id == a)
    org = ctx.org
    i = 0
    while have < ctx.roles_per_account:
        app = APPS[i % len(APPS)]
        kind = KINDS[(i // len(APPS)) % len(KINDS)]
        gen = i // (len(APPS) * len(KINDS))
        i += 1
        name = f"{env}-{app}-{kind}" + (f"-{gen + 1}" if gen else "")
        table = f"arn:aws:dynamodb:{org.region}:{a}:table/{env}-{app}"
        bucket = f"arn:aws:s3:::acme-{env}-{app}-{a}"
        data = doc(
            [
                {
                    "Effect": "Allow",
                    "Action": [
                        "dynamodb:GetItem",
                        "dynamodb:PutItem",
                        "dynamodb:Query",
                        "dynamodb:UpdateItem",
                    ],
                    "Resource": [table, table + "/index/*"],
                },
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": bucket + "/*"},
            ]
        )
        if kind == "lambda":
            make_role(
                ctx,
                a,
                name,
                trust_service("lambda.amazonaws.com"),
                managed=[backend.aws_policy_arn("AWSLambdaBasicExecutionRole")],
                inline={f"{app}-data": data},
                purpose="service",
                bulk=True,
            )
        elif kind == "ecs-task":
            make_role(
                ctx,
                a,
                name,
                trust_service("ecs-tasks.amazonaws.com"),
                inline={f"{app}-data": data},
                purpose="service",
                bulk=True,
            )
        elif kind == "ecs-exec":
            make_role(
                ctx,
                a,
                name,
                trust_service("ecs-tasks.amazonaws.com"),
                managed=[backend.aws_policy_arn("AmazonECSTaskExecutionRolePolicy")],
                purpose="service",
                bulk=True,
            )
        elif kind == "ec2":
            make_role(
                ctx,
                a,
                name,
                trust_service("ec2.amazonaws.com"),
                managed=[backend.aws_policy_arn("AmazonSSMManagedInstanceCore")],
                inline={f"{app}-data": data},
                purpose="service",
                bulk=True,
            )
        elif kind == "batch":
            make_role(
                ctx,
                a,
                name,
                trust_service("batch.amazonaws.com", {"StringEquals": {"aws:SourceAccount": a}}),
                inline={f"{app}-data": data},
                purpose="service",
                bulk=True,
            )
        else:  # app role assumed by the app's own ECS task role in the same account
            make_role(
                ctx,
                a,
                name,
                trust_aws(f"arn:aws:iam::{a}:role/{env}-{app}-ecs-task"),
                inline={f"{app}-data": data},
                purpose="app",
                bulk=True,
            )
        have += 1


def counts(ctx: Ctx) -> dict[str, Any]:
    """What an inventory should find, per account (and in total)."""
    org = ctx.org
    per: dict[str, Any] = {}
    for acct in org.accounts:
        a = acct.account_id
        users = [u for u in org.users if u.account_id == a]
        per[a] = {
            "roles": sum(1 for r in org.roles if r.account_id == a),
            "users": len(users),
            "groups": len(ctx.cache.get(f"groups:{a}", [])),
            "customer_managed_policies": len(ctx.cache.get(f"policies:{a}", [])),
            "access_keys": sum(len(u.access_keys) for u in users),
            "resources": sum(1 for r in org.resources if r.account_id == a),
            "aws_managed_policies_attached": len(backend.attached_aws_policies(a)),
            "console_users": sum(1 for u in users if u.console),
            "mfa_devices": sum(1 for u in users if u.mfa),
            "sso_roles": sum(1 for r in org.roles if r.account_id == a and r.purpose == "sso"),
            "guardduty_detectors": int(a in ctx.cache.get("guardduty", [])),
        }
    keys = tuple(next(iter(per.values())))
    total = {k: sum(v[k] for v in per.values()) for k in keys}
    return {"per_account": per, "total": total}
