"""Questions over the escalation graph: the shortest path to administrator for every principal (one reverse
breadth-first search from all admin sinks, O(nodes + edges)), and the blast radius of one principal."""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from iamkit.assess.privesc.graph import EscalationGraph
from iamkit.frames import conform, empty, register

register(
    "privesc_paths",
    {
        "principal_arn": "string",
        "principal_type": "string",
        "account_id": "string",
        "is_admin": "bool",
        "hops": "int",
        "admin_of": "string",
        "methods": "json",
        "path": "json",
    },
    "Shortest escalation path to administrator per principal (hops 0 = already administrator); path is "
    "a list of {from, to, method}.",
)
register(
    "blast_radius",
    {"kind": "string", "arn": "string", "account_id": "string", "hops": "int", "via": "string", "access": "json"},
    "What one principal can reach: principals (by escalation) and sensitive resources (by the engine).",
)

SENSITIVE = {
    "secretsmanager": ("secretsmanager:GetSecretValue",),
    "kms": ("kms:Decrypt",),
    "s3": ("s3:GetObject",),
    "ssm": ("ssm:GetParameter",),
    "lambda": ("lambda:UpdateFunctionCode",),
    "sqs": ("sqs:ReceiveMessage",),
    "sns": ("sns:Publish",),
    "ecr": ("ecr:PutImage",),
}


def _label(g: Any, a: str, b: str) -> str:
    return g[a][b]["methods"][0]


def paths_to_admin(eg: EscalationGraph, *, include_unreachable: bool = False):
    """One row per principal that is, or can become, administrator of some account, with its shortest path."""
    nodes = eg.nodes
    dist: dict[str, int] = {}
    nxt: dict[str, str] = {}
    q: deque[str] = deque()
    for n, d in nodes.items():
        if d.get("kind") == "admin":
            dist[n] = 0
            q.append(n)
    while q:
        n = q.popleft()
        for p in eg.predecessors(n):
            if p not in dist:
                dist[p] = dist[n] + 1
                nxt[p] = n
                q.append(p)
    edge_of = {(e["source"], e["target"], e["method"]): e for e in eg.edges}

    def hop(a: str, b: str) -> dict[str, Any]:
        method = eg.methods(a, b)[0]
        h: dict[str, Any] = {"from": a, "to": b, "method": method}
        e = edge_of.get((a, b, method))
        if e is not None:
            if e.get("via") and e["via"] != b:
                h["via"] = e["via"]
            ev = json.loads(e["evidence"]) if e.get("evidence") else {}
            for k in ("user", "conditions"):  # the user a group method acts for, the conditions it needs
                if ev.get(k):
                    h[k] = ev[k]
        return h

    rows = []
    for n, d in nodes.items():
        if d.get("kind") in ("admin", "group"):
            continue
        if n not in dist:
            if include_unreachable:
                rows.append(
                    {
                        "principal_arn": n,
                        "principal_type": d.get("kind"),
                        "account_id": d.get("account_id"),
                        "is_admin": False,
                        "hops": None,
                        "admin_of": None,
                        "methods": [],
                        "path": [],
                    }
                )
            continue
        path, cur = [], n
        while cur in nxt:
            path.append(hop(cur, nxt[cur]))
            cur = nxt[cur]
        hops = [h for h in path if h["method"] not in ("is-admin", "any-target")]
        if d.get("kind") == "group":
            continue
        steps = [h for h in path if h["method"] != "is-admin"]
        rows.append(
            {
                "principal_arn": n,
                "principal_type": d.get("kind"),
                "account_id": d.get("account_id"),
                "is_admin": bool(d.get("admin")),
                "hops": len(hops),
                "admin_of": cur.split(":", 1)[1],
                "methods": [h["method"] for h in hops],
                "path": steps,
            }
        )
    rows.sort(key=lambda r: (r["hops"] is None, r["hops"] or 0, r["principal_arn"]))
    return conform(rows, "privesc_paths") if rows else empty("privesc_paths")


def blast_radius(eg: EscalationGraph, principal_arn: str, *, resources: bool = True):
    """Principals ``principal_arn`` can become (an administrator of an account controls all of it) and the
    sensitive resources any of them can use, decided by the engine."""
    from iamkit.errors import BadInput

    g, ctx = eg.graph, eg.ctx
    if principal_arn not in g:
        raise BadInput(f"principal {principal_arn} is not in the escalation graph (users and roles only)")
    seen: dict[str, tuple[int, str]] = {principal_arn: (0, "")}
    q: deque[str] = deque([principal_arn])
    by_account: dict[str, list[str]] = {}
    for n, d in g.nodes(data=True):
        if d.get("kind") in ("user", "role"):
            by_account.setdefault(d.get("account_id"), []).append(n)
    while q:
        n = q.popleft()
        hops, via = seen[n]
        nexts = [(m, _label(g, n, m)) for m in g.successors(n)]
        if n.startswith("admin:"):
            nexts = [(m, "administrator of the account") for m in by_account.get(n.split(":", 1)[1], [])]
        for m, how in nexts:
            if m not in seen:
                cost = 0 if m.startswith("admin:") or n.startswith("any:") else 1
                seen[m] = (hops + cost, f"{via} > {how}".strip(" >"))
                q.append(m)
    rows = []
    for n, (hops, via) in seen.items():
        if n == principal_arn or n.startswith(("admin:", "any:")):
            continue
        rows.append(
            {
                "kind": g.nodes[n].get("kind"),
                "arn": n,
                "account_id": g.nodes[n].get("account_id"),
                "hops": hops,
                "via": via,
                "access": [],
            }
        )
    if resources:
        rows += _resources(ctx, [principal_arn] + [r["arn"] for r in rows], seen)
    return conform(rows, "blast_radius") if rows else empty("blast_radius")


def _resources(ctx: Any, principals: list[str], seen: dict[str, tuple[int, str]]) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    targets = [
        r
        for r in ctx.rows("resource_policies")
        if r.get("service") in SENSITIVE and r.get("resource_type") not in ("account_public_access_block",)
    ]
    for arn in principals:
        pm = ctx.model.by_arn.get(arn)
        if pm is None:
            continue
        for r in targets:
            res = r["resource_arn"]
            acts = [
                a for a in SENSITIVE[r["service"]] if ctx.allowed(pm, a, res + "/*" if r["service"] == "s3" else res)
            ]
            if acts and (res not in out or seen[arn][0] < out[res]["hops"]):
                out[res] = {
                    "kind": "resource",
                    "arn": res,
                    "account_id": r.get("account_id"),
                    "hops": seen[arn][0],
                    "via": arn,
                    "access": acts,
                }
    return list(out.values())


def path_text(path: Any) -> str:
    """A path as one readable line: ``a -[method]-> b -[method]-> admin``."""
    hops = json.loads(path) if isinstance(path, str) else list(path or [])
    if not hops:
        return ""
    parts = [hops[0]["from"]]
    for h in hops:
        if h["method"] == "any-target":
            parts.append(f"(any) {h['to']}")
        else:
            how = h["method"]
            if h.get("user"):
                how += f" {h['user']} into {h.get('via', '')}".rstrip()
            if h.get("conditions"):
                how += " under " + ", ".join(f"{k}={v}" for k, v in h["conditions"].items())
            parts.append(f"-[{how}]-> {h['to']}")
    return " ".join(parts)
