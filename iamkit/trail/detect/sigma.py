"""Sigma YAML -> SQL ``WHERE`` clauses over the ``events`` table, for DuckDB and Trino.

SigmaHQ's AWS CloudTrail rules load as they are: dotted CloudTrail field names map to the scalar
columns where one exists and to a JSON path inside the kept subtree otherwise; equality and the
string modifiers are case-insensitive (as Sigma means it), ``re`` is case-sensitive unless ``|i``.
What cannot be expressed (aggregations, keyword searches, unknown modifiers) raises ``SigmaError``
for that rule only.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from iamkit.trail import columns
from iamkit.trail.dialect import Dialect, lit

#: the Sigma field map, generated from the column table (``iamkit.trail.columns``): top-level CloudTrail
#: record fields with a column, ``userIdentity.*`` paths with a column, and the subtrees kept whole as JSON
#: columns (keys lower-cased, dotted).
SCALAR_FIELDS, IDENTITY_FIELDS, JSON_ROOTS = columns.sigma_fields()
#: CloudTrail record fields the store does not keep: a rule naming them sees them as absent.
UNSTORED_FIELDS = {
    "eventversion", "requestid", "apiversion", "managementevent", "sharedeventid", "vpcendpointid",
    "eventcategory", "tlsdetails", "serviceeventdetails", "sessioncredentialfromconsole",
    "edgedevicedetails", "insightdetails", "addendum",
}
NON_TEXT_COLUMNS = columns.NON_TEXT_COLUMNS

IGNORED_MODIFIERS = {"windash"}
VALUE_MODIFIERS = {"contains", "startswith", "endswith", "all", "re", "i", "m", "s", "cidr", "exists",
                   "fieldref", "cased", "gt", "gte", "lt", "lte"}
_VERSION_SUFFIX = "20[0-9]{6}(v[0-9]+)?$"
_FIELD_ORDER = {"eventname": 0, "eventsource": 1, "useridentity.type": 2, "errorcode": 3}


class SigmaError(Exception):
    """A Sigma rule this compiler cannot turn into SQL; the message names the construct."""


@dataclass
class SigmaRule:
    """A parsed Sigma rule (only what the compiler and the detections frame need)."""

    id: str
    title: str
    level: str
    detection: dict[str, Any]
    conditions: list[str]
    description: str = ""
    status: str = ""
    tags: list[str] = field(default_factory=list)
    logsource: dict[str, Any] = field(default_factory=dict)
    path: str = ""


@dataclass
class Compiled:
    """A rule's SQL predicate plus warnings (e.g. fields the store does not keep)."""

    where: str
    warnings: list[str] = field(default_factory=list)


def parse_rule(doc: Any, path: str = "") -> SigmaRule:
    """Check the shape of a Sigma rule document and return it as a ``SigmaRule``."""
    if not isinstance(doc, dict):
        raise SigmaError("a Sigma rule must be a YAML mapping")
    det = doc.get("detection")
    if not isinstance(det, dict):
        raise SigmaError("missing 'detection' mapping")
    cond = det.get("condition")
    if cond is None:
        raise SigmaError("detection has no 'condition'")
    conds = cond if isinstance(cond, list) else [cond]
    if not all(isinstance(c, str) for c in conds):
        raise SigmaError("'condition' must be a string or a list of strings")
    if "correlation" in doc:
        raise SigmaError("Sigma correlation rules are not supported")
    level = str(doc.get("level") or "medium").lower()
    level = {"informational": "info"}.get(level, level)
    return SigmaRule(
        id=str(doc.get("id") or doc.get("title") or path), title=str(doc.get("title") or ""),
        level=level, detection={k: v for k, v in det.items() if k not in ("condition", "timeframe")},
        conditions=conds, description=str(doc.get("description") or "").strip(),
        status=str(doc.get("status") or ""), tags=list(doc.get("tags") or []),
        logsource=dict(doc.get("logsource") or {}), path=path)


# ---------------------------------------------------------------- fields

@dataclass(frozen=True)
class FieldExpr:
    """A SQL text expression for a Sigma field, and what it is."""

    sql: str
    column: str | None  # the scalar column, when the field is one
    known: bool = True
    json_root: str | None = None  # the JSON column of a nested field ...
    json_path: tuple[str, ...] = ()  # ... and the keys below it

    @property
    def may_cross_arrays(self) -> bool:
        """A nested field whose parents may be lists (``ipPermissions.items.cidrIp``)."""
        return self.json_root is not None and len(self.json_path) >= 2


