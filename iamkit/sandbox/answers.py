"""Answer keys: what a responder investigating the scripted incident must find, written into the manifest.

Built from what the scenario did (``SeededOrg.incident``) and from the records the trail generator wrote for it,
each labelled with the outcome it was written to have (``trailgen.scenario_records``) — never by running
iamkit's own analysis, so a test comparing an investigation's facts with a key checks the analysis. Field names
are those of the facts schema (``iamkit/schemas/facts.schema.json``); its ``x-compare`` annotations say which
fields are exact and which are "at least these" (detections, containment, sensitive resources).

One key per subject: the leaked long-term key, and the session key it opened in Prod (what GuardDuty usually
reports). From the session key the investigation follows the chain back to the leaked key and investigates the
whole incident from there, so the two keys differ only in ``subject`` and in ``activity.subject_key_*``.
Pure: no boto3, no moto.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from iamkit.arn import account_of, assumed_role_arn, name_of
from iamkit.sandbox.model import SeededOrg

SCHEMA_VERSION = 1
#: detections the shipped rules must raise on the incident, per variant (at least these)
DETECTIONS = {
    "all": [
        "iamkit-access-denied-burst",
        "iamkit-admin-managed-policy-attached",
        "iamkit-key-created-then-used",
        "iamkit-logging-stop-attempt-denied",
    ],
    # the leaked key has weeks of history: its AssumeRole from a new IP stands out
    "default": ["iamkit-assume-role-new-source-ip"],
    "logging-succeeds": ["iamkit-assume-role-new-source-ip", "iamkit-event-selectors-narrowed"],
    # the switch role comes from the brand-new backdoor user (no history to compare with): its console
    # sign-in without MFA is what stands out
    "console": ["iamkit-console-login-without-mfa"],
}
CONSOLE_AGENT = "AWS Internal"


def _family(user_agent: str) -> str:
    """A user agent without aws-cli's per-command tokens (the same CLI on the same machine is one agent)."""
    return " ".join(t for t in user_agent.split() if not t.startswith(("command/", "md/command#")))


def _by_service(rec: dict) -> bool:
    return "invokedBy" in rec["userIdentity"]


def _window(inc: Any, first: dict) -> dict[str, Any]:
    """The incident's window and its first call, as the facts' ``window`` says them."""
    return {
        "start": inc.start,
        "end": inc.end,
        "first_event": {
            "event_name": first["eventName"],
            "event_time": first["eventTime"],
            "access_key_id": first["userIdentity"].get("accessKeyId"),
            "source_ip": first["sourceIPAddress"],
        },
    }


