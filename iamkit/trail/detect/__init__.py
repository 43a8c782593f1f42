"""CloudTrail detections: Sigma and native rules compiled to SQL (DuckDB, Trino) and run as a hunt.

``hunt(con_or_trail, rules=None, sigma_dirs=(), dialect="duckdb") -> HuntResult`` (detections and
errors frames); ``load_rules(paths)``; ``render_rule(rule, dialect)``. Importing this package loads
neither DuckDB nor pandas (they load when a hunt runs).
"""

from __future__ import annotations

from iamkit.trail.detect.hunt import HuntResult, hunt, render_rule
from iamkit.trail.detect.rules import Rule, load_rules

__all__ = ["HuntResult", "Rule", "hunt", "load_rules", "render_rule"]
