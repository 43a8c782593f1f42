"""IAM of one account for an investigation: authorization details + credential report, as frames."""

from __future__ import annotations

from typing import Any

from iamkit import frames
from iamkit.aws import fanout
from iamkit.aws.calls import ErrorLog, Scope
from iamkit.aws.collectors import credential_report, iam, merge
from iamkit.aws.session import as_context


def collect_account(session: Any, account_id: str) -> dict[str, Any]:
    """Frames ``principals, policies, statements, trusts, credentials, errors`` for ``account_id``, read
    through ``session`` (an ``AwsContext`` or a boto3 session) with the inventory's collectors, their
    follow-up tasks run as the inventory runs them (``fanout.run``); failures are rows of ``errors``."""
    ctx = as_context(session, account_id=account_id)
    log = ErrorLog()
    tasks = [
        fanout.Task("iam", account_id, ctx.region, lambda: iam.collect(Scope(ctx, log))),
        fanout.Task(
            "credentials",
            account_id,
            ctx.region,
            lambda: credential_report.collect(Scope(ctx, log), with_service_last_accessed=False),
        ),
    ]
    rows: dict[str, list[dict[str, Any]]] = {}
    for result in fanout.run(tasks, log=log, max_workers=4):
        merge(rows, result)
    iam.apply_role_limits(rows)
    credential_report.add_missing_root_rows(rows)
    out = {name: frames.conform(r, name) for name, r in rows.items() if name in frames.SCHEMAS}
    for name in ("principals", "policies", "statements", "trusts", "credentials"):
        out.setdefault(name, frames.empty(name))
    out["errors"] = frames.conform(log.rows, "errors") if log.rows else frames.empty("errors")
    return out
