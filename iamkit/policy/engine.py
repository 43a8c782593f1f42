"""The evaluation engine: decide a request against every policy type as AWS's evaluation logic documents it.

Order (IAM User Guide, "Policy evaluation logic"): an explicit Deny in any applicable policy wins; every SCP
level must allow (SCPs bind IAM principals of member accounts: not service-linked roles, the management
account, service principals or anonymous callers); RCPs only deny (RCPFullAWSAccess is implicit; not for
service-linked roles, Resource-"*"-only actions or kms:RetireGrant); VPC endpoint policies must allow; then the
grants: within one account an identity-based OR a resource-based Allow (a resource policy naming the user or the
session ARN is not limited by boundaries or session policies; one naming the role ARN, or "*", is limited for
role sessions), across accounts both sides; trust and KMS key policies must allow even within one account
(naming the account delegates to identity policies). Permission boundaries and session policies intersect with
identity-based grants. A Deny with NotPrincipal exempts a caller only when all its names (session, role,
account) are listed, and always applies to a principal with a permissions boundary.

Every match is three-valued (True, False, None = unknown in ``mode="discovery"``) and combined with Kleene
logic, so a decision that unknown context keys could swing comes out ``"Conditional"`` with those keys.
Speed: policies are parsed once (:func:`iamkit.policy.parse`, cached), statements indexed by action, the
outcome of a condition-free policy memoised per (action, resource) and Condition outcomes per the values of
the keys they read.
"""

from __future__ import annotations

import datetime as _dt
import time as _time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from iamkit import arn as arns
from iamkit.errors import PolicyError
from iamkit.policy.document import Policy, Statement, parse
from iamkit.policy.matching import pattern_covers, pattern_intersects
from iamkit.policy.variables import RequestContext, substitute

ALLOWED, IMPLICIT, EXPLICIT, CONDITIONAL = "Allowed", "ImplicitlyDenied", "ExplicitlyDenied", "Conditional"
_TRUST_ACTIONS = frozenset(
    {
        "sts:assumerole",
        "sts:assumerolewithsaml",
        "sts:assumerolewithwebidentity",
        "sts:tagsession",
        "sts:setsourceidentity",
        "sts:setcontext",
    }
)
_RANK = {"direct": 4, "role": 3, "everyone": 2, "account": 1}
_SLR_PREFIX = "AWSServiceRoleFor"  # every service-linked role is named so (and lives under /aws-service-role/)
_IAM_CALLERS = frozenset({"user", "role", "session", "federated", "root"})


# ---- three-valued logic -------------------------------------------------------------------------------------
class Unknown:
    """An outcome unknown keys decide (discovery mode): true exactly when ``expr`` holds.

    ``expr`` is a condition leaf ``("cond", operator, key, values)`` or ``("all" | "any", (exprs…))`` or
    ``("not", expr)``; :func:`formula` turns it into JSON-ready data.
    """

    __slots__ = ("expr",)

    def __init__(self, expr: tuple):
        self.expr = expr


Tri = bool | Unknown


def _and(*vals: Tri) -> Tri:
    parts: list[tuple] = []
    for v in vals:
        if v is False:
            return False
        if v is not True:
            e = v.expr
            if e[0] == "all":
                parts.extend(x for x in e[1] if x not in parts)
            elif e not in parts:
                parts.append(e)
    if not parts:
        return True
    return Unknown(parts[0] if len(parts) == 1 else ("all", tuple(parts)))


def _or(*vals: Tri) -> Tri:
    parts: list[tuple] = []
    for v in vals:
        if v is True:
            return True
        if v is not False:
            e = v.expr
            if e[0] == "any":
                parts.extend(x for x in e[1] if x not in parts)
            elif e not in parts:
                parts.append(e)
    if not parts:
        return False
    return Unknown(parts[0] if len(parts) == 1 else ("any", tuple(parts)))


def _not(v: Tri) -> Tri:
    if v is True or v is False:
        return not v
    e = v.expr
    return Unknown(e[1] if e[0] == "not" else ("not", e))


def _unknown(v: Tri) -> bool:
    return v is not True and v is not False


def formula(expr: tuple) -> Any:
    """An :class:`Unknown` expression as JSON-ready data: ``{"key", "operator", "values"}`` leaves under
    ``{"all": […]}``, ``{"any": […]}`` and ``{"not": …}`` (a Deny's conditions come out inverted)."""
    if expr[0] == "cond":
        return {"key": expr[2], "operator": expr[1], "values": list(expr[3])}
    if expr[0] == "not":
        return {"not": formula(expr[1])}
    return {expr[0]: [formula(x) for x in expr[1]]}


def formula_text(f: Any) -> str:
    """A :func:`formula` as one readable line."""
    if "key" in f:
        vals = f["values"]
        return f"{f['operator']} {f['key']} {vals[0] if len(vals) == 1 else vals}"
    if "not" in f:
        return f"NOT ({formula_text(f['not'])})"
    word, items = ("AND", f["all"]) if "all" in f else ("OR", f["any"])
    return f" {word} ".join(f"({formula_text(x)})" if ("all" in x or "any" in x) else formula_text(x) for x in items)


def _condition_unknown(out: Any) -> Unknown:
    """The statement's undecided conditions (ANDed) as an :class:`Unknown`."""
    leaves = tuple(("cond", op, key, tuple(values)) for op, key, values in out.unknown_conditions)
    if not leaves:  # unknown for another reason (a policy variable): name the keys
        leaves = tuple(("cond", "Known", k, ()) for k in out.unknown_keys)
    return Unknown(leaves[0] if len(leaves) == 1 else ("all", leaves))


# ---- results ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ExplainLine:
    """One statement looked at: which policy, which statement, and whether (and why) it applied."""

    policy_type: str
    policy: str
    statement: str
    effect: str
    applied: bool | None
    reason: str

    def __str__(self) -> str:
        word = {True: "applies", False: "does not apply", None: "may apply"}[self.applied]
        return f"{self.policy_type} {self.policy or '-'} {self.statement} {self.effect}: {word} ({self.reason})"


