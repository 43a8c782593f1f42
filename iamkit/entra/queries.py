"""What an investigation asks Graph about a person, as frames: profile, groups, MFA, sign-ins, risk, audits.

Each function takes a ``GraphClient`` and returns a typed frame; ``person`` fans the per-user calls out
through ``$batch`` and keeps going when one part fails (licence, permission), listing why in ``errors``
and ``skipped``.

v1.0 by default. Graph beta is queried only when the client was built with ``beta=True`` (``connect(beta=True)``,
``IAMKIT_GRAPH_BETA=1``, ``--beta``): beta is what carries a sign-in's MFA fields and the non-interactive
sign-ins, and Microsoft does not support it in production, so using it is the analyst's choice, recorded in
each row's ``api_version``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from iamkit.entra import frames as ef
from iamkit.entra.client import _iso
from iamkit.entra.errors import GraphError, GraphNotFound, LicenceRequired, PermissionDenied
from iamkit.errors import BadInput
from iamkit.frames import error_row

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from iamkit.entra.client import GraphClient

USER_FIELDS = [
    "id",
    "userPrincipalName",
    "displayName",
    "mail",
    "department",
    "jobTitle",
    "accountEnabled",
    "userType",
    "createdDateTime",
    "onPremisesSyncEnabled",
    "onPremisesImmutableId",
]
BETA_ONLY = "only in Graph beta: connect(beta=True), IAMKIT_GRAPH_BETA=1 or --beta"
# Log pulls go in 30-day slices: the sign-in and audit logs keep 30 days (Entra ID P1/P2; learn.microsoft.com/
# entra/identity/monitoring-health/reference-reports-data-retention), so a person's pull is one request (plus
# pages) of the 5 per 10 s the reports allow; tenant-wide pulls pass a smaller ``slice_``.
SLICE = timedelta(days=30)


def parse_since(
    value: str | datetime | timedelta | None, *, now: datetime | None = None, default: timedelta = timedelta(days=14)
) -> datetime:
    """A UTC start time from ``7d`` / ``36h`` / ``90m`` / an ISO date or time / a timedelta / a datetime
    (the one window parser, ``iamkit.window``); empty: ``default`` before now."""
    from iamkit.window import Window

    return Window.parse(value, None, now=now, default_span=default, names=("--since", "--until")).start


def _q(value: str) -> str:
    """An OData string literal (quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def _user_path(upn: str) -> str:
    if not upn or "/" in upn:
        raise BadInput(f"not a user principal name: {upn!r}")
    return f"users/{quote(upn, safe='@.')}"


def sign_in_activity(graph: GraphClient, user_id: str) -> dict:
    """A user's ``signInActivity`` by object id: Graph refuses it by UPN ("Get By Key only supports UserId"),
    and it needs Entra ID P1 and AuditLog.Read.All (user resource page); raises the typed error otherwise."""
    try:
        oid = str(uuid.UUID(str(user_id)))
    except ValueError:
        raise BadInput(f"signInActivity is read by object id, not {user_id!r}") from None
    try:
        body = graph.get(f"users/{oid}", params={"$select": "id,signInActivity"}, save_as="signInActivity")
    except PermissionDenied as e:  # the path alone would name User.Read.All
        raise PermissionDenied(
            f"Graph denied signInActivity of {oid} (needs AuditLog.Read.All): {e}",
            permission="AuditLog.Read.All",
            status=e.status,
            code=e.code,
            request_id=e.request_id,
            url=e.url,
        ) from None
    return body.get("signInActivity") or {}


def get_user(graph: GraphClient, upn: str, *, activity: bool = True, skipped: dict[str, str] | None = None) -> dict:
    """The raw user object by UPN, then (``activity``) its ``signInActivity`` by object id; a licence or
    permission refusal of the latter leaves it out (and says why in ``skipped`` when given)."""
    user_ = graph.get(_user_path(upn), params={"$select": ",".join(USER_FIELDS)}, save_as="user")
    if activity and user_.get("id"):
        try:
            user_["signInActivity"] = sign_in_activity(graph, user_["id"])
        except LicenceRequired as e:
            if skipped is not None:
                skipped["last_sign_in"] = e.skipped
        except PermissionDenied as e:
            if skipped is not None:
                skipped["last_sign_in"] = f"needs {e.permission}"
    return user_


def user(graph: GraphClient, upn: str, *, skipped: dict[str, str] | None = None) -> pd.DataFrame:
    """Frame ``entra_user`` for one UPN (raises ``GraphNotFound`` when there is no such user)."""
    return ef.user_frame([get_user(graph, upn, skipped=skipped)])


def groups(graph: GraphClient, upn: str, *, transitive: bool = True) -> pd.DataFrame:
    """Frame ``entra_groups``: the user's groups and directory roles (transitive by default)."""
    rel = "transitiveMemberOf" if transitive else "memberOf"
    return ef.groups_frame(upn, graph.get_all(f"{_user_path(upn)}/{rel}", save_as="memberOf"))


def auth_methods(graph: GraphClient, upn: str) -> pd.DataFrame:
    """Frame ``entra_auth_methods``."""
    return ef.methods_frame(upn, graph.get_all(f"{_user_path(upn)}/authentication/methods", save_as="methods"))


def mfa(graph: GraphClient, upn: str, user_id: str | None = None) -> pd.DataFrame:
    """Frame ``entra_mfa``: the registration report (P1), or derived from the registered methods without it."""
    uid = user_id or get_user(graph, upn, activity=False)["id"]
    return _mfa_with_fallback(graph, upn, uid, None)


def signins(
    graph: GraphClient,
    upn: str | None = None,
    *,
    since: Any = None,
    until: datetime | None = None,
    noninteractive: bool | None = None,
    beta: bool | None = None,
    slice_: timedelta = SLICE,
) -> pd.DataFrame:
    """Frame ``entra_signins`` in time slices.

    v1.0 (the default) lists interactive sign-ins without their MFA fields, so ``mfa`` is often ``unknown``;
    with ``beta`` (default: the client's setting) both interactive and non-interactive sign-ins come from beta
    with ``authenticationRequirement``. ``noninteractive`` (default: when beta) needs beta.
    """
    beta = graph.beta if beta is None else beta
    noninteractive = beta if noninteractive is None else noninteractive
    if noninteractive and not beta:
        raise BadInput(f"non-interactive sign-ins are {BETA_ONLY}")
    start = parse_since(since, now=graph.now())
    filt = f"userPrincipalName eq {_q(upn)}" if upn else None
    base = f"{graph.beta_url}/auditLogs/signIns" if beta else "auditLogs/signIns"
    version = "beta" if beta else "v1.0"
    frames_ = [
        ef.signins_frame(
            graph.sliced(base, since=start, until=until, filter_=filt, slice_=slice_, save_as=f"signIns-{version}"),
            version,
        )
    ]
    if noninteractive:
        extra = "signInEventTypes/any(t: t eq 'nonInteractiveUser')"
        frames_.append(
            ef.signins_frame(
                graph.sliced(
                    base,
                    since=start,
                    until=until,
                    slice_=slice_,
                    filter_=f"{filt} and {extra}" if filt else extra,
                    save_as="signIns-beta-noninteractive",
                ),
                version,
            )
        )
    return _concat_signins(frames_)


def _concat_signins(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Sign-in frames as one (deduplicated, newest first)."""
    import pandas as pd

    from iamkit.frames import conform

    parts = [p for p in parts if len(p)]
    if not parts:
        return ef.signins_frame([])
    df = conform(pd.concat(parts, ignore_index=True), "entra_signins")
    return df.drop_duplicates("id").sort_values("created", ascending=False, kind="stable").reset_index(drop=True)


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
    return ef.risk_detections_frame(
        graph.get_all("identityProtection/riskDetections", params=params, save_as="riskDetections")
    )


def directory_audits(
    graph: GraphClient,
    upn: str | None = None,
    *,
    since: Any = None,
    until: datetime | None = None,
    slice_: timedelta = SLICE,
) -> pd.DataFrame:
    """Frame ``entra_directory_audits`` targeting ``upn`` (all when None), pulled in time slices."""
    filt = f"targetResources/any(t: t/userPrincipalName eq {_q(upn)})" if upn else None
    rows = graph.sliced(
        "auditLogs/directoryAudits",
        since=parse_since(since, now=graph.now()),
        until=until,
        time_field="activityDateTime",
        filter_=filt,
        slice_=slice_,
    )
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
    return error_row(f"entra:{part}", getattr(err, "code", None) or type(err).__name__, str(err), when=when)


def person(graph: GraphClient, upn: str, *, since: Any = None, noninteractive: bool | None = None) -> EntraPerson:
    """The person's Entra side: the per-user directory calls in one ``$batch``, then the paced report and
    Identity Protection calls (sign-in activity by object id, MFA registration, sign-ins, audits, risk).

    The two Identity Protection calls (1 request per second per tenant) are placed apart, the risky-user look-up
    in the batch and the detections last, so the pacing rarely has to wait.
    """
    from iamkit.frames import conform, empty

    now = graph.now()
    base = _user_path(upn)
    by_upn = quote(f"userPrincipalName eq {_q(upn)}", safe="")
    subs = [
        {"id": "profile", "url": f"/{base}?$select={','.join(USER_FIELDS)}"},
        {"id": "groups", "url": f"/{base}/transitiveMemberOf"},
        {"id": "methods", "url": f"/{base}/authentication/methods"},
        {"id": "risky_user", "url": f"/identityProtection/riskyUsers?$filter={by_upn}"},
    ]
    answers = graph.batch(subs, save_as="person-batch")
    errors: list[dict] = []
    skipped: dict[str, str] = {}
    bodies: dict[str, Any] = {}
    for sub in subs:
        ans = answers.get(sub["id"], {"status": 0, "body": None})
        if ans["status"] >= 400 or ans["status"] == 0:
            bodies[sub["id"]] = graph.error_for(ans["status"], ans.get("body"), graph.url(sub["url"]))
            continue
        body = ans.get("body") or {}
        if "value" in body:  # a collection: follow its nextLinks outside the batch
            items = list(body["value"])
            if body.get("@odata.nextLink"):
                items += graph.get_all(body["@odata.nextLink"], save_as=sub["id"])
            body = items
        bodies[sub["id"]] = body
    prof = bodies["profile"]
    if isinstance(prof, GraphNotFound):
        raise prof
    if isinstance(prof, Exception):
        errors.append(_error_row("profile", prof, now))
        prof = None

    def note(name: str, err: GraphError) -> None:
        if isinstance(err, LicenceRequired):
            skipped[name] = err.skipped
        elif isinstance(err, PermissionDenied) and err.permission:
            skipped[name] = f"needs {err.permission}"
        errors.append(_error_row(name, err, now))

    def part(name: str, build, *args):
        val = bodies.get(name)
        if isinstance(val, GraphError):
            note(name, val)
            return None
        return build(*args, val)

    def guarded(name: str, fn, *args, **kw):
        try:
            return fn(*args, **kw)
        except GraphError as e:
            note(name, e)
        return None

    if prof:
        activity = guarded("last_sign_in", sign_in_activity, graph, prof["id"])
        if activity is not None:
            prof = {**prof, "signInActivity": activity}
    profile = ef.user_frame([prof]) if prof else empty("entra_user")
    grp = part("groups", ef.groups_frame, upn)
    meth_items = bodies.get("methods") if isinstance(bodies.get("methods"), list) else []
    meth = part("methods", ef.methods_frame, upn)
    risky = part("risky_user", ef.risky_users_frame)
    mfa_df = guarded("mfa", _mfa_with_fallback, graph, upn, prof["id"], meth_items) if prof else None
    beta = graph.beta
    noninteractive = beta if noninteractive is None else noninteractive and beta
    if not beta:
        skipped["signins_beta"] = f"non-interactive sign-ins and a sign-in's 'no MFA' are {BETA_ONLY}"
    sig = guarded("signins", signins, graph, upn, since=since, noninteractive=noninteractive, beta=beta)
    aud = guarded("audits", directory_audits, graph, upn, since=since)
    dets = guarded("risk_detections", risk_detections, graph, upn)
    return EntraPerson(
        upn=upn,
        profile=profile,
        groups=grp if grp is not None else empty("entra_groups"),
        methods=meth if meth is not None else empty("entra_auth_methods"),
        mfa=mfa_df if mfa_df is not None else empty("entra_mfa"),
        signins=sig if sig is not None else empty("entra_signins"),
        risky_user=risky if risky is not None else empty("entra_risky_users"),
        risk_detections=dets if dets is not None else empty("entra_risk_detections"),
        audits=aud if aud is not None else empty("entra_directory_audits"),
        errors=conform(errors, "errors") if errors else empty("errors"),
        skipped=skipped,
    )


def _mfa_with_fallback(graph: GraphClient, upn: str, uid: str, methods: list[dict] | None) -> pd.DataFrame:
    """The P1 registration report, else (no P1, or no AuditLog.Read.All) MFA derived from ``methods`` (fetched
    when not given); the frame's ``source`` says which."""
    try:
        reg = graph.get(f"reports/authenticationMethods/userRegistrationDetails/{uid}", save_as="registration")
        return ef.mfa_frame(upn, reg)
    except (LicenceRequired, PermissionDenied):
        if methods is None:
            methods = graph.get_all(f"{_user_path(upn)}/authentication/methods", save_as="methods")
        return ef.mfa_frame(upn, None, methods)
