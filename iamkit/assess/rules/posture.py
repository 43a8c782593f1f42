"""Detective-control posture: organization or multi-region trail, logging on, log-file validation, Access
Analyzer, GuardDuty; and stale roles and users nobody has used for months."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from iamkit.assess.context import Context, as_json
from iamkit.assess.registry import Hit, rule

STALE_DAYS = 90


def _trails(ctx: Context) -> list[dict[str, Any]]:
    out = []
    for p in ctx.rows("posture"):
        if p.get("control") == "cloudtrail.trail":
            d = as_json(p.get("detail")) or {}
            out.append({**p, "d": d if isinstance(d, dict) else {}})
    return out


def _collected(ctx: Context) -> set[str]:
    """Accounts whose posture was collected (an offline authorization-details export has none)."""
    return {p["account_id"] for p in ctx.rows("posture") if p.get("account_id")}


def _unsupported(ctx: Context, prefix: str) -> bool:
    return any((e.get("operation") or "").startswith(prefix) for e in ctx.rows("errors"))


@rule(
    "IAMKIT-POST-001",
    "posture",
    "high",
    "No multi-region or organization trail",
    "Without a trail covering every region (or an organization trail) activity in other regions goes unrecorded.",
    "Create an organization trail (or a multi-region trail per account) with global service events.",
    ["https://docs.aws.amazon.com/awscloudtrail/latest/userguide/creating-trail-organization.html"],
)
def no_trail(ctx: Context) -> Iterator[Hit]:
    trails = _trails(ctx)
    org_wide = any(t["d"].get("organization_trail") and t["d"].get("multi_region") for t in trails)
    for acct in sorted(_collected(ctx)):
        if org_wide:
            continue
        if not any(t.get("account_id") == acct and t["d"].get("multi_region") for t in trails):
            yield Hit(
                acct,
                None,
                None,
                f"arn:aws:iam::{acct}:root",
                f"account {acct} has no multi-region trail and no organization trail covers it",
                {"trails": [t.get("resource_arn") for t in trails]},
            )


@rule(
    "IAMKIT-POST-002",
    "posture",
    "high",
    "CloudTrail trail not logging",
    "A stopped trail is the first thing an intruder does after getting in (cloudtrail:StopLogging).",
    "Start logging again and find out who stopped it (CloudTrail event StopLogging).",
    ["https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_StopLogging.html"],
)
def trail_stopped(ctx: Context) -> Iterator[Hit]:
    for t in _trails(ctx):
        if t.get("status") == "not_logging" or t["d"].get("is_logging") is False:
            yield Hit(t.get("account_id"), None, None, t.get("resource_arn"), "trail is not logging", t["d"])


@rule(
    "IAMKIT-POST-003",
    "posture",
    "medium",
    "Trail without log-file validation",
    "Without digest files nobody can prove the logs an investigation relies on were not altered.",
    "Enable log-file validation on the trail.",
    ["https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-validation-intro.html"],
)
def no_validation(ctx: Context) -> Iterator[Hit]:
    for t in _trails(ctx):
        if t["d"].get("log_file_validation") is False:
            yield Hit(t.get("account_id"), None, None, t.get("resource_arn"), "log-file validation is off", t["d"])


def _missing_control(ctx: Context, control: str, op_prefix: str) -> Iterator[str]:
    if _unsupported(ctx, op_prefix):
        return
    have = {
        p["account_id"]
        for p in ctx.rows("posture")
        if p.get("control") == control and p.get("status") in ("active", "enabled")
    }
    yield from sorted(_collected(ctx) - have)


@rule(
    "IAMKIT-POST-004",
    "posture",
    "medium",
    "No IAM Access Analyzer",
    "Access Analyzer continuously finds resources shared outside the account or organization.",
    "Create an organization (or account) analyzer in every region in use.",
    ["https://docs.aws.amazon.com/IAM/latest/UserGuide/what-is-access-analyzer.html"],
    controls=["CIS-AWS-3.0:1.20"],
)
def no_access_analyzer(ctx: Context) -> Iterator[Hit]:
    for acct in _missing_control(ctx, "access_analyzer.analyzer", "access-analyzer:"):
        yield Hit(acct, None, None, f"arn:aws:iam::{acct}:root", f"no active Access Analyzer in {acct}", {})


@rule(
    "IAMKIT-POST-005",
    "posture",
    "medium",
    "No GuardDuty detector",
    "GuardDuty is AWS's detector for credential misuse (e.g. keys used from unusual networks).",
    "Enable GuardDuty organization-wide from the delegated administrator.",
    ["https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_organizations.html"],
)
def no_guardduty(ctx: Context) -> Iterator[Hit]:
    for acct in _missing_control(ctx, "guardduty.detector", "guardduty:"):
        yield Hit(acct, None, None, f"arn:aws:iam::{acct}:root", f"no enabled GuardDuty detector in {acct}", {})


@rule(
    "IAMKIT-POST-006",
    "posture",
    "low",
    "Stale role",
    "A role unused for months still grants its permissions to whoever can assume it.",
    "Confirm with the owner, then remove the role (or its trust) — iamkit remediate keeps an undo.",
    ["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_manage_delete.html"],
    controls=["NIST-800-53r5:AC-2(3)"],
)
def stale_roles(ctx: Context) -> Iterator[Hit]:
    for arn, p in ctx.principal_rows.items():
        if p.get("principal_type") != "role" or p.get("service_linked") or "/aws-reserved/" in arn:
            continue
        created, used = ctx.age_days(p.get("created")), ctx.age_days(p.get("last_used"))
        if used is not None and used > STALE_DAYS:
            yield Hit(
                p.get("account_id"),
                arn,
                "role",
                arn,
                f"role last used {used:.0f} days ago",
                {"last_used_days": round(used)},
            )
        elif used is None and created is not None and created > STALE_DAYS:
            yield Hit(
                p.get("account_id"),
                arn,
                "role",
                arn,
                f"role never used since creation {created:.0f} days ago",
                {"created_days": round(created), "last_used": None},
            )


@rule(
    "IAMKIT-POST-007",
    "posture",
    "low",
    "Stale user",
    "A user with no password or key use for months is an account nobody would notice being abused.",
    "Disable the user's console access and keys, then remove the user.",
    ["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_finding-unused.html"],
    controls=["CIS-AWS-3.0:1.12", "NIST-800-53r5:AC-2(3)"],
)
def stale_users(ctx: Context) -> Iterator[Hit]:
    for c in ctx.rows("credentials"):
        if c.get("user") == "<root_account>" or not c.get("arn"):
            continue
        created = ctx.age_days(c.get("user_creation_time"))
        uses = [
            ctx.age_days(c.get(f))
            for f in ("password_last_used", "access_key_1_last_used_date", "access_key_2_last_used_date")
        ]
        uses = [u for u in uses if u is not None]
        if created is None or created <= STALE_DAYS:
            continue
        if not uses or min(uses) > STALE_DAYS:
            last = f"{min(uses):.0f} days ago" if uses else "never"
            yield Hit(
                c.get("account_id"),
                c["arn"],
                "user",
                c["arn"],
                f"user last active {last}",
                {"created_days": round(created), "last_active_days": round(min(uses)) if uses else None},
            )
