"""Fixtures for the policy tests; puts this folder on sys.path so tests import ``policytest`` helpers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from policytest import make_inventory  # noqa: E402


@pytest.fixture(scope="session")
def inventory():
    """A small organization: two member accounts and a management account (frames built by hand)."""
    return make_inventory()
