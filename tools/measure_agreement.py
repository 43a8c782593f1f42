"""Measure how often iamkit's policy engine agrees with a folder of externally written evaluation cases.

    .venv/bin/python tools/measure_agreement.py /work/fixtures/iam-simulate [--json]

Each ``*.json`` file in the folder holds a list of cases in the shape of a public simulator's evaluation fixtures:
``request`` {action, resource {resource, accountId}, principal, context}, ``identityPolicies``,
``serviceControlPolicies`` / ``resourceControlPolicies`` (levels ``{orgIdentifier, policies[]}``),
``resourcePolicy``, ``permissionBoundaryPolicies`` / ``permissionBoundaries``, ``sessionPolicy`` and ``expected``
{response: Allowed | ImplicitlyDenied | ExplicitlyDenied}. Every case is mapped onto
:func:`iamkit.policy.evaluate` in strict mode; the script prints the agreement and the disagreements, false
``Allowed`` first (the dangerous kind). Cases that ask for the simulator's discovery mode are counted apart.

Nothing of the cases is kept in the repository: this script only reads the folder it is given. It is not a test
(``make test`` never runs it); the engine's own truth tables live in ``tests/policy``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _levels(levels: Any) -> list[list[Any]] | None:
    if levels is None:
        return None
    out = []
    for level in levels:
        out.append(list(level.get("policies") or []) if isinstance(level, dict) else list(level))
    return out


def to_call(case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(request, keyword arguments of evaluate) for one case."""
    r = case["request"]
    res = r.get("resource") or {}
    if isinstance(res, str):
        res = {"resource": res}
    request: dict[str, Any] = {
        "principal": r.get("principal"),
        "action": r["action"],
        "resource": res.get("resource") or "*",
    }
    if res.get("accountId"):
        request["resource_account"] = res["accountId"]
    if r.get("context"):
        request["context"] = r["context"]
    # the fixtures' requests say explicitly when an action is wildcard-only; otherwise "*" means "any resource"
    request["star_only"] = bool(r.get("wildcardOnlyAction"))
    kw: dict[str, Any] = {"identity_policies": case.get("identityPolicies") or []}
    if case.get("resourcePolicy") is not None:
        kw["resource_policy"] = case["resourcePolicy"]
    boundaries = case.get("permissionBoundaryPolicies", case.get("permissionBoundaries"))
    if boundaries:
        kw["permission_boundaries"] = boundaries
    if case.get("serviceControlPolicies") is not None:
        kw["scps"] = _levels(case["serviceControlPolicies"])
    if case.get("resourceControlPolicies") is not None:
        kw["rcps"] = _levels(case["resourceControlPolicies"])
    if case.get("sessionPolicy") is not None:
        kw["session_policies"] = [case["sessionPolicy"]]
    return request, kw


def measure(folder: Path) -> dict[str, Any]:
    from iamkit.errors import IamkitError
    from iamkit.policy import evaluate

    rows: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.json")):
        try:
            cases = json.loads(path.read_text())
        except ValueError as e:
            rows.append({"file": path.name, "name": "-", "expected": "-", "got": f"unreadable: {e}", "strict": True})
            continue
        for case in cases if isinstance(cases, list) else []:
            mode = str((case.get("simulation") or {}).get("mode") or "Strict").lower()
            expected = (case.get("expected") or {}).get("response")
            try:
                request, kw = to_call(case)
                got = evaluate(request, **kw, mode="strict", explain=False).result
            except (IamkitError, KeyError, TypeError) as e:
                got = f"error: {e}"
            rows.append(
                {
                    "file": path.name,
                    "name": case.get("name", "?"),
                    "expected": expected,
                    "got": got,
                    "strict": mode != "discovery",
                }
            )
    strict = [r for r in rows if r["strict"]]
    agree = [r for r in strict if r["got"] == r["expected"]]
    misses = [r for r in strict if r["got"] != r["expected"]]
    misses.sort(key=lambda r: (r["got"] != "Allowed", r["file"], r["name"]))
    return {
        "cases": len(strict),
        "agree": len(agree),
        "agreement": round(len(agree) / len(strict), 4) if strict else None,
        "false_allowed": sum(1 for r in misses if r["got"] == "Allowed"),
        "discovery_cases_not_counted": len(rows) - len(strict),
        "disagreements": misses,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path, help="folder of *.json case files")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args(argv)
    if not args.folder.is_dir():
        print(f"{args.folder}: not a folder", file=sys.stderr)
        return 2
    out = measure(args.folder)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    pct = f"{out['agreement']:.1%}" if out["agreement"] is not None else "n/a"
    print(
        f"strict cases: {out['cases']}, agree: {out['agree']} ({pct}), false Allowed: {out['false_allowed']}"
        f" (discovery-mode cases not counted: {out['discovery_cases_not_counted']})"
    )
    for r in out["disagreements"]:
        print(f"  {r['file']}: {r['name']}: expected {r['expected']}, got {r['got']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
