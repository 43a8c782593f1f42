"""Shared helper for the condition-operator tests: decide one operator/key against a request context."""

from __future__ import annotations

from typing import Any

import pytest

from iamkit.policy.conditions import evaluate_conditions


def decide_one(operator: str, key: str, values: Any, context: dict[str, Any] | None, mode: str = "strict"):
    """The ``matched`` answer of a one-operator, one-key Condition block."""
    return evaluate_conditions({operator: {key: values}}, context or {}, mode=mode).matched


@pytest.fixture
def decide():
    return decide_one
