"""Who approved a plan, when and from where, and the optional two-person rule for destructive steps.

The approver is the IAM caller (GetCallerIdentity's ARN) unless the operator names one (``--approver NAME``,
a claim iamkit cannot check: say so in your process); where is the host, the terminal and, over SSH, the
client's address. With two-person approval on (``--two-person`` or ``IAMKIT_TWO_PERSON_APPROVAL=1``), a plan
with destructive steps applies only when an earlier approval of the same plan hash (``iamkit remediate
approve``) was given by someone else.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import sys
from collections.abc import Callable
from typing import Any

from iamkit.errors import BadInput

TWO_PERSON_ENV = "IAMKIT_TWO_PERSON_APPROVAL"


def two_person_required(flag: bool | None = None) -> bool:
    """The flag when given, else the ``IAMKIT_TWO_PERSON_APPROVAL`` setting (1/true/yes/on)."""
    if flag is not None:
        return flag
    value = os.environ.get(TWO_PERSON_ENV, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise BadInput(f"{TWO_PERSON_ENV}={os.environ[TWO_PERSON_ENV]!r}: use 1/0, true/false, yes/no or on/off")


def origin() -> dict[str, Any]:
    """Where this process runs: host name, terminal (when there is one) and the SSH client's address (when
    known); the operating-system user."""
    terminal = None
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        try:
            if stream is not None and stream.isatty():
                terminal = os.ttyname(stream.fileno())
                break
        except (OSError, ValueError, AttributeError):
            continue
    ssh = os.environ.get("SSH_CONNECTION") or os.environ.get("SSH_CLIENT") or ""
    return {
        "host": socket.gethostname(),
        "terminal": terminal,
        "source_ip": ssh.split()[0] if ssh.split() else None,
        "os_user": os.environ.get("USER") or os.environ.get("USERNAME"),
    }


def identity(
    name: str | dict[str, Any] | None = None, caller: Callable[[], str | None] | None = None
) -> dict[str, Any]:
    """The approver: ``name`` when given (source ``flag``), else the IAM caller's ARN (``iam``), else the
    operating-system user (``user``)."""
    if isinstance(name, dict):
        return name
    if name:
        if not name.strip() or len(name) > 256:
            raise BadInput("--approver must be a name of 1 to 256 characters")
        return {"approver": name.strip(), "approver_source": "flag"}
    arn = caller() if caller is not None else None
    if arn:
        return {"approver": arn, "approver_source": "iam"}
    return {"approver": os.environ.get("USER") or "analyst", "approver_source": "user"}


def entry(event: str, plan_hash: str, who: dict[str, Any], **more: Any) -> dict[str, Any]:
    """A journal entry recording an approval: who, when (UTC), from where."""
    return {
        "event": event,
        "plan_hash": plan_hash,
        **who,
        "approved_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "origin": origin(),
        **more,
    }


def approve(plan: Any, case: Any, approver: str | dict[str, Any] | None = None) -> dict[str, Any]:
    """Record a first approval of ``plan`` (nothing is applied): with two-person approval on, ``apply`` by
    someone else then completes it."""
    e = entry("approval", plan.hash, identity(approver), steps=len(plan.actions), destructive=plan.destructive)
    case.journal(e)
    return e


def _same(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def second_approval(plan: Any, entries: list[dict[str, Any]], who: dict[str, Any]) -> dict[str, Any]:
    """The earlier approval of the same plan hash by another approver, which ``who`` now completes; a one-line
    ``BadInput`` when there is none."""
    firsts = [
        e
        for e in entries
        if e.get("event") == "approval" and e.get("plan_hash") == plan.hash and isinstance(e.get("approver"), str)
    ]
    other = next((e for e in reversed(firsts) if not _same(e["approver"], who["approver"])), None)
    if other is not None:
        return other
    steps = ", ".join(map(str, plan.destructive))
    if firsts:
        raise BadInput(
            f"not applied: two-person approval: plan {plan.hash} was approved only by "
            f"{who['approver']}; the second approver must be someone else (destructive step(s) {steps})"
        )
    raise BadInput(
        f"not applied: two-person approval: destructive step(s) {steps} need a first approval of plan "
        f"{plan.hash} by someone else (iamkit remediate approve CASE --approve {plan.hash})"
    )
