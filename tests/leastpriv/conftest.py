"""Fixtures for the least-privilege tests (record builders in lptest.py beside this file) and the policy tests'
hand-built organization (``policytest.make_inventory``) for proofs with boundaries and SCPs."""

from __future__ import annotations

import json
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


DAYS, BENIGN = 14, 1000  # the session sandbox's trail (tests/conftest.py)


@pytest.fixture(scope="session")
def world(sandbox, tmp_path_factory):
    """(raw records, store path, inventory, inventory folder) of the session sandbox."""
    from iamkit import trail
    from iamkit.inventory import collect
    from iamkit.sandbox import trailgen

    tmp = tmp_path_factory.mktemp("leastpriv-world")
    records = list(
        trailgen.generate(sandbox.org, benign_events=BENIGN, days=DAYS, end=sandbox.now, seed=sandbox.org.seed)
    )
    (tmp / "in").mkdir()
    (tmp / "in" / "trail.json").write_text(json.dumps({"Records": records}))
    db = tmp / "t.duckdb"
    trail.load([tmp / "in"], db)
    inv = collect(org=True, service_last_accessed=True)
    inv.save(tmp / "inv")
    return records, db, inv, tmp / "inv"
