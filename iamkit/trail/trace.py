"""Session tracing: from an access key back to its origin, and forward through everything it created.

Backward: an ASIA key is found in the ``responseElements.credentials`` of the STS call that issued it
(AssumeRole*, GetSessionToken, GetFederationToken); the caller of that call is followed up to a long-term
key, a SAML / web-identity / Identity Center user, or a service. Forward: the keys (CreateAccessKey), users
(CreateUser) and sessions (STS calls) each node created, recursively, with every call each one made.

Every query goes through a back end (``TrailBackend.rows`` in its dialect, bounded by its ``scope``), so a
trace asks a DuckDB store and Athena the same questions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from iamkit import frames
from iamkit.errors import BadInput, NotFound
from iamkit.trail.dialect import lit
from iamkit.trail.timeline import is_access_key, target_sql

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from iamkit.trail.backend import TrailBackend
    from iamkit.window import Window

STS_ISSUERS = (
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
    "GetSessionToken",
    "GetFederationToken",
    "AssumeRoot",
)

NODE_COLUMNS = {
    "node": frames.S,
    "node_type": frames.S,
    "access_key_id": frames.S,
    "principal_arn": frames.S,
    "account_id": frames.S,
    "parent": frames.S,
    "depth": frames.I,
    "created_by_event": frames.S,
    "created_at": frames.TS,
    "how": frames.S,
    "cross_account": frames.B,
}
TRACE_EVENT_COLUMNS = {
    "event_time": frames.TS,
    "depth": frames.I,
    "node": frames.S,
    "event_name": frames.S,
    "event_source": frames.S,
    "aws_region": frames.S,
    "recipient_account_id": frames.S,
    "principal_arn": frames.S,
    "access_key_id": frames.S,
    "source_ip": frames.S,
    "user_agent": frames.S,
    "error_code": frames.S,
    "target": frames.S,
    "event_id": frames.S,
}
frames.register(
    "trace_nodes",
    NODE_COLUMNS,
    "Keys, users and sessions reached from a traced key (node_type key|user|session), with parent.",
)
frames.register("trace_events", TRACE_EVENT_COLUMNS, "Every call made by a node of a trace, oldest first.")


@dataclass
class Origin:
    """Where a key came from: the first identity of its chain."""

    kind: str  # iam_user | root | saml_user | identity_center_user | web_identity | federated_user | service | role_session | aws_account | unknown
    principal_arn: str | None
    name: str | None
    account_id: str | None
    access_key_id: str | None  # the first key of the chain (AKIA for an IAM user)
    chain: list[str] = field(default_factory=list)  # keys from the origin down to the traced key
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class TraceResult:
    """A traced key: its origin, the nodes reached, every call they made, and a summary for reports."""

    access_key_id: str
    origin: Origin
    nodes: pd.DataFrame
    events: pd.DataFrame
    summary: dict[str, Any]


def _account_of(arn: str | None) -> str | None:
    parts = (arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


def _sql_list(values: list[str]) -> str:
    return ", ".join(lit(v) for v in values)


class _Asker:
    """A trace's queries on one back end, inside one scope (its window)."""

    def __init__(self, backend: TrailBackend, scope: str):
        self.b, self.scope, self.d = backend, scope, backend.dialect

    def rows(self, select: str, where: str, order: str, limit: int | None = None) -> list[dict]:
        q = f"SELECT {select}\nFROM {self.b.table}\nWHERE ({self.scope}) AND ({where})\nORDER BY {order}"
        return self.b.rows(q + (f"\nLIMIT {int(limit)}" if limit else ""))

    def text(self, col: str) -> str:
        return self.d.json_as_text(col)


_IDENTITY = "identity_type, principal_arn, principal_id, session_issuer_arn, session_name"


