"""A plotly figure of escalation paths (for the notebooks): principals on a path to administrator, the
admin sinks, and the method on each edge as hover text. Names come from policies and IAM, and plotly reads
tags in labels and hover text: every label is escaped (``iamkit.escape.html``)."""

from __future__ import annotations

from typing import Any

from iamkit import escape
from iamkit.assess.privesc.graph import EscalationGraph

COLORS = {"user": "#1f77b4", "role": "#2ca02c", "group": "#ff7f0e", "admin": "#d62728"}


def subgraph_to_admin(eg: EscalationGraph, principals: list[str] | None = None, limit: int = 200) -> Any:
    """The part of the graph on some shortest path to administrator (optionally from ``principals`` only)."""
    from iamkit.assess.privesc.paths import paths_to_admin

    df = paths_to_admin(eg)
    if principals is not None:
        df = df[df["principal_arn"].isin(principals)]
    nodes: set[str] = set()
    for path, arn, admin_of in zip(df["path"], df["principal_arn"], df["admin_of"], strict=True):
        nodes.add(arn)
        nodes.add(f"admin:{admin_of}")
        for hop in path or []:
            nodes.update((hop["from"], hop["to"]))
        if len(nodes) >= limit:
            break
    return eg.graph.subgraph(nodes).copy()


def figure(eg: EscalationGraph, principals: list[str] | None = None, *, limit: int = 200, seed: int = 7) -> Any:
    """A ``plotly.graph_objects.Figure`` of escalation paths (spring layout, deterministic for ``seed``)."""
    import networkx as nx
    import plotly.graph_objects as go

    g = subgraph_to_admin(eg, principals, limit)
    pos = nx.spring_layout(g, seed=seed) if len(g) else {}
    ex: list[Any] = []
    ey: list[Any] = []
    mx, my, mtext = [], [], []
    for a, b, d in g.edges(data=True):
        (x0, y0), (x1, y1) = pos[a], pos[b]
        ex += [x0, x1, None]
        ey += [y0, y1, None]
        mx.append((x0 + x1) / 2)
        my.append((y0 + y1) / 2)
        mtext.append(escape.html(", ".join(map(str, d.get("methods", [])))))
    traces = [
        go.Scatter(x=ex, y=ey, mode="lines", line={"width": 1, "color": "#999"}, hoverinfo="none", name="edges"),
        go.Scatter(
            x=mx,
            y=my,
            mode="markers",
            marker={"size": 4, "color": "#999"},
            text=mtext,
            hoverinfo="text",
            name="methods",
        ),
    ]
    for kind, color in COLORS.items():
        ns = [n for n, d in g.nodes(data=True) if d.get("kind") == kind]
        traces.append(
            go.Scatter(
                x=[pos[n][0] for n in ns],
                y=[pos[n][1] for n in ns],
                mode="markers+text",
                marker={"size": 14 if kind == "admin" else 10, "color": color},
                text=[escape.html(n.rsplit("/", 1)[-1]) for n in ns],
                textposition="top center",
                hovertext=[escape.html(n) for n in ns],
                hoverinfo="text",
                name=kind,
            )
        )
    fig = go.Figure(traces)
    fig.update_layout(
        title="Privilege-escalation paths to administrator",
        showlegend=True,
        xaxis={"visible": False},
        yaxis={"visible": False},
        template="plotly_white",
    )
    return fig
