"""Injected faults during a live collection: each is listed (or recovered), the rest completes."""

from __future__ import annotations

import json

import pytest

from iamkit.aws.faults import Fault, FaultInjector
from iamkit.inventory import collect


@pytest.fixture
def env(mini_org, aws_env):
    aws_env(mini_org)
    return mini_org


def errors_of(inv, code=None):
    err = inv.errors
    err = err[err["code"] != "NotSupportedByEndpoint"]
    return err if code is None else err[err["code"] == code]


def test_throttling_recovers_without_real_sleep(env, virtual_clock):
    member = env.members[0]
    inj = FaultInjector([Fault("throttle", "iam:GetAccountAuthorizationDetails", account_id=member, times=2)])
    inv = collect(accounts=[member], hooks=[inj], service_last_accessed=False)
    assert sum(n for (kind, _, _), n in inj.fired.items() if kind == "throttle") == 2
    assert errors_of(inv).empty
    assert set(env.roles[member]) <= set(inv.principals["arn"])
    assert len(virtual_clock.slept) >= 2  # botocore backed off twice, on the virtual clock


def test_throttling_beyond_max_attempts_is_listed(env, virtual_clock):
    member = env.members[0]
    inj = FaultInjector([Fault("throttle", "kms:ListKeys", account_id=member)])
    inv = collect(accounts=[member], hooks=[inj], service_last_accessed=False)
    [row] = errors_of(inv).to_dict("records")
    assert (row["account_id"], row["operation"], row["code"]) == (member, "kms:ListKeys", "ThrottlingException")
    # botocore's retries.max_attempts counts retries: 1 call + 6 retries, then given up
    assert inj.fired[("throttle", "kms:ListKeys", member)] == 7


def test_persistent_5xx_listed_and_run_goes_on(env, virtual_clock):
    broken, fine = env.members
    inj = FaultInjector([Fault("5xx", "secretsmanager:ListSecrets", account_id=broken)])
    inv = collect(org=True, hooks=[inj], service_last_accessed=False)
    [row] = errors_of(inv).to_dict("records")
    assert (row["account_id"], row["operation"]) == (broken, "secretsmanager:ListSecrets")
    assert row["code"] == "ServiceUnavailableException"
    rp = inv.resource_policies
    assert set(rp.loc[rp["account_id"] == broken, "service"]) == {"s3", "kms", "sqs", "sns", "ecr"}
    assert "secretsmanager" in set(rp.loc[rp["account_id"] == fine, "service"])


def test_access_denied_on_assume_role_and_on_one_call(env, virtual_clock):
    denied_acct, partial_acct = env.members
    inj = FaultInjector(
        [
            Fault("denied", "sts:AssumeRole", match=denied_acct),
            Fault("denied", "s3:GetBucketPolicy", account_id=partial_acct),
        ]
    )
    inv = collect(org=True, hooks=[inj], service_last_accessed=False)
    rows = errors_of(inv).sort_values("operation").to_dict("records")
    assert [(r["account_id"], r["operation"], r["code"]) for r in rows] == [
        (partial_acct, "s3:GetBucketPolicy", "AccessDenied"),
        (denied_acct, "sts:AssumeRole", "AccessDenied"),
    ]
    assert f"arn:aws:iam::{denied_acct}:role/OrganizationAccountAccessRole" in rows[1]["message"]
    assert denied_acct not in set(inv.principals["account_id"])
    assert set(env.roles[partial_acct]) <= set(inv.principals["arn"])
    rp = inv.resource_policies.set_index("resource_arn")
    bucket = rp.loc[f"arn:aws:s3:::iamkit-inv-{partial_acct}"]
    assert bucket["policy"] is None and bucket["extra"]["acl_grants"]  # the rest of the bucket was read
    assert inv.meta["accounts_collected"] == 2 and inv.meta["accounts_requested"] == 3