def _issuance(ask: _Asker, key: str) -> dict | None:
    """The STS call (or CreateAccessKey) whose response carried ``key``.

    A cross-account AssumeRole is written twice with the same response (so the same issued key): the caller's
    account's copy names the caller and its key, the role account's copy only ``AWSAccount`` and the caller's
    principal id (both share a sharedEventID). The caller's copy is the one to follow; when only the role
    account's trail was loaded, the other copy is returned and ``_find_origin`` resolves the principal id."""
    d, k = ask.d, lit(key)
    rows = ask.rows(
        f"event_id, event_time, event_name, identity_type, principal_arn, principal_id, access_key_id, "
        f"session_name, recipient_account_id, {ask.text('user_identity')} AS ui, "
        f"{ask.text('request_parameters')} AS rp, {ask.text('response_elements')} AS re",
        f"(event_name IN ({_sql_list(list(STS_ISSUERS))}) "
        f"AND {d.json_text('response_elements', ['credentials', 'accessKeyId'])} = {k}) "
        f"OR (event_name = 'CreateAccessKey' AND {d.json_text('response_elements', ['accessKey', 'accessKeyId'])} = {k})",
        "access_key_id IS NULL, identity_type = 'AWSAccount', event_time, event_id",
        1,
    )
    return rows[0] if rows else None


def _principal_by_id(ask: _Asker, principal_id: str) -> dict | None:
    """The identity (ARN, type) behind a principal id (AIDA…, AROA…:session), from its own calls."""
    rows = ask.rows(
        f"{_IDENTITY}, {ask.text('user_identity')} AS ui",
        f"principal_id = {lit(principal_id)} AND principal_arn IS NOT NULL",
        "event_time, event_id",
        1,
    )
    return rows[0] if rows else None


def _first_use(ask: _Asker, key: str) -> dict | None:
    rows = ask.rows(
        f"{_IDENTITY}, {ask.text('user_identity')} AS ui", f"access_key_id = {lit(key)}", "event_time, event_id", 1
    )
    return rows[0] if rows else None


