"""Predicates over the ``events`` columns, built once and rendered per SQL dialect (DuckDB, Trino).

``Filters`` holds what a question narrows events by: a time ``Window``, accounts, regions, a principal, an
access key, event names, source, IP, error code. ``where(dialect)`` renders it with quoted literals; with the
Athena view's ``partitions`` it also bounds the view's date, account and region partitions, so a bounded
question never scans the whole trail. ``bound_scans`` adds a predicate to every read of a table in someone's
SQL (parsed with sqlglot in its dialect). Account ids and regions are checked before they reach SQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from iamkit.errors import BadInput
from iamkit.trail.dialect import lit
from iamkit.window import Window

#: what an AWS account id and a region look like (values are checked against these before they reach SQL)
ACCOUNT = re.compile(r"\d{12}")
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
_SHAPES = {"account": ACCOUNT, "region": REGION}


def checked(what: str, values: Iterable[str] | str | None) -> tuple[str, ...] | None:
    """``values`` (a list, or one comma-separated string) as a tuple, each checked to look like an AWS
    ``what`` (account id or region); None when there are none."""
    if values is None:
        return None
    if isinstance(values, str):
        values = values.split(",")
    out = tuple(dict.fromkeys(str(v).strip() for v in values if str(v).strip()))
    for v in out:
        if not _SHAPES[what].fullmatch(v):
            shown = v if len(v) <= 40 else v[:40] + "…"
            raise BadInput(f"not an AWS {what}: {shown!r}")
    return out or None


def _names(value: str | Iterable[str] | None) -> tuple[str, ...] | None:
    if value is None or value == "":
        return None
    names = (value,) if isinstance(value, str) else tuple(value)
    return names or None


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _in(column: str, values: tuple[str, ...]) -> str:
    if len(values) == 1:
        return f"{column} = {lit(values[0])}"
    return f"{column} IN ({', '.join(lit(v) for v in values)})"


@dataclass(frozen=True)
class Partitions:
    """Columns of a day-partitioned table (the Athena view's: ``partition_date`` as ``yyyy/MM/dd`` text)."""

    date: str
    account: str
    region: str


def partition_predicate(
    window: Window,
    accounts: Iterable[str] | None = None,
    regions: Iterable[str] | None = None,
    *,
    cols: Partitions,
    prefix: str = "",
) -> str | None:
    """The partitions covering ``window`` (a day of margin each side; an open side is not bounded) and
    the given accounts and regions, as a predicate on ``cols`` (None when nothing is bounded)."""
    lo, hi = window.day_range()
    date = prefix + cols.date
    parts = []
    if lo is not None and hi is not None:
        parts.append(f"{date} BETWEEN '{lo:%Y/%m/%d}' AND '{hi:%Y/%m/%d}'")
    elif lo is not None:
        parts.append(f"{date} >= '{lo:%Y/%m/%d}'")
    elif hi is not None:
        parts.append(f"{date} <= '{hi:%Y/%m/%d}'")
    if accounts:
        parts.append(f"{prefix}{cols.account} IN ({', '.join(lit(a) for a in accounts)})")
    if regions:
        parts.append(f"{prefix}{cols.region} IN ({', '.join(lit(r) for r in regions)})")
    return " AND ".join(parts) or None


@dataclass(frozen=True)
class Filters:
    """What a question narrows events by; every field optional (none: every event)."""

    window: Window = field(default_factory=Window)
    accounts: tuple[str, ...] | None = None  # recipient_account_id
    regions: tuple[str, ...] | None = None  # aws_region
    principal: str | None = None  # principal ARN, IAM user or role name, principal id, session name
    access_key_id: str | None = None
    event_names: tuple[str, ...] | None = None
    event_source: str | None = None
    source_ip: str | None = None
    error_code: str | None = None

    @classmethod
    def make(
        cls,
        *,
        window: Window | tuple | None = None,
        start: Any = None,
        end: Any = None,
        accounts: Iterable[str] | str | None = None,
        regions: Iterable[str] | str | None = None,
        account_id: str | None = None,
        region: str | None = None,
        principal: str | None = None,
        access_key_id: str | None = None,
        event_name: str | Iterable[str] | None = None,
        event_source: str | None = None,
        source_ip: str | None = None,
        error_code: str | None = None,
    ) -> Filters:
        """Filters from the keywords the questions take (``start``/``end`` of any form ``Window.parse``
        reads, or a ``window``; ``account_id``/``region`` narrow ``accounts``/``regions`` to one)."""
        if window is not None and (start is not None or end is not None):
            raise BadInput("give a window or start/end, not both")
        w = Window.of(window) if window is not None else Window.parse(start, end, names=("start", "end"))
        return cls(
            w,
            checked("account", [account_id] if account_id else accounts),
            checked("region", [region] if region else regions),
            principal or None,
            access_key_id or None,
            _names(event_name),
            event_source or None,
            source_ip or None,
            error_code or None,
        )

    def scope(self) -> Filters:
        """Only the window, accounts and regions (what bounds a scan, a load or a hunt)."""
        return Filters(self.window, self.accounts, self.regions)

    def narrowed(self, accounts: tuple[str, ...] | None, regions: tuple[str, ...] | None) -> Filters:
        """These filters with accounts/regions defaulting to the given ones (a back end's own scope)."""
        from dataclasses import replace

        return replace(self, accounts=self.accounts or accounts, regions=self.regions or regions)

    def where(self, dialect: Any, *, partitions: Partitions | None = None, prefix: str = "") -> str:
        """The predicate in ``dialect`` (``TRUE`` when nothing is filtered); ``partitions``: also bound
        those columns (the Athena view's); ``prefix``: a table alias with its dot."""
        q = prefix
        parts: list[str] = []
        if partitions is not None:
            pp = partition_predicate(self.window, self.accounts, self.regions, cols=partitions, prefix=q)
            if pp:
                parts.append(pp)
        time = self.window.where(dialect, f"{q}event_time")
        if time:
            parts.append(time)
        if self.accounts:
            parts.append(_in(f"{q}recipient_account_id", self.accounts))
        if self.regions:
            parts.append(_in(f"{q}aws_region", self.regions))
        if self.principal:
            p = lit(self.principal)
            parts.append(
                f"({q}principal_arn = {p} OR {q}session_issuer_arn = {p} OR {q}principal_id = {p} "
                f"OR {q}session_name = {p} OR {q}principal_arn LIKE "
                f"{lit('%/' + _like_escaped(self.principal))} ESCAPE '\\')"
            )
        for col, value in (
            ("access_key_id", self.access_key_id),
            ("event_source", self.event_source),
            ("source_ip", self.source_ip),
            ("error_code", self.error_code),
        ):
            if value:
                parts.append(f"{q}{col} = {lit(value)}")
        if self.event_names:
            parts.append(f"{q}event_name IN ({', '.join(lit(n) for n in self.event_names)})")
        return " AND ".join(parts) or "TRUE"


# ---------------------------------------------------------------- someone's SQL


def parse_query(sql: str, dialect: str) -> Any:
    """``sql`` parsed by sqlglot in ``dialect`` (a query, not DDL); a one-line ``BadInput`` otherwise."""
    import sqlglot
    from sqlglot import exp

    name = "Trino" if dialect == "trino" else "DuckDB"
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError) as e:
        raise BadInput(f"not a {name} query: {str(e).splitlines()[0]}") from None
    if not isinstance(tree, exp.Query):
        raise BadInput("a window can only be added to a query (SELECT)")
    return tree


def scans(tree: Any, table: str | None) -> list[tuple[Any, str]]:
    """(innermost SELECT, alias) of every read of ``table`` (any non-CTE table when None) in ``tree``."""
    from sqlglot import exp

    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    want = table.split(".")[-1].lower() if table else None
    out = []
    for t in list(tree.find_all(exp.Table)):
        name = t.name.lower()
        if (want is not None and name != want) or (want is None and not t.db and name in ctes):
            continue
        select = t.find_ancestor(exp.Select)
        if select is not None:
            out.append((select, t.alias_or_name))
    return out


def bound_scans(sql: str, dialect: str, table: str | None, predicate: Callable[[str], str]) -> tuple[str, int]:
    """``sql`` (a query in ``dialect``) with ``predicate(prefix)`` added to the WHERE of every SELECT that
    reads ``table`` (any non-CTE table when None), qualified by the read's alias; and how many reads."""
    import sqlglot

    tree = parse_query(sql, dialect)
    found = scans(tree, table)
    for select, alias in found:
        pred = predicate(f"{alias}." if alias else "")
        select.where(sqlglot.condition(pred, dialect=dialect), append=True, copy=False)
    return tree.sql(dialect=dialect), len(found)
