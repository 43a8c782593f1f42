"""Questions over an inventory: who can do an action on a resource, what a principal can do, effective
permissions and who is administrator — all decided by the engine with SCPs, RCPs, boundaries and denies applied.

This is the one public way other layers ask the engine about an inventory's principals: :func:`model` (the
parsed inventory), :func:`decide` / :func:`decide_for` (one request of one principal, with everything that applies
to it), :func:`request_for` (the request dict the engine gets) and :func:`is_admin` / :data:`ADMIN_PROBES` (the
one definition of administrator-equivalent).

Works on any object exposing the inventory frames (``principals``, ``policies``, ``trusts``,
``resource_policies``, ``accounts``; ``posture`` optionally for OU names). The per-inventory model (parsed
policies per principal, SCP levels per account) is built once and cached on the inventory's identity;
``who_can`` evaluates only the candidates an action index picks, so it stays fast over thousands of principals.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from iamkit import arn as arns
from iamkit.errors import BadInput, PolicyError
from iamkit.frames import register
from iamkit.policy.document import Policy, load_document, parse_document
from iamkit.policy.engine import ALLOWED, CONDITIONAL, Decision, evaluate, parse_caller

register(
    "who_can",
    {
        "principal_arn": "string",
        "principal_type": "string",
        "account_id": "string",
        "result": "string",
        "blocked_by": "json",
        "unknown_keys": "json",
        "via": "string",
    },
    "who_can(action, resource): one row per principal the engine allows (or would, given unknown keys).",
)
register(
    "what_can",
    {
        "principal_arn": "string",
        "action": "string",
        "access_level": "string",
        "resource": "string",
        "result": "string",
        "blocked_by": "json",
        "unknown_keys": "json",
    },
    "what_can / effective_permissions: one row per (principal, action, resource pattern) evaluated.",
)


_PLAIN = frozenset({str, bool, int, list, dict, tuple})


def records(df: Any) -> list[dict[str, Any]]:
    """A frame as row dicts with pandas' missing markers (NA, NaT, NaN) as None and numpy scalars as Python values
    (``to_dict(orient="records")``, built column by column: several times faster on frames that are mostly empty
    cells)."""
    if df is None or len(df) == 0:
        return []
    import pandas as pd
    from pandas.core.dtypes.cast import maybe_box_native

    na, nat = pd.NA, pd.NaT

    def cell(v: Any) -> Any:
        if v is None or type(v) in _PLAIN:
            return v
        if v is na or v is nat or (type(v) is float and v != v):
            return None
        v = maybe_box_native(v)
        try:
            return None if pd.isna(v) is True else v
        except (TypeError, ValueError):
            return v

    cols = list(df.columns)
    data = []
    for c in cols:
        vals = df[c].tolist()
        data.append(vals if all(v is None or type(v) in _PLAIN for v in vals) else [cell(v) for v in vals])
    return [dict(zip(cols, row, strict=True)) for row in zip(*data, strict=True)]


def _json(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


@dataclass
class PrincipalModel:
    """What the engine needs about one principal, built once per inventory."""

    arn: str
    principal_type: str  # user | role | root
    account_id: str
    request_principal: str  # the ARN a request carries (a session ARN for roles)
    role_arn: str
    identity: list[Policy] = field(default_factory=list)
    boundaries: list[Policy] = field(default_factory=list)
    tags: dict[str, Any] = field(default_factory=dict)
    principal_id: str | None = None
    service_linked: bool = False


@dataclass
class Model:
    """Parsed inventory: principals, resource policies, SCP/RCP levels per account, the org id per account."""

    principals: list[PrincipalModel]
    by_arn: dict[str, PrincipalModel]
    resource_policies: dict[str, tuple[str, Policy]]  # resource arn -> (account id, policy)
    trusts: dict[str, Policy]  # role arn -> trust policy
    scps: dict[str, list[list[Policy]]]  # account id -> levels
    rcps: dict[str, list[list[Policy]]]
    management: set[str]
    org_of: dict[str, str]
    errors: list[str]
    frames: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # the frames read, as row dicts


_MODELS: dict[int, tuple[Any, Model]] = {}  # id(inventory) -> (weak or strong reference to it, model)


def model(inv: Any, *, refresh: bool = False) -> Model:
    """The parsed model of an inventory, built on first use and cached by identity (``refresh`` rebuilds it).

    The cache holds the inventory weakly where it can: a model leaves the cache with its inventory, so it never
    keeps a dropped inventory alive."""
    key = id(inv)
    hit = _MODELS.get(key)
    if hit is not None and _referent(hit[0]) is inv and not refresh:
        return hit[1]
    built = build_model(inv)
    if len(_MODELS) >= 8 and key not in _MODELS:
        _MODELS.pop(next(iter(_MODELS)))
    try:
        ref: Any = weakref.ref(
            inv, lambda r, key=key: _MODELS.pop(key, None) if _MODELS.get(key, (None,))[0] is r else None
        )
    except TypeError:  # an object without weak references is kept alive, as before
        ref = inv
    _MODELS[key] = (ref, built)
    return built


def _referent(ref: Any) -> Any:
    return ref() if isinstance(ref, weakref.ref) else ref


def _safe_parse(
    doc: Any, kind: str, name: str, errors: list[str], memo: dict[tuple, tuple[Any, Policy]]
) -> Policy | None:
    """The parsed document, or None with the problem added to ``errors``. ``memo`` (one per model) parses each
    document once by text or identity, like :func:`iamkit.policy.parse`, but dies with the model instead of
    keeping every document and policy of the inventory alive in the parser's process-wide cache."""
    if doc is None:
        return None
    key = (doc if isinstance(doc, (str, bytes)) else id(doc), kind, name)
    hit = memo.get(key)
    if hit is not None:
        return hit[1]
    try:
        pol = parse_document(load_document(_json(doc), what=name or f"{kind} policy"), kind, name)
    except PolicyError as e:
        errors.append(f"{name}: {e}")
        return None
    memo[key] = (doc, pol)
    return pol


