"""Helpers shared by the policy tests (imported as ``policytest``; conftest puts this folder on sys.path)."""

from __future__ import annotations

import signal
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import settings

from iamkit.frames import conform


def examples(n: int) -> int:
    """A property test's example budget: ``n`` under the ``ci`` profile, the profile's own when larger (``fuzz``).

    Read when the test module is imported, after the profile is loaded (tests/conftest.py, --hypothesis-profile).
    """
    return max(n, settings.default.max_examples)


@contextmanager
def hang_guard(seconds: int = 20) -> Iterator[None]:
    """Fail (TimeoutError) instead of hanging when the body runs longer than ``seconds``: a guard for tests of
    inputs that used to take minutes, not a timing assertion. A no-op where SIGALRM is unavailable (Windows,
    a thread other than the main one)."""
    if not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(_signum, _frame):
        raise TimeoutError(f"still running after {seconds} s: matching is not bounded")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


ACCT_A = "111122223333"
ACCT_B = "444455556666"
MGMT = "999988887777"

ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
S3_READ = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Read",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": ["arn:aws:s3:::data", "arn:aws:s3:::data/*"],
        }
    ],
}
DENY_SECRETS = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "NoSecrets", "Effect": "Deny", "Action": "secretsmanager:*", "Resource": "*"}],
}
BOUNDARY_S3 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
SCP_DENY_IAM = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*"}]}


