"""iamkit's pySigma backend: Sigma rules (parsed and modified by pySigma, fields mapped by ``sigma_pipeline``)
rendered as SQL predicates over the ``events`` table, for DuckDB or Trino (the dialect is a parameter).

Equality and the string modifiers are case-insensitive, as Sigma means it (``|cased`` is not); ``|re`` is
case-sensitive unless ``|i`` and runs in the engine (RE2 on DuckDB, Java regex on Trino), never in Python.
A nested field whose parents may be lists (``ipPermissions.items.cidrIp``) also matches any list element.
Correlation rules (``event_count``, ``value_count``, ``temporal``, ``temporal_ordered`` of two rules) render as a
predicate too: the rows of the
referenced rules whose group (``group-by`` fields and the ``timespan`` bucket) meets the condition.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sigma.conditions import ConditionAND, ConditionFieldEqualsValueExpression, ConditionNOT, ConditionOR
from sigma.conversion.base import TextQueryBackend
from sigma.conversion.state import ConversionState
from sigma.correlations import SigmaCorrelationConditionOperator, SigmaCorrelationRule, SigmaCorrelationType
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaFieldReference,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from iamkit.trail import columns
from iamkit.trail.detect import sigma_pipeline as fields
from iamkit.trail.dialect import Dialect, lit

#: CloudTrail record fields the store does not keep: a rule naming them sees them as absent.
UNSTORED_FIELDS = {
    "eventversion",
    "requestid",
    "apiversion",
    "managementevent",
    "sharedeventid",
    "vpcendpointid",
    "eventcategory",
    "tlsdetails",
    "serviceeventdetails",
    "sessioncredentialfromconsole",
    "edgedevicedetails",
    "insightdetails",
    "addendum",
}
_VERSION_SUFFIX = "20[0-9]{6}(v[0-9]+)?$"
#: most selective, cheapest first within an AND (DuckDB evaluates later conjuncts only on surviving rows)
_FIELD_ORDER = {"event_name": 0, "event_source": 1, "identity_type": 2, "error_code": 3}
_OPS = {
    SigmaCorrelationConditionOperator.LT: "<",
    SigmaCorrelationConditionOperator.LTE: "<=",
    SigmaCorrelationConditionOperator.GT: ">",
    SigmaCorrelationConditionOperator.GTE: ">=",
    SigmaCorrelationConditionOperator.EQ: "=",
    SigmaCorrelationConditionOperator.NEQ: "<>",
}
_COMPARE = {CompareOperators.LT: "<", CompareOperators.LTE: "<=", CompareOperators.GT: ">", CompareOperators.GTE: ">="}
_RE_META = set("\\.^$|?*+()[]{}")

Tokens = list[tuple[str, str]]  # ('lit', text) | ('any', '*') | ('one', '?')


class FieldExpr:
    """A SQL text expression for a (mapped) Sigma field, and what it is."""

    def __init__(
        self,
        sql: str,
        column: str | None = None,
        known: bool = True,
        json_root: str | None = None,
        json_path: tuple[str, ...] = (),
    ):
        self.sql, self.column, self.known, self.json_root, self.json_path = sql, column, known, json_root, json_path

    @property
    def may_cross_arrays(self) -> bool:
        """A nested field whose parents may be lists (``ipPermissions.items.cidrIp``)."""
        return self.json_root is not None and len(self.json_path) >= 2


def field_expr(name: str, d: Dialect) -> FieldExpr:
    """The SQL text of a field named as the pipeline maps it (or as CloudTrail spells it)."""
    mapped = name if fields.is_mapped(name) else fields.column_ref(name.lstrip(fields.UNKNOWN))
    if mapped is None:
        return FieldExpr("CAST(NULL AS VARCHAR)", known=False)
    if mapped in columns.BY_NAME and columns.BY_NAME[mapped].kind != columns.J:
        sql = f"CAST({mapped} AS VARCHAR)" if mapped in columns.NON_TEXT_COLUMNS else mapped
        return FieldExpr(sql, mapped)
    root, *path = mapped.split(".")
    return FieldExpr(d.json_text(root, path), json_root=root, json_path=tuple(path))


def tokens_of(s: SigmaString) -> Tokens:
    """A pySigma string as literal / wildcard tokens (a placeholder left unfilled is an error)."""
    out: Tokens = []
    for part in s.s:
        if isinstance(part, str):
            if out and out[-1][0] == "lit":
                out[-1] = ("lit", out[-1][1] + part)
            else:
                out.append(("lit", part))
        elif part == SpecialChars.WILDCARD_MULTI:
            out.append(("any", "*"))
        elif part == SpecialChars.WILDCARD_SINGLE:
            out.append(("one", "?"))
        elif isinstance(part, Placeholder):
            raise SigmaFeatureNotSupportedByBackendError(
                f"placeholder %{part.name}% (|expand) has no value: give it in placeholders={{'{part.name}': [...]}}"
            )
    return out


def _like_pattern(tokens: Tokens) -> str:
    parts = []
    for kind, text in tokens:
        if kind == "any":
            parts.append("%")
        elif kind == "one":
            parts.append("_")
        else:
            parts.append(text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_"))
    return "".join(parts)


def _re_escape(text: str) -> str:
    """Escape regex metacharacters only (RE2 and Java reject some of Python's extra escapes)."""
    return "".join("\\" + ch if ch in _RE_META else ch for ch in text)


def _plain(tokens: Tokens) -> str | None:
    """The text of tokens without wildcards (None when there is one)."""
    return "".join(t for _, t in tokens) if all(k == "lit" for k, _ in tokens) else None


class SqlBackend(TextQueryBackend):
    """Sigma -> SQL ``WHERE`` predicates over ``events`` for one dialect (``duckdb`` or ``trino``)."""

    name: ClassVar[str] = "SQL over the events table (DuckDB / Trino)"
    formats: ClassVar[dict[str, str]] = {"default": "a SQL predicate over the events table"}
    correlation_methods: ClassVar[dict[str, str]] = {"default": "GROUP BY / HAVING over the events table"}
    requires_pipeline: ClassVar[bool] = False
    # tokens (AND/OR/NOT are rendered below with explicit parentheses and SQL's three-valued NOT handled)
    or_token: ClassVar[str] = "OR"
    and_token: ClassVar[str] = "AND"
    not_token: ClassVar[str] = "NOT"
    eq_token: ClassVar[str] = " = "
    group_expression: ClassVar[str] = "({expr})"
    convert_or_as_in: ClassVar[bool] = True
    in_expressions_allow_wildcards: ClassVar[bool] = False

    def __init__(
        self,
        dialect: Dialect,
        processing_pipeline: Any = None,
        table: str = "events",
        scope: str | None = None,
        **kw: Any,
    ):
        super().__init__(processing_pipeline=processing_pipeline, **kw)
        self.d, self.table, self.scope = dialect, table, scope
        self.warnings: list[str] = []

    # ------------------------------------------------------------ boolean structure
    def convert_condition_or(self, cond: ConditionOR, state: ConversionState) -> str:
        parts = [self.convert_condition(a, state) for a in cond.args]
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def convert_condition_and(self, cond: ConditionAND, state: ConversionState) -> str:
        args = sorted(cond.args, key=lambda a: _FIELD_ORDER.get(getattr(a, "field", None) or "", 9))
        parts = [self.convert_condition(a, state) for a in args]
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> str:
        return f"(NOT coalesce({self.convert_condition(cond.args[0], state)}, FALSE))"

    def decide_convert_condition_as_in_expression(self, cond: Any, state: ConversionState) -> bool:
        if not isinstance(cond, ConditionOR) or len(cond.args) < 2:
            return False
        if not super().decide_convert_condition_as_in_expression(cond, state):
            return False
        if any(isinstance(a.value, SigmaCasedString) for a in cond.args):
            return False
        fx = self._field(cond.args[0].field)
        return fx.known and not fx.may_cross_arrays

    def convert_condition_as_in_expression(self, cond: Any, state: ConversionState) -> str:
        fx = self._field(cond.args[0].field)
        texts = [_plain(tokens_of(a.value)) if isinstance(a.value, SigmaString) else str(a.value) for a in cond.args]
        return self._in_list(fx, texts)

    # ------------------------------------------------------------ fields and values
    def _field(self, name: str | None) -> FieldExpr:
        fx = field_expr(name or "", self.d)
        if not fx.known:
            raw = (name or "").lstrip(fields.UNKNOWN)
            why = "is not stored" if raw.lower() in UNSTORED_FIELDS else "is not a CloudTrail record field"
            self.warnings.append(f"field '{raw}' {why}; treated as absent (never equal to a value)")
        return fx

    def _in_list(self, fx: FieldExpr, texts: list[str]) -> str:
        """Case-insensitive equality with any of ``texts`` (plain strings, no wildcards)."""
        vals = ", ".join(lit(x.lower()) for x in texts)
        base = f"lower({fx.sql}) IN ({vals})"
        if fx.column == "event_name":  # API version suffixes: UpdateFunctionConfiguration20150331v2
            stripped = f"lower(regexp_replace(event_name, {lit(_VERSION_SUFFIX)}, ''))"
            return f"({base} OR (strpos(event_name, '20') > 0 AND {stripped} IN ({vals})))"
        return base

    def _match(self, fx: FieldExpr, tokens: Tokens, cased: bool) -> str:
        """``fx`` matches the Sigma pattern ``tokens`` (whole value; ``*``/``?`` wildcards)."""
        lhs = fx.sql if cased else f"lower({fx.sql})"
        text = _plain(tokens)
        if text is not None:
            if fx.column == "event_name" and not cased:
                return self._in_list(fx, [text])
            pred = f"({lhs} = {lit(text if cased else text.lower())})"
        else:
            pattern = _like_pattern(tokens)
            pred = f"({lhs} LIKE {lit(pattern if cased else pattern.lower())} ESCAPE '\\')"
        if fx.may_cross_arrays:
            return f"({pred} OR ({fx.sql} IS NULL AND {self._in_arrays(fx, tokens, cased)}))"
        return pred

    def _in_arrays(self, fx: FieldExpr, tokens: Tokens, cased: bool) -> str:
        """When a parent of the field is a list the JSON path finds nothing: match ``"key": value`` (or
        any element of ``"key": [...]``) in the subtree's JSON text instead; the last key only, not its
        parents, is checked."""
        key = fx.json_path[-1]
        body = "".join('[^"]*' if k == "any" else '[^"]' if k == "one" else _re_escape(t) for k, t in tokens)
        skip = r'(?:\[\s*(?:(?:"(?:[^"\\]|\\.)*"|[^",\[\]{}]+)\s*,\s*)*)?'  # earlier list elements
        value = f'"{body}"'
        if tokens and _plain(tokens) is not None:  # numbers and booleans are not quoted
            value = f"(?:{value}|{body})"
        pattern = ("" if cased else "(?i)") + f'"{_re_escape(key)}"\\s*:\\s*{skip}{value}\\s*[,}}\\]]'
        text = self.d.json_as_text(fx.json_root)
        return f"(strpos({text}, {lit(chr(34) + key + chr(34))}) > 0 AND {self.d.regex(text, pattern)})"

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self._match(self._field(cond.field), tokens_of(cond.value), cased=False)

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self._match(self._field(cond.field), tokens_of(cond.value), cased=True)

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self._match(self._field(cond.field), [("lit", str(cond.value))], cased=False)

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        value: SigmaBool = cond.value
        return self._match(self._field(cond.field), [("lit", "true" if value.boolean else "false")], cased=False)

    def convert_condition_field_eq_val_null(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return f"({self._field(cond.field).sql} IS NULL)"

    def convert_condition_field_eq_val_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        value: SigmaExists = cond.value
        return f"({self._field(cond.field).sql} IS {'NOT ' if value.exists else ''}NULL)"

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        value: SigmaRegularExpression = cond.value
        flags = "".join(
            f
            for flag, f in (
                (SigmaRegularExpressionFlag.IGNORECASE, "i"),
                (SigmaRegularExpressionFlag.MULTILINE, "m"),
                (SigmaRegularExpressionFlag.DOTALL, "s"),
            )
            if flag in value.flags
        )
        pattern = (f"(?{flags})" if flags else "") + str(value.regexp)
        return self.d.regex(self._field(cond.field).sql, pattern)

    def convert_condition_field_eq_val_cidr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        value: SigmaCIDRExpression = cond.value
        fx = self._field(cond.field)
        preds = [self._match(fx, tokens_of(SigmaString(p)), cased=False) for p in value.expand("*")]
        return preds[0] if len(preds) == 1 else "(" + " OR ".join(preds) + ")"

    def convert_condition_field_compare_op_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        value: SigmaCompareExpression = cond.value
        return f"({self.d.try_double(self._field(cond.field).sql)} {_COMPARE[value.op]} {value.number.number!r})"

    def convert_condition_field_eq_field(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        ref: SigmaFieldReference = cond.value
        a, b = (f"lower({x.sql})" for x in (self._field(cond.field), self._field(ref.field)))
        if ref.starts_with and ref.ends_with:
            return f"(strpos({a}, {b}) > 0)"
        if ref.starts_with:
            return f"(substr({a}, 1, length({b})) = {b})"
        if ref.ends_with:
            return f"(length({a}) >= length({b}) AND substr({a}, length({a}) - length({b}) + 1) = {b})"
        return f"({a} = {b})"

    def convert_condition_field_eq_val_timestamp_part(self, cond: Any, state: ConversionState) -> str:
        raise SigmaFeatureNotSupportedByBackendError("time-part modifiers (|minute, |hour, ...) are not supported")

    def convert_condition_val_str(self, cond: Any, state: ConversionState) -> str:
        raise SigmaFeatureNotSupportedByBackendError("keyword (full-text) searches are not supported: name a field")

    def convert_condition_val_num(self, cond: Any, state: ConversionState) -> str:
        raise SigmaFeatureNotSupportedByBackendError("keyword (full-text) searches are not supported: name a field")

    def convert_condition_val_re(self, cond: Any, state: ConversionState) -> str:
        raise SigmaFeatureNotSupportedByBackendError("keyword (full-text) searches are not supported: name a field")

    def convert_condition_field_eq_query_expr(self, cond: Any, state: ConversionState) -> str:
        raise SigmaFeatureNotSupportedByBackendError("query-expression placeholders are not supported")

    def finalize_query_default(self, rule: Any, query: str, index: int, state: ConversionState) -> str:
        return query

    def finalize_output_default(self, queries: list[str]) -> list[str]:
        return queries

    # ------------------------------------------------------------ correlation rules
    def _correlation(self, rule: SigmaCorrelationRule) -> list[str]:
        preds: dict[str, str] = {}  # rule reference -> its predicate
        for ref in rule.rules or []:
            base = ref.rule
            if isinstance(base, SigmaCorrelationRule):
                raise SigmaFeatureNotSupportedByBackendError("a correlation of correlation rules is not supported")
            done = base.get_conversion_result()
            preds[ref.reference] = done[0] if len(done) == 1 else "(" + " OR ".join(done) + ")"
        cond = rule.condition
        if not hasattr(cond, "op"):
            raise SigmaFeatureNotSupportedByBackendError("extended correlation conditions are not supported")
        value = None
        if rule.type == SigmaCorrelationType.VALUE_COUNT:
            ref = cond.fieldref[0] if isinstance(cond.fieldref, list) else cond.fieldref
            value = self._field(str(ref)).sql
        kind = {
            SigmaCorrelationType.EVENT_COUNT: "event_count",
            SigmaCorrelationType.VALUE_COUNT: "value_count",
            SigmaCorrelationType.TEMPORAL: "temporal",
            SigmaCorrelationType.TEMPORAL_ORDERED: "temporal_ordered",
        }[rule.type]
        if kind == "temporal_ordered" and len(preds) != 2:
            raise SigmaFeatureNotSupportedByBackendError(
                "temporal_ordered correlations of more than two rules are not supported (the order of three or "
                "more has no GROUP BY form)"
            )
        group = [self._group_field(rule, g, preds) for g in rule.group_by or []]
        return [
            correlation_where(
                self.d,
                kind,
                list(preds.values()),
                group,
                rule.timespan.seconds,
                _OPS[cond.op],
                cond.count,
                value,
                self.table,
                self.scope,
            )
        ]

    def _group_field(self, rule: SigmaCorrelationRule, name: str, preds: dict[str, str]) -> str:
        """A group-by field's SQL; an alias takes, for each row, the field of the rule the row matched."""
        alias = rule.aliases.aliases.get(name) if rule.aliases else None
        if alias is None:
            return self._field(name).sql
        by_ref = {ref.reference: field for ref, field in alias.mapping.items()}
        whens = [
            f"WHEN coalesce({pred}, FALSE) THEN {self._field(by_ref[ref]).sql}"
            for ref, pred in preds.items()
            if ref in by_ref
        ]
        return "CASE " + " ".join(whens) + " END" if whens else "CAST(NULL AS VARCHAR)"

    def convert_correlation_event_count_rule(
        self, rule: SigmaCorrelationRule, output_format: str | None = None, method: str = "default"
    ) -> list[str]:
        return self._correlation(rule)

    def convert_correlation_value_count_rule(
        self, rule: SigmaCorrelationRule, output_format: str | None = None, method: str = "default"
    ) -> list[str]:
        return self._correlation(rule)

    def convert_correlation_temporal_rule(
        self, rule: SigmaCorrelationRule, output_format: str | None = None, method: str = "default"
    ) -> list[str]:
        return self._correlation(rule)

    def convert_correlation_temporal_ordered_rule(
        self, rule: SigmaCorrelationRule, output_format: str | None = None, method: str = "default"
    ) -> list[str]:
        return self._correlation(rule)

    def convert_correlation_value_sum_rule(
        self, rule: Any, output_format: str | None = None, method: str = "default"
    ) -> list[str]:
        raise SigmaFeatureNotSupportedByBackendError("value_sum/avg/percentile/median correlations are not supported")

    convert_correlation_value_avg_rule = convert_correlation_value_sum_rule
    convert_correlation_value_percentile_rule = convert_correlation_value_sum_rule
    convert_correlation_value_median_rule = convert_correlation_value_sum_rule


def correlation_where(
    d: Dialect,
    kind: str,
    preds: list[str],
    group: list[str],
    span: int | None,
    op: str,
    count: int | float,
    value: str | None = None,
    table: str = "events",
    scope: str | None = None,
) -> str:
    """The rows matching any of ``preds`` whose group (``group`` SQL expressions plus a ``span``-second time
    bucket, none when ``span`` is None) meets ``<aggregate> op count``: ``event_count`` counts rows,
    ``value_count`` distinct ``value``s, ``temporal`` how many of ``preds`` matched in the group,
    ``temporal_ordered`` (two rules) 2 when a first-rule row comes at or before a second-rule row. The groups
    are counted over the rows of ``table`` within ``scope`` (a predicate, e.g. the hunt's window)."""
    any_pred = preds[0] if len(preds) == 1 else "(" + " OR ".join(preds) + ")"
    keys = [f"coalesce(CAST({g} AS VARCHAR), '')" for g in group]
    if span:
        keys.append(f"CAST(CAST(floor({d.epoch_seconds('event_time')} / {int(span)}) AS BIGINT) AS VARCHAR)")
    key = "concat_ws(chr(31), " + ", ".join(keys) + ")" if keys else "''"
    if kind == "event_count":
        agg = "count(*)"
    elif kind == "value_count":
        agg = f"count(DISTINCT {value})"
    elif kind == "temporal":
        agg = " + ".join(f"max(CASE WHEN coalesce({p}, FALSE) THEN 1 ELSE 0 END)" for p in preds)
        agg = f"({agg})"
    elif kind == "temporal_ordered":  # two rules: some first-rule row at or before some second-rule row
        first, second = (f"CASE WHEN coalesce({p}, FALSE) THEN event_time END" for p in preds)
        agg = f"(CASE WHEN min({first}) <= max({second}) THEN {len(preds)} ELSE 0 END)"
    else:  # pragma: no cover - callers pass one of the three
        raise ValueError(kind)
    num = int(count) if float(count).is_integer() else float(count)
    within = f" AND ({scope})" if scope else ""
    return (
        f"({any_pred} AND {key} IN (SELECT {key} FROM {table} WHERE {any_pred}{within} "
        f"GROUP BY {key} HAVING {agg} {op} {num}))"
    )
