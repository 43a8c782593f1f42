"""iamkit: an investigation kit for AWS identity incidents.

``import iamkit as ik`` is cheap: every sub-package (and pandas, boto3, duckdb, plotly, moto, msal,
papermill, nbconvert behind them) loads on first attribute access.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_SUBMODULES = {
    "config",
    "errors",
    "frames",
    "policy",
    "aws",
    "inventory",
    "assess",
    "trail",
    "entra",
    "correlate",
    "respond",
    "case",
    "playbook",
    "sandbox",
    "ui",
    "cli",
    "report",
    "severity",
    "arn",
    "leastpriv",
}
_ATTRS = {
    "Case": ("iamkit.case", "Case"),
    "Inventory": ("iamkit.inventory", "Inventory"),
    "pivot": ("iamkit.investigate.pivot", "pivot"),
}

if TYPE_CHECKING:  # pragma: no cover
    from iamkit import (  # noqa: F401
        arn,
        assess,
        aws,
        case,
        config,
        correlate,
        entra,
        errors,
        frames,
        inventory,
        playbook,
        policy,
        respond,
        sandbox,
        severity,
        trail,
    )
    from iamkit.case import Case  # noqa: F401


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        module = importlib.import_module(f"iamkit.{name}")
        globals()[name] = module
        return module
    if name in _ATTRS:
        mod, attr = _ATTRS[name]
        value = getattr(importlib.import_module(mod), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'iamkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SUBMODULES | set(_ATTRS))
