"""Surgery on moto's in-process IAM backend: what the AWS API cannot set.

Key and role ages, key last-used dates, password last use, AIDA-style user ids and the few AWS-managed
policies the sandbox uses. These touch moto internals (pinned moto version); ``check_internals`` fails
loudly, naming the attribute, when a moto upgrade changes them (a smoke test calls it).
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any

from iamkit.errors import IamkitError

PARTITION = "aws"

# AWS-managed policies the seed attaches (name -> path is taken from moto's bundled copy of AWS's data).
AWS_MANAGED = (
    "AdministratorAccess",
    "ReadOnlyAccess",
    "PowerUserAccess",
    "ViewOnlyAccess",
    "SecurityAudit",
    "IAMFullAccess",
    "AmazonS3ReadOnlyAccess",
    "AWSLambdaBasicExecutionRole",
    "AWSLambdaVPCAccessExecutionRole",
    "AmazonSSMManagedInstanceCore",
    "AmazonECSTaskExecutionRolePolicy",
    "AmazonEC2ContainerServiceforEC2Role",
)


class MotoInternalsChanged(IamkitError):
    """moto's internals no longer look as the sandbox expects (moto upgraded?)."""


def _iam(account_id: str) -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account_id][PARTITION]


@lru_cache(maxsize=1)
def _managed_data() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    data = json.loads(aws_managed_policies_data)
    missing = [n for n in AWS_MANAGED if n not in data]
    if missing:
        raise MotoInternalsChanged(f"moto's AWS-managed policy data lacks {missing}")
    return {n: data[n] for n in AWS_MANAGED}


def aws_policy_arn(name: str) -> str:
    """The ARN of an AWS-managed policy, with its path (``…:policy/service-role/AWSLambdaBasicExecutionRole``)."""
    return f"arn:aws:iam::aws:policy{_managed_data()[name].get('Path') or '/'}{name}"


def managed_policy_document(name: str) -> dict[str, Any]:
    """The document of one of the AWS-managed policies the sandbox installs."""
    return _managed_data()[name]["Document"]


def install_aws_managed_policies(account_id: str, names: tuple[str, ...] = AWS_MANAGED) -> list[str]:
    """Add the named AWS-managed policies to one account's backend (moto loads none by default); return ARNs."""
    from moto.iam.models import AWSManagedPolicy

    backend = _iam(account_id)
    arns = []
    for name in names:
        policy = AWSManagedPolicy.from_data(name, account_id, "us-east-1", _managed_data()[name])
        if policy.arn not in backend.managed_policies:
            backend.aws_managed_policies.append(policy)
            backend.managed_policies[policy.arn] = policy
        arns.append(policy.arn)
    return arns


def create_role(
    account_id: str,
    name: str,
    trust_json: str,
    *,
    description: str = "",
    max_session: int = 3600,
    managed: list[str] = (),
    inline: dict[str, str] | None = None,
    path: str = "/",
) -> tuple[str, str]:
    """Create a role straight in moto's backend (the bulk path: no HTTP round trips); return (arn, role id).

    Same validation of inline documents as the API; used for the generic roles that make up the volume.
    """
    b = _iam(account_id)
    role = b.create_role(
        role_name=name,
        assume_role_policy_document=trust_json,
        path=path,
        permissions_boundary=None,
        description=description,
        tags=[],
        max_session_duration=str(max_session),
    )
    for arn in managed:
        policy = b.managed_policies.get(arn)
        if policy is None:
            raise MotoInternalsChanged(f"policy {arn} not in moto's backend for {account_id}")
        policy.attach_to(role)
    for pname, pjson in (inline or {}).items():
        b.put_role_policy(name, pname, pjson)
    return role.arn, role.id


def attached_aws_policies(account_id: str) -> list[str]:
    """ARNs of the AWS-managed policies attached to something in the account (what inventory calls "in use")."""
    return sorted(p.arn for p in _iam(account_id).aws_managed_policies if p.attachment_count > 0)


def set_user(
    account_id: str,
    user_name: str,
    *,
    user_id: str | None = None,
    created: datetime | None = None,
    password_last_used: datetime | None = None,
) -> None:
    """Set a user's id (AIDA…), creation date and password last use."""
    user = _iam(account_id).users[user_name]
    if user_id:
        user.id = user_id
    if created:
        user.create_date = created
    if password_last_used:
        user.password_last_used = password_last_used


