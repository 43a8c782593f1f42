"""AWS access per account for remediation and the owner's IAM: the caller's own account directly, others
through the organization's access role (``IAMKIT_REMEDIATION_ROLE``, default OrganizationAccountAccessRole).
Contexts come from ``iamkit.aws.session`` (its retries, time limits and hooks), one per account and
environment."""

from __future__ import annotations

import functools
import os
from typing import Any

from iamkit.arn import parse, role_arn
from iamkit.aws.session import connect

SESSION_NAME = "iamkit-investigation"


def iam_client_for(account_id: str) -> Any:
    """An IAM client in ``account_id`` (see ``context_for``)."""
    return context_for(account_id).client("iam")


def context_for(account_id: str) -> Any:
    """An ``AwsContext`` in ``account_id``: the caller's own, or through the organization access role."""
    env = os.environ
    return _context_for(account_id, env.get("AWS_ENDPOINT_URL", ""), env.get("AWS_ACCESS_KEY_ID", ""),
                        env.get("AWS_PROFILE", ""))


@functools.lru_cache(maxsize=64)
def _context_for(account_id: str, endpoint: str, key: str, profile: str) -> Any:
    ctx = connect(profile or None)  # GetCallerIdentity: the caller's account and ARN
    if not account_id or account_id == ctx.account_id:
        return ctx
    role = os.environ.get("IAMKIT_REMEDIATION_ROLE", "OrganizationAccountAccessRole")
    caller = parse(ctx.arn)
    return ctx.assume(role_arn(account_id, role, partition=caller.partition if caller else "aws"),
                      session_name=SESSION_NAME)
