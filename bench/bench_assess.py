"""Assessment speed: ``iamkit assess`` vs cloudsplaining (installed by this script into its own venv) on the
same get-account-authorization-details file (1x: about 0.8 MB, the size of a public vulnerable-IAM lab export)
and one 10x larger, side by side, whole command lines (start-up included). Both tools are warmed by one untimed
run on the 1x file, as after a first use: iamkit's catalogue caches are written, and both interpreters may write
their bytecode (the commands run without ``PYTHONDONTWRITEBYTECODE``, which ``make`` sets: an installed package
has its bytecode, as the peer's venv does from pip, while this editable checkout would otherwise recompile iamkit
on every run). Goal: cloudsplaining / iamkit >= 10 at both sizes. Also the privilege-escalation graph for 1,000
and 10,000 principals (goal: 10x the principals costs <= 15x the time).

    .venv/bin/python -m bench.bench_assess            # default sizes, several minutes on 2 cores (the peer is slow)
    IAMKIT_BENCH_ASSESS_BASE=300 ...                  # principals in the 1x authorization-details file
    IAMKIT_BENCH_NO_PEER=1 ...                        # skip cloudsplaining (no package index reachable)
    IAMKIT_BENCH_PEER_VENV=DIR ...                    # where the peer's venv lives (default: the temp folder)
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import record, timed

PEER_VENV = Path(os.environ.get("IAMKIT_BENCH_PEER_VENV", Path(tempfile.gettempdir()) / "iamkit-bench-cloudsplaining"))
ACCT = "123456789012"
SERVICES = [
    "s3",
    "ec2",
    "lambda",
    "dynamodb",
    "sqs",
    "sns",
    "logs",
    "cloudwatch",
    "kms",
    "secretsmanager",
    "ssm",
    "ecr",
    "ecs",
    "glue",
    "athena",
    "kinesis",
    "rds",
    "elasticloadbalancing",
    "route53",
    "iam",
]
VERBS = ["Get*", "List*", "Describe*", "Put*", "Create*", "Delete*", "Update*"]


# ---------------------------------------------------------------- synthetic authorization details
def _doc(rng: random.Random, i: int) -> dict[str, Any]:
    """A realistic customer policy: mostly scoped service grants, a few wildcards, PassRole pairs, denies."""
    sts = []
    for _ in range(rng.randint(1, 4)):
        svc = rng.choice(SERVICES)
        acts = [f"{svc}:{v}" for v in rng.sample(VERBS, rng.randint(1, 3))]
        res = "*" if rng.random() < 0.5 else f"arn:aws:{svc}:us-east-1:{ACCT}:*app{i % 50}*"
        sts.append({"Effect": "Allow", "Action": acts, "Resource": res})
    r = rng.random()
    if r < 0.03:
        sts.append({"Effect": "Allow", "Action": "*", "Resource": "*"})
    elif r < 0.08:
        sts.append(
            {
                "Effect": "Allow",
                "Action": ["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"],
                "Resource": "*",
            }
        )
    elif r < 0.10:
        sts.append({"Effect": "Allow", "Action": "iam:*", "Resource": "*"})
    if rng.random() < 0.1:
        sts.append({"Effect": "Deny", "Action": "iam:*", "Resource": "*"})
    return {"Version": "2012-10-17", "Statement": sts}


def authz_details(principals: int, seed: int = 1) -> dict[str, Any]:
    """An authorization-details export with ``principals`` users+roles, groups and customer-managed policies."""
    rng = random.Random(seed)
    n_pol = max(20, principals // 10)
    policies = []
    for i in range(n_pol):
        arn = f"arn:aws:iam::{ACCT}:policy/p{i}"
        policies.append(
            {
                "PolicyName": f"p{i}",
                "PolicyId": f"ANPA{i:016d}",
                "Arn": arn,
                "Path": "/",
                "DefaultVersionId": "v1",
                "AttachmentCount": 1,
                "PermissionsBoundaryUsageCount": 0,
                "IsAttachable": True,
                "CreateDate": "2024-01-01T00:00:00Z",
                "UpdateDate": "2024-01-01T00:00:00Z",
                "PolicyVersionList": [
                    {
                        "Document": _doc(rng, i),
                        "VersionId": "v1",
                        "IsDefaultVersion": True,
                        "CreateDate": "2024-01-01T00:00:00Z",
                    }
                ],
            }
        )
    n_groups = max(5, principals // 50)
    groups = [
        {
            "Path": "/",
            "GroupName": f"g{i}",
            "GroupId": f"AGPA{i:016d}",
            "Arn": f"arn:aws:iam::{ACCT}:group/g{i}",
            "CreateDate": "2024-01-01T00:00:00Z",
            "GroupPolicyList": [],
            "AttachedManagedPolicies": [
                {"PolicyName": f"p{j}", "PolicyArn": f"arn:aws:iam::{ACCT}:policy/p{j}"}
                for j in rng.sample(range(n_pol), 2)
            ],
        }
        for i in range(n_groups)
    ]

    def attached() -> list[dict[str, str]]:
        return [
            {"PolicyName": f"p{j}", "PolicyArn": f"arn:aws:iam::{ACCT}:policy/p{j}"}
            for j in rng.sample(range(n_pol), rng.randint(1, 3))
        ]

    users, roles = [], []
    for i in range(principals // 2):
        users.append(
            {
                "Path": "/",
                "UserName": f"u{i}",
                "UserId": f"AIDA{i:016d}",
                "Arn": f"arn:aws:iam::{ACCT}:user/u{i}",
                "CreateDate": "2024-01-01T00:00:00Z",
                "UserPolicyList": [{"PolicyName": "inline", "PolicyDocument": _doc(rng, i)}]
                if rng.random() < 0.3
                else [],
                "GroupList": [f"g{rng.randrange(n_groups)}"],
                "AttachedManagedPolicies": attached(),
                "Tags": [],
            }
        )
    services = ["lambda.amazonaws.com", "ec2.amazonaws.com", "ecs-tasks.amazonaws.com", "glue.amazonaws.com"]
    for i in range(principals - principals // 2):
        if rng.random() < 0.7:
            principal: dict[str, Any] = {"Service": rng.choice(services)}
        else:
            principal = {
                "AWS": f"arn:aws:iam::{ACCT}:root"
                if rng.random() < 0.5
                else f"arn:aws:iam::{ACCT}:user/u{rng.randrange(max(1, principals // 2))}"
            }
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}],
        }
        roles.append(
            {
                "Path": "/",
                "RoleName": f"r{i}",
                "RoleId": f"AROA{i:016d}",
                "Arn": f"arn:aws:iam::{ACCT}:role/r{i}",
                "CreateDate": "2024-01-01T00:00:00Z",
                "AssumeRolePolicyDocument": trust,
                "InstanceProfileList": [],
                "RolePolicyList": [{"PolicyName": "inline", "PolicyDocument": _doc(rng, i + 7)}]
                if rng.random() < 0.3
                else [],
                "AttachedManagedPolicies": attached(),
                "Tags": [],
                "RoleLastUsed": {},
            }
        )
    return {"UserDetailList": users, "GroupDetailList": groups, "RoleDetailList": roles, "Policies": policies}


# ---------------------------------------------------------------- runners
def _peer() -> Path | None:
    """cloudsplaining's executable in its own venv, created and installed on first use (None if impossible)."""
    exe = PEER_VENV / "bin" / "cloudsplaining"
    if exe.exists():
        return exe
    try:
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True, capture_output=True)
        subprocess.run(
            [str(PEER_VENV / "bin" / "pip"), "install", "-q", "cloudsplaining"],
            check=True,
            capture_output=True,
            timeout=300,
        )
    except (subprocess.SubprocessError, OSError) as e:
        print(f"  cloudsplaining could not be installed into {PEER_VENV}: {e}")
        return None
    return exe if exe.exists() else None


