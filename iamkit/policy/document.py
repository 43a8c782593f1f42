"""Parse and normalise policy documents of every kind into frozen, precompiled objects.

``parse(doc, kind)`` accepts a dict, a JSON string (URL-encoded as IAM APIs return it, or not), bytes, or an
already parsed :class:`Policy`; the result is cached so the engine never parses the same document twice.
Structural problems (invalid JSON, a bad Effect, Action and NotAction together, an unknown condition operator)
raise :class:`iamkit.errors.PolicyError` naming the statement and field; ``validate`` reports the same problems as
findings instead. Three defects common in documents as stored are read the way AWS reads them and listed in
``Policy.defects`` instead of refusing the whole evaluation: a bare string Principal (``"Principal": "arn:…"``, read
as ``{"AWS": …}``), a resource-policy statement without Principal (it never matches anyone) and a Principal in an
identity-side policy (ignored).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from iamkit import jsontext
from iamkit.errors import PolicyError
from iamkit.policy.conditions import CompiledConditions, compile_conditions, known_operator
from iamkit.policy.matching import arn_matches, compile_glob, is_glob
from iamkit.policy.variables import has_variables, substitute

# kind -> (Principal allowed, Principal required, Resource required)
KINDS: dict[str, tuple[bool, bool, bool]] = {
    "identity": (False, False, True),
    "boundary": (False, False, True),
    "session": (False, False, True),
    "scp": (False, False, True),
    "rcp": (True, False, True),
    "resource": (True, True, False),
    "trust": (True, True, False),
    "endpoint": (True, False, False),
}
VERSIONS = ("2012-10-17", "2008-10-17")
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_STATEMENT_KEYS = {
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
    "Condition",
}


@dataclass(frozen=True, slots=True)
class PrincipalEntry:
    """One Principal value: kind ``AWS`` | ``Service`` | ``Federated`` | ``CanonicalUser`` (``*`` is AWS ``*``).

    AWS account ids are normalised to ``arn:aws:iam::ID:root``; ``raw`` keeps what the policy said.
    """

    kind: str
    value: str
    raw: str

    @property
    def is_everyone(self) -> bool:
        return self.value == "*"

    @property
    def is_account(self) -> bool:
        return self.kind == "AWS" and self.value.endswith(":root") and self.value.startswith("arn:")


class _ActionSet:
    """Action patterns precompiled: exact names in a set, wildcard ones as globs (lower-cased: IAM ignores case)."""

    __slots__ = ("any", "exact", "globs", "patterns")

    def __init__(self, patterns: tuple[str, ...]):
        self.patterns = patterns
        self.any = any(p == "*" for p in patterns)
        self.exact = frozenset(p.lower() for p in patterns if not is_glob(p))
        # the engine passes the action lower-cased already, so lower-cased patterns match case-sensitively
        self.globs = tuple(compile_glob(p.lower(), case_sensitive=True).matches for p in patterns if is_glob(p))

    def match(self, action_low: str) -> bool:
        if self.any or action_low in self.exact:
            return True
        for matches in self.globs:
            if matches(action_low):
                return True
        return False


class _ResourceSet:
    """Resource patterns precompiled: ``*``, exact ARNs, wildcard ARNs, and those holding policy variables."""

    __slots__ = ("any", "exact", "memo", "patterns", "variable", "wild")

    def __init__(self, patterns: tuple[str, ...]):
        self.patterns = patterns
        self.any = "*" in patterns
        variable = tuple(p for p in patterns if has_variables(p))
        self.variable = variable
        self.exact = frozenset(p for p in patterns if p not in variable and not is_glob(p))
        self.wild = tuple(p for p in patterns if p not in variable and p != "*" and is_glob(p))
        self.memo: dict[str, bool] = {}

    def match(self, resource: str, context: Mapping[str, Any]) -> bool:
        if self.any:
            return True
        if resource == "*":  # an action without resource types is matched only by "*"
            return False
        if resource in self.exact:
            return True
        if self.wild:
            hit = self.memo.get(resource)
            if hit is None:
                hit = any(arn_matches(p, resource) for p in self.wild)
                if len(self.memo) > 4096:
                    self.memo.clear()
                self.memo[resource] = hit
            if hit:
                return True
        for p in self.variable:
            sub = substitute(p, context, for_glob=True)
            if sub is not None and arn_matches(sub, resource):
                return True
        return False


@dataclass(frozen=True, eq=False)
class Statement:
    """One normalised statement; fields hold tuples (None when the element is absent)."""

    index: int
    sid: str
    effect: str
    actions: tuple[str, ...] | None
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None
    not_resources: tuple[str, ...] | None
    principals: tuple[PrincipalEntry, ...] | None
    not_principals: tuple[PrincipalEntry, ...] | None
    condition: Mapping[str, Mapping[str, Any]] | None
    compiled_condition: CompiledConditions | None = field(repr=False)
    _actions: _ActionSet = field(repr=False)
    _resources: _ResourceSet | None = field(repr=False)
    # context keys the Condition reads (its keys and its policy variables' keys) and the engine's memo of
    # condition outcomes by those keys' values
    cond_keys: tuple[str, ...] = field(default=(), repr=False)
    cond_memo: dict[tuple, Any] = field(default_factory=dict, repr=False)
    # a resource-policy statement stored without Principal/NotPrincipal: it names no one, so it never applies
    principal_missing: bool = False

    @property
    def label(self) -> str:
        """``Sid`` or ``#index`` for messages."""
        return self.sid or f"#{self.index}"

    def matches_action(self, action_low: str) -> bool:
        """Whether the Action / NotAction element covers ``action_low`` (lower-case ``service:name``)."""
        hit = self._actions.match(action_low)
        return hit if self.actions is not None else not hit

    def matches_resource(self, resource: str, context: Mapping[str, Any]) -> bool:
        """Whether the Resource / NotResource element covers ``resource`` (case-sensitive, variables substituted)."""
        if self._resources is None:
            return True
        hit = self._resources.match(resource, context)
        return hit if self.resources is not None else not hit


