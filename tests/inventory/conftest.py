"""Fixtures for the inventory tests: an in-process moto server and a small seeded organization.

moto's backends are process-global and shared with other test areas, so nothing here resets them:
every seeded organization gets its own, fresh management account id instead.
"""

from __future__ import annotations

import functools
import itertools
import json
import random
import threading
from dataclasses import dataclass, field
from typing import Any

import pytest

REGION = "us-east-1"
_IDS = itertools.count()


@pytest.fixture(scope="session")
def moto_url():
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


_SEED_LOCK = threading.Lock()


@functools.lru_cache(maxsize=512)
def account_client(url: str, account_id: str, service: str, region: str = REGION):
    """A client acting in ``account_id`` via moto's account header (seeding only; cached)."""
    from iamkit.aws.session import new_session

    with _SEED_LOCK:
        s = new_session(region=region, access_key_id="AKIASEEDSEEDSEEDSEED", secret_access_key="x")
        s.events.register(
            "before-sign", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account_id)
        )
        c = s.client(service, endpoint_url=url)
    if service == "s3control":
        from iamkit.aws.session import _strip_account_host_prefix

        c.meta.events.register("before-sign.s3-control", _strip_account_host_prefix)
    return c


TRUST_ANY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
}


def trust_account(acct: str, external_id: str | None = None) -> dict:
    st: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{acct}:root"},
        "Action": "sts:AssumeRole",
    }
    if external_id:
        st["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return {"Version": "2012-10-17", "Statement": [st]}


ADMIN_DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
READ_DOC = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}],
}


@dataclass
class MiniOrg:
    """What ``seed_org`` created: the ground truth for the inventory tests."""

    url: str
    management: str
    access_key_id: str
    org_id: str
    members: list[str]
    ous: dict[str, str]  # account -> OU name
    users: dict[str, list[str]] = field(default_factory=dict)  # account -> user ARNs
    roles: dict[str, list[str]] = field(default_factory=dict)  # account -> seeded role ARNs
    keys: dict[str, list[str]] = field(default_factory=dict)  # account -> access key ids
    resources: dict[str, list[str]] = field(default_factory=dict)  # account -> resource ARNs with a policy
    scp_id: str = ""

    @property
    def accounts(self) -> list[str]:
        return [self.management, *self.members]

    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.url,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/nonexistent/iamkit-config",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/c",
            "AWS_PROFILE": "",
        }


def seed_account(url: str, acct: str, org: MiniOrg, roles: int = 3) -> None:
    """Users, roles, policies and resource policies in one account."""
    iam = account_client(url, acct, "iam")
    pol = iam.create_policy(PolicyName="app-read", PolicyDocument=json.dumps(READ_DOC))["Policy"]["Arn"]
    iam.create_policy_version(PolicyArn=pol, PolicyDocument=json.dumps(ADMIN_DOC), SetAsDefault=False)
    org.users[acct], org.roles[acct], org.keys[acct], org.resources[acct] = [], [], [], []
    for name in ("alice", "bob"):
        u = iam.create_user(UserName=name)["User"]
        org.users[acct].append(u["Arn"])
        iam.put_user_policy(UserName=name, PolicyName="inline-read", PolicyDocument=json.dumps(READ_DOC))
    org.keys[acct].append(iam.create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"])
    iam.create_group(GroupName="devs")
    iam.add_user_to_group(GroupName="devs", UserName="bob")
    iam.attach_group_policy(GroupName="devs", PolicyArn=pol)
    for i in range(roles):
        trust = [TRUST_ANY, trust_account(org.management, "case-42"), trust_account(org.management)][i % 3]
        r = iam.create_role(RoleName=f"app-{i}", AssumeRolePolicyDocument=json.dumps(trust), MaxSessionDuration=7200)[
            "Role"
        ]
        org.roles[acct].append(r["Arn"])
        iam.attach_role_policy(RoleName=f"app-{i}", PolicyArn=pol)
    iam.put_role_policy(RoleName="app-0", PolicyName="admin-inline", PolicyDocument=json.dumps(ADMIN_DOC))

    public = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}],
    }
    s3 = account_client(url, acct, "s3")
    bucket = f"iamkit-inv-{acct}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                **public,
                "Statement": [
                    {**public["Statement"][0], "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
                ],
            }
        ),
    )
    org.resources[acct].append(f"arn:aws:s3:::{bucket}")
    kms = account_client(url, acct, "kms")
    key = kms.create_key(Policy=json.dumps({**public, "Statement": [{**public["Statement"][0], "Action": "kms:*"}]}))[
        "KeyMetadata"
    ]
    org.resources[acct].append(key["Arn"])
    sm = account_client(url, acct, "secretsmanager")
    sec = sm.create_secret(Name="db-password", SecretString="not-a-real-secret")["ARN"]
    sm.put_resource_policy(
        SecretId=sec,
        ResourcePolicy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": org.management},
                        "Action": "secretsmanager:GetSecretValue",
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    org.resources[acct].append(sec)
    sqs = account_client(url, acct, "sqs")
    q = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(
        QueueUrl=q,
        Attributes={
            "Policy": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": qarn}],
                }
            )
        },
    )
    org.resources[acct].append(qarn)
    sns = account_client(url, acct, "sns")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    sns.set_topic_attributes(
        TopicArn=topic,
        AttributeName="Policy",
        AttributeValue=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sns:Publish", "Resource": topic}
                ],
            }
        ),
    )
    org.resources[acct].append(topic)
    ecr = account_client(url, acct, "ecr")
    repo = ecr.create_repository(repositoryName="app")["repository"]
    ecr.set_repository_policy(
        repositoryName="app",
        policyText=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "pull",
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{org.management}:root"},
                        "Action": ["ecr:BatchGetImage"],
                    }
                ],
            }
        ),
    )
    org.resources[acct].append(repo["repositoryArn"])


