"""Loading and validating detection rule files: Sigma YAML and iamkit's native YAML format.

A file that cannot be read or validated becomes an error row naming the file and the reason; the
other rules still load. Sigma rules for another log source are skipped (a SigmaHQ checkout can be
pointed at as a whole).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iamkit.frames import error_row  # noqa: F401  (rule problems are errors rows; hunt and athena import it here)
from iamkit.severity import LEVELS as SEVERITIES
from iamkit.trail.detect.sigma import SigmaError, SigmaRule, parse_rule

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "detections"

NATIVE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "title", "severity", "kind"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "minLength": 1},
        "title": {"type": "string", "minLength": 1},
        "severity": {"enum": list(SEVERITIES)},
        "kind": {"type": "string"},
        "description": {"type": "string"},
        "params": {"type": "object"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "references": {"type": "array", "items": {"type": "string"}},
        "falsepositives": {"type": "array", "items": {"type": "string"}},
        "author": {"type": "string"},
        "status": {"enum": ["stable", "test", "experimental"]},
        "attack": {"type": "array", "items": {"type": "string", "pattern": r"^T\d{4}(\.\d{3})?$"}},
        "fields": {"type": "array", "items": {"type": "string", "minLength": 1}},
    },
}

#: What a rule shipped with iamkit must carry besides: an ``iamkit-`` id, a rationale (``description``),
#: false-positive notes, ATT&CK technique ids (``attack``, or Sigma-style ``attack.tNNNN`` tags; each one
#: in ``iamkit.trail.detect.attack``) and, for native rules, the ``fields`` it reads (each one a field both
#: the DuckDB store and the Athena view keep; an ``event_match`` rule's conditions may read no other).
SHIPPED_NATIVE_SCHEMA: dict[str, Any] = {
    **NATIVE_SCHEMA,
    "required": [*NATIVE_SCHEMA["required"], "description", "falsepositives", "attack", "fields"],
    "properties": {
        **NATIVE_SCHEMA["properties"],
        "id": {"type": "string", "pattern": "^iamkit-[a-z0-9-]+$"},
        "description": {"type": "string", "minLength": 20},
        "falsepositives": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        "attack": {**NATIVE_SCHEMA["properties"]["attack"], "minItems": 1},
        "fields": {**NATIVE_SCHEMA["properties"]["fields"], "minItems": 1},
    },
}


@dataclass
class Rule:
    """One detection rule: Sigma (``kind == 'sigma'``) or a native kind with parameters."""

    id: str
    title: str
    severity: str
    kind: str
    description: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    sigma: SigmaRule | None = None
    path: str = ""
    tags: list[str] = field(default_factory=list)
    attack: list[str] = field(default_factory=list)
    falsepositives: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)

    @property
    def techniques(self) -> list[str]:
        """ATT&CK technique ids: the ``attack`` list, then ``attack.tNNNN`` tags."""
        from iamkit.trail.detect.attack import techniques_of

        return techniques_of(self.attack, self.tags)


class RuleError(Exception):
    """A rule file that cannot be used; the message says why."""


def _is_cloudtrail(logsource: dict) -> bool:
    product = str(logsource.get("product", "aws")).lower()
    service = str(logsource.get("service", "cloudtrail")).lower()
    return product == "aws" and service == "cloudtrail"


def rule_from_doc(doc: Any, path: str = "", shipped: bool = False) -> Rule | None:
    """A ``Rule`` from one parsed YAML document (None for a Sigma rule of another log source); ``shipped``
    rules are held to ``SHIPPED_NATIVE_SCHEMA`` (and a Sigma one to its rationale, notes and techniques)."""
    if not isinstance(doc, dict):
        raise RuleError("not a YAML mapping")
    if "detection" in doc or "correlation" in doc:
        try:
            sr = parse_rule(doc, path)
        except SigmaError as e:
            raise RuleError(str(e)) from None
        if not _is_cloudtrail(sr.logsource):
            return None
        rule = Rule(
            id=sr.id,
            title=sr.title,
            severity=sr.level if sr.level in SEVERITIES else "medium",
            kind="sigma",
            description=sr.description,
            sigma=sr,
            path=path,
            tags=sr.tags,
            falsepositives=[str(f) for f in doc.get("falsepositives") or []],
        )
        if shipped:
            _check_shipped(rule)
        return rule
    if "kind" in doc:
        import jsonschema

        from iamkit.trail.detect.native import KINDS

        try:
            jsonschema.validate(doc, SHIPPED_NATIVE_SCHEMA if shipped else NATIVE_SCHEMA)
        except jsonschema.ValidationError as e:
            where = "/".join(str(x) for x in e.absolute_path) or "rule"
            raise RuleError(f"{where}: {e.message}") from None
        if doc["kind"] not in KINDS:
            raise RuleError(f"unknown native kind {doc['kind']!r}; known: {', '.join(sorted(KINDS))}")
        rule = Rule(
            id=doc["id"],
            title=doc["title"],
            severity=doc["severity"],
            kind=doc["kind"],
            description=doc.get("description", ""),
            params=dict(doc.get("params") or {}),
            path=path,
            tags=list(doc.get("tags") or []),
            attack=list(doc.get("attack") or []),
            falsepositives=list(doc.get("falsepositives") or []),
            fields=list(doc.get("fields") or []),
        )
        _check_fields(rule)
        if shipped:
            _check_shipped(rule)
        return rule
    raise RuleError("neither a Sigma rule (no 'detection') nor a native rule (no 'kind')")


def _check_fields(rule: Rule) -> None:
    """Every declared field is one both dialects read (a column or a path in a kept subtree), and an
    ``event_match`` rule's conditions read only declared fields."""
    from iamkit.trail import dialect
    from iamkit.trail.detect.native import NativeError, condition_fields, field_sql

    for f in rule.fields:
        try:
            for name in dialect.DIALECTS:
                field_sql(f, dialect.get(name))
        except NativeError as e:
            raise RuleError(f"fields: {e}") from None
    if rule.kind == "event_match" and rule.fields:
        undeclared = sorted(set(condition_fields(rule.params)) - set(rule.fields))
        if undeclared:
            raise RuleError(f"params: reads field(s) {', '.join(undeclared)} not declared in fields")


