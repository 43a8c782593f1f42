"""What every rule needs about one inventory, computed once: the engine's parsed model, frames as row dicts,
the organization's accounts, and cached engine decisions ("is this principal allowed X on Y?")."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from iamkit.policy.engine import ALLOWED, CONDITIONAL, evaluate

# Probes: a principal allowed every one of these on "*" is treated as holding AdministratorAccess.
ADMIN_PROBES = ("iam:PutRolePolicy", "iam:AttachUserPolicy", "iam:CreateAccessKey", "sts:AssumeRole",
                "s3:GetObject", "s3:PutBucketPolicy", "ec2:RunInstances", "lambda:CreateFunction",
                "secretsmanager:GetSecretValue", "organizations:DescribeOrganization", "dynamodb:DeleteTable",
                "rds:DeleteDBInstance", "sns:Publish")
# (kms:Decrypt needs the key policy too, and guardrail SCPs such as "never stop CloudTrail" are common on real
# administrators, so neither is a probe.)
FOREIGN_ACCOUNT = "999999999999"
FOREIGN_ORG = "o-iamkitforeign"
_ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def val(v: Any) -> Any:
    """A frame cell with pandas' missing markers (NA, NaT, NaN) turned into None."""
    if v is None or isinstance(v, (list, dict, tuple, str, bool)):
        return v
    try:
        import pandas as pd

        return None if pd.isna(v) else v
    except (TypeError, ValueError):
        return v


def as_json(v: Any) -> Any:
    """JSON text decoded; anything else as it is."""
    v = val(v)
    if isinstance(v, str) and v[:1] in "[{":
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


