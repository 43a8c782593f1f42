"""Least privilege from CloudTrail: ``iamkit.leastpriv`` vs trailscraper (``trailscraper generate``, installed by
this script into its own venv under the cache folder) on the same logs, principal by principal.

For each principal (IAM user, or role by its sessions) both tools get the same records; each policy is then
replayed through iamkit's engine against the authorizations the principal's calls needed (its denied calls left
out): coverage by replay, policy size (characters, whitespace not counted), actions granted that no call used,
and time (iamkit: generate + prove on an already loaded store, the load timed apart; trailscraper: the whole
command, process start included, as a user runs it).

Corpora: the Invictus dataset (real records, ``shared/datasets/invictus-aws-cloudtrail`` beside the checkout, or
``IAMKIT_BENCH_INVICTUS``) and the sandbox's generated trail (``IAMKIT_BENCH_LEASTPRIV_SANDBOX=0`` skips it).

    .venv/bin/python -m bench leastpriv
    IAMKIT_BENCH_NO_PEER=1 ...     # skip trailscraper (no package index reachable)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import record

ROOT = Path(__file__).resolve().parent.parent
DATASETS = [ROOT.parents[n] / "shared" / "datasets" / "invictus-aws-cloudtrail" for n in (0, 1)]


def _peer_venv() -> Path:
    from iamkit.files import cache_dir

    return Path(os.environ.get("IAMKIT_BENCH_TRAILSCRAPER_VENV", cache_dir() / "bench" / "trailscraper"))


def peer() -> Path | None:
    """trailscraper's executable in its own venv, created and installed on first use (None if impossible)."""
    if os.environ.get("IAMKIT_BENCH_NO_PEER"):
        return None
    venv = _peer_venv()
    exe = venv / "bin" / "trailscraper"
    if exe.exists():
        return exe
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "trailscraper"], check=True, capture_output=True, timeout=600
        )
    except (subprocess.SubprocessError, OSError) as e:
        print(f"  trailscraper could not be installed into {venv} (offline?): {str(e).splitlines()[0][:200]}")
        return None
    return exe if exe.exists() else None


