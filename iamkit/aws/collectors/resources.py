"""Resource-based policies of one account and region: S3 (bucket policy, bucket and account public
access block, ACL grants), KMS (key policy, grants), Secrets Manager, Lambda, SQS, SNS and ECR.

Each service is its own collector (``SERVICES``) so fan-out can run them in parallel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from iamkit.arn import build
from iamkit.aws.calls import Scope
from iamkit.aws.collectors import Rows
from iamkit.aws.documents import parse_document
from iamkit.errors import PolicyError


def _policy(scope: Scope, arn: str, text: Any) -> Any:
    """A resource policy as a dict; malformed text is kept raw and listed as an error."""
    if text in (None, ""):
        return None
    try:
        return parse_document(text)
    except PolicyError as e:
        scope.log.add(scope.account_id, scope.region, "parse-policy", "MalformedPolicyDocument", f"{arn}: {e}")
        return text


def _row(
    scope: Scope, service: str, rtype: str, arn: str, policy: Any, extra: dict | None = None, region: str | None = None
) -> dict[str, Any]:
    return {
        "account_id": scope.account_id,
        "region": region or scope.region,
        "service": service,
        "resource_type": rtype,
        "resource_arn": arn,
        "policy": policy,
        "extra": extra or {},
    }


def s3(scope: Scope) -> Rows:
    """Buckets: policy, public access block (bucket and account) and ACL grants."""
    rows = []
    account_pab = scope.call(
        "s3control",
        "GetPublicAccessBlock",
        AccountId=scope.account_id,
        absent=("NoSuchPublicAccessBlockConfiguration",),
    )
    rows.append(
        _row(
            scope,
            "s3",
            "account_public_access_block",
            build("s3", scope.account_id),
            None,
            {"public_access_block": (account_pab or {}).get("PublicAccessBlockConfiguration")},
            region="global",
        )
    )
    listing = scope.call("s3", "ListBuckets") or {}
    for b in listing.get("Buckets") or []:
        name = b["Name"]
        arn = build("s3", name)
        pol = scope.call("s3", "GetBucketPolicy", Bucket=name, absent=("NoSuchBucketPolicy",))
        pab = scope.call("s3", "GetPublicAccessBlock", Bucket=name, absent=("NoSuchPublicAccessBlockConfiguration",))
        acl = scope.call("s3", "GetBucketAcl", Bucket=name) or {}
        grants = [{"grantee": g.get("Grantee"), "permission": g.get("Permission")} for g in acl.get("Grants") or []]
        extra = {
            "public_access_block": (pab or {}).get("PublicAccessBlockConfiguration"),
            "acl_grants": grants,
            "owner": (acl.get("Owner") or {}).get("ID"),
            "region": b.get("BucketRegion"),
        }
        rows.append(
            _row(
                scope,
                "s3",
                "bucket",
                arn,
                _policy(scope, arn, (pol or {}).get("Policy")),
                extra,
                region=b.get("BucketRegion") or scope.region,
            )
        )
    return {"resource_policies": rows}


def kms(scope: Scope) -> Rows:
    """Customer keys: key policy and grants (AWS-managed keys included: their policies matter too)."""
    rows = []
    for k in scope.pages("kms", "ListKeys", "Keys") or []:
        arn = k.get("KeyArn") or k["KeyId"]
        pol = scope.call("kms", "GetKeyPolicy", KeyId=k["KeyId"], PolicyName="default")
        grants = scope.pages("kms", "ListGrants", "Grants", KeyId=k["KeyId"]) or []
        extra = {
            "grants": [
                {
                    "grant_id": g.get("GrantId"),
                    "grantee": g.get("GranteePrincipal"),
                    "retiring": g.get("RetiringPrincipal"),
                    "operations": g.get("Operations"),
                    "constraints": g.get("Constraints"),
                }
                for g in grants
            ]
        }
        rows.append(_row(scope, "kms", "key", arn, _policy(scope, arn, (pol or {}).get("Policy")), extra))
    return {"resource_policies": rows}


def secretsmanager(scope: Scope) -> Rows:
    """Secrets and their resource policies."""
    rows = []
    for s in scope.pages("secretsmanager", "ListSecrets", "SecretList") or []:
        pol = scope.call("secretsmanager", "GetResourcePolicy", SecretId=s["ARN"])
        rows.append(
            _row(
                scope,
                "secretsmanager",
                "secret",
                s["ARN"],
                _policy(scope, s["ARN"], (pol or {}).get("ResourcePolicy")),
                {"name": s.get("Name"), "kms_key_id": s.get("KmsKeyId")},
            )
        )
    return {"resource_policies": rows}


def lambda_(scope: Scope) -> Rows:
    """Functions and their resource policies."""
    rows = []
    for f in scope.pages("lambda", "ListFunctions", "Functions") or []:
        arn = f["FunctionArn"]
        pol = scope.call("lambda", "GetPolicy", FunctionName=f["FunctionName"], absent=("ResourceNotFoundException",))
        rows.append(
            _row(
                scope,
                "lambda",
                "function",
                arn,
                _policy(scope, arn, (pol or {}).get("Policy")),
                {"role": f.get("Role"), "runtime": f.get("Runtime")},
            )
        )
    return {"resource_policies": rows}


def sqs(scope: Scope) -> Rows:
    """Queues and their policies."""
    rows = []
    for url in scope.pages("sqs", "ListQueues", "QueueUrls") or []:
        attrs = (
            scope.call(
                "sqs",
                "GetQueueAttributes",
                QueueUrl=url,
                AttributeNames=["Policy", "QueueArn"],
                absent=("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"),
            )
            or {}
        ).get("Attributes") or {}
        arn = attrs.get("QueueArn") or url
        rows.append(_row(scope, "sqs", "queue", arn, _policy(scope, arn, attrs.get("Policy")), {"url": url}))
    return {"resource_policies": rows}


def sns(scope: Scope) -> Rows:
    """Topics and their policies."""
    rows = []
    for t in scope.pages("sns", "ListTopics", "Topics") or []:
        arn = t["TopicArn"]
        attrs = (scope.call("sns", "GetTopicAttributes", TopicArn=arn, absent=("NotFound",)) or {}).get(
            "Attributes"
        ) or {}
        rows.append(
            _row(
                scope,
                "sns",
                "topic",
                arn,
                _policy(scope, arn, attrs.get("Policy")),
                {"kms_master_key_id": attrs.get("KmsMasterKeyId")},
            )
        )
    return {"resource_policies": rows}


def ecr(scope: Scope) -> Rows:
    """Repositories and their policies."""
    rows = []
    for r in scope.pages("ecr", "DescribeRepositories", "repositories") or []:
        arn = r["repositoryArn"]
        pol = scope.call(
            "ecr",
            "GetRepositoryPolicy",
            repositoryName=r["repositoryName"],
            absent=("RepositoryPolicyNotFoundException",),
        )
        rows.append(
            _row(
                scope,
                "ecr",
                "repository",
                arn,
                _policy(scope, arn, (pol or {}).get("policyText")),
                {"uri": r.get("repositoryUri")},
            )
        )
    return {"resource_policies": rows}


# name -> (collector, regional?) ; S3 is global and runs once per account in the home region
SERVICES: dict[str, tuple[Callable[[Scope], Rows], bool]] = {
    "s3": (s3, False),
    "kms": (kms, True),
    "secretsmanager": (secretsmanager, True),
    "lambda": (lambda_, True),
    "sqs": (sqs, True),
    "sns": (sns, True),
    "ecr": (ecr, True),
}


def collect(scope: Scope, home_region: bool = True) -> Rows:
    """Every service's rows for ``scope`` (global services only when ``home_region``)."""
    out: Rows = {"resource_policies": []}
    for fn, regional in SERVICES.values():
        if regional or home_region:
            out["resource_policies"] += fn(scope)["resource_policies"]
    return out
