"""The trail back-end protocol: the questions every CloudTrail back end answers, with the same frames.

``Trail`` (a DuckDB store) and ``AthenaTrail`` (Athena's ``events`` view) implement ``TrailBackend``. A back
end says which SQL it speaks (``dialect``), which table its queries read (``table``), how it runs the library's
own SQL (``query``) and how it bounds a question (``scope``: the filters' predicate, with the Athena view's
partitions); the questions themselves (``events_frame``, ``timeline_frame``, the hunt, the trace) are written
once over those four, so both back ends ask exactly the same thing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from iamkit.trail import columns

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from iamkit.trail.detect.hunt import HuntResult
    from iamkit.trail.dialect import Dialect
    from iamkit.trail.predicates import Filters
    from iamkit.trail.trace import TraceResult
    from iamkit.window import Window


@runtime_checkable
class TrailBackend(Protocol):
    """A CloudTrail back end: the questions (``events``, ``timeline``, ``sql``, ``hunt``, ``trace``) and what
    they are built on (``dialect``, ``table``, ``query``/``rows``, ``scope``, ``tables``)."""

    dialect: Dialect
    #: the events table or view the library's queries read
    table: str
    #: extra tables queries may join (``ip_context`` for the country/ASN rules)
    tables: frozenset[str]

    def query(self, sql: str) -> pd.DataFrame:
        """Run the library's own SQL (in ``dialect``) and return every row."""
        ...

    def rows(self, sql: str) -> list[dict]:
        """``query``'s rows as dicts of Python values (NULL as None)."""
        ...

    def scope(self, filters: Filters) -> str:
        """The ``WHERE`` predicate (in ``dialect``) keeping the events ``filters`` selects."""
        ...

    def events(self, *, window: Window | None = None, **filters: Any) -> pd.DataFrame:
        """Events matching the filters, oldest first, as an ``events`` frame."""
        ...

    def timeline(self, principal_or_key: str, *, window: Window | None = None, **kw: Any) -> pd.DataFrame:
        """Every call of a principal or access key, oldest first, as a ``timeline`` frame."""
        ...

    def sql(self, query: str, **kw: Any) -> pd.DataFrame:
        """Run someone's SQL (read-only, bounded as the back end requires)."""
        ...

    def hunt(self, rules: Any = None, sigma_dirs: Any = (), *, window: Window | None = None, **kw: Any) -> HuntResult:
        """Run the detections; a ``HuntResult``."""
        ...

    def trace(self, access_key_id: str, *, window: Window | None = None, **kw: Any) -> TraceResult:
        """Trace a key to its origin and through what it created."""
        ...


def parse_json_columns(df: pd.DataFrame, names: tuple[str, ...] = columns.JSON_COLUMNS) -> pd.DataFrame:
    """Turn JSON text columns into Python objects (dict/list), as the ``json`` frame dtype says."""
    import json

    for c in names:
        if c in df.columns:  # as objects first: mapping an Arrow string column would make dicts one struct type
            df[c] = df[c].astype(object).map(lambda v: json.loads(v) if isinstance(v, str) else None)
    return df


def events_frame(
    backend: TrailBackend, filters: Filters, *, limit: int | None = None, parse_json: bool = True, redact: bool = False
) -> pd.DataFrame:
    """``backend.events``: the events ``filters`` selects, oldest first, as an ``events`` frame. ``redact``:
    the back end keeps secrets at rest (Athena reads CloudTrail as delivered), so replace them here exactly as
    the DuckDB store does when it loads (``store.SECRET_KEYS`` → ``<redacted:sha256:…>``)."""
    from iamkit import frames

    cols = ", ".join(columns.FRAME_COLUMNS)
    q = f"SELECT {cols}\nFROM {backend.table}\nWHERE {backend.scope(filters)}\nORDER BY event_time, event_id"
    if limit:
        q += f"\nLIMIT {int(limit)}"
    df = backend.query(q)
    if parse_json or redact:
        parse_json_columns(df)
    if redact:
        _redact(df)
    if redact and not parse_json:
        import json

        for c in columns.JSON_COLUMNS:
            if c in df.columns:
                df[c] = df[c].map(
                    lambda v: None if v is None else json.dumps(v, separators=(",", ":"), ensure_ascii=False)
                )
    return frames.conform(df, "events")


def _redact(df: pd.DataFrame) -> None:
    """Secrets in the parsed JSON columns the store redacts at load (``Column.redact``), replaced in place."""
    from iamkit.trail.store import redact_secrets

    for c in columns.EVENTS:
        if c.redact and c.name in df.columns:
            for v in df[c.name]:
                if isinstance(v, dict | list):
                    redact_secrets(v)


def timeline_frame(
    backend: TrailBackend,
    principal_or_key: str,
    filters: Filters,
    *,
    limit: int | None = None,
    where: str = "in this store",
) -> pd.DataFrame:
    """``backend.timeline``: every call of a principal (ARN, user or session name) or access key inside
    ``filters``' window, oldest first, with the call's target; ``NotFound`` when an unbounded one finds none."""
    from dataclasses import replace

    from iamkit import frames
    from iamkit.errors import NotFound
    from iamkit.trail.timeline import TIMELINE_COLUMNS, is_access_key, target_sql

    value = (principal_or_key or "").strip()
    if not value:
        from iamkit.errors import BadInput

        raise BadInput("a timeline needs a principal (ARN, user or session name) or an access key id")
    filters = replace(filters, **({"access_key_id": value} if is_access_key(value) else {"principal": value}))
    cols = ", ".join(c for c in TIMELINE_COLUMNS if c != "target")
    q = (
        f"SELECT {cols}, {target_sql(backend.dialect)} AS target\nFROM {backend.table}\n"
        f"WHERE {backend.scope(filters)}\nORDER BY event_time, event_id"
    )
    if limit:
        q += f"\nLIMIT {int(limit)}"
    df = backend.query(q)
    if df.empty and filters.window.open:
        raise NotFound(f"no CloudTrail events for {value!r} {where}")
    return frames.conform(df, "timeline")