def test_expired_credentials_mid_run_name_the_account(env, virtual_clock):
    expired, fine = env.members
    inj = FaultInjector([Fault("expired", "iam:ListUsers", account_id=expired)])
    inv = collect(org=True, hooks=[inj], service_last_accessed=False)
    rows = errors_of(inv).to_dict("records")
    assert [(r["account_id"], r["code"]) for r in rows] == [(expired, "ExpiredToken")]
    assert f"credentials for account {expired} expired" in rows[0]["message"]
    assert set(env.roles[fine]) <= set(inv.principals["arn"])


def test_malformed_live_policy_kept_and_listed(env, moto_url, helpers, scratch_account, virtual_clock):
    acct = scratch_account
    fine = helpers.account_client(moto_url, acct, "sqs").create_queue(QueueName="jobs")["QueueUrl"]
    helpers.account_client(moto_url, acct, "sqs").set_queue_attributes(
        QueueUrl=fine,
        Attributes={
            "Policy": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*"}],
                }
            )
        },
    )
    sm = helpers.account_client(moto_url, acct, "secretsmanager")
    arn = sm.create_secret(Name="broken", SecretString="x")["ARN"]
    sm.put_resource_policy(SecretId=arn, ResourcePolicy='{"Version": "2012-10-17", "Statement": [')
    inv = collect(accounts=[acct], service_last_accessed=False)
    rp = inv.resource_policies.set_index("resource_arn")
    assert rp.loc[arn, "policy"] == '{"Version": "2012-10-17", "Statement": ['
    [row] = errors_of(inv).to_dict("records")
    assert row["code"] == "MalformedPolicyDocument" and arn in row["message"]
    assert rp.loc[f"arn:aws:sqs:us-east-1:{acct}:jobs", "policy"]["Statement"][0]["Action"] == "sqs:SendMessage"


def test_fault_rules_validate_kind():
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("explode")


@pytest.mark.parametrize(
    "service, op, pattern, hit",
    [
        ("iam", "ListUsers", "iam:ListUsers", True),
        ("iam", "ListUsers", "ListUsers", True),
        ("iam", "ListUsers", "iam:List*", True),
        ("iam", "ListUsers", "sts:*", False),
        ("s3-control", "GetPublicAccessBlock", "s3-control:*", True),
    ],
)
def test_fault_matching(service, op, pattern, hit):
    assert Fault("5xx", pattern).matches(service, op, "111111111111") is hit


def test_latency_uses_injected_sleep(env):
    slept = []
    inj = FaultInjector([Fault("latency", "*", seconds=0.05)], sleep=slept.append)
    inv = collect(accounts=[env.members[0]], hooks=[inj], service_last_accessed=False)
    assert errors_of(inv).empty
    assert len(slept) == sum(inj.fired.values()) > 20 and set(slept) == {0.05}


def test_suspended_account_listed_not_assumed(env):
    from iamkit.aws import connect, fanout
    from iamkit.aws.calls import ErrorLog

    log = ErrorLog()
    ctx = connect()
    got = fanout.assume_each(ctx, [{"Id": env.members[0], "Status": "SUSPENDED"}, env.members[1]], log=log)
    assert list(got) == [env.members[1]] and got[env.members[1]].whoami().account_id == env.members[1]
    [row] = log.rows
    assert (row["account_id"], row["code"]) == (env.members[0], "AccountNotActive")
    assert "SUSPENDED" in row["message"]


def test_collections_are_reproducible(env):
    a = collect(org=True, service_last_accessed=False)
    b = collect(org=True, service_last_accessed=False)
    for name in ("principals", "policies", "statements", "trusts", "resource_policies", "identity_center"):
        # last use moves between runs (collecting assumes OrganizationAccountAccessRole): not compared
        left, right = (getattr(x, name).drop(columns=["last_used"], errors="ignore") for x in (a, b))
        assert left.astype(str).equals(right.astype(str)), name