def _origin_from_identity(ident: dict, key: str | None, chain: list[str]) -> Origin:
    """Classify the identity that used (or issued) the first key of a chain."""
    ui = json.loads(ident.get("ui") or "{}") or {}
    itype = ident.get("identity_type") or ui.get("type")
    arn = ident.get("principal_arn") or ui.get("arn")
    issuer = ident.get("session_issuer_arn") or ((ui.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn")
    name = ui.get("userName") or (arn.rsplit("/", 1)[-1] if arn else None)
    if itype == "IAMUser":
        kind = "iam_user"
    elif itype == "Root":
        kind, name = "root", "root"
    elif itype == "AssumedRole" and issuer and "AWSReservedSSO_" in issuer:
        kind = "identity_center_user"
        name = ident.get("session_name") or name
    elif itype == "AssumedRole":
        kind = "role_session"
    elif itype == "SAMLUser":
        kind = "saml_user"
    elif itype == "WebIdentityUser":
        kind = "web_identity"
    elif itype == "FederatedUser":
        kind = "federated_user"
    elif itype == "AWSService":
        kind, name = "service", ui.get("invokedBy") or name
    else:
        kind = "unknown"
    on_behalf = ui.get("onBehalfOf") or {}
    detail = {
        k: v
        for k, v in {
            "identity_type": itype,
            "session_issuer_arn": issuer,
            "identity_provider": ui.get("identityProvider"),
            "identity_store_user_id": on_behalf.get("userId"),
            "identity_store_arn": on_behalf.get("identityStoreArn"),
            "principal_id": ident.get("principal_id") or ui.get("principalId"),
        }.items()
        if v
    }
    return Origin(
        kind=kind,
        principal_arn=arn,
        name=name,
        account_id=ui.get("accountId") or _account_of(arn),
        access_key_id=key,
        chain=chain,
        detail=detail,
    )


def find_origin(backend: TrailBackend, key: str, *, window: Window | None = None, max_hops: int = 20) -> Origin:
    """Follow ``key`` back through the STS calls that issued it to the identity at the start of the chain
    (every query on ``backend``, inside ``window``; default: all)."""
    from iamkit.trail.predicates import Filters

    return _find_origin(_Asker(backend, backend.scope(Filters.make(window=window))), key, max_hops)


def _find_origin(ask: _Asker, key: str, max_hops: int = 20) -> Origin:
    chain = [key]
    cur = key
    for _ in range(max_hops):
        issued = _issuance(ask, cur)
        if issued is None or issued["event_name"] == "CreateAccessKey":
            ident = _first_use(ask, cur)
            origin = _origin_from_identity(ident or {}, cur, chain)
            if issued is not None:
                origin.detail["created_by_event"] = issued["event_id"]
                origin.detail["created_by"] = issued["principal_arn"]
                origin.detail["created_by_key"] = issued["access_key_id"]
            return origin
        parent = issued["access_key_id"]
        if not parent and issued.get("identity_type") == "AWSAccount":
            # only the role account's copy: the caller is known by its principal id (and account)
            who = _principal_by_id(ask, issued.get("principal_id") or "")
            if who is None:
                ui = json.loads(issued.get("ui") or "{}") or {}
                return Origin(
                    "aws_account",
                    None,
                    ui.get("principalId"),
                    ui.get("accountId"),
                    None,
                    chain,
                    {
                        "principal_id": ui.get("principalId"),
                        "issued_by_event": issued["event_id"],
                        "note": "only the role account's copy of the AssumeRole is loaded; load the "
                        "caller account's trail to follow it further",
                    },
                )
            # the caller, but not which of its keys: that copy of the call is not loaded
            origin = _origin_from_identity(who, None, chain)
            origin.detail.update(
                issued_by_event=issued["event_id"],
                note="the caller account's copy of the AssumeRole is not loaded: the caller is "
                "known by its principal id, not the key it used",
            )
            return origin
        if issued["event_name"] in ("AssumeRoleWithSAML", "AssumeRoleWithWebIdentity") or not parent or parent in chain:
            origin = _origin_from_identity(issued, parent, chain)
            if issued["event_name"] == "AssumeRoleWithSAML":
                re_ = json.loads(issued.get("re") or "{}") or {}
                origin.kind = "saml_user"
                origin.name = re_.get("subject") or origin.name
                origin.detail["issuer"] = re_.get("issuer")
            elif issued["event_name"] == "AssumeRoleWithWebIdentity":
                re_ = json.loads(issued.get("re") or "{}") or {}
                origin.kind = "web_identity"
                origin.name = re_.get("subjectFromWebIdentityToken") or origin.name
                origin.detail["provider"] = re_.get("provider")
            origin.detail["issued_by_event"] = issued["event_id"]
            return origin
        chain.insert(0, parent)
        cur = parent
    return Origin("unknown", None, None, None, chain[0], chain, {"note": f"chain longer than {max_hops} hops"})


def _node_events(ask: _Asker, keys: list[str], users: list[str]) -> list[dict]:
    """Every call made with ``keys`` or by IAM ``users`` (their non-key calls: console, other keys)."""
    conds = []
    if keys:
        conds.append(f"access_key_id IN ({_sql_list(keys)})")
    if users:
        conds.append(f"principal_arn IN ({_sql_list(users)})")
    if not conds:
        return []
    return ask.rows(
        f"event_time, event_name, event_source, aws_region, recipient_account_id, principal_arn, access_key_id, "
        f"source_ip, user_agent, error_code, {target_sql(ask.d)} AS target, event_id, "
        f"{ask.text('request_parameters')} AS rp, {ask.text('response_elements')} AS re",
        " OR ".join(conds),
        "event_time, event_id",
    )


def _children(ev: dict, node: dict) -> list[dict]:
    """Nodes an event created: a key (CreateAccessKey), a user (CreateUser), a session (STS)."""
    if ev.get("error_code"):
        return []
    re_ = json.loads(ev.get("re") or "null") or {}
    name = ev["event_name"]
    caller_account = node.get("account_id") or ev.get("recipient_account_id")
    base = {
        "parent": node["node"],
        "depth": node["depth"] + 1,
        "created_by_event": ev["event_id"],
        "created_at": ev["event_time"],
        "how": name,
        "cross_account": False,
    }
    if name == "CreateAccessKey" and isinstance(re_.get("accessKey"), dict):
        ak = re_["accessKey"]
        key = ak.get("accessKeyId")
        if not key:
            return []
        acct = ev.get("recipient_account_id") or caller_account
        arn = f"arn:aws:iam::{acct}:user/{ak.get('userName')}" if ak.get("userName") else None
        return [
            base | {"node": key, "node_type": "key", "access_key_id": key, "principal_arn": arn, "account_id": acct}
        ]
    if name == "CreateUser" and isinstance(re_.get("user"), dict):
        arn = re_["user"].get("arn")
        return (
            [
                base
                | {
                    "node": arn,
                    "node_type": "user",
                    "access_key_id": None,
                    "principal_arn": arn,
                    "account_id": _account_of(arn),
                }
            ]
            if arn
            else []
        )
    if name in STS_ISSUERS and isinstance(re_.get("credentials"), dict):
        key = re_["credentials"].get("accessKeyId")
        arn = (re_.get("assumedRoleUser") or {}).get("arn") or (re_.get("federatedUser") or {}).get("arn")
        acct = _account_of(arn) or caller_account
        if not key:
            return []
        rp = json.loads(ev.get("rp") or "null") or {}
        return [
            base
            | {
                "node": key,
                "node_type": "session",
                "access_key_id": key,
                "principal_arn": arn,
                "account_id": acct,
                "cross_account": bool(acct and caller_account and acct != caller_account),
                "role_arn": rp.get("roleArn"),
            }
        ]
    return []


def trace(
    backend: TrailBackend, access_key_id: str, *, window: Window | None = None, max_depth: int = 10
) -> TraceResult:
    """Trace ``access_key_id`` to its origin and through everything it created (every query inside ``window``,
    default: all); NotFound if the key is never seen."""
    from iamkit.trail.predicates import Filters

    key = (access_key_id or "").strip()
    if not is_access_key(key):
        raise BadInput(f"not an access key id: {access_key_id!r} (expected AKIA… or ASIA…)")
    ask = _Asker(backend, backend.scope(Filters.make(window=window)))
    first = _first_use(ask, key)
    if first is None and _issuance(ask, key) is None:
        raise NotFound(f"access key {key} never appears in this CloudTrail store")
    origin = _find_origin(ask, key)
    first = first or {}
    root = {
        "node": key,
        "node_type": "key" if key.startswith("AKIA") else "session",
        "access_key_id": key,
        "principal_arn": first.get("principal_arn") or origin.principal_arn,
        "account_id": _account_of(first.get("principal_arn")) or origin.account_id,
        "parent": None,
        "depth": 0,
        "created_by_event": None,
        "created_at": None,
        "how": "traced",
        "cross_account": False,
    }
    nodes: dict[str, dict] = {key: root}
    events: list[dict] = []
    seen_events: set[str] = set()
    frontier = [root]
    while frontier:
        keys = [n["access_key_id"] for n in frontier if n["access_key_id"]]
        users = [n["principal_arn"] for n in frontier if n["node_type"] == "user"]
        by_key = {n["access_key_id"]: n for n in frontier if n["access_key_id"]}
        by_user = {n["principal_arn"]: n for n in frontier if n["node_type"] == "user"}
        nxt: list[dict] = []
        for ev in _node_events(ask, keys, users):
            node = by_key.get(ev["access_key_id"]) or by_user.get(ev["principal_arn"])
            if node is None or ev["event_id"] in seen_events:
                continue  # a created user's call made with a key that is already its own node
            if node["node_type"] == "user" and ev["access_key_id"] in nodes:
                continue
            seen_events.add(ev["event_id"])
            events.append(ev | {"node": node["node"], "depth": node["depth"]})
            if node["depth"] >= max_depth:
                continue
            for child in _children(ev, node):
                if child["node"] not in nodes:
                    nodes[child["node"]] = child
                    nxt.append(child)
        frontier = nxt
    nodes_df = frames.conform(list(nodes.values()), "trace_nodes")
    events_df = frames.conform(sorted(events, key=lambda e: (e["event_time"], e["event_id"])), "trace_events")
    return TraceResult(key, origin, nodes_df, events_df, _summary(events, nodes, origin))


def _first_seen(events: list[dict], column: str) -> dict[str, Any]:
    """When each value of ``column`` first appears (events are in time order): new IPs/agents stand out."""
    out: dict[str, Any] = {}
    for e in events:
        v = e.get(column)
        if v and v not in out and not str(v).endswith(".amazonaws.com"):
            out[v] = e["event_time"]
    return out


def _summary(events: list[dict], nodes: dict[str, dict], origin: Origin) -> dict[str, Any]:
    """Facts for a report: where from, what with, what was created, read and changed."""
    from collections import Counter

    ips = [e["source_ip"] for e in events if e["source_ip"] and not str(e["source_ip"]).endswith(".amazonaws.com")]
    secrets, objects, policies = [], [], []
    for e in events:
        rp = json.loads(e.get("rp") or "null") or {}
        if e["error_code"]:
            continue
        if e["event_name"] == "GetSecretValue" and rp.get("secretId"):
            secrets.append(rp["secretId"])
        elif e["event_name"] == "GetObject" and rp.get("bucketName"):
            objects.append(f"arn:aws:s3:::{rp['bucketName']}/{rp.get('key', '')}")
        elif e["event_name"] in (
            "AttachUserPolicy",
            "AttachRolePolicy",
            "AttachGroupPolicy",
            "PutUserPolicy",
            "PutRolePolicy",
            "PutGroupPolicy",
        ):
            policies.append(
                {
                    "event": e["event_name"],
                    "target": rp.get("userName") or rp.get("roleName") or rp.get("groupName"),
                    "policy": rp.get("policyArn") or rp.get("policyName"),
                    "event_id": e["event_id"],
                }
            )
    sessions = [n for n in nodes.values() if n["node_type"] == "session" and n["depth"] > 0]
    times = [e["event_time"] for e in events]
    return {
        "origin": {
            "kind": origin.kind,
            "principal_arn": origin.principal_arn,
            "name": origin.name,
            "account_id": origin.account_id,
            "chain": origin.chain,
        },
        "ips": list(dict.fromkeys(ips)),
        "ip_counts": dict(Counter(ips).most_common()),
        "ip_first_seen": _first_seen(events, "source_ip"),
        "user_agent_first_seen": _first_seen(events, "user_agent"),
        "user_agents": list(dict.fromkeys(e["user_agent"] for e in events if e["user_agent"])),
        "first_seen": min(times) if times else None,
        "last_seen": max(times) if times else None,
        "event_count": len(events),
        "counts_by_event": dict(Counter(e["event_name"] for e in events).most_common()),
        "errors": dict(Counter(e["error_code"] for e in events if e["error_code"]).most_common()),
        "accounts": sorted({e["recipient_account_id"] for e in events if e["recipient_account_id"]}),
        "created_keys": [n["access_key_id"] for n in nodes.values() if n["node_type"] == "key" and n["depth"] > 0],
        "created_users": [n["principal_arn"] for n in nodes.values() if n["node_type"] == "user"],
        "sessions": [
            {
                "access_key_id": n["access_key_id"],
                "role_arn": n.get("role_arn"),
                "role_session_arn": n["principal_arn"],
                "account_id": n["account_id"],
                "cross_account": n["cross_account"],
                "how": n["how"],
            }
            for n in sessions
        ],
        "cross_account_sessions": [n["principal_arn"] for n in sessions if n["cross_account"]],
        "policies_attached": policies,
        "secrets_read": list(dict.fromkeys(secrets)),
        "objects_read": list(dict.fromkeys(objects)),
    }