def set_access_key(
    account_id: str,
    access_key_id: str,
    *,
    created: datetime | None = None,
    last_used: datetime | None = None,
    service: str = "s3",
    region: str = "us-east-1",
) -> None:
    """Backdate an access key and set (or clear, with ``last_used=None``) its last use."""
    from moto.iam.models import AccessKeyLastUsed

    key = _iam(account_id).access_keys[access_key_id]
    if created:
        key.create_date = created
    key.last_used = AccessKeyLastUsed(timestamp=last_used, service=service, region=region) if last_used else None


def set_role(
    account_id: str,
    role_name: str,
    *,
    created: datetime | None = None,
    last_used: datetime | None = None,
    region: str = "us-east-1",
) -> None:
    """Backdate a role and set (or clear) its last use."""
    backend = _iam(account_id)
    role = next((r for r in backend.roles.values() if r.name == role_name), None)
    if role is None:
        raise MotoInternalsChanged(f"role {role_name} not found in moto's backend for {account_id}")
    if created:
        role.create_date = created
    role.last_used = last_used
    role.last_used_region = region if last_used else None


def set_policy_created(account_id: str, policy_arn: str, created: datetime) -> None:
    """Backdate a customer-managed policy (creation and update dates)."""
    policy = _iam(account_id).managed_policies[policy_arn]
    policy.create_date = created
    policy.update_date = created


class BulkS3Writer:
    """A stand-in for a boto3 S3 client's ``put_object`` that stores objects straight in moto's backend.

    The trail generator writes thousands of small log files; over HTTP that costs far more than generating
    them. What lands in moto is the same object (key, body, Content-Type/Encoding metadata) a PutObject makes.
    """

    def __init__(self, account_id: str):
        from moto.s3.models import s3_backends

        self.account_id = account_id
        self._backend = s3_backends[account_id][PARTITION]

    def put_object(
        self,
        *,
        Bucket: str,
        Key: str,
        Body: bytes,
        ContentType: str | None = None,  # noqa: N803
        ContentEncoding: str | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        """Store one object; returns its ETag like PutObject."""
        key = self._backend.put_object(Bucket, Key, bytes(Body))
        meta = {}
        if ContentType:
            meta["Content-Type"] = ContentType
        if ContentEncoding:
            meta["Content-Encoding"] = ContentEncoding
        key.set_metadata(meta)
        return {"ETag": key.etag}


def check_internals() -> None:
    """Fail loudly, naming what moved, if moto's internals the surgery relies on changed."""
    from moto.iam import models

    for name in ("iam_backends", "AWSManagedPolicy", "AccessKeyLastUsed", "AccessKey", "User", "Role"):
        if not hasattr(models, name):
            raise MotoInternalsChanged(f"moto.iam.models.{name} is gone")
    _managed_data()
    backend = models.IAMBackend(region_name="us-east-1", account_id="000000000000")
    for attr in (
        "users",
        "roles",
        "access_keys",
        "managed_policies",
        "aws_managed_policies",
        "create_role",
        "put_role_policy",
    ):
        if not hasattr(backend, attr):
            raise MotoInternalsChanged(f"moto IAMBackend.{attr} is gone")
    user = models.User("000000000000", "us-east-1", "probe")
    for attr in ("id", "create_date", "password_last_used", "access_keys"):
        if not hasattr(user, attr):
            raise MotoInternalsChanged(f"moto User.{attr} is gone")
    policy = models.AWSManagedPolicy.from_data(
        "AdministratorAccess", "000000000000", "us-east-1", _managed_data()["AdministratorAccess"]
    )
    for attr in ("arn", "attachment_count", "attach_to", "create_date", "update_date"):
        if not hasattr(policy, attr):
            raise MotoInternalsChanged(f"moto AWSManagedPolicy.{attr} is gone")
    from moto.s3 import models as s3_models

    if not hasattr(s3_models, "s3_backends") or not hasattr(s3_models.S3Backend, "put_object"):
        raise MotoInternalsChanged("moto.s3.models.s3_backends / S3Backend.put_object is gone")
    if not hasattr(s3_models.FakeKey, "set_metadata") or not hasattr(s3_models.FakeKey, "etag"):
        raise MotoInternalsChanged("moto FakeKey.set_metadata / etag is gone")
    key = models.AccessKey("probe", prefix="AKIA", account_id="000000000000")
    for attr in ("create_date", "last_used", "access_key_id"):
        if not hasattr(key, attr):
            raise MotoInternalsChanged(f"moto AccessKey.{attr} is gone")
