"""Load the escalation-method catalogue (``catalog/*.yml``) and validate every entry against ``schema.json``.

Parsing the YAML costs more than a whole small assessment, so the validated entries are cached beside the action
catalogue's index (same folder, same ``IAMKIT_CATALOG_CACHE=0`` switch, written atomically, a corrupt file
ignored), keyed by the sha256 of the catalogue files and the schema: editing any of them rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from iamkit.errors import BadInput

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Method:
    """One escalation method: how the graph builds its edge and what it needs."""

    id: str
    kind: str
    title: str
    summary: str
    actions: tuple[str, ...]
    grants: str
    references: tuple[str, ...]
    on: str | None = None
    target: str | None = None
    reach: str | None = None
    service: str | None = None
    resource: str | None = None
    principal_types: tuple[str, ...] = ("user", "role")


def schema() -> dict:
    """The JSON Schema every catalogue entry follows (``schema.json``)."""
    return json.loads((HERE / "schema.json").read_text())


def problems(entry: object, spec: dict | None = None) -> list[str]:
    """What is wrong with one entry against ``schema.json`` (required, unknown keys, enums, per-kind required).

    A small checker of the schema's own terms so loading does not pay for importing ``jsonschema`` (seconds);
    the tests validate the packaged catalogue with ``jsonschema`` itself as well.
    """
    spec = spec or schema()
    if not isinstance(entry, dict):
        return ["entry is not a mapping"]
    props = spec["properties"]
    out = [f"missing {k!r}" for k in spec["required"] if k not in entry]
    out += [f"unknown field {k!r}" for k in entry if k not in props]
    for k, v in entry.items():
        p = props.get(k, {})
        if "enum" in p and v not in p["enum"]:
            out.append(f"{k}: {v!r} is not one of {p['enum']}")
        if p.get("type") == "array" and (not isinstance(v, list) or len(v) < p.get("minItems", 0)):
            out.append(f"{k}: expected a list of at least {p.get('minItems', 0)} item(s)")
        if p.get("type") == "string" and not isinstance(v, str):
            out.append(f"{k}: expected text")
    for cond in spec.get("allOf", []):
        if entry.get("kind") == cond["if"]["properties"]["kind"]["const"]:
            out += [f"kind {entry['kind']} needs {k!r}" for k in cond["then"].get("required", []) if k not in entry]
    if entry.get("kind") == "passrole" and "iam:PassRole" not in (entry.get("actions") or []):
        out.append("a passrole method must list iam:PassRole")
    return out


_CACHE_FORMAT = 1


def _method(e: dict) -> Method:
    return Method(
        id=e["id"],
        kind=e["kind"],
        title=e["title"],
        summary=e["summary"],
        actions=tuple(e["actions"]),
        grants=e["grants"],
        references=tuple(e["references"]),
        on=e.get("scope"),
        target=e.get("target"),
        reach=e.get("reach"),
        service=e.get("service"),
        resource=e.get("resource"),
        principal_types=tuple(e.get("principal_types") or ("user", "role")),
    )


def _parse(base: Path, files: list[tuple[Path, bytes]], spec: dict) -> list[dict]:
    """The entries of every file, validated (BadInput names the first invalid entry)."""
    import yaml

    entries: list[dict] = []
    seen: set[str] = set()
    for path, text in files:
        try:
            items = yaml.safe_load(text.decode("utf-8")) or []
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise BadInput(f"{path}: not valid YAML ({e})") from e
        if not isinstance(items, list):
            raise BadInput(f"{path}: expected a list of escalation methods")
        for i, e in enumerate(items):
            errs = problems(e, spec)
            if errs:
                raise BadInput(f"{path.name} entry {i} ({e.get('id', '?') if isinstance(e, dict) else '?'}): {errs[0]}")
            if e["id"] in seen:
                raise BadInput(f"{path.name}: duplicate method id {e['id']}")
            seen.add(e["id"])
            entries.append(e)
    if not entries:
        raise BadInput(f"{base}: no escalation methods found")
    return entries


def _cached_entries(path: Path, spec: dict) -> list[dict] | None:
    """The entries of a cache file when it is intact and every entry still passes the schema, else None."""
    from iamkit.policy.catalog import read_cached

    data = read_cached(path)
    if not isinstance(data, dict) or data.get("format") != _CACHE_FORMAT or not isinstance(data.get("entries"), list):
        return None
    entries = data["entries"]
    if not entries or any(problems(e, spec) for e in entries):
        return None
    return entries


@lru_cache(maxsize=4)
def load(folder: str | None = None) -> tuple[Method, ...]:
    """Every method of the catalogue folder (default: the packaged one); BadInput names an invalid entry."""
    from iamkit.files import cache_dir
    from iamkit.policy.catalog import cache_enabled, write_cached

    base = Path(folder) if folder else HERE / "catalog"
    schema_text = (HERE / "schema.json").read_bytes()
    spec = json.loads(schema_text)
    files = [(p, p.read_bytes()) for p in sorted(base.glob("*.yml"))]
    digest = hashlib.sha256(schema_text)
    for p, text in files:
        digest.update(p.name.encode() + b"\0" + hashlib.sha256(text).digest())
    cache = cache_dir() / f"privesc-{digest.hexdigest()[:32]}-v{_CACHE_FORMAT}.marshal" if cache_enabled() else None
    entries = _cached_entries(cache, spec) if cache is not None else None
    if entries is None:
        entries = _parse(base, files, spec)
        if cache is not None:
            write_cached(cache, {"format": _CACHE_FORMAT, "entries": entries})
    return tuple(_method(e) for e in entries)


def by_id() -> dict[str, Method]:
    """The packaged methods by id."""
    return {m.id: m for m in load()}
