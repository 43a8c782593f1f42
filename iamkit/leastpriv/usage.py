"""What a principal used in a window: every (IAM action, resource) its CloudTrail calls needed.

``usage(backend, principal, window)`` reads the principal's calls from any trail back end (the DuckDB store or
Athena, through ``TrailBackend.events``) and turns each into the authorizations it needed
(``iamkit.leastpriv.actions``). A principal is a role (its sessions), an IAM user, or an Identity Center
permission set (``permission-set/NAME``: its ``AWSReservedSSO_NAME_…`` role in every account). Calls IAM did
not allow (denied), calls needing no permission and calls the catalogue cannot map are kept apart with the
reason, never silently dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from iamkit import arn as arns
from iamkit.errors import BadInput
from iamkit.frames import register
from iamkit.leastpriv.actions import authorizations
from iamkit.trail.outcome import is_denied
from iamkit.window import Window

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from iamkit.trail.backend import TrailBackend

register(
    "leastpriv_uses",
    {
        "event_id": "string",
        "event_time": "ts",
        "event_source": "string",
        "event_name": "string",
        "action": "string",
        "resource": "string",
        "note": "string",
        "companion_of": "string",
        "via": "string",
        "account_id": "string",
        "region": "string",
        "role_arn": "string",
        "source_ip": "string",
        "outcome": "string",
    },
    "leastpriv usage: one row per authorization a call of the principal needed (action, resource; "
    "resource '*' with the reason in note).",
)
register(
    "leastpriv_skipped",
    {
        "event_id": "string",
        "event_time": "ts",
        "event_source": "string",
        "event_name": "string",
        "account_id": "string",
        "reason": "string",
    },
    "leastpriv usage: the principal's calls that grant nothing (denied, no permission needed, unmapped).",
)

_PS = re.compile(r"(?:permission-set[/:])?(?P<name>[\w+=,.@-]{1,32})")
_SSO_ROLE = re.compile(r":role/aws-reserved/sso\.amazonaws\.com/(?:[\w-]+/)?AWSReservedSSO_(?P<ps>.+)_[0-9a-f]{16}$")


@dataclass(frozen=True)
class Principal:
    """Whose usage: ``kind`` role | user | permission-set, ``arn`` (role/user) or ``name`` (permission set)."""

    kind: str
    arn: str = ""
    name: str = ""

    @property
    def label(self) -> str:
        return self.arn or f"permission-set/{self.name}"

    @classmethod
    def parse(cls, text: str) -> Principal:
        """A role or user ARN, or ``permission-set/NAME``; anything else is a one-line BadInput."""
        t = str(text or "").strip()
        if t.startswith("permission-set/") or t.startswith("permission-set:"):
            m = _PS.fullmatch(t)
            if not m:
                raise BadInput(f"not a permission set name: {t[:80]!r}")
            return cls("permission-set", name=m.group("name"))
        p = arns.parse(t)
        if p is None or p.service not in ("iam", "sts"):
            raise BadInput(f"not a principal: {t[:80]!r} (a role or user ARN, or permission-set/NAME)")
        if p.service == "sts" and ":assumed-role/" in t:
            role = arns.role_of_session(t)
            if role:
                return cls("role", arn=role)
        if ":role/" in t:
            return cls("role", arn=t)
        if ":user/" in t:
            return cls("user", arn=t)
        raise BadInput(f"not a role or user ARN: {t[:80]!r} (or permission-set/NAME)")


@dataclass
class Usage:
    """A principal's usage over a window: ``uses`` (one row per authorization, ``leastpriv_uses``), ``skipped``
    (calls that grant nothing, ``leastpriv_skipped``), the roles it came through, service-last-accessed data."""

    principal: Principal
    window: Window
    uses: pd.DataFrame
    skipped: pd.DataFrame
    events: int
    roles: list[str] = field(default_factory=list)
    last_accessed: list[dict[str, Any]] = field(default_factory=list)
    last_accessed_note: str = ""

    @property
    def actions(self) -> list[str]:
        return sorted(set(self.uses["action"])) if len(self.uses) else []


def _record(row: dict[str, Any]) -> dict[str, Any]:
    """An events-frame row in CloudTrail's field names (what ``authorizations`` reads)."""
    return {
        "eventSource": row.get("event_source"),
        "eventName": row.get("event_name"),
        "requestParameters": row.get("request_parameters"),
        "resources": row.get("resources"),
        "recipientAccountId": row.get("recipient_account_id"),
        "awsRegion": row.get("aws_region"),
    }


def _value(v: Any) -> Any:
    """pandas' missing values (NA, NaT, NaN) as None; everything else as it is."""
    if v is None or isinstance(v, dict | list | str):
        return v
    try:
        return None if v != v or v is getattr(v, "NA", object()) else v
    except TypeError:  # pd.NA: comparing it gives NA, whose truth value raises
        return None