def build_model(inv: Any) -> Model:
    """Parse every policy of the inventory once and index it by principal, resource and account."""
    errors: list[str] = []
    frames: dict[str, list[dict[str, Any]]] = {}
    memo: dict[tuple, tuple[Any, Policy]] = {}
    as_boundary: dict[str, Policy] = {}

    def _rows(inv: Any, name: str) -> list[dict[str, Any]]:
        hit = frames.get(name)
        if hit is None:
            hit = frames[name] = records(getattr(inv, name, None))
        return hit

    principals_rows = _rows(inv, "principals")
    policy_rows = _rows(inv, "policies")
    # documents by (policy arn) for the default version, and attachments by target
    default_doc: dict[str, Policy] = {}
    attached: dict[str, list[Policy]] = {}
    org_pol: dict[str, dict[str, list[Policy]]] = {"scp": {}, "rcp": {}}
    for r in policy_rows:
        if r.get("is_default") is False:
            continue
        ptype = (r.get("policy_type") or "").lower()
        name = r.get("policy_arn") or f"inline:{r.get('attached_to_arn')}:{r.get('policy_name')}"
        kind = ptype if ptype in ("scp", "rcp") else "identity"
        pol = None
        if r.get("document") is not None:
            pol = _safe_parse(r["document"], kind, name, errors, memo)
        if pol is None and r.get("policy_arn") in default_doc:
            pol = default_doc[r["policy_arn"]]
        if pol is None:
            continue
        if r.get("policy_arn"):
            default_doc.setdefault(r["policy_arn"], pol)
        target = r.get("attached_to_arn")
        if not target:
            continue
        if kind in ("scp", "rcp"):
            org_pol[kind].setdefault(target, []).append(pol)
        else:
            lst = attached.setdefault(target, [])
            if pol not in lst:
                lst.append(pol)
    group_arn: dict[tuple[str, str], str] = {}
    for p in principals_rows:
        if p.get("principal_type") == "group" and p.get("arn"):
            group_arn[(p.get("account_id") or "", p.get("name") or "")] = p["arn"]
    models: list[PrincipalModel] = []
    for p in principals_rows:
        ptype = p.get("principal_type")
        arn = p.get("arn")
        if ptype not in ("user", "role", "root") or not arn:
            continue
        acct = p.get("account_id") or arns.account_of(arn) or ""
        identity = list(attached.get(arn, []))
        if ptype == "user":
            for g in _json(p.get("groups")) or []:
                garn = g if str(g).startswith("arn:") else group_arn.get((acct, str(g)))
                for pol in attached.get(garn or "", []):
                    if pol not in identity:
                        identity.append(pol)
        boundaries = []
        barn = p.get("permissions_boundary_arn")
        if barn:
            b = default_doc.get(barn)
            if b is None:
                errors.append(f"{arn}: permissions boundary {barn} has no document in the inventory")
            b = as_boundary.get(barn)
            if b is None:  # once per boundary ARN: principals with the same boundary share one parsed policy
                b = default_doc.get(barn)
                b = as_boundary[barn] = (
                    parse_document(
                        {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]},
                        "boundary",
                        f"missing-boundary:{barn}",
                    )
                    if b is None
                    else parse_document(b.to_dict(), "boundary", b.name)
                    if b.kind != "boundary"
                    else b
                )
            boundaries.append(b)
        if ptype == "role":
            name = arns.name_of(arn)
            req_principal = f"arn:aws:sts::{acct}:assumed-role/{name}/iamkit-query"
        else:
            req_principal = arn
        tags = _json(p.get("tags")) or {}
        if isinstance(tags, list):
            tags = {t.get("Key"): t.get("Value") for t in tags if isinstance(t, Mapping)}
        models.append(
            PrincipalModel(
                arn,
                ptype,
                acct,
                req_principal,
                arn if ptype == "role" else "",
                identity,
                boundaries,
                tags if isinstance(tags, dict) else {},
                p.get("principal_id"),
                bool(p.get("service_linked")),
            )
        )
    resource_policies: dict[str, tuple[str, Policy]] = {}
    for r in _rows(inv, "resource_policies"):
        arn = r.get("resource_arn")
        pol = _safe_parse(r.get("policy"), "resource", arn or "resource", errors, memo) if arn else None
        if pol is not None:
            resource_policies[arn] = (r.get("account_id") or "", pol)
    trusts = _trust_policies(_rows(inv, "trusts"), errors, memo)
    accounts = _rows(inv, "accounts")
    ou_ids = _ou_ids(_rows(inv, "posture"))
    scps: dict[str, list[list[Policy]]] = {}
    rcps: dict[str, list[list[Policy]]] = {}
    management: set[str] = set()
    org_of: dict[str, str] = {}
    for a in accounts:
        acct = a.get("account_id")
        if not acct:
            continue
        if a.get("is_management"):
            management.add(acct)
        if a.get("org_id"):
            org_of[acct] = a["org_id"]
        path = _path_ids(a, ou_ids) + [acct]
        for kind, target in (("scp", scps), ("rcp", rcps)):
            if kind == "rcp" and a.get("is_management"):
                continue  # RCPs do not affect resources of the management account
            levels = [org_pol[kind][t] for t in path if org_pol[kind].get(t)]
            if levels:
                target[acct] = levels
    return Model(
        models, {m.arn: m for m in models}, resource_policies, trusts, scps, rcps, management, org_of, errors, frames
    )


