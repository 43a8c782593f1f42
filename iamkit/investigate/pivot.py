"""Pivots: from one value (an IP, an ARN, an access key, a session, a UPN, a resource) to everything the case
knows about it — its events, its sessions, the detections and findings naming it, what it can reach, and for an
IP its country, ASN and what the offline lists say (AWS's own address space, Tor exit, hosting provider).

``ik.pivot(value, case=…)`` (or ``trail=`` a store path) returns a ``Pivot``; the notebooks' tables make the
same call when an entity is clicked. Everything is read from the case folder or the store, never from AWS.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamkit.errors import BadInput
from iamkit.ui.text import md

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from iamkit.case import Case

KINDS = ("ip", "access_key", "session", "arn", "upn", "resource")
_KEY = re.compile(r"(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{12,124}")
_UPN = re.compile(r"[^@\s:/]{1,128}@[^@\s:/]{1,253}")
EVENT_LIMIT = 10_000
EVENT_COLUMNS = [
    "event_time",
    "source_ip",
    "access_key_id",
    "principal_arn",
    "session_name",
    "event_source",
    "event_name",
    "recipient_account_id",
    "error_code",
    "user_agent",
    "event_id",
]


def kind_of(value: str) -> str:
    """Which kind of entity ``value`` is (``KINDS``); anything else is a resource name (bucket, secret…)."""
    v = value.strip()
    try:
        ipaddress.ip_address(v)
        return "ip"
    except ValueError:
        pass
    if _KEY.fullmatch(v):
        return "session" if v.startswith("ASIA") else "access_key"
    if v.startswith("arn:"):
        parts = v.split(":", 5)
        if len(parts) < 6:
            raise BadInput(f"{v[:80]!r} is not an ARN (arn:partition:service:region:account:resource)")
        if parts[2] == "sts" and parts[5].startswith(("assumed-role/", "federated-user/")):
            return "session"
        return "arn" if parts[2] in ("iam", "sts") else "resource"
    if _UPN.fullmatch(v):
        return "upn"
    return "resource"


@dataclass
class Pivot:
    """What the case knows about one entity. Every frame may be empty; ``notes`` say what was not looked at."""

    value: str
    kind: str
    context: dict[str, Any]
    events: pd.DataFrame
    total_events: int
    sessions: pd.DataFrame
    related: pd.DataFrame
    detections: pd.DataFrame
    reach: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def sections(self):
        import pandas as pd

        yield (
            f"Pivot: {self.kind} {self.value}",
            md(
                "{} event(s) in the store{}; {} session(s); {} detection(s); {} related entities.",
                self.total_events,
                f" (the first {len(self.events):,} shown)" if self.total_events > len(self.events) else "",
                len(self.sessions),
                len(self.detections),
                len(self.related),
            ),
        )
        if self.context:
            yield "What it is", pd.DataFrame([{"field": k, "value": _text(v)} for k, v in self.context.items()])
        if len(self.related):
            yield "Seen with (pivot on any of these next)", self.related
        if len(self.sessions):
            yield "Its sessions and keys", self.sessions
        if len(self.detections):
            yield "Detections naming it", self.detections
        if len(self.reach):
            yield "What it can do (policy engine, from the assessment)", self.reach
        yield "Its calls, oldest first", self.events if len(self.events) else "no call in the loaded CloudTrail"
        for n in self.notes:
            yield "", n


def _text(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return ", ".join(map(str, v)) or "—"
    return "unknown (no list loaded)" if v is None else str(v)


def _where(kind: str, value: str) -> tuple[str, list[Any]]:
    if kind == "ip":
        return "source_ip = ?", [value]
    if kind in ("access_key", "session") and _KEY.fullmatch(value):
        return "access_key_id = ?", [value]
    if kind in ("arn", "session"):
        return (
            "(principal_arn = ? OR session_issuer_arn = ? OR contains(CAST(request_parameters AS VARCHAR), ?)"
            " OR contains(CAST(response_elements AS VARCHAR), ?))",
            [value, value, value, value],
        )
    if kind == "upn":
        return (
            "(session_name = ? OR principal_arn LIKE ? OR contains(CAST(user_identity AS VARCHAR), ?))",
            [value, "%/" + value.replace("%", "").replace("_", "\\_"), value],
        )
    return (
        "(contains(CAST(request_parameters AS VARCHAR), ?) OR contains(CAST(resources AS VARCHAR), ?))",
        [value, value],
    )


def _events(con: Any, kind: str, value: str, limit: int) -> tuple[pd.DataFrame, int]:
    where, params = _where(kind, value)
    total = int(con.execute(f"SELECT count(*) FROM events WHERE {where}", params).fetchone()[0])
    cols = ", ".join(EVENT_COLUMNS)
    df = con.execute(
        f"SELECT {cols} FROM events WHERE {where} ORDER BY event_time, event_id LIMIT {int(limit)}", params
    ).df()
    return df, total


def _sessions(events: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    if events.empty:
        return pd.DataFrame(
            columns=["access_key_id", "principal_arn", "first_seen", "last_seen", "calls", "source_ips"]
        )
    g = events.dropna(subset=["access_key_id"]).groupby(["access_key_id", "principal_arn"], dropna=False)
    out = g.agg(
        first_seen=("event_time", "min"),
        last_seen=("event_time", "max"),
        calls=("event_name", "size"),
        source_ips=("source_ip", lambda s: ", ".join(sorted(set(s.dropna()))[:5])),
    ).reset_index()
    return out.sort_values("first_seen").reset_index(drop=True)


def _related(events: pd.DataFrame, value: str) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for col, kind in (("source_ip", "ip"), ("access_key_id", "key"), ("principal_arn", "arn")):
        if col not in events:
            continue
        for v, n in events[col].dropna().value_counts().head(10).items():
            if v != value:
                rows.append({"entity": v, "kind": kind, "calls_together": int(n)})
    return pd.DataFrame(rows, columns=["entity", "kind", "calls_together"])


def _detections(case: Case | None, value: str, event_ids: set[str]) -> pd.DataFrame:
    import json

    import pandas as pd

    p = case.evidence / "detections.parquet" if case is not None else None
    if p is None or not p.is_file():
        return pd.DataFrame()
    det = pd.read_parquet(p)

    def names(r: Any) -> bool:
        if value in (
            getattr(r, "access_key_id", None),
            getattr(r, "principal_arn", None),
            getattr(r, "source_ip", None),
        ):
            return True
        evs = getattr(r, "event_ids", None)
        evs = json.loads(evs) if isinstance(evs, str) and evs.startswith("[") else evs
        return bool(event_ids & set(evs if isinstance(evs, (list, tuple)) or hasattr(evs, "tolist") else []))

    return det[[names(r) for r in det.itertuples()]].reset_index(drop=True) if len(det) else det


def _reach(case: Case | None, value: str) -> pd.DataFrame:
    import pandas as pd

    p = case.evidence / "reach.parquet" if case is not None else None
    if p is None or not p.is_file():
        return pd.DataFrame()
    r = pd.read_parquet(p)
    return r[r["principal"] == value].reset_index(drop=True) if "principal" in r else pd.DataFrame()


def _ip_context(value: str, case: Case | None) -> dict[str, Any]:
    from iamkit import data
    from iamkit.trail.ipcontext import IpContext

    ctx: dict[str, Any] = {}
    if case is not None:
        p = case.evidence / "facts.json"
        if p.is_file():
            from iamkit import jsontext

            f = jsontext.read(p)
            src = (f.get("sources") or {}) if isinstance(f, dict) else {}
            ctx["in this incident"] = (
                "new (suspicious)"
                if value in (src.get("new_ips") or [])
                else "usual (the owner's)"
                if value in (src.get("usual_ips") or [])
                else "not seen"
            )
            ctx.update({k: v for k, v in ((src.get("ip_context") or {}).get(value) or {}).items() if v})
    if "country" not in ctx:
        from iamkit import config

        s = config.load()
        try:
            row = IpContext(country_mmdb=s.country_mmdb or None, asn_mmdb=s.asn_mmdb or None).lookup(value)
        except BadInput:
            row = IpContext().lookup(value)
        ctx.update({("address kind" if k == "kind" else k): v for k, v in row.items() if v and k != "ip"})
    rep = data.ip_reputation(value)
    ctx["AWS address space"] = f"yes: {', '.join(rep['aws_services'])} {rep['aws_prefix']}" if rep["aws"] else "no"
    ctx["AWS list"] = rep["aws_list"]
    ctx["Tor exit"] = rep["tor_exit"]
    ctx["hosting provider"] = rep["hosting"] if rep["hosting"] is None else (rep["hosting"] or "no")
    return ctx


def pivot(value: str, *, case: Case | str | Path | None = None, trail: Any = None, limit: int = EVENT_LIMIT) -> Pivot:
    """Everything known about ``value`` (IP, ARN, access key, session, UPN or resource) in a case (its store and
    evidence) or a trail store (``trail``: a path or an open ``Trail``)."""
    import pandas as pd

    from iamkit import escape
    from iamkit import trail as trail_mod

    if not isinstance(value, str) or not value.strip():
        raise BadInput("pivot: give a value (an IP, ARN, access key, session, UPN or resource name)")
    value = value.strip()
    if len(value) > 2048:
        raise BadInput("pivot: the value is longer than 2,048 characters")
    kind = kind_of(value)
    if case is not None and not hasattr(case, "evidence"):
        from iamkit.case import Case

        case = Case.open(case)
    notes: list[str] = []
    own = None
    if trail is None and case is not None and (case.path / "trail.duckdb").is_file():
        trail = case.path / "trail.duckdb"
    if trail is None:
        events, total = pd.DataFrame(columns=EVENT_COLUMNS), 0
        notes.append("no CloudTrail store: give case= or trail=")
    else:
        own = trail if hasattr(trail, "con") else trail_mod.open(trail, read_only=True)
        try:
            events, total = _events(own.con, kind, value, limit)
        finally:
            if own is not trail:
                own.close()
    context: dict[str, Any] = {"kind": kind}
    if kind == "ip":
        context.update(_ip_context(value, case))
    elif kind in ("arn", "session", "resource") and value.startswith("arn:"):
        parts = value.split(":", 5)
        context.update({"service": parts[2], "account": parts[4] or "—", "resource": escape.visible(parts[5])})
    ids = set(events["event_id"].dropna()) if "event_id" in events else set()
    return Pivot(
        value,
        kind,
        context,
        events,
        total,
        _sessions(events),
        _related(events, value),
        _detections(case, value, ids),
        _reach(case, value),
        notes,
    )
