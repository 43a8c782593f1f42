"""Condition blocks evaluated per second: iamkit's compiled evaluator against a naive re-parse-every-call one.

The naive baseline is what a straightforward evaluator does: lower-case the context, parse operator names,
build regexes / IP networks / dates from the policy text on every call. Both run the same 10,000 requests over
the same realistic blocks in this process; the figure to watch is the ratio.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import random
import re
from datetime import datetime

from bench.common import record, timed
from iamkit.policy.conditions import compile_conditions, evaluate_conditions
from iamkit.policy.variables import as_context

BLOCKS = [
    {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
    {"Bool": {"aws:SecureTransport": "false"}},
    {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "198.51.100.0/24", "2001:db8::/32"]}},
    {"StringLike": {"s3:prefix": ["home/${aws:username}/*", "public/*"]}},
    {
        "StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"},
        "Bool": {"aws:MultiFactorAuthPresent": "true"},
    },
    {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:111122223333:*"}},
    {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}, "NumericLessThanEquals": {"s3:max-keys": "100"}},
    {"ForAllValues:StringLike": {"aws:TagKeys": ["env*", "team"]}, "Null": {"aws:TokenIssueTime": "false"}},
    {"StringNotEqualsIfExists": {"aws:SourceVpc": "vpc-1234"}, "NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
]


def _requests(n: int, seed: int = 7) -> list[dict]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        user = rnd.choice(["alice", "bob", "carol", "dave"])
        ctx = {
            "aws:PrincipalOrgID": rnd.choice(["o-a1b2c3d4e5", "o-other"]),
            "aws:SecureTransport": rnd.choice(["true", "false"]),
            "aws:SourceIp": rnd.choice(["203.0.113.9", "192.0.2.1", "2001:db8::5", "10.1.2.3"]),
            "aws:username": user,
            "s3:prefix": rnd.choice([f"home/{user}/docs", "home/eve/x", "public/readme"]),
            "aws:PrincipalTag/team": rnd.choice(["blue", "red"]),
            "aws:ResourceTag/team": rnd.choice(["blue", "red"]),
            "aws:MultiFactorAuthPresent": rnd.choice(["true", "false"]),
            "aws:SourceArn": f"arn:aws:sns:eu-west-1:{rnd.choice(['111122223333', '444455556666'])}:t{i % 5}",
            "aws:CurrentTime": "2026-11-29T18:00:00Z",
            "s3:max-keys": str(rnd.randint(1, 200)),
            "aws:TagKeys": rnd.sample(["env", "env-x", "team", "owner"], rnd.randint(0, 3)),
        }
        if rnd.random() < 0.5:
            ctx["aws:TokenIssueTime"] = "2026-11-29T17:00:00Z"
        out.append(ctx)
    return out


# ---- naive baseline: parse everything on every call ---------------------------------------------------------
def _naive_values(v):
    return [str(x).lower() if isinstance(x, bool) else str(x) for x in (v if isinstance(v, list) else [v])]


def _naive_sub(text, ctx):
    def rep(m):
        return str(ctx.get(m.group(1).lower(), ""))

    return re.sub(r"\$\{([^}]*)\}", rep, text)


def _naive_test(base, pol, val, ctx):
    if base in ("stringequals", "stringnotequals"):
        return val == _naive_sub(pol, ctx)
    if base in ("stringlike", "stringnotlike"):
        return re.compile(fnmatch.translate(_naive_sub(pol, ctx))).match(val) is not None
    if base == "bool":
        return pol.lower() == str(val).lower()
    if base in ("ipaddress", "notipaddress"):
        try:
            return ipaddress.ip_address(val) in ipaddress.ip_network(pol, strict=False)
        except (ValueError, TypeError):
            return False
    if base == "arnlike":
        return all(
            re.compile(fnmatch.translate(p)).match(v)
            for p, v in zip(pol.split(":", 5), val.split(":", 5), strict=False)
        )
    if base == "datelessthan":
        return datetime.fromisoformat(val) < datetime.fromisoformat(pol)
    if base == "numericlessthanequals":
        return float(val) <= float(pol)
    raise ValueError(base)


def naive_evaluate(block, context) -> bool:
    ctx = {k.lower(): v for k, v in context.items()}
    for op, keys in block.items():
        qualifier, _, base = op.rpartition(":")
        base = base.lower()
        if_exists = base.endswith("ifexists")
        base = base.removesuffix("ifexists")
        negated = "not" in base
        for key, raw in keys.items():
            vals = ctx.get(key.lower())
            if base == "null":
                if (vals is None) != (_naive_values(raw)[0] == "true"):
                    return False
                continue
            if vals is None or vals == []:
                if qualifier.lower() == "forallvalues" or if_exists or negated:
                    continue
                return False
            vals = vals if isinstance(vals, list) else [vals]
            hits = [any(_naive_test(base, p, v, ctx) for p in _naive_values(raw)) for v in vals]
            if qualifier.lower() == "forallvalues":
                ok = all((not h) if negated else h for h in hits)
            else:
                ok = any((not h) if negated else h for h in hits)
            if not ok:
                return False
    return True


def main() -> None:
    requests = _requests(10_000)
    contexts = [as_context(r) for r in requests]
    for block in BLOCKS:
        compile_conditions(block)
    pairs = [(BLOCKS[i % len(BLOCKS)], contexts[i]) for i in range(len(contexts))]
    raw_pairs = [(BLOCKS[i % len(BLOCKS)], requests[i]) for i in range(len(requests))]

    # the two evaluators must agree before their speeds mean anything
    mismatches = sum(
        evaluate_conditions(b, c).matched is not naive_evaluate(b, r)
        for (b, c), (_, r) in zip(pairs, raw_pairs, strict=True)
    )

    def run_ours(explain: bool, mode: str = "strict"):
        for block, ctx in pairs:
            evaluate_conditions(block, ctx, explain=explain, mode=mode)

    compiled_pairs = [(compile_conditions(b), c) for b, c in pairs]

    def run_precompiled():
        for cc, ctx in compiled_pairs:
            cc.evaluate(ctx, explain=False)

    def run_raw_context():
        for block, ctx in raw_pairs:
            evaluate_conditions(block, ctx, explain=False)

    def run_naive():
        for block, ctx in raw_pairs:
            naive_evaluate(block, ctx)

    n = len(pairs)
    t_naive, _ = timed(run_naive, repeat=3)
    t_fast, _ = timed(run_ours, False, repeat=3)
    t_explain, _ = timed(run_ours, True, repeat=3)
    t_disc, _ = timed(run_ours, False, "discovery", repeat=3)
    t_raw, _ = timed(run_raw_context, repeat=3)
    t_pre, _ = timed(run_precompiled, repeat=3)
    record(
        "conditions",
        {
            "blocks_evaluated": n,
            "disagreements_with_naive_baseline": mismatches,
            "naive_reparse_blocks_per_s": n / t_naive,
            "iamkit_blocks_per_s (explain=False)": n / t_fast,
            "iamkit_blocks_per_s (explain=True)": n / t_explain,
            "iamkit_blocks_per_s (discovery)": n / t_disc,
            "iamkit_blocks_per_s (plain dict context)": n / t_raw,
            "iamkit_blocks_per_s (precompiled, as the engine calls)": n / t_pre,
            "speedup_vs_naive (explain=False)": t_naive / t_fast,
            "speedup_vs_naive (explain=True)": t_naive / t_explain,
            "speedup_vs_naive (precompiled)": t_naive / t_pre,
        },
    )


if __name__ == "__main__":
    main()
