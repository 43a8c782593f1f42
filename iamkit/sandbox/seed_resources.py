"""Seed resources with resource-based policies (S3, KMS, Secrets Manager, Lambda, SQS, SNS, ECR), the
sensitive data the incident reads, the exposure risks and a safe look-alike (a bucket limited to the org)."""

from __future__ import annotations

import io
import zipfile
from typing import TYPE_CHECKING, Any

from iamkit.sandbox.model import Resource
from iamkit.sandbox.seed import doc, dumps
from iamkit.sandbox.seed_iam import THIRD_PARTY_BACKUP, risk

if TYPE_CHECKING:
    from iamkit.sandbox.seed import Ctx

CUSTOMER_OBJECTS = [
    "exports/customers-2026-10.csv",
    "exports/customers-2026-11.csv",
    "backups/crm-db-2026-11-20.sql.gz",
    "reports/churn-model-input.parquet",
]
PUBLIC_OBJECTS = ["index.html", "img/logo.png", "css/site.css"]
WEBHOOK_ROLE = "order-webhook-exec"


def _record(
    ctx: Ctx,
    account_id: str,
    service: str,
    arn: str,
    name: str,
    policy: dict[str, Any] | None,
    sensitive: bool = False,
    objects: list[str] | None = None,
) -> Resource:
    r = Resource(
        account_id=account_id,
        region=ctx.org.region,
        service=service,
        arn=arn,
        name=name,
        policy=policy,
        sensitive=sensitive,
        objects=list(objects or []),
    )
    ctx.org.resources.append(r)
    return r


