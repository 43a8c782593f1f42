"""Which techniques of a folder of attack-emulation logs the detections notice.

    .venv/bin/python tools/measure_coverage.py DIR [--sigma SIGMA_DIR] [--min medium]

Each file of DIR (or each sub-folder: every file in it together) is one recorded technique, named after the
file or folder (``T1530_s3_bucket_opened.json``). Each is loaded into its own in-memory store, hunted with
the shipped rules (plus ``--sigma`` rules), and listed with the detections at ``--min`` severity or worse
(default medium). The last line says how many techniques raised one. Files that are not CloudTrail are
listed as skipped by the loader. Not a test: the project's tests never depend on such a dataset.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def units(folder: Path) -> list[tuple[str, Path]]:
    """(name, path) of each technique: sub-folders whole, files at the top level one by one."""
    out = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_dir() or p.suffix.lower() in (".json", ".gz", ".jsonl", ".ndjson"):
            out.append((p.name.split(".")[0], p))
    return out


def measure(path: Path, sigma: list[Path], minimum: str) -> tuple[list[str], int, list[str]]:
    """(rule ids at ``minimum`` or worse, events loaded, problems) for one technique's logs."""
    from iamkit import severity, trail

    t = trail.open()
    try:
        res = t.load([path])
        problems = [f"{r['code']}: {r['message']}" for r in res.error_rows]
        problems += [
            f"skipped {Path(p).name}: {why}" for p, why in zip(res.skipped["path"], res.skipped["reason"], strict=True)
        ]
        hunt = t.hunt(None, sigma)
        problems += [
            f"{r.code}: {r.operation}" for r in hunt.errors.itertuples() if r.code in ("rule_failed", "rule_invalid")
        ]
        det = hunt.detections
        hits = det[[severity.rank(s) <= severity.rank(minimum) for s in det["severity"]]] if len(det) else det
        return sorted(set(hits["detection_id"])) if len(hits) else [], res.events_inserted, problems
    finally:
        t.close()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--sigma", type=Path, action="append", default=[])
    ap.add_argument("--min", default="medium")
    args = ap.parse_args(argv)
    from iamkit import severity
    from iamkit.errors import BadInput

    try:
        minimum = severity.parse(args.min, flag="--min")
    except BadInput as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not args.dir.is_dir():
        print(f"error: not a folder: {args.dir}", file=sys.stderr)
        return 2
    found = 0
    all_units = units(args.dir)
    for name, path in all_units:
        rules, events, problems = measure(path, args.sigma, minimum)
        found += bool(rules)
        mark = "yes" if rules else "no "
        print(f"{mark}  {name}  ({events} events)  {', '.join(rules) or '-'}")
        for p in problems:
            print(f"       {p}")
    print(f"{found} of {len(all_units)} techniques raised a {minimum}-or-worse detection")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
