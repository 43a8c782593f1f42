"""Build the privilege-escalation graph: nodes are users and roles plus one ``admin:<account>`` sink per account;
an edge says "the source can become (or make itself) the target" by one catalogue method.

Edges are found by indexing who holds each permission (principals grouped by identical policy sets, so the
index costs one check per distinct policy set) and then confirmed with the policy engine on the exact
resource: the PassRole resource with ``iam:PassedToService``, the target's trust (for services and for
``sts:AssumeRole``, across accounts too), denies, boundaries and SCPs. Principals already administrator (or
able to make themselves so) get no same-account edges: from the sink they control the whole account anyway.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from iamkit.assess.context import Context, as_json
from iamkit.assess.privesc.catalog import Method, load
from iamkit.frames import register
from iamkit.policy.engine import ALLOWED, evaluate

register("privesc_edges", {"source": "string", "target": "string", "method": "string", "kind": "string",
                           "account_id": "string", "via": "string", "evidence": "string"},
         "Privilege-escalation edges: source can become target (an admin:<account> sink = administrator of it).")

ASSUME = "sts-assume-role"
IS_ADMIN = "is-admin"


def admin_node(account: str) -> str:
    """The sink standing for 'administrator of ``account``'."""
    return f"admin:{account}"


@dataclass
class EscalationGraph:
    """The graph (networkx ``DiGraph``), its edge rows, and the context it was decided in."""

    graph: Any
    edges: list[dict[str, Any]]
    ctx: Context
    escalated: set[str] = field(default_factory=set)

    def edge_frame(self):
        """The edges as a ``privesc_edges`` frame."""
        from iamkit.frames import conform, empty

        return conform(self.edges, "privesc_edges") if self.edges else empty("privesc_edges")


class _Builder:
    def __init__(self, ctx: Context, methods: Iterable[Method]):
        self.ctx = ctx
        self.methods = list(methods)
        self.m = ctx.model
        self.principals = ctx.iam_principals
        self.by_account: dict[str, list[Any]] = defaultdict(list)
        for pm in self.principals:
            self.by_account[pm.account_id].append(pm)
        self.groups: dict[tuple, list[Any]] = defaultdict(list)
        for pm in self.principals:
            self.groups[tuple(id(p) for p in pm.identity)].append(pm)
        self._holders: dict[str, set[str]] = {}
        self.edges: list[dict[str, Any]] = []
        self.seen: set[tuple[str, str, str]] = set()
        self._trusted: dict[tuple[str, str], bool] = {}
        self._policy_rows = ctx.rows("policies")

    # ---- indexes
    def holders(self, action: str) -> set[str]:
        """ARNs of principals with an identity Allow statement covering ``action`` (one check per policy set)."""
        hit = self._holders.get(action)
        if hit is None:
            hit = set()
            for members in self.groups.values():
                if self.ctx.holds(members[0], action):
                    hit.update(pm.arn for pm in members)
            self._holders[action] = hit
        return hit

    def holders_all(self, actions: Iterable[str]) -> list[Any]:
        sets = [self.holders(a) for a in actions]
        common = set.intersection(*sets) if sets else set()
        return [self.m.by_arn[a] for a in sorted(common)]

    def add(self, source: str, target: str, method: str, kind: str, account: str, via: str = "",
            **evidence: Any) -> None:
        key = (source, target, method)
        if source == target or key in self.seen:
            return
        self.seen.add(key)
        self.edges.append({"source": source, "target": target, "method": method, "kind": kind,
                           "account_id": account, "via": via, "evidence": json.dumps(evidence, default=str)})

    @staticmethod
    def _vals(v: Any) -> list[Any]:
        v = as_json(v)
        if v is None:
            return []
        return list(v) if isinstance(v, (list, tuple)) else [v]

    def managed_attached(self) -> dict[str, list[str]]:
        """target ARN (user/role/group) -> customer-managed policy ARNs attached to it."""
        out: dict[str, list[str]] = defaultdict(list)
        for r in self._policy_rows:
            if r.get("policy_type") == "managed" and r.get("attached_to_arn") and r.get("policy_arn"):
                if r["policy_arn"] not in out[r["attached_to_arn"]]:
                    out[r["attached_to_arn"]].append(r["policy_arn"])
        return out

    def versions(self) -> dict[str, int]:
        counts: dict[str, set[str]] = defaultdict(set)
        for r in self._policy_rows:
            if r.get("policy_arn") and r.get("version_id"):
                counts[r["policy_arn"]].add(r["version_id"])
        return {k: len(v) for k, v in counts.items()}

    def user_groups(self, pm: Any) -> list[str]:
        row = self.ctx.principal_rows.get(pm.arn) or {}
        out = []
        for g in self._vals(row.get("groups")):
            g = str(g)
            out.append(g if g.startswith("arn:") else self.group_arn.get((pm.account_id, g), ""))
        return [g for g in out if g]

    @property
    def group_arn(self) -> dict[tuple[str, str], str]:
        if not hasattr(self, "_group_arn"):
            self._group_arn = {(r.get("account_id"), r.get("name")): a for a, r in self.ctx.principal_rows.items()
                               if r.get("principal_type") == "group"}
        return self._group_arn

    def admin_groups(self) -> dict[str, list[str]]:
        """account -> groups whose policies alone make a member administrator (decided by the engine)."""
        from iamkit.assess.context import ADMIN_PROBES

        out: dict[str, list[str]] = defaultdict(list)
        pol_of = _group_policies(self.m, self._policy_rows)
        for (acct, name), garn in self.group_arn.items():
            pols = pol_of.get(garn, [])
            if not pols:
                continue
            probe = f"arn:aws:iam::{acct}:user/iamkit-group-probe"
            scps = self.m.scps.get(acct)
            if all(evaluate({"principal": probe, "action": a, "resource": "*"}, pols, None, None, scps,
                            explain=False).result == ALLOWED for a in ADMIN_PROBES):
                out[acct].append(garn)
        return out

    def trusts_service(self, role_arn: str, service: str) -> bool:
        """The role's trust lets ``service`` assume it (engine, service caller)."""
        key = (role_arn, service)
        hit = self._trusted.get(key)
        if hit is None:
            trust = self.m.trusts.get(role_arn)
            hit = trust is not None and evaluate(
                {"principal": service, "principal_type": "service", "action": "sts:AssumeRole",
                 "resource": role_arn, "context": {"aws:sourceaccount": role_arn.split(":")[4]}},
                None, trust, explain=False).result == ALLOWED
            self._trusted[key] = hit
        return hit

    def service_roles(self) -> dict[str, list[str]]:
        """service principal -> roles whose trust names it (confirmed later with the engine)."""
        out: dict[str, list[str]] = defaultdict(list)
        for role, pol in self.m.trusts.items():
            for st in pol.statements:
                if st.effect == "Allow":
                    for e in st.principals or ():
                        if e.kind == "Service" and role not in out[e.value.lower()]:
                            out[e.value.lower()].append(role)
        return out

    # ---- edges
    def build(self) -> set[str]:
        ctx = self.ctx
        for arn in sorted(ctx.admins):
            pm = self.m.by_arn[arn]
            self.add(arn, admin_node(pm.account_id), IS_ADMIN, "admin", pm.account_id)
        escalated = set(ctx.admins)
        by_kind: dict[str, list[Method]] = defaultdict(list)
        for meth in self.methods:
            by_kind[meth.kind].append(meth)
        escalated |= self._self(by_kind["self"], escalated)
        self._assume(by_kind["principal"])  # before modify_other, which needs who can assume what
        self._principal(by_kind["principal"], escalated)
        self._modify_other(by_kind["modify_other"], escalated)
        services = self.service_roles()
        self._passrole(by_kind["passrole"], escalated, services)
        self._existing(by_kind["existing"], escalated, services)
        return escalated

    def _self(self, methods: list[Method], skip: set[str]) -> set[str]:
        ctx = self.ctx
        attached = self.managed_attached()
        versions = self.versions()
        admin_groups = self.admin_groups() if any(m.on == "admin_groups" for m in methods) else {}
        out: set[str] = set()
        for meth in methods:
            for pm in self.holders_all(meth.actions):
                if pm.arn in skip or pm.principal_type not in meth.principal_types:
                    continue
                if meth.on == "self":
                    targets = [pm.arn]
                elif meth.on in ("own_policies", "own_policies_with_versions"):
                    targets = list(attached.get(pm.arn, []))
                    for g in self.user_groups(pm) if pm.principal_type == "user" else []:
                        targets += attached.get(g, [])
                    if meth.on == "own_policies_with_versions":
                        targets = [t for t in targets if versions.get(t, 0) > 1]
                elif meth.on == "own_groups":
                    targets = self.user_groups(pm)
                else:  # admin_groups
                    targets = admin_groups.get(pm.account_id, [])
                for t in targets:
                    if all(ctx.allowed(pm, a, t) for a in meth.actions):
                        self.add(pm.arn, admin_node(pm.account_id), meth.id, meth.kind, pm.account_id, via=t,
                                 actions=list(meth.actions), resource=t)
                        out.add(pm.arn)
                        break
        return out

    def _assume(self, methods: list[Method]) -> None:
        self.assume_pairs: list[tuple[str, str]] = []
        wanted = any(m.id == ASSUME for m in methods)
        if not wanted and not any(m.reach == "assume" for m in self.methods):
            return
        ctx = self.ctx
        holders = self.holders("sts:AssumeRole")
        holders_in: dict[str, list[str]] = defaultdict(list)
        for arn in sorted(holders):
            holders_in[self.m.by_arn[arn].account_id].append(arn)
        for role, pol in self.m.trusts.items():
            if role not in self.m.by_arn:
                continue
            cands: set[str] = set()
            for st in pol.statements:
                if st.effect != "Allow":
                    continue
                if st.not_principals is not None:
                    cands |= holders
                for e in st.principals or ():
                    if e.kind not in ("AWS", "*"):
                        continue
                    if e.value == "*":
                        cands |= holders
                    elif e.value.endswith(":root"):
                        cands.update(holders_in.get(e.value.split(":")[4], ()))
                    elif e.value in self.m.by_arn:
                        cands.add(e.value)
                    elif ":role/" in e.value:  # a role ARN with another path spelling
                        name = e.value.rsplit("/", 1)[-1]
                        acct = e.value.split(":")[4]
                        cands.update(p.arn for p in self.by_account.get(acct, ()) if p.principal_type == "role"
                                     and p.arn.rsplit("/", 1)[-1] == name)
            for arn in sorted(cands):
                if arn != role and ctx.allowed(self.m.by_arn[arn], "sts:AssumeRole", role):
                    self.assume_pairs.append((arn, role))
                    if wanted:
                        self.add(arn, role, ASSUME, "principal", role.split(":")[4], via=role,
                                 actions=["sts:AssumeRole"])

    def _targets(self, pm: Any, kind: str) -> list[Any]:
        return [t for t in self.by_account.get(pm.account_id, ()) if t.principal_type == kind and t.arn != pm.arn]

    def _principal(self, methods: list[Method], skip: set[str]) -> None:
        for meth in methods:
            if meth.id == ASSUME:
                continue
            for pm in self.holders_all(meth.actions):
                if pm.arn in skip:
                    continue
                for t in self._targets(pm, meth.target or "user"):
                    if all(self.ctx.allowed(pm, a, t.arn) for a in meth.actions):
                        self.add(pm.arn, t.arn, meth.id, meth.kind, pm.account_id, via=t.arn,
                                 actions=list(meth.actions))

    def _modify_other(self, methods: list[Method], skip: set[str]) -> None:
        ctx = self.ctx
        attached = self.managed_attached()
        assumes: dict[str, list[str]] = defaultdict(list)
        for source, role in getattr(self, "assume_pairs", []):
            assumes[source].append(role)
        reach_action = {"update_trust": "iam:UpdateAssumeRolePolicy", "create_access_key": "iam:CreateAccessKey"}
        for meth in methods:
            need = list(meth.actions) + ([reach_action[meth.reach]] if meth.reach in reach_action else [])
            for pm in self.holders_all(need):
                if pm.arn in skip:
                    continue
                if meth.reach == "assume":
                    targets = [self.m.by_arn[a] for a in assumes.get(pm.arn, ()) if a in self.m.by_arn
                               and self.m.by_arn[a].account_id == pm.account_id]
                else:
                    targets = self._targets(pm, meth.target or "role")
                for t in targets:
                    resources = attached.get(t.arn, []) if meth.on == "target_policies" else [t.arn]
                    if not any(all(ctx.allowed(pm, a, r) for a in meth.actions) for r in resources):
                        continue
                    if meth.reach in reach_action and not ctx.allowed(pm, reach_action[meth.reach], t.arn):
                        continue
                    self.add(pm.arn, admin_node(pm.account_id), meth.id, meth.kind, pm.account_id, via=t.arn,
                             actions=need)
                    break

    def _passrole(self, methods: list[Method], skip: set[str], services: dict[str, list[str]]) -> None:
        ctx = self.ctx
        for meth in methods:
            svc = meth.service or ""
            compute = [a for a in meth.actions if a.lower() != "iam:passrole"]
            for pm in self.holders_all(meth.actions):
                if pm.arn in skip or not all(ctx.allowed(pm, a) for a in compute):
                    continue
                for role in services.get(svc, ()):
                    if role.split(":")[4] != pm.account_id or role == pm.arn or not self.trusts_service(role, svc):
                        continue
                    if ctx.decide(pm, "iam:PassRole", role, {"iam:PassedToService": svc}) == ALLOWED:
                        self.add(pm.arn, role, meth.id, meth.kind, pm.account_id, via=svc,
                                 actions=list(meth.actions), service=svc)

    def functions(self) -> dict[str, list[tuple[str, str]]]:
        """account -> (function ARN, execution role ARN) for the functions the inventory knows."""
        out: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for r in self.ctx.rows("resource_policies"):
            extra = as_json(r.get("extra")) or {}
            if r.get("service") == "lambda" and isinstance(extra, dict) and extra.get("role"):
                out[r.get("account_id") or ""].append((r["resource_arn"], extra["role"]))
        return out

    def _existing(self, methods: list[Method], skip: set[str], services: dict[str, list[str]]) -> None:
        ctx = self.ctx
        functions = self.functions()
        for meth in methods:
            svc = meth.service or ""
            for pm in self.holders_all(meth.actions):
                if pm.arn in skip:
                    continue
                if svc == "lambda.amazonaws.com" and functions.get(pm.account_id):
                    # the inventory knows the account's functions and their roles: check each one exactly
                    for fn, role in functions[pm.account_id]:
                        if role != pm.arn and all(ctx.allowed(pm, a, fn) for a in meth.actions):
                            self.add(pm.arn, role, meth.id, meth.kind, pm.account_id, via=fn,
                                     actions=list(meth.actions), resource=fn)
                    continue
                probe = _probe(meth.resource or "*", pm.account_id)
                if not all(ctx.allowed(pm, a, probe) for a in meth.actions):
                    continue
                for role in services.get(svc, ()):
                    if role.split(":")[4] == pm.account_id and role != pm.arn and self.trusts_service(role, svc):
                        self.add(pm.arn, role, meth.id, meth.kind, pm.account_id, via=svc,
                                 actions=list(meth.actions), resource=probe)


