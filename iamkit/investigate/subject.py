"""What an investigation is about: a ``Subject`` (an access key, a session, a principal, a person or a resource),
checked when it is given, and the shared step every playbook starts from: the subject's calls, oldest first.

A key is traced through its chain by ``access_key.trace_key`` (keys, users and sessions it created); every other
subject's timeline is ``events_of``: the calls it made (its ARN, or a role's sessions through their issuer), the
STS calls that opened sessions of it, and the calls that named it in their resources or request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iamkit.arn import ASSUMED_ROLE, ROLE, ROOT, USER, account_of, parse, principal
from iamkit.errors import BadInput

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

KINDS = ("key", "session", "principal", "person", "resource")
KEY_PREFIXES = ("AKIA", "ASIA")
#: the STS calls that open a session of a role (their request names it in roleArn)
ASSUME_CALLS = ("AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity")
MAX_ID = 2048


@dataclass(frozen=True)
class Subject:
    """The subject of an investigation: ``kind`` (one of ``KINDS``), ``id`` (a key id, an ARN or a UPN) and the
    account it lives in, when the id says it."""

    kind: str
    id: str
    account_id: str | None = None

    @classmethod
    def parse(cls, kind: str, value: Any) -> Subject:
        """A subject from a parameter, or ``BadInput`` naming what is wrong with it (a one-line message)."""
        text = str(value or "").strip()
        if kind not in KINDS:
            raise BadInput(f"subject kind {kind!r} is not one of {', '.join(KINDS)}")
        if not text:
            raise BadInput(f"the subject ({kind}) is required: set it in the parameters, then run again")
        if len(text) > MAX_ID or any(c.isspace() for c in text):
            raise BadInput(f"subject {text[:60]!r} is not a {kind} id (too long, or has spaces)")
        if kind in ("key", "session"):
            ok = text.startswith(KEY_PREFIXES) and 16 <= len(text) <= 128 and text.isalnum() and text.isupper()
            if not ok:
                raise BadInput(f"subject {text[:40]!r} is not an access key id (AKIA… or ASIA…)")
            return cls("session" if text.startswith("ASIA") else "key", text)
        if kind == "person":
            if "@" not in text:
                raise BadInput(f"subject {text[:60]!r} is not a person's user principal name (name@domain)")
            return cls(kind, text)
        arn = parse(text)
        if arn is None:
            raise BadInput(f"subject {text[:60]!r} is not an ARN (arn:partition:service:region:account:resource)")
        if kind == "principal" and principal(text).kind not in (ROLE, USER, ASSUMED_ROLE, ROOT):
            raise BadInput(f"subject {text[:60]!r} is not an IAM role, user, role session or account root ARN")
        return cls(kind, text, account_of(text))

    def as_facts(self) -> dict[str, Any]:
        """The facts' ``subject`` for a subject other than a key (a key keeps its own, richer, subject)."""
        return {"kind": self.kind, "id": self.id, "account_id": self.account_id}


def role_arn_param(value: Any) -> Subject:
    """A playbook's ``subject`` parameter that must name an IAM role."""
    s = Subject.parse("principal", value)
    if principal(s.id).kind != ROLE:
        raise BadInput(f"subject {s.id[:80]!r} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)")
    return s


def events_of(con: Any, subject: Subject, *, start: Any = None, end: Any = None) -> pd.DataFrame:
    """The subject's calls in the store ``con`` (a DuckDB connection over ``events``), oldest first, with the
    JSON columns parsed and a ``relation`` column: ``made`` (the subject, or a session of it, made the call),
    ``opened`` (an STS call that opened a session of it), ``named`` (a call naming it in its resources or
    request). Equality and JSON lookups only: linear in the store."""
    from iamkit.trail import parse_json_columns

    sid = subject.id
    window, args = "", []
    if start is not None:
        window += " AND event_time >= ?"
        args.append(start)
    if end is not None:
        window += " AND event_time <= ?"
        args.append(end)
    if subject.kind in ("key", "session"):
        where, params = "access_key_id = ?", [sid]
        relation = "'made'"
    elif subject.kind == "person":
        raise BadInput(
            "a person's calls come through Identity Center: correlate the person first "
            "(iamkit correlate UPN), then investigate the role sessions it names"
        )
    else:
        name_match = (
            "json_extract_string(request_parameters, '$.roleArn') = ? "
            "OR list_contains(json_extract_string(resources, '$[*].ARN'), ?)"
        )
        where = f"principal_arn = ? OR session_issuer_arn = ? OR {name_match}"
        params = [sid, sid, sid, sid]
        relation = (
            "CASE WHEN principal_arn = ? OR session_issuer_arn = ? THEN 'made' "
            f"WHEN event_name IN {ASSUME_CALLS!r} AND json_extract_string(request_parameters, '$.roleArn') = ? "
            "THEN 'opened' ELSE 'named' END"
        )
        params = [sid, sid, sid, *params]
    sql = f"SELECT *, {relation} AS relation FROM events WHERE ({where}){window} ORDER BY event_time, event_id"
    df = con.execute(sql, [*params, *args]).df()
    return parse_json_columns(df).reset_index(drop=True)


def caller_of(row: Any) -> str | None:
    """Who made a call, as a trust policy names principals: a session's role (its issuer), else the ARN."""
    issuer = row.get("session_issuer_arn") if hasattr(row, "get") else None
    if isinstance(issuer, str) and issuer:
        return issuer
    arn = row.get("principal_arn") if hasattr(row, "get") else None
    return arn if isinstance(arn, str) and arn else None