@dataclass(frozen=True, eq=False)
class Policy:
    """A parsed policy: kind, name (ARN or label for explanations) and its statements."""

    kind: str
    name: str
    version: str | None
    id: str | None
    statements: tuple[Statement, ...]
    defects: tuple[str, ...] = ()  # problems read past (see the module docstring), one line each
    _by_action: dict[str, tuple[Statement, ...]] = field(default_factory=dict, repr=False)
    _static: dict[str, bool] = field(default_factory=dict, repr=False)
    _memo: dict[tuple[str, str], tuple[bool, bool]] = field(default_factory=dict, repr=False)

    def is_static(self, action_low: str) -> bool:
        """True when the statements covering the action have no Condition and no policy variable, so their
        outcome depends on the resource alone (the engine then memoises it per resource)."""
        hit = self._static.get(action_low)
        if hit is None:
            hit = all(
                s.compiled_condition is None and (s._resources is None or not s._resources.variable)
                for s in self.relevant(action_low)
            )
            self._static[action_low] = hit
        return hit

    def relevant(self, action_low: str) -> tuple[Statement, ...]:
        """Statements whose Action/NotAction covers ``action_low``, computed once per action."""
        hit = self._by_action.get(action_low)
        if hit is None:
            hit = tuple(s for s in self.statements if s.matches_action(action_low))
            if len(self._by_action) > 4096:
                self._by_action.clear()
            self._by_action[action_low] = hit
        return hit

    def to_dict(self) -> dict[str, Any]:
        """The normalised document as JSON-ready data (lists everywhere)."""
        out: dict[str, Any] = {}
        if self.version:
            out["Version"] = self.version
        out["Statement"] = [statement_to_dict(s) for s in self.statements]
        return out


def statement_to_dict(s: Statement) -> dict[str, Any]:
    """A statement back as a JSON-ready dict."""
    d: dict[str, Any] = {}
    if s.sid:
        d["Sid"] = s.sid
    d["Effect"] = s.effect
    for key, val in (
        ("Action", s.actions),
        ("NotAction", s.not_actions),
        ("Resource", s.resources),
        ("NotResource", s.not_resources),
    ):
        if val is not None:
            d[key] = list(val)
    for key, ents in (("Principal", s.principals), ("NotPrincipal", s.not_principals)):
        if ents is not None:
            if len(ents) == 1 and ents[0].raw == "*" and ents[0].kind == "*":
                d[key] = "*"
            else:
                grouped: dict[str, list[str]] = {}
                for e in ents:
                    grouped.setdefault(e.kind if e.kind != "*" else "AWS", []).append(e.raw)
                d[key] = grouped
    if s.condition is not None:
        d["Condition"] = s.condition
    return d