def _probe(pattern: str, account: str) -> str:
    """A concrete resource of the method's kind in ``account`` that only a broad grant covers."""
    out = pattern.replace("{account}", account).replace(":*:", ":us-east-1:", 1)
    return out[:-1] + "iamkit-probe" if out.endswith("*") else out


def _group_policies(m: Any, rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """group ARN -> parsed identity policies attached to it (from the engine's model)."""
    from iamkit.policy.document import parse

    out: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        if r.get("attached_to_type") == "group" and r.get("is_default") is not False and r.get("document"):
            try:
                out[r["attached_to_arn"]].append(parse(as_json(r["document"]), "identity",
                                                       r.get("policy_arn") or r.get("policy_name") or "group"))
            except Exception:  # noqa: BLE001 - a broken document is listed by the inventory, not here
                continue
    return out


def build_graph(inventory: Any, *, methods: Iterable[Method] | None = None, ctx: Context | None = None
                ) -> EscalationGraph:
    """The escalation graph of an inventory (``ctx`` reuses an assessment's engine model and caches)."""
    import networkx as nx

    ctx = ctx or Context(inventory)
    b = _Builder(ctx, methods if methods is not None else load())
    escalated = b.build()
    g = nx.DiGraph()
    for pm in ctx.iam_principals:
        g.add_node(pm.arn, kind=pm.principal_type, account_id=pm.account_id, admin=pm.arn in ctx.admins)
    for e in b.edges:
        if e["target"].startswith("admin:"):
            g.add_node(e["target"], kind="admin", account_id=e["account_id"], admin=True)
        if g.has_edge(e["source"], e["target"]):
            g[e["source"]][e["target"]]["methods"].append(e["method"])
        else:
            g.add_edge(e["source"], e["target"], methods=[e["method"]], kind=e["kind"])
    return EscalationGraph(g, b.edges, ctx, escalated)
