"""Organization fan-out: list the accounts, assume a role in each, run tasks on a bounded thread pool.

Every failure (AssumeRole denied, suspended account, a task that raised) becomes an ``errors`` row in
the shared ``ErrorLog``; the other accounts go on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass
from typing import Any

from iamkit.arn import parse, role_arn
from iamkit.aws.calls import ErrorLog, Scope
from iamkit.aws.collectors import More
from iamkit.aws.session import AwsContext

DEFAULT_ROLE = "OrganizationAccountAccessRole"
Progress = Callable[[str, int, int], None]  # (label of what finished, done, total)


@dataclass
class Task:
    """One unit of work: ``fn()`` returns rows per frame."""

    label: str
    account_id: str
    region: str | None
    fn: Callable[[], Any]


def org_accounts(ctx: AwsContext, log: ErrorLog) -> list[dict[str, Any]]:
    """Accounts of the organization (ListAccounts from the management or a delegated-admin account)."""
    return Scope(ctx, log).pages("organizations", "ListAccounts", "Accounts") or []


def assume_each(
    ctx: AwsContext,
    accounts: Sequence[dict[str, Any] | str],
    *,
    role_name: str = DEFAULT_ROLE,
    external_id: str | None = None,
    session_name: str | None = None,
    log: ErrorLog,
    max_workers: int = 16,
    progress: Progress | None = None,
) -> dict[str, AwsContext]:
    """A context per reachable account: the caller's own account as is, the others through
    ``role_name``. Suspended accounts and failed AssumeRole calls become error rows."""
    import botocore.exceptions as bx

    wanted: list[str] = []
    for a in accounts:
        acct = a if isinstance(a, str) else a["Id"]
        status = "ACTIVE" if isinstance(a, str) else (a.get("Status") or a.get("State") or "ACTIVE")
        if status.upper() not in ("ACTIVE",):
            log.add(acct, None, "sts:AssumeRole", "AccountNotActive", f"account {acct} is {status}; not collected")
            continue
        wanted.append(acct)
    caller = parse(ctx.arn)
    partition = caller.partition if caller is not None else "aws"

    def one(acct: str) -> AwsContext | None:
        if acct == ctx.account_id:
            return ctx
        arn = role_arn(acct, role_name, partition=partition)
        try:
            return ctx.assume(arn, external_id=external_id, session_name=session_name)
        except bx.ClientError as e:
            err = e.response.get("Error", {})
            log.add(
                acct,
                None,
                "sts:AssumeRole",
                str(err.get("Code")),
                f"cannot assume {arn}: {err.get('Message', '')}"[:500],
            )
        except bx.BotoCoreError as e:
            log.add(acct, None, "sts:AssumeRole", type(e).__name__, f"cannot assume {arn}: {e}"[:500])
        return None

    out: dict[str, AwsContext] = {}
    with ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="iamkit-assume") as pool:
        futures = {pool.submit(one, acct): acct for acct in wanted}
        for i, fut in enumerate(as_completed(futures), 1):
            acct = futures[fut]
            sub = fut.result()
            if sub is not None:
                out[acct] = sub
            if progress:
                progress(f"assume {acct}", i, len(futures))
    return {acct: out[acct] for acct in wanted if acct in out}


def run(tasks: Sequence[Task], *, log: ErrorLog, max_workers: int = 16, progress: Progress | None = None) -> list[Any]:
    """Run ``tasks`` on one bounded pool (``max_workers=1``: serially, in order) and return their rows.

    A task may return ``More(rows, follow_ups)``: the follow-ups join the same pool (the bound holds).
    A task that raises becomes an error row (code = exception type); the others go on.
    """
    results: list[Any] = []
    total = len(tasks)
    done = 0

    def guarded(t: Task) -> tuple[Task, Any]:
        try:
            return t, t.fn()
        except Exception as e:  # a collector bug must not stop the other accounts
            log.add(t.account_id, t.region, t.label, type(e).__name__, str(e)[:500])
            return t, None

    def settle(t: Task, result: Any) -> list[Task]:
        nonlocal total, done
        done += 1
        children: list[Task] = []
        if isinstance(result, More):
            children = [Task(label, t.account_id, t.region, fn) for label, fn in result.tasks]
            result = result.rows
            total += len(children)
        if result:
            results.append(result)
        if progress:
            progress(t.label, done, total)
        return children

    if max_workers <= 1:
        queue = list(tasks)
        while queue:
            task = queue.pop(0)
            queue[0:0] = settle(*guarded(task))
        return results
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="iamkit-collect") as pool:
        pending = {pool.submit(guarded, t) for t in tasks}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                for child in settle(*fut.result()):
                    pending.add(pool.submit(guarded, child))
    return results
