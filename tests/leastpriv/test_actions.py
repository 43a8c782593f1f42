"""CloudTrail event → IAM actions and resources: the override table, companions, ARNs from resources[] and request
fields, and '*' only with a reason."""

from __future__ import annotations

import pytest

from iamkit.leastpriv.actions import OVERRIDES, authorizations, event_actions, iam_prefix

A = "111122223333"


@pytest.mark.parametrize(
    "source, name, expected",
    [
        ("s3.amazonaws.com", "ListBuckets", ("s3:ListAllMyBuckets",)),
        ("s3.amazonaws.com", "ListObjectsV2", ("s3:ListBucket",)),
        ("s3.amazonaws.com", "HeadObject", ("s3:GetObject",)),
        ("lambda.amazonaws.com", "GetFunction20150331v2", ("lambda:GetFunction",)),
        ("lambda.amazonaws.com", "ListFunctions20150331", ("lambda:ListFunctions",)),
        ("lambda.amazonaws.com", "Invoke", ("lambda:InvokeFunction",)),
        ("cloudfront.amazonaws.com", "GetDistribution2020_05_31", ("cloudfront:GetDistribution",)),
        ("apigateway.amazonaws.com", "GetRestApis", ("apigateway:GET",)),
        ("apigateway.amazonaws.com", "CreateDeployment", ("apigateway:POST",)),
        ("apigateway.amazonaws.com", "DeleteStage", ("apigateway:DELETE",)),
        ("monitoring.amazonaws.com", "PutMetricData", ("cloudwatch:PutMetricData",)),
        ("kms.amazonaws.com", "ReEncrypt", ("kms:ReEncryptFrom", "kms:ReEncryptTo")),
        ("iam.amazonaws.com", "CreateRole", ("iam:CreateRole",)),
        # met in real trails (the Invictus dataset): S3's old configuration call names
        ("s3.amazonaws.com", "GetBucketLifecycle", ("s3:GetLifecycleConfiguration",)),
        ("s3.amazonaws.com", "DeleteBucketReplication", ("s3:PutReplicationConfiguration",)),
        ("servicecatalog-appregistry.amazonaws.com", "ListApplications", ("servicecatalog:ListApplications",)),
        ("sts.amazonaws.com", "GetCallerIdentity", ()),
        ("s3.amazonaws.com", "NoSuchCall", None),
        ("made-up.amazonaws.com", "Anything", None),
    ],
)
def test_event_names_map_to_iam_actions(source, name, expected):
    assert event_actions(source, name) == expected


def test_every_override_names_catalogue_actions():
    from iamkit.policy import catalog

    for actions in OVERRIDES.values():
        for a in actions:
            assert catalog().action(a) is not None, a


def test_iam_prefix():
    assert iam_prefix("monitoring.amazonaws.com") == "cloudwatch"
    assert iam_prefix("streams.dynamodb.amazonaws.com") == "dynamodb"
    assert iam_prefix("ec2.amazonaws.com") == "ec2"


def _r(source, name, params, resources=None):
    r = {
        "eventSource": source,
        "eventName": name,
        "requestParameters": params,
        "recipientAccountId": A,
        "awsRegion": "eu-west-1",
    }
    if resources is not None:
        r["resources"] = resources
    return r


