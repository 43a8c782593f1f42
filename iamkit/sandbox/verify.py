"""Check an inventory against the scenario manifest: what the sandbox seeded is what a collection must find.

Used by the sandbox tests (default size) and the inventory bench (20 x 500), so both sizes are held to the
same ground truth (``SeededOrg.counts`` per account, and the seeded role lists).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from iamkit.inventory import Inventory
    from iamkit.sandbox.model import SeededOrg


def _n(df: pd.DataFrame, account: str, **eq: Any) -> int:
    mask = df["account_id"] == account
    for col, val in eq.items():
        mask &= df[col] == val
    return int(mask.sum())


#: ``SeededOrg.counts["per_account"][acct]`` keys -> how to count them in an inventory (others are ignored)
COUNTERS: dict[str, Callable[[Inventory, str], int]] = {
    "users": lambda inv, a: _n(inv.principals, a, principal_type="user"),
    "roles": lambda inv, a: _n(inv.principals, a, principal_type="role"),
    "groups": lambda inv, a: _n(inv.principals, a, principal_type="group"),
    "access_keys": lambda inv, a: _n(inv.access_keys, a),
    "resource_policies": lambda inv, a: int(((inv.resource_policies["account_id"] == a)
                                             & inv.resource_policies["policy"].map(bool)).sum()),
}


def count_mismatches(inv: Inventory, org: SeededOrg) -> tuple[int, list[str]]:
    """(how many counts were checked, one line per count that differs from the manifest)."""
    problems: list[str] = []
    checked = 0
    for acct, counts in ((org.counts or {}).get("per_account") or {}).items():
        for key, want in counts.items():
            if key in COUNTERS:
                got = COUNTERS[key](inv, acct)
                checked += 1
                if got != want:
                    problems.append(f"{acct} {key}: manifest {want}, inventory {got}")
    for a in org.accounts:  # ground truth from the seeded lists, whether or not the manifest carries counts
        seeded = sum(1 for r in org.roles if r.account_id == a.account_id)
        got = _n(inv.principals, a.account_id, principal_type="role")
        checked += 1
        if got < seeded:
            problems.append(f"{a.account_id} roles: {seeded} seeded, inventory has {got}")
    return checked, problems
