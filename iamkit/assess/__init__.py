"""Risk assessment: findings (admin-equivalent and over-privileged principals, unsafe trusts, credentials,
exposed resources, posture, privilege escalation) decided with the policy engine, as the ``findings`` frame.

    import iamkit as ik
    findings = ik.assess.run(inventory)                 # every rule
    ik.assess.run(inventory, rules=["IAMKIT-TRUST-*"])  # a subset (ids or fnmatch patterns)
    ik.assess.by_control(findings)                      # per compliance control, as auditors read it
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

__all__ = ["SEVERITY_ORDER", "by_control", "rule_table", "run"]


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
    from iamkit.inventory import collector_paused

    selected = _select(rules)
    with collector_paused():
        ctx = Context(inventory, now=now)
        try:
            rows = _check(ctx, selected)
        finally:
            ctx.release()
        del ctx  # freed now, by reference counting, rather than walked by the collector once it resumes
    if not rows:
        return empty("findings")
    df = conform(rows, "findings")
    order = df["severity"].map(SEVERITY_ORDER).fillna(9)
    return (
        df.assign(_o=order)
        .sort_values(
            ["_o", "rule_id", "account_id", "principal_arn", "resource_arn"], na_position="last", kind="stable"
        )
        .drop(columns="_o")
        .reset_index(drop=True)
    )


def _check(ctx: Any, selected: list[Any]) -> list[dict[str, Any]]:
    """Run the rules; one finding row per hit (a rule that fails becomes an ``IAMKIT-ERROR`` row)."""
    rows: list[dict[str, Any]] = []
    for r in selected:
        try:
            hits = list(r.check(ctx))
        except Exception as e:  # noqa: BLE001 - partial results kept, the failure listed
            rows.append(
                {
                    "finding_id": finding_id("IAMKIT-ERROR", None, None, r.id, str(e)),
                    "rule_id": "IAMKIT-ERROR",
                    "severity": "info",
                    "title": f"rule {r.id} failed",
                    "detail": f"{type(e).__name__}: {e}",
                    "evidence": json.dumps({"rule": r.id}),
                    "remediation": "",
                    "references": "",
                }
            )
            continue
        for h in hits:
            rows.append(
                {
                    "finding_id": finding_id(r.id, h.account_id, h.principal_arn, h.resource_arn, h.detail),
                    "rule_id": r.id,
                    "severity": h.severity or r.severity,
                    "account_id": h.account_id,
                    "principal_arn": h.principal_arn,
                    "principal_type": h.principal_type,
                    "resource_arn": h.resource_arn,
                    "title": r.title,
                    "detail": h.detail,
                    "evidence": json.dumps(h.evidence, default=str, sort_keys=True),
                    "remediation": r.remediation,
                    "references": " ".join(r.references),
                }
            )
    for e in ctx.model.errors:
        rows.append(
            {
                "finding_id": finding_id("IAMKIT-ERROR", None, None, None, e),
                "rule_id": "IAMKIT-ERROR",
                "severity": "info",
                "title": "policy could not be parsed",
                "detail": e,
                "evidence": "{}",
                "remediation": "Fix or re-collect the policy document.",
                "references": "",
            }
        )
    return rows


def by_control(findings: pd.DataFrame, *, rules: Iterable[str] | None = None) -> pd.DataFrame:
    """One row per compliance control the assessed rules bear on: ``control``, ``framework``, ``title``,
    ``status`` (``fail`` when a rule mapped to it found something, else ``pass``), ``rules``, ``findings``, the
    worst ``severity`` and the ``principals``/``resources`` concerned. Rules not run (``rules``) are left out."""
    import pandas as pd

    from iamkit.assess.registry import control_catalog

    titles = control_catalog()["controls"]
    selected = _select(rules)
    by_rule = findings.groupby("rule_id") if len(findings) else None
    rows: dict[str, dict[str, Any]] = {}
    for r in selected:
        hits = by_rule.get_group(r.id) if by_rule is not None and r.id in by_rule.groups else None
        for c in r.controls:
            row = rows.setdefault(
                c,
                {
                    "control": c,
                    "framework": c.split(":", 1)[0],
                    "title": titles.get(c, ""),
                    "status": "pass",
                    "rules": [],
                    "findings": 0,
                    "severity": None,
                    "principals": [],
                    "resources": [],
                },
            )
            row["rules"].append(r.id)
            if hits is not None and len(hits):
                row["status"] = "fail"
                row["findings"] += len(hits)
                worst = min(hits["severity"], key=lambda s: SEVERITY_ORDER.get(s, 9))
                if row["severity"] is None or SEVERITY_ORDER[worst] < SEVERITY_ORDER[row["severity"]]:
                    row["severity"] = worst
                row["principals"] += [p for p in hits["principal_arn"].dropna() if p not in row["principals"]]
                row["resources"] += [p for p in hits["resource_arn"].dropna() if p not in row["resources"]]
    cols = ["control", "framework", "title", "status", "rules", "findings", "severity", "principals", "resources"]
    out = pd.DataFrame(sorted(rows.values(), key=lambda r: (r["framework"], _control_key(r["control"]))), columns=cols)
    for c in ("rules", "principals", "resources"):
        out[c] = out[c].map(lambda v: ", ".join(v))
    return out


def _control_key(control: str) -> tuple:
    """1.4 < 1.10 and AC-2(3) < AC-6 < AC-6(1) < AC-12."""
    import re

    return tuple(int(n) if n.isdigit() else n for n in re.split(r"(\d+)", control.split(":", 1)[1]))