def answer_keys(org: SeededOrg, records: list[tuple[int, str, dict, str]]) -> list[dict[str, Any]]:
    """The answer keys of ``org``'s incident, given its scenario records (``trailgen.scenario_records``)."""
    inc = org.incident
    if inc is None:
        return []
    if inc.scenario == "cross-account-trust-exposure":
        return [trust_answer_key(org, records)]
    if inc.scenario == "logging-tampering":
        return [tamper_answer_key(org, records)]
    if inc.scenario == "root-activity":
        return [root_answer_key(org, records)]
    if inc.scenario == "privilege-escalation":
        return [privesc_answer_key(org, records)]
    if inc.scenario == "suspicious-role-session":
        return [session_answer_key(org, records)]
    if inc.scenario == "resource-exposure":
        return [resource_answer_key(org, records)]
    if inc.scenario == "compromised-entra-user":
        return [entra_user_answer_key(org, records)]
    variant = inc.variant or "default"
    console = variant == "console"
    incident = [(r, o) for _t, kind, r, o in records if kind == "incident"]
    normal = [r for _t, kind, r, _o in records if kind == "normal"]
    # calls made by the attacker's identities (not the role account's copy of the cross-account AssumeRole)
    calls = [(r, o) for r, o in incident if r["userIdentity"].get("type") != "AWSAccount"]
    first = calls[0][0]
    user = next((u for u in org.users if u.arn == inc.user_arn), None)
    prod = account_of(inc.target_role_arn)
    role_name = name_of(inc.target_role_arn)
    session_arn = assumed_role_arn(prod, role_name, inc.session_name)
    denied = Counter(r["errorCode"] for r, o in calls if o == "denied")
    failed = Counter(r["errorCode"] for r, o in calls if o == "failed")
    agents = [r["userAgent"] for r, _o in calls if not _by_service(r) and r["userAgent"] != CONSOLE_AGENT]
    services = sorted({r["sourceIPAddress"] for r, _o in calls if _by_service(r)})
    trail_arn = next((r["requestParameters"] or {}).get("name") for r, _o in calls if r["eventName"] == "StopLogging")
    logging = [{"event_name": "StopLogging", "target": trail_arn, "result": "denied", "error_code": "AccessDenied"}]
    if variant == "logging-succeeds":
        logging.append(
            {
                "event_name": "PutEventSelectors",
                "target": inc.logging_trail_arn,
                "result": "succeeded",
                "error_code": None,
            }
        )
    caller = inc.created_user_arn if console else inc.user_arn
    key: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "subject": {
            "access_key_id": inc.leaked_access_key_id,
            "key_type": "long-term",
            "principal_arn": inc.user_arn,
            "account_id": inc.account_id,
            "person": user.person if user else None,
            "session_arn": None,
            "origin_access_key_id": inc.leaked_access_key_id,
            "chain": [inc.leaked_access_key_id],
        },
        "window": _window(inc, first),
        "activity": {
            "suspicious_calls": len(calls),
            "usual_calls": len(normal),
            "subject_key_calls": sum(
                1
                for r in [*(r for r, _o in calls), *normal]
                if r["userIdentity"].get("accessKeyId") == inc.leaked_access_key_id
            ),
            "subject_key_denied": sum(
                1
                for r, o in calls
                if o == "denied" and r["userIdentity"].get("accessKeyId") == inc.leaked_access_key_id
            ),
        },
        "sources": {
            "new_ips": [inc.attacker_ip],
            "new_user_agents": sorted(set(agents)),
            "usual_ips": sorted({r["sourceIPAddress"] for r in normal}),
            "usual_user_agents": sorted({_family(r["userAgent"]) for r in normal}),
            "via_aws_services": services,
        },
        "created": {
            "users": [inc.created_user_arn],
            "access_keys": [inc.created_access_key_id],
            "sessions": [inc.session_access_key_id],
            "login_profiles": [inc.created_user_arn] if console else [],
        },
        "console_logins": [inc.created_user_arn] if console else [],
        "policies_changed": [
            {"event_name": "AttachUserPolicy", "target": inc.created_user_arn, "policy": inc.admin_policy_arn}
        ],
        "roles_assumed": [
            {
                "role_arn": inc.target_role_arn,
                "session_name": inc.session_name,
                "access_key_id": inc.session_access_key_id,
                "from_principal": caller,
                "from_account": inc.account_id,
                "account_id": prod,
                "cross_account": True,
            }
        ],
        "resources_read": sorted([*inc.secret_arns, *inc.object_arns]),
        "resources_changed": [],
        "denied": {"count": sum(denied.values()), "by_code": dict(sorted(denied.items()))},
        "other_errors": {"count": sum(failed.values()), "by_code": dict(sorted(failed.items()))},
        "logging_changes": logging,
        "reach": {
            # the backdoor user holds AdministratorAccess; the leaked user may create keys for svc-* users,
            # so for it: one CreateAccessKey away from the same
            "admin_principals": sorted([inc.created_user_arn, inc.user_arn]),
            "sensitive_resources": sorted({*inc.secret_arns, *(a.split("/", 1)[0] for a in inc.object_arns)}),
        },
        "detections": sorted({*DETECTIONS["all"], *DETECTIONS.get(variant, [])}),
        "containment": _containment(inc),
        "unanswered": [],
    }
    keys = [key]
    if not console:  # the session was opened with the leaked key itself: traced back in one hop
        session_key = {
            **key,
            "subject": {
                "access_key_id": inc.session_access_key_id,
                "key_type": "session",
                "principal_arn": inc.user_arn,
                "account_id": inc.account_id,
                "person": user.person if user else None,
                "session_arn": session_arn,
                "origin_access_key_id": inc.leaked_access_key_id,
                "chain": [inc.leaked_access_key_id, inc.session_access_key_id],
            },
            "activity": {
                **key["activity"],
                "subject_key_calls": sum(
                    1 for r, _o in calls if r["userIdentity"].get("accessKeyId") == inc.session_access_key_id
                ),
                "subject_key_denied": sum(
                    1
                    for r, o in calls
                    if o == "denied" and r["userIdentity"].get("accessKeyId") == inc.session_access_key_id
                ),
            },
        }
        keys.append(session_key)
    return keys


