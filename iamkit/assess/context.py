"""What every rule needs about one inventory, computed once: the engine's parsed model, frames as row dicts,
the organization's accounts, and cached engine decisions ("is this principal allowed X on Y?")."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from iamkit import arn as arns
from iamkit.policy import query
from iamkit.policy.engine import ALLOWED, CONDITIONAL, evaluate
from iamkit.policy.matching import is_glob
from iamkit.policy.query import admin_equivalent, decide_for, request_for

__all__ = ["SATISFIABLE_KEYS", "Context", "as_json", "val"]

# Context keys whose values the caller chooses (or that hold today for a fresh session), so a condition on them
# does not stop an attacker: a new session's aws:TokenIssueTime is now, aws:CurrentTime/EpochTime are today, the
# caller picks TLS, the region, its user agent, the referer and the tags it sends.
SATISFIABLE_KEYS = frozenset(
    {
        "aws:tokenissuetime",
        "aws:currenttime",
        "aws:epochtime",
        "aws:securetransport",
        "aws:requestedregion",
        "aws:useragent",
        "aws:referer",
        "aws:tagkeys",
    }
)
SATISFIABLE_PREFIXES = ("aws:requesttag/",)
_MAX_TRIES = 64


def satisfiable_key(key: str) -> bool:
    low = key.lower()
    return low in SATISFIABLE_KEYS or low.startswith(SATISFIABLE_PREFIXES)


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


def _layer_uniform(sts: list[Any]) -> bool:
    """One policy layer decides alike for every resource: only unconditional '*' statements, or an unconditional
    Allow on '*' and no Deny at all (the scoped Allows beside it change nothing)."""

    def star(st: Any) -> bool:
        return st.resources == ("*",) and st.compiled_condition is None

    if all(star(st) for st in sts):
        return True
    return any(st.effect == "Allow" and star(st) for st in sts) and not any(st.effect == "Deny" for st in sts)


def _denies(pols: Any, low: str) -> bool:
    """Some policy has an unconditional Deny of ``low`` on Resource '*'."""
    return any(
        st.effect == "Deny" and st.compiled_condition is None and st.resources == ("*",)
        for p in pols
        for st in p.relevant(low)
    )


def _allows(pols: Any, low: str) -> bool:
    """Some policy has an Allow statement covering ``low``."""
    return any(st.effect == "Allow" for p in pols for st in p.relevant(low))


class Context:
    """One inventory under assessment (``now`` injectable so age rules are testable)."""

    def __init__(self, inventory: Any, now: datetime | None = None):
        self.inv = inventory
        self.now = now or datetime.now(UTC)
        self.model = query.model(inventory, refresh=True)
        self._cache: dict[tuple, str] = {}
        self._granting: dict[str, frozenset[int]] = {}
        self._identity_ids: dict[int, frozenset[int]] = {}
        self._identity_policies: list[Any] | None = None
        self._known: set[int] = set()
        self._by_service: dict[str, list[Any]] = {}
        self._wild_policies: list[Any] = []
        self._maybe: dict[str, frozenset[int]] = {}
        self._star_denying: dict[str, frozenset[int]] = {}
        self._holder_arns: dict[str, set[str]] = {}
        self._policy_members: dict[int, set[str]] | None = None
        self._rows: dict[str, list[dict[str, Any]]] = {}
        self._star_keys: dict[tuple[int, str], tuple] = {}
        self._could: dict[tuple[int, str, str], bool] = {}
        self._blocked: dict[tuple, bool] = {}
        self._stmts: dict[tuple, Any] = {}
        self._uniform: dict[tuple, bool] = {}
        self._dynamic: dict[int, bool] = {}
        # (principal ARN, action) -> the context keys and values an attacker sets to be allowed (see decide)
        self.conditions: dict[tuple[str, str], dict[str, Any]] = {}

    def release(self) -> None:
        """Drop what rules cached on the context (the escalation graph refers back to it), so the context is
        freed as soon as its last user lets go of it."""
        self.__dict__.pop("_privesc_graph", None)

    # ---- frames as rows
    def rows(self, name: str) -> list[dict[str, Any]]:
        """A frame of the inventory as row dicts (missing values as None), converted once per assessment:
        rules share the list and must not change it."""
        hit = self._rows.get(name)
        if hit is None:
            hit = self.model.frames.get(name)  # already converted while building the engine's model
            if hit is None:
                hit = query.records(getattr(self.inv, name, None))
            self._rows[name] = hit
        return hit

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
        ids = self._ids(pm)
        granting = self._granting.get(low)
        if granting is None:
            granting = self._granting_policies(low)
        return not granting.isdisjoint(ids)

    def _ids(self, pm: Any) -> frozenset[int]:
        """ids of ``pm``'s identity policies (the per-action policy indexes are extended for an unknown one)."""
        ids = self._identity_ids.get(id(pm))
        if ids is None:
            if self._identity_policies is None:
                self._model_policies()
            ids = self._identity_ids[id(pm)] = frozenset(id(p) for p in pm.identity)
            if not ids <= self._known:  # a principal outside the model
                extra = [p for p in pm.identity if id(p) not in self._known]
                self._identity_policies += extra
                self._index_services(extra)
                self._known |= ids
                self._granting.clear()
                self._star_denying.clear()
                self._maybe.clear()
        return ids

    def _model_policies(self) -> list[Any]:
        """Every distinct identity policy of the model's principals (what ``holds`` indexes)."""
        seen: dict[int, Any] = {}
        for p in self.model.principals:
            for pol in p.identity:
                seen.setdefault(id(pol), pol)
        self._identity_policies = list(seen.values())
        self._known = set(seen)
        self._index_services(self._identity_policies)
        return self._identity_policies

    def _index_services(self, pols: Iterable[Any]) -> None:
        """Index policies by the services their Action patterns name, so a question about one action only looks
        at the policies that could cover it (NotAction or a wildcard service: every action)."""
        for pol in pols:
            services: set[str] = set()
            wild = False
            for st in pol.statements:
                if st.actions is None:
                    wild = True
                    break
                for a in st.actions:
                    svc = a.split(":", 1)[0].lower() if ":" in a else "*"
                    if "*" in svc or "?" in svc:
                        wild = True
                        break
                    services.add(svc)
                if wild:
                    break
            if wild:
                self._wild_policies.append(pol)
            else:
                for svc in services:
                    self._by_service.setdefault(svc, []).append(pol)

    def _candidate_policies(self, low: str) -> list[Any]:
        """Identity policies that could have a statement covering ``low`` (see ``_index_services``)."""
        if self._identity_policies is None:
            self._model_policies()
        return self._by_service.get(low.split(":", 1)[0], []) + self._wild_policies

    def granting_policies(self, action: str) -> frozenset[int]:
        """ids of the model's identity policies with an Allow statement covering ``action``."""
        low = action.lower()
        hit = self._granting.get(low)
        return hit if hit is not None else self._granting_policies(low)

    def holder_arns(self, action: str) -> set[str]:
        """ARNs of the model's principals with an identity Allow statement covering ``action`` (the union, over
        the policies granting it, of who holds each policy)."""
        low = action.lower()
        hit = self._holder_arns.get(low)
        if hit is None:
            members = self._policy_members
            if members is None:
                members = self._policy_members = {}
                for pm in self.model.principals:
                    for pol in pm.identity:
                        members.setdefault(id(pol), set()).add(pm.arn)
            hit = set()
            for pid in self.granting_policies(low):
                hit |= members.get(pid, set())
            self._holder_arns[low] = hit
        return hit

    def _granting_policies(self, low: str) -> frozenset[int]:
        """ids of the model's identity policies with an Allow statement covering ``low`` (once per action)."""
        hit = frozenset(
            id(pol) for pol in self._candidate_policies(low) if any(s.effect == "Allow" for s in pol.relevant(low))
        )
        self._granting[low] = hit
        return hit

    def blocked_everywhere(self, pm: Any, action: str) -> bool:
        """Whether an unconditional Deny on every resource (identity, boundary, SCP), a boundary or an SCP level
        without any Allow for ``action`` blocks it whatever the resource (identity side indexed per policy,
        boundary and SCP side cached per boundary set and account): the engine would deny every target, so the
        graph need not ask it target by target."""
        low = action.lower()
        ids = self._ids(pm)
        star_deny = self._star_denying.get(low)
        if star_deny is None:
            star_deny = self._star_denying[low] = frozenset(
                id(pol) for pol in self._candidate_policies(low) if _denies((pol,), low)
            )
        if not star_deny.isdisjoint(ids):
            return True
        key = (tuple(id(b) for b in pm.boundaries), pm.account_id, pm.service_linked, low)
        hit = self._blocked.get(key)
        if hit is None:
            hit = False
            if pm.boundaries:
                hit = _denies(pm.boundaries, low) or not _allows(pm.boundaries, low)
            levels = self.model.scps.get(pm.account_id)
            if not hit and levels and not pm.service_linked and pm.account_id not in self.model.management:
                hit = any(_denies(level, low) or not _allows(level, low) for level in levels)
            self._blocked[key] = hit
        return hit

    def _statements(self, pm: Any, action: str) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
        """Every statement that could decide ``action`` for ``pm``: (identity ones, boundary and SCP ones); None
        when one has a policy variable in its resources (matching then depends on the request)."""
        key = (self._signature(pm), action.lower())
        hit = self._stmts.get(key, False)
        if hit is False:
            low = action.lower()
            guard = list(pm.boundaries)
            for level in self.model.scps.get(pm.account_id) or ():
                guard += list(level)
            ident = tuple(st for p in pm.identity for st in p.relevant(low))
            other = tuple(st for p in guard for st in p.relevant(low))
            variable = any("${" in r for st in (*ident, *other) for r in (st.resources or st.not_resources or ()))
            hit = None if variable else (ident, other)
            self._stmts[key] = hit
        return hit

    def uniform(self, pm: Any, action: str) -> bool:
        """Every statement deciding ``action`` for ``pm`` names Resource '*' with no condition: the decision is
        the same for every target that has no resource policy (all IAM users and roles)."""
        key = (self._signature(pm), action.lower())
        hit = self._uniform.get(key)
        if hit is None:
            low = action.lower()
            layers = [list(pm.identity), list(pm.boundaries)] + [
                list(lv) for lv in self.model.scps.get(pm.account_id) or ()
            ]
            hit = self.blocked_everywhere(pm, action) or all(
                _layer_uniform([st for p in layer for st in p.relevant(low)]) for layer in layers
            )
            self._uniform[key] = hit
        return hit

    def _resource_key(self, pm: Any, action: str, resource: str) -> tuple | None:
        """Cache key of ``action`` on one ``resource`` that has no resource policy: targets matched by the same
        statements (same account) get the same decision, so the engine is asked once per key, not once per target.

        When no policy of ``pm`` (identity, boundary, SCPs) has a condition or a policy variable, only which
        effects the matching identity statements carry matters, so principals with different policies share it
        (as on ``*``, see ``_star_key``); otherwise the key is per policy-set signature (per principal when its
        policies can read who asks). None when matching depends on the request or ``resource`` is a pattern."""
        if is_glob(resource):
            return None
        sts = self._statements(pm, action)
        if sts is None:
            return None
        ident, other = sts
        sig = self._signature(pm)
        low = action.lower()
        acct = arns.account_of(resource) or ""
        guard = tuple(i for i, st in enumerate(other) if st.matches_resource(resource, _NO_CONTEXT))
        if sig != (pm.arn,):  # no condition, no variable, no tag: the statements' effects decide
            effects = frozenset(st.effect for st in ident if st.matches_resource(resource, _NO_CONTEXT))
            return (
                "static",
                pm.account_id,
                pm.principal_type,
                pm.service_linked,
                tuple(id(b) for b in pm.boundaries),
                low,
                acct,
                effects,
                guard,
            )
        shape = tuple(i for i, st in enumerate(ident) if st.matches_resource(resource, _NO_CONTEXT))
        return (sig, low, shape, guard, acct)

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
                    if (
                        st.resources is None
                        or any("${" in r for r in st.resources)
                        or st.matches_resource(resource, _NO_CONTEXT)
                    ):
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
            key = self._star_key(pm, action.lower())
            hit = self._cache.get(key)
            if hit is not None:
                return hit
        elif not context and pm.principal_type != "root" and not self._named_anywhere(resource, action):
            key = self._resource_key(pm, action, resource)
            hit = self._cache.get(key) if key is not None else None
            if hit is not None:
                return hit
        # "*" here means every resource: a rule about "any secret on '*'" asks whether all of them are allowed
        result = decide_for(
            self.model, pm, action, resource, context, "strict", False, scope="all", now=self.now
        ).result
        if not context and self._conditional(pm, action, resource, satisfiable_key):
            if result != ALLOWED:
                result = self._satisfy(pm, action, resource, result)
            elif self._conditional(pm, action, resource, _TIME_KEYS.__contains__):
                # allowed today: show the time condition when another day would not be
                then = datetime(1970, 1, 2, tzinfo=UTC)
                if (
                    decide_for(self.model, pm, action, resource, None, "strict", False, scope="all", now=then).result
                    != ALLOWED
                ):
                    self.conditions[(pm.arn, action.lower())] = {"aws:CurrentTime": _iso(self.now)}
        if key is not None:
            self._cache[key] = result
        return result

    def _conditional(self, pm: Any, action: str, resource: str, wanted: Callable[[str], bool]) -> bool:
        """Some statement deciding ``action`` for ``pm`` reads a ``wanted`` key (cheap pre-check)."""
        low = action.lower()
        pols = [*pm.identity, *pm.boundaries]
        for level in self.model.scps.get(pm.account_id) or ():
            pols += list(level)
        res_pol, _ = query.resource_side(self.model, action, resource)
        if res_pol is not None:
            pols.append(res_pol)
        return any(any(wanted(k) for k in st.cond_keys) for p in pols for st in p.relevant(low))

    def _satisfy(self, pm: Any, action: str, resource: str, strict: str) -> str:
        """Allowed when the request carries values the attacker chooses: discovery mode names the undecided
        conditions; if all are on satisfiable keys, candidate values from the policy (and now, true/false) are
        tried until the strict engine allows. The values used are kept in ``conditions`` to show them."""
        d = decide_for(self.model, pm, action, resource, None, "discovery", False, scope="all", now=self.now)
        if d.result != CONDITIONAL or not d.unknown_keys or not all(satisfiable_key(k) for k in d.unknown_keys):
            return strict
        now_text = _iso(self.now)
        candidates: dict[str, list[Any]] = {}
        for leaf in _leaves(d.allowed_if):
            vals = candidates.setdefault(leaf["key"], [])
            for v in [*leaf["values"], now_text, "true", "false", "iamkit-other"]:
                v = v.replace("*", "x").replace("?", "x") if isinstance(v, str) else v
                if v not in vals:
                    vals.append(v)
        keys = list(candidates)
        tries = 0
        for combo in _product([candidates[k] for k in keys]):
            tries += 1
            if tries > _MAX_TRIES:
                break
            ctx = dict(zip(keys, combo, strict=True))
            if (
                decide_for(self.model, pm, action, resource, ctx, "strict", False, scope="all", now=self.now).result
                == ALLOWED
            ):
                self.conditions[(pm.arn, action.lower())] = ctx
                return ALLOWED
        return strict

    def allowed(self, pm: Any, action: str, resource: str = "*", context: Mapping[str, Any] | None = None) -> bool:
        return self.decide(pm, action, resource, context) == ALLOWED

    def allowed_via_account_trust(self, pm: Any, action: str, role_arn: str) -> bool:
        """``action`` on a role whose trust names the caller's account root with no condition: the engine
        decides the caller's side against that trust (cached per policy-set shape and account, as for
        targets without resource policies)."""
        if pm.principal_type == "root":
            return True
        if (
            not self.holds(pm, action)
            or not self.could_allow(pm, action, role_arn)
            or self.blocked_everywhere(pm, action)
        ):
            return False
        rkey = self._resource_key(pm, action, role_arn)
        acct = arns.account_of(role_arn) or ""
        key = (*rkey, "account-trust") if rkey is not None else None
        hit = self._cache.get(key) if key else None
        if hit is None:
            trust = {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": action, "Principal": {"AWS": f"arn:aws:iam::{pm.account_id}:root"}}
                ],
            }
            m = self.model
            req = request_for(pm, m, action, role_arn, acct, None)
            hit = evaluate(
                req,
                pm.identity,
                trust,
                pm.boundaries or None,
                m.scps.get(pm.account_id),
                m.rcps.get(acct),
                explain=False,
            ).result
            if key:
                self._cache[key] = hit
        return hit == ALLOWED

    def allowed_default_key(self, pm: Any, action: str) -> bool:
        """``action`` on a KMS key of the principal's account that has the default key policy (which delegates
        to IAM): KMS always needs the key policy, so this is how "kms:* on every key" is decided."""
        key = f"arn:aws:kms:us-east-1:{pm.account_id}:key/iamkit-probe"
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "kms:*",
                    "Resource": "*",
                    "Principal": {"AWS": f"arn:aws:iam::{pm.account_id}:root"},
                }
            ],
        }
        m = self.model
        req = request_for(pm, m, action, key, pm.account_id, None)
        return (
            evaluate(
                req,
                pm.identity,
                policy,
                pm.boundaries or None,
                m.scps.get(pm.account_id),
                m.rcps.get(pm.account_id),
                explain=False,
            ).result
            == ALLOWED
        )

    def _named_anywhere(self, resource: str, action: str = "") -> bool:
        """The resource has its own policy for ``action`` (resource policy, a role's trust for sts:*, or the
        bucket policy of an object)."""
        if resource == "*":
            return False
        rp = self.model.resource_policies
        if resource in rp or (action.lower().startswith("sts:") and resource in self.model.trusts):
            return True
        return resource.startswith("arn:aws:s3:::") and resource.split("/", 1)[0] in rp

    def _star_key(self, pm: Any, low: str) -> tuple:
        """Cache key of ``low`` on ``*``: when every statement deciding it (identity, boundary, SCPs) has no
        condition and no policy variable, the decision depends only on which identity statements cover the
        action (plus account, principal kind and boundary), so principals with different policies but the same
        covering statements share it; otherwise the policy-set signature."""
        k = (id(pm), low)
        hit = self._star_keys.get(k)
        if hit is None:
            self._ids(pm)  # indexes pm's policies by service
            maybe = self._maybe.get(low)
            if maybe is None:  # identity policies outside this set cover nothing of ``low``: static, no statement
                maybe = self._maybe[low] = frozenset(id(p) for p in self._candidate_policies(low))
            identity = [p for p in pm.identity if id(p) in maybe]
            pols = [*identity, *pm.boundaries]
            for level in self.model.scps.get(pm.account_id) or ():
                pols += list(level)
            if not pm.tags and all(p.is_static(low) for p in pols):
                hit = (
                    "static",
                    pm.account_id,
                    pm.principal_type,
                    pm.service_linked,
                    tuple(id(b) for b in pm.boundaries),
                    low,
                    frozenset((st.effect, st.resources, st.not_resources) for p in identity for st in p.relevant(low)),
                )
            else:
                hit = (self._signature(pm), low)
            self._star_keys[k] = hit
        return hit

    def _signature(self, pm: Any) -> tuple:
        """Principals with the same policies, boundary and account decide alike on ``*`` (no variables used)."""
        sig = getattr(pm, "_iamkit_sig", None)
        if sig is None:
            # policy variables or conditions can read the request's principal (aws:username, aws:PrincipalArn…):
            # such principals decide alone
            scps = [q for level in self.model.scps.get(pm.account_id) or () for q in level]
            personal = pm.tags or any(self._reads_request(p) for p in (*pm.identity, *pm.boundaries, *scps))
            sig = (
                (pm.arn,)
                if personal
                else (
                    pm.account_id,
                    pm.principal_type,
                    pm.service_linked,
                    tuple(sorted(id(p) for p in pm.identity)),
                    tuple(id(b) for b in pm.boundaries),
                )
            )
            try:
                object.__setattr__(pm, "_iamkit_sig", sig)
            except AttributeError:  # pragma: no cover - slots
                pass
        return sig

    def _reads_request(self, pol: Any) -> bool:
        """The policy has a Condition or a policy variable anywhere, so its outcome can depend on who asks
        (checked once per policy, not once per principal holding it)."""
        hit = self._dynamic.get(id(pol))
        if hit is None:
            hit = any(st.compiled_condition is not None for st in pol.statements) or "${" in json.dumps(pol.to_dict())
            self._dynamic[id(pol)] = hit
        return hit

    @cached_property
    def iam_principals(self) -> list[Any]:
        """Users and roles (root excluded: it is covered by the credential rules)."""
        return [p for p in self.model.principals if p.principal_type in ("user", "role")]

    @cached_property
    def admins(self) -> set[str]:
        """ARNs of principals the engine allows every administrator probe on ``*``."""
        return {pm.arn for pm in self.iam_principals if admin_equivalent(lambda a, pm=pm: self.allowed(pm, a))}

    def first(self, pm: Any, actions: Iterable[str], resource: str = "*") -> list[str]:
        """The subset of ``actions`` the engine allows ``pm`` on ``resource``."""
        if resource == "*" and pm.principal_type != "root":  # no identity Allow: implicitly denied, skip the engine
            return [a for a in actions if self.holds(pm, a) and self.allowed(pm, a, resource)]
        return [a for a in actions if self.allowed(pm, a, resource)]

    # ---- outsiders reaching a resource policy
    def outsider_result(
        self,
        policy: Any,
        action: str,
        resource: str,
        account: str,
        *,
        principal: str | None,
        org_id: str | None = None,
        resource_account: str | None = None,
    ) -> str:
        """Decide ``action`` for an outsider (``principal=None``: anonymous) holding an Allow-all identity policy."""
        req: dict[str, Any] = {
            "principal": principal,
            "action": action,
            "resource": resource,
            "resource_account": resource_account or account,
        }
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


_TIME_KEYS = frozenset({"aws:currenttime", "aws:epochtime"})


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _leaves(f: Any) -> list[dict[str, Any]]:
    """The condition leaves of an ``allowed_if`` formula."""
    if not f:
        return []
    if "key" in f:
        return [f]
    if "not" in f:
        return _leaves(f["not"])
    return [x for part in f.get("all", f.get("any", [])) for x in _leaves(part)]


def _product(lists: list[list[Any]]):
    """itertools.product, lazily (the caller stops after a bounded number of tries)."""
    import itertools

    return itertools.product(*lists)


Check = Callable[[Context], Iterable[Any]]
