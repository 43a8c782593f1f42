"""Credentials of one account: the credential report (root row included), access keys and their last
use, MFA devices, password policy, account summary and, where the endpoint supports it, service last
accessed per principal."""

from __future__ import annotations

import csv
import io
from typing import Any

from iamkit.arn import root_arn
from iamkit.aws.calls import Scope, action_name
from iamkit.aws.collectors import BIG_PAGES, More, Rows

_REPORT_POLLS = 30
_BOOL = {"true": True, "false": False}


def _value(v: str | None) -> str | None:
    return None if v in (None, "", "N/A", "not_supported", "no_information") else v


def parse_report(account_id: str, content: bytes | str) -> list[dict[str, Any]]:
    """Rows of the credentials frame from the CSV of GetCredentialReport."""
    text = content.decode() if isinstance(content, bytes) else content
    rows = []
    for r in csv.DictReader(io.StringIO(text)):
        rows.append(
            {
                "account_id": account_id,
                "user": r.get("user"),
                "arn": r.get("arn"),
                "user_creation_time": _value(r.get("user_creation_time")),
                "password_enabled": _BOOL.get((r.get("password_enabled") or "").lower()),
                "password_last_used": _value(r.get("password_last_used")),
                "password_last_changed": _value(r.get("password_last_changed")),
                "mfa_active": _BOOL.get((r.get("mfa_active") or "").lower()),
                **{
                    f"access_key_{i}_{k}": (
                        _BOOL.get((r.get(f"access_key_{i}_{k}") or "").lower())
                        if k == "active"
                        else _value(r.get(f"access_key_{i}_{k}"))
                    )
                    for i in (1, 2)
                    for k in ("active", "last_rotated", "last_used_date")
                },
            }
        )
    return rows


def credential_report(scope: Scope) -> list[dict[str, Any]]:
    """Generate (polling with the context's sleep) and parse the credential report."""
    for attempt in range(_REPORT_POLLS):
        state = scope.call("iam", "GenerateCredentialReport")
        if state is None:
            return []
        if state.get("State") == "COMPLETE":
            break
        scope.sleep(min(2.0, 0.2 * (attempt + 1)))
    report = scope.call("iam", "GetCredentialReport", absent=("ReportNotPresent", "ReportInProgress", "ReportExpired"))
    return parse_report(scope.account_id, report["Content"]) if report else []


def access_keys(scope: Scope, users: list[dict]) -> list[dict[str, Any]]:
    """Every access key of every user, with its last use."""
    rows = []
    for u in users:
        keys = (
            scope.pages("iam", "ListAccessKeys", "AccessKeyMetadata", UserName=u["UserName"], absent=("NoSuchEntity",))
            or []
        )
        for k in keys:
            used = scope.call("iam", "GetAccessKeyLastUsed", AccessKeyId=k["AccessKeyId"]) or {}
            last = used.get("AccessKeyLastUsed") or {}
            rows.append(
                {
                    "account_id": scope.account_id,
                    "user_name": u["UserName"],
                    "user_arn": u["Arn"],
                    "access_key_id": k["AccessKeyId"],
                    "status": k.get("Status"),
                    "created": k.get("CreateDate"),
                    "last_used": last.get("LastUsedDate"),
                    "last_used_service": _value(last.get("ServiceName")),
                    "last_used_region": _value(last.get("Region")),
                }
            )
    return rows


def mfa_devices(scope: Scope, users: list[dict]) -> list[dict[str, Any]]:
    """MFA devices (posture rows, control ``iam.mfa_device``) of every user."""
    rows = []
    for u in users:
        for d in (
            scope.pages("iam", "ListMFADevices", "MFADevices", UserName=u["UserName"], absent=("NoSuchEntity",)) or []
        ):
            rows.append(
                {
                    "account_id": scope.account_id,
                    "region": None,
                    "control": "iam.mfa_device",
                    "resource_arn": d.get("SerialNumber"),
                    "status": "enabled",
                    "detail": {"user_name": u["UserName"], "user_arn": u["Arn"], "enabled": str(d.get("EnableDate"))},
                }
            )
    return rows


def account_settings(scope: Scope) -> list[dict[str, Any]]:
    """Password policy and account summary as posture rows."""
    acct = scope.account_id
    rows = []
    pp = scope.call("iam", "GetAccountPasswordPolicy", absent=("NoSuchEntity",))
    rows.append(
        {
            "account_id": acct,
            "region": None,
            "control": "iam.password_policy",
            "resource_arn": root_arn(acct),
            "status": "set" if pp else "absent",
            "detail": (pp or {}).get("PasswordPolicy") or {},
        }
    )
    summary = scope.call("iam", "GetAccountSummary")
    if summary is not None:
        m = summary.get("SummaryMap") or {}
        rows.append(
            {
                "account_id": acct,
                "region": None,
                "control": "iam.account_summary",
                "resource_arn": root_arn(acct),
                "status": "root_mfa" if m.get("AccountMFAEnabled") else "root_no_mfa",
                "detail": m,
            }
        )
    return rows


