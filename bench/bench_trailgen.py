"""Trail generator throughput: events/s generated, and generated + written as gzipped org-trail files locally,
against a baseline measured in the same run: raw ``json.dumps`` + gzip + write of the same number of one fixed
record in the same number of files. Also events per CPU-second (stable when other work shares the cores) and the
peak RSS of runs of different sizes in fresh processes (memory must stay flat as the event count grows).

Size: ``IAMKIT_BENCH_TRAIL_EVENTS`` (default 1,000,000)."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
import zlib
from pathlib import Path

from bench.common import record

EVENTS = int(os.environ.get("IAMKIT_BENCH_TRAIL_EVENTS", "1000000"))
LEVEL = 3


def bench_org():
    """A sandbox-shaped organization (5 accounts, service/deploy/SSO roles, people, CI users, an incident)."""
    from iamkit.sandbox.model import (
        AccessKey,
        Account,
        Assignment,
        Incident,
        Person,
        Resource,
        Role,
        SeededOrg,
        User,
    )

    ids = ["111111111111", "222222222222", "333333333333", "444444444444", "555555555555"]
    ous = ["Root", "Security", "Prod", "Dev", "Sandbox"]
    accounts = [
        Account(a, f"acct-{i}", ou, f"a{i}@x", is_management=i == 0)
        for i, (a, ou) in enumerate(zip(ids, ous, strict=True))
    ]
    roles, users, people, assignments, n = [], [], [], [], 0
    for a in ids:
        for svc in ("lambda", "ec2", "ecs-tasks", "states"):
            for j in range(3):
                n += 1
                name = f"{svc}-app-{j}"
                trust = {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": f"{svc}.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ]
                }
                roles.append(Role(a, name, f"arn:aws:iam::{a}:role/{name}", f"AROA{n:017d}", trust, purpose="app"))
        n += 1
        roles.append(Role(a, "deploy", f"arn:aws:iam::{a}:role/deploy", f"AROA{n:017d}", {}, purpose="cross-account"))
        for ps in ("AdministratorAccess", "ReadOnly", "Developer"):
            n += 1
            name = f"AWSReservedSSO_{ps}_{n:016x}"
            roles.append(
                Role(
                    a,
                    name,
                    f"arn:aws:iam::{a}:role/aws-reserved/sso.amazonaws.com/{name}",
                    f"AROA{n:017d}",
                    {},
                    purpose="sso",
                )
            )
        for ps, group in (
            ("AdministratorAccess", "Admins"),
            ("ReadOnly", "Auditors"),
            ("Developer", "Developers"),
        ):
            assignments.append(Assignment(a, ps, f"arn:ps/{ps}", "GROUP", group, f"g-{group}"))
    roles.append(Role(ids[2], "prod-deploy", f"arn:aws:iam::{ids[2]}:role/prod-deploy", "AROAPRODDEPLOY0000001", {}))
    for i in range(10):
        upn = f"person{i}@contoso.example"
        group = ("Admins", "Auditors", "Developers")[i % 3]
        people.append(
            Person(
                upn,
                f"P {i}",
                "P",
                str(i),
                "Eng",
                f"e-{i}",
                f"idc-{i}",
                [group],
                ["app"] if i % 4 else [],
                [],
                f"192.0.2.{10 + i}",
            )
        )
        name = f"dev{i}"
        users.append(
            User(
                ids[3],
                name,
                f"arn:aws:iam::{ids[3]}:user/{name}",
                f"AIDA{i:017d}",
                person=upn,
                access_keys=[AccessKey(f"AKIADEV{i:013d}", ids[3], name, "Active", "2024-01-01T00:00:00Z")],
                console=True,
                mfa=i % 3 == 0,
            )
        )
    for i, a in enumerate(ids):
        users.append(
            User(
                a,
                "ci",
                f"arn:aws:iam::{a}:user/ci",
                f"AIDACI{i:015d}",
                access_keys=[AccessKey(f"AKIACI{i:014d}", a, "ci", "Active", "2024-01-01T00:00:00Z")],
            )
        )
    inc = Incident(
        "compromised-access-key",
        leaked_access_key_id="AKIADEV0000000000003",
        user_arn=f"arn:aws:iam::{ids[3]}:user/dev3",
        user_name="dev3",
        account_id=ids[3],
        attacker_ip="203.0.113.66",
        attacker_user_agent="python-requests/2.31.0",
        created_user_arn=f"arn:aws:iam::{ids[3]}:user/svc-backup-sync",
        created_access_key_id="AKIABACKDOOR00000001",
        target_role_arn=f"arn:aws:iam::{ids[2]}:role/prod-deploy",
        session_name="maint",
        session_access_key_id="ASIAINCIDENT00000001",
        secret_arns=[f"arn:aws:secretsmanager:us-east-1:{ids[2]}:secret:prod/db/password-AbCdEf"],
        object_arns=[f"arn:aws:s3:::c-{ids[2]}-customer-data/exports/customers.csv"],
        start="2026-11-26T14:00:00Z",
        end="2026-11-26T14:50:00Z",
    )
    resources = [
        Resource(
            ids[2],
            "us-east-1",
            "s3",
            f"arn:aws:s3:::c-{ids[2]}-customer-data",
            f"c-{ids[2]}-customer-data",
            sensitive=True,
        )
    ]
    return SeededOrg(
        seed=7,
        org_id="o-bench12345",
        management_account_id=ids[0],
        accounts=accounts,
        users=users,
        roles=roles,
        resources=resources,
        people=people,
        assignments=assignments,
        incident=inc,
        identity_store_id="d-1234567890",
    )


def _cpu() -> float:
    t = os.times()  # with reaped children: the worker processes of a parallel write
    return t.user + t.system + t.children_user + t.children_system


def _run_write(n: int, workers: int, out: mp.Queue) -> None:
    """Child process: write ``n`` events, report wall, CPU (with the workers'), stats and peak RSS."""
    from iamkit.sandbox import trailgen

    org = bench_org()
    with tempfile.TemporaryDirectory() as d:
        t0, c0 = time.perf_counter(), _cpu()
        stats = trailgen.write_trail(org, dest_dir=Path(d), benign_events=n, compresslevel=LEVEL, workers=workers)
        wall, cpu = time.perf_counter() - t0, _cpu() - c0
    out.put(
        {
            "wall": wall,
            "cpu": cpu,
            "records": stats["records"],
            "files": stats["files"],
            "bytes": stats["bytes"],
            "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def _in_child(fn, *args) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=fn, args=(*args, q))
    p.start()
    res = q.get()
    p.join()
    return res


def _baseline(n_records: int, n_files: int, rec: dict) -> tuple[float, float]:
    """json.dumps + gzip + write of ``n_records`` copies of one record in ``n_files`` files: (wall, cpu)."""
    per = max(1, n_records // max(1, n_files))
    with tempfile.TemporaryDirectory() as d:
        t0, c0 = time.perf_counter(), _cpu()
        left, i = n_records, 0
        while left > 0:
            k = min(per, left)
            body = json.dumps({"Records": [rec] * k}, separators=(",", ":")).encode()
            c = zlib.compressobj(LEVEL, zlib.DEFLATED, 31)
            (Path(d) / f"f{i}.json.gz").write_bytes(c.compress(body) + c.flush())
            left -= k
            i += 1
        return time.perf_counter() - t0, _cpu() - c0


def main() -> None:
    from iamkit.sandbox import trailgen

    org = bench_org()
    n = EVENTS
    cores = os.cpu_count() or 1
    t0, c0 = time.perf_counter(), _cpu()
    count = sum(1 for _ in trailgen.generate(org, benign_events=n))
    gen_wall, gen_cpu = time.perf_counter() - t0, _cpu() - c0

    small = _in_child(_run_write, max(1000, n // 10), 1)
    big = _in_child(_run_write, n, 1)
    par = _in_child(_run_write, n, cores) if cores > 1 else big
    fixed = next(iter(trailgen.generate(org, benign_events=0)))
    base_wall, base_cpu = _baseline(big["records"], big["files"], fixed)

    rate = big["records"] / big["wall"]
    par_rate = par["records"] / par["wall"]
    base_rate = big["records"] / base_wall
    record(
        "trailgen",
        {
            "events": big["records"],
            "files": big["files"],
            "bytes_per_event_gz": round(big["bytes"] / big["records"], 1),
            "generate_events_per_s": round(count / gen_wall),
            "generate_events_per_cpu_s": round(count / gen_cpu),
            "write_events_per_s_1_process": round(rate),
            "write_events_per_cpu_s": round(big["records"] / big["cpu"]),
            f"write_events_per_s_{cores}_processes": round(par_rate),
            "baseline_dumps_gzip_events_per_s": round(base_rate),
            "baseline_dumps_gzip_events_per_cpu_s": round(big["records"] / base_cpu),
            "ratio_write_1_process_vs_baseline": round(rate / base_rate, 3),
            f"ratio_write_{cores}_processes_vs_baseline": round(par_rate / base_rate, 3),
            "ratio_write_vs_baseline_cpu": round(base_cpu / big["cpu"], 3),
            "peak_rss_mb_small_run": round(small["maxrss_mb"], 1),
            "peak_rss_mb_big_run": round(big["maxrss_mb"], 1),
            "events_small_run": small["records"],
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
