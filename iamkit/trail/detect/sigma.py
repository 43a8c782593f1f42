"""Sigma rules on pySigma: parse and validate a rule document, compile it to a SQL predicate over ``events``
for DuckDB or Trino (``sigma_backend.SqlBackend`` with the CloudTrail pipeline of ``sigma_pipeline``).

SigmaHQ's AWS CloudTrail rules load as they are. Sigma correlation rules (``event_count``, ``value_count``,
``temporal``) compile with the rules they name, read from the same YAML file; the older aggregation form
(``selection | count() by userIdentity.arn > 20``, ``| count(field) by …``) becomes an ``event_count`` or
``value_count`` correlation over the rule's ``timeframe`` (the whole hunted window without one). What cannot
be expressed raises ``SigmaError`` for that rule only, naming the construct. Rule ids need not be UUIDs
(iamkit's own are readable names); every other pySigma validation error stops the rule.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iamkit.trail.dialect import Dialect


class SigmaError(Exception):
    """A Sigma rule that cannot be parsed or turned into SQL; the message names the construct."""


@dataclass
class Aggregation:
    """A legacy ``| count(…) by … op N`` condition: counted field (None: events), group fields, test, span."""

    field: str | None
    group_by: list[str]
    op: str
    count: float
    timespan: int | None


@dataclass
class SigmaRule:
    """A parsed Sigma rule: the metadata the detections frame and ``iamkit trail rules`` need, and the
    documents pySigma compiles (the rule's own, plus the rules a correlation names)."""

    id: str
    title: str
    level: str
    description: str = ""
    status: str = ""
    tags: list[str] = field(default_factory=list)
    logsource: dict[str, Any] = field(default_factory=dict)
    path: str = ""
    doc: dict[str, Any] = field(default_factory=dict)
    kind: str = "detection"  # detection | correlation
    related: list[dict[str, Any]] = field(default_factory=list)  # the documents a correlation names
    aggregation: Aggregation | None = None
    #: the correlation rules (ids) in the same file that use this rule without ``generate: true``: the
    #: rule then raises no detections of its own (Sigma's default for a correlation's rules)
    used_by: list[str] = field(default_factory=list)

    @property
    def detection(self) -> dict[str, Any]:
        """The rule document's ``detection`` mapping (compiled afresh from the document each time)."""
        return self.doc.get("detection") or {}

    @property
    def attack(self) -> list[str]:
        """ATT&CK technique ids from the ``attack.tNNNN[.NNN]`` tags, upper-cased."""
        return attack_ids(self.tags)


@dataclass
class Compiled:
    """A rule's SQL predicate plus warnings (e.g. fields the store does not keep)."""

    where: str
    warnings: list[str] = field(default_factory=list)


_TECHNIQUE = re.compile(r"^attack\.(t\d{4}(?:\.\d{3})?)$", re.IGNORECASE)
_AGG = re.compile(
    r"^count\(\s*([\w.]*)\s*\)\s*(?:by\s+([\w.]+(?:\s*,\s*[\w.]+)*)\s*)?(<=|>=|==|!=|<|>|=)\s*(\d+)$", re.IGNORECASE
)
_AGG_OPS = {"==": "=", "!=": "<>"}
_SPAN = re.compile(r"^(\d+)([smhdwMy])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "M": 2629746, "y": 31556952}


def attack_ids(tags: list[Any] | None) -> list[str]:
    """ATT&CK technique ids (``T1562.008``) among Sigma-style tags (``attack.t1562.008``), in order, once."""
    out = []
    for t in tags or []:
        m = _TECHNIQUE.match(str(t).strip())
        if m and m.group(1).upper() not in out:
            out.append(m.group(1).upper())
    return out


def _level(doc: dict) -> str:
    level = str(doc.get("level") or "medium").lower()
    return {"informational": "info"}.get(level, level)


def _errors(obj: Any) -> list[Exception]:
    """pySigma's collected errors, less the one iamkit waives: rule ids need not be UUIDs."""
    from sigma.exceptions import SigmaIdentifierError

    return [e for e in getattr(obj, "errors", []) or [] if not isinstance(e, SigmaIdentifierError)]


def _message(e: Exception) -> str:
    return str(e).split(" in rule ")[0].strip() or type(e).__name__


_KEYWORDS = re.compile(r"(?<![\w*-])(and|or|not|of|them|all|any)(?![\w*-])", re.IGNORECASE)


def _lower_keywords(cond: Any) -> Any:
    """``AND``/``NOT``… as pySigma's grammar spells them (lower case); selection names are left alone."""
    if isinstance(cond, list):
        return [_lower_keywords(c) for c in cond]
    return _KEYWORDS.sub(lambda m: m.group(1).lower(), cond) if isinstance(cond, str) else cond


def _split_aggregation(doc: dict) -> tuple[dict, Aggregation | None]:
    """The document with operator keywords lower-cased and a legacy ``| count()`` aggregation cut from its
    condition, and the aggregation."""
    det = doc.get("detection")
    cond = det.get("condition") if isinstance(det, dict) else None
    if cond is not None and _lower_keywords(cond) != cond:
        doc = {**doc, "detection": {**det, "condition": _lower_keywords(cond)}}
        det, cond = doc["detection"], doc["detection"]["condition"]
    conds = cond if isinstance(cond, list) else [cond]
    if not any(isinstance(c, str) and "|" in c for c in conds):
        return doc, None
    if len(conds) != 1:
        raise SigmaError("an aggregation ('| count()') needs a single condition")
    search, _, agg = conds[0].partition("|")
    m = _AGG.match(agg.strip())
    if not m or not search.strip():
        raise SigmaError(f"aggregation {agg.strip()!r}: only 'count([field]) [by f1, f2] <op> N' is supported")
    span = None
    timeframe = det.get("timeframe")
    if timeframe is not None:
        t = _SPAN.match(str(timeframe).strip())
        if not t or int(t.group(1)) <= 0:
            raise SigmaError(f"timeframe {timeframe!r} is not a time span like 15m, 1h or 2d")
        span = int(t.group(1)) * _UNIT[t.group(2)]
    out = copy.deepcopy(doc)
    out["detection"] = {k: v for k, v in det.items() if k != "timeframe"}
    out["detection"]["condition"] = search.strip()
    group = [g.strip() for g in (m.group(2) or "").split(",") if g.strip()]
    return out, Aggregation(m.group(1) or None, group, _AGG_OPS.get(m.group(3), m.group(3)), float(m.group(4)), span)


def _siblings(doc: dict, path: str) -> list[dict]:
    """The other Sigma rule documents in the file a correlation rule came from."""
    import yaml

    if not path or not Path(path).is_file():
        return []
    try:
        docs = [d for d in yaml.safe_load_all(Path(path).read_text(encoding="utf-8")) if isinstance(d, dict)]
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return []
    return [d for d in docs if d != doc and ("detection" in d or "correlation" in d)]


def _used_by(doc: dict, related: list[dict]) -> list[str]:
    """Ids of the correlation documents among ``related`` naming ``doc`` without ``generate: true``."""
    names = {str(doc[k]) for k in ("name", "id") if doc.get(k)}
    out = []
    for other in related:
        corr = other.get("correlation")
        if isinstance(corr, dict) and not corr.get("generate"):
            refs = corr.get("rules") or []
            refs = refs if isinstance(refs, list) else [refs]
            if names & {str(r) for r in refs}:
                out.append(str(other.get("id") or other.get("name") or other.get("title")))
    return out


def parse_rule(doc: Any, path: str = "", related: list[dict] | None = None) -> SigmaRule:
    """Check a Sigma rule document with pySigma and return it as a ``SigmaRule``. A correlation rule's
    referenced rules come from ``related`` (default: the other documents of the file at ``path``)."""
    from sigma.collection import SigmaCollection
    from sigma.correlations import SigmaCorrelationRule
    from sigma.exceptions import SigmaError as PySigmaError
    from sigma.rule import SigmaRule as PySigmaRule

    if not isinstance(doc, dict):
        raise SigmaError("a Sigma rule must be a YAML mapping")
    kind = "correlation" if "correlation" in doc else "detection"
    agg = None
    try:
        if kind == "correlation":
            related = _siblings(doc, path) if related is None else related
            coll = SigmaCollection.from_dicts([*related, doc], collect_errors=True)
            errs = [e for r in coll.rules for e in _errors(r)] + _errors(coll)
            if not errs:
                coll.resolve_rule_references()
            parsed: Any = next((r for r in coll.rules if isinstance(r, SigmaCorrelationRule)), None)
        else:
            det = doc.get("detection")
            if not isinstance(det, dict):
                raise SigmaError("missing 'detection' mapping")
            if det.get("condition") is None:
                raise SigmaError("detection has no 'condition'")
            base, agg = _split_aggregation(doc)
            parsed = PySigmaRule.from_dict(base, collect_errors=True)
            related = _siblings(doc, path) if related is None else related
            errs = _errors(parsed)
    except PySigmaError as e:
        raise SigmaError(_message(e)) from None
    except RecursionError:
        raise SigmaError("the rule is nested too deeply") from None
    if errs:
        raise SigmaError(_message(errs[0]))
    if parsed is None:  # pragma: no cover - from_dicts keeps a document with 'correlation' as one
        raise SigmaError("not a Sigma correlation rule")
    return SigmaRule(
        id=str(doc.get("id") or doc.get("name") or doc.get("title") or path),
        title=str(doc.get("title") or ""),
        level=_level(doc),
        description=str(doc.get("description") or "").strip(),
        status=str(doc.get("status") or ""),
        tags=[str(t) for t in doc.get("tags") or []],
        logsource=dict(doc.get("logsource") or {}),
        path=path,
        doc=doc,
        kind=kind,
        related=list(related or []) if kind == "correlation" else [],
        aggregation=agg,
        used_by=_used_by(doc, related or []) if kind == "detection" else [],
    )


#: pySigma's validators that catch rule mistakes offline (its ATT&CK tag check downloads MITRE's data: left out)
_VALIDATORS = (
    "DanglingDetectionValidator",
    "InvalidModifierCombinationsValidator",
    "ControlCharacterValidator",
    "WildcardsInsteadOfModifiersValidator",
    "DoubleWildcardValidator",
    "DuplicateTagValidator",
)


def validate(rule: SigmaRule) -> list[str]:
    """pySigma's validation issues for a detection rule (one line each; a correlation rule has none here)."""
    from sigma.rule import SigmaRule as PySigmaRule
    from sigma.validation import SigmaValidator
    from sigma.validators.core import validators as known

    if rule.kind != "detection":
        return []
    by_name = {cls.__name__: cls for cls in known.values()}
    doc, _ = _split_aggregation(rule.doc)
    parsed = PySigmaRule.from_dict(doc, collect_errors=True)
    issues = SigmaValidator([by_name[n] for n in _VALIDATORS if n in by_name]).validate_rule(parsed)
    return list(dict.fromkeys(i.description for i in issues))


def _convert(rule: SigmaRule, backend: Any, placeholders: dict | None) -> list[str]:
    """Fresh pySigma objects for each conversion (the pipeline rewrites rules in place)."""
    from sigma.collection import SigmaCollection

    if rule.kind == "correlation":
        coll = SigmaCollection.from_dicts([*rule.related, rule.doc], collect_errors=True)
    else:
        doc, _ = _split_aggregation(rule.doc)
        coll = SigmaCollection.from_dicts([doc], collect_errors=True)
    out = backend.convert(coll)
    if not out:
        raise SigmaError("the rule produced no query")
    return out


def compile_rule(
    rule: SigmaRule,
    dialect: Dialect,
    *,
    table: str = "events",
    scope: str | None = None,
    placeholders: dict[str, Any] | None = None,
) -> Compiled:
    """The rule's detection as one SQL boolean expression over ``table``'s columns (``placeholders``: the
    values of ``|expand`` placeholders by name). A correlation or ``count()`` counts its groups over the rows
    of ``table`` within ``scope`` (a predicate: the hunt's window, accounts, regions; default all rows).
    A rule only a correlation uses (``used_by``) is ``FALSE``: Sigma's correlation rules report its matches,
    it raises none of its own."""
    from sigma.exceptions import SigmaError as PySigmaError

    from iamkit.trail.detect.sigma_backend import SqlBackend, correlation_where
    from iamkit.trail.detect.sigma_pipeline import pipeline

    backend = SqlBackend(dialect, pipeline(placeholders), table=table, scope=scope)
    try:
        parts = _convert(rule, backend, placeholders)
        if rule.aggregation is not None:
            agg = rule.aggregation
            pred = parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"
            value = backend._field(agg.field).sql if agg.field else None
            group = [backend._field(g).sql for g in agg.group_by]
            parts = [
                correlation_where(
                    dialect,
                    "value_count" if agg.field else "event_count",
                    [pred],
                    group,
                    agg.timespan,
                    agg.op,
                    agg.count,
                    value,
                    table,
                    scope,
                )
            ]
    except (PySigmaError, NotImplementedError) as e:
        raise SigmaError(_message(e)) from None
    except RecursionError:
        raise SigmaError("the rule's condition is nested too deeply") from None
    where = parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"
    if rule.used_by:  # checked and converted above, but only its correlation reports it
        where = "FALSE"
    return Compiled(where=where, warnings=list(dict.fromkeys(backend.warnings)))


def group_sql(where: str, dialect: Dialect, *, table: str = "events", id_limit: int = 1000) -> str:
    """Rows of ``table`` matching ``where``, grouped by principal and access key (the Sigma hit shape)."""
    return (
        f"SELECT principal_arn, access_key_id, {dialect.ids_agg(id_limit)} AS event_ids, "
        f"min(event_time) AS first_seen, max(event_time) AS last_seen, count(*) AS n, "
        f"{dialect.distinct_join('event_name')} AS detail\n"
        f"FROM {table}\nWHERE {where}\nGROUP BY principal_arn, access_key_id"
    )


def to_sql(
    rule: SigmaRule, dialect: Dialect, *, table: str = "events", extra_where: str | None = None, id_limit: int = 1000
) -> tuple[str, list[str]]:
    """The full query for ``rule``: its hits grouped by principal and access key, with warnings."""
    comp = compile_rule(rule, dialect, table=table, scope=extra_where)
    extra = f" AND ({extra_where})" if extra_where else ""
    return group_sql(f"{comp.where}{extra}", dialect, table=table, id_limit=id_limit), comp.warnings
