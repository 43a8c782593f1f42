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
_NO_CONTEXT: dict[str, Any] = {}
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


def _arn_account(arn: str) -> str:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 else ""


def _layer_uniform(sts: list[Any]) -> bool:
    """One policy layer decides alike for every resource: only unconditional '*' statements, or an unconditional
    Allow on '*' and no Deny at all (the scoped Allows beside it change nothing)."""
    def star(st: Any) -> bool:
        return st.resources == ("*",) and st.compiled_condition is None

    if all(star(st) for st in sts):
        return True
    return any(st.effect == "Allow" and star(st) for st in sts) and not any(st.effect == "Deny" for st in sts)


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
        self._could: dict[tuple[int, str, str], bool] = {}
        self._blocked: dict[tuple, bool] = {}
        self._stmts: dict[tuple, Any] = {}
        self._uniform: dict[tuple, bool] = {}

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

    def blocked_everywhere(self, pm: Any, action: str) -> bool:
        """Whether an unconditional Deny on every resource (identity, boundary, SCP), a boundary or an SCP level
        without any Allow for ``action`` blocks it whatever the resource (cached per policy set): the engine
        would deny every target, so the graph need not ask it target by target."""
        key = (self._signature(pm), action.lower())
        hit = self._blocked.get(key)
        if hit is None:
            low = action.lower()

            def denies(pols: Any) -> bool:
                return any(st.effect == "Deny" and st.compiled_condition is None and st.resources == ("*",)
                           for p in pols for st in p.relevant(low))

            def allows(pols: Any) -> bool:
                return any(st.effect == "Allow" for p in pols for st in p.relevant(low))

            hit = denies(pm.identity)
            if not hit and pm.boundaries:
                hit = denies(pm.boundaries) or not allows(pm.boundaries)
            levels = self.model.scps.get(pm.account_id)
            if not hit and levels and not pm.service_linked and pm.account_id not in self.model.management:
                hit = any(denies(level) or not allows(level) for level in levels)
            self._blocked[key] = hit
        return hit

    def _statements(self, pm: Any, action: str) -> tuple[Any, ...] | None:
        """Every statement that could decide ``action`` for ``pm`` (identity, boundary, SCPs); None when one
        has a policy variable in its resources (matching then depends on the request)."""
        key = (self._signature(pm), action.lower())
        hit = self._stmts.get(key, False)
        if hit is False:
            low = action.lower()
            pols = list(pm.identity) + list(pm.boundaries)
            for level in self.model.scps.get(pm.account_id) or ():
                pols += list(level)
            sts = tuple(st for p in pols for st in p.relevant(low))
            variable = any("${" in r for st in sts for r in (st.resources or st.not_resources or ()))
            hit = None if variable else sts
            self._stmts[key] = hit
        return hit

    def uniform(self, pm: Any, action: str) -> bool:
        """Every statement deciding ``action`` for ``pm`` names Resource '*' with no condition: the decision is
        the same for every target that has no resource policy (all IAM users and roles)."""
        key = (self._signature(pm), action.lower())
        hit = self._uniform.get(key)
        if hit is None:
            low = action.lower()
            layers = [list(pm.identity), list(pm.boundaries)] + [list(lv) for lv in
                                                                 self.model.scps.get(pm.account_id) or ()]
            hit = self.blocked_everywhere(pm, action) or \
                all(_layer_uniform([st for p in layer for st in p.relevant(low)]) for layer in layers)
            self._uniform[key] = hit
        return hit

    def _match_shape(self, pm: Any, action: str, resource: str) -> tuple[int, ...] | None:
        """Which of those statements cover ``resource``: targets with the same shape (and account, and no
        resource policy) get the same decision, so the engine is asked once per shape, not once per target."""
        sts = self._statements(pm, action)
        if sts is None:
            return None
        return tuple(i for i, st in enumerate(sts) if st.matches_resource(resource, _NO_CONTEXT))

    def could_allow(self, pm: Any, action: str, resource: str) -> bool:
        """Text-level superset of the engine: some identity Allow statement covers ``action`` and ``resource``
        (statements with policy variables or NotResource count as covering). Lets the graph skip the engine for
        targets no statement names; the engine still decides every pair this keeps."""
        low = action.lower()
        key = (id(pm), low, resource)
        hit = self._could.get(key)
        if hit is None:
            hit = False
            for pol in pm.identity:
                for st in pol.relevant(low):
                    if st.effect != "Allow":
                        continue
                    if st.resources is None or any("${" in r for r in st.resources) or \
                            st.matches_resource(resource, _NO_CONTEXT):
                        hit = True
                        break
                if hit:
                    break
            if len(self._could) > 200_000:
                self._could.clear()
            self._could[key] = hit
        return hit

    def decide(self, pm: Any, action: str, resource: str = "*", context: Mapping[str, Any] | None = None) -> str:
        """The engine's result for an inventory principal (strict mode, every applicable policy type)."""
        if pm.principal_type != "root" and not self._named_anywhere(resource, action):
            if not self.holds(pm, action) or (resource != "*" and not self.could_allow(pm, action, resource)):
                return "ImplicitlyDenied"
            if self.blocked_everywhere(pm, action):
                return "ExplicitlyDenied"
        key = None
        if resource == "*" and not context and pm.principal_type != "root":
            key = (self._signature(pm), action.lower())
        elif not context and pm.principal_type != "root" and not self._named_anywhere(resource, action):
            shape = self._match_shape(pm, action, resource)
            if shape is not None:
                key = (self._signature(pm), action.lower(), shape, _arn_account(resource))
            hit = self._cache.get(key)
            if hit is not None:
                return hit
        result = self._decide_fn(self.model, pm, action, resource, context, "strict", False).result
        if key is not None:
            self._cache[key] = result
        return result

    def allowed(self, pm: Any, action: str, resource: str = "*", context: Mapping[str, Any] | None = None) -> bool:
        return self.decide(pm, action, resource, context) == ALLOWED

    def allowed_via_account_trust(self, pm: Any, action: str, role_arn: str) -> bool:
        """``action`` on a role whose trust names the caller's account root with no condition: the engine
        decides the caller's side against that trust (cached per policy-set shape and account, as for
        targets without resource policies)."""
        if pm.principal_type == "root":
            return True
        if not self.holds(pm, action) or not self.could_allow(pm, action, role_arn) or \
                self.blocked_everywhere(pm, action):
            return False
        shape = self._match_shape(pm, action, role_arn)
        acct = _arn_account(role_arn)
        key = (self._signature(pm), action.lower(), shape, acct, "account-trust") if shape is not None else None
        hit = self._cache.get(key) if key else None
        if hit is None:
            from iamkit.policy import query

            trust = {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": action, "Principal": {"AWS": f"arn:aws:iam::{pm.account_id}:root"}}]}
            m = self.model
            req = query._request(pm, m, action, role_arn, acct, None)
            hit = evaluate(req, pm.identity, trust, pm.boundaries or None, m.scps.get(pm.account_id),
                           m.rcps.get(acct), explain=False).result
            if key:
                self._cache[key] = hit
        return hit == ALLOWED

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

    def _named_anywhere(self, resource: str, action: str = "") -> bool:
        """The resource has its own policy for ``action`` (resource policy, a role's trust for sts:*, or the
        bucket policy of an object)."""
        if resource == "*":
            return False
        rp = self.model.resource_policies
        if resource in rp or (action.lower().startswith("sts:") and resource in self.model.trusts):
            return True
        return resource.startswith("arn:aws:s3:::") and resource.split("/", 1)[0] in rp

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