class Context:
    """One inventory under assessment (``now`` injectable so age rules are testable)."""

    def __init__(self, inventory: Any, now: datetime | None = None):
        from iamkit.policy import query

        self.inv = inventory
        self.now = now or datetime.now(UTC)
        self.model = query.model(inventory, refresh=True)
        self._decide_fn = query._decide
        self._cache: dict[tuple, str] = {}
        self._grants: dict[tuple[int, str], bool] = {}

    # ---- frames as rows
    def rows(self, name: str) -> list[dict[str, Any]]:
        df = getattr(self.inv, name, None)
        if df is None or len(df) == 0:
            return []
        return [{k: val(v) for k, v in r.items()} for r in df.to_dict(orient="records")]

    @cached_property
    def principal_rows(self) -> dict[str, dict[str, Any]]:
        return {r["arn"]: r for r in self.rows("principals") if r.get("arn")}

    @cached_property
    def accounts(self) -> set[str]:
        """Accounts of the organization (or, for an offline export, the accounts the inventory holds)."""
        out = {r["account_id"] for r in self.rows("accounts") if r.get("account_id")}
        out |= {r["account_id"] for r in self.principal_rows.values() if r.get("account_id")}
        return out

    @cached_property
    def org_id(self) -> str | None:
        return next((r["org_id"] for r in self.rows("accounts") if r.get("org_id")), None)

    # ---- engine decisions
    def holds(self, pm: Any, action: str) -> bool:
        """Cheap pre-filter: some identity policy of ``pm`` has an Allow statement covering ``action``."""
        low = action.lower()
        for pol in pm.identity:
            key = (id(pol), low)
            hit = self._grants.get(key)
            if hit is None:
                hit = any(s.effect == "Allow" for s in pol.relevant(low))
                self._grants[key] = hit
            if hit:
                return True
        return False

    def decide(self, pm: Any, action: str, resource: str = "*", context: Mapping[str, Any] | None = None) -> str:
        """The engine's result for an inventory principal (strict mode, every applicable policy type)."""
        if pm.principal_type != "root" and not self.holds(pm, action) and not self._named_anywhere(resource):
            return "ImplicitlyDenied"
        key = None
        if resource == "*" and not context and pm.principal_type != "root":
            key = (self._signature(pm), action.lower())
            hit = self._cache.get(key)
            if hit is not None:
                return hit
        result = self._decide_fn(self.model, pm, action, resource, context, "strict", False).result
        if key is not None:
            self._cache[key] = result
        return result

    def allowed(self, pm: Any, action: str, resource: str = "*", context: Mapping[str, Any] | None = None) -> bool:
        return self.decide(pm, action, resource, context) == ALLOWED

    def allowed_default_key(self, pm: Any, action: str) -> bool:
        """``action`` on a KMS key of the principal's account that has the default key policy (which delegates
        to IAM): KMS always needs the key policy, so this is how "kms:* on every key" is decided."""
        from iamkit.policy import query

        key = f"arn:aws:kms:us-east-1:{pm.account_id}:key/iamkit-probe"
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*",
                                                          "Principal": {"AWS": f"arn:aws:iam::{pm.account_id}:root"}}]}
        m = self.model
        req = query._request(pm, m, action, key, pm.account_id, None)
        return evaluate(req, pm.identity, policy, pm.boundaries or None, m.scps.get(pm.account_id),
                        m.rcps.get(pm.account_id), explain=False).result == ALLOWED

    def _named_anywhere(self, resource: str) -> bool:
        return resource != "*" and (resource in self.model.resource_policies or resource in self.model.trusts)

    def _signature(self, pm: Any) -> tuple:
        """Principals with the same policies, boundary and account decide alike on ``*`` (no variables used)."""
        sig = getattr(pm, "_iamkit_sig", None)
        if sig is None:
            uses_vars = any("${" in json.dumps(p.to_dict()) for p in pm.identity)
            sig = (pm.arn,) if uses_vars or pm.tags else (
                pm.account_id, pm.principal_type, pm.service_linked,
                tuple(sorted(id(p) for p in pm.identity)), tuple(id(b) for b in pm.boundaries))
            try:
                object.__setattr__(pm, "_iamkit_sig", sig)
            except AttributeError:  # pragma: no cover - slots
                pass
        return sig

    @cached_property
    def iam_principals(self) -> list[Any]:
        """Users and roles (root excluded: it is covered by the credential rules)."""
        return [p for p in self.model.principals if p.principal_type in ("user", "role")]

    @cached_property
    def admins(self) -> set[str]:
        """ARNs of principals the engine allows every administrator probe on ``*``."""
        return {pm.arn for pm in self.iam_principals if all(self.allowed(pm, a) for a in ADMIN_PROBES)}

    def first(self, pm: Any, actions: Iterable[str], resource: str = "*") -> list[str]:
        """The subset of ``actions`` the engine allows ``pm`` on ``resource``."""
        return [a for a in actions if self.allowed(pm, a, resource)]

    # ---- outsiders reaching a resource policy
    def outsider_result(self, policy: Any, action: str, resource: str, account: str, *, principal: str | None,
                        org_id: str | None = None, resource_account: str | None = None) -> str:
        """Decide ``action`` for an outsider (``principal=None``: anonymous) holding an Allow-all identity policy."""
        req: dict[str, Any] = {"principal": principal, "action": action, "resource": resource,
                               "resource_account": resource_account or account}
        if org_id:
            req["principal_org_id"] = org_id
        d = evaluate(req, [_ALLOW_ALL] if principal else None, policy, mode="discovery", explain=False)
        return d.result

    def is_open(self, result: str) -> bool:
        return result in (ALLOWED, CONDITIONAL)

    def age_days(self, ts: Any) -> float | None:
        ts = val(ts)
        if ts is None:
            return None
        if isinstance(ts, str):
            ts = datetime.fromisoformat(ts.replace("Z", "+00:00"))
        if getattr(ts, "tzinfo", None) is None:
            ts = ts.replace(tzinfo=UTC)
        return (self.now - ts).total_seconds() / 86400


Check = Callable[[Context], Iterable[Any]]
