"""Wildcard matching on hostile patterns: time per match of ``*?`` × k (k = 4 … 64) against a 200-character ARN.

Pattern families per k: ``…Z`` (the issue's shape, rejected), ``…Z*`` (``Z`` searched through the whole value,
rejected), ``…v`` (matches), and ``(*?e)`` × k ``…Z*``, where every segment holds a literal and must be searched
for (runs of bare ``?`` segments are merged, so the first three stay flat; this one shows the general path).
The figure to watch is the ratio of k=64 to k=4: linear matching keeps it at most about the pattern's growth
(16×), a backtracking matcher grows exponentially. Baselines in the same run: the raw
engine limit (``str.find`` over the same value, and ``==``) and the old regex translation on small k only, each
attempt capped by a timer and reported as "did not finish in N s".
"""

from __future__ import annotations

import re
import signal
import time

from bench.common import record

KS = (4, 8, 16, 32, 64)
OLD_KS = (2, 3, 4, 6, 8)
OLD_CAP_S = 5
VALUE = (
    "arn:aws:s3:::corp-finance-reports-eu-west-1/exports/2026/quarter-one/department-of-accounts-payable/"
    "reconciled/ledger-batch-000017/summary-of-outstanding-invoices-for-the-reporting-period-final-v"
)
VALUE = VALUE + "x" * (199 - len(VALUE)) + "v"
assert len(VALUE) == 200 and "Z" not in VALUE


def families(k: int) -> dict[str, str]:
    return {
        "rejected (…Z)": "*?" * k + "Z",
        "scanned (…Z*)": "*?" * k + "*Z*",
        "matched (…v)": "*?" * k + "v",
        "searched ((*?e)…Z*)": "*?e" * k + "*Z*",
    }


def per_call(fn, arg, budget_s: float = 0.2) -> float:
    """Seconds per call of ``fn(arg)``: repeat until ``budget_s`` is spent, best of three such rounds."""
    n, best = 1, float("inf")
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn(arg)
        spent = time.perf_counter() - t0
        if spent >= budget_s / 10:
            break
        n *= 4
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(n):
            fn(arg)
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def old_regex(pattern: str) -> re.Pattern:
    """The translation iamkit used before (kept here only as the baseline it is): ``*`` → ``.*``, ``?`` → ``.``."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    while ".*.*" in body:
        body = body.replace(".*.*", ".*")
    return re.compile(body, re.DOTALL)


class _Expired(Exception):
    pass


def capped(fn, arg, seconds: int) -> float | None:
    """Wall seconds of one ``fn(arg)``, or None when it ran past ``seconds`` (SIGALRM; the regex engine checks it)."""

    def expire(_signum, _frame):
        raise _Expired

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    t0 = time.perf_counter()
    try:
        fn(arg)
        return time.perf_counter() - t0
    except _Expired:
        return None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def main() -> None:
    from iamkit.policy.matching import Glob, compile_glob, glob_match

    figures: dict = {"value length": len(VALUE)}
    other = VALUE[:-1] + "v"
    find_s = per_call(lambda v: v.find("Z"), VALUE)
    eq_s = per_call(lambda v: v == other, VALUE)
    figures["baseline str.find over the value, us"] = round(find_s * 1e6, 3)
    figures["baseline == of two equal values, us"] = round(eq_s * 1e6, 3)
    for name in families(4):
        times = {}
        for k in KS:
            pattern = families(k)[name]
            expected = name.startswith("matched")  # VALUE holds no "Z"
            assert glob_match(pattern, VALUE) is expected  # checked answer, warms the compile cache
            matches = compile_glob(pattern, case_sensitive=True).matches
            times[k] = per_call(matches, VALUE)
            figures[f"{name} k={k}: us per match"] = round(times[k] * 1e6, 3)
        cold = per_call(lambda p: Glob(p, case_sensitive=True).matches(VALUE), families(64)[name])
        figures[f"{name} k=64: us per compile + match (cold)"] = round(cold * 1e6, 2)
        figures[f"{name} ratio k=64 / k=4"] = round(times[64] / times[4], 2)
        figures[f"{name} k=64 vs str.find"] = round(times[64] / find_s, 1)
    for k in OLD_KS:
        rx = old_regex(families(k)["rejected (…Z)"])
        took = capped(rx.fullmatch, VALUE, OLD_CAP_S)
        figures[f"old regex rejected (…Z) k={k}"] = (
            f"did not finish in {OLD_CAP_S} s" if took is None else f"{took * 1e6:.1f} us"
        )
        if took is None:
            break
    record("glob", figures)


if __name__ == "__main__":
    main()