def _env() -> dict[str, str]:
    """The environment of the timed commands: this one, bytecode writing allowed (see the module docstring)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _run(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=_env())
    took = time.perf_counter() - t0
    if p.returncode not in (0, 1):
        raise RuntimeError(f"{cmd[0]} failed ({p.returncode}): {p.stderr[-400:]}")
    return took


def iamkit_cli(path: Path, out: Path) -> float:
    return _run(
        [sys.executable, "-m", "iamkit.cli", "assess", "--authz-details", str(path), "-f", "json", "-o", str(out)]
    )


def peer_cli(exe: Path, path: Path, out: Path) -> float:
    out.mkdir(parents=True, exist_ok=True)
    return _run([str(exe), "scan", "-i", str(path), "-o", str(out), "-s"])


def iamkit_inprocess(path: Path) -> tuple[float, int]:
    from iamkit.assess import run
    from iamkit.inventory import from_authorization_details

    took, df = timed(lambda: run(from_authorization_details(path)))
    return took, len(df)


# ---------------------------------------------------------------- privesc graph scaling
def graph_inventory(principals: int, seed: int = 3):
    """An inventory of ``principals`` users+roles over 10 accounts, with pooled policies (frames built directly)."""
    from iamkit.inventory import Inventory

    rng = random.Random(seed)
    accounts = [f"{100000000000 + i}" for i in range(10)]
    pool = [_doc(rng, i) for i in range(60)]
    rows: dict[str, list[dict[str, Any]]] = {
        "accounts": [{"account_id": a, "org_id": "o-bench"} for a in accounts],
        "principals": [],
        "policies": [],
        "trusts": [],
    }
    from iamkit.aws.documents import trust_rows

    services = ["lambda.amazonaws.com", "ec2.amazonaws.com", "ecs-tasks.amazonaws.com"]
    for i in range(principals):
        acct = accounts[i % len(accounts)]
        is_role = i % 2 == 1
        name = f"{'r' if is_role else 'u'}{i}"
        arn = f"arn:aws:iam::{acct}:{'role' if is_role else 'user'}/{name}"
        rows["principals"].append(
            {
                "account_id": acct,
                "principal_type": "role" if is_role else "user",
                "name": name,
                "arn": arn,
                "groups": [] if is_role else [],
            }
        )
        for j in rng.sample(range(len(pool)), 2):
            rows["policies"].append(
                {
                    "account_id": acct,
                    "policy_arn": f"arn:aws:iam::{acct}:policy/p{j}",
                    "policy_name": f"p{j}",
                    "policy_type": "managed",
                    "attached_to_arn": arn,
                    "attached_to_type": "role" if is_role else "user",
                    "is_default": True,
                    "document": pool[j],
                }
            )
        if is_role:
            other = accounts[rng.randrange(len(accounts))]
            principal = (
                {"Service": rng.choice(services)} if rng.random() < 0.6 else {"AWS": f"arn:aws:iam::{other}:root"}
            )
            doc = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}],
            }
            rows["trusts"] += trust_rows(acct, arn, doc)
    return Inventory.from_rows(rows)


def graph_time(principals: int) -> tuple[float, int]:
    from iamkit.assess.privesc import build_graph, paths_to_admin

    inv = graph_inventory(principals)

    def go():
        g = build_graph(inv)
        paths_to_admin(g)
        return g

    took, g = timed(go)
    return took, len(g.edges)


def main() -> None:
    base = int(os.environ.get("IAMKIT_BENCH_ASSESS_BASE", "1200"))
    figures: dict[str, Any] = {}
    from iamkit.policy import catalog

    catalog()  # warm the action catalogue once for the in-process figures
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        files = {}
        for label, n in (("1x", base), ("10x", base * 10)):
            files[label] = t / f"authz-{label}.json"
            files[label].write_text(json.dumps(authz_details(n)))
            figures[f"authz_{label}_principals"] = n
            figures[f"authz_{label}_mb"] = round(files[label].stat().st_size / 1e6, 2)
        iamkit_cli(files["1x"], t / "warm.json")  # writes the catalogue caches and bytecode, as any first use does
        figures["load_average_before"] = round(os.getloadavg()[0], 2)
        for label, f in files.items():
            took, n = iamkit_inprocess(f)
            figures[f"iamkit_inprocess_{label}_s"] = round(took, 3)
            figures[f"iamkit_findings_{label}"] = n
            figures[f"iamkit_cli_{label}_s"] = round(iamkit_cli(f, t / f"iamkit-{label}.json"), 3)
        figures["iamkit_cli_growth_10x"] = round(figures["iamkit_cli_10x_s"] / figures["iamkit_cli_1x_s"], 2)
        exe = None if os.environ.get("IAMKIT_BENCH_NO_PEER") else _peer()
        if exe is not None:
            peer_cli(exe, files["1x"], t / "cs-warm")  # the peer's first use, untimed too
            for label, f in files.items():
                figures[f"cloudsplaining_cli_{label}_s"] = round(peer_cli(exe, f, t / f"cs-{label}"), 3)
                figures[f"ratio_cloudsplaining_over_iamkit_{label}"] = round(
                    figures[f"cloudsplaining_cli_{label}_s"] / figures[f"iamkit_cli_{label}_s"], 2
                )
            figures["cloudsplaining_cli_growth_10x"] = round(
                figures["cloudsplaining_cli_10x_s"] / figures["cloudsplaining_cli_1x_s"], 2
            )
            figures["ratio_goal"] = ">= 10 at 1x and 10x"
            figures["ratio_goal_met"] = all(
                figures[f"ratio_cloudsplaining_over_iamkit_{x}"] >= 10 for x in ("1x", "10x")
            )
        else:
            figures["cloudsplaining"] = "not run (no venv and no reachable package index)"
        figures["load_average_after"] = round(os.getloadavg()[0], 2)
    for n in (1000, 10000):
        took, edges = graph_time(n)
        figures[f"privesc_graph_{n}_principals_s"] = round(took, 3)
        figures[f"privesc_graph_{n}_edges"] = edges
    figures["privesc_growth_10x_principals"] = round(
        figures["privesc_graph_10000_principals_s"] / figures["privesc_graph_1000_principals_s"], 2
    )
    figures["privesc_growth_goal"] = "<= 15"
    print("bench_assess")
    record("assess", figures)


if __name__ == "__main__":
    main()
