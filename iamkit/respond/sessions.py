"""Where remediation calls go: AWS per account (the caller's own account directly, others through the
organization's access role, ``IAMKIT_REMEDIATION_ROLE``, default OrganizationAccountAccessRole) and Microsoft
Graph for Entra actions. Contexts come from ``iamkit.aws.session`` (its retries, time limits and hooks), one per
account and environment."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from iamkit.arn import parse, role_arn
from iamkit.aws.session import connect
from iamkit.entra import connect as entra_connect
from iamkit.errors import RemediationError

SESSION_NAME = "iamkit-investigation"


def iam_client_for(account_id: str) -> Any:
    """An IAM client in ``account_id`` (see ``context_for``)."""
    return context_for(account_id).client("iam")


def context_for(account_id: str) -> Any:
    """An ``AwsContext`` in ``account_id``: the caller's own, or through the organization access role."""
    env = os.environ
    return _context_for(
        account_id, env.get("AWS_ENDPOINT_URL", ""), env.get("AWS_ACCESS_KEY_ID", ""), env.get("AWS_PROFILE", "")
    )


@functools.lru_cache(maxsize=64)
def _context_for(account_id: str, endpoint: str, key: str, profile: str) -> Any:
    ctx = connect(profile or None)  # GetCallerIdentity: the caller's account and ARN
    if not account_id or account_id == ctx.account_id:
        return ctx
    role = os.environ.get("IAMKIT_REMEDIATION_ROLE", "OrganizationAccountAccessRole")
    caller = parse(ctx.arn)
    return ctx.assume(
        role_arn(account_id, role, partition=caller.partition if caller else "aws"), session_name=SESSION_NAME
    )


class Clients:
    """The clients actions use: ``aws(account_id, service)`` for IAM and Identity Center, ``graph()`` for Entra.

    ``iam`` (a function of the account id) is the older, IAM-only form and still accepted."""

    def __init__(
        self, aws: Callable[[str, str], Any] | None = None, graph: Any = None, iam: Callable[[str], Any] | None = None
    ):
        self._aws, self._graph, self._iam = aws, graph, iam

    def client(self, account_id: str, service: str) -> Any:
        if service == "iam" and self._iam is not None:
            return self._iam(account_id)
        if self._aws is None:
            raise RemediationError(f"no {service} client was given for account {account_id}")
        return self._aws(account_id, service)

    def graph(self) -> Any:
        if self._graph is None:
            raise RemediationError("no Microsoft Graph connection (set IAMKIT_ENTRA_* for Entra actions)")
        if callable(self._graph) and not hasattr(self._graph, "request"):
            self._graph = self._graph()
        return self._graph

    def for_action(self, action: Any) -> Any:
        """The client ``action``'s kind calls: IAM or Identity Center in its account, or Graph."""
        from iamkit.respond.actions import REGISTRY

        service = REGISTRY[action.kind].service
        return self.graph() if service == "graph" else self.client(action.account_id, service)


def _graph() -> Any:
    return entra_connect()


def default_clients() -> Clients:
    """AWS through ``context_for`` (the environment's credentials) and Graph through ``iamkit.entra.connect``."""
    return Clients(aws=lambda account, service: context_for(account).client(service), graph=_graph)


def as_clients(value: Any) -> Clients:
    """``value`` as ``Clients``: a ``Clients`` as it is, a function of the account id as the IAM client."""
    if isinstance(value, Clients):
        return value
    if callable(value):
        return Clients(iam=value)
    raise RemediationError("remediation needs Clients or an IAM client function")


def caller_arn() -> str | None:
    """The ARN GetCallerIdentity returns for the environment's credentials (None when it cannot be read)."""
    try:
        return context_for("").arn or None
    except Exception:  # the approver falls back to --approver or $USER
        return None