def _check_shipped(rule: Rule) -> None:
    from iamkit.trail.detect.attack import TECHNIQUES

    if not rule.id.startswith("iamkit-"):
        raise RuleError(f"id: shipped rule ids start with 'iamkit-', got {rule.id!r}")
    if not rule.description.strip() or not rule.falsepositives:
        raise RuleError("a shipped rule needs a description (rationale) and falsepositives")
    if not rule.techniques:
        raise RuleError("a shipped rule names its ATT&CK technique(s): attack: [T1234] or tags: [attack.t1234]")
    unknown = [t for t in rule.techniques if t not in TECHNIQUES]
    if unknown:
        raise RuleError(f"attack: technique(s) {', '.join(unknown)} not in iamkit.trail.detect.attack.TECHNIQUES")


def load_file(path: str | Path) -> list[Rule]:
    """Rules in one YAML file (one rule per YAML document)."""
    import yaml

    path = Path(path)
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise RuleError(f"cannot read YAML: {str(e).splitlines()[0]}") from None
    except RecursionError:  # a hostile file nested thousands deep
        raise RuleError("cannot read YAML: nested too deeply") from None
    if len(docs) > 1 and any(isinstance(d, dict) and d.get("action") for d in docs):
        raise RuleError("Sigma rule collections (action: global/repeat) are not supported")
    shipped = path.resolve().is_relative_to(SHIPPED_DIR)
    rules = [rule_from_doc(d, str(path), shipped) for d in docs]
    return [r for r in rules if r is not None]


def rule_files(paths: Iterable[str | Path]) -> list[Path]:
    """YAML files under each path (a file is taken as is), sorted, README and hidden files left out."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out += sorted(
                f
                for f in p.rglob("*")
                if f.suffix.lower() in (".yml", ".yaml")
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
        elif p.exists():
            out.append(p)
        else:
            out.append(p)  # reported as unreadable by load_file
    return out


def load_rules(paths: Iterable[str | Path] | None = None) -> tuple[list[Rule], list[dict]]:
    """Rules from files/dirs (default: the shipped ``iamkit/trail/detections``) and error rows for the
    files that failed (``errors`` frame shape). Duplicate ids: the first wins, the others are errors."""
    paths = [SHIPPED_DIR] if paths is None else list(paths)
    rules: list[Rule] = []
    errors: list[dict] = []
    seen: dict[str, str] = {}
    for f in rule_files(paths):
        try:
            found = load_file(f)
        except RuleError as e:
            errors.append(error_row(str(f), "rule_invalid", str(e)))
            continue
        for r in found:
            if r.id in seen:
                errors.append(error_row(str(f), "rule_duplicate", f"rule id {r.id} already loaded from {seen[r.id]}"))
                continue
            seen[r.id] = str(f)
            rules.append(r)
    return rules, errors
