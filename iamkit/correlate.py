"""Person correlation: an Entra user → Identity Center user → groups → assignments → roles → CloudTrail sessions.

``correlate(upn, graph=…, aws_session=…, trail=…)`` returns a ``PersonView``; any source may be missing
(the parts it would give are listed in ``skipped``), and a failing call lands in ``errors`` while the rest
goes on. The timeline puts Entra sign-ins and AWS sessions on one frame and says, for each AWS session,
whether the same person signed in to Entra from the same IP within minutes — or not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from iamkit.arn import ROLE, name_of
from iamkit.arn import principal as principal_of
from iamkit.aws.calls import ErrorLog, Scope
from iamkit.aws.collectors.identity_center import person
from iamkit.aws.session import as_context
from iamkit.frames import TS, B, F, I, J, S, error_row, register

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from iamkit.entra.client import GraphClient
    from iamkit.trail.backend import TrailBackend
    from iamkit.window import Window

SSO_PREFIX = "AWSReservedSSO_"

register(
    "person_identity_center_user",
    {
        "identity_store_id": S,
        "user_id": S,
        "user_name": S,
        "display_name": S,
        "emails": J,
        "external_ids": J,
        "matched_by": S,
    },
    "The Identity Center user matched to a UPN (matched_by: userName|email|externalId).",
)
register(
    "person_groups",
    {
        "source": S,
        "group_id": S,
        "display_name": S,
        "kind": S,
    },
    "A person's groups in Entra (source entra) and Identity Center (source identity_center).",
)
register(
    "person_assignments",
    {
        "account_id": S,
        "permission_set": S,
        "permission_set_arn": S,
        "principal_type": S,
        "principal_id": S,
        "principal_name": S,
        "via": S,
    },
    "Identity Center account assignments reaching the person (via: direct or group:<name>).",
)
register(
    "person_roles",
    {
        "account_id": S,
        "permission_set": S,
        "role_name": S,
        "role_arn": S,
        "via": S,
        "used": B,
    },
    "AWS roles the person can reach (AWSReservedSSO_<PermissionSet>_* per account) or was seen using.",
)
register(
    "person_sessions",
    {
        "kind": S,
        "account_id": S,
        "role_arn": S,
        "principal_arn": S,
        "session_name": S,
        "access_key_id": S,
        "first_seen": TS,
        "last_seen": TS,
        "events": I,
        "errors": I,
        "source_ips": J,
        "user_agents": J,
        "mfa": B,
        "origin": S,
        "direct_saml": B,
    },
    "CloudTrail sessions of the person: saml (AssumeRoleWithSAML), identity_center (portal, by "
    "onBehalfOf.userId), role_session (assumed-role session named after them), iam_user (their IAM users).",
)
register(
    "person_activity",
    {
        "event_time": TS,
        "kind": S,
        "account_id": S,
        "event_source": S,
        "event_name": S,
        "principal_arn": S,
        "session_name": S,
        "access_key_id": S,
        "source_ip": S,
        "user_agent": S,
        "error_code": S,
        "read_only": B,
        "event_id": S,
    },
    "What the person's AWS sessions did (CloudTrail events, oldest first).",
)
register(
    "person_timeline",
    {
        "time": TS,
        "source": S,
        "kind": S,
        "account_id": S,
        "what": S,
        "ip": S,
        "success": B,
        "detail": S,
        "nearest_signin": TS,
        "minutes_from_signin": F,
        "signin_ip": S,
        "ip_match": B,
        "time_match": B,
        "ip_seen_in_entra": S,
        "agreement": S,
    },
    "Entra sign-ins and AWS sessions on one frame; AWS rows carry the nearest successful Entra sign-in, "
    "whether its IP matches and whether it is within the window (agreement: a one-line verdict).",
)


@dataclass
class PersonView:
    """Everything iamkit knows about one person across Entra, Identity Center and CloudTrail."""

    upn: str
    profile: pd.DataFrame
    mfa: pd.DataFrame
    signins: pd.DataFrame
    groups: pd.DataFrame
    identity_center_user: pd.DataFrame
    assignments: pd.DataFrame
    roles: pd.DataFrame
    sessions: pd.DataFrame
    activity: pd.DataFrame
    timeline: pd.DataFrame
    errors: pd.DataFrame
    skipped: dict[str, str] = field(default_factory=dict)
    risk: pd.DataFrame | None = None  # risk detections (Entra ID P2)
    risky_user: pd.DataFrame | None = None
    audits: pd.DataFrame | None = None
    methods: pd.DataFrame | None = None

    def summary(self) -> dict[str, Any]:
        """A few headline facts (for the CLI and the notebook's first cell)."""
        p = self.profile.iloc[0] if len(self.profile) else None
        m = self.mfa.iloc[0] if len(self.mfa) else None
        risky = self.risky_user.iloc[0] if self.risky_user is not None and len(self.risky_user) else None
        disagree = (
            self.timeline[
                (self.timeline["source"] == "aws") & (self.timeline["agreement"].str.startswith("NO", na=False))
            ]
            if len(self.timeline)
            else self.timeline
        )
        return {
            "upn": self.upn,
            "display_name": None if p is None else p["display_name"],
            "account_enabled": None if p is None else _py(p["account_enabled"]),
            "mfa_registered": None if m is None else _py(m["is_mfa_registered"]),
            "mfa_at_signin": mfa_at_signin(self.signins),
            "mfa_signins": _mfa_counts(self.signins),
            "risk": None if risky is None else f"{risky['risk_level']} ({risky['risk_state']})",
            "signins": len(self.signins),
            "failed_signins": int((~self.signins["success"].fillna(True)).sum()) if len(self.signins) else 0,
            "identity_center_user": self.identity_center_user["user_id"].iloc[0]
            if len(self.identity_center_user)
            else None,
            "accounts": sorted(set(self.roles["account_id"].dropna())) if len(self.roles) else [],
            "roles": len(self.roles),
            "sessions": len(self.sessions),
            "aws_sessions_without_matching_signin": len(disagree),
            "errors": len(self.errors),
            "skipped": dict(self.skipped),
        }


def _successful(signins: pd.DataFrame) -> pd.DataFrame:
    return signins[signins["success"].fillna(False).astype(bool)] if len(signins) else signins


def _mfa_counts(signins: pd.DataFrame) -> dict[str, int]:
    """Successful sign-ins per MFA answer (yes / no / unknown), failed-MFA attempts apart (failed)."""
    from iamkit.entra.frames import MFA_ANSWERS

    ok = _successful(signins)
    counts = {a: int((ok["mfa"] == a).sum()) if len(ok) else 0 for a in MFA_ANSWERS if a != "failed"}
    counts["failed"] = int((signins["mfa"] == "failed").sum()) if len(signins) else 0
    return counts


def mfa_at_signin(signins: pd.DataFrame) -> str:
    """Did the person pass MFA when they signed in? ``no`` when a successful sign-in shows it did not,
    ``yes`` when every successful sign-in shows it did, otherwise ``unknown`` (no successful sign-in, or
    some that cannot say: v1.0 sign-ins never prove its absence). Never ``no`` without evidence."""
    ok = _successful(signins)
    if not len(ok):
        return "unknown"
    answers = set(ok["mfa"].fillna("unknown"))
    if "no" in answers:
        return "no"
    return "yes" if answers == {"yes"} else "unknown"


def skipped_messages(view: PersonView) -> list[str]:
    """One ``skipped: <part> — <why>`` line per part a source could not give (for notebooks and the CLI)."""
    return [f"skipped: {part} — {why}" for part, why in view.skipped.items()]


def _py(v: Any) -> Any:
    """A plain Python value from a frame cell (NA → None, numpy bool → bool)."""
    import pandas as pd

    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return None
    return v.item() if hasattr(v, "item") else v


# ---------------------------------------------------------------------------------------------- Identity Center
def identity_center(
    aws_session: Any, upn: str, *, entra_object_id: str | None = None, instance_arn: str | None = None
) -> tuple[dict, list[dict], list[dict], list[dict]]:
    """The Identity Center user for ``upn`` (userName, then email, then externalId), their groups and the
    account assignments reaching them (direct and through each group), read with the inventory's Identity
    Center reader through ``aws_session`` (an ``AwsContext`` or a boto3 session).
    Returns (user, groups, assignments, errors)."""
    log = ErrorLog()
    found = person(Scope(as_context(aws_session), log), upn, entra_object_id=entra_object_id, instance_arn=instance_arn)
    groups = [
        {"source": "identity_center", "group_id": g["group_id"], "display_name": g["display_name"], "kind": "group"}
        for g in found.groups
    ]
    return found.user, groups, found.assignments, log.rows


# ---------------------------------------------------------------------------------------------- CloudTrail
def _local_part(upn: str) -> str:
    return upn.split("@", 1)[0].lower()


def _values(value: Any) -> list:
    """A group's distinct values (``Dialect.distinct_json``: JSON array text; NULL for none) as a list."""
    import json

    if isinstance(value, str):
        return list(json.loads(value))
    try:
        return list(value)
    except TypeError:  # None, NA
        return []


def trail_sessions(
    backend: TrailBackend,
    upn: str,
    *,
    identity_center_user_id: str | None = None,
    iam_user_arns: list[str] | None = None,
    window: Window | None = None,
    activity_limit: int = 5000,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The person's CloudTrail sessions and what they did inside ``window`` (default: all): SAML federation,
    Identity Center portal calls, role sessions named after them, and their IAM users (given, or named after
    the UPN's local part). The same queries on every ``TrailBackend`` (its dialect, bounded by its scope)."""
    from iamkit.frames import conform
    from iamkit.trail.dialect import lit
    from iamkit.trail.predicates import Filters

    d, table = backend.dialect, backend.table
    low, local = upn.lower(), _local_part(upn)
    scope = backend.scope(Filters.make(window=window))
    arns = [a for a in (iam_user_arns or [])]
    rp = d.json_text("request_parameters", ["roleSessionName"])
    ui_name = d.json_text("user_identity", ["userName"])

    def select(cols: str, where: str, tail: str) -> list[dict]:
        return backend.rows(f"SELECT {cols}\nFROM {table}\nWHERE ({scope}) AND {where}\n{tail}")

    saml = select(
        f"recipient_account_id AS account_id, {d.json_text('request_parameters', ['roleArn'])} AS role_arn, "
        f"coalesce({rp}, {ui_name}) AS session_name, "
        f"{d.json_text('response_elements', ['credentials', 'accessKeyId'])} AS access_key_id, "
        "event_time, source_ip, user_agent, error_code",
        f"event_name = 'AssumeRoleWithSAML' AND (lower({rp}) = {lit(low)} OR lower({ui_name}) = {lit(low)} "
        f"OR lower({d.json_text('response_elements', ['subject'])}) = {lit(low)})",
        "ORDER BY event_time, event_id",
    )
    saml_keys = {r["access_key_id"] for r in saml if r["access_key_id"]}
    rows: list[dict] = []
    for r in saml:
        role_name = name_of(r["role_arn"] or "")
        rows.append(
            {
                "kind": "saml",
                "account_id": r["account_id"],
                "role_arn": r["role_arn"],
                "principal_arn": None,
                "session_name": r["session_name"],
                "access_key_id": r["access_key_id"],
                "first_seen": r["event_time"],
                "last_seen": r["event_time"],
                "events": 1,
                "errors": int(r["error_code"] is not None),
                "source_ips": [r["source_ip"]] if r["source_ip"] else [],
                "user_agents": [r["user_agent"]] if r["user_agent"] else [],
                "mfa": None,
                "origin": "AssumeRoleWithSAML",
                "direct_saml": not role_name.startswith(SSO_PREFIX),
            }
        )
    agg = (
        f"min(event_time) AS first_seen, max(event_time) AS last_seen, count(*) AS events, "
        f"count(error_code) AS errors, {d.distinct_json('source_ip')} AS source_ips, "
        f"{d.distinct_json('user_agent')} AS user_agents, bool_or(mfa_authenticated) AS mfa"
    )

    def session_row(r: dict, **kw: Any) -> dict:
        return {
            "first_seen": r["first_seen"],
            "last_seen": r["last_seen"],
            "events": r["events"],
            "errors": r["errors"],
            "source_ips": _values(r["source_ips"]),
            "user_agents": _values(r["user_agents"]),
            "mfa": r["mfa"],
        } | kw

    # one session per (key, source IP): a stolen key or session used from elsewhere gets its own row
    for r in select(
        f"recipient_account_id, session_issuer_arn, access_key_id, source_ip, "
        f"arbitrary(principal_arn) AS principal_arn, arbitrary(session_name) AS session_name, {agg}",
        f"identity_type = 'AssumedRole' AND lower(session_name) = {lit(low)}",
        "GROUP BY 1, 2, 3, 4 ORDER BY 7, 3, 4",
    ):
        key, issuer = r["access_key_id"], r["session_issuer_arn"]
        rows.append(
            session_row(
                r,
                kind="role_session",
                account_id=r["recipient_account_id"],
                role_arn=issuer,
                principal_arn=r["principal_arn"],
                session_name=r["session_name"],
                access_key_id=key,
                origin="AssumeRoleWithSAML" if key in saml_keys else "session name",
                direct_saml=key in saml_keys and not name_of(issuer or "").startswith(SSO_PREFIX),
            )
        )
    on_behalf = d.json_text("user_identity", ["onBehalfOf", "userId"])
    if identity_center_user_id:
        for r in select(
            f"recipient_account_id, {d.json_text('user_identity', ['credentialId'])} AS cred, {agg}",
            f"{on_behalf} = {lit(identity_center_user_id)}",
            "GROUP BY 1, 2 ORDER BY 3, 2",
        ):
            rows.append(
                session_row(
                    r,
                    kind="identity_center",
                    account_id=r["recipient_account_id"],
                    role_arn=None,
                    principal_arn=None,
                    session_name=r["cred"],
                    access_key_id=None,
                    origin="onBehalfOf.userId",
                    direct_saml=False,
                )
            )
    user_re = lit(r":user/(?:.*/)?([^/]+)$")
    iam_clause = f"(lower(regexp_extract(principal_arn, {user_re}, 1)) IN ({lit(local)}, {lit(low)})"
    if arns:
        iam_clause += " OR principal_arn IN (" + ", ".join(lit(a) for a in arns) + ")"
    iam_clause += ")"
    for r in select(
        f"principal_arn, access_key_id, recipient_account_id, source_ip AS ip, {agg}",
        f"identity_type = 'IAMUser' AND {iam_clause}",
        "GROUP BY 1, 2, 3, 4 ORDER BY 5, 1, 2, 4",
    ):
        principal = r["principal_arn"]
        rows.append(
            session_row(
                r,
                kind="iam_user",
                account_id=r["recipient_account_id"],
                role_arn=None,
                principal_arn=principal,
                session_name=None,
                access_key_id=r["access_key_id"],
                origin="given IAM user" if principal in arns else "IAM user named after the UPN",
                direct_saml=False,
            )
        )
    sessions = conform(rows, "person_sessions")
    if len(sessions):
        sessions = sessions.sort_values("first_seen", kind="stable").reset_index(drop=True)
    ic = f"{on_behalf} = {lit(identity_center_user_id)}" if identity_center_user_id else "FALSE"
    act = backend.query(f"""
        SELECT event_time,
               CASE WHEN identity_type = 'AssumedRole' THEN 'role_session'
                    WHEN identity_type = 'IAMUser' THEN 'iam_user'
                    WHEN event_name = 'AssumeRoleWithSAML' THEN 'saml' ELSE 'identity_center' END AS kind,
               recipient_account_id AS account_id, event_source, event_name, principal_arn, session_name,
               access_key_id, source_ip, user_agent, error_code, read_only, event_id
        FROM {table}
        WHERE ({scope}) AND (
              (identity_type = 'AssumedRole' AND lower(session_name) = {lit(low)})
           OR {ic}
           OR (event_name = 'AssumeRoleWithSAML' AND (lower({rp}) = {lit(low)} OR lower({ui_name}) = {lit(low)}))
           OR (identity_type = 'IAMUser' AND {iam_clause}))
        ORDER BY event_time, event_id LIMIT {int(activity_limit)}""")
    return sessions, conform(act, "person_activity")


# ---------------------------------------------------------------------------------------------- timeline
def build_timeline(
    signins: pd.DataFrame,
    sessions: pd.DataFrame,
    risk: pd.DataFrame | None = None,
    *,
    window: timedelta = timedelta(minutes=30),
) -> pd.DataFrame:
    """Entra sign-ins (and risk detections) and AWS sessions on one frame, oldest first.

    Each AWS row carries the nearest *successful* Entra sign-in (before or after), the minutes between them,
    whether the IPs match and whether it is within ``window``; ``ip_seen_in_entra`` says whether the AWS IP
    ever signed in to Entra (success), only failed there (failed_only), or never did (never).
    """
    import pandas as pd

    from iamkit.frames import conform

    rows: list[dict] = []
    cols = [
        "created",
        "is_interactive",
        "success",
        "app_display_name",
        "ip_address",
        "status_code",
        "failure_reason",
        "mfa",
        "risk_level",
        "city",
        "country",
    ]
    for s in _records(signins, cols):
        ok = s["success"]
        rows.append(
            {
                "time": s["created"],
                "source": "entra",
                "kind": ("signin" if ok else "signin_failed")
                if s["is_interactive"] is not False
                else ("token_refresh" if ok else "token_refresh_failed"),
                "account_id": None,
                "what": s["app_display_name"],
                "ip": s["ip_address"],
                "success": ok,
                "detail": _signin_detail(s),
            }
        )
    for r in risk.to_dict("records") if risk is not None and len(risk) else []:
        rows.append(
            {
                "time": r["detected"],
                "source": "entra",
                "kind": "risk",
                "account_id": None,
                "what": r["risk_event_type"],
                "ip": r["ip_address"],
                "success": None,
                "detail": f"{r['risk_level']} risk, {r['risk_state']}",
            }
        )
    good = signins[signins["success"].fillna(False).astype(bool)] if len(signins) else signins
    good_times = sorted(zip(good["created"], good["ip_address"], strict=True), key=lambda x: x[0]) if len(good) else []
    keys = [g[0] for g in good_times]
    good_ips = set(good["ip_address"].dropna()) if len(good) else set()
    bad_ips = (
        set(signins.loc[~signins["success"].fillna(True).astype(bool), "ip_address"].dropna())
        if len(signins)
        else set()
    )
    for s in _records(sessions, list(sessions.columns)):
        ips = list(s["source_ips"] or [])
        ip = ips[0] if ips else None
        t = s["first_seen"]
        near, delta, near_ip = None, None, None
        if good_times and t is not pd.NaT and t is not None:
            near, near_ip = _nearest(good_times, keys, t)
            delta = (t - near).total_seconds() / 60
        ip_match = bool(ip and near_ip and any(i == near_ip for i in ips)) if near is not None else False
        time_match = delta is not None and abs(delta) <= window.total_seconds() / 60
        seen = (
            "success"
            if any(i in good_ips for i in ips)
            else "failed_only"
            if any(i in bad_ips for i in ips)
            else "never"
        )
        if ip_match and time_match:
            verdict = f"yes: same IP, {abs(delta):.0f} min from an Entra sign-in"
        elif time_match:
            verdict = f"NO: different IP ({', '.join(ips) or '?'} vs {near_ip}) within {abs(delta):.0f} min"
        elif seen == "success":
            verdict = "partly: IP known from Entra sign-ins, but no sign-in within the window"
        elif seen == "failed_only":
            verdict = "NO: IP only seen in FAILED Entra sign-ins"
        else:
            verdict = "NO: no Entra sign-in from this IP" if good_times else "unknown: no Entra sign-ins"
        what = (
            "IAM Identity Center portal"
            if s["kind"] == "identity_center"
            else s["role_arn"] or s["principal_arn"] or s["session_name"]
        )
        rows.append(
            {
                "time": t,
                "source": "aws",
                "kind": s["kind"],
                "account_id": s["account_id"],
                "what": what,
                "ip": ip,
                "success": (s["errors"] or 0) < (s["events"] or 0),
                "detail": f"{s['events']} events, {s['errors']} errors, key {s['access_key_id'] or '-'}"
                f" ({s['origin']})",
                "nearest_signin": near,
                "minutes_from_signin": delta,
                "signin_ip": near_ip,
                "ip_match": ip_match,
                "time_match": time_match,
                "ip_seen_in_entra": seen,
                "agreement": verdict,
            }
        )
    df = conform(rows, "person_timeline")
    if len(df):
        df = df.sort_values("time", kind="stable").reset_index(drop=True)
    return df


def _records(df: pd.DataFrame, cols: list[str]) -> list[dict]:
    """Rows as dicts, built from whole columns (much faster than ``to_dict("records")`` on Arrow-backed frames)."""
    import pandas as pd

    if not len(df):
        return []
    data = [[None if v is pd.NA else v for v in df[c].tolist()] for c in cols]
    return [dict(zip(cols, values, strict=True)) for values in zip(*data, strict=True)]


def _nearest(items: list[tuple[Any, Any]], keys: list[Any], t: Any) -> tuple[Any, Any]:
    """The item whose time (``keys``, sorted) is closest to ``t`` (binary search; ties go to the earlier one)."""
    import bisect

    i = bisect.bisect_left(keys, t)
    if i == 0:
        return items[0]
    if i == len(keys):
        return items[-1]
    before, after = items[i - 1], items[i]
    return before if (t - before[0]) <= (after[0] - t) else after


def _signin_detail(s: dict) -> str:
    parts = []
    if s.get("status_code") not in (None, 0) and s.get("status_code") is not None:
        try:
            if int(s["status_code"]) != 0:
                parts.append(f"error {int(s['status_code'])}: {s.get('failure_reason') or ''}".strip())
        except (TypeError, ValueError):
            pass
    mfa = s.get("mfa")
    if mfa in ("yes", "no", "failed"):
        parts.append({"yes": "MFA", "no": "no MFA", "failed": "MFA failed"}[mfa])
    if s.get("risk_level") not in (None, "none", "hidden") and isinstance(s.get("risk_level"), str):
        parts.append(f"risk {s['risk_level']}")
    loc = ", ".join(x for x in (s.get("city"), s.get("country")) if isinstance(x, str) and x)
    if loc:
        parts.append(loc)
    return "; ".join(parts)


# ---------------------------------------------------------------------------------------------- correlate
def correlate(
    upn: str,
    *,
    graph: GraphClient | None = None,
    aws_session: Any = None,
    trail: TrailBackend | None = None,
    since: Any = None,
    until: Any = None,
    iam_user_arns: list[str] | None = None,
    instance_arn: str | None = None,
    window: timedelta = timedelta(minutes=30),
    noninteractive: bool | None = None,
) -> PersonView:
    """The person behind ``upn`` across Entra (``graph``), Identity Center (``aws_session``) and CloudTrail
    (``trail``: a ``TrailBackend``, e.g. ``iamkit.trail.open(db, read_only=True)``) between ``since`` (default
    14 days ago; ``7d``, an ISO date or time…) and ``until`` (default now). Missing sources are skipped."""
    import iamkit.entra.frames  # noqa: F401  (registers the entra_* frame schemas the empty parts use)
    from iamkit.errors import BadInput
    from iamkit.frames import conform, empty
    from iamkit.trail.backend import TrailBackend as Backend
    from iamkit.window import Window

    upn = (upn or "").strip()
    if not upn or "@" not in upn:
        raise BadInput(f"not a user principal name: {upn!r} (expected name@domain)")
    if trail is not None and not isinstance(trail, Backend):
        raise BadInput(
            f"trail must be a trail back end (iamkit.trail.open(db), iamkit.trail.open_athena(db)), "
            f"not a {type(trail).__name__}"
        )
    span = Window.parse(since, until, default_span=timedelta(days=14))
    start = span.start
    errors: list[dict] = []
    skipped: dict[str, str] = {}
    ep = None
    entra_groups = empty("entra_groups")
    if graph is not None:
        from iamkit.entra.errors import GraphError
        from iamkit.entra.queries import person

        try:
            ep = person(graph, upn, since=start, noninteractive=noninteractive)
            entra_groups = ep.groups
            skipped.update(ep.skipped)
        except GraphError as e:
            errors.append(error_row("entra:person", e.code or type(e).__name__, str(e)))
    else:
        skipped["entra"] = "no Graph client (connect with iamkit.entra.connect)"
    ic_user: dict = {}
    ic_groups: list[dict] = []
    assignments: list[dict] = []
    if aws_session is not None:
        oid = ep.profile["id"].iloc[0] if ep is not None and len(ep.profile) else None
        ic_user, ic_groups, assignments, errs = identity_center(
            aws_session, upn, entra_object_id=oid, instance_arn=instance_arn
        )
        errors += errs
    else:
        skipped["identity_center"] = "no AWS session"
    groups = conform(
        [
            {"source": "entra", "group_id": g["id"], "display_name": g["display_name"], "kind": g["kind"]}
            for g in entra_groups.to_dict("records")
        ]
        + ic_groups,
        "person_groups",
    )
    if trail is not None:
        try:
            sessions, activity = trail_sessions(
                trail, upn, identity_center_user_id=ic_user.get("user_id"), iam_user_arns=iam_user_arns, window=span
            )
        except Exception as e:  # a broken store must not lose the Entra/IC parts
            if type(e).__module__.startswith(("duckdb", "_duckdb")) or isinstance(e, BadInput):
                errors.append(error_row("trail:sessions", type(e).__name__, str(e).splitlines()[0]))
                sessions, activity = empty("person_sessions"), empty("person_activity")
            else:
                raise
    else:
        skipped["sessions"] = "no CloudTrail store"
        sessions, activity = empty("person_sessions"), empty("person_activity")
    roles = _roles(assignments, sessions)
    signins = ep.signins if ep is not None else empty("entra_signins")
    timeline = build_timeline(signins, sessions, ep.risk_detections if ep is not None else None, window=window)
    err_df = conform(errors, "errors") if errors else empty("errors")
    if ep is not None and len(ep.errors):
        import pandas as pd

        err_df = conform(pd.concat([ep.errors, err_df], ignore_index=True), "errors")
    return PersonView(
        upn=upn,
        profile=ep.profile if ep is not None else empty("entra_user"),
        mfa=ep.mfa if ep is not None else empty("entra_mfa"),
        signins=signins,
        groups=groups,
        identity_center_user=conform([ic_user], "person_identity_center_user")
        if ic_user
        else empty("person_identity_center_user"),
        assignments=conform(assignments, "person_assignments") if assignments else empty("person_assignments"),
        roles=roles,
        sessions=sessions,
        activity=activity,
        timeline=timeline,
        errors=err_df,
        skipped=skipped,
        risk=ep.risk_detections if ep is not None else None,
        risky_user=ep.risky_user if ep is not None else None,
        audits=ep.audits if ep is not None else None,
        methods=ep.methods if ep is not None else None,
    )


def permission_set_of(role_name: str) -> str | None:
    """The permission set an Identity Center role stands for (``AWSReservedSSO_<PermissionSet>_<hex>``), else None."""
    name = role_name or ""
    return name[len(SSO_PREFIX) :].rsplit("_", 1)[0] if name.startswith(SSO_PREFIX) else None


def _roles(assignments: list[dict], sessions: pd.DataFrame) -> pd.DataFrame:
    """Roles reachable through assignments (``AWSReservedSSO_<ps>_*``) plus roles seen in the person's sessions."""
    from iamkit.frames import conform

    seen: dict[tuple[str, str], str] = {}
    for s in sessions.to_dict("records") if len(sessions) else []:
        role = principal_of(s["role_arn"])
        if role.kind == ROLE:
            seen[(s["account_id"] or role.account, role.name)] = role.value
    rows: dict[tuple[str, str], dict] = {}
    for a in assignments:
        key = (a["account_id"], a["permission_set"])
        if key in rows:
            if a["via"] not in rows[key]["via"].split(", "):
                rows[key]["via"] += f", {a['via']}"
            continue
        prefix = f"{SSO_PREFIX}{a['permission_set']}_"
        hit = next(((acct, n) for (acct, n) in seen if acct == a["account_id"] and n.startswith(prefix)), None)
        rows[key] = {
            "account_id": a["account_id"],
            "permission_set": a["permission_set"],
            "role_name": hit[1] if hit else prefix + "*",
            "role_arn": seen[hit] if hit else None,
            "via": a["via"],
            "used": hit is not None,
        }
    covered = {(r["account_id"], r["role_name"]) for r in rows.values()}
    for (acct, name), arn in seen.items():
        if (acct, name) in covered:
            continue
        ps = permission_set_of(name)
        rows[(acct, name)] = {
            "account_id": acct,
            "permission_set": ps,
            "role_name": name,
            "role_arn": arn,
            "via": "trail" if ps else "direct SAML / session name",
            "used": True,
        }
    return conform(list(rows.values()), "person_roles")
