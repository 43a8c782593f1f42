"""The SQL dialects the trail back ends speak: DuckDB (local store) and Trino (Athena engine v3).

Only the few constructs whose spelling differs live here; everything else the library's queries and the
detection compilers emit is common ANSI SQL both engines accept. Time literals are ``iamkit.window``'s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DIALECTS = ("duckdb", "trino")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_@\-]*$")


def lit(value: str) -> str:
    """A single-quoted SQL string literal (quotes doubled; backslashes are literal in both dialects)."""
    return "'" + str(value).replace("'", "''") + "'"


@dataclass(frozen=True)
class Dialect:
    """Spellings for one SQL engine."""

    name: str

    def json_text(self, col: str, path: list[str]) -> str:
        """The scalar at ``path`` inside JSON column ``col`` as text (NULL when absent); the whole
        subtree as JSON text when ``path`` is empty."""
        if not path:
            # a whole subtree as text, with the quotes of embedded JSON strings (policy documents)
            # unescaped so that '"s3:GetObject"' matches either form
            return f"replace({self.json_as_text(col)}, {lit(chr(92) + chr(34))}, {lit(chr(34))})"
        jp = json_path(path, self.name)
        if self.name == "duckdb":
            return f"json_extract_string({col}, {lit(jp)})"
        # Trino: json_extract_scalar gives NULL for objects/arrays; fall back to their JSON text. A JSON null is
        # absent, as DuckDB's json_extract_string says (on Athena, JSON rebuilt from a struct has every field,
        # null when the record lacks it: userIdentity.invokedBy must not "exist" for every record).
        return (
            f"coalesce(json_extract_scalar({col}, {lit(jp)}), "
            f"nullif(json_format(json_extract({col}, {lit(jp)})), 'null'))"
        )

    def json_as_text(self, col: str) -> str:
        """A whole JSON column as its JSON text (Trino cannot CAST a JSON object to VARCHAR)."""
        return f"CAST({col} AS VARCHAR)" if self.name == "duckdb" else f"json_format({col})"

    def regex(self, expr: str, pattern: str) -> str:
        """True when ``expr`` matches the (RE2/Java-compatible) ``pattern`` anywhere."""
        fn = "regexp_matches" if self.name == "duckdb" else "regexp_like"
        return f"{fn}({expr}, {lit(pattern)})"

    def ids_agg(self, limit: int) -> str:
        """Event ids of a group, oldest first, at most ``limit``."""
        if self.name == "duckdb":
            return f"list(event_id ORDER BY event_time)[1:{limit}]"
        return f"slice(array_agg(event_id ORDER BY event_time), 1, {limit})"

    def distinct_join(self, expr: str) -> str:
        """Distinct non-null values of ``expr`` in a group, sorted, joined by ', '."""
        if self.name == "duckdb":
            return f"string_agg(DISTINCT {expr}, ', ' ORDER BY {expr})"
        return f"array_join(array_sort(array_distinct(array_agg({expr}))), ', ')"

    def distinct_json(self, expr: str) -> str:
        """A group's distinct non-null values of ``expr``, sorted, as a JSON array text (NULL when none)."""
        if self.name == "duckdb":
            return f"CAST(to_json(list(DISTINCT {expr} ORDER BY {expr}) FILTER (WHERE {expr} IS NOT NULL)) AS VARCHAR)"
        return (
            f"json_format(CAST(array_sort(array_distinct(array_agg({expr}) FILTER (WHERE {expr} IS NOT NULL))) "
            f"AS JSON))"
        )

    def try_double(self, expr: str) -> str:
        """``expr`` as a number, NULL when it is not one."""
        fn = "TRY_CAST" if self.name == "duckdb" else "try_cast"
        return f"{fn}({expr} AS DOUBLE)"

    def epoch_seconds(self, expr: str) -> str:
        """A timestamp as seconds since 1970 (a number)."""
        return f"epoch({expr})" if self.name == "duckdb" else f"to_unixtime({expr})"

    def interval(self, amount: int | float, unit: str) -> str:
        """An interval literal (``unit``: SECOND, MINUTE, HOUR, DAY)."""
        return f"INTERVAL '{int(amount)}' {unit.upper()}"


def json_path(keys: list[str], dialect: str) -> str:
    """A JSONPath for nested object keys; keys with unusual characters are quoted per dialect."""
    out = "$"
    for k in keys:
        if _KEY.match(k) and "-" not in k:
            out += "." + k
        elif dialect == "duckdb":
            out += '."' + k.replace('"', '\\"') + '"'
        else:
            out += '["' + k.replace('"', '\\"') + '"]'
    return out


def get(name: str) -> Dialect:
    """The dialect called ``name`` (duckdb|trino, case-insensitive; athena means trino)."""
    from iamkit.errors import BadInput

    key = name.lower().strip()
    key = "trino" if key == "athena" else key
    if key not in DIALECTS:
        raise BadInput(f"unknown SQL dialect {name!r}: use duckdb or trino")
    return Dialect(key)