def seed_org(url: str, members: int = 2, roles: int = 3) -> MiniOrg:
    """A fresh organization: a new management account, ``members`` member accounts in OUs, an SCP,
    an Identity Center permission set and user, and ``seed_account`` in every member."""
    mgmt = f"9{random.randrange(10**10, 10**11):011d}"[:12]
    op_iam = account_client(url, mgmt, "iam")
    op_iam.create_user(UserName="operator")
    key = op_iam.create_access_key(UserName="operator")["AccessKey"]["AccessKeyId"]
    orgs = account_client(url, mgmt, "organizations")
    org_id = orgs.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root = orgs.list_roots()["Roots"][0]["Id"]
    ou_ids = {
        name: orgs.create_organizational_unit(ParentId=root, Name=name)["OrganizationalUnit"]["Id"]
        for name in ("Prod", "Dev")
    }
    org = MiniOrg(url=url, management=mgmt, access_key_id=key, org_id=org_id, members=[], ous={mgmt: "Root"})
    for i in range(members):
        acct = orgs.create_account(AccountName=f"member-{next(_IDS)}", Email=f"m{i}@example.com")[
            "CreateAccountStatus"
        ]["AccountId"]
        ou = "Prod" if i % 2 == 0 else "Dev"
        orgs.move_account(AccountId=acct, SourceParentId=root, DestinationParentId=ou_ids[ou])
        org.members.append(acct)
        org.ous[acct] = ou
    scp = orgs.create_policy(
        Name="deny-stop-logging",
        Type="SERVICE_CONTROL_POLICY",
        Description="",
        Content=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Deny", "Action": ["cloudtrail:StopLogging", "cloudtrail:DeleteTrail"], "Resource": "*"}
                ],
            }
        ),
    )
    org.scp_id = scp["Policy"]["PolicySummary"]["Id"]
    orgs.attach_policy(PolicyId=org.scp_id, TargetId=ou_ids["Prod"])
    orgs.register_delegated_administrator(AccountId=org.members[0], ServicePrincipal="guardduty.amazonaws.com")
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(org.members)) as pool:
        list(pool.map(lambda acct: seed_account(url, acct, org, roles), org.members))
    ct = account_client(url, mgmt, "cloudtrail")
    s3 = account_client(url, mgmt, "s3")
    s3.create_bucket(Bucket=f"trail-{mgmt}")
    ct.create_trail(
        Name="org-trail", S3BucketName=f"trail-{mgmt}", IsMultiRegionTrail=True, EnableLogFileValidation=True
    )
    ct.start_logging(Name="org-trail")
    account_client(url, mgmt, "guardduty").create_detector(Enable=True)
    sso = account_client(url, mgmt, "sso-admin")
    inst = sso.list_instances()["Instances"][0]
    ps = sso.create_permission_set(Name="Admins", InstanceArn=inst["InstanceArn"])["PermissionSet"]
    sso.attach_managed_policy_to_permission_set(
        InstanceArn=inst["InstanceArn"],
        PermissionSetArn=ps["PermissionSetArn"],
        ManagedPolicyArn="arn:aws:iam::aws:policy/AdministratorAccess",
    )
    ids = account_client(url, mgmt, "identitystore")
    uid = ids.create_user(
        IdentityStoreId=inst["IdentityStoreId"],
        UserName="carol",
        DisplayName="Carol",
        Name={"GivenName": "Carol", "FamilyName": "C"},
    )["UserId"]
    gid = ids.create_group(IdentityStoreId=inst["IdentityStoreId"], DisplayName="admins")["GroupId"]
    ids.create_group_membership(IdentityStoreId=inst["IdentityStoreId"], GroupId=gid, MemberId={"UserId": uid})
    sso.create_account_assignment(
        InstanceArn=inst["InstanceArn"],
        TargetId=org.members[0],
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=ps["PermissionSetArn"],
        PrincipalType="GROUP",
        PrincipalId=gid,
    )
    return org


