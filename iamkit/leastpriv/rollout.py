"""Roll-out as data: which principals get their candidate first (canary-first stages), what each change holds
(the candidate documents, the current documents kept for undo, the proof it rests on), and the quarterly
re-audit report.

Staging: principals whose proof is clean (100% coverage, nothing denied in the held-back window) are staged;
the ``canary`` stage takes the quietest of them (fewest observed calls: the smallest blast radius if the
candidate is wrong), the ``rollout`` stage the rest after ``soak_days`` of the canary running clean; anything
uncovered or denied in the canary window is ``held`` for review with the reason. The response layer turns a
stage into a remediation plan (dry run, approval by hash, journal, undo); this module does no I/O.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from iamkit.arn import account_of

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from iamkit.leastpriv import Result


@dataclass
class Change:
    """One principal's change: put the candidate documents in place of its current identity policies."""

    principal: str
    kind: str
    account_id: str
    candidate: list[dict[str, Any]]
    current: dict[str, Any]  # {"managed": [policy arns], "inline": {name: document}} — what undo puts back
    coverage: float
    calls: int
    canary_would_deny: int
    removed: dict[str, int]  # removed actions by severity
    reason: str = ""


@dataclass
class Stage:
    name: str  # canary | rollout | held
    changes: list[Change]
    soak_days: int = 0
    note: str = ""


@dataclass
class Rollout:
    stages: list[Stage]
    created: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {"created": self.created, "hash": self.hash, "stages": [asdict(s) for s in self.stages]}

    @property
    def hash(self) -> str:
        canon = json.dumps([asdict(s) for s in self.stages], sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canon.encode()).hexdigest()[:16]


def current_documents(inventory: Any, principal_arn: str) -> dict[str, Any]:
    """A principal's identity policies as the inventory holds them: managed policy ARNs and inline documents."""
    out: dict[str, Any] = {"managed": [], "inline": {}}
    pol = getattr(inventory, "policies", None) if inventory is not None else None
    if pol is None or not len(pol):
        return out
    rows = pol[pol["attached_to_arn"] == principal_arn]
    for r in rows.to_dict(orient="records"):
        if r.get("is_default") is False:
            continue
        if r.get("policy_type") == "inline":
            out["inline"][str(r.get("policy_name"))] = r.get("document")
        elif r.get("policy_arn") and r["policy_arn"] not in out["managed"]:
            out["managed"].append(r["policy_arn"])
    out["managed"].sort()
    return out


def _change(r: Result, inventory: Any) -> Change:
    p = r.proof
    removed: dict[str, int] = {}
    if p.removed is not None and len(p.removed):
        removed = {str(k): int(v) for k, v in p.removed["severity"].value_counts().items()}
    denied = len(p.canary_denied) if p.canary_denied is not None else 0
    arn = r.usage.principal.arn
    return Change(
        r.usage.principal.label,
        r.usage.principal.kind,
        account_of(arn) or "",
        r.candidate.documents,
        current_documents(inventory, arn) if arn else {"managed": [], "inline": {}},
        round(p.coverage, 6),
        int(len(r.usage.uses)),
        int(denied),
        removed,
    )


def stage(results: list[Result], inventory: Any = None, *, canary_fraction: float = 0.1, soak_days: int = 7) -> Rollout:
    """Canary-first stages for the principals' candidates (see the module)."""
    ready, held = [], []
    for r in results:
        c = _change(r, inventory)
        if not r.candidate.documents:
            c.reason = (
                "no observed call needs a permission: nothing to prove (an unused principal: review it for "
                "removal instead of emptying its policies)"
            )
            held.append(c)
        elif c.coverage < 1.0:
            c.reason = f"{len(r.proof.uncovered)} observed call(s) not covered by the candidate"
            held.append(c)
        elif c.canary_would_deny:
            c.reason = f"{c.canary_would_deny} call(s) of the held-back window would have been denied"
            held.append(c)
        elif not r.candidate.valid:
            c.reason = "the candidate does not validate"
            held.append(c)
        else:
            ready.append(c)
    ready.sort(key=lambda c: (c.calls, c.principal))
    n = max(1, math.ceil(len(ready) * canary_fraction)) if ready else 0
    stages = [
        Stage("canary", ready[:n], soak_days, "quietest principals first: fewest observed calls"),
        Stage("rollout", ready[n:], 0, f"after the canary ran {soak_days} days without a new denial"),
        Stage("held", held, 0, "not rolled out: review each reason"),
    ]
    return Rollout(stages)


def reaudit(results: list[Result]) -> pd.DataFrame:
    """The quarterly re-audit: per principal, calls, coverage of today's candidate, unused permissions by
    severity, canary denials, and a status (``ok`` / ``review``)."""
    import pandas as pd

    rows = []
    for r in results:
        p = r.proof
        removed = p.removed if p.removed is not None else None
        rows.append(
            {
                "principal": r.usage.principal.label,
                "calls": int(len(r.usage.uses)),
                "actions_used": len(r.usage.actions),
                "candidate_actions": len(r.candidate.actions),
                "coverage": round(p.coverage, 6),
                "unused_permissions": None if removed is None else int(len(removed)),
                "unused_high_or_worse": None
                if removed is None
                else int(removed["severity"].isin(("critical", "high")).sum()),
                "canary_would_deny": None if p.canary is None else int(len(p.canary_denied)),
                "status": "ok"
                if p.coverage >= 1.0
                and not (p.canary is not None and len(p.canary_denied))
                and not (removed is not None and len(removed))
                else "review",
            }
        )
    return pd.DataFrame(rows)
