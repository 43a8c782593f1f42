"""Prove a candidate by replay: every observed call of the window through the engine with the candidate in place
of the principal's identity policies (its permissions boundary, the account's SCPs and the resource's policy
still applied), what it would remove from today's effective permissions (sensitive first), and what it would
have denied over a later, held-back window (the canary).

Replayed requests carry the call's context (``aws:SourceIp``, ``aws:RequestedRegion``, ``aws:CurrentTime``,
``aws:CalledVia`` for calls a service made for the principal). A call whose resource is unknown is asked "on
some resource?" (the engine's ``resource_scope="any"``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from iamkit.frames import register
from iamkit.leastpriv.usage import _value
from iamkit.policy.engine import ALLOWED, evaluate
from iamkit.severity import LEVELS, RANK

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from iamkit.leastpriv.generate import Candidate
    from iamkit.leastpriv.usage import Usage

register(
    "leastpriv_replay",
    {
        "event_id": "string",
        "event_time": "ts",
        "action": "string",
        "resource": "string",
        "role_arn": "string",
        "decision": "string",
        "why": "string",
    },
    "leastpriv proof: each observed authorization replayed through the engine with the candidate policy.",
)
register(
    "leastpriv_removed",
    {"action": "string", "access_level": "string", "severity": "string", "current_resources": "json"},
    "leastpriv proof: actions today's effective permissions allow that the candidate would remove, "
    "sensitive first (severity from the assessment's privilege rules).",
)

_LEVEL_ORDER = {"Permissions management": 0, "Write": 1, "Tagging": 2, "Read": 3, "List": 4}


def sensitivity(action: str) -> str:
    """The severity the assessment's privilege rules give an action on their sensitive lists (``info`` when
    on none): permissions management, credential exposure, data exfiltration, resource exposure,
    infrastructure."""
    return _sensitive().get(action.lower(), "info")


_SENSITIVE: dict[str, str] = {}


def _sensitive() -> dict[str, str]:
    if not _SENSITIVE:
        from iamkit.assess.registry import RULES
        from iamkit.assess.rules import privilege as p

        for rule_id, actions in (
            ("IAMKIT-PRIV-002", p.PERMISSIONS_MANAGEMENT),
            ("IAMKIT-PRIV-003", p.CREDENTIAL_EXPOSURE),
            ("IAMKIT-PRIV-004", p.DATA_EXFILTRATION),
            ("IAMKIT-PRIV-005", p.RESOURCE_EXPOSURE),
            ("IAMKIT-PRIV-006", p.INFRASTRUCTURE),
        ):
            sev = RULES[rule_id].severity
            for a in actions:
                low = a.lower()
                if RANK.get(_SENSITIVE.get(low, "info"), len(LEVELS)) > RANK[sev]:
                    _SENSITIVE[low] = sev
    return _SENSITIVE


@dataclass
class Proof:
    """``replayed`` (every authorization of the window, decided), ``removed`` (``leastpriv_removed``),
    ``added`` (actions the candidate grants that today's policies do not), ``canary`` (the held-back window's
    authorizations, decided), and notes."""

    replayed: pd.DataFrame
    removed: pd.DataFrame | None = None
    added: list[str] = field(default_factory=list)
    canary: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.replayed)

    @property
    def covered(self) -> int:
        return int((self.replayed["decision"] == ALLOWED).sum()) if len(self.replayed) else 0

    @property
    def coverage(self) -> float:
        return self.covered / self.total if self.total else 1.0

    @property
    def uncovered(self) -> pd.DataFrame:
        return self.replayed[self.replayed["decision"] != ALLOWED]

    @property
    def canary_denied(self) -> pd.DataFrame | None:
        return None if self.canary is None else self.canary[self.canary["decision"] != ALLOWED]

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "replayed": self.total,
            "covered": self.covered,
            "coverage": round(self.coverage, 6),
            "uncovered": int(len(self.uncovered)),
            "added": self.added,
            "notes": self.notes,
        }
        if self.removed is not None:
            out["removed"] = int(len(self.removed))
            out["removed_by_severity"] = {
                s: int((self.removed["severity"] == s).sum()) for s in LEVELS if (self.removed["severity"] == s).any()
            }
        if self.canary is not None:
            out["canary_calls"] = int(len(self.canary))
            out["canary_would_deny"] = int(len(self.canary_denied))
        return out


class _Replayer:
    """Decides (action, resource, context) for a principal with the candidate as its identity policies."""

    def __init__(self, candidate: Candidate, inventory: Any, mode: str):
        from iamkit.policy import parse

        self.docs = [parse(d, "identity", f"candidate#{i}") for i, d in enumerate(candidate.documents)]
        self.mode = mode
        self.model = None
        if inventory is not None:
            from iamkit.policy.query import model

            self.model = model(inventory)
        self._pms: dict[str, Any] = {}
        self.unseen: set[str] = set()
        self._cache: dict[tuple, tuple[str, str]] = {}

    def _pm(self, arn: str):
        if self.model is None:
            return None
        if arn not in self._pms:
            pm = self.model.by_arn.get(arn)
            self._pms[arn] = replace(pm, identity=list(self.docs)) if pm is not None else None
        return self._pms[arn]

    def decide(self, who: str, is_role: bool, action: str, resource: str, ctx: dict[str, Any]) -> tuple[str, str]:
        key = (
            who,
            action,
            resource,
            ctx.get("aws:SourceIp"),
            ctx.get("aws:RequestedRegion"),
            str(ctx.get("aws:CurrentTime", ""))[:10],
            tuple(ctx.get("aws:CalledVia") or ()),
        )
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        pm = self._pm(who)
        caller_account = who.split(":")[4] if who.count(":") >= 5 else ""
        if pm is not None:
            from iamkit.policy.query import request_for, resource_side

            m = self.model
            res_pol, res_acct = resource_side(m, action, resource)
            req = request_for(pm, m, action, resource, res_acct, ctx)
        else:
            res_pol, res_acct = None, None
            req = {"action": action, "resource": resource, "context": ctx}
            if is_role:
                req["principal"] = f"arn:aws:sts::{caller_account}:assumed-role/{who.rsplit('/', 1)[-1]}/iamkit-replay"
                req["role_arn"] = who
            else:
                req["principal"] = who
        extra: dict[str, Any] = {}
        if res_pol is None:
            # a key, a role's trust or another account's resource whose own policy we never read: decide the
            # identity side (what the candidate changes), as if that policy allowed, instead of denying for want
            # of a document; the proof's notes count these
            extra["resource_policy_required"] = False
            owner = resource.split(":")[4] if resource.count(":") >= 5 else ""
            cross = bool(owner) and owner != caller_account and owner.isdigit()
            if cross:
                req["resource_account"] = caller_account
            if cross or action.startswith(("kms:", "sts:AssumeRole")):
                self.unseen.add(resource)
        if pm is not None:
            m = self.model
            d = evaluate(
                req,
                pm.identity,
                res_pol,
                pm.boundaries or None,
                m.scps.get(pm.account_id),
                m.rcps.get(res_acct or pm.account_id),
                mode=self.mode,
                explain=False,
                **extra,
            )
        else:
            d = evaluate(req, self.docs, mode=self.mode, explain=False, **extra)
        why = "" if d.result == ALLOWED else _why(d, pm is None)
        out = (d.result, why)
        self._cache[key] = out
        return out


_BLOCKERS = {
    "identity": "no statement of the candidate allows it",
    "boundary": "the permissions boundary does not allow it",
    "scp": "an SCP does not allow it",
    "rcp": "an RCP denies it",
    "resource": "the resource's policy does not allow it",
    "session": "the session policy does not allow it",
}


def _why(d: Any, bare: bool) -> str:
    if d.blocked_by:
        return "; ".join(_BLOCKERS.get(b, f"blocked by {b}") for b in d.blocked_by) + (
            " (replayed without an inventory: no SCPs or boundary)" if bare else ""
        )
    if d.unknown_keys:
        return f"decided by context the record lacks: {', '.join(d.unknown_keys)}"
    return "no statement of the candidate allows it" + (
        " (replayed without an inventory: no SCPs or boundary)" if bare else ""
    )


def _context(row: dict[str, Any]) -> dict[str, Any]:
    ctx: dict[str, Any] = {}
    ip = row.get("source_ip")
    try:
        ipaddress.ip_address(str(ip))
        ctx["aws:SourceIp"] = str(ip)
    except ValueError:
        pass
    if row.get("region"):
        ctx["aws:RequestedRegion"] = row["region"]
    t = row.get("event_time")
    if t is not None and t == t:
        ctx["aws:CurrentTime"] = t.isoformat() if hasattr(t, "isoformat") else str(t)
    if row.get("via"):
        ctx["aws:CalledVia"] = [row["via"]]
        ctx["aws:ViaAWSService"] = True
    return ctx


def replay(
    usage: Usage,
    candidate: Candidate,
    *,
    inventory: Any = None,
    mode: str = "strict",
    _replayer: _Replayer | None = None,
) -> pd.DataFrame:
    """Every authorization of ``usage`` decided with the candidate (``leastpriv_replay``)."""
    from iamkit.frames import conform

    r = _replayer or _Replayer(candidate, inventory, mode)
    rows = []
    for raw in usage.uses.to_dict(orient="records"):
        row = {k: _value(v) for k, v in raw.items()}
        role = row.get("role_arn")
        role = role if isinstance(role, str) and role else None
        who = role or usage.principal.arn
        result, why = r.decide(who, role is not None, row["action"], row["resource"], _context(row))
        rows.append(
            {
                "event_id": row["event_id"],
                "event_time": row["event_time"],
                "action": row["action"],
                "resource": row["resource"],
                "role_arn": role,
                "decision": result,
                "why": why,
            }
        )
    return conform(rows, "leastpriv_replay")


def removed_permissions(
    principal_arns: list[str], candidate: Candidate, inventory: Any
) -> tuple[pd.DataFrame, list[str]]:
    """(Actions today's effective permissions allow and the candidate would not, sensitive first; candidate
    actions today's policies do not allow)."""
    import pandas as pd

    from iamkit.frames import conform
    from iamkit.policy import access_level
    from iamkit.policy.query import model, what_can

    m = model(inventory)
    current: dict[str, set[str]] = {}
    for arn in principal_arns:
        if arn not in m.by_arn:
            continue
        df = what_can(arn, inventory, mode="strict")
        for a, res in zip(df["action"], df["resource"], strict=True):
            current.setdefault(str(a), set()).add(str(res))
    kept = {a.lower() for a in candidate.actions}
    rows = [
        {"action": a, "access_level": access_level(a), "severity": sensitivity(a), "current_resources": sorted(res)}
        for a, res in current.items()
        if a.lower() not in kept
    ]
    rows.sort(key=lambda r: (RANK.get(r["severity"], 9), _LEVEL_ORDER.get(r["access_level"], 9), r["action"]))
    have = {a.lower() for a in current}
    added = [a for a in candidate.actions if a.lower() not in have]
    return conform(pd.DataFrame(rows) if rows else [], "leastpriv_removed"), added


def prove(
    usage: Usage,
    candidate: Candidate,
    *,
    inventory: Any = None,
    canary: Usage | None = None,
    mode: str = "strict",
    diff: bool = True,
) -> Proof:
    """Replay the window, diff against today's effective permissions (with an inventory, unless ``diff`` is
    False), and replay the held-back ``canary`` usage."""
    r = _Replayer(candidate, inventory, mode)
    proof = Proof(replay(usage, candidate, _replayer=r))
    if r.unseen:
        proof.notes.append(
            f"{len(r.unseen)} resource(s) whose own policy (key policy, trust policy, another "
            "account's resource policy) was not read: decided on the identity side"
        )
    if inventory is None:
        proof.notes.append(
            "no inventory: replayed without boundary, SCPs or resource policies; no diff against current permissions"
        )
    else:
        arns = [usage.principal.arn] if usage.principal.arn else list(usage.roles)
        if not any(a in r.model.by_arn for a in arns):
            proof.notes.append("the principal is not in the inventory: replayed with the candidate alone")
        elif diff:
            proof.removed, proof.added = removed_permissions(arns, candidate, inventory)
            if proof.added:
                proof.notes.append(
                    f"{len(proof.added)} used action(s) today's identity policies do not allow "
                    "(granted by a resource policy, or the inventory is older than the calls)"
                )
    if canary is not None:
        proof.canary = replay(canary, candidate, _replayer=r)
    return proof