@pytest.fixture(scope="session")
def mini_org(moto_url) -> MiniOrg:
    """A seeded organization shared by every read-only inventory test."""
    return seed_org(moto_url)


@pytest.fixture
def fresh_account(moto_url, mini_org) -> tuple[MiniOrg, str]:
    """A new account outside the shared organization, seeded like a member (users, roles, resources),
    for tests that change it; collect it with ``accounts=[…]`` from the shared org's management."""
    acct = f"7{random.randrange(10**10, 10**11):011d}"[:12]
    org = MiniOrg(
        url=moto_url,
        management=mini_org.management,
        access_key_id=mini_org.access_key_id,
        org_id=mini_org.org_id,
        members=[acct],
        ous={},
    )
    seed_account(moto_url, acct, org, roles=2)
    return org, acct


@pytest.fixture
def scratch_account() -> str:
    """A fresh, empty account id (moto creates accounts on first use)."""
    return f"8{random.randrange(10**10, 10**11):011d}"[:12]


@pytest.fixture
def aws_env(monkeypatch):
    """Point boto3 at an org: ``aws_env(org)`` sets the environment for this test only."""

    def apply(org: MiniOrg) -> None:
        for k, v in org.env().items():
            if v:
                monkeypatch.setenv(k, v)
            else:
                monkeypatch.delenv(k, raising=False)

    return apply


class VirtualClock:
    """Stands in for botocore's sleeps and adaptive token-bucket clock: time advances, nobody waits."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def time(self) -> float:
        self.now += 60.0  # every look at the clock finds the token bucket refilled
        return self.now


@pytest.fixture
def virtual_clock(monkeypatch) -> VirtualClock:
    """No real sleeping on retries: botocore's retry sleep and adaptive rate limiter use this clock."""
    import types

    import botocore.endpoint
    import botocore.retries.bucket

    clock = VirtualClock()
    fake_time = types.SimpleNamespace(sleep=clock.sleep, time=clock.time, monotonic=clock.time, perf_counter=clock.time)
    monkeypatch.setattr(botocore.endpoint, "time", fake_time)
    monkeypatch.setattr(botocore.retries.bucket.Clock, "sleep", lambda self, s: clock.sleep(s))
    monkeypatch.setattr(botocore.retries.bucket.Clock, "current_time", lambda self: clock.time())
    return clock


@pytest.fixture
def helpers():
    """The seeding helpers (conftest is not importable under --import-mode=importlib)."""
    import types

    return types.SimpleNamespace(
        account_client=account_client, trust_account=trust_account, seed_org=seed_org, MiniOrg=MiniOrg
    )