# ---------------------------------------------------------------------------------------------------------
def load_document(doc: Any, *, what: str = "policy") -> dict[str, Any]:
    """Turn a dict / JSON text / URL-encoded JSON / bytes into the document dict, or raise PolicyError."""
    if isinstance(doc, Mapping):
        return dict(doc)
    if isinstance(doc, (bytes, bytearray)):
        try:
            doc = doc.decode("utf-8")
        except UnicodeDecodeError as e:
            raise PolicyError(f"{what}: not UTF-8 text ({e.reason})") from None
    if not isinstance(doc, str):
        raise PolicyError(f"{what}: expected a JSON object, got {type(doc).__name__}")
    text = doc.strip()
    if not text:
        raise PolicyError(f"{what}: empty document")
    if not text.startswith("{") and "%" in text:
        text = unquote(text).strip()
    data = jsontext.parse(text, what, error=PolicyError)
    if not isinstance(data, dict):
        raise PolicyError(f"{what}: the document must be a JSON object, got {type(data).__name__}")
    return data


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    if isinstance(value, list) and not value:
        raise PolicyError(f"{where}: empty list")
    raise PolicyError(f"{where}: expected a string or a list of strings, got {json.dumps(value)[:80]}")


def _principals(value: Any, where: str, defects: list[str] | None = None) -> tuple[PrincipalEntry, ...]:
    if value == "*":
        return (PrincipalEntry("*", "*", "*"),)
    if isinstance(value, str) and value.strip() and defects is not None:
        defects.append(f'{where}: a bare string principal {value[:80]!r}, read as {{"AWS": …}}')
        value = {"AWS": value}
    if not isinstance(value, Mapping) or not value:
        raise PolicyError(f'{where}: expected "*" or an object such as {{"AWS": ...}}, got {json.dumps(value)[:80]}')
    out: list[PrincipalEntry] = []
    for kind, vals in value.items():
        if kind not in ("AWS", "Service", "Federated", "CanonicalUser"):
            raise PolicyError(f"{where}: unknown principal type {kind!r} (AWS, Service, Federated, CanonicalUser)")
        for v in _strings(vals, f"{where}.{kind}"):
            v = v.strip()
            if kind == "AWS":
                norm = f"arn:aws:iam::{v}:root" if _ACCOUNT_ID.match(v) else v
            elif kind == "Service":
                norm = v.lower()
            else:
                norm = v
            out.append(PrincipalEntry(kind, norm, v))
    return tuple(out)


def _condition(value: Any, where: str) -> dict[str, dict[str, Any]]:
    if not isinstance(value, Mapping):
        raise PolicyError(f"{where}: expected an object of operators, got {json.dumps(value)[:80]}")
    out: dict[str, dict[str, Any]] = {}
    for op, keys in value.items():
        if not known_operator(op):
            raise PolicyError(f"{where}: unknown condition operator {op!r}")
        if not isinstance(keys, Mapping) or not keys:
            raise PolicyError(f"{where}.{op}: expected an object of condition keys, got {json.dumps(keys)[:80]}")
        for k, v in keys.items():
            vals = v if isinstance(v, list) else [v]
            if not vals or not all(isinstance(x, (str, int, float, bool)) for x in vals):
                raise PolicyError(f"{where}.{op}.{k}: values must be strings, numbers or booleans")
        out[op] = dict(keys)
    return out


def _check_variables(patterns: tuple[str, ...] | None, where: str) -> None:
    for p in patterns or ():
        if has_variables(p):
            try:
                substitute(p, {}, for_glob=True)
            except PolicyError as e:
                raise PolicyError(f"{where}: {e}") from None