def _zip() -> bytes:
    """A tiny deterministic deployment package."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("handler.py", date_time=(2026, 1, 1, 0, 0, 0))
        z.writestr(info, "def handler(event, context):\n    return {'statusCode': 200}\n")
    return buf.getvalue()


def seed_resources(ctx: Ctx) -> None:
    """Resource policies in the (first) Prod account; see the module docstring."""
    org = ctx.org
    prod = org.accounts_in("Prod")[0].account_id
    dev = org.accounts_in("Dev")[0].account_id
    sec = org.accounts_in("Security")[0].account_id
    region = org.region
    s3 = ctx.client("s3", prod)

    bucket = f"acme-prod-customer-data-{prod}"
    s3.create_bucket(Bucket=bucket)
    policy = doc(
        [
            {
                "Sid": "OrgOnly",
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": org.org_id}},
            }
        ]
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=dumps(policy))
    for key in CUSTOMER_OBJECTS:
        s3.put_object(Bucket=bucket, Key=key, Body=f"synthetic sandbox data for {key}\n".encode())
    r = _record(ctx, prod, "s3", f"arn:aws:s3:::{bucket}", bucket, policy, sensitive=True, objects=CUSTOMER_OBJECTS)
    risk(
        ctx,
        "safe-bucket-org-restricted",
        prod,
        r.arn,
        "bucket policy Principal '*' restricted by aws:PrincipalOrgID to the organization",
        safe=True,
    )

    public = f"acme-public-assets-{prod}"
    s3.create_bucket(Bucket=public)
    policy = doc(
        [
            {
                "Sid": "PublicRead",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{public}/*",
            }
        ]
    )
    s3.put_bucket_policy(Bucket=public, Policy=dumps(policy))
    for key in PUBLIC_OBJECTS:
        s3.put_object(Bucket=public, Key=key, Body=b"public asset\n")
    r = _record(ctx, prod, "s3", f"arn:aws:s3:::{public}", public, policy, objects=PUBLIC_OBJECTS)
    risk(ctx, "public-bucket", prod, r.arn, "bucket policy grants s3:GetObject to Principal '*' (anonymous)")

    sm = ctx.client("secretsmanager", prod)
    arn = sm.create_secret(
        Name="prod/db/password",
        Description="Production database master password",
        SecretString=f"sandbox-fake-{ctx.hex(20)}",
    )["ARN"]
    _record(ctx, prod, "secretsmanager", arn, "prod/db/password", None, sensitive=True)
    arn = sm.create_secret(
        Name="prod/partner/api-key",
        Description="Backup vendor API key",
        SecretString=f"sandbox-fake-{ctx.hex(20)}",
    )["ARN"]
    policy = doc(
        [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{THIRD_PARTY_BACKUP}:root"},
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
            }
        ]
    )
    sm.put_resource_policy(SecretId=arn, ResourcePolicy=dumps(policy))
    r = _record(ctx, prod, "secretsmanager", arn, "prod/partner/api-key", policy, sensitive=True)
    risk(
        ctx,
        "cross-account-secret",
        prod,
        r.arn,
        f"secret readable by account {THIRD_PARTY_BACKUP}, outside the organization",
    )

    kms = ctx.client("kms", prod)
    root = {
        "Sid": "EnableRoot",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{prod}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    policy = doc(
        [
            root,
            {
                "Sid": "OpenDecrypt",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"],
                "Resource": "*",
            },
        ]
    )
    key = kms.create_key(Policy=dumps(policy), Description="prod shared encryption key")["KeyMetadata"]
    kms.create_alias(AliasName="alias/prod-shared", TargetKeyId=key["KeyId"])
    r = _record(ctx, prod, "kms", key["Arn"], "alias/prod-shared", policy)
    risk(ctx, "open-kms-key", prod, r.arn, "key policy lets Principal '*' decrypt with no condition")
    policy = doc([root])
    key = kms.create_key(Policy=dumps(policy), Description="prod data key")["KeyMetadata"]
    kms.create_alias(AliasName="alias/prod-data", TargetKeyId=key["KeyId"])
    _record(ctx, prod, "kms", key["Arn"], "alias/prod-data", policy)

    lam = ctx.client("lambda", prod)
    fn = lam.create_function(
        FunctionName="prod-order-webhook",
        Runtime="python3.12",
        Handler="handler.handler",
        Role=f"arn:aws:iam::{prod}:role/{WEBHOOK_ROLE}",
        Code={"ZipFile": _zip()},
    )
    api_arn = f"arn:aws:execute-api:{region}:{prod}:a1b2c3d4e5/*/POST/orders"
    lam.add_permission(
        FunctionName="prod-order-webhook",
        StatementId="apigw-invoke",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=api_arn,
        SourceAccount=prod,
    )
    policy = doc(
        [
            {
                "Sid": "apigw-invoke",
                "Effect": "Allow",
                "Principal": {"Service": "apigateway.amazonaws.com"},
                "Action": "lambda:InvokeFunction",
                "Resource": fn["FunctionArn"],
                "Condition": {
                    "StringEquals": {"AWS:SourceAccount": prod},
                    "ArnLike": {"AWS:SourceArn": api_arn},
                },
            }
        ]
    )
    _record(ctx, prod, "lambda", fn["FunctionArn"], "prod-order-webhook", policy)

    sns = ctx.client("sns", prod)
    topic = sns.create_topic(Name="prod-order-events")["TopicArn"]
    policy = doc(
        [
            {
                "Sid": "SecuritySubscribe",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{sec}:root"},
                "Action": ["sns:Subscribe"],
                "Resource": topic,
            }
        ]
    )
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=dumps(policy))
    _record(ctx, prod, "sns", topic, "prod-order-events", policy)

    sqs = ctx.client("sqs", prod)
    queue_arn = f"arn:aws:sqs:{region}:{prod}:prod-orders"
    policy = doc(
        [
            {
                "Sid": "FromTopic",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
            }
        ]
    )
    sqs.create_queue(QueueName="prod-orders", Attributes={"Policy": dumps(policy)})
    _record(ctx, prod, "sqs", queue_arn, "prod-orders", policy)

    ecr = ctx.client("ecr", prod)
    repo = ecr.create_repository(repositoryName="webapp")["repository"]["repositoryArn"]
    policy = doc(
        [
            {
                "Sid": "DevPull",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{dev}:root"},
                "Action": [
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchGetImage",
                    "ecr:BatchCheckLayerAvailability",
                ],
            }
        ]
    )
    ecr.set_repository_policy(repositoryName="webapp", policyText=dumps(policy))
    _record(ctx, prod, "ecr", repo, "webapp", policy)
