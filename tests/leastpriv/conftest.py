"""Fixtures for the least-privilege tests (record builders in lptest.py beside this file) and the policy tests'
hand-built organization (``policytest.make_inventory``) for proofs with boundaries and SCPs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "policy"))

from lptest import make_store  # noqa: E402


@pytest.fixture
def store(tmp_path):
    opened = []

    def make(records):
        t = make_store(tmp_path, records)
        opened.append(t)
        return t

    yield make
    for t in opened:
        t.close()


@pytest.fixture(scope="session")
def org_inventory():
    from policytest import make_inventory

    return make_inventory()
