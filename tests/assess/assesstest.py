"""Helpers for the assessment tests: small hand-built inventories (frames conformed with ``iamkit.frames``).

Imported as ``assesstest`` (``conftest.py`` puts this folder on sys.path)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

ACCT = "111111111111"
OTHER = "222222222222"  # another account of the organization
OUTSIDE = "999988887777"  # not in the organization
ORG = "o-test1234"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions: Any, resources: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def deny(actions: Any, resources: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": actions, "Resource": resources, **extra}


def trust(principal: Any, action: str = "sts:AssumeRole", condition: dict | None = None) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": action}
    if condition:
        st["Condition"] = condition
    return doc(st)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@dataclass
class Builder:
    """Accumulates frame rows; ``inventory()`` conforms them into an ``Inventory``."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    n: int = 0

    def add(self, frame: str, row: dict[str, Any]) -> dict[str, Any]:
        self.rows.setdefault(frame, []).append(row)
        return row

    def accounts(self, *ids: str, org: str = ORG) -> Builder:
        for a in ids:
            self.add(
                "accounts",
                {
                    "account_id": a,
                    "org_id": org,
                    "status": "ACTIVE",
                    "ou_id": f"ou-{a[:4]}",
                    "ou_path": f"r-root/ou-{a[:4]}",
                    "is_management": False,
                },
            )
        return self

    def user(
        self,
        name: str,
        acct: str = ACCT,
        *,
        groups: tuple[str, ...] = (),
        boundary: str | None = None,
        policies: tuple[dict, ...] = (),
        **kw: Any,
    ) -> str:
        arn = f"arn:aws:iam::{acct}:user/{name}"
        self.add(
            "principals",
            {
                "account_id": acct,
                "principal_type": "user",
                "name": name,
                "arn": arn,
                "principal_id": f"AIDA{name.upper()[:12]}",
                "groups": list(groups),
                "permissions_boundary_arn": boundary,
                "created": ago(400),
                **kw,
            },
        )
        for p in policies:
            self.inline(arn, p, "user", acct)
        return arn

    def group(self, name: str, acct: str = ACCT, policies: tuple[dict, ...] = ()) -> str:
        arn = f"arn:aws:iam::{acct}:group/{name}"
        self.add("principals", {"account_id": acct, "principal_type": "group", "name": name, "arn": arn})
        for p in policies:
            self.inline(arn, p, "group", acct)
        return arn

    def role(
        self,
        name: str,
        trust_doc: dict,
        acct: str = ACCT,
        *,
        policies: tuple[dict, ...] = (),
        boundary: str | None = None,
        max_session: int = 3600,
        **kw: Any,
    ) -> str:
        from iamkit.aws.documents import trust_rows

        arn = f"arn:aws:iam::{acct}:role/{name}"
        kw.setdefault("created", ago(30))
        kw.setdefault("last_used", ago(1))
        self.add(
            "principals",
            {
                "account_id": acct,
                "principal_type": "role",
                "name": name,
                "arn": arn,
                "principal_id": f"AROA{name.upper()[:12]}",
                "permissions_boundary_arn": boundary,
                "max_session_duration": max_session,
                **kw,
            },
        )
        for r in trust_rows(acct, arn, trust_doc):
            self.add("trusts", r)
        for p in policies:
            self.inline(arn, p, "role", acct)
        return arn

    def inline(self, target: str, document: dict, kind: str, acct: str = ACCT) -> None:
        self.n += 1
        self.add(
            "policies",
            {
                "account_id": acct,
                "policy_arn": None,
                "policy_name": f"inline-{self.n}",
                "policy_type": "inline",
                "attached_to_arn": target,
                "attached_to_type": kind,
                "is_default": True,
                "document": document,
                "aws_managed": False,
            },
        )

    def managed(
        self,
        name: str,
        document: dict,
        attach_to: tuple[tuple[str, str], ...] = (),
        acct: str = ACCT,
        versions: int = 1,
    ) -> str:
        arn = f"arn:aws:iam::{acct}:policy/{name}"
        targets = list(attach_to) or [(None, None)]
        for v in range(1, versions + 1):
            for t, kind in targets:
                self.add(
                    "policies",
                    {
                        "account_id": acct,
                        "policy_arn": arn,
                        "policy_name": name,
                        "policy_type": "managed",
                        "attached_to_arn": t,
                        "attached_to_type": kind,
                        "version_id": f"v{v}",
                        "is_default": v == versions,
                        "document": document if v == versions else doc(allow("s3:ListBucket")),
                        "aws_managed": False,
                    },
                )
        return arn

    def scp(self, target: str, document: dict, target_type: str = "account") -> None:
        self.n += 1
        self.add(
            "policies",
            {
                "account_id": ACCT,
                "policy_arn": f"arn:aws:organizations::{ACCT}:policy/{ORG}/service_control_policy/p-{self.n}",
                "policy_name": f"scp-{self.n}",
                "policy_type": "scp",
                "attached_to_arn": target,
                "attached_to_type": target_type,
                "is_default": True,
                "document": document,
                "aws_managed": False,
            },
        )

    def resource(
        self, service: str, arn: str, policy: dict | None, acct: str = ACCT, rtype: str = "", extra: dict | None = None
    ) -> str:
        self.add(
            "resource_policies",
            {
                "account_id": acct,
                "region": "us-east-1",
                "service": service,
                "resource_type": rtype or service,
                "resource_arn": arn,
                "policy": policy,
                "extra": extra or {},
            },
        )
        return arn

    def inventory(self):
        from iamkit.inventory import Inventory

        if "accounts" not in self.rows:
            self.accounts(ACCT, OTHER)
        return Inventory.from_rows(self.rows)


def run(builder: Builder, *rules: str):
    """Findings of ``rules`` on the builder's inventory at the fixed ``NOW``."""
    from iamkit.assess import run as assess_run

    return assess_run(builder.inventory(), rules=list(rules) or None, now=NOW)


def flagged(df, rule_id: str) -> set[str]:
    """principal or resource ARNs a rule flagged."""
    sub = df[df["rule_id"] == rule_id]
    return {x for x in list(sub["principal_arn"].dropna()) + list(sub["resource_arn"].dropna())}
