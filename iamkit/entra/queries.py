"""What an investigation asks Graph about a person, as frames: profile, groups, MFA, sign-ins, risk, audits.

Each function takes a ``GraphClient`` and returns a typed frame; ``person`` fans the per-user calls out
through ``$batch`` and keeps going when one part fails (licence, permission), listing why in ``errors``
and ``skipped``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from iamkit.entra import frames as ef
from iamkit.entra.client import _iso, error_for
from iamkit.entra.errors import GraphError, GraphNotFound, LicenceRequired
from iamkit.errors import BadInput

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from iamkit.entra.client import GraphClient

USER_FIELDS = ["id", "userPrincipalName", "displayName", "mail", "department", "jobTitle", "accountEnabled",
               "userType", "createdDateTime", "onPremisesSyncEnabled", "onPremisesImmutableId"]


def parse_since(value: str | datetime | timedelta | None, *, now: datetime | None = None,
                default: timedelta = timedelta(days=14)) -> datetime:
    """A UTC start time from ``7d`` / ``36h`` / ``90m`` / an ISO date or time / a timedelta / a datetime."""
    now = now or datetime.now(UTC)
    if value is None or value == "":
        return now - default
    if isinstance(value, timedelta):
        return now - value
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    m = re.fullmatch(r"\s*(\d+)\s*([dhm])\s*", str(value))
    if m:
        n, unit = int(m.group(1)), m.group(2)
        return now - {"d": timedelta(days=n), "h": timedelta(hours=n), "m": timedelta(minutes=n)}[unit]
    try:
        t = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"--since {value!r}: use 7d, 36h, 90m or an ISO date/time") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _q(value: str) -> str:
    """An OData string literal (quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def _user_path(upn: str) -> str:
    if not upn or "/" in upn:
        raise BadInput(f"not a user principal name: {upn!r}")
    return f"users/{quote(upn, safe='@.')}"


def get_user(graph: GraphClient, upn: str, *, sign_in_activity: bool = True) -> dict:
    """The raw user object; ``signInActivity`` is asked for and dropped if the tenant lacks P1."""
    select = ",".join(USER_FIELDS + (["signInActivity"] if sign_in_activity else []))
    try:
        return graph.get(_user_path(upn), params={"$select": select}, save_as="user")
    except LicenceRequired:
        if not sign_in_activity:
            raise
        return graph.get(_user_path(upn), params={"$select": ",".join(USER_FIELDS)}, save_as="user")


def user(graph: GraphClient, upn: str) -> pd.DataFrame:
    """Frame ``entra_user`` for one UPN (raises ``GraphNotFound`` when there is no such user)."""
    return ef.user_frame([get_user(graph, upn)])


def groups(graph: GraphClient, upn: str, *, transitive: bool = True) -> pd.DataFrame:
    """Frame ``entra_groups``: the user's groups and directory roles (transitive by default)."""
    rel = "transitiveMemberOf" if transitive else "memberOf"
    return ef.groups_frame(upn, graph.get_all(f"{_user_path(upn)}/{rel}", save_as="memberOf"))


def auth_methods(graph: GraphClient, upn: str) -> pd.DataFrame:
    """Frame ``entra_auth_methods``."""
    return ef.methods_frame(upn, graph.get_all(f"{_user_path(upn)}/authentication/methods", save_as="methods"))


def mfa(graph: GraphClient, upn: str, user_id: str | None = None) -> pd.DataFrame:
    """Frame ``entra_mfa``: the registration report (P1), or derived from the registered methods without it."""
    uid = user_id or get_user(graph, upn, sign_in_activity=False)["id"]
    return _mfa_with_fallback(graph, upn, uid, None)


def signins(graph: GraphClient, upn: str | None = None, *, since: Any = None, until: datetime | None = None,
            noninteractive: bool = True, slice_: timedelta = timedelta(days=1)) -> pd.DataFrame:
    """Frame ``entra_signins`` in time slices (interactive from v1.0; non-interactive from beta)."""
    start = parse_since(since, now=graph.now())
    filt = f"userPrincipalName eq {_q(upn)}" if upn else None
    rows = graph.sliced("auditLogs/signIns", since=start, until=until, filter_=filt, slice_=slice_)
    if noninteractive:
        extra = "signInEventTypes/any(t: t eq 'nonInteractiveUser')"
        rows += graph.sliced(f"{graph.beta_url}/auditLogs/signIns", since=start, until=until,
                             filter_=f"{filt} and {extra}" if filt else extra, slice_=slice_,
                             save_as="signIns-noninteractive")
    return ef.signins_frame(rows)


def risky_users(graph: GraphClient, upn: str | None = None) -> pd.DataFrame:
    """Frame ``entra_risky_users`` (needs Entra ID P2)."""
    params = {"$filter": f"userPrincipalName eq {_q(upn)}"} if upn else None
    return ef.risky_users_frame(graph.get_all("identityProtection/riskyUsers", params=params, save_as="riskyUsers"))


def risk_detections(graph: GraphClient, upn: str | None = None, *, since: Any = None) -> pd.DataFrame:
    """Frame ``entra_risk_detections`` (needs Entra ID P2)."""
    clauses = [f"userPrincipalName eq {_q(upn)}"] if upn else []
    if since is not None:
        clauses.append(f"detectedDateTime ge {_iso(parse_since(since, now=graph.now()))}")
    params = {"$filter": " and ".join(clauses)} if clauses else None
    return ef.risk_detections_frame(graph.get_all("identityProtection/riskDetections", params=params,
                                                  save_as="riskDetections"))


def directory_audits(graph: GraphClient, upn: str | None = None, *, since: Any = None,
                     until: datetime | None = None, slice_: timedelta = timedelta(days=7)) -> pd.DataFrame:
    """Frame ``entra_directory_audits`` targeting ``upn`` (all when None), pulled in time slices."""
    filt = f"targetResources/any(t: t/userPrincipalName eq {_q(upn)})" if upn else None
    rows = graph.sliced("auditLogs/directoryAudits", since=parse_since(since, now=graph.now()), until=until,
                        time_field="activityDateTime", filter_=filt, slice_=slice_)
    return ef.directory_audits_frame(rows)


@dataclass
class EntraPerson:
    """Everything Entra says about one person; ``skipped`` maps a part to why (e.g. ``needs Entra ID P2``)."""

    upn: str
    profile: pd.DataFrame
    groups: pd.DataFrame
    methods: pd.DataFrame
    mfa: pd.DataFrame
    signins: pd.DataFrame
    risky_user: pd.DataFrame
    risk_detections: pd.DataFrame
    audits: pd.DataFrame
    errors: pd.DataFrame
    skipped: dict[str, str] = field(default_factory=dict)


def _error_row(part: str, err: GraphError | Exception, when: datetime) -> dict:
    code = getattr(err, "code", None) or type(err).__name__
    return {"account_id": None, "region": None, "operation": f"entra:{part}", "code": code,
            "message": str(err), "when": when}


def person(graph: GraphClient, upn: str, *, since: Any = None, noninteractive: bool = True) -> EntraPerson:
    """The person's Entra side: per-user calls in one ``$batch``, then the sliced sign-in and audit pulls."""
    from iamkit.frames import conform, empty

    now = graph.now()
    base = _user_path(upn)
    select = ",".join(USER_FIELDS + ["signInActivity"])
    by_upn = quote(f"userPrincipalName eq {_q(upn)}", safe="")
    subs = [
        {"id": "profile", "url": f"/{base}?$select={select}"},
        {"id": "groups", "url": f"/{base}/transitiveMemberOf"},
        {"id": "methods", "url": f"/{base}/authentication/methods"},
        {"id": "risky_user", "url": f"/identityProtection/riskyUsers?$filter={by_upn}"},
        {"id": "risk_detections", "url": f"/identityProtection/riskDetections?$filter={by_upn}"},
    ]
    answers = graph.batch(subs, save_as="person-batch")
    errors: list[dict] = []
    skipped: dict[str, str] = {}
    bodies: dict[str, Any] = {}
    for sub in subs:
        ans = answers.get(sub["id"], {"status": 0, "body": None})
        if ans["status"] >= 400 or ans["status"] == 0:
            err = error_for(ans["status"], ans.get("body"), graph.url(sub["url"]),
                            retry_after=None)
            bodies[sub["id"]] = err
            continue
        body = ans.get("body") or {}
        if "value" in body:  # a collection: follow its nextLinks outside the batch
            items = list(body["value"])
            if body.get("@odata.nextLink"):
                items += graph.get_all(body["@odata.nextLink"], save_as=sub["id"])
            body = items
        bodies[sub["id"]] = body
    prof = bodies["profile"]
    if isinstance(prof, LicenceRequired):
        try:
            prof = get_user(graph, upn, sign_in_activity=False)
        except GraphError as e:
            prof = e
    if isinstance(prof, GraphNotFound):
        raise prof
    if isinstance(prof, Exception):
        errors.append(_error_row("profile", prof, now))
        prof = None

    def part(name: str, build, *args):
        val = bodies.get(name)
        if isinstance(val, LicenceRequired):
            skipped[name] = val.skipped
            errors.append(_error_row(name, val, now))
            return None
        if isinstance(val, Exception):
            errors.append(_error_row(name, val, now))
            return None
        return build(*args, val)

    profile = ef.user_frame([prof]) if prof else empty("entra_user")
    grp = part("groups", ef.groups_frame, upn)
    meth_items = bodies.get("methods") if isinstance(bodies.get("methods"), list) else []
    meth = part("methods", ef.methods_frame, upn)
    risky = part("risky_user", ef.risky_users_frame)
    dets = part("risk_detections", ef.risk_detections_frame)

    def guarded(name: str, fn, *args, **kw):
        try:
            return fn(*args, **kw)
        except LicenceRequired as e:
            skipped[name] = e.skipped
            errors.append(_error_row(name, e, now))
        except GraphError as e:
            errors.append(_error_row(name, e, now))
        return None

    mfa_df = None
    if prof:
        mfa_df = guarded("mfa", _mfa_with_fallback, graph, upn, prof["id"], meth_items)
    sig = guarded("signins", signins, graph, upn, since=since, noninteractive=noninteractive)
    aud = guarded("audits", directory_audits, graph, upn, since=since)
    return EntraPerson(
        upn=upn, profile=profile, groups=grp if grp is not None else empty("entra_groups"),
        methods=meth if meth is not None else empty("entra_auth_methods"),
        mfa=mfa_df if mfa_df is not None else empty("entra_mfa"),
        signins=sig if sig is not None else empty("entra_signins"),
        risky_user=risky if risky is not None else empty("entra_risky_users"),
        risk_detections=dets if dets is not None else empty("entra_risk_detections"),
        audits=aud if aud is not None else empty("entra_directory_audits"),
        errors=conform(errors, "errors") if errors else empty("errors"), skipped=skipped)


def _mfa_with_fallback(graph: GraphClient, upn: str, uid: str, methods: list[dict] | None) -> pd.DataFrame:
    """The P1 registration report, else MFA derived from ``methods`` (fetched when not given)."""
    try:
        reg = graph.get(f"reports/authenticationMethods/userRegistrationDetails/{uid}", save_as="registration")
        return ef.mfa_frame(upn, reg)
    except LicenceRequired:
        if methods is None:
            methods = graph.get_all(f"{_user_path(upn)}/authentication/methods", save_as="methods")
        return ef.mfa_frame(upn, None, methods)