@dataclass
class Decision:
    """The outcome of :func:`evaluate`: result, the policy types that blocked it, and why."""

    result: str
    blocked_by: list[str] = field(default_factory=list)
    explain: list[ExplainLine] = field(default_factory=list)
    unknown_keys: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # "Conditional": the request is allowed exactly when this formula of the unknown keys' conditions holds
    allowed_if: Any = None
    # defects of the documents read past (bare string principal, missing or misplaced Principal…)
    defects: list[str] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return self.result == ALLOWED

    def explain_text(self) -> str:
        """The explanation as readable lines (one per statement, then the verdict)."""
        lines = [str(e) for e in self.explain]
        tail = self.result + (f" (blocked by {', '.join(self.blocked_by)})" if self.blocked_by else "")
        if self.unknown_keys:
            tail += f"; decided by unknown keys {', '.join(self.unknown_keys)}"
        if self.allowed_if is not None:
            tail += f"; allowed if {formula_text(self.allowed_if)}"
        return "\n".join([*lines, *(f"defect: {d}" for d in self.defects), tail])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "result": self.result,
            "blocked_by": list(self.blocked_by),
            "unknown_keys": list(self.unknown_keys),
            "errors": list(self.errors),
            "allowed_if": self.allowed_if,
            "defects": list(self.defects),
            "explain": [
                {
                    "policy_type": e.policy_type,
                    "policy": e.policy,
                    "statement": e.statement,
                    "effect": e.effect,
                    "applied": e.applied,
                    "reason": e.reason,
                }
                for e in self.explain
            ],
        }