@pytest.mark.parametrize(
    "record, action, resource",
    [
        (
            _r("s3.amazonaws.com", "GetObject", {"bucketName": "b", "key": "k/1.json"}),
            "s3:GetObject",
            "arn:aws:s3:::b/k/1.json",
        ),
        (_r("s3.amazonaws.com", "ListObjects", {"bucketName": "b"}), "s3:ListBucket", "arn:aws:s3:::b"),
        (
            _r("ssm.amazonaws.com", "GetParameter", {"name": "/app/db"}),
            "ssm:GetParameter",
            f"arn:aws:ssm:eu-west-1:{A}:parameter/app/db",
        ),
        (
            _r("secretsmanager.amazonaws.com", "GetSecretValue", {"secretId": "app/db"}),
            "secretsmanager:GetSecretValue",
            f"arn:aws:secretsmanager:eu-west-1:{A}:secret:app/db-??????",
        ),
        (
            _r(
                "secretsmanager.amazonaws.com",
                "GetSecretValue",
                {"secretId": f"arn:aws:secretsmanager:eu-west-1:{A}:secret:app/db-AbC123"},
            ),
            "secretsmanager:GetSecretValue",
            f"arn:aws:secretsmanager:eu-west-1:{A}:secret:app/db-AbC123",
        ),
        (
            _r(
                "sts.amazonaws.com",
                "AssumeRole",
                {"roleArn": f"arn:aws:iam::{A}:role/x/deploy", "roleSessionName": "s"},
            ),
            "sts:AssumeRole",
            f"arn:aws:iam::{A}:role/x/deploy",
        ),
        (
            _r(
                "kms.amazonaws.com",
                "Decrypt",
                {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
                [
                    {
                        "ARN": f"arn:aws:kms:eu-west-1:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                        "type": "AWS::KMS::Key",
                    }
                ],
            ),
            "kms:Decrypt",
            f"arn:aws:kms:eu-west-1:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ),
        (
            _r("logs.amazonaws.com", "CreateLogStream", {"logGroupName": "/aws/app", "logStreamName": "s1"}),
            "logs:CreateLogStream",
            f"arn:aws:logs:eu-west-1:{A}:log-group:/aws/app:log-stream:s1",
        ),
        (
            _r(
                "lambda.amazonaws.com",
                "GetFunction20150331v2",
                {"functionName": f"arn:aws:lambda:eu-west-1:{A}:function:f"},
            ),
            "lambda:GetFunction",
            f"arn:aws:lambda:eu-west-1:{A}:function:f",
        ),
        (
            _r("dynamodb.amazonaws.com", "GetItem", {"tableName": "orders"}),
            "dynamodb:GetItem",
            f"arn:aws:dynamodb:eu-west-1:{A}:table/orders",
        ),
        (
            _r("apigateway.amazonaws.com", "GetResources", {"restApiId": "abc123"}),
            "apigateway:GET",
            "arn:aws:apigateway:eu-west-1::/restapis/abc123/*",
        ),
    ],
)
def test_resources_come_from_the_record(record, action, resource):
    needs, why = authorizations(record)
    assert why == ""
    assert (needs[0].action, needs[0].resource) == (action, resource)
    assert needs[0].known


def test_star_only_where_the_action_has_no_resource_type_or_the_arn_cannot_be_known():
    needs, _ = authorizations(_r("ec2.amazonaws.com", "DescribeInstances", {"instancesSet": {}}))
    assert needs[0].resource == "*" and "no resource type" in needs[0].note
    needs, _ = authorizations(_r("secretsmanager.amazonaws.com", "GetSecretValue", None))
    assert needs[0].resource == "*" and "no request parameters" in needs[0].note
    needs, _ = authorizations(_r("dynamodb.amazonaws.com", "GetItem", {"key": {}}))
    assert needs[0].resource == "*" and "names no table" in needs[0].note


def test_companions_pass_role_and_kms():
    role = f"arn:aws:iam::{A}:role/fn-exec"
    needs, _ = authorizations(_r("lambda.amazonaws.com", "CreateFunction20150331", {"functionName": "f", "role": role}))
    assert [(n.action, n.resource, n.companion_of) for n in needs] == [
        ("lambda:CreateFunction", f"arn:aws:lambda:eu-west-1:{A}:function:f", ""),
        ("iam:PassRole", role, "lambda:CreateFunction"),
    ]
    key = "1234abcd-12ab-34cd-56ef-1234567890ab"
    needs, _ = authorizations(_r("ec2.amazonaws.com", "CreateVolume", {"encrypted": True, "kmsKeyId": key}))
    assert ("kms:CreateGrant", f"arn:aws:kms:eu-west-1:{A}:key/{key}") in [(n.action, n.resource) for n in needs]
    needs, _ = authorizations(
        _r(
            "s3.amazonaws.com",
            "PutObject",
            {
                "bucketName": "b",
                "key": "k",
                "x-amz-server-side-encryption-aws-kms-key-id": "x",
                "sSEKMSKeyId": f"arn:aws:kms:eu-west-1:{A}:key/{key}",
            },
        )
    )
    assert ("kms:GenerateDataKey", f"arn:aws:kms:eu-west-1:{A}:key/{key}") in [(n.action, n.resource) for n in needs]
    needs, _ = authorizations(_r("ec2.amazonaws.com", "RunInstances", {"iamInstanceProfile": {"name": "web"}}))
    passrole = [n for n in needs if n.action == "iam:PassRole"]
    assert passrole and passrole[0].resource == "*" and "instance profile web" in passrole[0].note


def test_assume_role_is_not_a_pass_role():
    needs, _ = authorizations(_r("sts.amazonaws.com", "AssumeRole", {"roleArn": f"arn:aws:iam::{A}:role/r"}))
    assert [n.action for n in needs] == ["sts:AssumeRole"]


def test_unknown_and_free_calls_say_why():
    assert authorizations(_r("sts.amazonaws.com", "GetCallerIdentity", None)) == (
        [],
        "no permission needed (any authenticated caller may make this call)",
    )
    needs, why = authorizations(_r("nothing.amazonaws.com", "DoIt", {}))
    assert needs == [] and "no IAM action in the catalogue" in why


def test_hostile_request_fields_do_not_break_mapping():
    weird = {"bucketName": "b" * 5000, "key": "\u202e" + "x" * 10000, "nested": {"a": [1] * 1000}}
    needs, _ = authorizations(_r("s3.amazonaws.com", "GetObject", weird))
    assert needs[0].resource.startswith("arn:aws:s3:::bbbb")
    needs, _ = authorizations(_r("s3.amazonaws.com", "GetObject", ["not", "a", "dict"]))
    assert needs[0].resource == "*"
