"""Sandbox seed time: the default sandbox and 5 members x 200 roles, against the raw cost of the same
number of bare moto CreateRole calls over HTTP (the floor any API-driven seeding would pay)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from bench.common import record, timed


def _seed(server, *, seed: int, accounts: int, roles: int) -> tuple[float, int]:
    from iamkit.sandbox import seed as seed_mod

    server.seed_random(seed)
    t, (org, _) = timed(
        seed_mod.seed_all,
        server.endpoint_url,
        seed=seed,
        accounts=accounts,
        roles_per_account=roles,
        scenario="compromised-access-key",
        now=datetime.now(UTC),
    )
    return t, org.counts["total"]["roles"]


def _bare_create_role(server, n: int, account: str) -> float:
    """n CreateRole calls with boto3 against the same server: the HTTP + moto floor per role."""
    from iamkit.sandbox.server import account_session, client

    iam = client(account_session(server.endpoint_url, account), "iam", server.endpoint_url)
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    )
    iam.create_role(RoleName="warm-up", AssumeRolePolicyDocument=trust)
    t0 = time.perf_counter()
    for i in range(n):
        iam.create_role(RoleName=f"bare-{i}", AssumeRolePolicyDocument=trust)
    return time.perf_counter() - t0


def main() -> None:
    import iamkit.sandbox
    from iamkit.sandbox.server import start_server

    server = start_server()
    try:
        server.seed_random(0)
        _seed(server, seed=900, accounts=4, roles=20)  # warm imports and moto's lazy backends
        t_default, n_default = _seed(server, seed=901, accounts=4, roles=40)
        t_big, n_big = _seed(server, seed=902, accounts=5, roles=200)
        base_default = _bare_create_role(server, n_default, "990000000001")
        base_big = _bare_create_role(server, n_big, "990000000002")
        t_huge, n_huge = _seed(server, seed=904, accounts=20, roles=500)  # issue 3's inventory scale
    finally:
        server.stop()
    t_start, sb = timed(iamkit.sandbox.start, seed=903, entra=False)
    sb.stop()
    record(
        "sandbox",
        {
            "default (4 members x 40 roles): seed s": t_default,
            "default: roles seeded": n_default,
            "default: bare CreateRole x same count s": base_default,
            "default: ratio seed / bare CreateRole": t_default / base_default,
            "5 x 200: seed s": t_big,
            "5 x 200: roles seeded": n_big,
            "5 x 200: bare CreateRole x same count s": base_big,
            "5 x 200: ratio seed / bare CreateRole": t_big / base_big,
            "20 x 500: seed s": t_huge,
            "20 x 500: roles seeded": n_huge,
            "20 x 500: ratio seed / bare CreateRole (rate of 5 x 200)": t_huge / (base_big / n_big * n_huge),
            "start() default incl. trail (5000 events), no Entra s": t_start,
            "start(): of which trail generator s": sb.trail_stats.get("seconds", float("nan")),
        },
    )


if __name__ == "__main__":
    main()