def parse_statement(raw: Any, index: int, kind: str, defects: list[str] | None = None) -> Statement:
    """One statement dict -> :class:`Statement` (PolicyError on anything AWS would reject). With a ``defects`` list,
    the stored-document defects described in the module docstring are read past and appended to it instead."""
    where = f"Statement[{index}]"
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{where}: expected an object, got {type(raw).__name__}")
    principal_allowed, principal_required, resource_required = KINDS[kind]
    unknown = set(raw) - _STATEMENT_KEYS
    if unknown:
        raise PolicyError(f"{where}: unknown element(s) {sorted(unknown)}")
    sid = raw.get("Sid", "")
    if not isinstance(sid, str):
        raise PolicyError(f"{where}.Sid: must be a string")
    where = f"Statement[{index}]" + (f" ({sid})" if sid else "")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f'{where}.Effect: must be "Allow" or "Deny", got {json.dumps(effect)}')
    if ("Action" in raw) == ("NotAction" in raw):
        raise PolicyError(f"{where}: needs exactly one of Action or NotAction")
    if "Resource" in raw and "NotResource" in raw:
        raise PolicyError(f"{where}: has both Resource and NotResource")
    if "Principal" in raw and "NotPrincipal" in raw:
        raise PolicyError(f"{where}: has both Principal and NotPrincipal")
    if resource_required and "Resource" not in raw and "NotResource" not in raw:
        raise PolicyError(f"{where}: needs Resource or NotResource in a {kind} policy")
    has_principal = "Principal" in raw or "NotPrincipal" in raw
    ignore_principal = missing_principal = False
    if has_principal and not principal_allowed:
        if defects is None:
            raise PolicyError(f"{where}: a {kind} policy cannot have Principal/NotPrincipal")
        defects.append(f"{where}: a {kind} policy cannot name a Principal; the element is ignored")
        ignore_principal = True
    if principal_required and not has_principal:
        if defects is None:
            raise PolicyError(f"{where}: needs Principal or NotPrincipal in a {kind} policy")
        defects.append(f"{where}: no Principal in a {kind} policy statement; it never applies")
        missing_principal = True
    actions = _strings(raw["Action"], f"{where}.Action") if "Action" in raw else None
    not_actions = _strings(raw["NotAction"], f"{where}.NotAction") if "NotAction" in raw else None
    resources = _strings(raw["Resource"], f"{where}.Resource") if "Resource" in raw else None
    not_resources = _strings(raw["NotResource"], f"{where}.NotResource") if "NotResource" in raw else None
    principals = not_principals = None
    if not ignore_principal:
        if "Principal" in raw:
            principals = _principals(raw["Principal"], f"{where}.Principal", defects)
        if "NotPrincipal" in raw:
            not_principals = _principals(raw["NotPrincipal"], f"{where}.NotPrincipal", defects)
    condition = _condition(raw["Condition"], f"{where}.Condition") if "Condition" in raw else None
    res = resources if resources is not None else not_resources
    _check_variables(res, f"{where}.{'Resource' if resources is not None else 'NotResource'}")
    try:
        compiled = compile_conditions(condition) if condition else None
    except PolicyError as e:
        raise PolicyError(f"{where}.Condition: {e}") from None
    return Statement(
        index=index,
        sid=sid,
        effect=effect,
        actions=actions,
        not_actions=not_actions,
        resources=resources,
        not_resources=not_resources,
        principals=principals,
        not_principals=not_principals,
        condition=condition or None,
        compiled_condition=compiled,
        _actions=_ActionSet(actions if actions is not None else not_actions),  # type: ignore[arg-type]
        _resources=_ResourceSet(res) if res is not None else None,
        cond_keys=_condition_keys(compiled),
        principal_missing=missing_principal,
    )


def _condition_keys(compiled: CompiledConditions | None) -> tuple[str, ...]:
    if compiled is None:
        return ()
    keys: list[str] = []
    for c in compiled.conditions:
        keys.append(c.key_lower)
        keys.extend(k.lower() for k in c.var_keys)
    return tuple(dict.fromkeys(keys))


def parse_document(data: Mapping[str, Any], kind: str = "identity", name: str = "") -> Policy:
    """A loaded document dict -> :class:`Policy` (uncached; see :func:`parse`)."""
    if kind not in KINDS:
        raise PolicyError(f"unknown policy kind {kind!r} (one of {', '.join(KINDS)})")
    if "Statement" not in data:
        raise PolicyError(f"{name or kind + ' policy'}: no Statement element")
    raw = data["Statement"]
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list):
        raise PolicyError(f"{name or kind + ' policy'}: Statement must be an object or a list of objects")
    version = data.get("Version")
    if version is not None and version not in VERSIONS:
        raise PolicyError(f"{name or kind + ' policy'}: unknown Version {version!r} (use 2012-10-17)")
    defects: list[str] = []
    try:
        statements = tuple(parse_statement(s, i, kind, defects) for i, s in enumerate(raw))
    except PolicyError as e:
        raise PolicyError(f"{name}: {e}" if name else str(e)) from None
    pid = data.get("Id")
    label = name or f"{kind} policy"
    return Policy(
        kind=kind,
        name=name,
        version=version,
        id=pid if isinstance(pid, str) else None,
        statements=statements,
        defects=tuple(f"{label} {d}" for d in defects),
    )


_CACHE: dict[tuple[Any, str, str], tuple[Any, Policy]] = {}
_CACHE_MAX = 20000


def parse(doc: Any, kind: str = "identity", name: str = "") -> Policy:
    """Parse any accepted form of a policy into a :class:`Policy`, cached by text or by object identity.

    Dicts are cached by identity: do not mutate a dict after evaluating it (pass a new one).
    """
    if isinstance(doc, Policy):
        return doc
    key = (doc if isinstance(doc, (str, bytes)) else id(doc), kind, name)
    hit = _CACHE.get(key)
    if hit is not None and (hit[0] is doc or isinstance(doc, (str, bytes))):
        return hit[1]
    policy = parse_document(load_document(doc, what=name or f"{kind} policy"), kind, name)
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    _CACHE[key] = (doc, policy)
    return policy


def clear_cache() -> None:
    """Forget every cached parse (for tests and benchmarks)."""
    _CACHE.clear()