def field_expr(name: str, dialect: Dialect) -> FieldExpr:
    """Map a (dotted) CloudTrail field name to a SQL text expression."""
    parts = name.split(".")
    head = parts[0].lower()
    if len(parts) == 1 and head in SCALAR_FIELDS:
        col = SCALAR_FIELDS[head]
        return FieldExpr(f"CAST({col} AS VARCHAR)" if col in NON_TEXT_COLUMNS else col, col)
    if head == "useridentity" and ".".join(parts[1:]).lower() in IDENTITY_FIELDS:
        col = IDENTITY_FIELDS[".".join(parts[1:]).lower()]
        return FieldExpr(col, col)
    if head in JSON_ROOTS:
        return FieldExpr(dialect.json_text(JSON_ROOTS[head], parts[1:]), None,
                         json_root=JSON_ROOTS[head], json_path=tuple(parts[1:]))
    return FieldExpr("CAST(NULL AS VARCHAR)", None, known=False)


# ---------------------------------------------------------------- values

def _value_tokens(value: str) -> list[tuple[str, str]]:
    """Split a Sigma string into ('lit', text) / ('any', '*') / ('one', '?') tokens (``\\`` escapes)."""
    out: list[tuple[str, str]] = []
    buf, i = [], 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value) and value[i + 1] in "*?\\":
            buf.append(value[i + 1])
            i += 2
            continue
        if ch in "*?":
            if buf:
                out.append(("lit", "".join(buf)))
                buf = []
            out.append(("any" if ch == "*" else "one", ch))
        else:
            buf.append(ch)
        i += 1
    if buf:
        out.append(("lit", "".join(buf)))
    return out


