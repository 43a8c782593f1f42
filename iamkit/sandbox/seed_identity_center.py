"""Seed the people (the same humans in Entra and Identity Center) and IAM Identity Center: identity-store
users and groups, permission sets, account assignments, and the ``AWSReservedSSO_*`` roles they imply."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from iamkit.sandbox import backend
from iamkit.sandbox.model import Assignment, Person, Role
from iamkit.sandbox.seed import doc, dumps, iso

if TYPE_CHECKING:
    from iamkit.sandbox.seed import Ctx

DOMAIN = "contoso.example"
SSO_PATH = "/aws-reserved/sso.amazonaws.com/"

# (given, surname, department, groups)
PEOPLE = [
    ("Alice", "Martin", "Platform Engineering", ["AWS-Admins", "AWS-Developers"]),
    ("Bruno", "Silva", "Engineering", ["AWS-Developers"]),
    ("Chen", "Wei", "Engineering", ["AWS-Developers"]),
    ("Dana", "Kowalski", "Engineering", ["AWS-Developers"]),
    ("Emeka", "Okafor", "Security", ["AWS-Security", "AWS-ReadOnly"]),
    ("Fatima", "Haddad", "Finance", ["AWS-ReadOnly"]),
    ("Gustav", "Lindqvist", "Engineering", ["AWS-Developers"]),
    ("Hana", "Sato", "Data", ["AWS-Developers", "AWS-ReadOnly"]),
    ("Ivan", "Petrov", "Platform Engineering", ["AWS-Admins"]),
    ("Julia", "Romero", "Security", ["AWS-Security", "AWS-Admins"]),
    ("Kofi", "Mensah", "Engineering", ["AWS-Developers"]),
    ("Lena", "Fischer", "Support", ["AWS-ReadOnly"]),
]
MFA_CHOICES = [
    ["microsoftAuthenticator"],
    ["microsoftAuthenticator", "phone"],
    ["fido2"],
    ["microsoftAuthenticator", "fido2"],
]

DEVELOPER_INLINE = doc(
    [
        {
            "Sid": "DeveloperServices",
            "Effect": "Allow",
            "Action": [
                "lambda:*",
                "dynamodb:*",
                "s3:*",
                "sqs:*",
                "sns:*",
                "logs:*",
                "cloudwatch:*",
                "ecr:*",
                "ecs:*",
            ],
            "Resource": "*",
        },
        {
            "Sid": "NoIdentityChanges",
            "Effect": "Deny",
            "Action": ["iam:*", "organizations:*", "sso:*"],
            "Resource": "*",
        },
    ]
)
# permission set -> (managed policy ARNs, inline policy or None, session duration)
PERMISSION_SETS = {
    "AdministratorAccess": (["arn:aws:iam::aws:policy/AdministratorAccess"], None, "PT4H"),
    "ReadOnly": (["arn:aws:iam::aws:policy/ReadOnlyAccess"], None, "PT8H"),
    "Developer": (["arn:aws:iam::aws:policy/ReadOnlyAccess"], DEVELOPER_INLINE, "PT8H"),
}
# group -> [(OU of target accounts, permission set)]
GROUP_ASSIGNMENTS = {
    "AWS-Admins": [
        ("Root", "AdministratorAccess"),
        ("Security", "AdministratorAccess"),
        ("Prod", "AdministratorAccess"),
        ("Dev", "AdministratorAccess"),
        ("Sandbox", "AdministratorAccess"),
    ],
    "AWS-Developers": [("Dev", "Developer"), ("Sandbox", "Developer"), ("Prod", "ReadOnly")],
    "AWS-Security": [
        ("Security", "AdministratorAccess"),
        ("Prod", "ReadOnly"),
        ("Dev", "ReadOnly"),
        ("Root", "ReadOnly"),
    ],
    "AWS-ReadOnly": [("Prod", "ReadOnly"), ("Dev", "ReadOnly")],
}


def seed_people(ctx: Ctx) -> None:
    """The people, deterministic from the seed: UPNs, Entra object ids, MFA (two without), home IPs."""
    rng = ctx.rng
    no_mfa = set(rng.sample(range(len(PEOPLE)), 2))
    for i, (given, surname, dept, groups) in enumerate(PEOPLE):
        ctx.org.people.append(
            Person(
                upn=f"{given.lower()}.{surname.lower()}@{DOMAIN}",
                display_name=f"{given} {surname}",
                given_name=given,
                surname=surname,
                department=dept,
                entra_object_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                groups=list(groups),
                mfa_methods=[] if i in no_mfa else list(rng.choice(MFA_CHOICES)),
                home_ip=f"198.51.100.{rng.randint(10, 250)}",
            )
        )


def seed_identity_center(ctx: Ctx) -> None:
    """Identity Center in the management account: users, groups, permission sets, assignments, SSO roles."""
    org = ctx.org
    mgmt = org.management_account_id
    sso = ctx.client("sso-admin", mgmt)
    ids = ctx.client("identitystore", mgmt)
    inst = sso.list_instances()["Instances"][0]
    org.identity_center_instance_arn = inst["InstanceArn"]
    org.identity_store_id = store = inst["IdentityStoreId"]
    group_ids: dict[str, str] = {}
    for person in org.people:
        for g in person.groups:
            if g not in group_ids:
                group_ids[g] = ids.create_group(
                    IdentityStoreId=store, DisplayName=g, Description=f"{g} (synced from Entra)"
                )["GroupId"]
    for person in org.people:
        person.identity_center_user_id = ids.create_user(
            IdentityStoreId=store,
            UserName=person.upn,
            DisplayName=person.display_name,
            Name={"GivenName": person.given_name, "FamilyName": person.surname},
            Emails=[{"Value": person.upn, "Type": "work", "Primary": True}],
        )["UserId"]
        for g in person.groups:
            ids.create_group_membership(
                IdentityStoreId=store,
                GroupId=group_ids[g],
                MemberId={"UserId": person.identity_center_user_id},
            )
    ps_arns: dict[str, str] = {}
    for name, (managed, inline, duration) in PERMISSION_SETS.items():
        arn = sso.create_permission_set(
            Name=name,
            InstanceArn=org.identity_center_instance_arn,
            SessionDuration=duration,
            Description=f"{name} access",
        )["PermissionSet"]["PermissionSetArn"]
        ps_arns[name] = arn
        for p in managed:
            sso.attach_managed_policy_to_permission_set(
                InstanceArn=org.identity_center_instance_arn, PermissionSetArn=arn, ManagedPolicyArn=p
            )
        if inline:
            sso.put_inline_policy_to_permission_set(
                InstanceArn=org.identity_center_instance_arn, PermissionSetArn=arn, InlinePolicy=dumps(inline)
            )
    needed: dict[str, set[str]] = {}
    for group, targets in GROUP_ASSIGNMENTS.items():
        if group not in group_ids:
            continue
        for ou, ps in targets:
            for acct in org.accounts_in(ou):
                sso.create_account_assignment(
                    InstanceArn=org.identity_center_instance_arn,
                    TargetId=acct.account_id,
                    TargetType="AWS_ACCOUNT",
                    PermissionSetArn=ps_arns[ps],
                    PrincipalType="GROUP",
                    PrincipalId=group_ids[group],
                )
                org.assignments.append(
                    Assignment(
                        account_id=acct.account_id,
                        permission_set=ps,
                        permission_set_arn=ps_arns[ps],
                        principal_type="GROUP",
                        principal_name=group,
                        principal_id=group_ids[group],
                    )
                )
                needed.setdefault(acct.account_id, set()).add(ps)
    for acct in org.accounts:
        for ps in sorted(needed.get(acct.account_id, ())):
            _sso_role(ctx, acct.account_id, ps)


def _sso_role(ctx: Ctx, account_id: str, permission_set: str) -> None:
    """The role Identity Center provisions for a permission set in an account (moto does not)."""
    iam = ctx.client("iam", account_id)
    provider = _saml_provider(ctx, account_id)
    name = f"AWSReservedSSO_{permission_set}_{ctx.hex(16)}"
    trust = doc(
        [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider},
                "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"],
                "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
            }
        ]
    )
    managed, inline, duration = PERMISSION_SETS[permission_set]
    role = iam.create_role(
        RoleName=name,
        Path=SSO_PATH,
        AssumeRolePolicyDocument=dumps(trust),
        MaxSessionDuration=int(duration[2:-1]) * 3600,
        Description=f"Identity Center permission set {permission_set}",
    )["Role"]
    for p in managed:
        iam.attach_role_policy(RoleName=name, PolicyArn=p)
    inlines = {}
    if inline:
        iam.put_role_policy(RoleName=name, PolicyName="AwsSSOInlinePolicy", PolicyDocument=dumps(inline))
        inlines["AwsSSOInlinePolicy"] = inline
    created, used = ctx.ago(days=ctx.rng.uniform(200, 400)), ctx.ago(days=ctx.rng.uniform(0.1, 10))
    backend.set_role(account_id, name, created=created, last_used=used)
    ctx.org.roles.append(
        Role(
            account_id=account_id,
            name=name,
            arn=role["Arn"],
            role_id=role["RoleId"],
            trust_policy=trust,
            managed_policy_arns=list(managed),
            inline_policies=inlines,
            max_session_duration=int(duration[2:-1]) * 3600,
            purpose="sso",
            created=iso(created),
            last_used=iso(used),
        )
    )


def _saml_provider(ctx: Ctx, account_id: str) -> str:
    """The ``AWSSSO_…_DO_NOT_DELETE`` SAML provider Identity Center keeps in each assigned account."""
    key = f"saml-provider:{account_id}"
    if key not in ctx.cache:
        iam = ctx.client("iam", account_id)
        cert = "".join(
            ctx.rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(1024)
        )  # a stand-in for the IdP signing certificate
        metadata = (
            "<?xml version='1.0' encoding='UTF-8'?><md:EntityDescriptor "
            "xmlns:md='urn:oasis:names:tc:SAML:2.0:metadata' "
            f"entityID='https://portal.sso.{ctx.org.region}.amazonaws.com/saml/assertion/sandbox'>"
            "<md:IDPSSODescriptor protocolSupportEnumeration='urn:oasis:names:tc:SAML:2.0:protocol'>"
            "<md:KeyDescriptor use='signing'><ds:KeyInfo xmlns:ds='http://www.w3.org/2000/09/xmldsig#'>"
            f"<ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
            "</md:KeyDescriptor><md:SingleSignOnService "
            "Binding='urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect' "
            f"Location='https://portal.sso.{ctx.org.region}.amazonaws.com/saml/assertion/sandbox'/>"
            "</md:IDPSSODescriptor></md:EntityDescriptor>"
        )
        ctx.cache[key] = iam.create_saml_provider(
            Name=f"AWSSSO_{ctx.hex(16)}_DO_NOT_DELETE", SAMLMetadataDocument=metadata
        )["SAMLProviderArn"]
    return ctx.cache[key]