def _ou_ids(posture: list[dict[str, Any]]) -> dict[str, str]:
    """OU name path ("Root/Eng") -> OU id, from the organizations.ou posture rows."""
    out = {}
    for r in posture:
        if r.get("control") == "organizations.ou":
            d = _json(r.get("detail")) or {}
            if isinstance(d, dict) and d.get("path") and d.get("id"):
                out[d["path"]] = d["id"]
    return out


def _path_ids(account: dict[str, Any], ou_ids: dict[str, str]) -> list[str]:
    """The ids root → … → parent OU of an account, from ``ou_path`` (ids or names) and ``ou_id``."""
    raw = _json(account.get("ou_path"))
    if isinstance(raw, list):
        return [str(x) for x in raw if str(x) != account.get("account_id")]
    if not raw:
        return [account["ou_id"]] if account.get("ou_id") else []
    parts = [p for p in str(raw).replace(",", "/").split("/") if p]
    if all(p.startswith(("r-", "ou-")) for p in parts):
        return parts
    ids = []
    for i in range(len(parts)):
        prefix = "/".join(parts[: i + 1])
        if prefix in ou_ids:
            ids.append(ou_ids[prefix])
    if account.get("ou_id") and account["ou_id"] not in ids:
        ids.append(account["ou_id"])
    return ids