def _like_pattern(tokens: list[tuple[str, str]]) -> str:
    parts = []
    for kind, text in tokens:
        if kind == "any":
            parts.append("%")
        elif kind == "one":
            parts.append("_")
        else:
            parts.append(text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_"))
    return "".join(parts)


_RE_META = set("\\.^$|?*+()[]{}")


def _re_escape(text: str) -> str:
    """Escape regex metacharacters only (RE2 and Java reject some of Python's extra escapes)."""
    return "".join("\\" + ch if ch in _RE_META else ch for ch in text)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _cidr_prefixes(value: str) -> list[str]:
    """IPv4 CIDR -> the dotted prefixes whose ``startswith`` covers exactly that network."""
    try:
        net = ipaddress.ip_network(str(value), strict=False)
    except ValueError as e:
        raise SigmaError(f"bad cidr value {value!r}: {e}") from None
    if net.version != 4:
        raise SigmaError(f"cidr {value!r}: IPv6 networks are not supported")
    octets = -(-net.prefixlen // 8)  # ceil
    if octets == 0:
        return [""]
    prefixes = []
    for sub in net.subnets(new_prefix=octets * 8):
        prefixes.append(".".join(str(sub.network_address).split(".")[:octets]) + ("." if octets < 4 else ""))
    return prefixes


class _Compiler:
    def __init__(self, rule: SigmaRule, dialect: Dialect):
        self.rule, self.d, self.warnings = rule, dialect, []

    # -- one field: modifiers x values
    def field_item(self, key: str, value: Any) -> str:
        name, *mods = key.split("|")
        mods = [m.lower() for m in mods if m.lower() not in IGNORED_MODIFIERS]
        for m in mods:
            if m not in VALUE_MODIFIERS:
                raise SigmaError(f"modifier '{m}' (field {name}) is not supported")
        fx = self._field(name)
        values = value if isinstance(value, list) else [value]
        if "exists" in mods:
            first = values[0] if values else True
            want = first.strip().lower() == "true" if isinstance(first, str) else bool(first)
            return f"({fx.sql} IS {'NOT ' if want else ''}NULL)"
        preds = [self.value_pred(fx, mods, v) for v in values]
        if not preds:
            return "FALSE"
        joiner = " AND " if "all" in mods else " OR "
        if joiner == " OR " and self._plain_equality(fx, mods, values):
            return self._in_list(fx, ["".join(t for _, t in _value_tokens(_as_text(v))) for v in values])
        return preds[0] if len(preds) == 1 else "(" + joiner.join(preds) + ")"

    def _field(self, name: str) -> FieldExpr:
        fx = field_expr(name, self.d)
        if not fx.known:
            why = "is not stored" if name.lower() in UNSTORED_FIELDS else "is not a CloudTrail record field"
            self.warnings.append(f"field '{name}' {why}; treated as absent (never equal to a value)")
        return fx

    @staticmethod
    def _plain_equality(fx: FieldExpr, mods: list[str], values: list) -> bool:
        return (not mods and len(values) > 1 and fx.known and not fx.may_cross_arrays
                and all(v is not None and not isinstance(v, (dict, list)) for v in values)
                and all(all(k == "lit" for k, _ in _value_tokens(_as_text(v))) for v in values))

    def _in_list(self, fx: FieldExpr, texts: list[str]) -> str:
        """Case-insensitive equality with any of ``texts`` (plain strings, no wildcards)."""
        vals = ", ".join(lit(x.lower()) for x in texts)
        base = f"lower({fx.sql}) IN ({vals})"
        if fx.column == "event_name":  # API version suffixes: UpdateFunctionConfiguration20150331v2
            stripped = f"lower(regexp_replace(event_name, {lit(_VERSION_SUFFIX)}, ''))"
            return f"({base} OR (strpos(event_name, '20') > 0 AND {stripped} IN ({vals})))"
        return base

    def value_pred(self, fx: FieldExpr, mods: list[str], value: Any) -> str:
        expr = fx.sql
        if isinstance(value, (dict, list)):
            raise SigmaError(f"nested value {value!r} is not a Sigma value")
        if value is None:
            return f"({expr} IS NULL)"
        if "re" in mods:
            flags = "".join(f for f in ("i", "m", "s") if f in mods)
            pattern = (f"(?{flags})" if flags else "") + str(value)
            try:
                re.compile(pattern)
            except re.error as e:
                raise SigmaError(f"bad regular expression {value!r}: {e}") from None
            return self.d.regex(expr, pattern)
        if "cidr" in mods:
            prefixes = _cidr_prefixes(value)
            return "(" + " OR ".join(f"{expr} LIKE {lit(_like_pattern([('lit', p)]) + '%')} ESCAPE '\\'"
                                     for p in prefixes) + ")"
        for op, sym in (("gte", ">="), ("gt", ">"), ("lte", "<="), ("lt", "<")):
            if op in mods:
                try:
                    num = float(value)
                except (TypeError, ValueError):
                    raise SigmaError(f"|{op} needs a number, got {value!r}") from None
                return f"({self.d.try_double(expr)} {sym} {num!r})"
        cased = "cased" in mods
        if "fieldref" in mods:
            return self._fieldref(expr, mods, str(value), cased)
        tokens = _value_tokens(_as_text(value))
        if "contains" in mods:
            tokens = [("any", "*"), *tokens, ("any", "*")]
        elif "startswith" in mods:
            tokens = [*tokens, ("any", "*")]
        elif "endswith" in mods:
            tokens = [("any", "*"), *tokens]
        lhs = expr if cased else f"lower({expr})"
        if all(k == "lit" for k, _ in tokens):
            text = "".join(t for _, t in tokens)
            if fx.column == "event_name" and not cased:
                return self._in_list(fx, [text])
            pred = f"({lhs} = {lit(text if cased else text.lower())})"
        else:
            pattern = _like_pattern(tokens)
            pred = f"({lhs} LIKE {lit(pattern if cased else pattern.lower())} ESCAPE '\\')"
        if fx.may_cross_arrays:
            return f"({pred} OR ({expr} IS NULL AND {self._in_arrays(fx, tokens, cased)}))"
        return pred

    def _in_arrays(self, fx: FieldExpr, tokens: list[tuple[str, str]], cased: bool) -> str:
        """When a parent of the field is a list the JSON path finds nothing: match ``"key": value`` (or
        any element of ``"key": [...]``) in the subtree's JSON text instead; the last key only, not its
        parents, is checked."""
        key = fx.json_path[-1]
        body = "".join("[^\"]*" if k == "any" else "[^\"]" if k == "one" else _re_escape(t) for k, t in tokens)
        skip = r'(?:\[\s*(?:(?:"(?:[^"\\]|\\.)*"|[^",\[\]{}]+)\s*,\s*)*)?'  # earlier list elements
        value = f'"{body}"'
        if tokens and all(k == "lit" for k, _ in tokens):  # numbers and booleans are not quoted
            value = f"(?:{value}|{body})"
        pattern = ("" if cased else "(?i)") + f'"{_re_escape(key)}"\\s*:\\s*{skip}{value}\\s*[,}}\\]]'
        text = self.d.json_as_text(fx.json_root)
        return f"(strpos({text}, {lit(chr(34) + key + chr(34))}) > 0 AND {self.d.regex(text, pattern)})"

    def _fieldref(self, expr: str, mods: list[str], other: str, cased: bool) -> str:
        ref = self._field(other).sql
        a, b = (expr, ref) if cased else (f"lower({expr})", f"lower({ref})")
        if "contains" in mods:
            return f"(strpos({a}, {b}) > 0)"
        if "startswith" in mods:
            return f"(substr({a}, 1, length({b})) = {b})"
        if "endswith" in mods:
            return f"(length({a}) >= length({b}) AND substr({a}, length({a}) - length({b}) + 1) = {b})"
        return f"({a} = {b})"

    # -- a named selection
    def selection(self, name: str) -> str:
        body = self.rule.detection[name]
        if isinstance(body, dict):
            return self._mapping(body)
        if isinstance(body, list):
            if body and all(isinstance(x, dict) for x in body):
                parts = [self._mapping(x) for x in body]
                return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"
            raise SigmaError(f"selection '{name}' is a keyword (full-text) search, which is not supported")
        raise SigmaError(f"selection '{name}' is a keyword (full-text) search, which is not supported")

    def _mapping(self, body: dict) -> str:
        if not body:
            raise SigmaError("empty selection")
        # most selective, cheapest first: DuckDB evaluates later conjuncts only on surviving rows
        items = sorted(body.items(), key=lambda kv: _FIELD_ORDER.get(str(kv[0]).split("|")[0].lower(), 9))
        parts = [self.field_item(str(k), v) for k, v in items]
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"


# ---------------------------------------------------------------- conditions

_TOKEN = re.compile(r"\s*(\(|\)|\||[^\s()|]+)")


def _tokenize(text: str) -> list[str]:
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            break
        out.append(m.group(1))
        pos = m.end()
    return out


class _CondParser:
    """Recursive descent over ``and``/``or``/``not``, parentheses, ``1 of``/``all of``."""

    def __init__(self, text: str, comp: _Compiler):
        self.toks, self.i, self.c = _tokenize(text), 0, comp
        if "|" in self.toks:
            raise SigmaError(f"aggregation in condition {text!r} ('| count()' etc.) is not supported")

    def peek(self) -> str | None:
        return self.toks[self.i].lower() if self.i < len(self.toks) else None

    def take(self) -> str:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self) -> str:
        if not self.toks:
            raise SigmaError("empty condition")
        out = self.or_()
        if self.i != len(self.toks):
            raise SigmaError(f"unexpected '{self.toks[self.i]}' in condition")
        return out

    def or_(self) -> str:
        parts = [self.and_()]
        while self.peek() == "or":
            self.take()
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def and_(self) -> str:
        parts = [self.not_()]
        while self.peek() == "and":
            self.take()
            parts.append(self.not_())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def not_(self) -> str:
        if self.peek() == "not":
            self.take()
            return f"(NOT coalesce({self.not_()}, FALSE))"
        return self.atom()

    def atom(self) -> str:
        tok = self.peek()
        if tok is None:
            raise SigmaError("condition ends early")
        if tok == "(":
            self.take()
            inner = self.or_()
            if self.peek() != ")":
                raise SigmaError("unbalanced parentheses in condition")
            self.take()
            return inner
        if tok in ("1", "any", "all") and self.i + 1 < len(self.toks) and self.toks[self.i + 1].lower() == "of":
            quant = self.take().lower()
            self.take()
            if self.peek() is None:
                raise SigmaError(f"'{quant} of' without a target")
            names = self._targets(self.take())
            parts = [self.c.selection(n) for n in names]
            joiner = " AND " if quant == "all" else " OR "
            return parts[0] if len(parts) == 1 else "(" + joiner.join(parts) + ")"
        if tok in ("and", "or", ")"):
            raise SigmaError(f"unexpected '{tok}' in condition")
        name = self.take()
        if name not in self.c.rule.detection:
            raise SigmaError(f"condition names unknown selection '{name}'")
        return self.c.selection(name)

    def _targets(self, pattern: str) -> list[str]:
        keys = list(self.c.rule.detection)
        if pattern.lower() == "them":
            names = [k for k in keys if not k.startswith("_")]
        else:
            names = [k for k in keys if fnmatch.fnmatchcase(k, pattern)]
        if not names:
            raise SigmaError(f"'of {pattern}' matches no selection")
        return names


def compile_rule(rule: SigmaRule, dialect: Dialect) -> Compiled:
    """The rule's detection as one SQL boolean expression over ``events`` columns."""
    comp = _Compiler(rule, dialect)
    parts = [_CondParser(c, comp).parse() for c in rule.conditions]
    where = parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"
    return Compiled(where=where, warnings=list(dict.fromkeys(comp.warnings)))


def group_sql(where: str, dialect: Dialect, *, table: str = "events", id_limit: int = 1000) -> str:
    """Rows of ``table`` matching ``where``, grouped by principal and access key (the Sigma hit shape)."""
    return (f"SELECT principal_arn, access_key_id, {dialect.ids_agg(id_limit)} AS event_ids, "
            f"min(event_time) AS first_seen, max(event_time) AS last_seen, count(*) AS n, "
            f"{dialect.distinct_join('event_name')} AS detail\n"
            f"FROM {table}\nWHERE {where}\nGROUP BY principal_arn, access_key_id")


def to_sql(rule: SigmaRule, dialect: Dialect, *, table: str = "events", extra_where: str | None = None,
           id_limit: int = 1000) -> tuple[str, list[str]]:
    """The full query for ``rule``: its hits grouped by principal and access key, with warnings."""
    comp = compile_rule(rule, dialect)
    extra = f" AND ({extra_where})" if extra_where else ""
    return group_sql(f"{comp.where}{extra}", dialect, table=table, id_limit=id_limit), comp.warnings