def make_inventory(n_extra_users: int = 0) -> types.SimpleNamespace:
    """An organization of two member accounts and a management account with a few principals."""
    principals = [
        {
            "account_id": ACCT_A,
            "principal_type": "user",
            "name": "alice",
            "arn": f"arn:aws:iam::{ACCT_A}:user/alice",
            "principal_id": "AIDAALICE",
            "groups": ["readers"],
            "tags": {"team": "data"},
        },
        {
            "account_id": ACCT_A,
            "principal_type": "user",
            "name": "admin",
            "arn": f"arn:aws:iam::{ACCT_A}:user/admin",
            "principal_id": "AIDAADMIN",
            "groups": [],
        },
        {
            "account_id": ACCT_A,
            "principal_type": "role",
            "name": "app",
            "arn": f"arn:aws:iam::{ACCT_A}:role/svc/app",
            "principal_id": "AROAAPP",
            "permissions_boundary_arn": f"arn:aws:iam::{ACCT_A}:policy/s3-only",
        },
        {
            "account_id": ACCT_A,
            "principal_type": "group",
            "name": "readers",
            "arn": f"arn:aws:iam::{ACCT_A}:group/readers",
        },
        {
            "account_id": ACCT_B,
            "principal_type": "role",
            "name": "auditor",
            "arn": f"arn:aws:iam::{ACCT_B}:role/auditor",
            "principal_id": "AROAAUD",
        },
        {"account_id": ACCT_B, "principal_type": "user", "name": "nobody", "arn": f"arn:aws:iam::{ACCT_B}:user/nobody"},
        {
            "account_id": MGMT,
            "principal_type": "user",
            "name": "root-admin",
            "arn": f"arn:aws:iam::{MGMT}:user/root-admin",
        },
    ]
    policies = [
        {
            "account_id": ACCT_A,
            "policy_arn": f"arn:aws:iam::{ACCT_A}:policy/s3-read",
            "policy_name": "s3-read",
            "policy_type": "managed",
            "attached_to_arn": f"arn:aws:iam::{ACCT_A}:group/readers",
            "attached_to_type": "group",
            "is_default": True,
            "document": S3_READ,
        },
        {
            "account_id": ACCT_A,
            "policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess",
            "policy_name": "AdministratorAccess",
            "policy_type": "aws_managed",
            "attached_to_arn": f"arn:aws:iam::{ACCT_A}:user/admin",
            "attached_to_type": "user",
            "is_default": True,
            "document": ALLOW_ALL,
            "aws_managed": True,
        },
        {
            "account_id": ACCT_A,
            "policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess",
            "policy_name": "AdministratorAccess",
            "policy_type": "aws_managed",
            "attached_to_arn": f"arn:aws:iam::{ACCT_A}:role/svc/app",
            "attached_to_type": "role",
            "is_default": True,
            "document": ALLOW_ALL,
            "aws_managed": True,
        },
        {
            "account_id": ACCT_A,
            "policy_arn": None,
            "policy_name": "no-secrets",
            "policy_type": "inline",
            "attached_to_arn": f"arn:aws:iam::{ACCT_A}:user/admin",
            "attached_to_type": "user",
            "is_default": True,
            "document": DENY_SECRETS,
        },
        {
            "account_id": ACCT_A,
            "policy_arn": f"arn:aws:iam::{ACCT_A}:policy/s3-only",
            "policy_name": "s3-only",
            "policy_type": "managed",
            "attached_to_arn": None,
            "is_default": True,
            "document": BOUNDARY_S3,
        },
        {
            "account_id": ACCT_B,
            "policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "policy_name": "ReadOnly",
            "policy_type": "aws_managed",
            "attached_to_arn": f"arn:aws:iam::{ACCT_B}:role/auditor",
            "attached_to_type": "role",
            "is_default": True,
            "document": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": "*"}],
            },
        },
        {
            "account_id": MGMT,
            "policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess",
            "policy_name": "AdministratorAccess",
            "policy_type": "aws_managed",
            "attached_to_arn": f"arn:aws:iam::{MGMT}:user/root-admin",
            "attached_to_type": "user",
            "is_default": True,
            "document": ALLOW_ALL,
            "aws_managed": True,
        },
        # organization policies
        {
            "account_id": MGMT,
            "policy_arn": "p-FullAWSAccess",
            "policy_name": "FullAWSAccess",
            "policy_type": "scp",
            "attached_to_arn": "r-root",
            "attached_to_type": "root",
            "is_default": True,
            "document": ALLOW_ALL,
        },
        {
            "account_id": MGMT,
            "policy_arn": "p-FullAWSAccess",
            "policy_name": "FullAWSAccess",
            "policy_type": "scp",
            "attached_to_arn": "ou-prod",
            "attached_to_type": "ou",
            "is_default": True,
            "document": ALLOW_ALL,
        },
        {
            "account_id": MGMT,
            "policy_arn": "p-deny-iam",
            "policy_name": "deny-iam",
            "policy_type": "scp",
            "attached_to_arn": "ou-prod",
            "attached_to_type": "ou",
            "is_default": True,
            "document": SCP_DENY_IAM,
        },
        {
            "account_id": MGMT,
            "policy_arn": "p-FullAWSAccess",
            "policy_name": "FullAWSAccess",
            "policy_type": "scp",
            "attached_to_arn": ACCT_A,
            "attached_to_type": "account",
            "is_default": True,
            "document": ALLOW_ALL,
        },
        {
            "account_id": MGMT,
            "policy_arn": "p-FullAWSAccess",
            "policy_name": "FullAWSAccess",
            "policy_type": "scp",
            "attached_to_arn": ACCT_B,
            "attached_to_type": "account",
            "is_default": True,
            "document": ALLOW_ALL,
        },
        {
            "account_id": MGMT,
            "policy_arn": "p-FullAWSAccess",
            "policy_name": "FullAWSAccess",
            "policy_type": "scp",
            "attached_to_arn": MGMT,
            "attached_to_type": "account",
            "is_default": True,
            "document": ALLOW_ALL,
        },
        {
            "account_id": MGMT,
            "policy_arn": "p-rcp-s3",
            "policy_name": "rcp-s3",
            "policy_type": "rcp",
            "attached_to_arn": "r-root",
            "attached_to_type": "root",
            "is_default": True,
            "document": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": "*",
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            },
        },
    ]
    for i in range(n_extra_users):
        acct = ACCT_A if i % 2 else ACCT_B
        arn = f"arn:aws:iam::{acct}:user/u{i}"
        principals.append({"account_id": acct, "principal_type": "user", "name": f"u{i}", "arn": arn, "groups": []})
        doc = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": [f"ec2:Describe{i % 7}*", "logs:Get*"], "Resource": "*"},
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::bucket{i % 50}/*"},
            ],
        }
        policies.append(
            {
                "account_id": acct,
                "policy_arn": None,
                "policy_name": f"p{i}",
                "policy_type": "inline",
                "attached_to_arn": arn,
                "attached_to_type": "user",
                "is_default": True,
                "document": doc,
            }
        )
    resource_policies = [
        {
            "account_id": ACCT_A,
            "region": "us-east-1",
            "service": "s3",
            "resource_type": "bucket",
            "resource_arn": "arn:aws:s3:::data",
            "policy": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{ACCT_B}:role/auditor"},
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::data/*",
                    }
                ],
            },
        },
        {
            "account_id": ACCT_A,
            "region": "us-east-1",
            "service": "secretsmanager",
            "resource_type": "secret",
            "resource_arn": f"arn:aws:secretsmanager:us-east-1:{ACCT_A}:secret:db",
            "policy": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{ACCT_B}:user/nobody"},
                        "Action": "secretsmanager:GetSecretValue",
                        "Resource": "*",
                    }
                ],
            },
        },
    ]
    trusts = [
        {
            "account_id": ACCT_A,
            "role_arn": f"arn:aws:iam::{ACCT_A}:role/svc/app",
            "sid": "",
            "effect": "Allow",
            "principal_type": "AWS",
            "principal": f"arn:aws:iam::{ACCT_B}:root",
            "principal_account_id": ACCT_B,
            "actions": ["sts:AssumeRole"],
            "conditions": None,
        },
        {
            "account_id": ACCT_A,
            "role_arn": f"arn:aws:iam::{ACCT_A}:role/svc/app",
            "sid": "",
            "effect": "Allow",
            "principal_type": "Service",
            "principal": "ec2.amazonaws.com",
            "principal_account_id": None,
            "actions": ["sts:AssumeRole"],
            "conditions": None,
        },
    ]
    accounts = [
        {
            "account_id": ACCT_A,
            "name": "prod",
            "ou_id": "ou-prod",
            "ou_path": "Root/Prod",
            "org_id": "o-test",
            "is_management": False,
        },
        {
            "account_id": ACCT_B,
            "name": "audit",
            "ou_id": "r-root",
            "ou_path": ["r-root"],
            "org_id": "o-test",
            "is_management": False,
        },
        {
            "account_id": MGMT,
            "name": "mgmt",
            "ou_id": "r-root",
            "ou_path": "r-root",
            "org_id": "o-test",
            "is_management": True,
        },
    ]
    posture = [
        {"account_id": MGMT, "control": "organizations.ou", "detail": {"id": "r-root", "path": "Root"}},
        {"account_id": MGMT, "control": "organizations.ou", "detail": {"id": "ou-prod", "path": "Root/Prod"}},
    ]
    return types.SimpleNamespace(
        principals=conform(principals, "principals"),
        policies=conform(policies, "policies"),
        resource_policies=conform(resource_policies, "resource_policies"),
        trusts=conform(trusts, "trusts"),
        accounts=conform(accounts, "accounts"),
        posture=conform(posture, "posture"),
        statements=conform([], "statements"),
    )


# ---- request / policy helpers for the evaluation tests ----
USER = f"arn:aws:iam::{ACCT_A}:user/alice"
ROLE = f"arn:aws:iam::{ACCT_A}:role/app"
SESSION = f"arn:aws:sts::{ACCT_A}:assumed-role/app/s1"
OTHER_USER = f"arn:aws:iam::{ACCT_B}:user/bob"
OTHER_ROLE = f"arn:aws:iam::{ACCT_B}:role/ext"
OTHER_SESSION = f"arn:aws:sts::{ACCT_B}:assumed-role/ext/s2"
BUCKET = "arn:aws:s3:::bucket"
OBJECT = "arn:aws:s3:::bucket/key"
NOW = "2026-01-15T12:00:00Z"


def req(principal, action="s3:GetObject", resource=OBJECT, **kw):
    """A request dict with a fixed clock (no real time in tests)."""
    out = {"principal": principal, "action": action, "resource": resource, "time": NOW}
    out.update(kw)
    return out


def stmt(effect="Allow", action="s3:GetObject", resource="*", **extra):
    """One statement; extra keys (Principal, Condition, NotAction…) are added as given."""
    s = {"Effect": effect}
    if "NotAction" not in extra and action is not None:
        s["Action"] = action
    if "NotResource" not in extra and resource is not None:
        s["Resource"] = resource
    s.update(extra)
    return s


def doc(*statements):
    """A policy document of the statements."""
    return {"Version": "2012-10-17", "Statement": list(statements)}


ALLOW = doc(stmt())
DENY = doc(stmt("Deny"))
