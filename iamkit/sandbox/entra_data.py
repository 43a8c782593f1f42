"""The Entra side of a seeded organization: users, groups, MFA, sign-ins, risk and audits as Graph JSON.

Pure data, deterministic for a seed: the same people as the AWS Identity Center, 14 days of sign-ins from
each person's home IP, and (when the scripted incident names an IAM user that belongs to a person) the
attacker's failed sign-ins and the risk they raised, minutes before the leaked key is used.

Sign-ins are stored in their beta shape (the superset); the fake Graph (``iamkit.sandbox.entra``) cuts them
to the v1.0 field set on /v1.0. What really happened about MFA in each sign-in is kept apart, in
``Directory.signin_mfa`` (never served): the answer key the client's MFA derivation is checked against.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from iamkit.sandbox.model import Person, SeededOrg

NS = uuid.UUID("6f1b7d5e-3c1a-4e0b-9a52-1d7c7f0e6a11")
APPS = {  # display name -> app id (stable fake GUIDs)
    "AWS IAM Identity Center": "6b1c1a11-aws0-4d1e-9c2a-000000000001",
    "Office 365 Exchange Online": "00000002-0000-0ff1-ce00-000000000000",
    "Microsoft Teams": "1fec8e78-bce4-4aaf-ab1b-5451cc387264",
    "Microsoft Authentication Broker": "29d9ed98-a469-4536-ade2-f981bc1d605e",
}
AWS_APP = "AWS IAM Identity Center"
METHOD_TYPES = {
    "password": "passwordAuthenticationMethod",
    "microsoftAuthenticator": "microsoftAuthenticatorAuthenticationMethod",
    "phone": "phoneAuthenticationMethod",
    "fido2": "fido2AuthenticationMethod",
    "softwareOath": "softwareOathAuthenticationMethod",
    "email": "emailAuthenticationMethod",
    "windowsHelloForBusiness": "windowsHelloForBusinessAuthenticationMethod",
    "temporaryAccessPass": "temporaryAccessPassAuthenticationMethod",
}
STRONG = {"microsoftAuthenticator", "phone", "fido2", "softwareOath", "windowsHelloForBusiness"}
# How a method shows in a sign-in's authenticationDetails / mfaDetail (beta): the labels the sign-in log uses.
MFA_LABELS = {
    "microsoftAuthenticator": "Mobile app notification",
    "phone": "Text message",
    "fido2": "FIDO2 security key",
    "softwareOath": "OATH verification code",
    "windowsHelloForBusiness": "Windows Hello for Business",
}
# status.additionalDetails of a successful MFA sign-in, as the real log words them: a fresh prompt, or a
# token that already carried the MFA claim. Both are in v1.0 (signInStatus.additionalDetails).
MFA_PROMPTED = "MFA completed in Azure AD"
MFA_FROM_TOKEN = "MFA requirement satisfied by claim in the token"


def _id(*parts: object) -> str:
    return str(uuid.uuid5(NS, "/".join(str(p) for p in parts)))


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Directory:
    """Everything the fake Graph serves, keyed the way Graph answers."""

    tenant_id: str
    domain: str
    users: dict[str, dict] = field(default_factory=dict)  # object id -> user
    groups: dict[str, dict] = field(default_factory=dict)  # object id -> group or directoryRole
    member_of: dict[str, list[str]] = field(default_factory=dict)  # user id -> group ids
    methods: dict[str, list[dict]] = field(default_factory=dict)  # user id -> auth methods
    registration: dict[str, dict] = field(default_factory=dict)  # user id -> userRegistrationDetails
    signins: list[dict] = field(default_factory=list)
    signin_mfa: dict[str, str] = field(default_factory=dict)  # sign-in id -> yes|no|failed (ground truth)
    risky_users: list[dict] = field(default_factory=list)
    risk_detections: list[dict] = field(default_factory=list)
    audits: list[dict] = field(default_factory=list)

    def user(self, key: str) -> dict | None:
        """A user by object id or (case-insensitive) UPN."""
        if key in self.users:
            return self.users[key]
        low = key.lower()
        return next((u for u in self.users.values() if u["userPrincipalName"].lower() == low), None)

    def add_signin(self, record: dict, mfa: str) -> None:
        """Add a sign-in and what really happened about MFA in it (yes, no, failed)."""
        self.signins.append(record)
        self.signin_mfa[record["id"]] = mfa


def incident_person(org: SeededOrg) -> Person | None:
    """The person behind the incident: the one it names (``details.upn``), or the one behind its IAM user."""
    inc = org.incident
    if inc and inc.details.get("upn"):
        return next((p for p in org.people if p.upn == inc.details["upn"]), None)
    if not inc or not inc.user_arn:
        return None
    user = next((u for u in org.users if u.arn == inc.user_arn), None)
    upn = user.person if user else None
    if not upn:
        upn = next((p.upn for p in org.people if inc.user_arn in p.iam_users), None)
    return next((p for p in org.people if p.upn == upn), None)


def _parse(ts: str) -> datetime | None:
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, AttributeError):
        return None


def mfa_truth(error: int, mfa: bool) -> str:
    """What really happened about MFA: ``yes`` (passed), ``failed`` (500121: the MFA step failed) or ``no``
    (single factor, or the sign-in failed before any MFA step)."""
    if error == 500121:
        return "failed"
    return "yes" if error == 0 and mfa else "no"


def _signin(
    p: Person,
    when: datetime,
    ip: str,
    app: str,
    *,
    interactive: bool = True,
    error: int = 0,
    reason: str = "",
    mfa: bool = True,
    risk: str = "none",
    risk_state: str = "none",
    risk_types: list[str] | None = None,
    ua: str = "",
    city: str = "Seattle",
    country: str = "US",
    seq: int = 0,
) -> dict:
    """One sign-in in its beta shape. ``mfa``: the person passes MFA (when the password was right).

    The MFA-bearing fields follow the sign-in log: beta's ``authenticationRequirement``, ``mfaDetail`` and
    ``authenticationDetails`` say it outright; v1.0 only carries ``status.additionalDetails``, which names MFA
    on a successful MFA sign-in and is empty on a single-factor one (so v1.0 alone cannot tell "no MFA").
    """
    required = (mfa and error in (0, 500121)) or error == 500121
    ok = error == 0
    method = next((m for m in p.mfa_methods if m in STRONG), "microsoftAuthenticator")
    from_token = ok and required and (not interactive or seq % 2 == 0)
    label = "Previously satisfied" if from_token else MFA_LABELS.get(method, "Mobile app notification")
    steps = [
        {
            "authenticationStepDateTime": _iso(when),
            "authenticationMethod": "Password",
            "authenticationMethodDetail": "Password in the cloud",
            "succeeded": error != 50126,
            "authenticationStepResultDetail": "Correct password"
            if error != 50126
            else "Invalid username or password or Invalid on-premise username or password.",
            "authenticationStepRequirement": "Primary authentication",
        }
    ]
    if required and error != 50126:
        steps.append(
            {
                "authenticationStepDateTime": _iso(when),
                "authenticationMethod": label,
                "authenticationMethodDetail": None,
                "succeeded": ok,
                "authenticationStepResultDetail": (MFA_FROM_TOKEN if from_token else "MFA successfully completed")
                if ok
                else "MFA denied; user did not respond to mobile app notification",
                "authenticationStepRequirement": "Multifactor authentication",
            }
        )
    details = (MFA_FROM_TOKEN if from_token else MFA_PROMPTED) if ok and required else None
    return {
        "id": _id("signin", p.upn, when.isoformat(), ip, app, seq),
        "createdDateTime": _iso(when),
        "userDisplayName": p.display_name,
        "userPrincipalName": p.upn,
        "userId": p.entra_object_id,
        "appId": APPS.get(app, _id("app", app)),
        "appDisplayName": app,
        "ipAddress": ip,
        "clientAppUsed": "Browser" if interactive else "Mobile Apps and Desktop clients",
        "correlationId": _id("corr", p.upn, when.isoformat(), seq),
        "conditionalAccessStatus": "success" if error == 0 else ("failure" if error == 53003 else "notApplied"),
        "isInteractive": interactive,
        "signInEventTypes": ["interactiveUser" if interactive else "nonInteractiveUser"],
        "riskDetail": "none",
        "riskLevelAggregated": risk,
        "riskLevelDuringSignIn": risk,
        "riskState": risk_state,
        "riskEventTypes": risk_types or [],
        "riskEventTypes_v2": risk_types or [],
        "resourceDisplayName": app,
        "resourceId": APPS.get(app, _id("app", app)),
        "authenticationRequirement": "multiFactorAuthentication" if required else "singleFactorAuthentication",
        "mfaDetail": {"authMethod": label, "authDetail": None} if required and error != 50126 else None,
        "authenticationDetails": steps,
        "userAgent": ua or "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
        # a success carries failureReason "Other." in the real log; additionalDetails names MFA when it happened
        "status": {"errorCode": error, "failureReason": reason or "Other.", "additionalDetails": details},
        "deviceDetail": {
            "deviceId": "",
            "displayName": "",
            "operatingSystem": "Windows10",
            "browser": "Chrome 131",
            "isCompliant": error == 0,
            "isManaged": error == 0,
            "trustType": "",
        },
        "location": {
            "city": city,
            "state": "",
            "countryOrRegion": country,
            "geoCoordinates": {"latitude": None, "longitude": None},
        },
        "appliedConditionalAccessPolicies": [],
    }


def _last(items: list[dict]) -> dict:
    """The newest sign-in of ``items`` ({} when there is none)."""
    return max(items, key=lambda s: s["createdDateTime"]) if items else {}


def _add(d: Directory, record: dict, error: int, mfa: bool) -> None:
    d.add_signin(record, mfa_truth(error, mfa))


def build(
    org: SeededOrg,
    *,
    tenant_id: str,
    now: datetime | None = None,
    days: int = 14,
    aws_signins: list[dict] | None = None,
) -> Directory:
    """The fake tenant's directory for ``org`` (sign-ins over ``days`` days before ``now``).

    ``aws_signins`` (``signins_from_trail``) are the Identity Center portal sign-ins the trail generator wrote:
    each gets the Entra sign-in to the AWS app that precedes it, so the two sides agree as they would in life.
    """
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    domain = org.people[0].upn.split("@", 1)[1] if org.people and "@" in org.people[0].upn else "example.com"
    d = Directory(tenant_id=tenant_id, domain=domain)
    rng = random.Random(org.seed * 7919 + 17)
    created = now - timedelta(days=400)
    for p in org.people:
        d.users[p.entra_object_id] = {
            "id": p.entra_object_id,
            "userPrincipalName": p.upn,
            "displayName": p.display_name,
            "givenName": p.given_name,
            "surname": p.surname,
            "mail": p.upn,
            "department": p.department,
            "jobTitle": p.department + " engineer",
            "accountEnabled": p.enabled,
            "userType": "Member",
            "createdDateTime": _iso(created + timedelta(days=rng.randint(0, 300))),
            "onPremisesSyncEnabled": None,
            "onPremisesImmutableId": None,
            "onPremisesSamAccountName": None,
            "externalUserState": None,
            "signInActivity": None,
        }
        gids = []
        for g in p.groups:
            gid = _id("group", g)
            d.groups.setdefault(
                gid,
                {
                    "@odata.type": "#microsoft.graph.group",
                    "id": gid,
                    "displayName": g,
                    "securityEnabled": True,
                    "mailEnabled": False,
                    "onPremisesSyncEnabled": None,
                    "description": f"{g} (synced to AWS)",
                },
            )
            gids.append(gid)
        if any("admin" in g.lower() for g in p.groups):
            rid = _id("role", "Security Reader")
            d.groups.setdefault(
                rid,
                {
                    "@odata.type": "#microsoft.graph.directoryRole",
                    "id": rid,
                    "displayName": "Security Reader",
                    "roleTemplateId": _id("tmpl", "sr"),
                },
            )
            gids.append(rid)
        d.member_of[p.entra_object_id] = gids
        methods = ["password", *p.mfa_methods]
        d.methods[p.entra_object_id] = [
            {
                "@odata.type": f"#microsoft.graph.{METHOD_TYPES.get(m, m + 'AuthenticationMethod')}",
                "id": _id("method", p.upn, m),
                "displayName": None if m == "password" else f"{p.given_name}'s {m}",
                "createdDateTime": None if m == "password" else _iso(created + timedelta(days=30)),
            }
            for m in methods
        ]
        strong = [m for m in p.mfa_methods if m in STRONG]
        d.registration[p.entra_object_id] = {
            "id": p.entra_object_id,
            "userPrincipalName": p.upn,
            "userDisplayName": p.display_name,
            "userType": "member",
            "isAdmin": any("admin" in g.lower() for g in p.groups),
            "isSsprRegistered": bool(p.mfa_methods),
            "isSsprEnabled": True,
            "isSsprCapable": bool(p.mfa_methods),
            "isMfaRegistered": bool(strong),
            "isMfaCapable": bool(strong),
            "isPasswordlessCapable": "fido2" in p.mfa_methods or "windowsHelloForBusiness" in p.mfa_methods,
            "methodsRegistered": list(p.mfa_methods),
            "defaultMfaMethod": strong[0] if strong else "none",
            "isSystemPreferredAuthenticationMethodEnabled": False,
            "lastUpdatedDateTime": _iso(now - timedelta(days=3)),
        }
        _seed_signins(d, p, rng, now, days)
        for g in p.groups:
            d.audits.append(
                _audit("Add member to group", "GroupManagement", now - timedelta(days=days + 5), p, rng, target_group=g)
            )
    _seed_incident(d, org, now)
    _seed_risk(d, org, rng, now)
    _seed_aws_signins(d, org, rng, aws_signins or [])
    for p in org.people:  # signInActivity: the last *attempts* (any outcome) and the last success
        mine = [s for s in d.signins if s["userId"] == p.entra_object_id]
        inter = [s for s in mine if s["isInteractive"]]
        non = [s for s in mine if not s["isInteractive"]]
        good = [s for s in mine if s["status"]["errorCode"] == 0]
        d.users[p.entra_object_id]["signInActivity"] = {
            "lastSignInDateTime": _last(inter).get("createdDateTime"),
            "lastSignInRequestId": _last(inter).get("correlationId"),
            "lastNonInteractiveSignInDateTime": _last(non).get("createdDateTime"),
            "lastNonInteractiveSignInRequestId": _last(non).get("correlationId"),
            "lastSuccessfulSignInDateTime": _last(good).get("createdDateTime"),
            "lastSuccessfulSignInRequestId": _last(good).get("correlationId"),
        }
    d.signins.sort(key=lambda s: s["createdDateTime"], reverse=True)
    d.audits.sort(key=lambda a: a["activityDateTime"], reverse=True)
    d.risk_detections.sort(key=lambda r: r["detectedDateTime"], reverse=True)
    return d


def _seed_signins(d: Directory, p: Person, rng: random.Random, now: datetime, days: int) -> None:
    ip = p.home_ip or f"198.51.100.{rng.randint(2, 250)}"
    mfa = bool(set(p.mfa_methods) & STRONG)
    seq = 0
    for day in range(days, 0, -1):
        base = (now - timedelta(days=day)).replace(hour=0, minute=0, second=0)
        if base.weekday() >= 5 and rng.random() < 0.8:
            continue
        for _ in range(rng.randint(1, 3)):
            seq += 1
            when = base + timedelta(hours=rng.randint(7, 17), minutes=rng.randint(0, 59), seconds=rng.randint(0, 59))
            if when >= now:
                continue
            app = rng.choice([AWS_APP, AWS_APP, "Office 365 Exchange Online", "Microsoft Teams"])
            if not p.enabled:
                _add(
                    d,
                    _signin(p, when, ip, app, error=50057, reason="User account is disabled.", mfa=mfa, seq=seq),
                    50057,
                    mfa,
                )
                continue
            _add(d, _signin(p, when, ip, app, mfa=mfa, seq=seq), 0, mfa)
            seq += 1
            _add(
                d,
                _signin(
                    p,
                    when + timedelta(minutes=rng.randint(20, 50)),
                    ip,
                    "Microsoft Authentication Broker",
                    interactive=False,
                    mfa=mfa,
                    seq=seq,
                ),
                0,
                mfa,
            )


def _audit(
    activity: str,
    category: str,
    when: datetime,
    p: Person,
    rng: random.Random,
    *,
    target_group: str | None = None,
    result: str = "success",
    reason: str = "",
    by_ip: str | None = None,
    by_user: Person | None = None,
) -> dict:
    initiated = (
        {
            "user": {
                "id": by_user.entra_object_id,
                "userPrincipalName": by_user.upn,
                "displayName": by_user.display_name,
                "ipAddress": by_ip,
            },
            "app": None,
        }
        if by_user
        else {
            "user": None,
            "app": {
                "appId": _id("app", "provisioning"),
                "displayName": "Microsoft Entra Connect Provisioning",
                "servicePrincipalId": _id("sp", "provisioning"),
            },
        }
    )
    targets = [
        {
            "id": p.entra_object_id,
            "type": "User",
            "userPrincipalName": p.upn,
            "displayName": p.display_name,
            "modifiedProperties": [],
        }
    ]
    if target_group:
        targets.append(
            {
                "id": _id("group", target_group),
                "type": "Group",
                "userPrincipalName": None,
                "displayName": target_group,
                "modifiedProperties": [],
            }
        )
    return {
        "id": _id("audit", activity, p.upn, when.isoformat(), target_group or ""),
        "activityDateTime": _iso(when),
        "activityDisplayName": activity,
        "category": category,
        "correlationId": _id("auditcorr", p.upn, when.isoformat()),
        "result": result,
        "resultReason": reason,
        "loggedByService": "Core Directory" if category != "UserManagement" else "Self-service Password Management",
        "operationType": "Add" if activity.startswith("Add") else "Update",
        "initiatedBy": initiated,
        "targetResources": targets,
        "additionalDetails": [],
    }


def _seed_incident(d: Directory, org: SeededOrg, now: datetime) -> None:
    p = incident_person(org)
    inc = org.incident
    if p is None or inc is None:
        return
    start = _parse(inc.start) or (now - timedelta(days=1))
    attacker = inc.attacker_ip or "203.0.113.66"
    ua = inc.attacker_user_agent or "python-requests/2.32"
    home = p.home_ip or "198.51.100.10"
    # The person's own morning sign-in to the AWS portal, then the attacker trying the Entra account.
    mfa = bool(set(p.mfa_methods) & STRONG)
    taken_over = inc.scenario == "compromised-entra-user"
    country = inc.details.get("country") or "NL"
    # a taken-over account: the attempts the scenario planned, then a risky sign-in that succeeds (at its start)
    attempts = [_parse(a) for a in inc.details.get("attempts", [])] if taken_over else []
    _add(d, _signin(p, start - timedelta(hours=2, minutes=14), home, AWS_APP, mfa=mfa, seq=9001), 0, mfa)
    for i, (err, reason) in enumerate(
        [
            (50126, "Error validating credentials due to invalid username or password."),
            (500121, "Authentication failed during strong authentication request."),
            (500121, "Authentication failed during strong authentication request."),
        ]
    ):
        _add(
            d,
            _signin(
                p,
                attempts[i] if attempts else start - timedelta(minutes=12 - 3 * i),
                attacker,
                AWS_APP,
                error=err,
                reason=reason,
                mfa=mfa,
                risk="high",
                risk_state="atRisk",
                risk_types=["unfamiliarFeatures", "anonymizedIPAddress"],
                ua=ua,
                city="",
                country=country,
                seq=9100 + i,
            ),
            err,
            mfa,
        )
    if taken_over:
        _add(
            d,
            _signin(
                p,
                start,
                attacker,
                AWS_APP,
                mfa=mfa,
                risk="high",
                risk_state="atRisk",
                risk_types=["unfamiliarFeatures", "anonymizedIPAddress"],
                ua=ua,
                city="",
                country=country,
                seq=9199,
            ),
            0,
            mfa,
        )
    d.risky_users.append(
        {
            "id": p.entra_object_id,
            "userPrincipalName": p.upn,
            "userDisplayName": p.display_name,
            "riskLevel": "high",
            "riskState": "atRisk",
            "riskDetail": "none",
            "riskLastUpdatedDateTime": _iso(start - timedelta(minutes=5)),
            "isDeleted": False,
            "isProcessing": False,
        }
    )
    for i, kind in enumerate(["unfamiliarFeatures", "anonymizedIPAddress"]):
        d.risk_detections.append(
            {
                "id": _id("risk", p.upn, kind),
                "requestId": _id("riskreq", p.upn, i),
                "correlationId": _id("corr", p.upn, i),
                "riskEventType": kind,
                "riskType": kind,
                "riskState": "atRisk",
                "riskLevel": "high",
                "riskDetail": "none",
                "source": "IdentityProtection",
                "detectionTimingType": "realtime",
                "activity": "signin",
                "tokenIssuerType": "AzureAD",
                "ipAddress": attacker,
                "location": {"city": "", "countryOrRegion": "NL"},
                "activityDateTime": _iso(attempts[0] if attempts else start - timedelta(minutes=12)),
                "detectedDateTime": _iso(start - timedelta(minutes=11)),
                "lastUpdatedDateTime": _iso(start - timedelta(minutes=5)),
                "userId": p.entra_object_id,
                "userDisplayName": p.display_name,
                "userPrincipalName": p.upn,
                "additionalInfo": "[]",
            }
        )
    rng = random.Random(0)
    d.audits.append(
        _audit(
            "Reset password (self-service)",
            "UserManagement",
            start - timedelta(minutes=8),
            p,
            rng,
            result="failure",
            reason="User failed to verify identity",
            by_ip=attacker,
            by_user=p,
        )
    )


def signins_from_trail(org: SeededOrg, records: list[dict]) -> list[dict]:
    """Identity Center ``Authenticate`` calls in CloudTrail records → ``{upn, time, ip, user_agent}`` for ``build``."""
    by_ic = {p.identity_center_user_id: p.upn for p in org.people if p.identity_center_user_id}
    inc = org.incident
    # a taken-over account's sign-in from the attacker is the incident's own (risky) one (``_seed_incident``)
    attacker = inc.attacker_ip if inc is not None and inc.scenario == "compromised-entra-user" else None
    out = []
    for r in records:
        ident = r.get("userIdentity") or {}
        uid = (ident.get("onBehalfOf") or {}).get("userId")
        if attacker and r.get("sourceIPAddress") == attacker:
            continue
        if r.get("eventName") == "Authenticate" and uid in by_ic and not r.get("errorCode"):
            out.append(
                {
                    "upn": by_ic[uid],
                    "time": r.get("eventTime"),
                    "ip": r.get("sourceIPAddress"),
                    "user_agent": r.get("userAgent"),
                }
            )
    return out


def _seed_aws_signins(d: Directory, org: SeededOrg, rng: random.Random, aws_signins: list[dict]) -> None:
    people = {p.upn.lower(): p for p in org.people}
    for i, a in enumerate(aws_signins):
        p = people.get(str(a.get("upn", "")).lower())
        when = _parse(str(a.get("time", "")))
        if p is None or when is None:
            continue
        mfa = bool(set(p.mfa_methods) & STRONG)
        _add(
            d,
            _signin(
                p,
                when - timedelta(seconds=rng.randint(5, 40)),
                a.get("ip") or p.home_ip,
                AWS_APP,
                mfa=mfa,
                ua=a.get("user_agent") or "",
                seq=20000 + i,
            ),
            0,
            mfa,
        )


def _seed_risk(d: Directory, org: SeededOrg, rng: random.Random, now: datetime) -> None:
    """One more (remediated, low) risky user so risk frames always have a benign row to compare with."""
    flagged = {r["id"] for r in d.risky_users}
    others = [p for p in org.people if p.entra_object_id not in flagged and p.enabled]
    if not others:
        return
    p = others[rng.randrange(len(others))]
    when = now - timedelta(days=6, hours=3)
    d.risky_users.append(
        {
            "id": p.entra_object_id,
            "userPrincipalName": p.upn,
            "userDisplayName": p.display_name,
            "riskLevel": "low",
            "riskState": "remediated",
            "riskDetail": "userPerformedSecuredPasswordChange",
            "riskLastUpdatedDateTime": _iso(when + timedelta(hours=2)),
            "isDeleted": False,
            "isProcessing": False,
        }
    )
    d.risk_detections.append(
        {
            "id": _id("risk", p.upn, "unlikelyTravel"),
            "requestId": _id("riskreq", p.upn),
            "correlationId": _id("c", p.upn),
            "riskEventType": "unlikelyTravel",
            "riskType": "unlikelyTravel",
            "riskState": "remediated",
            "riskLevel": "low",
            "riskDetail": "userPerformedSecuredPasswordChange",
            "source": "IdentityProtection",
            "detectionTimingType": "offline",
            "activity": "signin",
            "tokenIssuerType": "AzureAD",
            "ipAddress": p.home_ip,
            "location": {"city": "Lisbon", "countryOrRegion": "PT"},
            "activityDateTime": _iso(when),
            "detectedDateTime": _iso(when + timedelta(hours=1)),
            "lastUpdatedDateTime": _iso(when + timedelta(hours=2)),
            "userId": p.entra_object_id,
            "userDisplayName": p.display_name,
            "userPrincipalName": p.upn,
            "additionalInfo": "[]",
        }
    )
