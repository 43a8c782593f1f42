"""IAM clients per account for remediation: the caller's own account directly, others through the
organization's access role (``IAMKIT_REMEDIATION_ROLE``, default OrganizationAccountAccessRole)."""

from __future__ import annotations

import functools
import os


def iam_client_for(account_id: str):
    """An IAM client in ``account_id`` (see ``session_for``)."""
    return session_for(account_id).client("iam")


def session_for(account_id: str):
    """A boto3 Session in ``account_id``: the caller's own, or through the organization access role."""
    env = os.environ
    return _session_for(account_id, env.get("AWS_ENDPOINT_URL", ""), env.get("AWS_ACCESS_KEY_ID", ""),
                        env.get("AWS_PROFILE", ""))


@functools.lru_cache(maxsize=64)
def _session_for(account_id: str, endpoint: str, key: str, profile: str):
    import boto3

    sts = boto3.client("sts")
    if not account_id or account_id == sts.get_caller_identity()["Account"]:
        return boto3.Session()
    role = os.environ.get("IAMKIT_REMEDIATION_ROLE", "OrganizationAccountAccessRole")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{role}",
                            RoleSessionName="iamkit-investigation")["Credentials"]
    return boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"])