def service_last_accessed(scope: Scope, arns: list[str], max_polls: int = 20) -> list[dict[str, Any]]:
    """Services each principal last used (posture rows ``iam.service_last_accessed``), where supported.

    The first unsupported answer marks the operation unsupported for the run, so the rest are skipped.
    """
    rows = []
    for arn in arns:
        if scope.log.is_unsupported(action_name("iam", "GenerateServiceLastAccessedDetails")):
            break
        job = scope.call("iam", "GenerateServiceLastAccessedDetails", Arn=arn)
        if not job:
            continue
        for attempt in range(max_polls):
            res = scope.call("iam", "GetServiceLastAccessedDetails", JobId=job["JobId"])
            if res is None or res.get("JobStatus") != "IN_PROGRESS":
                break
            scope.sleep(min(2.0, 0.1 * (attempt + 1)))
        if not res or res.get("JobStatus") != "COMPLETED":
            continue
        used = [s for s in res.get("ServicesLastAccessed") or [] if s.get("LastAuthenticated")]
        rows.append(
            {
                "account_id": scope.account_id,
                "region": None,
                "control": "iam.service_last_accessed",
                "resource_arn": arn,
                "status": "used" if used else "unused",
                "detail": {
                    "services": [
                        {
                            "namespace": s.get("ServiceNamespace"),
                            "last_authenticated": str(s.get("LastAuthenticated")),
                            "entity": s.get("LastAuthenticatedEntity"),
                        }
                        for s in used
                    ]
                },
            }
        )
    return rows


def root_row(account_id: str, summary: dict[str, Any]) -> dict[str, Any]:
    """A stand-in root row from the account summary, for endpoints whose report omits the root user
    (only MFA and key presence are known; the rest stays null)."""
    return {
        "account_id": account_id,
        "user": "<root_account>",
        "arn": root_arn(account_id),
        "mfa_active": bool(summary.get("AccountMFAEnabled")),
        "access_key_1_active": bool(summary.get("AccountAccessKeysPresent")),
    }


def add_missing_root_rows(rows: Rows) -> None:
    """Give every account whose credential report lacks the root row one built from its account summary."""
    have = {r["account_id"] for r in rows.get("credentials", []) if r["user"] == "<root_account>"}
    reported = {r["account_id"] for r in rows.get("credentials", [])}
    for p in rows.get("posture", []):
        if p["control"] == "iam.account_summary" and p["account_id"] in reported - have:
            rows["credentials"].append(root_row(p["account_id"], p["detail"] or {}))


USERS_PER_TASK = 4


def _users(scope: Scope, with_service_last_accessed: bool) -> More:
    """List users, then one follow-up task per few users (keys, last use, MFA) and one for last-accessed."""
    users = scope.pages("iam", "ListUsers", "Users", PaginationConfig=BIG_PAGES) or []
    tasks: list[tuple[str, Any]] = []
    for i in range(0, len(users), USERS_PER_TASK):
        chunk = users[i : i + USERS_PER_TASK]
        tasks.append(
            (
                f"keys+mfa users {i}-{i + len(chunk) - 1}",
                lambda chunk=chunk: {"access_keys": access_keys(scope, chunk), "posture": mfa_devices(scope, chunk)},
            )
        )
    if with_service_last_accessed:
        tasks.append(("service last accessed", lambda: {"posture": _last_accessed(scope, users)}))
    return More({}, tasks)


def _last_accessed(scope: Scope, users: list[dict]) -> list[dict[str, Any]]:
    rows = service_last_accessed(scope, [u["Arn"] for u in users])
    if not scope.log.is_unsupported(action_name("iam", "GenerateServiceLastAccessedDetails")):
        roles = scope.pages("iam", "ListRoles", "Roles", PaginationConfig=BIG_PAGES) or []
        rows += service_last_accessed(scope, [r["Arn"] for r in roles])
    return rows


def collect(scope: Scope, with_service_last_accessed: bool = True) -> More:
    """Credentials, access keys, MFA devices and account settings of ``scope``'s account, as follow-up
    tasks (see ``add_missing_root_rows`` for the root row when the report has none)."""
    return More(
        {},
        [
            ("credential report", lambda: {"credentials": credential_report(scope)}),
            ("account settings", lambda: {"posture": account_settings(scope)}),
            ("users", lambda: _users(scope, with_service_last_accessed)),
        ],
    )