# ---- the caller ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Caller:
    """Who makes the request, derived once from the principal string (cached)."""

    kind: str  # user | role | session | federated | root | service | web | canonical | anonymous
    arn: str
    account: str
    partition: str
    role_arn: str = ""
    role_name: str = ""
    session_name: str = ""
    name: str = ""
    service_linked: bool = False

    @property
    def account_root(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:root" if self.account else ""

    @property
    def has_identity_policies(self) -> bool:
        return self.kind in ("user", "role", "session", "federated", "root")

    @property
    def names(self) -> tuple[str, ...]:
        """Every ARN naming the caller that a NotPrincipal must list to exempt it (AWS documents all three)."""
        if self.kind in ("session", "role"):
            return tuple(n for n in (self.arn, self.role_arn, self.account_root) if n)
        if self.kind in ("user", "federated"):
            return (self.arn, self.account_root)
        if self.kind == "anonymous":
            return ("\0anonymous",)
        return (self.arn,)

    @property
    def direct_names(self) -> tuple[str, ...]:
        """The ARNs that name this caller itself (a session: also its role), not its account."""
        if self.kind == "session":
            return (self.arn, self.role_arn)
        return self.names[:1]

    def match(self, kind: str, value: str) -> str | None:
        """How one Principal entry names this caller: direct | role | everyone | account | None."""
        if value == "*" and kind in ("*", "AWS"):
            return "everyone"
        if kind == "AWS":
            if self.kind in ("service", "web", "canonical", "anonymous"):
                return None
            if value == self.arn and self.kind != "role":
                return "direct"
            if self.role_name and ":role/" in value:
                acct_part, _, path = value.partition(":role/")
                if acct_part.endswith(":" + self.account) and path.rsplit("/", 1)[-1] == self.role_name:
                    return "role"
            if value == self.account_root:
                return "direct" if self.kind == "root" else "account"
            return None
        if kind == "Service":
            return "direct" if self.kind == "service" and value == self.arn else None
        if kind == "Federated":
            return "direct" if self.kind == "web" and value == self.arn else None
        if kind == "CanonicalUser":
            return "direct" if self.kind == "canonical" and value == self.arn else None
        return None

    def named_by(self, kind: str, value: str, name: str) -> bool:
        """Whether one NotPrincipal entry lists the caller name ``name`` (role ARNs match sessions by name)."""
        if kind not in ("AWS", "*"):
            return kind != "*" and self.kind in ("service", "web", "canonical") and value == self.arn == name
        if value == name:
            return True
        if name == self.role_arn and ":role/" in value:
            acct_part, _, path = value.partition(":role/")
            return acct_part.endswith(":" + self.account) and path.rsplit("/", 1)[-1] == self.role_name
        return False


@lru_cache(maxsize=16384)
def parse_caller(principal: str | None, principal_type: str = "", role_arn: str = "") -> Caller:
    """Derive the caller from a principal string: an IAM/STS ARN, a service name, ``anonymous``/None, an account id."""
    if principal is None or principal in ("", "anonymous", "*") or principal_type.lower() == "anonymous":
        return Caller("anonymous", "", "", "aws")
    ptype = principal_type.lower()
    if ptype in ("service", "awsservice") or (
        not principal.startswith("arn:")
        and principal.endswith(".amazonaws.com")
        and ptype not in ("federated", "webidentity")
    ):
        return Caller("service", principal.lower(), "", "aws")
    if ptype in ("federated", "webidentity", "saml"):
        return Caller("web", principal, "", "aws")
    if ptype == "canonicaluser":
        return Caller("canonical", principal, "", "aws")
    if arns.is_account_id(principal):
        principal = f"arn:aws:iam::{principal}:root"
    parts = principal.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not arns.is_account_id(parts[4]):
        raise PolicyError(f"request principal {principal!r} is not an IAM/STS ARN, account id, service or 'anonymous'")
    _, partition, service, _region, account, res = parts
    if service == "iam" and res == "root":
        return Caller("root", principal, account, partition)
    if service == "iam" and res.startswith("user/"):
        return Caller("user", principal, account, partition, name=res.rsplit("/", 1)[-1])
    if service == "iam" and res.startswith("role/"):
        name = res.rsplit("/", 1)[-1]
        return Caller(
            "role",
            principal,
            account,
            partition,
            role_arn=principal,
            role_name=name,
            service_linked="role/aws-service-role/" in res or name.startswith(_SLR_PREFIX),
        )
    if service == "sts" and res.startswith("assumed-role/"):
        bits = res.split("/")
        if len(bits) < 3:
            raise PolicyError(f"request principal {principal!r}: assumed-role ARN needs role and session names")
        name, session = bits[1], "/".join(bits[2:])
        rarn = role_arn or f"arn:{partition}:iam::{account}:role/{name}"
        return Caller(
            "session",
            principal,
            account,
            partition,
            role_arn=rarn,
            role_name=name,
            session_name=session,
            service_linked="/aws-service-role/" in rarn or name.startswith(_SLR_PREFIX),
        )
    if service == "sts" and res.startswith("federated-user/"):
        return Caller("federated", principal, account, partition, name=res.split("/", 1)[1])
    raise PolicyError(f"request principal {principal!r}: unsupported principal ARN")


@lru_cache(maxsize=16384)
def _caller_and_context(
    principal: str | None, principal_type: Any, role_arn: Any, principal_id: Any, service_linked: bool
) -> tuple[Caller, dict[str, Any]]:
    """The caller and the global keys derived from it, cached per distinct principal."""
    caller = parse_caller(principal, str(principal_type), str(role_arn))
    if service_linked and caller.kind in ("role", "session"):
        caller = Caller(
            caller.kind,
            caller.arn,
            caller.account,
            caller.partition,
            caller.role_arn,
            caller.role_name,
            caller.session_name,
            caller.name,
            True,
        )
    return caller, _base_context(caller, {"principal_id": principal_id} if principal_id else {})


_PRINCIPAL_TYPE = {
    "user": "User",
    "role": "AssumedRole",
    "session": "AssumedRole",
    "federated": "FederatedUser",
    "root": "Account",
    "anonymous": "Anonymous",
    "service": "AWSService",
    "web": "WebIdentityUser",
    "canonical": "CanonicalUser",
}


def _base_context(caller: Caller, request: Mapping[str, Any]) -> dict[str, Any]:
    """Global keys AWS derives from the caller (aws:PrincipalArn, PrincipalAccount, PrincipalType, userid…)."""
    ctx: dict[str, Any] = {"aws:principaltype": _PRINCIPAL_TYPE[caller.kind]}
    if caller.kind == "anonymous":
        ctx["aws:userid"] = "anonymous"
        return ctx
    if caller.kind == "service":
        ctx["aws:principalisawsservice"] = "true"
        ctx["aws:principalservicename"] = caller.arn
        return ctx
    if caller.kind in ("web", "canonical"):
        return ctx
    ctx["aws:principalisawsservice"] = "false"
    ctx["aws:principalarn"] = caller.role_arn if caller.kind in ("session", "role") else caller.arn
    ctx["aws:principalaccount"] = caller.account
    pid = request.get("principal_id")
    if caller.kind == "user":
        ctx["aws:username"] = caller.name
        if pid:
            ctx["aws:userid"] = pid
    elif caller.kind == "session":
        if pid:
            ctx["aws:userid"] = pid if ":" in pid else f"{pid}:{caller.session_name}"
        ctx["aws:multifactorauthpresent"] = "false"  # temporary credentials carry the key
    elif caller.kind == "federated":
        ctx["aws:userid"] = f"{caller.account}:{caller.name}"
        ctx["aws:multifactorauthpresent"] = "false"
    elif caller.kind == "root":
        ctx["aws:userid"] = caller.account
    return ctx


def _time_keys(now: Any) -> tuple[str, int]:
    """aws:CurrentTime (ISO-8601, UTC) and aws:EpochTime for ``now`` (datetime, ISO text or epoch seconds)."""
    if type(now) is bool:  # checked before the cache: True would hit the entry of 1
        raise PolicyError("request time must be ISO-8601 text, epoch seconds or a datetime, not bool")
    try:
        return _time_keys_cached(now)
    except TypeError:  # unhashable (a list, a dict): refused by the uncached path
        return _time_keys_uncached(now)


@lru_cache(maxsize=1024)
def _time_keys_cached(now: Any) -> tuple[str, int]:
    return _time_keys_uncached(now)


_TIME_TYPES = (str, int, float, _dt.date)


def _time_keys_uncached(now: Any) -> tuple[str, int]:
    if not isinstance(now, _TIME_TYPES):
        raise PolicyError(f"request time must be ISO-8601 text, epoch seconds or a datetime, not {type(now).__name__}")
    try:
        if isinstance(now, str):
            text = now.replace("Z", "+00:00")
            try:
                now = _dt.datetime.fromisoformat(text)
            except ValueError:
                raise PolicyError(f"request time {now!r:.60} is not ISO-8601") from None
        if isinstance(now, (int, float)):
            now = _dt.datetime.fromtimestamp(now, _dt.UTC)
        elif not isinstance(now, _dt.datetime):  # a date: its midnight, UTC
            now = _dt.datetime(now.year, now.month, now.day, tzinfo=_dt.UTC)
        if now.tzinfo is None:
            now = now.replace(tzinfo=_dt.UTC)
        now = now.astimezone(_dt.UTC)
        return now.strftime("%Y-%m-%dT%H:%M:%SZ"), int(now.timestamp())
    except (OverflowError, OSError, ValueError):  # NaN, out of range for datetime or the platform's time_t
        raise PolicyError(f"request time {now!r:.60} is out of range") from None


# ---- the request --------------------------------------------------------------------------------------------
@dataclass(slots=True)
class Request:
    """A normalised request: caller, lower-case action, resource, resource account, the full context."""

    caller: Caller
    action: str
    resource: str
    resource_account: str
    context: RequestContext
    service: str
    star_only: bool = False  # the action authorizes no resource type (only Resource "*")
    # the resource is a pattern ("*" for an action with resource types, "arn:aws:s3:::b/*"): it names many
    # resources; scope "any" asks about some of them, "all" about every one (see evaluate)
    wild: bool = False
    scope: str = "any"


_STAR_ONLY: dict[str, bool] = {}


def _star_only(action: str) -> bool:
    hit = _STAR_ONLY.get(action)
    if hit is None:
        from iamkit.policy.catalog import catalog

        info = catalog().action(action)
        hit = bool(info and info.resource_star_only)
        _STAR_ONLY[action] = hit
    return hit


_ACTIONS: dict[str, tuple[str, str, bool]] = {}
_MAPPED = (("principal_tags", "aws:principaltag/"), ("resource_tags", "aws:resourcetag/"), ("context", ""))
_PLAIN_CALLERS: dict[str | None, tuple[Caller, dict[str, Any]]] = {}


def _action_parts(action: Any) -> tuple[str, str, bool]:
    """(lower-case action, service, takes only Resource "*"), validated once per distinct action string."""
    hit = _ACTIONS.get(action) if type(action) is str else None
    if hit is None:
        if not isinstance(action, str) or action.count(":") != 1 or action[0] == ":" or action[-1] == ":":
            raise PolicyError(f"request action {action!r} must look like 'service:Action'")
        low = action.lower()
        hit = (low, low.split(":", 1)[0], _star_only(low))
        if len(_ACTIONS) > 65536:
            _ACTIONS.clear()
        _ACTIONS[action] = hit
    return hit


def build_request(request: Mapping[str, Any], now: Any = None) -> Request:
    """Validate and normalise a request dict (principal, action, resource, resource_account, context, …)."""
    if type(request) is not dict and not isinstance(request, Mapping):
        raise PolicyError(f"request must be an object, got {type(request).__name__}")
    get = request.get
    action_low, service, star_only = _action_parts(get("action"))
    principal = get("principal")
    if principal is not None and type(principal) is not str:
        raise PolicyError(f"request principal must be a string, got {type(principal).__name__}")
    ptype, role_arn, pid, slr = get("principal_type"), get("role_arn"), get("principal_id"), get("service_linked")
    if ptype is None and role_arn is None and pid is None and not slr:
        hit = _PLAIN_CALLERS.get(principal)
        if hit is None:
            hit = _caller_and_context(principal, "", "", None, False)
            if len(_PLAIN_CALLERS) > 16384:
                _PLAIN_CALLERS.clear()
            _PLAIN_CALLERS[principal] = hit
        caller, base = hit
    else:
        for name, value in (("principal_type", ptype), ("role_arn", role_arn), ("principal_id", pid)):
            if value is not None and type(value) is not str:
                raise PolicyError(f"request {name} must be a string, got {type(value).__name__}")
        caller, base = _caller_and_context(principal, ptype or "", role_arn or "", pid, bool(slr))
    resource = get("resource") or "*"
    if type(resource) is not str:
        raise PolicyError("request resource must be an ARN string or '*'")
    forced = get("star_only")
    if forced is not None:
        star_only = bool(forced)
    if star_only:
        resource = "*"
    wild = not star_only and ("*" in resource or "?" in resource)
    scope = get("resource_scope") or "any"
    if scope not in ("any", "all"):
        raise PolicyError(f"request resource_scope {scope!r} must be 'any' or 'all'")
    res_account = get("resource_account") or arns.account_of(resource) or caller.account
    ctx = RequestContext(base)
    ctx["aws:currenttime"], ctx["aws:epochtime"] = _time_keys(get("time") or now or int(_time.time()))
    if res_account:
        ctx["aws:resourceaccount"] = res_account
    value = get("region")
    if value is not None:
        ctx["aws:requestedregion"] = value
    value = get("principal_org_id")
    if value is not None:
        ctx["aws:principalorgid"] = value
    value = get("mfa")
    if value is not None and caller.kind not in ("anonymous", "service"):
        ctx["aws:multifactorauthpresent"] = "true" if value else "false"
    value = get("principal_org_paths")
    if value is not None:
        if isinstance(value, (str, Mapping)) or not isinstance(value, Iterable):
            raise PolicyError("request principal_org_paths must be a list of paths")
        ctx["aws:principalorgpaths"] = list(value)
    for key, prefix in _MAPPED:
        value = get(key)
        if value is not None:
            if type(value) is dict:  # the common case, inline
                for k, v in value.items():
                    ctx[prefix + (k.lower() if type(k) is str else str(k).lower())] = v
            else:
                _apply_optional(ctx, key, value, caller)
    return Request(caller, action_low, resource, str(res_account or ""), ctx, service, star_only, wild, scope)


def _apply_optional(ctx: RequestContext, key: str, value: Any, caller: Caller) -> None:
    """A tags / context mapping that is not a plain dict (any Mapping), or a clear error."""
    if not isinstance(value, Mapping):
        raise PolicyError(f"request {key} must be an object of key -> value")
    prefix = {"principal_tags": "aws:principaltag/", "resource_tags": "aws:resourcetag/", "context": ""}[key]
    for k, v in value.items():
        ctx[prefix + str(k).lower()] = v


# ---- statement and policy-set evaluation --------------------------------------------------------------------
class _Scan:
    """Accumulates one evaluation: tri-valued allow/deny per policy type, the explanation, unknown keys."""

    __slots__ = ("boundary", "discovery", "errors", "explain", "lines", "mode", "pending", "req", "unknown", "want_all")

    def __init__(self, req: Request, mode: str, explain: str | bool):
        self.req = req
        self.mode = mode
        self.discovery = mode == "discovery"
        self.lines: list[ExplainLine] | None = [] if explain else None
        self.want_all = explain == "all"
        self.unknown: list[str] = []
        self.errors: list[str] = []
        self.boundary = False  # the caller has a permissions boundary (changes NotPrincipal Deny, see below)
        self.pending: list[tuple[bool, list[str]]] = []  # (is deny, unknown keys) of the current policy set

    def note(self, ptype: str, pol: Policy, st: Statement, applied: Tri, reason: str) -> None:
        if self.lines is not None:
            self.lines.append(ExplainLine(ptype, pol.name, st.label, st.effect, applied, reason))

    def statement(self, ptype: str, pol: Policy, st: Statement, principals: bool) -> tuple[Tri, str | None]:
        """Whether ``st`` applies to the request, and how its Principal named the caller."""
        req = self.req
        if not (_wild_match(st, req) if req.wild else st.matches_resource(req.resource, req.context)):
            if self.lines is not None:
                self.note(ptype, pol, st, False, f"resource {req.resource} not covered")
            return False, None
        how: str | None = "everyone"
        if principals:
            how = _principal_how(st, req.caller, self.boundary)
            if how is None:
                self.note(ptype, pol, st, False, "principal not named")
                return False, None
        cc = st.compiled_condition
        if cc is None:
            if self.lines is not None:
                self.note(ptype, pol, st, True, "action, resource" + (", principal" if principals else "") + " match")
            return True, how
        out = cc.evaluate(req.context, mode=self.mode, explain=self.lines is not None)
        if out.errors:
            self.errors.extend(f"{ptype} {pol.name or '-'} {st.label}: {e}" for e in out.errors)
            if st.effect == "Deny":  # fail closed: a broken Deny still denies, never a silent Allow
                self.note(ptype, pol, st, True, "condition has invalid values; Deny applied (fail closed)")
                return True, how
        matched: Tri | None = out.matched
        if matched is None:
            self.pending.append((st.effect == "Deny", out.unknown_keys))
            self.note(ptype, pol, st, None, "; ".join(out.details) if out.details else "condition")
            return _condition_unknown(out), how
        self.note(ptype, pol, st, matched, "; ".join(out.details) if out.details else "condition")
        return matched, how

    def policies(
        self, ptype: str, policies: Sequence[Policy], principals: bool = False
    ) -> tuple[Tri, Tri, dict[str, Tri]]:
        """(allow, deny, allow by how the principal was named) over a set of policies of one type."""
        if self.lines is None:
            return self.fast(ptype, policies, principals)
        allow: Tri = False
        deny: Tri = False
        how_allow: dict[str, Tri] = {}
        action = self.req.action
        for pol in policies:
            if self.want_all:
                for st in pol.statements:
                    if not st.matches_action(action):
                        self.note(ptype, pol, st, False, f"action {action} not covered")
            relevant = pol._by_action.get(action)
            if relevant is None:
                relevant = pol.relevant(action)
            for st in relevant:
                if st.effect == "Deny":
                    hit, _ = self.statement(ptype, pol, st, principals)
                    if hit is not False:
                        deny = _or(deny, hit)
                else:
                    hit, how = self.statement(ptype, pol, st, principals)
                    if hit is False:
                        continue
                    allow = _or(allow, hit)
                    if how is not None:
                        how_allow[how] = _or(how_allow.get(how, False), hit)
        self.settle(allow, deny)
        return allow, deny, how_allow

    def fast(self, ptype: str, policies: Sequence[Policy], principals: bool = False) -> tuple[Tri, Tri, dict[str, Tri]]:
        """:meth:`policies` without explanation lines: statement checks inlined, decided parts skipped, and
        the outcome of a condition-free policy memoised per (action, resource)."""
        req = self.req
        action, resource, ctx, caller, wild = req.action, req.resource, req.context, req.caller, req.wild
        mkey = (action, resource if not wild else f"{resource}\0{req.scope}")
        allow: Tri = False
        deny: Tri = False
        how_allow: dict[str, Tri] = {}
        for pol in policies:
            if not principals:
                memo = pol._memo.get(mkey)
                if memo is not None:
                    if memo[0]:
                        allow = True
                    if memo[1]:
                        deny = True
                    continue
            relevant = pol._by_action.get(action)
            if relevant is None:
                relevant = pol.relevant(action)
            p_allow: Tri = False
            p_deny: Tri = False
            for st in relevant:
                is_deny = st.effect == "Deny"
                if is_deny:
                    if p_deny is True:
                        continue
                elif p_allow is True and not principals:
                    continue
                rs = st._resources
                if rs is not None:
                    if wild:
                        if not _wild_match(st, req):
                            continue
                    elif rs.match(resource, ctx) is (st.resources is None):
                        continue
                how = "everyone"
                if principals:
                    how = _principal_how(st, caller, self.boundary)
                    if how is None:
                        continue
                cc = st.compiled_condition
                if cc is None:
                    hit: Tri = True
                else:  # memoised on the values of the keys the condition reads, when all are text (or absent)
                    values = [ctx.get(k, _ABSENT) for k in st.cond_keys]
                    out = None
                    for v in values:
                        if type(v) is not str and v is not _ABSENT:
                            out = cc.evaluate(ctx, mode=self.mode, explain=False)
                            break
                    else:
                        key = (self.mode, *values)
                        out = st.cond_memo.get(key)
                        if out is None:
                            out = cc.evaluate(ctx, mode=self.mode, explain=False)
                            if len(st.cond_memo) > 4096:
                                st.cond_memo.clear()
                            st.cond_memo[key] = out
                    hit = out.matched
                    if out.errors or hit is None:
                        hit = self.statement_outcome(pol, st, out)
                    if hit is False:
                        continue
                if is_deny:
                    p_deny = True if hit is True else _or(p_deny, hit)
                else:
                    p_allow = True if hit is True else _or(p_allow, hit)
                    if principals:
                        how_allow[how] = _or(how_allow.get(how, False), hit)
            if not principals and pol.is_static(action):
                if len(pol._memo) > 8192:
                    pol._memo.clear()
                pol._memo[mkey] = (p_allow is True, p_deny is True)
            if p_allow is True:
                allow = True
            elif p_allow is not False and allow is not True:
                allow = _or(allow, p_allow)
            if p_deny is True:
                deny = True
            elif p_deny is not False and deny is not True:
                deny = _or(deny, p_deny)
        if self.pending:
            self.settle(allow, deny)
        return allow, deny, how_allow

    def statement_outcome(self, pol: Policy, st: Statement, out: Any) -> Tri:
        """A condition outcome with errors or unknown keys: errors recorded (a broken Deny fails closed, never a
        silent Allow), unknown keys kept pending until the policy set is settled."""
        if out.errors:
            self.errors.extend(f"{pol.kind} {pol.name or '-'} {st.label}: {e}" for e in out.errors)
            if st.effect == "Deny":
                return True
        if out.matched is None:
            self.pending.append((st.effect == "Deny", out.unknown_keys))
            return _condition_unknown(out)
        return out.matched

    def settle(self, allow: Tri, deny: Tri) -> None:
        """Keep the unknown keys of a policy set only where they decide it (its allow or deny is still None)."""
        if self.pending:
            for is_deny, keys in self.pending:
                if _unknown(deny if is_deny else allow):
                    self.unknown.extend(keys)
            self.pending.clear()


_ABSENT = object()


def _wild_match(st: Statement, req: Request) -> bool:
    """Resource / NotResource against a request naming many resources (``*`` for an action with resource types,
    or a pattern such as ``arn:aws:s3:::bucket/*``).

    Scope "any" (is it allowed on some of them?): an Allow applies when its Resource shares a resource with the
    request (its NotResource does not cover the whole request); a Deny only when it covers every resource the
    request names (a partial Deny leaves the rest allowed). Scope "all" (on every one of them?): an Allow must
    cover the whole request; Denies as for "any".
    """
    rs = st._resources
    if rs is None:
        return True
    resource, ctx = req.resource, req.context
    pats = []
    for p in rs.patterns:
        if p in rs.variable:
            p = substitute(p, ctx, for_glob=True)
            if p is None:
                continue
        pats.append(p)
    strict = st.effect == "Deny" or req.scope == "all"
    if st.resources is not None:
        test = pattern_covers if strict else pattern_intersects
        return any(test(p, resource) for p in pats)
    test = pattern_intersects if strict else pattern_covers
    return not any(test(p, resource) for p in pats)


def _principal_how(st: Statement, caller: Caller, has_boundary: bool = False) -> str | None:
    """How the statement's Principal/NotPrincipal names the caller (None: it does not apply to the caller).

    AWS documents that a Deny with NotPrincipal always applies to a principal with a permissions boundary,
    whatever the NotPrincipal lists, and that it exempts a caller only when all its names are listed (the
    session, its role and the account); an Allow with NotPrincipal does not apply to a caller it names.
    """
    if st.principals is not None:
        best: str | None = None
        for e in st.principals:
            how = caller.match(e.kind, e.value)
            if how is not None and (best is None or _RANK[how] > _RANK[best]):
                best = how
        return best
    if st.not_principals is not None:
        nps = st.not_principals
        if st.effect == "Deny":
            if has_boundary:
                return "everyone"
            # a Deny exempts the caller only when every name it is known by (itself, a session's role, its
            # account) is listed
            excluded = all(any(caller.named_by(e.kind, e.value, n) for e in nps) for n in caller.names)
        else:  # an Allow grants everyone but those listed: naming the caller (or a session's role) excludes it
            excluded = any(any(caller.named_by(e.kind, e.value, n) for e in nps) for n in caller.direct_names)
        return None if excluded else "everyone"
    if st.principal_missing:  # a resource-policy statement stored without Principal names no one
        return None
    return "everyone"


def _policies(docs: Iterable[Any] | None, kind: str, label: str, level: int | None = None) -> Sequence[Policy]:
    """The documents of one policy type (or SCP/RCP level) as parsed Policies; pre-parsed lists pass through."""
    if docs is None:
        return ()
    if type(docs) is list or type(docs) is tuple:
        for d in docs:
            if type(d) is not Policy:
                break
        else:
            return docs  # already parsed: the fast path
    elif isinstance(docs, (str, bytes, Mapping, Policy)):
        docs = [docs]
    if level is not None:
        label = f"{label}{level}"
    out = []
    for i, d in enumerate(docs):
        out.append(d if type(d) is Policy else parse(d, kind, f"{label}[{i}]"))
    return out


# ---- the decision -------------------------------------------------------------------------------------------
def evaluate(
    request: Mapping[str, Any],
    identity_policies: Iterable[Any] | None = None,
    resource_policy: Any = None,
    permission_boundaries: Iterable[Any] | None = None,
    scps: Sequence[Iterable[Any]] | None = None,
    rcps: Sequence[Iterable[Any]] | None = None,
    session_policies: Iterable[Any] | None = None,
    endpoint_policies: Iterable[Any] | None = None,
    *,
    mode: str = "strict",
    explain: bool | str = True,
    now: Any = None,
    resource_policy_required: bool | None = None,
    apply_scps: bool | None = None,
) -> Decision:
    """Decide ``request`` as AWS would. Documents may be dicts, JSON text (URL-encoded too) or parsed Policies.

    ``request``: ``principal`` (ARN, account id, service name or None for anonymous), ``action``, ``resource``,
    optional ``resource_account``, ``context`` (keys), ``principal_tags``, ``resource_tags``, ``principal_id``,
    ``principal_org_id``, ``region``, ``mfa``, ``time``, ``role_arn`` (a session's role ARN with its path),
    ``service_linked``, ``management_account``. ``scps``/``rcps``: one list of policies per level, root → account.
    ``session_policies=None`` means no session policy was passed (an empty list denies everything).
    ``explain``: True (statements whose action matched), ``"all"`` (every statement) or False (fastest).
    ``mode``: ``"strict"`` or ``"discovery"`` (unknown context keys give ``"Conditional"`` and
    ``Decision.allowed_if``, the formula of their conditions under which the request is allowed).

    A ``resource`` holding a wildcard (``"*"`` for an action with resource types, ``arn:aws:s3:::bucket/*``)
    names many resources: with ``resource_scope`` ``"any"`` (the default) the question is "allowed on some of
    them?", with ``"all"`` "allowed on every one of them?" (see :func:`_wild_match`). ``star_only`` (bool)
    overrides the catalogue on whether the action takes only Resource ``"*"``.
    """
    if mode not in ("strict", "discovery"):
        raise PolicyError(f"unknown evaluation mode {mode!r} (strict or discovery)")
    req = build_request(request, now)
    caller = req.caller
    if req.action == "sts:getcalleridentity" and caller.kind != "anonymous":
        # STS API reference: no permission is needed, and an explicit deny does not stop it
        return Decision(
            ALLOWED,
            explain=[
                ExplainLine("-", "-", "-", "Allow", True, "sts:GetCallerIdentity is always allowed to a signed request")
            ]
            if explain
            else [],
        )
    scan = _Scan(req, mode, explain)
    run = scan.fast if scan.lines is None else scan.policies

    identity = _policies(identity_policies, "identity", "identity") if identity_policies else ()
    if resource_policy is None:
        resources: Sequence[Policy] = ()
    elif type(resource_policy) is Policy:
        resources = (resource_policy,)
    else:
        resources = _policies(
            [resource_policy] if not isinstance(resource_policy, (list, tuple)) else resource_policy,
            "resource",
            "resource",
        )
    boundaries = _policies(permission_boundaries, "boundary", "permission_boundary") if permission_boundaries else ()
    sessions = None if session_policies is None else _policies(session_policies, "session", "session")
    endpoints = None if endpoint_policies is None else _policies(endpoint_policies, "endpoint", "endpoint")
    defects = [
        d
        for group in (identity, resources, boundaries, sessions or (), endpoints or ())
        for pol in group
        for d in pol.defects
    ]

    denies: dict[str, Tri] = {}
    uses_identity = caller.kind in _IAM_CALLERS
    scan.boundary = bool(uses_identity and boundaries)
    # identity-side policies only apply to IAM callers
    id_allow: Tri = False
    if uses_identity and identity:
        id_allow, denies["identity"], _ = run("identity", identity)
    res_how: dict[str, Tri] = {}
    if resources:
        _, denies["resource"], res_how = run("resource", resources, principals=True)
    pb_allow: Tri = True
    if uses_identity and boundaries:
        pb_allow, denies["permission_boundary"], _ = run("permission_boundary", boundaries)
    sp_allow: Tri = True
    if uses_identity and sessions is not None and caller.kind != "user":
        sp_allow, denies["session"], _ = run("session", sessions)
    if scan.lines is not None:
        for ptype, value, present in (
            ("permission_boundary", pb_allow, bool(boundaries)),
            ("session", sp_allow, sessions is not None),
        ):
            if present and value is False:
                scan.lines.append(
                    ExplainLine(
                        ptype, "-", "-", "Allow", False, f"no {ptype.replace('_', ' ')} statement allows {req.action}"
                    )
                )
    ep_allow: Tri = True
    if endpoints is not None:
        ep_allow, denies["endpoint"], _ = run("endpoint", endpoints, principals=True)

    scp_ok: Tri = True
    if scps is not None and (
        apply_scps
        if apply_scps is not None
        else (uses_identity and not caller.service_linked and not request.get("management_account"))
    ):
        scp_deny: Tri = False
        for i, level in enumerate(scps):
            pols = _policies(level, "scp", "scp", i)
            defects.extend(d for pol in pols for d in pol.defects)
            lvl_allow, lvl_deny, _ = run("scp", pols)
            if lvl_allow is False and scan.lines is not None:
                scan.lines.append(
                    ExplainLine(
                        "scp", f"level {i}", "-", "Allow", False, f"no SCP attached at level {i} allows {req.action}"
                    )
                )
            scp_ok = _and(scp_ok, lvl_allow)  # every level must allow
            scp_deny = _or(scp_deny, lvl_deny)  # a Deny at any level denies
        denies["scp"] = scp_deny
    # RCPs (Organizations guide): only for the services that support them, on the resources an action authorizes
    # (not Resource "*"-only actions), never for service-linked roles, not for kms:RetireGrant; AWS service
    # principals and anonymous callers are subject to them. Resources of the management account are exempt:
    # the caller does not pass rcps for those.
    if (
        rcps is not None
        and not caller.service_linked
        and not req.star_only
        and _rcp_service(req.service)
        and req.action != "kms:retiregrant"
    ):
        rcp_deny: Tri = False
        for i, level in enumerate(rcps):  # RCPFullAWSAccess is implicit: only the Denies matter, at any level
            pols = _policies(level, "rcp", "rcp", i)
            defects.extend(d for pol in pols for d in pol.defects)
            _, lvl_deny, _ = run("rcp", pols, principals=True)
            rcp_deny = _or(rcp_deny, lvl_deny)
        denies["rcp"] = rcp_deny

    # ---- grants
    direct = res_how.get("direct", False)
    via_role = res_how.get("role", False)
    everyone = res_how.get("everyone", False)
    via_account = res_how.get("account", False)
    if resource_policy_required is not None:
        required = resource_policy_required
    else:  # trust policies and KMS key policies must allow even within one account (a key policy only governs
        # actions on a key: kms:ListKeys, CreateKey… name no key, and aliases have no policy of their own: those
        # need the identity side only)
        required = (req.service == "kms" and _kms_key(req.resource)) or (
            req.action in _TRUST_ACTIONS and ":role/" in req.resource
        )
    same_account = bool(caller.account) and caller.account == req.resource_account
    limits = _and(pb_allow, sp_allow)
    blocked: list[str] = []
    if not uses_identity:  # anonymous, service, web identity, canonical user: only the resource policy grants
        grant = _or(direct, everyone)
        if grant is False:
            blocked.append("resource")
    elif same_account:
        if caller.kind in ("user", "root"):
            unlimited, limited_res = _or(direct, everyone), False
        else:  # role sessions and federated users: a role-ARN or "*" grant is limited by boundary and session;
            # one naming the session itself escapes the boundary but not the session policy (an implicit deny
            # there denies whatever the resource policy says)
            unlimited, limited_res = _and(direct, sp_allow), _or(via_role, everyone)
        if caller.kind == "root":
            limits = True
        if required:
            limited = _or(limited_res, _and(via_account, id_allow))
        else:
            limited = _or(limited_res, id_allow)
        grant = _or(unlimited, _and(limited, limits))
        if grant is False:
            if (direct if caller.kind not in ("user", "root") else unlimited) is False and limited is False:
                if required:
                    blocked.append("resource")
                    if via_account is not False and id_allow is False:
                        blocked.append("identity")
                else:
                    blocked.append("identity")
            else:
                blocked.extend(_limit_blocks(pb_allow, sp_allow))
    else:  # cross-account: the caller's side and the resource's side must both allow
        res_any = _or(direct, via_role, everyone, via_account)
        if caller.kind == "root":
            limits = True
        grant = _and(id_allow, limits, res_any)
        if grant is False:
            if id_allow is False:
                blocked.append("identity")
            blocked.extend(_limit_blocks(pb_allow, sp_allow) if caller.kind != "root" else [])
            if res_any is False:
                blocked.append("resource")

    deny_any = _or(*denies.values())
    allowed = _and(_not(deny_any), scp_ok, ep_allow, grant)
    allowed_if = None
    if deny_any is True:
        result = EXPLICIT
        blocked = [k for k, v in denies.items() if v is True]
    elif allowed is True:
        result, blocked = ALLOWED, []
    elif allowed is False:
        result = IMPLICIT
        if scp_ok is False:
            blocked.insert(0, "scp")
        if ep_allow is False:
            blocked.append("endpoint")
    else:
        result = CONDITIONAL
        blocked = [k for k, v in denies.items() if _unknown(v)]
        allowed_if = formula(allowed.expr)
    protected = _protected(req) if result != EXPLICIT else None
    if protected:  # AWS-owned objects: no policy can allow these changes (an explicit deny stays explicit)
        result, blocked, allowed_if = IMPLICIT, ["protected"], None
        if scan.lines is not None:
            scan.lines.append(ExplainLine("protected", "-", "-", "Deny", True, protected))
    unknown = list(dict.fromkeys(scan.unknown)) if result == CONDITIONAL else []
    return Decision(
        result,
        list(dict.fromkeys(blocked)),
        scan.lines or [],
        unknown,
        scan.errors,
        allowed_if,
        list(dict.fromkeys(defects)),
    )


def _kms_key(resource: str) -> bool:
    """The resource is a KMS key (or a pattern of keys): its key policy must allow."""
    parts = resource.split(":", 5)
    return len(parts) == 6 and parts[2] == "kms" and parts[5].startswith("key/")


_MANAGED_POLICY_CHANGES = frozenset(
    {
        "iam:createpolicy",
        "iam:createpolicyversion",
        "iam:deletepolicy",
        "iam:deletepolicyversion",
        "iam:setdefaultpolicyversion",
        "iam:tagpolicy",
        "iam:untagpolicy",
    }
)
_ROLE_CHANGES = frozenset(
    {
        "iam:attachrolepolicy",
        "iam:createrole",
        "iam:deleterole",
        "iam:deleterolepermissionsboundary",
        "iam:deleterolepolicy",
        "iam:detachrolepolicy",
        "iam:passrole",
        "iam:putrolepermissionsboundary",
        "iam:putrolepolicy",
        "iam:tagrole",
        "iam:untagrole",
        "iam:updateassumerolepolicy",
        "iam:updaterole",
        "iam:updateroledescription",
    }
)
# service-linked roles are created and deleted through their own actions, and their description may be edited
_SLR_ALLOWED = frozenset(
    {"iam:createservicelinkedrole", "iam:deleteservicelinkedrole", "iam:updateroledescription", "iam:updaterole"}
)
_RESERVED_ROLE_CHANGES = _ROLE_CHANGES | {"iam:createservicelinkedrole", "iam:deleteservicelinkedrole"}
_ALIAS_CHANGES = frozenset({"kms:createalias", "kms:updatealias", "kms:deletealias"})


def _protected(req: Request) -> str | None:
    """Why no policy can allow this change to an AWS-owned object, or None (IAM User Guide: AWS managed policies
    cannot be edited; service-linked roles and the roles under /aws-reserved/ are managed by AWS; KMS guide:
    aliases under alias/aws/ are reserved for AWS managed keys)."""
    action = req.action
    if action not in _MANAGED_POLICY_CHANGES and action not in _RESERVED_ROLE_CHANGES and action not in _ALIAS_CHANGES:
        return None
    parts = req.resource.split(":", 5)
    if len(parts) != 6:
        return None
    account, res = parts[4], parts[5]
    if parts[2] == "iam":
        if action in _MANAGED_POLICY_CHANGES and account == "aws" and res.startswith("policy/"):
            return f"{req.resource} is an AWS managed policy: {action} is never allowed on it"
        if res.startswith("role/aws-reserved/") and action in _RESERVED_ROLE_CHANGES:
            return f"{req.resource} is reserved by AWS: {action} is never allowed on it"
        if res.startswith("role/aws-service-role/") and action in _ROLE_CHANGES and action not in _SLR_ALLOWED:
            return f"{req.resource} is a service-linked role: {action} is never allowed on it"
    elif parts[2] == "kms" and action in _ALIAS_CHANGES and res.startswith("alias/aws/"):
        return f"{req.resource} is an AWS managed key alias: {action} is never allowed on it"
    return None


def _limit_blocks(pb_allow: Tri, sp_allow: Tri) -> list[str]:
    out = []
    if pb_allow is False:
        out.append("permission_boundary")
    if sp_allow is False:
        out.append("session")
    return out


_RCP_SERVICES: frozenset[str] | None = None


def _rcp_service(service: str) -> bool:
    global _RCP_SERVICES
    if _RCP_SERVICES is None:
        from iamkit.policy.catalog import catalog

        _RCP_SERVICES = catalog().rcp_services or frozenset({"s3", "sts", "sqs", "secretsmanager", "kms"})
    return service in _RCP_SERVICES
