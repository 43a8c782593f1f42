"""Privilege-escalation graph: a YAML catalogue of methods, edges checked by the policy engine, shortest paths
to administrator, blast radius, and a plotly-ready figure.

    from iamkit.assess.privesc import build_graph, paths_to_admin, blast_radius
    g = build_graph(inventory)
    paths_to_admin(g)                      # one row per principal: hops and methods to admin
    blast_radius(g, "arn:aws:iam::1:user/x")
"""

from __future__ import annotations

from iamkit.assess.privesc.catalog import Method, load
from iamkit.assess.privesc.graph import EscalationGraph, build_graph
from iamkit.assess.privesc.paths import blast_radius, paths_to_admin

__all__ = ["EscalationGraph", "Method", "blast_radius", "build_graph", "load", "paths_to_admin"]
