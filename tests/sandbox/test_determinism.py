"""Same seed and clock -> byte-identical manifest (run in fresh processes: moto's state is per process)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from iamkit.errors import BadInput, IamkitError
from iamkit.sandbox.seed import management_account_id

SCRIPT = """
import sys
from datetime import datetime, UTC
import iamkit.sandbox as s
sb = s.start(seed=int(sys.argv[1]), roles_per_account=20, benign_events=50, entra=False,
             now=datetime(2026, 11, 1, 12, 0, tzinfo=UTC), workdir=sys.argv[2])
sb.stop()
"""


def _run_all(tmp_path, seeds: list[int]) -> list[str]:
    procs = []
    for i, seed in enumerate(seeds):
        wd = tmp_path / f"run{i}"
        procs.append(
            (
                wd,
                subprocess.Popen(
                    [sys.executable, "-c", SCRIPT, str(seed), str(wd)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
                ),
            )
        )
    out = []
    for wd, p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()[-2000:]
        out.append((wd / "manifest.json").read_text())
    return out


@pytest.mark.sandbox
def test_same_seed_same_manifest(tmp_path):
    a, b = _run_all(tmp_path, [11, 11])
    assert a == b
    org = json.loads(a)
    assert org["seed"] == 11 and org["management_account_id"] == management_account_id(11)
    assert org["incident"]["leaked_access_key_id"] and org["risks"]


def test_other_seed_other_ids_and_other_sizes(sandbox, isolated_sandbox):
    other = isolated_sandbox(accounts=5, roles_per_account=60, set_env=True)
    assert [(a.ou, a.name) for a in other.org.accounts[1:]] == [
        ("Security", "acme-security"),
        ("Prod", "acme-prod"),
        ("Dev", "acme-dev"),
        ("Sandbox", "acme-sandbox"),
        ("Prod", "acme-prod-2"),
    ]
    assert {v["roles"] for v in other.org.counts["per_account"].values()} == {60}
    import boto3  # set_env=True: the environment now points at the isolated sandbox

    assert boto3.client("sts").get_caller_identity()["Account"] == other.org.management_account_id
    extra = other.org.accounts[-1].account_id
    roles = [r for p in other.client("iam", extra).get_paginator("list_roles").paginate() for r in p["Roles"]]
    assert len(roles) == 60
    a, b = sandbox.org, other.org
    assert a.seed != b.seed and a.management_account_id != b.management_account_id
    assert {x.account_id for x in a.accounts}.isdisjoint({x.account_id for x in b.accounts})
    assert a.incident.leaked_access_key_id != b.incident.leaked_access_key_id
    assert a.org_id != b.org_id


@pytest.mark.parametrize("seed", [0, 1, 7, 12345])
def test_management_account_id_is_a_stable_12_digit_id(seed):
    a = management_account_id(seed)
    assert a == management_account_id(seed) and len(a) == 12 and a.isdigit() and a[0] != "0"
    assert a != management_account_id(seed + 1)


def test_same_seed_twice_in_one_process_is_refused(sandbox):
    import iamkit.sandbox

    with pytest.raises(IamkitError, match="already lives in this process"):
        iamkit.sandbox.start(seed=sandbox.org.seed, entra=False, benign_events=0)


@pytest.mark.parametrize(
    "kw, msg",
    [
        ({"accounts": 3}, "at least 4"),
        ({"roles_per_account": 501}, "between 1 and 500"),
        ({"roles_per_account": 0}, "between 1 and 500"),
        ({"scenario": "ransomware"}, "unknown scenario"),
        ({"host": "0.0.0.0"}, "loopback only"),
    ],
)
def test_bad_input_is_refused_before_seeding(kw, msg, tmp_path):
    import iamkit.sandbox

    with pytest.raises(BadInput, match=msg):
        iamkit.sandbox.start(seed=999_000 + len(str(kw)), entra=False, workdir=tmp_path, **kw)


@pytest.mark.parametrize("members", range(4, 14))
def test_member_plan_covers_every_ou_with_unique_names(members):
    from iamkit.sandbox.seed_org import OUS, _member_plan

    plan = _member_plan(members)
    assert len(plan) == members and len({name for _, name in plan}) == members
    assert [ou for ou, _ in plan[:4]] == list(OUS)
    assert all(ou in ("Prod", "Dev", "Sandbox") for ou, _ in plan[4:])
