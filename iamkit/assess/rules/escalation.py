"""Privilege escalation: principals with a path to administrator, and principals that can take over others,
from the escalation graph (catalogue methods confirmed by the engine)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from iamkit.assess.context import Context
from iamkit.assess.registry import Hit, rule

ROUTINE = {"sts-assume-role", "is-admin"}


def graph(ctx: Context) -> Any:
    """The escalation graph of the context's inventory, built once per assessment."""
    g = getattr(ctx, "_privesc_graph", None)
    if g is None:
        from iamkit.assess.privesc.graph import build_graph

        g = build_graph(ctx.inv, ctx=ctx)
        ctx._privesc_graph = g
    return g


@rule(
    "IAMKIT-ESC-001",
    "escalation",
    "high",
    "Can escalate to administrator",
    "A chain of permissions (confirmed by the engine with denies, boundaries, SCPs and trusts) lets this "
    "non-administrator principal become administrator: its real privilege is administrator. Conditions the "
    "caller can satisfy now (a fresh session's aws:TokenIssueTime, today's aws:CurrentTime, TLS, the region, "
    "request tags) do not hide it: the finding shows them.",
    "Break the first hop of the path: remove or scope the permission the method needs, or add a Deny.",
    ["https://pathfinding.cloud", "https://github.com/nccgroup/PMapper"],
    controls=["NIST-800-53r5:AC-6"],
)
def path_to_admin(ctx: Context) -> Iterator[Hit]:
    from iamkit.assess.privesc.paths import path_text, paths_to_admin

    df = paths_to_admin(graph(ctx))
    for r in df.to_dict(orient="records"):
        if r["is_admin"] or not r["hops"]:
            continue
        path = list(r["path"])
        conditions = {k: v for h in path for k, v in (h.get("conditions") or {}).items()}
        under = (
            " under conditions the caller satisfies now: " + ", ".join(f"{k}={v}" for k, v in conditions.items())
            if conditions
            else ""
        )
        yield Hit(
            r["account_id"],
            r["principal_arn"],
            r["principal_type"],
            None,
            f"administrator of {r['admin_of']} in {r['hops']} hop(s){under}: {path_text(path)}",
            {
                "hops": int(r["hops"]),
                "methods": list(r["methods"]),
                "path": path,
                "admin_of": r["admin_of"],
                "conditions": conditions,
            },
            severity="critical" if r["hops"] == 1 else None,
        )


@rule(
    "IAMKIT-ESC-002",
    "escalation",
    "medium",
    "Can take over other principals",
    "The principal can act as other users or roles through an escalation method (PassRole to compute, "
    "credentials of other users, trust rewrites, code on resources with roles): its permissions are the "
    "union of theirs.",
    "Scope iam:PassRole with Resource and iam:PassedToService, and scope credential and code-update actions.",
    ["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html", "https://pathfinding.cloud"],
    controls=["NIST-800-53r5:AC-6"],
)
def takeover(ctx: Context) -> Iterator[Hit]:
    eg = graph(ctx)
    by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in eg.edges:
        if e["method"] not in ROUTINE | {"any-target"} and not e["target"].startswith("admin:"):
            by_source[e["source"]].append(e)
    members = defaultdict(int)
    for e in eg.edges:
        if e["method"] == "any-target":
            members[e["source"]] += 1
    for src, edges in sorted(by_source.items()):
        pm = ctx.model.by_arn[src]
        methods = sorted({e["method"] for e in edges})
        targets = sorted({e["target"] for e in edges})
        count = sum(members[t] if t.startswith("any:") else 1 for t in targets)
        yield Hit(
            pm.account_id,
            src,
            pm.principal_type,
            None,
            f"can become {count} other principal(s) via {', '.join(methods)}",
            {"methods": methods, "targets": targets[:50], "target_count": count},
        )
