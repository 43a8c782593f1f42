"""Rule test cases as data: ``rule_cases/<rule-id>.yml`` holds ``positive:`` and ``negative:`` lists of
compact record specs, expanded here into CloudTrail records (``iamkit.trail.detect.synth``).

A spec: ``name``, ``source`` (short service name or full event source), ``who`` (``user/NAME``,
``session/ROLE/NAME``, ``root``), ``t`` (minutes after 2026-01-01) or ``day``, optional ``rp``, ``re``,
``ip``, ``ua``, ``error``, ``account``, ``key`` (the caller's access key), ``extra`` (more record fields),
``repeat`` (copies ``every`` minutes apart; ``{i}`` in any string is the copy's number) and ``hit: true``
on the records a positive case's detections must list (and only those).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from iamkit.trail.detect.synth import at, record, root, session, user

CASES = Path(__file__).parent / "rule_cases"


def _fill(value: Any, i: int) -> Any:
    if isinstance(value, str):
        return value.replace("{i}", str(i))
    if isinstance(value, dict):
        return {k: _fill(v, i) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, i) for v in value]
    return value


def _identity(who: str, key: str | None, account: str | None, tag: str = "") -> dict:
    kw = {"account": account} if account else {}
    parts = who.split("/")
    if tag and parts[0] != "root":
        parts[1] += tag
    if parts[0] == "user":
        return user(parts[1], key or f"AKIA{parts[1].upper():0<16}"[:20], **kw)
    if parts[0] == "session":
        return session(parts[1], parts[2], key or f"ASIA{parts[2].upper().replace('-', ''):0<16}"[:20], **kw)
    if parts[0] == "root":
        return root(**kw)
    raise ValueError(f"who: {who!r}")


def expand(specs: list[dict], prefix: str, tag: str = "") -> tuple[list[dict], set[str]]:
    """Records for ``specs`` and the ids of those marked ``hit`` (``tag`` appended to every principal's name)."""
    out, hits = [], set()
    for n, spec in enumerate(specs):
        every = float(spec.get("every", 1))
        for i in range(int(spec.get("repeat", 1))):
            s = _fill(spec, i)
            t = float(s.get("day", 0)) * 1440 + float(s.get("t", 0)) + i * every
            source = s["source"] if "." in s["source"] else f"{s['source']}.amazonaws.com"
            eid = f"{prefix}-{n}-{i}"
            kw = {k: s[k] for k in ("rp", "re", "ip", "ua", "error", "extra") if k in s}
            if "account" in s:
                kw["account"] = s["account"]
            out.append(record(s["name"], source, _identity(s["who"], s.get("key"), s.get("account"), tag), at(t),
                              event_id=eid, **kw))
            if s.get("hit"):
                hits.add(eid)
    return out, hits


def load(rule_id: str) -> dict:
    return yaml.safe_load((CASES / f"{rule_id}.yml").read_text())


def all_positive_records() -> list[dict]:
    """Every case file's positive records, each case's principals named apart (the Athena differential test
    makes each rule fire with them)."""
    out = []
    for n, f in enumerate(sorted(CASES.glob("*.yml"))):
        out += expand(yaml.safe_load(f.read_text())["positive"], f"{f.stem}-pos", f"-c{n}")[0]
    return out
