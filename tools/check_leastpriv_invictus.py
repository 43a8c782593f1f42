"""Least privilege on real CloudTrail: every principal of the Invictus dataset (IAM users and roles whose sessions
made calls) gets a candidate policy, proven by replay, without an error.

    .venv/bin/python tools/check_leastpriv_invictus.py [DATASET_DIR]   (default: shared/datasets/invictus-aws-cloudtrail
                                                                       beside the checkout)

Loads the files into a temporary store, lists the principals straight from the raw records, and for each runs
``iamkit.leastpriv.generate`` over the whole dataset (no inventory: the dataset's account is not reachable, so the
replay uses the candidate alone). Prints one line per principal (calls, authorizations, actions, coverage, size)
and the calls the catalogue could not map. Exit status 0 when every principal ran, its candidate validates and
covers 100% of its calls; 1 otherwise. Not a test: the project's tests never depend on this dataset.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

DEFAULTS = [Path(__file__).resolve().parents[n] / "shared" / "datasets" / "invictus-aws-cloudtrail" for n in (2, 3)]


def principals(folder: Path) -> Counter:
    """IAM users and roles (by the session's issuer) with their call counts, from the raw records."""
    seen: Counter = Counter()
    for p in sorted(folder.rglob("*.json")):
        doc = json.loads(p.read_text())
        for r in doc.get("Records", []) if isinstance(doc, dict) else []:
            ui = r.get("userIdentity") or {}
            if ui.get("type") == "IAMUser" and ui.get("arn"):
                seen[ui["arn"]] += 1
            elif ui.get("type") == "AssumedRole":
                issuer = ((ui.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn")
                if issuer:
                    seen[issuer] += 1
    return seen


def main(argv: list[str]) -> int:
    from iamkit import trail
    from iamkit.leastpriv import generate

    folder = Path(argv[0]) if argv else next((d for d in DEFAULTS if d.is_dir()), DEFAULTS[0])
    if not folder.is_dir():
        print(f"no dataset at {folder}", file=sys.stderr)
        return 2
    who = principals(folder)
    failed = 0
    unmapped: Counter = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "t.duckdb"
        trail.load([folder], db)
        with trail.open(db, read_only=True) as t:
            for arn, n in who.most_common():
                try:
                    r = generate(arn, t)
                except Exception as e:  # noqa: BLE001 - the point is to list every failure
                    failed += 1
                    print(f"FAIL {arn}: {e.__class__.__name__}: {e}")
                    continue
                p = r.proof
                ok = p.coverage == 1.0 and r.candidate.valid
                failed += not ok
                for reason in r.usage.skipped["reason"]:
                    if reason.startswith("no IAM action"):
                        unmapped[reason] += 1
                print(
                    f"{'ok  ' if ok else 'BAD '} {arn}: {n} records, {r.usage.events} calls, {len(r.usage.uses)} "
                    f"authorizations, {len(r.candidate.actions)} actions, coverage {p.covered}/{p.total}, "
                    f"{r.candidate.size} chars in {len(r.candidate.documents)} document(s)"
                )
    for reason, n in unmapped.most_common():
        print(f"unmapped ({n}): {reason}")
    print(f"{len(who)} principals, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
