"""Credential hygiene: old, unused and doubled access keys, console users without MFA, the root user's keys,
MFA and recent use, and the account password policy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from iamkit.assess.context import Context, as_json
from iamkit.assess.registry import Hit, rule

MAX_KEY_AGE = 90
UNUSED_DAYS = 90
UNUSED_GRACE = 30  # a never-used key younger than this is still being rolled out
ROOT_RECENT = 30
ROOT_NAME = "<root_account>"


def _keys(ctx: Context) -> list[dict[str, Any]]:
    return [k for k in ctx.rows("access_keys") if (k.get("status") or "") == "Active"]


def _key_hit(k: dict[str, Any], detail: str, **ev: Any) -> Hit:
    return Hit(
        k.get("account_id"),
        k.get("user_arn"),
        "user",
        k.get("user_arn"),
        detail,
        {"access_key_id": k.get("access_key_id"), **ev},
    )


@rule(
    "IAMKIT-CRED-001",
    "credentials",
    "medium",
    "Active access key older than 90 days",
    "Long-lived keys leak (repositories, laptops, CI logs) and an old key has had years to do so.",
    "Rotate the key (create, switch, deactivate, delete) or replace it with a role.",
    ["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html#rotating_access_keys_console"],
    controls=["CIS-AWS-3.0:1.14"],
)
def old_keys(ctx: Context) -> Iterator[Hit]:
    for k in _keys(ctx):
        age = ctx.age_days(k.get("created"))
        if age is not None and age > MAX_KEY_AGE:
            yield _key_hit(k, f"active key {k.get('access_key_id')} created {age:.0f} days ago", age_days=round(age))


@rule(
    "IAMKIT-CRED-002",
    "credentials",
    "medium",
    "Active access key not used for 90 days",
    "An active key nobody uses is pure risk: it can only be used by someone who should not.",
    "Deactivate the key, then delete it if nothing breaks.",
    ["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_finding-unused.html"],
    controls=["CIS-AWS-3.0:1.12", "NIST-800-53r5:AC-2(3)"],
)
def unused_keys(ctx: Context) -> Iterator[Hit]:
    for k in _keys(ctx):
        age, idle = ctx.age_days(k.get("created")), ctx.age_days(k.get("last_used"))
        if idle is None and age is not None and age > UNUSED_GRACE:
            yield _key_hit(
                k,
                f"active key {k.get('access_key_id')} never used ({age:.0f} days old)",
                age_days=round(age),
                last_used=None,
            )
        elif idle is not None and idle > UNUSED_DAYS:
            yield _key_hit(
                k, f"active key {k.get('access_key_id')} last used {idle:.0f} days ago", idle_days=round(idle)
            )


@rule(
    "IAMKIT-CRED-003",
    "credentials",
    "low",
    "User with two active access keys",
    "Two active keys usually mean a rotation never finished: the old key is still live somewhere.",
    "Finish the rotation: deactivate and delete the older key.",
    ["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html"],
    controls=["CIS-AWS-3.0:1.13"],
)
def two_keys(ctx: Context) -> Iterator[Hit]:
    by_user: dict[str, list[dict[str, Any]]] = {}
    for k in _keys(ctx):
        by_user.setdefault(k.get("user_arn") or "", []).append(k)
    for user, keys in by_user.items():
        if user and len(keys) >= 2:
            keys.sort(key=lambda k: str(k.get("created")))
            yield _key_hit(
                keys[0], f"{len(keys)} active access keys", access_key_ids=[k["access_key_id"] for k in keys]
            )


def _users(ctx: Context) -> list[dict[str, Any]]:
    return [c for c in ctx.rows("credentials") if c.get("user") != ROOT_NAME]


def _roots(ctx: Context) -> list[dict[str, Any]]:
    return [c for c in ctx.rows("credentials") if c.get("user") == ROOT_NAME]


@rule(
    "IAMKIT-CRED-004",
    "credentials",
    "high",
    "Console user without MFA",
    "A console password without MFA falls to phishing or password reuse.",
    "Enforce MFA (a policy denying everything without aws:MultiFactorAuthPresent) and enrol a device.",
    ["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa.html"],
    controls=["CIS-AWS-3.0:1.10"],
)
def console_no_mfa(ctx: Context) -> Iterator[Hit]:
    for c in _users(ctx):
        if c.get("password_enabled") and not c.get("mfa_active"):
            yield Hit(
                c.get("account_id"),
                c.get("arn"),
                "user",
                c.get("arn"),
                f"user {c.get('user')} has a console password and no MFA device",
                {"user": c.get("user")},
            )


@rule(
    "IAMKIT-CRED-005",
    "credentials",
    "critical",
    "Root user has access keys",
    "Root access keys cannot be limited by any policy or SCP.",
    "Delete the root access keys; use roles for automation.",
    ["https://docs.aws.amazon.com/IAM/latest/UserGuide/root-user-best-practices.html"],
    controls=["CIS-AWS-3.0:1.4"],
)
def root_keys(ctx: Context) -> Iterator[Hit]:
    for c in _roots(ctx):
        active = [n for n in (1, 2) if c.get(f"access_key_{n}_active")]
        if active:
            yield Hit(
                c.get("account_id"),
                c.get("arn"),
                "root",
                c.get("arn"),
                f"root user of {c.get('account_id')} has {len(active)} active access key(s)",
                {"keys": active},
            )


def _root_mfa_off(ctx: Context) -> dict[str, dict[str, Any]]:
    out = {}
    for c in _roots(ctx):
        if c.get("mfa_active") is False:
            out[c["account_id"]] = {"source": "credential report"}
    for p in ctx.rows("posture"):
        if p.get("control") == "iam.account_summary":
            d = as_json(p.get("detail")) or {}
            if isinstance(d, dict) and d.get("AccountMFAEnabled") == 0:
                out.setdefault(p["account_id"], {"source": "account summary"})
            elif isinstance(d, dict) and d.get("AccountMFAEnabled") == 1:
                out.pop(p["account_id"], None)
    return out


@rule(
    "IAMKIT-CRED-006",
    "credentials",
    "high",
    "Root user without MFA",
    "The root user can do anything, including closing the account; a password alone protects it.",
    "Enable a hardware or virtual MFA device on the root user (or centralise root access in the organization).",
    ["https://docs.aws.amazon.com/IAM/latest/UserGuide/enable-mfa-for-root.html"],
    controls=["CIS-AWS-3.0:1.5"],
)
def root_no_mfa(ctx: Context) -> Iterator[Hit]:
    for acct, ev in sorted(_root_mfa_off(ctx).items()):
        arn = f"arn:aws:iam::{acct}:root"
        yield Hit(acct, arn, "root", arn, f"root user of {acct} has no MFA", ev)


@rule(
    "IAMKIT-CRED-007",
    "credentials",
    "medium",
    "Root user used recently",
    "Day-to-day work should never need root; recent root use is either a rare task worth confirming or a breach.",
    "Confirm who signed in as root and why; alert on root sign-ins.",
    ["https://docs.aws.amazon.com/IAM/latest/UserGuide/root-user-tasks.html"],
    controls=["CIS-AWS-3.0:1.7", "NIST-800-53r5:AC-6(2)"],
)
def root_recent(ctx: Context) -> Iterator[Hit]:
    for c in _roots(ctx):
        uses = [
            (f, ctx.age_days(c.get(f)))
            for f in ("password_last_used", "access_key_1_last_used_date", "access_key_2_last_used_date")
        ]
        recent = [(f, d) for f, d in uses if d is not None and d <= ROOT_RECENT]
        if recent:
            f, d = min(recent, key=lambda x: x[1])
            yield Hit(
                c.get("account_id"),
                c.get("arn"),
                "root",
                c.get("arn"),
                f"root user used {d:.0f} days ago ({f})",
                {"field": f, "days_ago": round(d)},
            )


def _weak(policy: dict[str, Any]) -> list[str]:
    gaps = []
    if int(policy.get("MinimumPasswordLength") or 0) < 14:
        gaps.append("minimum length < 14")
    for k in ("RequireSymbols", "RequireNumbers", "RequireUppercaseCharacters", "RequireLowercaseCharacters"):
        if not policy.get(k):
            gaps.append(f"{k} off")
    if not policy.get("PasswordReusePrevention"):
        gaps.append("no reuse prevention")
    return gaps


@rule(
    "IAMKIT-CRED-008",
    "credentials",
    "low",
    "Weak or missing IAM password policy",
    "Without a strong password policy IAM user passwords can be short, simple and reused.",
    "Set a password policy: 14+ characters, all character classes, reuse prevention 24.",
    ["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_passwords_account-policy.html"],
    controls=["CIS-AWS-3.0:1.8", "CIS-AWS-3.0:1.9"],
)
def password_policy(ctx: Context) -> Iterator[Hit]:
    for p in ctx.rows("posture"):
        if p.get("control") != "iam.password_policy":
            continue
        d = as_json(p.get("detail")) or {}
        gaps = ["no password policy"] if p.get("status") == "absent" or not d else _weak(d)
        if gaps:
            yield Hit(
                p.get("account_id"),
                None,
                None,
                p.get("resource_arn"),
                f"password policy of {p.get('account_id')}: {'; '.join(gaps)}",
                {"gaps": gaps},
            )
