"""Inventory benchmarks.

1. Fan-out: collect a sandbox organization with an injected 50 ms latency on every API call, in parallel
   (bounded pool) and serially (``max_workers=1``); ratio = serial / parallel (goal >= 6 at 20 x 500).
2. Frames from authorization details of 10,000 roles vs ``pandas.json_normalize`` on the same input.
3. Peak memory (RSS, sampled) of the collecting process (the sandbox runs in its own process), and the
   size of the frames.

Default size: 4 member accounts x 60 roles (runs in well under 3 minutes). ``IAMKIT_BENCH_INVENTORY_FULL=1``
runs 20 x 500; ``IAMKIT_BENCH_INVENTORY_SIZE=ACCOUNTSxROLES`` picks any other size.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from typing import Any

from bench.common import record, timed

LATENCY = 0.05


def _size() -> tuple[int, int]:
    if os.environ.get("IAMKIT_BENCH_INVENTORY_FULL") == "1":
        return 20, 500
    raw = os.environ.get("IAMKIT_BENCH_INVENTORY_SIZE", "4x60")
    a, r = raw.lower().split("x")
    return int(a), int(r)


class PeakRss:
    """Samples the process RSS every 20 ms on a thread; ``peak`` in MiB."""

    def __init__(self) -> None:
        import psutil

        self._proc = psutil.Process()
        self.peak = self.start = self._proc.memory_info().rss / 2**20
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._proc.memory_info().rss / 2**20)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def synthetic_authz(roles: int, account: str = "111122223333") -> dict[str, Any]:
    """An authorization-details export with ``roles`` roles (trust + inline + 2 attachments each)."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "x"}},
            }
        ],
    }
    inline = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::b/*"},
            {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"},
        ],
    }
    policies = [
        {
            "PolicyName": f"p{i}",
            "Arn": f"arn:aws:iam::{account}:policy/p{i}",
            "Path": "/",
            "DefaultVersionId": "v2",
            "PolicyVersionList": [
                {"Document": inline, "VersionId": "v1", "IsDefaultVersion": False},
                {"Document": inline, "VersionId": "v2", "IsDefaultVersion": True},
            ],
        }
        for i in range(50)
    ]
    return {
        "UserDetailList": [],
        "GroupDetailList": [],
        "Policies": policies,
        "RoleDetailList": [
            {
                "Path": "/",
                "RoleName": f"role-{i}",
                "RoleId": f"AROA{i:016d}",
                "Arn": f"arn:aws:iam::{account}:role/role-{i}",
                "CreateDate": "2024-01-02T03:04:05Z",
                "AssumeRolePolicyDocument": trust,
                "RolePolicyList": [{"PolicyName": "inline", "PolicyDocument": inline}],
                "InstanceProfileList": [],
                "AttachedManagedPolicies": [
                    {"PolicyName": f"p{i % 50}", "PolicyArn": f"arn:aws:iam::{account}:policy/p{i % 50}"},
                    {"PolicyName": f"p{(i + 1) % 50}", "PolicyArn": f"arn:aws:iam::{account}:policy/p{(i + 1) % 50}"},
                ],
                "RoleLastUsed": {"LastUsedDate": "2024-05-01T00:00:00Z", "Region": "us-east-1"},
                "Tags": [],
            }
            for i in range(roles)
        ],
    }


def _ours(doc: dict[str, Any]) -> Any:
    from iamkit.aws.authz import build
    from iamkit.inventory import Inventory

    rows, _ = build([("111122223333", doc)])
    return Inventory.from_rows(rows)


def _json_normalize(doc: dict[str, Any]) -> Any:
    """The baseline: flatten the same sections with pandas.json_normalize (roles, trust statements, inline
    policy statements, attachments, policy versions)."""
    import pandas as pd

    roles = doc["RoleDetailList"]
    return (
        pd.json_normalize(roles),
        pd.json_normalize(roles, record_path=["AssumeRolePolicyDocument", "Statement"], meta=["Arn"]),
        pd.json_normalize(roles, record_path=["RolePolicyList"], meta=["Arn"]),
        pd.json_normalize(roles, record_path=["AttachedManagedPolicies"], meta=["Arn"]),
        pd.json_normalize(doc["Policies"], record_path=["PolicyVersionList"], meta=["Arn"]),
    )


def bench_authz(roles: int = 10_000) -> dict[str, Any]:
    doc = synthetic_authz(roles)
    ours_s, inv = timed(_ours, doc, repeat=2)
    base_s, _ = timed(_json_normalize, doc, repeat=2)
    return {
        "authz_roles": roles,
        "authz_iamkit_frames_s": ours_s,
        "authz_json_normalize_s": base_s,
        "authz_ratio_json_normalize_over_iamkit": base_s / ours_s,
        "authz_rows_statements": len(inv.statements),
        "authz_rows_policies": len(inv.policies),
        "authz_rows_trusts": len(inv.trusts),
    }


def bench_fanout(accounts: int, roles: int) -> dict[str, Any]:
    """Parallel vs serial collection of a sandbox served by a separate process (as AWS would be: the
    server's work does not compete with the collector for this process's GIL)."""
    from pathlib import Path

    from iamkit.aws.faults import Fault, FaultInjector
    from iamkit.inventory import collect
    from iamkit.sandbox import daemon

    work = Path(tempfile.mkdtemp(prefix="iamkit-bench-"))
    state_file = work / "sandbox.json"
    t0 = time.perf_counter()
    state = daemon.spawn(
        {
            "accounts": accounts,
            "roles_per_account": roles,
            "scenario": None,
            "benign_events": 10,
            "entra": False,
            "workdir": str(work / "sandbox"),
        },
        path=state_file,
        timeout=900,
    )
    seed_s = time.perf_counter() - t0
    env = daemon.env_of(state)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        collect(org=True, max_workers=16)  # warm-up: client classes, models
        latency = FaultInjector([Fault("latency", "*", seconds=LATENCY)])
        with PeakRss() as rss:
            par_s, inv = timed(collect, org=True, hooks=[latency], max_workers=16)
        calls = sum(latency.fired.values())
        latency = FaultInjector([Fault("latency", "*", seconds=LATENCY)])
        ser_s, _ = timed(collect, org=True, hooks=[latency], max_workers=1)
        no_latency_s, _ = timed(collect, org=True, max_workers=16)
        from typer.testing import CliRunner

        from iamkit.cli import app
        from iamkit.inventory import Inventory

        t0 = time.perf_counter()  # the check, through the CLI: `inventory collect --org --out DIR`
        cli = CliRunner().invoke(app, ["inventory", "collect", "--org", "--out", str(work / "snap")])
        cli_s = time.perf_counter() - t0
        if cli.exit_code != 0:
            raise SystemExit(f"iamkit inventory collect --org failed:\n{cli.output}")
        snap = Inventory.load(work / "snap")
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        daemon.stop(state_file)
    frames_mib = sum(df.memory_usage(deep=True).sum() for df in inv.frames().values()) / 2**20
    from iamkit.sandbox.model import SeededOrg
    from iamkit.sandbox.verify import count_mismatches, snapshot_problems

    org = SeededOrg.from_json(Path(state["manifest"]).read_text())
    checked, _ = count_mismatches(inv, org)
    problems = snapshot_problems(inv, org) + [f"CLI snapshot: {p}" for p in snapshot_problems(snap, org)]
    if problems:  # a fast collection that misses what was seeded is not a result
        raise SystemExit("inventory does not match the scenario manifest:\n" + "\n".join(problems[:20]))
    return {
        "fanout_counts_checked_against_manifest": checked,
        "fanout_snapshot_problems": len(problems),
        "cli_collect_org_out_s": cli_s,
        "cli_snapshot_principals": len(snap.principals),
        "cli_snapshot_error_codes": sorted(set(snap.errors["code"])),
        "fanout_size": f"{accounts} members x {roles} roles",
        "sandbox_seed_s": seed_s,
        "fanout_api_calls": calls,
        "fanout_latency_per_call_s": LATENCY,
        "fanout_parallel_s": par_s,
        "fanout_serial_s": ser_s,
        "fanout_ratio_serial_over_parallel": ser_s / par_s,
        "fanout_parallel_no_latency_s": no_latency_s,
        "fanout_principals": len(inv.principals),
        "fanout_error_rows": len(inv.errors),
        "memory_collector_peak_rss_mib": rss.peak,
        "memory_rss_growth_during_collect_mib": rss.peak - rss.start,
        "memory_frames_mib": frames_mib,
    }


def main() -> None:
    accounts, roles = _size()
    figures = bench_authz()
    figures |= bench_fanout(accounts, roles)
    record("inventory", figures)


if __name__ == "__main__":
    main()
