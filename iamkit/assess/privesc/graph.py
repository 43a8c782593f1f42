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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from iamkit import arn as arns
from iamkit.assess.context import Context, as_json
from iamkit.assess.privesc.catalog import Method, load
from iamkit.frames import register
from iamkit.policy.engine import ALLOWED, evaluate

register(
    "privesc_edges",
    {
        "source": "string",
        "target": "string",
        "method": "string",
        "kind": "string",
        "account_id": "string",
        "via": "string",
        "evidence": "string",
    },
    "Privilege-escalation edges: source can become target (an admin:<account> sink = administrator of it).",
)

ASSUME = "sts-assume-role"
IS_ADMIN = "is-admin"


ANY = "any-target"


def admin_node(account: str) -> str:
    """The sink standing for 'administrator of ``account``'."""
    return f"admin:{account}"


def any_node(what: str, account: str) -> str:
    """A node standing for 'every <what> of ``account``' (users, roles, roles a service may assume): a principal
    allowed a method on all of them gets one edge to it instead of one per target, which keeps the graph
    linear in the number of principals."""
    return f"any:{what}:{account}"


@dataclass
class EscalationGraph:
    """The graph (nodes with attributes, links in insertion order; ``graph`` is the networkx ``DiGraph``, built on
    first use so assessing does not pay for importing networkx), its edge rows, and the context it was decided in."""

    nodes: dict[str, dict[str, Any]]
    links: dict[tuple[str, str], dict[str, Any]]
    edges: list[dict[str, Any]]
    ctx: Context
    escalated: set[str] = field(default_factory=set)
    _nx: Any = field(default=None, repr=False)
    _pred: dict[str, list[str]] | None = field(default=None, repr=False)

    @property
    def graph(self) -> Any:
        """The networkx ``DiGraph`` (node attributes kind/account_id/admin, edge attributes methods/kind)."""
        if self._nx is None:
            import networkx as nx

            g = nx.DiGraph()
            for n, d in self.nodes.items():
                g.add_node(n, **d)
            for (u, v), d in self.links.items():
                g.add_edge(u, v, methods=list(d["methods"]), kind=d["kind"])
            self._nx = g
        return self._nx

    def predecessors(self, node: str) -> list[str]:
        """Sources of the links into ``node``, in insertion order (as ``DiGraph.predecessors``)."""
        if self._pred is None:
            self._pred = defaultdict(list)
            for u, v in self.links:
                self._pred[v].append(u)
        return self._pred.get(node, [])

    def methods(self, source: str, target: str) -> list[str]:
        """The methods of the link ``source -> target``."""
        return self.links[(source, target)]["methods"]

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
        self._iam = {pm.arn for pm in self.principals}
        self._holders: dict[str, set[str]] = {}
        self.edges: list[dict[str, Any]] = []
        self.seen: set[tuple[str, str, str]] = set()
        self._trusted: dict[tuple[str, str], bool] = {}
        self._policy_rows = ctx.rows("policies")
        self.grouped: set[str] = set()
        self._by_kind: dict[tuple[str, str], list[Any]] = {}
        self._indexed: dict[int, tuple[list[Any], dict[str, Any], list[str]]] = {}
        self._pattern_hits: dict[tuple, list[str]] = {}
        self._sorted: dict[tuple, tuple[list[str], list[int], list[str]]] = {}
        self._svc_roles: dict[tuple[str, str], list[str]] = {}

    # ---- indexes
    def holders(self, action: str) -> set[str]:
        """ARNs of users and roles with an identity Allow statement covering ``action`` (the context's index: one
        check per distinct policy, not per principal)."""
        hit = self._holders.get(action)
        if hit is None:
            hit = self._holders[action] = {a for a in self.ctx.holder_arns(action) if a in self._iam}
        return hit

    def holders_all(self, actions: Iterable[str]) -> list[Any]:
        sets = [self.holders(a) for a in actions]
        common = set.intersection(*sets) if sets else set()
        return [self.m.by_arn[a] for a in sorted(common)]

    def add(
        self, source: str, target: str, method: str, kind: str, account: str, via: str = "", **evidence: Any
    ) -> None:
        key = (source, target, method)
        if source == target or key in self.seen:
            return
        self.seen.add(key)
        conds: dict[str, Any] = {}
        for a in evidence.get("actions") or ():  # conditions the attacker satisfies to use this method
            conds.update(self.ctx.conditions.get((source, a.lower()), {}))
        if conds:
            evidence["conditions"] = conds
        self.edges.append(
            {
                "source": source,
                "target": target,
                "method": method,
                "kind": kind,
                "account_id": account,
                "via": via,
                "evidence": json.dumps(evidence, default=str),
            }
        )

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
            self._group_arn = {
                (r.get("account_id"), r.get("name")): a
                for a, r in self.ctx.principal_rows.items()
                if r.get("principal_type") == "group"
            }
        return self._group_arn

    def admin_groups(self) -> dict[str, list[str]]:
        """account -> groups whose policies alone make a member administrator (decided by the engine)."""
        from iamkit.policy.query import admin_equivalent

        out: dict[str, list[str]] = defaultdict(list)
        pol_of = _group_policies(self.m, self._policy_rows)
        for (acct, _name), garn in self.group_arn.items():
            pols = pol_of.get(garn, [])
            if not pols:
                continue
            probe = f"arn:aws:iam::{acct}:user/iamkit-group-probe"
            scps = self.m.scps.get(acct)
            if admin_equivalent(
                lambda a, pols=pols, probe=probe, scps=scps: (
                    evaluate(
                        {"principal": probe, "action": a, "resource": "*", "resource_scope": "all"},
                        pols,
                        None,
                        None,
                        scps,
                        explain=False,
                    ).result
                    == ALLOWED
                )
            ):
                out[acct].append(garn)
        return out

    def trusts_service(self, role_arn: str, service: str) -> bool:
        """The role's trust lets ``service`` assume it (engine, service caller)."""
        key = (role_arn, service)
        hit = self._trusted.get(key)
        if hit is None:
            trust = self.m.trusts.get(role_arn)
            hit = (
                trust is not None
                and evaluate(
                    {
                        "principal": service,
                        "principal_type": "service",
                        "action": "sts:AssumeRole",
                        "resource": role_arn,
                        "context": {"aws:sourceaccount": arns.account_of(role_arn) or ""},
                    },
                    None,
                    trust,
                    explain=False,
                ).result
                == ALLOWED
            )
            self._trusted[key] = hit
        return hit

    def _service_roles_in(self, services: dict[str, list[str]], svc: str, account: str) -> list[str]:
        """Roles of ``account`` whose trust lets ``svc`` assume them (engine-confirmed), cached per account."""
        key = (svc, account)
        hit = self._svc_roles.get(key)
        if hit is None:
            hit = [r for r in services.get(svc, ()) if arns.account_of(r) == account and self.trusts_service(r, svc)]
            self._svc_roles[key] = hit
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
        escalated |= self._join_admin_group([m for m in by_kind["self"] if m.on == "admin_groups"], escalated)
        self._modify_other(by_kind["modify_other"], escalated)
        services = self.service_roles()
        self._passrole(by_kind["passrole"], escalated, services)
        self._existing(by_kind["existing"], escalated, services)
        return escalated

    def _self(self, methods: list[Method], skip: set[str]) -> set[str]:
        ctx = self.ctx
        attached = self.managed_attached()
        versions = self.versions()
        out: set[str] = set()
        for meth in methods:
            if meth.on == "admin_groups":  # needs the takeover edges: see _join_admin_group
                continue
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
                else:  # own_groups
                    targets = self.user_groups(pm)
                for t in targets:
                    if all(ctx.allowed(pm, a, t) for a in meth.actions):
                        self.add(
                            pm.arn,
                            admin_node(pm.account_id),
                            meth.id,
                            meth.kind,
                            pm.account_id,
                            via=t,
                            actions=list(meth.actions),
                            resource=t,
                        )
                        out.add(pm.arn)
                        break
        return out

    def _controlled_users(self, pm: Any) -> list[str]:
        """Users ``pm`` controls: itself if a user, and every user it can take over (an edge to it, directly or
        through an ``any:`` node)."""
        out = [pm.arn] if pm.principal_type == "user" else []
        members: dict[str, list[str]] = {}
        for e in self.edges:
            if e["method"] == ANY:
                members.setdefault(e["source"], []).append(e["target"])
        for e in self.edges:
            if e["source"] != pm.arn or e["method"] in (ANY, IS_ADMIN):
                continue
            for t in members.get(e["target"], [e["target"]]):
                if ":user/" in t and t not in out:
                    out.append(t)
        return out

    def _join_admin_group(self, methods: list[Method], skip: set[str]) -> set[str]:
        """Adding oneself, or a user one controls, to a group whose permissions are administrator-equivalent is
        administrator in one hop (the group's policies decided by the engine, the membership change too)."""
        if not methods:
            return set()
        ctx = self.ctx
        admin_groups = self.admin_groups()
        out: set[str] = set()
        for meth in methods:
            for pm in self.holders_all(meth.actions):
                if pm.arn in skip or pm.principal_type not in meth.principal_types:
                    continue
                groups = [
                    g for g in admin_groups.get(pm.account_id, []) if all(ctx.allowed(pm, a, g) for a in meth.actions)
                ]
                if not groups:
                    continue
                users = [u for u in self._controlled_users(pm) if arns.account_of(u) == pm.account_id]
                if users:
                    self.add(
                        pm.arn,
                        admin_node(pm.account_id),
                        meth.id,
                        meth.kind,
                        pm.account_id,
                        via=groups[0],
                        actions=list(meth.actions),
                        resource=groups[0],
                        user=users[0],
                    )
                    out.add(pm.arn)
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
        # holders whose identity side is the same for every role: one edge each to an any:roles-trusting node
        uniform = {a for a in holders if ctx.uniform(self.m.by_arn[a], "sts:AssumeRole")}
        root_groups: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.assume_groups: dict[str, list[list[str]]] = defaultdict(list)
        for role, pol in self.m.trusts.items():
            if role not in self.m.by_arn:
                continue
            # account-root entries of an unconditional, Deny-free trust: every holder of that account the engine
            # allows on the identity side gets in, so that side is decided per policy-set shape, not per pair
            simple = all(
                st.effect == "Allow" and st.compiled_condition is None and st.not_principals is None
                for st in pol.statements
            )
            by_root: set[str] = set()
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
                        x = arns.account_of(e.value) or ""
                        if simple:
                            root_groups[(x, arns.account_of(role) or "")].append(role)
                            by_root.update(a for a in holders_in.get(x, ()) if a not in uniform)
                            cands.update(a for a in holders_in.get(x, ()) if a not in uniform)
                        else:
                            cands.update(holders_in.get(x, ()))
                    elif e.value in self.m.by_arn:
                        cands.add(e.value)
                    elif ":role/" in e.value:  # a role ARN with another path spelling
                        name = arns.name_of(e.value)
                        acct = arns.account_of(e.value)
                        cands.update(
                            p.arn
                            for p in self.by_account.get(acct, ())
                            if p.principal_type == "role" and p.arn.rsplit("/", 1)[-1] == name
                        )
            for arn in sorted(cands):
                if arn == role:
                    continue
                pm = self.m.by_arn[arn]
                if arn in by_root:
                    ok = ctx.allowed_via_account_trust(pm, "sts:AssumeRole", role)
                else:
                    ok = ctx.allowed(pm, "sts:AssumeRole", role)
                if ok:
                    self.assume_pairs.append((arn, role))
                    if wanted:
                        self.add(
                            arn,
                            role,
                            ASSUME,
                            "principal",
                            arns.account_of(role) or "",
                            via=role,
                            actions=["sts:AssumeRole"],
                        )
        for (x, racct), roles in root_groups.items():
            probe = f"arn:aws:iam::{racct}:role/iamkit-any-probe"
            members = sorted(set(roles))
            node = None
            for arn in holders_in.get(x, ()):
                if arn not in uniform:
                    continue
                if ctx.allowed_via_account_trust(self.m.by_arn[arn], "sts:AssumeRole", probe):
                    self.assume_groups[arn].append(members)
                    if wanted:
                        node = node or self.group(f"roles-trusting-{x}", racct, members)
                        self.add(arn, node, ASSUME, "principal", racct, via=node, actions=["sts:AssumeRole"])

    def _targets(self, pm: Any, kind: str) -> list[Any]:
        """Principals of ``kind`` in ``pm``'s account (``pm`` included: edges to itself are dropped by ``add``)."""
        key = (pm.account_id, kind)
        hit = self._by_kind.get(key)
        if hit is None:
            hit = [t for t in self.by_account.get(pm.account_id, ()) if t.principal_type == kind]
            self._by_kind[key] = hit
        return hit

    def group(self, what: str, account: str, members: list[str] | Callable[[], list[str]]) -> str:
        """The ``any:`` node for ``members`` (edges to each member added once; a callable is only asked for them
        when the node is new)."""
        node = any_node(what, account)
        if node not in self.grouped:
            self.grouped.add(node)
            for m in members() if callable(members) else members:
                self.add(node, m, ANY, "group", account, via=what)
        return node

    def _uniform(self, pm: Any, actions: Iterable[str], probe: str) -> bool | None:
        """True/False when the engine's decision for ``actions`` is the same on every target (decided once on
        ``probe``); None when targets must be checked one by one."""
        acts = list(actions)
        if not all(self.ctx.uniform(pm, a) for a in acts):
            return None
        return all(self.ctx.allowed(pm, a, probe) for a in acts)

    def _candidates(self, pm: Any, action: str, targets: list[Any]) -> list[Any]:
        """Targets some Allow statement of ``pm`` could cover for ``action`` (see ``_candidate_arns``)."""
        cached = self._indexed.get(id(targets))
        if cached is None or cached[0] is not targets:
            cached = (targets, {t.arn: t for t in targets}, [t.arn for t in targets])
            self._indexed[id(targets)] = cached
        _, by_arn, arns = cached
        found = self._candidate_arns(pm, action, arns)
        return targets if found is arns else [by_arn[a] for a in found]

    def _candidate_arns(self, pm: Any, action: str, arns: list[str]) -> list[str]:
        """ARNs some Allow statement of ``pm`` could cover for ``action``, found through the statements'
        resource patterns (each pattern matched against the same ARN list once, then reused by every principal
        holding it); the engine decides each candidate."""
        from iamkit.policy.matching import is_glob

        low = action.lower()
        out: dict[str, None] = {}
        wanted: set[str] | None = None
        list_key = (arns[0], arns[-1], len(arns)) if arns else ("", "", 0)
        for pol in pm.identity:
            for st in pol.relevant(low):
                if st.effect != "Allow":
                    continue
                if st.resources is None or any("${" in r or r == "*" for r in st.resources):
                    return arns
                for r in st.resources:
                    if not is_glob(r):
                        if wanted is None:
                            wanted = set(arns)
                        if r in wanted:
                            out[r] = None
                        continue
                    key = (r, list_key)
                    hit = self._pattern_hits.get(key)
                    if hit is None:
                        hit = self._pattern_hits[key] = self._matching(r, arns, list_key)
                    out.update((a, None) for a in hit)
        return list(out)

    def _matching(self, pattern: str, arns: list[str], list_key: tuple) -> list[str]:
        """The ARNs ``pattern`` covers, in list order. Only those starting with the pattern's literal text before
        its first wildcard can match (resource matching is case-sensitive and anchored), and they form one
        range of the sorted list: found by bisection, so a pattern naming nothing of the list costs a lookup,
        not a match per ARN."""
        from bisect import bisect_left

        from iamkit.policy.matching import arn_matches, is_glob

        index = self._sorted.get(list_key)
        if index is None or index[2] is not arns:
            order = sorted(range(len(arns)), key=arns.__getitem__)
            index = self._sorted[list_key] = ([arns[i] for i in order], order, arns)
        ordered, order, _ = index
        cut = next((i for i, ch in enumerate(pattern) if is_glob(ch)), len(pattern))
        prefix = pattern[:cut]
        lo = bisect_left(ordered, prefix)
        hits = []
        for i in range(lo, len(ordered)):
            if not ordered[i].startswith(prefix):
                break
            if arn_matches(pattern, ordered[i]):
                hits.append(order[i])
        return [arns[i] for i in sorted(hits)]

    def _principal(self, methods: list[Method], skip: set[str]) -> None:
        for meth in methods:
            if meth.id == ASSUME:
                continue
            kind = meth.target or "user"
            for pm in self.holders_all(meth.actions):
                if pm.arn in skip:
                    continue
                targets = self._targets(pm, kind)
                if not targets:
                    continue
                probe = f"arn:aws:iam::{pm.account_id}:{kind}/iamkit-any-probe"
                same = self._uniform(pm, meth.actions, probe)
                if same is not None:
                    if same:
                        node = self.group(f"{kind}s", pm.account_id, [t.arn for t in targets])
                        self.add(pm.arn, node, meth.id, meth.kind, pm.account_id, via=node, actions=list(meth.actions))
                    continue
                for t in self._candidates(pm, meth.actions[0], targets):
                    if all(self.ctx.allowed(pm, a, t.arn) for a in meth.actions):
                        self.add(
                            pm.arn, t.arn, meth.id, meth.kind, pm.account_id, via=t.arn, actions=list(meth.actions)
                        )

    def _modify_other(self, methods: list[Method], skip: set[str]) -> None:
        ctx = self.ctx
        attached = self.managed_attached()
        assumes: dict[str, list[str]] = defaultdict(list)
        for source, role in getattr(self, "assume_pairs", []):
            assumes[source].append(role)
        for source, lists in getattr(self, "assume_groups", {}).items():
            for roles in lists:
                assumes[source].extend(r for r in roles if r != source)
        reach_action = {"update_trust": "iam:UpdateAssumeRolePolicy", "create_access_key": "iam:CreateAccessKey"}
        pools: dict[str, list[Any]] = {}
        for meth in methods:
            reach = reach_action.get(meth.reach or "")
            need = list(meth.actions) + ([reach] if reach else [])
            for pm in self.holders_all(need):
                if pm.arn in skip:
                    continue
                if meth.reach == "assume":
                    pool = pools.get(pm.arn)
                    if pool is None:  # the same for every method: built once per principal
                        pool = pools[pm.arn] = [
                            self.m.by_arn[a]
                            for a in assumes.get(pm.arn, ())
                            if a in self.m.by_arn and self.m.by_arn[a].account_id == pm.account_id
                        ]
                else:
                    pool = self._candidates(pm, reach, self._targets(pm, meth.target or "role"))
                if not pool:
                    continue
                hit = None
                if meth.on == "target_policies" and all(ctx.uniform(pm, a) for a in need):
                    probe = f"arn:aws:iam::{pm.account_id}:policy/iamkit-any-probe"
                    withpol = next((t for t in pool if attached.get(t.arn)), None)
                    if withpol is not None and all(ctx.allowed(pm, a, probe) for a in meth.actions):
                        hit = withpol
                elif meth.on == "target_policies":
                    pols = sorted({p for t in pool for p in attached.get(t.arn, [])})
                    ok = {
                        p
                        for p in self._candidate_arns(pm, meth.actions[0], pols)
                        if all(ctx.allowed(pm, a, p) for a in meth.actions)
                    }
                    hit = next((t for t in pool if ok & set(attached.get(t.arn, []))), None)
                elif all(ctx.uniform(pm, a) for a in need):  # same decision on every target: ask once
                    if all(ctx.allowed(pm, a, pool[0].arn) for a in need):
                        hit = pool[0]
                else:
                    for t in self._candidates(pm, meth.actions[0], pool):
                        if all(ctx.allowed(pm, a, t.arn) for a in meth.actions) and (
                            reach is None or ctx.allowed(pm, reach, t.arn)
                        ):
                            hit = t
                            break
                if hit is not None and (reach is None or ctx.allowed(pm, reach, hit.arn)):
                    self.add(
                        pm.arn, admin_node(pm.account_id), meth.id, meth.kind, pm.account_id, via=hit.arn, actions=need
                    )

    def _passrole(self, methods: list[Method], skip: set[str], services: dict[str, list[str]]) -> None:
        ctx = self.ctx
        for meth in methods:
            svc = meth.service or ""
            compute = [a for a in meth.actions if a.lower() != "iam:passrole"]
            for pm in self.holders_all(meth.actions):
                if pm.arn in skip or not all(ctx.allowed(pm, a) for a in compute):
                    continue
                pool = self._service_roles_in(services, svc, pm.account_id)
                if not any(r != pm.arn for r in pool):
                    continue
                others = partial(_without, pool, pm.arn)  # the roles but pm itself, built only when needed
                if ctx.uniform(pm, "iam:PassRole"):
                    probe = f"arn:aws:iam::{pm.account_id}:role/iamkit-any-probe"
                    if ctx.decide(pm, "iam:PassRole", probe, {"iam:PassedToService": svc}) == ALLOWED:
                        node = self.group(f"roles-for-{svc}", pm.account_id, others)
                        self.add(
                            pm.arn,
                            node,
                            meth.id,
                            meth.kind,
                            pm.account_id,
                            via=svc,
                            actions=list(meth.actions),
                            service=svc,
                        )
                    continue
                for role in self._candidate_arns(pm, "iam:PassRole", others()):
                    if ctx.decide(pm, "iam:PassRole", role, {"iam:PassedToService": svc}) == ALLOWED:
                        self.add(
                            pm.arn,
                            role,
                            meth.id,
                            meth.kind,
                            pm.account_id,
                            via=svc,
                            actions=list(meth.actions),
                            service=svc,
                        )

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
                            self.add(
                                pm.arn,
                                role,
                                meth.id,
                                meth.kind,
                                pm.account_id,
                                via=fn,
                                actions=list(meth.actions),
                                resource=fn,
                            )
                    continue
                probe = _probe(meth.resource or "*", pm.account_id)
                if not all(ctx.allowed(pm, a, probe) for a in meth.actions):
                    continue
                pool = self._service_roles_in(services, svc, pm.account_id)
                if any(r != pm.arn for r in pool):
                    node = self.group(f"roles-for-{svc}", pm.account_id, partial(_without, pool, pm.arn))
                    self.add(
                        pm.arn,
                        node,
                        meth.id,
                        meth.kind,
                        pm.account_id,
                        via=svc,
                        actions=list(meth.actions),
                        resource=probe,
                    )


