"""CloudTrail detections: Sigma and native rules compiled to SQL (DuckDB, Trino) and run as a hunt.

``hunt(backend, rules=None, sigma_dirs=(), …) -> HuntResult`` (detections and errors frames) on a
``TrailBackend`` (``iamkit.trail.open(db)`` or ``iamkit.trail.open_athena(db)``); ``load_rules(paths)``;
``render_rule(rule, dialect)``. Importing this package loads neither DuckDB nor pandas (they load when a
hunt runs).
"""

from __future__ import annotations

from iamkit.trail.detect.hunt import HuntResult, hunt, render_rule
from iamkit.trail.detect.rules import Rule, load_rules

__all__ = ["HuntResult", "Rule", "hunt", "load_rules", "render_rule"]