def _trust_policies(
    rows: list[dict[str, Any]], errors: list[str], memo: dict[tuple, tuple[Any, Policy]]
) -> dict[str, Policy]:
    """Rebuild each role's trust policy from the one-row-per-principal ``trusts`` frame."""
    grouped: dict[str, dict[tuple, dict[str, Any]]] = {}
    for r in rows:
        role = r.get("role_arn")
        if not role:
            continue
        actions = _json(r.get("actions")) or ["sts:AssumeRole"]
        conds = _json(r.get("conditions"))
        key = (
            r.get("sid") or "",
            r.get("effect") or "Allow",
            json.dumps(actions, sort_keys=True),
            json.dumps(conds, sort_keys=True, default=str),
        )
        st = grouped.setdefault(role, {}).setdefault(key, {"Effect": key[1], "Action": actions})
        if key[0]:
            st["Sid"] = key[0]
        if conds:
            st["Condition"] = conds
        ptype = str(r.get("principal_type") or "AWS")
        element = "Principal"
        if ptype.startswith("Not"):
            element, ptype = "NotPrincipal", ptype[3:]
        st.setdefault(element, {}).setdefault(ptype, []).append(r.get("principal"))
    out = {}
    for role, sts in grouped.items():
        pol = _safe_parse(
            {"Version": "2012-10-17", "Statement": list(sts.values())}, "trust", f"trust:{role}", errors, memo
        )
        if pol is not None:
            out[role] = pol
    return out


# ---- requests per principal -----------------------------------------------------------------------------------
def request_for(
    pm: PrincipalModel,
    m: Model,
    action: str,
    resource: str = "*",
    resource_account: str | None = None,
    context: Mapping[str, Any] | None = None,
    *,
    scope: str = "any",
) -> dict[str, Any]:
    """The request the engine gets for ``pm`` (session ARN for a role, tags, org id, SCP exemptions…).

    ``scope``: for a resource pattern (``*``), "any" asks "on some resource?", "all" "on every resource?"."""
    req: dict[str, Any] = {
        "principal": pm.request_principal,
        "action": action,
        "resource": resource,
        "principal_tags": pm.tags,
        "service_linked": pm.service_linked,
        "management_account": pm.account_id in m.management,
    }
    if scope != "any":
        req["resource_scope"] = scope
    if pm.role_arn:
        req["role_arn"] = pm.role_arn
    if pm.principal_id:
        req["principal_id"] = pm.principal_id
    if resource_account:
        req["resource_account"] = resource_account
    if pm.account_id in m.org_of:
        req["principal_org_id"] = m.org_of[pm.account_id]
    if context:
        req["context"] = dict(context)
    return req


def resource_side(m: Model, action: str, resource: str) -> tuple[Policy | None, str | None]:
    """The resource's policy (trust policy for sts:AssumeRole on a role) and the account owning it."""
    low = action.lower()
    if low.startswith("sts:") and ":role/" in resource:
        return m.trusts.get(resource), arns.account_of(resource)
    hit = m.resource_policies.get(resource)
    if hit is None and resource.startswith("arn:aws:s3:::") and "/" in resource:
        hit = m.resource_policies.get(resource.split("/", 1)[0])
    if hit is not None:
        return hit[1], hit[0] or None
    return None, None


def decide(
    inv: Any,
    principal_arn: str,
    action: str,
    resource: str = "*",
    *,
    context: Mapping[str, Any] | None = None,
    mode: str = "strict",
    explain: bool | str = True,
    scope: str = "any",
) -> Decision:
    """Evaluate one request of an inventory principal with everything that applies to it (``scope``: see
    :func:`request_for`)."""
    m = model(inv)
    pm = m.by_arn.get(principal_arn)
    if pm is None:
        raise BadInput(f"principal {principal_arn} is not in the inventory (users, roles and root only)")
    return decide_for(m, pm, action, resource, context, mode, explain, scope=scope)


def decide_for(
    m: Model,
    pm: PrincipalModel,
    action: str,
    resource: str = "*",
    context: Mapping[str, Any] | None = None,
    mode: str = "strict",
    explain: bool | str = False,
    *,
    scope: str = "any",
    now: Any = None,
) -> Decision:
    """:func:`decide` for a principal of an already built :class:`Model` (the fast form for many questions):
    its identity policies and boundary, the account's SCPs, the resource's policy (a role's trust for
    ``sts:*``) and RCPs."""
    res_pol, res_acct = resource_side(m, action, resource)
    rcps = m.rcps.get(res_acct or pm.account_id)
    return evaluate(
        request_for(pm, m, action, resource, res_acct, context, scope=scope),
        pm.identity,
        res_pol,
        pm.boundaries or None,
        m.scps.get(pm.account_id),
        rcps,
        mode=mode,
        explain=explain,
        now=now,
    )