def uses_of(events: pd.DataFrame) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(authorization rows, skipped rows) of an events frame."""
    uses, skipped = [], []
    for raw in events.to_dict(orient="records"):
        row = {k: _value(v) for k, v in raw.items()}
        base = {
            "event_id": row.get("event_id"),
            "event_time": row.get("event_time"),
            "event_source": row.get("event_source"),
            "event_name": row.get("event_name"),
            "account_id": row.get("recipient_account_id"),
        }
        if row.get("event_type") not in (None, "AwsApiCall"):
            skipped.append({**base, "reason": f"{row.get('event_type')}: not an API call IAM policies decide"})
            continue
        code = row.get("error_code")
        if is_denied(code):
            skipped.append({**base, "reason": f"denied ({code}): not used, not granted"})
            continue
        needs, why = authorizations(_record(row))
        if not needs:
            skipped.append({**base, "reason": why})
            continue
        ui = row.get("user_identity") if isinstance(row.get("user_identity"), dict) else {}
        via = ui.get("invokedBy") or ""
        for n in needs:
            uses.append(
                {
                    **base,
                    "action": n.action,
                    "resource": n.resource,
                    "note": n.note,
                    "companion_of": n.companion_of,
                    "via": via,
                    "region": row.get("aws_region"),
                    "role_arn": row.get("session_issuer_arn"),
                    "source_ip": row.get("source_ip"),
                    "outcome": "failed" if code else "succeeded",
                }
            )
    return uses, skipped


def _sso_roles(backend: TrailBackend, name: str, window: Window) -> list[str]:
    """The ``AWSReservedSSO_NAME_…`` roles the store saw, in every account."""
    from iamkit.trail.dialect import lit
    from iamkit.trail.predicates import Filters

    needle = lit(f"AWSReservedSSO_{name}_")
    q = (
        f"SELECT DISTINCT session_issuer_arn AS arn FROM {backend.table} WHERE {backend.scope(Filters(window))} "
        f"AND strpos(session_issuer_arn, {needle}) > 0"
    )
    out = []
    for r in backend.rows(q):
        m = _SSO_ROLE.search(str(r.get("arn") or ""))
        if m and m.group("ps") == name:
            out.append(r["arn"])
    return sorted(out)


def usage(
    backend: TrailBackend, principal: Principal | str, window: Window | None = None, *, inventory: Any = None
) -> Usage:
    """The authorizations ``principal`` needed in ``window`` (default: everything in the store), read from
    ``backend``; service-last-accessed rows from ``inventory`` (posture ``iam.service_last_accessed``) when
    it has them."""
    import pandas as pd

    from iamkit.frames import conform

    p = principal if isinstance(principal, Principal) else Principal.parse(principal)
    w = Window.of(window)
    if p.kind == "permission-set":
        roles = _sso_roles(backend, p.name, w)
    else:
        roles = [p.arn] if p.kind == "role" else []
    frames = []
    for who in roles or ([p.arn] if p.kind == "user" else []):
        df = backend.events(window=w, principal=who)
        if p.kind == "role":  # exact: the role's sessions only (the filter also matches names)
            df = df[df["session_issuer_arn"] == who]
        elif p.kind == "user":
            df = df[(df["principal_arn"] == who) & (df["identity_type"] == "IAMUser")]
        else:
            df = df[df["session_issuer_arn"] == who]
        frames.append(df)
    events = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    uses, skipped = uses_of(events) if len(events) else ([], [])
    last, note = last_accessed(inventory, [p.arn] if p.arn else roles)
    return Usage(
        p, w, conform(uses, "leastpriv_uses"), conform(skipped, "leastpriv_skipped"), len(events), roles, last, note
    )


def last_accessed(inventory: Any, arns_: list[str]) -> tuple[list[dict[str, Any]], str]:
    """Service-last-accessed rows of these principals from an inventory, and a note when there are none."""
    if inventory is None:
        return [], "no inventory given: service-last-accessed data not read"
    posture = getattr(inventory, "posture", None)
    rows = []
    if posture is not None and len(posture):
        sel = posture[(posture["control"] == "iam.service_last_accessed") & posture["resource_arn"].isin(arns_)]
        for r in sel.to_dict(orient="records"):
            d = r.get("detail") or {}
            for s in (d.get("services") if isinstance(d, dict) else None) or []:
                rows.append({"principal_arn": r["resource_arn"], **s})
    if rows:
        return rows, ""
    errors = getattr(inventory, "errors", None)
    if (
        errors is not None
        and len(errors)
        and errors["operation"].astype(str).str.contains("ServiceLastAccessed", na=False).any()
    ):
        return [], "the account does not provide service-last-accessed data (the call failed; see errors)"
    return [], "no service-last-accessed data in the inventory for this principal (not collected, or unsupported)"