def _without(items: list[str], item: str) -> list[str]:
    return [x for x in items if x != item]


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
                out[r["attached_to_arn"]].append(
                    parse(as_json(r["document"]), "identity", r.get("policy_arn") or r.get("policy_name") or "group")
                )
            except Exception:  # noqa: BLE001 - a broken document is listed by the inventory, not here
                continue
    return out


def build_graph(
    inventory: Any, *, methods: Iterable[Method] | None = None, ctx: Context | None = None
) -> EscalationGraph:
    """The escalation graph of an inventory (``ctx`` reuses an assessment's engine model and caches)."""
    ctx = ctx or Context(inventory)
    b = _Builder(ctx, methods if methods is not None else load())
    escalated = b.build()
    nodes: dict[str, dict[str, Any]] = {}
    admins = ctx.admins
    for pm in ctx.iam_principals:
        nodes[pm.arn] = {"kind": pm.principal_type, "account_id": pm.account_id, "admin": pm.arn in admins}
    links: dict[tuple[str, str], dict[str, Any]] = {}
    for e in b.edges:
        src, dst = e["source"], e["target"]
        for end in (src, dst):
            if end.startswith("admin:") and end not in nodes:
                nodes[end] = {"kind": "admin", "account_id": e["account_id"], "admin": True}
            elif end.startswith("any:") and end not in nodes:
                nodes[end] = {"kind": "group", "account_id": e["account_id"], "admin": False}
        link = links.get((src, dst))
        if link is not None:
            link["methods"].append(e["method"])
        else:
            nodes.setdefault(src, {})  # as DiGraph.add_edge: unknown ends become attribute-less nodes
            nodes.setdefault(dst, {})
            links[(src, dst)] = {"methods": [e["method"]], "kind": e["kind"]}
    return EscalationGraph(nodes, links, b.edges, ctx, escalated)