# ---- administrator-equivalent: the one definition --------------------------------------------------------------
ADMIN_PROBES = (
    "iam:PutRolePolicy",
    "iam:AttachUserPolicy",
    "iam:CreateAccessKey",
    "sts:AssumeRole",
    "s3:GetObject",
    "s3:PutBucketPolicy",
    "ec2:RunInstances",
    "lambda:CreateFunction",
    "secretsmanager:GetSecretValue",
    "organizations:DescribeOrganization",
    "dynamodb:DeleteTable",
    "rds:DeleteDBInstance",
    "sns:Publish",
)
"""A principal the engine allows every one of these on every resource holds AdministratorAccess in effect.
(kms:Decrypt needs the key policy too, and guardrail SCPs such as "never stop CloudTrail" are common on real
administrators, so neither is a probe.)"""


def admin_equivalent(allowed: Any) -> bool:
    """Whether ``allowed(action) -> bool`` (asked on every resource) holds for every :data:`ADMIN_PROBES` action."""
    return all(allowed(a) for a in ADMIN_PROBES)


def is_admin(inventory: Any, principal_arn: str) -> bool:
    """Whether an inventory principal is administrator-equivalent: every probe allowed on every resource, with
    SCPs, boundaries and denies applied."""
    m = model(inventory)
    pm = m.by_arn.get(principal_arn)
    if pm is None:
        raise BadInput(f"principal {principal_arn} is not in the inventory (users, roles and root only)")
    return admin_equivalent(lambda a: decide_for(m, pm, a, "*", scope="all").result == ALLOWED)


def who_can(
    action: str,
    resource: str = "*",
    inventory: Any = None,
    *,
    context: Mapping[str, Any] | None = None,
    mode: str = "discovery",
    include_denied: bool = False,
    include_anonymous: bool = True,
):
    """Principals of the inventory allowed ``action`` on ``resource`` (Conditional rows in discovery mode).

    Only candidates are evaluated: principals with an identity Allow covering the action, or named (directly,
    by role, by account, or as ``*``) in the resource's policy. When the resource has a policy, an
    unauthenticated caller is evaluated too (row ``principal_arn="anonymous"``): the "is it public?" question.
    """
    import pandas as pd

    from iamkit.frames import conform

    if inventory is None:
        raise BadInput("who_can needs an inventory")
    _check_mode(mode)
    m = model(inventory)
    action_low = action.lower()
    res_pol, res_acct = resource_side(m, action, resource)
    allow_pols: dict[int, bool] = {}

    def grants(pol: Policy) -> bool:
        hit = allow_pols.get(id(pol))
        if hit is None:
            hit = any(s.effect == "Allow" for s in pol.relevant(action_low))
            allow_pols[id(pol)] = hit
        return hit

    named: list[tuple[str, str]] = []
    if res_pol is not None:
        for st in res_pol.relevant(action_low):
            if st.effect == "Allow":
                named.extend((e.kind, e.value) for e in (st.principals or ()))
                if st.not_principals is not None:
                    named.append(("*", "*"))
    rows = []
    if include_anonymous and res_pol is not None:  # "is it public?": an unauthenticated caller
        req: dict[str, Any] = {"principal": None, "action": action, "resource": resource}
        if res_acct:
            req["resource_account"] = res_acct
        if context:
            req["context"] = dict(context)
        d = evaluate(req, None, res_pol, rcps=m.rcps.get(res_acct or ""), mode=mode, explain=False)
        if d.result in (ALLOWED, CONDITIONAL) or include_denied:
            rows.append(
                {
                    "principal_arn": "anonymous",
                    "principal_type": "anonymous",
                    "account_id": None,
                    "result": d.result,
                    "blocked_by": d.blocked_by,
                    "unknown_keys": d.unknown_keys,
                    "via": "resource",
                }
            )
    for pm in m.principals if include_denied else _candidates(m, named, grants):
        d = decide_for(m, pm, action, resource, context, mode, False)
        if d.result in (ALLOWED, CONDITIONAL) or include_denied:
            rows.append(
                {
                    "principal_arn": pm.arn,
                    "principal_type": pm.principal_type,
                    "account_id": pm.account_id,
                    "result": d.result,
                    "blocked_by": d.blocked_by,
                    "unknown_keys": d.unknown_keys,
                    "via": _via(pm, grants),
                }
            )
    return conform(pd.DataFrame(rows) if rows else [], "who_can")


def _check_mode(mode: str) -> None:
    if mode not in ("strict", "discovery"):
        raise BadInput(f"unknown evaluation mode {mode!r} (strict or discovery)")


