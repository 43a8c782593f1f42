"""Reading CloudTrail files of odd shapes in Python (LookupEvents output, single records, wrapped exports,
JSON lines with broken lines): every record with where it sits in its file, and every entry that is no record
named as a problem. The fast path (DuckDB's JSON reader) handles delivery files; this one the rest.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iamkit.errors import TrailError
from iamkit.trail.sources.classify import RECORD_KEYS


def _read_text(path: Path) -> str:
    with open(path, "rb") as f:
        magic = f.read(2)
    opener = gzip.open if magic == b"\x1f\x8b" else open
    with opener(path, "rb") as f:  # type: ignore[operator]
        return f.read().decode("utf-8-sig")


@dataclass
class Parsed:
    """What a file holds: its records (each with where it sits in the file) and what could not be read."""

    records: list[dict] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (where, what is wrong)

    def add(self, record: dict, where: str) -> None:
        self.records.append(record)
        self.where.append(where)


def type_name(value: Any) -> str:
    return (
        "null"
        if value is None
        else {
            "str": "a string",
            "int": "a number",
            "float": "a number",
            "bool": "a boolean",
            "list": "a list",
            "dict": "an object",
        }.get(type(value).__name__, type(value).__name__)
    )


def _at(where: str, part: str) -> str:
    return f"{where}.{part}" if where and not part.startswith("[") and not where.endswith(" ") else f"{where}{part}"


def _unwrap(obj: Any, out: Parsed, where: str = "") -> None:
    """Add the records inside ``obj`` (Records, Events/CloudTrailEvent of LookupEvents, a list, an
    Elasticsearch ``_source``, one record) to ``out``; every entry that is not a record becomes a problem
    naming where it is. Iterative: hostile nesting cannot exhaust the stack."""
    work = [(obj, where)]
    while work:
        node, at = work.pop()
        here = at.strip() or "file"
        if isinstance(node, list):
            work.extend((item, _at(at, f"[{i}]")) for i, item in reversed(list(enumerate(node))))
            continue
        if not isinstance(node, dict):
            out.problems.append((here, f"{type_name(node)}, not a record object"))
            continue
        if "Records" in node:
            if isinstance(node["Records"], list):
                work.append((node["Records"], _at(at, "Records")))
            else:
                out.problems.append((_at(at, "Records"), f"Records is {type_name(node['Records'])}, not a list"))
        elif "Events" in node:
            if isinstance(node["Events"], list):
                work.append((node["Events"], _at(at, "Events")))
            else:
                out.problems.append((_at(at, "Events"), f"Events is {type_name(node['Events'])}, not a list"))
        elif "CloudTrailEvent" in node:
            inner = node["CloudTrailEvent"]
            if isinstance(inner, str):
                try:
                    inner = json.loads(inner)
                except json.JSONDecodeError as e:
                    out.problems.append((_at(at, "CloudTrailEvent"), f"invalid JSON: {e}"))
                    continue
            if isinstance(inner, dict):
                out.add(inner, _at(at, "CloudTrailEvent"))
            else:
                out.problems.append((_at(at, "CloudTrailEvent"), f"{type_name(inner)}, not a record object"))
        elif isinstance(node.get("_source"), dict):  # Elasticsearch/OpenSearch exports
            out.add(node["_source"], _at(at, "_source"))
        elif node.keys() & RECORD_KEYS:
            out.add(node, here)
        else:
            out.problems.append((here, "unknown shape: no Records, Events, CloudTrailEvent or record fields"))


def read_python(path: Path) -> Parsed:
    """Every record of a file of any supported shape, parsed in Python (slow path, odd shapes only), with
    the entries that are not records listed. Raises ``TrailError`` when the file is not JSON at all or
    holds nothing of a trail file."""
    text = _read_text(path)
    out = Parsed()
    try:
        _unwrap(json.loads(text), out)
    except json.JSONDecodeError as first:
        lines = [(n, ln) for n, ln in enumerate(text.splitlines(), 1) if ln.strip()]
        try:
            if len(lines) < 2:
                raise ValueError
            json.loads(lines[0][1])
        except ValueError:  # not JSON lines either: the whole document is broken
            raise TrailError(f"invalid JSON: {first}") from None
        for n, line in lines:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                out.problems.append((f"line {n}", f"invalid JSON: {e}"))
                continue
            _unwrap(obj, out, f"line {n} ")
    if not out.records and [w for w, _ in out.problems] == ["file"]:
        raise TrailError(out.problems[0][1])  # the file as a whole is no trail file
    return out


def parse_python(path: Path) -> list[dict]:
    """Every record of a file of any supported shape (``read_python`` without the problems)."""
    return read_python(path).records


def shown(value: Any, limit: int = 60) -> str:
    """A value from a file, short and quoted, for a message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _unpaired_as_text(v: Any) -> Any:
    """``v`` with every unpaired UTF-16 surrogate in its strings written as the text ``\\udXXX``."""
    if isinstance(v, str):
        return v.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(v, dict):
        return {_unpaired_as_text(k): _unpaired_as_text(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_unpaired_as_text(x) for x in v]
    return v


def record_text(r: Any) -> tuple[str, bool]:
    """A parsed record as JSON text DuckDB accepts, and whether it had to be changed to be accepted.

    JSON allows ``\\ud800`` (an unpaired surrogate escape), which Python parses and DuckDB refuses; one such
    value in a field an attacker controls (a user agent) must not keep the whole file out of the store. It is
    kept as the visible text ``\\ud800``.
    """
    text = json.dumps(r, default=str, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(_unpaired_as_text(r), default=str, ensure_ascii=False), True
    return text, False