def _containment(inc: Any) -> list[dict[str, str]]:
    """What a good plan proposes (at least): both keys off, both users quarantined, the admin policy detached
    from the backdoor user, the role's sessions revoked."""
    return [
        {"kind": "deactivate_access_key", "target": inc.leaked_access_key_id},
        {"kind": "deactivate_access_key", "target": inc.created_access_key_id},
        {"kind": "quarantine_user", "target": inc.user_arn},
        {"kind": "quarantine_user", "target": inc.created_user_arn},
        {"kind": "detach_user_policy", "target": f"{inc.created_user_arn} {inc.admin_policy_arn}"},
        {"kind": "revoke_role_sessions", "target": inc.target_role_arn},
    ]


#: the assessment rule each seeded trust risk must raise (``iamkit/assess/rules/trusts.py``)
TRUST_RULES = {
    "root-principal-trust": "IAMKIT-TRUST-001",
    "star-trust": "IAMKIT-TRUST-002",
    "star-trust-conditional": "IAMKIT-TRUST-003",
    "third-party-trust": "IAMKIT-TRUST-004",
}
#: the detection that keeps watch once the trust is restricted: re-opening it raises this
TRUST_STANDING_DETECTION = "iamkit-trust-policy-opened"


def trust_answer_key(org: SeededOrg, records: list[tuple[int, str, dict, str]]) -> dict[str, Any]:
    """cross-account-trust-exposure: the exposed role, what is wrong with its trust (the seeded risks), who used
    it (the issuers of the sessions that assumed it, read off the AssumeRole records the generator wrote), the
    trust to restrict it to, and the containment and standing detection expected."""
    inc = org.incident
    target = inc.target_role_arn
    opened = [
        r
        for _t, kind, r, o in records
        if kind == "incident"
        and o == "ok"
        and r["eventName"] == "AssumeRole"
        and (r["requestParameters"] or {}).get("roleArn") == target
        and r["userIdentity"].get("type") != "AWSAccount"
    ]
    used_by = sorted({r["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] for r in opened})
    problems = sorted({TRUST_RULES[k.kind] for k in org.risks if k.arn == target and k.kind in TRUST_RULES})
    return {
        "schema_version": SCHEMA_VERSION,
        "subject": {"kind": "principal", "id": target, "account_id": account_of(target)},
        "exposure": {
            "role_arn": target,
            "trusted": [inc.details["trusted"]],
            "problems": problems,
            "used_by": used_by,
            "sessions": len(opened),
            "first_used": min(r["eventTime"] for r in opened),
            "last_used": max(r["eventTime"] for r in opened),
            "proposed_trust": {"principals": used_by, "principal_org_id": inc.details["org_id"]},
        },
        "standing_detections": [TRUST_STANDING_DETECTION],
        "detections": [],  # none of the shipped rules sees a trust that was always open: a gap the post-mortem names
        "containment": [{"kind": "restrict_trust", "target": target}],
        "unanswered": [],
    }


#: detections the shipped rules must raise on the tampering (at least these)
TAMPER_DETECTIONS = [
    "iamkit-config-disabled",
    "iamkit-guardduty-disabled",
    "iamkit-logging-stop-attempt-denied",
    "iamkit-logging-stopped",
]
#: logging and guardrail calls: event name -> the request parameter naming the target (facts.LOGGING_EVENTS)
_TAMPER_TARGETS = {
    "StopLogging": "name",
    "UpdateTrail": "name",
    "DeleteDetector": "detectorId",
    "StopConfigurationRecorder": "configurationRecorderName",
}


def tamper_answer_key(org: SeededOrg, records: list[tuple[int, str, dict, str]]) -> dict[str, Any]:
    """logging-tampering, investigated from the operations role: every call of the incident (the AssumeRole that
    opened the session, then the session's), all suspicious (the role has no history in the window), the
    guardrail changes with their outcomes, and the containment of the session and of the key that opened it."""
    inc = org.incident
    calls = [
        (r, o) for _t, kind, r, o in records if kind == "incident" and r["userIdentity"].get("type") != "AWSAccount"
    ]
    first = calls[0][0]
    opened = next(r for r, _o in calls if r["eventName"] == "AssumeRole")
    session_key = opened["responseElements"]["credentials"]["accessKeyId"]
    denied = Counter(r["errorCode"] for r, o in calls if o == "denied")
    logging = [
        {
            "event_name": r["eventName"],
            "target": (r["requestParameters"] or {}).get(_TAMPER_TARGETS[r["eventName"]]),
            "result": "denied" if o == "denied" else "succeeded",
            "error_code": r.get("errorCode"),
        }
        for r, o in calls
        if r["eventName"] in _TAMPER_TARGETS
    ]
    return {
        "schema_version": SCHEMA_VERSION,
        "subject": {"kind": "principal", "id": inc.target_role_arn, "account_id": inc.account_id},
        "window": _window(inc, first),
        "activity": {"suspicious_calls": len(calls), "usual_calls": 0, "subject_key_calls": 0, "subject_key_denied": 0},
        "sources": {
            "new_ips": [inc.attacker_ip],
            "new_user_agents": sorted({_family(r["userAgent"]) for r, _o in calls}),
            "usual_ips": [],
            "usual_user_agents": [],
            "via_aws_services": [],
        },
        "created": {"users": [], "access_keys": [], "sessions": [session_key], "login_profiles": []},
        "roles_assumed": [
            {
                "role_arn": inc.target_role_arn,
                "session_name": inc.session_name,
                "access_key_id": session_key,
                "from_principal": inc.user_arn,
                "from_account": account_of(inc.user_arn),
                "account_id": inc.account_id,
                "cross_account": True,
            }
        ],
        "policies_changed": [],
        "resources_changed": [],
        "denied": {"count": sum(denied.values()), "by_code": dict(sorted(denied.items()))},
        "logging_changes": logging,
        "detections": TAMPER_DETECTIONS,
        "containment": [
            {"kind": "revoke_role_sessions", "target": inc.target_role_arn},
            {"kind": "deactivate_access_key", "target": inc.leaked_access_key_id},
            {"kind": "quarantine_user", "target": inc.user_arn},
        ],
        "unanswered": [],
    }


ROOT_DETECTIONS = ["iamkit-console-login-without-mfa", "iamkit-root-activity"]


def root_answer_key(org: SeededOrg, records: list[tuple[int, str, dict, str]]) -> dict[str, Any]:
    """root-activity, investigated from the account root: every call is suspicious (root has no history), the
    console sign-in, the root key and the user it created; containment quarantines that user."""
    inc = org.incident
    calls = [r for _t, kind, r, _o in records if kind == "incident"]
    first = calls[0]
    return {
        "schema_version": SCHEMA_VERSION,
        "subject": {"kind": "principal", "id": inc.user_arn, "account_id": inc.account_id},
        "window": _window(inc, first),
        "activity": {"suspicious_calls": len(calls), "usual_calls": 0, "subject_key_calls": 0, "subject_key_denied": 0},
        "sources": {
            "new_ips": [inc.attacker_ip],
            "new_user_agents": sorted({_family(r["userAgent"]) for r in calls}),
            "usual_ips": [],
            "usual_user_agents": [],
            "via_aws_services": [],
        },
        "created": {
            "users": [inc.created_user_arn],
            "access_keys": [inc.created_access_key_id],
            "sessions": [],
            "login_profiles": [],
        },
        "console_logins": [inc.user_arn],
        "roles_assumed": [],
        "policies_changed": [],
        "logging_changes": [],
        "denied": {"count": 0, "by_code": {}},
        "detections": ROOT_DETECTIONS,
        "containment": [{"kind": "quarantine_user", "target": inc.created_user_arn}],
        "unanswered": [],
    }


PRIVESC_DETECTIONS = ["iamkit-admin-managed-policy-attached", "iamkit-policy-wildcard-grant"]


def privesc_answer_key(org: SeededOrg, records: list[tuple[int, str, dict, str]]) -> dict[str, Any]:
    """privilege-escalation, investigated from the CI user: its calls (no history: all suspicious), the three
    policy changes and what makes each risky (as the scenario wrote them: ``*`` on ``*`` as a new default
    version, AdministratorAccess attached, PassRole on ``*`` inline), the containment of the user, its key and
    the role it escalated."""
    inc = org.incident
    calls = [r for _t, kind, r, _o in records if kind == "incident"]
    first = calls[0]
    role, admin = inc.target_role_arn, inc.admin_policy_arn
    inline = f"inline:{inc.details['inline_policy']}"
    changes = [
        (
            "CreatePolicyVersion",
            inc.details["policy_arn"],
            inc.details["policy_arn"],
            ["new-default-version", "passrole-star", "wildcard"],
        ),
        ("AttachRolePolicy", role, admin, ["admin-attached"]),
        ("PutRolePolicy", role, inline, ["passrole-star"]),
    ]
    return {
        "schema_version": SCHEMA_VERSION,
        "subject": {"kind": "principal", "id": inc.user_arn, "account_id": inc.account_id},
        "window": _window(inc, first),
        "activity": {"suspicious_calls": len(calls), "usual_calls": 0, "subject_key_calls": 0, "subject_key_denied": 0},
        "sources": {
            "new_ips": [inc.attacker_ip],
            "new_user_agents": sorted({_family(r["userAgent"]) for r in calls}),
            "usual_ips": [],
            "usual_user_agents": [],
            "via_aws_services": [],
        },
        "policies_changed": [{"event_name": e, "target": t, "policy": p} for e, t, p, _r in changes],
        "risky_changes": [{"event_name": e, "target": t, "policy": p, "risks": r} for e, t, p, r in changes],
        # the user's own policy now allows '*'; the role holds AdministratorAccess
        "reach": {"admin_principals": sorted([inc.user_arn, role]), "sensitive_resources": []},
        "denied": {"count": 0, "by_code": {}},
        "detections": PRIVESC_DETECTIONS,
        "containment": [
            {"kind": "deactivate_access_key", "target": inc.leaked_access_key_id},
            {"kind": "quarantine_user", "target": inc.user_arn},
            {"kind": "detach_role_policy", "target": f"{role} {admin}"},
            {"kind": "delete_inline_policy", "target": f"{role} {inline}"},
            {"kind": "revoke_role_sessions", "target": role},
        ],
        "unanswered": [],
    }


def _of_role(rec: dict, role: str) -> bool:
    """A record of ``role``'s use: a call of one of its sessions, or the caller's copy of an AssumeRole of it."""
    ui = rec["userIdentity"]
    if (ui.get("sessionContext") or {}).get("sessionIssuer", {}).get("arn") == role:
        return True
    return (
        rec["eventName"] == "AssumeRole"
        and ui.get("type") != "AWSAccount"
        and (rec["requestParameters"] or {}).get("roleArn") == role
    )


def session_answer_key(org: SeededOrg, records: list[tuple[int, str, dict, str]]) -> dict[str, Any]:
    """suspicious-role-session, investigated from the role: the pipelines' sessions are its usual use (the
    baseline: both run on its first day), the leaked key's session is the suspicious one — its source, the chain
    (a user, not a pipeline), the secret it read; containment revokes the role's sessions and switches off the
    key and the user that opened it, never the pipelines."""
    inc = org.incident
    role = inc.target_role_arn
    calls = [r for _t, kind, r, _o in records if kind == "incident" and _of_role(r, role)]
    usual = [r for _t, kind, r, _o in records if kind == "normal" and _of_role(r, role)]
    first = calls[0]
    opened = next(r for r in calls if r["eventName"] == "AssumeRole")
    key = opened["responseElements"]["credentials"]["accessKeyId"]
    return {
        "schema_version": SCHEMA_VERSION,
        "subject": {"kind": "principal", "id": role, "account_id": account_of(role)},
        "window": _window(inc, first),
        "activity": {
            "suspicious_calls": len(calls),
            "usual_calls": len(usual),
            "subject_key_calls": 0,
            "subject_key_denied": 0,
        },
        "sources": {
            "new_ips": [inc.attacker_ip],
            "new_user_agents": sorted({_family(r["userAgent"]) for r in calls}),
            "usual_ips": sorted({r["sourceIPAddress"] for r in usual}),
            "usual_user_agents": sorted({_family(r["userAgent"]) for r in usual}),
            "via_aws_services": [],
        },
        "created": {"users": [], "access_keys": [], "sessions": [key], "login_profiles": []},
        "roles_assumed": [
            {
                "role_arn": role,
                "session_name": inc.session_name,
                "access_key_id": key,
                "from_principal": inc.user_arn,
                "from_account": account_of(inc.user_arn),
                "account_id": account_of(role),
                "cross_account": True,
            }
        ],
        "resources_read": list(inc.secret_arns),
        "denied": {"count": 0, "by_code": {}},
        "containment": [
            {"kind": "revoke_role_sessions", "target": role},
            {"kind": "deactivate_access_key", "target": inc.leaked_access_key_id},
            {"kind": "quarantine_user", "target": inc.user_arn},
        ],
        "detections": [],
        "unanswered": [],
    }


def resource_answer_key(org: SeededOrg, records: list[tuple[int, str, dict, str]]) -> dict[str, Any]:
    """resource-exposure, investigated from the bucket: the public policy (Principal ``*``: IAMKIT-EXPO-001), who
    put it (the prod-deploy session), the anonymous reads and their IPs; containment takes the public grant out
    and revokes the role's sessions."""
    inc = org.incident
    bucket = f"arn:aws:s3:::{inc.details['bucket']}"
    put = next(r for _t, _k, r, _o in records if r["eventName"] == "PutBucketPolicy")
    reads = [r for _t, _k, r, _o in records if r["eventName"] == "GetObject"]
    return {
        "schema_version": SCHEMA_VERSION,
        "subject": {"kind": "resource", "id": bucket, "account_id": None},
        "resource_exposure": {
            "resource_arn": bucket,
            "problems": ["IAMKIT-EXPO-001"],
            "policy_changes": [
                {
                    "event_name": "PutBucketPolicy",
                    "by": inc.target_role_arn,
                    "time": put["eventTime"],
                    "result": "succeeded",
                }
            ],
            "accessed_by": ["anonymous"],
            "access_ips": sorted({r["sourceIPAddress"] for r in reads}),
            "reads": len(reads),
            "objects_read": sorted({f"{bucket}/{x['key']}" for x in inc.details["reads"]}),
            "first_access": min(r["eventTime"] for r in reads),
            "last_access": max(r["eventTime"] for r in reads),
        },
        "detections": [],
        "containment": [
            {"kind": "restrict_resource_policy", "target": bucket},
            {"kind": "revoke_role_sessions", "target": inc.target_role_arn},
        ],
        "unanswered": [],
    }


def entra_user_answer_key(org: SeededOrg, records: list[tuple[int, str, dict, str]]) -> dict[str, Any]:
    """compromised-entra-user, investigated from the person's UPN: the risky sign-in that succeeded (the fake
    Entra's, at the incident's start, from the attacker's IP and country), the permission set and account
    reached, the ``AWSReservedSSO_…`` session it opened and that session's calls; containment revokes the
    person's Entra sessions, disables the account, removes the assignment and revokes the role's sessions."""
    inc = org.incident
    d = inc.details
    role = inc.target_role_arn
    opened = next(r for _t, kind, r, _o in records if kind == "incident" and r["eventName"] == "AssumeRoleWithSAML")
    key = opened["responseElements"]["credentials"]["accessKeyId"]
    calls = [
        r
        for _t, kind, r, _o in records
        if kind == "incident"
        and (r["userIdentity"].get("sessionContext") or {}).get("sessionIssuer", {}).get("arn") == role
    ]
    return {
        "schema_version": SCHEMA_VERSION,
        "subject": {"kind": "person", "id": d["upn"], "account_id": None},
        "window": {
            "start": inc.start,
            "end": inc.end,
            "first_event": {
                "event_name": opened["eventName"],
                "event_time": opened["eventTime"],
                "access_key_id": None,
                "source_ip": opened["sourceIPAddress"],
            },
        },
        "sources": {
            "new_ips": [inc.attacker_ip],
            "new_user_agents": sorted({_family(r["userAgent"]) for r in calls}),
            "usual_ips": [],
            "usual_user_agents": [],
            "via_aws_services": [],
        },
        "roles_assumed": [
            {
                "role_arn": role,
                "session_name": inc.session_name,
                "access_key_id": key,
                "from_principal": d["upn"],
                "from_account": None,
                "account_id": account_of(role),
                "cross_account": False,
            }
        ],
        "resources_read": list(inc.secret_arns),
        "person": {
            "upn": d["upn"],
            "entra_object_id": d["entra_object_id"],
            "risky_signins": [
                {"time": t, "ip": inc.attacker_ip, "country": d["country"], "risk_level": "high", "succeeded": ok}
                for t, ok in [*((a, False) for a in d["attempts"]), (inc.start, True)]
            ],
            "permission_sets": [
                {"permission_set": d["permission_set"], "account_id": inc.account_id, "role_arn": role}
            ],
            "role_sessions": [
                {
                    "role_arn": role,
                    "session_name": inc.session_name,
                    "access_key_id": key,
                    "source_ip": inc.attacker_ip,
                }
            ],
            "calls": [{"event_name": r["eventName"], "time": r["eventTime"], "access_key_id": key} for r in calls],
        },
        "containment": [
            {"kind": "revoke_entra_sessions", "target": d["upn"]},
            {"kind": "disable_entra_user", "target": d["upn"]},
            {"kind": "remove_account_assignment", "target": d["permission_set_arn"]},
            {"kind": "revoke_role_sessions", "target": role},
        ],
        "detections": [],
        "unanswered": [],
    }