def who(r: dict) -> str | None:
    ui = r.get("userIdentity") or {}
    if ui.get("type") == "IAMUser":
        return ui.get("arn")
    if ui.get("type") == "AssumedRole":
        return ((ui.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn")
    return None


def run_peer(exe: Path, records: list[dict]) -> tuple[float, list[dict] | None, str]:
    t0 = time.perf_counter()
    p = subprocess.run([str(exe), "generate"], input=json.dumps({"Records": records}), capture_output=True, text=True)
    took = time.perf_counter() - t0
    if p.returncode != 0:
        return took, None, p.stderr.strip().splitlines()[-1][:200] if p.stderr.strip() else f"exit {p.returncode}"
    try:
        return took, [json.loads(p.stdout)], ""
    except ValueError:
        return took, None, "output is not JSON"


def _granted_actions(docs: list[dict]) -> set[str]:
    from iamkit.policy import expand_actions

    out: set[str] = set()
    for d in docs:
        for s in d.get("Statement", []):
            acts = s.get("Action", [])
            for a in [acts] if isinstance(acts, str) else acts:
                out.update(x.lower() for x in (expand_actions(a) or (a,)))
    return out


def corpus(name: str, records: list[dict], exe: Path | None) -> dict[str, Any]:
    from types import SimpleNamespace

    from iamkit import trail
    from iamkit.leastpriv import generate
    from iamkit.leastpriv.generate import policy_size
    from iamkit.leastpriv.prove import replay

    by: dict[str, list[dict]] = {}
    for r in records:
        w = who(r)
        if w:
            by.setdefault(w, []).append(r)
    figures: dict[str, Any] = {f"{name}_records": len(records), f"{name}_principals": len(by)}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        src.mkdir()
        (src / "trail.json").write_text(json.dumps({"Records": records}))
        db = Path(tmp) / "t.duckdb"
        t0 = time.perf_counter()
        trail.load([src], db)
        figures[f"{name}_iamkit_load_s"] = round(time.perf_counter() - t0, 3)
        with trail.open(db, read_only=True) as t:
            for arn, recs in sorted(by.items(), key=lambda kv: -len(kv[1])):
                t0 = time.perf_counter()
                res = generate(arn, t)
                took = time.perf_counter() - t0
                used = {a.lower() for a in res.usage.uses["action"]}
                row = {
                    "principal": arn,
                    "records": len(recs),
                    "authorizations": len(res.usage.uses),
                    "iamkit_s": took,
                    "iamkit_chars": res.candidate.size,
                    "iamkit_covered": res.proof.covered,
                    "iamkit_unused": len(_granted_actions(res.candidate.documents) - used),
                }
                if exe is not None:
                    ptook, docs, err = run_peer(exe, recs)
                    row["peer_s"] = ptook
                    if docs is None:
                        row["peer_error"] = err
                        row["peer_covered"] = 0
                    else:
                        rp = replay(res.usage, SimpleNamespace(documents=docs))
                        row["peer_covered"] = int((rp["decision"] == "Allowed").sum())
                        row["peer_chars"] = sum(policy_size(d) for d in docs)
                        row["peer_unused"] = len(_granted_actions(docs) - used)
                rows.append(row)
    total = sum(r["authorizations"] for r in rows)
    figures[f"{name}_authorizations"] = total
    figures[f"{name}_iamkit_coverage"] = round(sum(r["iamkit_covered"] for r in rows) / total, 4) if total else 1.0
    figures[f"{name}_iamkit_chars"] = sum(r["iamkit_chars"] for r in rows)
    figures[f"{name}_iamkit_unused_actions"] = sum(r["iamkit_unused"] for r in rows)
    figures[f"{name}_iamkit_s"] = round(sum(r["iamkit_s"] for r in rows), 3)
    if exe is not None:
        figures[f"{name}_trailscraper_coverage"] = (
            round(sum(r["peer_covered"] for r in rows) / total, 4) if total else 1.0
        )
        figures[f"{name}_trailscraper_chars"] = sum(r.get("peer_chars", 0) for r in rows)
        figures[f"{name}_trailscraper_unused_actions"] = sum(r.get("peer_unused", 0) for r in rows)
        figures[f"{name}_trailscraper_s"] = round(sum(r["peer_s"] for r in rows), 3)
        figures[f"{name}_trailscraper_errors"] = sum(1 for r in rows if r.get("peer_error"))
        figures[f"{name}_ratio_time_trailscraper_over_iamkit"] = round(
            figures[f"{name}_trailscraper_s"] / max(figures[f"{name}_iamkit_s"], 1e-9), 2
        )
        print(f"  {'principal':<70} {'auths':>6} {'iamkit cov':>10} {'ts cov':>7} {'iamkit ch':>9} {'ts ch':>7}")
        for r in rows[:15]:
            print(
                f"  {r['principal'][-70:]:<70} {r['authorizations']:>6} {r['iamkit_covered']:>10} "
                f"{r['peer_covered']:>7} {r['iamkit_chars']:>9} {r.get('peer_chars', '-'):>7}"
            )
    return figures


def _invictus() -> list[dict] | None:
    env = os.environ.get("IAMKIT_BENCH_INVICTUS")
    folder = Path(env) if env else next((d for d in DATASETS if d.is_dir()), None)
    if folder is None or not folder.is_dir():
        return None
    out: list[dict] = []
    for p in sorted(folder.rglob("*.json")):
        doc = json.loads(p.read_text())
        out += doc.get("Records", []) if isinstance(doc, dict) else []
    return out


def _sandbox() -> list[dict] | None:
    if os.environ.get("IAMKIT_BENCH_LEASTPRIV_SANDBOX") == "0":
        return None
    try:
        import iamkit.sandbox
        from iamkit.sandbox import trailgen
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as wd:
        sb = iamkit.sandbox.start(benign_events=5000, entra=False, workdir=wd)
        try:
            return list(trailgen.generate(sb.org, benign_events=5000, days=14, end=sb.now, seed=sb.org.seed))
        finally:
            sb.stop()


def main() -> None:
    exe = peer()
    figures: dict[str, Any] = {"trailscraper": str(exe) if exe else "not run (no venv and no reachable package index)"}
    for name, load in (("invictus", _invictus), ("sandbox", _sandbox)):
        records = load()
        if records is None:
            figures[name] = "not run (corpus not available)"
            continue
        figures.update(corpus(name, records, exe))
    record("leastpriv", figures)


if __name__ == "__main__":
    main()