def _candidates(m: Model, named: list[tuple[str, str]], grants) -> Iterable[PrincipalModel]:
    everyone = any(v == "*" for _k, v in named)
    for pm in m.principals:
        if everyone or any(grants(p) for p in pm.identity):
            yield pm
            continue
        caller = parse_caller(pm.request_principal, "", pm.role_arn)
        if any(caller.match(k, v) for k, v in named):
            yield pm


def _via(pm: PrincipalModel, grants) -> str:
    return "identity" if any(grants(p) for p in pm.identity) else "resource"


def _statement_grants(pols: Iterable[Policy]) -> list[tuple[str, str]]:
    """(action, resource pattern) pairs an identity policy set allows, actions expanded with the catalogue
    (cached per policy set: principals sharing managed policies expand them once)."""
    return list(_grants_of(tuple(pols)))


@lru_cache(maxsize=1024)
def _grants_of(pols: tuple[Policy, ...]) -> tuple[tuple[str, str], ...]:
    from iamkit.policy.catalog import catalog

    cat = catalog()
    pairs: dict[tuple[str, str], None] = {}
    for pol in pols:
        for st in pol.statements:
            if st.effect != "Allow":
                continue
            if st.actions is not None:
                acts: list[str] = []
                for a in st.actions:
                    acts.extend(cat.expand(a))
            else:
                acts = list(cat.complement(st.not_actions or ()))
            resources = st.resources if st.resources is not None else ("*",)
            for a in acts:
                for r in resources:
                    pairs[(a, r)] = None
    return tuple(pairs)


def what_can(
    principal_arn: str,
    inventory: Any = None,
    *,
    services: Iterable[str] | None = None,
    context: Mapping[str, Any] | None = None,
    mode: str = "discovery",
    include_denied: bool = False,
):
    """Every action (expanded, with access level) the principal's identity policies grant and the engine allows,
    with SCPs, boundaries and denies applied; one row per (action, resource pattern)."""
    import pandas as pd

    from iamkit.frames import conform
    from iamkit.policy.catalog import catalog

    if inventory is None:
        raise BadInput("what_can needs an inventory")
    _check_mode(mode)
    m = model(inventory)
    pm = m.by_arn.get(principal_arn)
    if pm is None:
        raise BadInput(f"principal {principal_arn} is not in the inventory (users, roles and root only)")
    wanted = {s.lower() for s in services} if services else None
    cat = catalog()
    rows = []
    pairs = _statement_grants(pm.identity)
    # resource policies that name this principal grant too (same or cross account)
    caller = parse_caller(pm.request_principal, "", pm.role_arn)
    for arn, (_acct, pol) in m.resource_policies.items():
        for st in pol.statements:
            if (
                st.effect == "Allow"
                and st.principals
                and any(caller.match(e.kind, e.value) in ("direct", "role") for e in st.principals)
            ):
                targets = [arn if r == "*" else r for r in (st.resources or ("*",))]
                for a in st.actions or ():
                    pairs.extend((x, t) for x in cat.expand(a) for t in targets)
    seen: set[tuple[str, str]] = set()
    for action, resource in pairs:
        if (action, resource) in seen or (wanted and action.split(":")[0].lower() not in wanted):
            continue
        seen.add((action, resource))
        d = decide_for(m, pm, action, resource, context, mode, False)
        if d.result in (ALLOWED, CONDITIONAL) or include_denied:
            info = cat.action(action)
            rows.append(
                {
                    "principal_arn": pm.arn,
                    "action": action,
                    "access_level": info.access_level if info else "",
                    "resource": resource,
                    "result": d.result,
                    "blocked_by": d.blocked_by,
                    "unknown_keys": d.unknown_keys,
                }
            )
    return conform(pd.DataFrame(rows) if rows else [], "what_can")


def effective_permissions(
    inventory: Any,
    principals: Iterable[str] | None = None,
    *,
    services: Iterable[str] | None = None,
    mode: str = "discovery",
):
    """what_can for many principals (all users and roles by default), concatenated."""
    import pandas as pd

    from iamkit.frames import conform

    m = model(inventory)
    arns = list(principals) if principals is not None else [p.arn for p in m.principals]
    frames = [what_can(a, inventory, services=services, mode=mode) for a in arns]
    frames = [f for f in frames if len(f)]
    return conform(pd.concat(frames, ignore_index=True) if frames else [], "what_can")
