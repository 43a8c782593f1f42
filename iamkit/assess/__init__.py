"""Risk assessment: findings (admin-equivalent and over-privileged principals, unsafe trusts, credentials,
exposed resources, posture, privilege escalation) decided with the policy engine, as the ``findings`` frame.

    import iamkit as ik
    findings = ik.assess.run(inventory)                 # every rule
    ik.assess.run(inventory, rules=["IAMKIT-TRUST-*"])  # a subset (ids or fnmatch patterns)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from iamkit.severity import RANK as SEVERITY_ORDER

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["SEVERITY_ORDER", "rule_table", "run"]


def rule_table() -> dict[str, Any]:
    """Every registered rule by id (metadata and check function)."""
    from iamkit.assess.registry import all_rules

    return dict(all_rules())


def _select(patterns: Iterable[str] | None) -> list[Any]:
    from iamkit.errors import BadInput

    table = rule_table()
    if patterns is None:
        return list(table.values())
    out = []
    for p in patterns:
        hit = [r for rid, r in table.items() if fnmatchcase(rid, p) or rid == p]
        if not hit:
            raise BadInput(f"unknown rule {p!r} (known: {', '.join(sorted(table))})")
        out += [r for r in hit if r not in out]
    return out


def finding_id(rule_id: str, account: Any, principal: Any, resource: Any, detail: str) -> str:
    """Stable id of a finding: the same risk in the same inventory keeps its id across runs."""
    key = json.dumps([rule_id, account, principal, resource, detail], default=str)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def run(inventory: Any, *, rules: Iterable[str] | None = None, now: datetime | None = None) -> pd.DataFrame:
    """Assess an inventory; one ``findings`` row per hit, sorted by severity. A rule that fails adds an
    ``IAMKIT-ERROR`` info row naming it instead of stopping the run."""
    from iamkit.assess.context import Context
    from iamkit.frames import conform, empty

    selected = _select(rules)
    ctx = Context(inventory, now=now)
    rows: list[dict[str, Any]] = []
    for r in selected:
        try:
            hits = list(r.check(ctx))
        except Exception as e:  # noqa: BLE001 - partial results kept, the failure listed
            rows.append({"finding_id": finding_id("IAMKIT-ERROR", None, None, r.id, str(e)),
                         "rule_id": "IAMKIT-ERROR", "severity": "info", "title": f"rule {r.id} failed",
                         "detail": f"{type(e).__name__}: {e}", "evidence": json.dumps({"rule": r.id}),
                         "remediation": "", "references": ""})
            continue
        for h in hits:
            rows.append({
                "finding_id": finding_id(r.id, h.account_id, h.principal_arn, h.resource_arn, h.detail),
                "rule_id": r.id, "severity": h.severity or r.severity, "account_id": h.account_id,
                "principal_arn": h.principal_arn, "principal_type": h.principal_type,
                "resource_arn": h.resource_arn, "title": r.title, "detail": h.detail,
                "evidence": json.dumps(h.evidence, default=str, sort_keys=True),
                "remediation": r.remediation, "references": " ".join(r.references)})
    for e in ctx.model.errors:
        rows.append({"finding_id": finding_id("IAMKIT-ERROR", None, None, None, e), "rule_id": "IAMKIT-ERROR",
                     "severity": "info", "title": "policy could not be parsed", "detail": e,
                     "evidence": "{}", "remediation": "Fix or re-collect the policy document.", "references": ""})
    if not rows:
        return empty("findings")
    df = conform(rows, "findings")
    order = df["severity"].map(SEVERITY_ORDER).fillna(9)
    return df.assign(_o=order).sort_values(["_o", "rule_id", "account_id", "principal_arn", "resource_arn"],
                                           na_position="last", kind="stable").drop(columns="_o"
                                                                                   ).reset_index(drop=True)
