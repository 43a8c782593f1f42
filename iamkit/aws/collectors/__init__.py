"""Collectors: one module per area, each ``collect(scope) -> {frame name: [row dicts]}``.

Account-level collectors run once per account (``iam``, ``credential_report``), regional ones once per
(account, region) (``resources``, ``posture``), organization-level ones once from the management or
delegated-admin account (``organizations``, ``identity_center``). Failures go to ``scope.log``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Rows = dict[str, list[dict[str, Any]]]
BIG_PAGES = {"PageSize": 1000}  # IAM list calls allow 1000 items a page (default 100): fewer round trips


@dataclass
class More:
    """What a collector returns when it found more work: its rows so far and follow-up tasks
    (``(label, fn)``; ``fn()`` returns rows or another ``More``) that fan-out runs on the same pool."""

    rows: Rows = field(default_factory=dict)
    tasks: list[tuple[str, Callable[[], Any]]] = field(default_factory=list)


def merge(into: Rows, more: Rows) -> Rows:
    """Append ``more``'s rows to ``into`` frame by frame."""
    for name, rows in more.items():
        into.setdefault(name, []).extend(rows)
    return into
