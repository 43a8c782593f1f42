"""Policy layer (pure): the action catalogue, documents, validation, the evaluation engine and questions.

``evaluate(request, identity_policies=…, …) -> Decision`` decides like AWS; ``parse`` / ``validate`` handle
documents; ``who_can`` / ``what_can`` / ``effective_permissions`` answer questions over an inventory (those
load pandas, so they are imported on first use).
"""

from __future__ import annotations

import importlib
from typing import Any

from iamkit.policy.catalog import ActionInfo, Catalog, ConditionKey, ResourceType, catalog
from iamkit.policy.document import Policy, PrincipalEntry, Statement, parse
from iamkit.policy.engine import Decision, ExplainLine, evaluate
from iamkit.policy.validate import Finding, validate  # eager: a lazy import would bind the submodule's name

__all__ = [
    "ActionInfo",
    "Catalog",
    "ConditionKey",
    "Decision",
    "ExplainLine",
    "Finding",
    "Policy",
    "PrincipalEntry",
    "ADMIN_PROBES",
    "ResourceType",
    "Statement",
    "access_level",
    "action_info",
    "catalog",
    "decide",
    "decide_for",
    "effective_permissions",
    "expand_actions",
    "evaluate",
    "is_admin",
    "model",
    "parse",
    "request_for",
    "validate",
    "what_can",
    "who_can",
]

_LAZY = {
    "who_can": ("iamkit.policy.query", "who_can"),
    "what_can": ("iamkit.policy.query", "what_can"),
    "effective_permissions": ("iamkit.policy.query", "effective_permissions"),
    "decide": ("iamkit.policy.query", "decide"),
    "decide_for": ("iamkit.policy.query", "decide_for"),
    "request_for": ("iamkit.policy.query", "request_for"),
    "model": ("iamkit.policy.query", "model"),
    "is_admin": ("iamkit.policy.query", "is_admin"),
    "ADMIN_PROBES": ("iamkit.policy.query", "ADMIN_PROBES"),
}


def action_info(action: str) -> ActionInfo | None:
    """Catalogue entry of ``service:Action`` (any case), or None when unknown."""
    return catalog().action(action)


def access_level(action: str) -> str:
    """Access level of an action (List, Read, Write, Permissions management, Tagging); '' when unknown."""
    info = catalog().action(action)
    return info.access_level if info else ""


def expand_actions(pattern: str) -> tuple[str, ...]:
    """Every known action matching an Action pattern (``s3:Get*``, ``*``)."""
    return catalog().expand(pattern)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        mod, attr = _LAZY[name]
        value = getattr(importlib.import_module(mod), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'iamkit.policy' has no attribute {name!r}")
