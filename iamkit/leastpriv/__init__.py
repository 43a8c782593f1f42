"""Least privilege from observed usage: what a principal used (``usage``), a candidate policy (``candidate``),
proven by replay (``prove``), staged for roll-out (``rollout``).

``ik.leastpriv.generate(principal, trail=…, window="90d", holdback="7d", inventory=…)`` does all three and
returns a :class:`Result`. The window's last ``holdback`` days are not used to generate: the candidate is
replayed over them as a canary (what it would have denied).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iamkit.errors import BadInput
from iamkit.leastpriv.generate import MANAGED_LIMIT, Candidate, candidate
from iamkit.leastpriv.prove import Proof, prove
from iamkit.leastpriv.usage import Principal, Usage, usage
from iamkit.window import Window, parse_time

if TYPE_CHECKING:  # pragma: no cover
    from iamkit.trail.backend import TrailBackend

__all__ = [
    "Candidate",
    "Principal",
    "Proof",
    "Result",
    "Usage",
    "candidate",
    "generate",
    "prove",
    "split_window",
    "usage",
]


@dataclass
class Result:
    """One principal's least-privilege answer: its usage, the candidate, the proof, the canary usage."""

    usage: Usage
    candidate: Candidate
    proof: Proof
    canary_usage: Usage | None = None

    @property
    def policy(self) -> dict[str, Any] | None:
        """The candidate's first (usually only) document; None when the principal used nothing that needs one."""
        return self.candidate.documents[0] if self.candidate.documents else None

    def to_dict(self) -> dict[str, Any]:
        u = self.usage
        return {
            "principal": u.principal.label,
            "kind": u.principal.kind,
            "window": str(u.window),
            "roles": u.roles,
            "events": u.events,
            "authorizations": int(len(u.uses)),
            "skipped": u.skipped["reason"].value_counts().to_dict() if len(u.skipped) else {},
            "canary_window": str(self.canary_usage.window) if self.canary_usage else None,
            "service_last_accessed": u.last_accessed,
            "service_last_accessed_note": u.last_accessed_note,
            "candidate": self.candidate.to_dict(),
            "proof": self.proof.summary(),
            "uncovered": _rows(self.proof.uncovered),
            "removed": _rows(self.proof.removed),
            "canary_would_deny": _rows(self.proof.canary_denied),
        }


def _rows(df: Any) -> list[dict[str, Any]]:
    if df is None or not len(df):
        return []
    out = []
    for r in df.to_dict(orient="records"):
        out.append(
            {
                k: (v.isoformat() if hasattr(v, "isoformat") else (None if v is None or v != v else v))
                if not isinstance(v, list | dict)
                else v
                for k, v in r.items()
            }
        )
    return out


def _span(text: Any) -> dt.timedelta:
    now = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    t = parse_time(text, now=now, name="holdback")
    if t is None or t > now:
        raise BadInput(f"holdback {text!r}: give a span such as 7d or 36h")
    return now - t


def split_window(window: Window, holdback: Any = None) -> tuple[Window, Window | None]:
    """(generation window, canary window): the last ``holdback`` (``7d``) of ``window`` held back."""
    if not holdback:
        return window, None
    span = _span(holdback)
    if window.end is None:
        raise BadInput("a holdback needs a window with an end (give --until, or a span such as 90d)")
    cut = window.end - span
    if window.start is not None and cut <= window.start:
        raise BadInput(f"holdback {holdback} is as long as the window {window}")
    return Window(window.start, cut), Window(cut + dt.timedelta(microseconds=1), window.end)


def generate(
    principal: str | Principal,
    trail: TrailBackend | str | None = None,
    *,
    window: Any = None,
    holdback: Any = None,
    inventory: Any = None,
    max_resources: int = 10,
    limit: int = MANAGED_LIMIT,
    diff: bool = True,
    now: dt.datetime | None = None,
) -> Result:
    """Usage of ``principal`` in ``window`` (a Window, a ``(since, until)`` pair, or a span back from now such
    as ``"90d"``) read from ``trail`` (a back end, or a store path), its candidate policy and the proof
    (``diff=False``: no comparison with today's effective permissions, the slow part on broad policies)."""
    from iamkit import trail as trail_mod

    if trail is None:
        raise BadInput("leastpriv needs a trail: a store path (--db) or an Athena back end")
    backend = trail_mod.open(trail, read_only=True) if isinstance(trail, str) else trail
    if isinstance(window, str):
        w = Window.parse(window, None, now=now, end_now=True)
    else:
        w = Window.of(window)
    gen_w, canary_w = split_window(w, holdback)
    u = usage(backend, principal, gen_w, inventory=inventory)
    c = candidate(u, max_resources=max_resources, limit=limit)
    cu = usage(backend, u.principal, canary_w) if canary_w is not None else None
    p = prove(u, c, inventory=inventory, canary=cu, diff=diff)
    return Result(u, c, p, cu)
