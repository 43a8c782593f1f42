"""Detections bench: every shipped detection over N generated events read from a Parquet file, against
the engine limit measured in the same run (a bare ``SELECT count(*)`` and a one-column full scan).

Goal (issues 6 and 15): all shipped detections over 1,000,000 events from Parquet in < 2 s. Besides a few
incident records, the positive case of every rule (``tests/trail/rule_cases``) is mixed into the noise, so
every rule has work to do.
Run: ``.venv/bin/python -m bench detect`` (``BENCH_DETECT_N`` to change N).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from bench.common import record, timed


def _incident() -> list[dict]:
    """A few records that make every shipped rule fire at least once among the generated noise."""
    from iamkit.trail.detect.synth import at, policy, root, user
    from iamkit.trail.detect.synth import record as rec

    out = [
        rec("StopLogging", "cloudtrail.amazonaws.com", root(), at(100), rp={"name": "t"}),
        rec(
            "CreateAccessKey",
            "iam.amazonaws.com",
            user("u1"),
            at(200),
            ip="10.0.1.7",
            re={"accessKey": {"userName": "svc", "accessKeyId": "AKIABENCHNEW0001"}},
        ),
        rec("ListBuckets", "s3.amazonaws.com", user("svc", "AKIABENCHNEW0001"), at(201), ip="203.0.113.9"),
        rec(
            "PutUserPolicy",
            "iam.amazonaws.com",
            user("u2"),
            at(300),
            rp={
                "userName": "u2",
                "policyName": "p",
                "policyDocument": policy({"Effect": "Allow", "Action": "*", "Resource": "*"}),
            },
        ),
        rec(
            "UpdateAssumeRolePolicy",
            "iam.amazonaws.com",
            user("u3"),
            at(400),
            rp={
                "roleName": "r",
                "policyDocument": policy({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}),
            },
        ),
    ]
    out += [
        rec("ListRoles", "iam.amazonaws.com", user("recon", "AKIARECON"), at(500 + i / 10), error="AccessDenied")
        for i in range(30)
    ]
    return out + _rule_cases()


def _rule_cases() -> list[dict]:
    """The positive case of every rule that has one (principals named apart per case)."""
    import yaml

    from iamkit.trail.detect.synth import from_specs

    cases = Path(__file__).resolve().parents[1] / "tests" / "trail" / "rule_cases"
    out: list[dict] = []
    for n, f in enumerate(sorted(cases.glob("*.yml"))):
        out += from_specs(yaml.safe_load(f.read_text())["positive"], f"{f.stem}-pos", f"-c{n}")[0]
    return out


def main() -> None:
    import duckdb

    from iamkit.trail import Trail, store
    from iamkit.trail.detect.hunt import hunt
    from iamkit.trail.detect.rules import load_rules
    from iamkit.trail.detect.synth import background_sql

    n = int(os.environ.get("BENCH_DETECT_N", "1000000"))
    with tempfile.TemporaryDirectory() as tmp:
        parquet = Path(tmp) / "events.parquet"
        build = duckdb.connect()
        store.create_schema(build)
        t_gen, _ = timed(lambda: build.execute(f"INSERT INTO events BY NAME {background_sql(n)}"))
        store.insert_records(build, _incident())
        store.export_parquet(build, parquet)
        build.close()

        con = duckdb.connect()
        store.prepare(con)
        con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{parquet}')")
        con.execute(
            "CREATE TABLE ip_context AS SELECT ip, 64500 + hash(ip) % 40 AS asn, "
            "['DE', 'FR', 'US', 'NL'][1 + (hash(ip) % 4)::INT] AS country "
            "FROM (SELECT DISTINCT source_ip AS ip FROM events)"
        )
        rows = con.execute("SELECT count(*) FROM events").fetchone()[0]

        t_count, _ = timed(lambda: con.execute("SELECT count(*) FROM events").fetchone(), repeat=3)
        t_scan, _ = timed(
            lambda: con.execute("SELECT count(*) FROM events WHERE lower(event_name) = 'stoplogging'").fetchone(),
            repeat=3,
        )
        t_json, _ = timed(
            lambda: con.execute(
                "SELECT count(*) FROM events WHERE strpos(CAST(request_parameters AS VARCHAR), 'zz') > 0"
            ).fetchone(),
            repeat=3,
        )
        rules, _ = load_rules()
        hunt(Trail(con))  # warm the file cache once
        c0 = time.process_time()
        t_hunt, res = timed(lambda: hunt(Trail(con)), repeat=3)
        cpu_hunt = (time.process_time() - c0) / 3
        slowest = sorted(res.timings.items(), key=lambda kv: -kv[1])[:4]

        mem = duckdb.connect()
        store.prepare(mem)
        mem.execute(f"CREATE TABLE events AS SELECT * FROM read_parquet('{parquet}')")
        mem.execute("CREATE TABLE ip_context AS SELECT * FROM (SELECT 'x' ip, 1 asn, 'x' country) WHERE false")
        t_hunt_mem, _ = timed(lambda: hunt(Trail(mem)), repeat=3)
        con.close()
        mem.close()

    figures = {
        "events": rows,
        "rules_shipped": len(rules),
        "detections_found": len(res.detections),
        "rules_with_detections": int(res.detections["detection_id"].nunique()),
        "rules_without_detections": ", ".join(sorted({r.id for r in rules} - set(res.detections["detection_id"])))
        or "none",
        "rule_errors": len(res.errors),
        "load_average_1min_during_run": os.getloadavg()[0],
        "cpu_cores": os.cpu_count(),
        "generate_s": t_gen,
        "baseline_count_star_s": t_count,
        "baseline_event_name_scan_s": t_scan,
        "baseline_json_column_full_scan_s": t_json,
        "hunt_all_rules_parquet_wall_s": t_hunt,
        "hunt_all_rules_parquet_cpu_s": cpu_hunt,
        "hunt_all_rules_duckdb_table_wall_s": t_hunt_mem,
        "hunt_vs_count_star_ratio": t_hunt / t_count if t_count else float("nan"),
        "hunt_vs_event_name_scan_ratio": t_hunt / t_scan if t_scan else float("nan"),
        "hunt_vs_json_full_scan_ratio": t_hunt / t_json if t_json else float("nan"),
        "goal_under_2s_at_1M": bool(t_hunt < 2.0) if rows >= 1_000_000 else "n/a (N < 1M)",
        "slowest_steps": ", ".join(f"{k} {v:.3f}s" for k, v in slowest),
    }
    record("detect", figures)


if __name__ == "__main__":
    main()
