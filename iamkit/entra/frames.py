"""Entra frames: Graph JSON → typed DataFrames (UTC times, a normalised ``upn_key`` on every person row).

The schemas are registered in ``iamkit.frames`` under ``entra_*`` names; the ``*_frame`` functions are pure
(JSON in, frame out) so they are tested without a network.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from iamkit.frames import TS, B, I, J, S, conform, register

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

register(
    "entra_user",
    {
        "upn_key": S,
        "user_principal_name": S,
        "id": S,
        "display_name": S,
        "mail": S,
        "department": S,
        "job_title": S,
        "account_enabled": B,
        "user_type": S,
        "created": TS,
        "on_premises_sync_enabled": B,
        "on_premises_immutable_id": S,
        "last_sign_in": TS,
        "last_non_interactive_sign_in": TS,
        "last_successful_sign_in": TS,
    },
    "Entra users. last_sign_in / last_non_interactive_sign_in are the last *attempts* (failed ones too), "
    "last_successful_sign_in the last success (signInActivity: needs Entra ID P1 and AuditLog.Read.All; null "
    "without them).",
)
register(
    "entra_groups",
    {
        "upn_key": S,
        "id": S,
        "display_name": S,
        "kind": S,
        "security_enabled": B,
        "mail_enabled": B,
        "on_premises_sync_enabled": B,
    },
    "Group and directory-role memberships of a user (kind group|directoryRole|administrativeUnit).",
)
register(
    "entra_auth_methods",
    {
        "upn_key": S,
        "id": S,
        "method": S,
        "display_name": S,
        "created": TS,
        "strong": B,
        "detail": J,
    },
    "Registered authentication methods (method: password, microsoftAuthenticator, fido2, phone…).",
)
register(
    "entra_mfa",
    {
        "upn_key": S,
        "user_principal_name": S,
        "is_mfa_registered": B,
        "is_mfa_capable": B,
        "is_passwordless_capable": B,
        "is_sspr_registered": B,
        "is_admin": B,
        "methods_registered": J,
        "default_mfa_method": S,
        "last_updated": TS,
        "source": S,
    },
    "MFA registration (source: registrationDetails (P1 report) or methods (derived from the method list)).",
)
register(
    "entra_signins",
    {
        "upn_key": S,
        "id": S,
        "created": TS,
        "user_principal_name": S,
        "user_id": S,
        "app_display_name": S,
        "app_id": S,
        "resource_display_name": S,
        "ip_address": S,
        "client_app_used": S,
        "is_interactive": B,
        "event_type": S,
        "status_code": I,
        "failure_reason": S,
        "success": B,
        "conditional_access_status": S,
        "mfa": S,
        "mfa_evidence": S,
        "risk_level": S,
        "risk_state": S,
        "risk_event_types": J,
        "city": S,
        "country": S,
        "user_agent": S,
        "device": J,
        "correlation_id": S,
        "api_version": S,
    },
    "Entra sign-ins, interactive and non-interactive (success = status_code 0). mfa: yes | no | failed | "
    "unknown, mfa_evidence the field that says so (v1.0 rarely can say 'no': see sign_in_mfa); api_version: "
    "v1.0 or beta, the Graph version the row came from.",
)
register(
    "entra_risky_users",
    {
        "upn_key": S,
        "id": S,
        "user_principal_name": S,
        "risk_level": S,
        "risk_state": S,
        "risk_detail": S,
        "last_updated": TS,
        "is_deleted": B,
        "is_processing": B,
    },
    "Identity Protection risky users (Entra ID P2).",
)
register(
    "entra_risk_detections",
    {
        "upn_key": S,
        "id": S,
        "risk_event_type": S,
        "risk_level": S,
        "risk_state": S,
        "risk_detail": S,
        "activity": S,
        "activity_time": TS,
        "detected": TS,
        "ip_address": S,
        "city": S,
        "country": S,
        "source": S,
        "detection_timing": S,
        "correlation_id": S,
    },
    "Identity Protection risk detections (Entra ID P2).",
)
register(
    "entra_directory_audits",
    {
        "id": S,
        "activity_time": TS,
        "activity": S,
        "category": S,
        "result": S,
        "result_reason": S,
        "initiated_by": S,
        "initiated_by_ip": S,
        "target_upn_key": S,
        "targets": J,
        "correlation_id": S,
        "logged_by_service": S,
    },
    "Directory audit events; target_upn_key is the first user target's normalised UPN.",
)

STRONG_METHODS = {
    "microsoftAuthenticator",
    "phone",
    "fido2",
    "softwareOath",
    "windowsHelloForBusiness",
    "temporaryAccessPass",
    "x509Certificate",
    "platformCredential",
}


MFA_ANSWERS = ("yes", "no", "failed", "unknown")


def sign_in_mfa(s: dict) -> tuple[str, str | None]:
    """Whether a sign-in passed MFA — ``yes``, ``no``, ``failed`` or ``unknown`` — and the field that says so.

    Only what the record carries counts. Beta's ``authenticationRequirement`` / ``authenticationDetails``
    (signin?view=graph-rest-beta) say it outright. v1.0 has neither (signin?view=graph-rest-1.0): there
    ``status.additionalDetails`` names MFA when it happened ("MFA completed in Azure AD", "MFA requirement
    satisfied by claim in the token"), an applied Conditional Access policy that granted by ``Mfa`` proves
    it, and error 500121 is a failed MFA step — but nothing in v1.0 proves its absence, so a v1.0 sign-in
    without those is ``unknown``, never ``no``. A sign-in that failed for another reason says nothing either.
    """
    status = s.get("status") if isinstance(s.get("status"), dict) else {}
    code = status.get("errorCode")
    if code == 500121:
        return "failed", "status.errorCode 500121"
    if code != 0:
        return "unknown", None
    steps = s.get("authenticationDetails") if isinstance(s.get("authenticationDetails"), list) else []
    mfa_steps = [
        x
        for x in steps
        if isinstance(x, dict) and "multifactor" in str(x.get("authenticationStepRequirement") or "").lower()
    ]
    requirement = s.get("authenticationRequirement")
    if requirement == "multiFactorAuthentication" or any(x.get("succeeded") is True for x in mfa_steps):
        return (
            "yes",
            "authenticationRequirement" if requirement == "multiFactorAuthentication" else "authenticationDetails",
        )
    if requirement == "singleFactorAuthentication":
        return "no", "authenticationRequirement"
    details = str(status.get("additionalDetails") or "").lower()
    if "mfa" in details and ("completed" in details or "satisfied" in details):
        return "yes", "status.additionalDetails"
    for policy in s.get("appliedConditionalAccessPolicies") or []:
        grants = (
            [str(g).lower() for g in (policy.get("enforcedGrantControls") or [])] if isinstance(policy, dict) else []
        )
        if "mfa" in grants and policy.get("result") == "success":
            return "yes", "appliedConditionalAccessPolicies"
    return "unknown", None


def upn_key(upn: str | None) -> str | None:
    """The join key for a person: the UPN trimmed and lower-cased (Entra UPNs compare case-insensitively)."""
    return upn.strip().lower() if isinstance(upn, str) and upn.strip() else None


def _g(obj: Any, *path: str) -> Any:
    for p in path:
        obj = obj.get(p) if isinstance(obj, dict) else None
    return obj


def _kind(odata_type: str | None, default: str = "") -> str:
    return (odata_type or "").rsplit(".", 1)[-1] or default


def user_frame(users: list[dict]) -> pd.DataFrame:
    """Frame ``entra_user`` from Graph user objects."""
    return conform(
        [
            {
                "upn_key": upn_key(u.get("userPrincipalName")),
                "user_principal_name": u.get("userPrincipalName"),
                "id": u.get("id"),
                "display_name": u.get("displayName"),
                "mail": u.get("mail"),
                "department": u.get("department"),
                "job_title": u.get("jobTitle"),
                "account_enabled": u.get("accountEnabled"),
                "user_type": u.get("userType"),
                "created": u.get("createdDateTime"),
                "on_premises_sync_enabled": bool(u.get("onPremisesSyncEnabled")),
                "on_premises_immutable_id": u.get("onPremisesImmutableId"),
                "last_sign_in": _g(u, "signInActivity", "lastSignInDateTime"),
                "last_non_interactive_sign_in": _g(u, "signInActivity", "lastNonInteractiveSignInDateTime"),
                "last_successful_sign_in": _g(u, "signInActivity", "lastSuccessfulSignInDateTime"),
            }
            for u in users
        ],
        "entra_user",
    )


def groups_frame(upn: str, objects: list[dict]) -> pd.DataFrame:
    """Frame ``entra_groups`` from a user's ``memberOf`` objects."""
    return conform(
        [
            {
                "upn_key": upn_key(upn),
                "id": o.get("id"),
                "display_name": o.get("displayName"),
                "kind": _kind(o.get("@odata.type"), "group"),
                "security_enabled": o.get("securityEnabled"),
                "mail_enabled": o.get("mailEnabled"),
                "on_premises_sync_enabled": bool(o.get("onPremisesSyncEnabled")),
            }
            for o in objects
        ],
        "entra_groups",
    )


def method_name(odata_type: str | None) -> str:
    """``#microsoft.graph.fido2AuthenticationMethod`` → ``fido2``."""
    kind = _kind(odata_type)
    return kind[: -len("AuthenticationMethod")] if kind.endswith("AuthenticationMethod") else kind


def methods_frame(upn: str, methods: list[dict]) -> pd.DataFrame:
    """Frame ``entra_auth_methods`` from ``/users/{id}/authentication/methods``."""
    rows = []
    for m in methods:
        name = method_name(m.get("@odata.type"))
        detail = {k: v for k, v in m.items() if k not in ("@odata.type", "id", "displayName", "createdDateTime")}
        rows.append(
            {
                "upn_key": upn_key(upn),
                "id": m.get("id"),
                "method": name,
                "display_name": m.get("displayName"),
                "created": m.get("createdDateTime"),
                "strong": name in STRONG_METHODS,
                "detail": detail,
            }
        )
    return conform(rows, "entra_auth_methods")


def mfa_frame(upn: str, registration: dict | None, methods: list[dict] | None = None) -> pd.DataFrame:
    """Frame ``entra_mfa``: the P1 registration report when there is one, else derived from the methods."""
    if registration:
        r = registration
        row = {
            "upn_key": upn_key(upn),
            "user_principal_name": r.get("userPrincipalName") or upn,
            "is_mfa_registered": r.get("isMfaRegistered"),
            "is_mfa_capable": r.get("isMfaCapable"),
            "is_passwordless_capable": r.get("isPasswordlessCapable"),
            "is_sspr_registered": r.get("isSsprRegistered"),
            "is_admin": r.get("isAdmin"),
            "methods_registered": list(r.get("methodsRegistered") or []),
            "default_mfa_method": r.get("defaultMfaMethod"),
            "last_updated": r.get("lastUpdatedDateTime"),
            "source": "registrationDetails",
        }
    else:
        names = [method_name(m.get("@odata.type")) for m in methods or []]
        strong = [n for n in names if n in STRONG_METHODS]
        row = {
            "upn_key": upn_key(upn),
            "user_principal_name": upn,
            "is_mfa_registered": bool(strong),
            "is_mfa_capable": bool(strong),
            "is_passwordless_capable": bool({"fido2", "windowsHelloForBusiness"} & set(names)),
            "is_sspr_registered": None,
            "is_admin": None,
            "methods_registered": [n for n in names if n != "password"],
            "default_mfa_method": strong[0] if strong else "none",
            "last_updated": None,
            "source": "methods",
        }
    return conform([row], "entra_mfa")


def signins_frame(signins: list[dict], version: str | None = None) -> pd.DataFrame:
    """Frame ``entra_signins`` from ``/auditLogs/signIns`` records of Graph ``version`` (v1.0 or beta)."""
    rows = []
    for s in signins:
        code = _g(s, "status", "errorCode")
        kinds = s.get("signInEventTypes") or []
        interactive = s.get("isInteractive")
        mfa, evidence = sign_in_mfa(s)
        rows.append(
            {
                "upn_key": upn_key(s.get("userPrincipalName")),
                "id": s.get("id"),
                "created": s.get("createdDateTime"),
                "user_principal_name": s.get("userPrincipalName"),
                "user_id": s.get("userId"),
                "app_display_name": s.get("appDisplayName"),
                "app_id": s.get("appId"),
                "resource_display_name": s.get("resourceDisplayName"),
                "ip_address": s.get("ipAddress"),
                "client_app_used": s.get("clientAppUsed"),
                "is_interactive": interactive,
                "event_type": kinds[0] if kinds else ("interactiveUser" if interactive else "nonInteractiveUser"),
                # a success carries failureReason "Other." in the real log: not a reason
                "status_code": code,
                "failure_reason": _g(s, "status", "failureReason") if code != 0 else None,
                "success": code == 0 if code is not None else None,
                "conditional_access_status": s.get("conditionalAccessStatus"),
                "mfa": mfa,
                "mfa_evidence": evidence,
                "risk_level": s.get("riskLevelDuringSignIn"),
                "risk_state": s.get("riskState"),
                "risk_event_types": list(s.get("riskEventTypes_v2") or s.get("riskEventTypes") or []),
                "city": _g(s, "location", "city"),
                "country": _g(s, "location", "countryOrRegion"),
                "user_agent": s.get("userAgent"),
                "device": s.get("deviceDetail") or {},
                "correlation_id": s.get("correlationId"),
                "api_version": version,
            }
        )
    df = conform(rows, "entra_signins")
    if len(df):
        df = df.drop_duplicates("id").sort_values("created", ascending=False, kind="stable").reset_index(drop=True)
    return df


def risky_users_frame(items: list[dict]) -> pd.DataFrame:
    """Frame ``entra_risky_users``."""
    return conform(
        [
            {
                "upn_key": upn_key(r.get("userPrincipalName")),
                "id": r.get("id"),
                "user_principal_name": r.get("userPrincipalName"),
                "risk_level": r.get("riskLevel"),
                "risk_state": r.get("riskState"),
                "risk_detail": r.get("riskDetail"),
                "last_updated": r.get("riskLastUpdatedDateTime"),
                "is_deleted": r.get("isDeleted"),
                "is_processing": r.get("isProcessing"),
            }
            for r in items
        ],
        "entra_risky_users",
    )


def risk_detections_frame(items: list[dict]) -> pd.DataFrame:
    """Frame ``entra_risk_detections``."""
    return conform(
        [
            {
                "upn_key": upn_key(r.get("userPrincipalName")),
                "id": r.get("id"),
                "risk_event_type": r.get("riskEventType"),
                "risk_level": r.get("riskLevel"),
                "risk_state": r.get("riskState"),
                "risk_detail": r.get("riskDetail"),
                "activity": r.get("activity"),
                "activity_time": r.get("activityDateTime"),
                "detected": r.get("detectedDateTime"),
                "ip_address": r.get("ipAddress"),
                "city": _g(r, "location", "city"),
                "country": _g(r, "location", "countryOrRegion"),
                "source": r.get("source"),
                "detection_timing": r.get("detectionTimingType"),
                "correlation_id": r.get("correlationId"),
            }
            for r in items
        ],
        "entra_risk_detections",
    )


def directory_audits_frame(items: list[dict]) -> pd.DataFrame:
    """Frame ``entra_directory_audits``."""
    rows = []
    for a in items:
        by_user, by_app = _g(a, "initiatedBy", "user"), _g(a, "initiatedBy", "app")
        initiated = (by_user or {}).get("userPrincipalName") or (by_app or {}).get("displayName")
        targets = a.get("targetResources") or []
        first_user = next((t.get("userPrincipalName") for t in targets if t.get("userPrincipalName")), None)
        rows.append(
            {
                "id": a.get("id"),
                "activity_time": a.get("activityDateTime"),
                "activity": a.get("activityDisplayName"),
                "category": a.get("category"),
                "result": a.get("result"),
                "result_reason": a.get("resultReason"),
                "initiated_by": initiated,
                "initiated_by_ip": (by_user or {}).get("ipAddress"),
                "target_upn_key": upn_key(first_user),
                "targets": targets,
                "correlation_id": a.get("correlationId"),
                "logged_by_service": a.get("loggedByService"),
            }
        )
    return conform(rows, "entra_directory_audits")


def to_json_text(value: Any) -> str:
    """JSON text of a frame cell (for CSV/parquet export of ``json`` columns)."""
    return json.dumps(value, default=str, sort_keys=True)
