"""Run the key investigation on real CloudTrail: the Invictus dataset's most active IAM-user key.

    .venv/bin/python tools/check_invictus.py [DATASET_DIR]   (default: shared/datasets/invictus-aws-cloudtrail
                                                              beside the checkout)

Loads the files into a case (in a temporary folder), traces the key, writes the facts and the summary, and
checks the facts against counts taken straight from the raw records: the key's denied calls (AccessDenied-class
codes) and its other errors. The investigation's AWS steps (owner's IAM, reach, containment) are not run: the
dataset's account is not reachable. Exit status 0 when the counts agree, 1 otherwise. Not a test: the project's
tests never depend on this dataset.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

# ../shared beside the checkout (a worktree one level deeper: ../../shared)
DEFAULTS = [Path(__file__).resolve().parents[n] / "shared" / "datasets" / "invictus-aws-cloudtrail" for n in (2, 3)]
DENIED = re.compile(r"accessdenied|unauthorized", re.I)  # written out again here: an independent count


def raw_records(folder: Path) -> list[dict]:
    out: list[dict] = []
    for p in sorted(folder.rglob("*.json")):
        doc = json.loads(p.read_text())
        out += doc.get("Records", []) if isinstance(doc, dict) else []
    return out


def main(argv: list[str]) -> int:
    from iamkit import trail
    from iamkit.case import Case
    from iamkit.investigate import access_key as inv
    from iamkit.investigate.postmortem import summarize
    from iamkit.report import build

    folder = Path(argv[0]) if argv else next((d for d in DEFAULTS if d.is_dir()), DEFAULTS[0])
    data = folder / "CloudTrail" if (folder / "CloudTrail").is_dir() else folder
    records = raw_records(data) if data.is_dir() else []
    if not records:
        print(f"no CloudTrail records under {data}", file=sys.stderr)
        return 2
    times = sorted(r["eventTime"] for r in records)
    with tempfile.TemporaryDirectory(prefix="iamkit-invictus-") as tmp:
        case = Case.create(Path(tmp), inv.PLAYBOOK, {"trail_source": str(data)})
        loaded = inv.load_trail(case, trail_source=str(data), start=times[0][:10], end=times[-1][:10])
        with trail.open(inv.trail_db(case), read_only=True) as t:
            key = t.con.execute("""SELECT access_key_id FROM events WHERE identity_type = 'IAMUser'
                                   AND access_key_id LIKE 'AKIA%' GROUP BY 1 ORDER BY count(*) DESC LIMIT 1""").fetchone()[
                0
            ]
        trace = inv.trace_key(case, key)
        summarize(case)
        build(case)
        case.finish("complete")
        f = trace.facts
        mine = [r for r in records if r["userIdentity"].get("accessKeyId") == key]
        codes = Counter(r.get("errorCode") for r in mine if r.get("errorCode"))
        denied = sum(n for c, n in codes.items() if DENIED.search(c))
        other = sum(n for c, n in codes.items() if not DENIED.search(c))
        print(
            f"loaded {loaded.counters.get('events_inserted')} events; most active IAM-user key {key}: "
            f"{len(mine)} calls, {denied} denied, {other} other errors in the raw records"
        )
        print("\n".join(f"  • {line}" for line in json.loads((case.evidence / "summary.json").read_text())["headline"]))
        print(f"case status: {Case.open(case.path).meta['status']}")
        checks = {
            "calls by the key": (f["activity"]["subject_key_calls"], len(mine)),
            "denied calls by the key": (f["activity"]["subject_key_denied"], denied),
        }
        if not f["sources"]["usual_ips"]:  # no baseline: every call of the chain is in the suspicious counts
            chain = {r["event_id"] for r in trace.events.to_dict("records")}
            raw = [r for r in records if r["eventID"] in chain]
            checks["denied calls of the chain"] = (
                f["denied"]["count"],
                sum(1 for r in raw if DENIED.search(r.get("errorCode") or "")),
            )
            checks["other errors of the chain"] = (
                f["other_errors"]["count"],
                sum(1 for r in raw if r.get("errorCode") and not DENIED.search(r["errorCode"])),
            )
        bad = {k: v for k, v in checks.items() if v[0] != v[1]}
        for k, (got, want) in checks.items():
            print(f"{'OK ' if (got, want) not in bad.values() else 'BAD'} {k}: facts {got}, raw records {want}")
        return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
