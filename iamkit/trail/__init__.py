"""CloudTrail evidence: load every source into DuckDB, query it, trace keys, build timelines, hunt.

``ik.trail.load(sources, db)`` fills a store; ``ik.trail.open(db)`` returns a ``Trail`` over it
(``events(...)``, ``timeline(...)``, ``trace(...)``, ``sql(...)``, ``hunt(...)``, ``errors``);
``ik.trail.open_athena(database)`` asks the same questions of Athena. Both are ``TrailBackend``s
(``iamkit.trail.backend``): the questions are written once over the back end's dialect, table and scope.
Time windows are ``iamkit.window.Window``s (or ``start``/``end`` of any form it reads). Heavy modules load on use.

``Trail.sql`` runs the caller's SQL on its own locked connection: the store read-only, no file, network
or extension access (``read_text``, ``read_csv``, ``COPY … TO``, ``ATTACH``, ``INSTALL``/``LOAD`` refused)
beyond files named with ``allow_paths``, one query statement at a time. The library's own queries use
``Trail.con``.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamkit.files import cache_dir
from iamkit.trail.backend import parse_json_columns
from iamkit.trail.columns import JSON_COLUMNS
from iamkit.trail.dialect import Dialect
from iamkit.window import Window

if TYPE_CHECKING:  # pragma: no cover
    import duckdb
    import pandas as pd

    from iamkit.trail.detect.hunt import HuntResult
    from iamkit.trail.predicates import Filters
    from iamkit.trail.sources import LoadResult
    from iamkit.trail.trace import TraceResult


class Trail:
    """A CloudTrail store: the DuckDB ``events`` table (or a Parquet cache of it) and questions over it
    (the DuckDB ``TrailBackend``).

    ``con`` is the library's connection; ``kind`` says what it holds: ``file`` (a store file attached as
    ``trail``), ``memory`` (an in-memory store) or ``parquet`` (a cache, on a locked connection).
    """

    dialect = Dialect("duckdb")
    table = "events"
    #: the store builds an ``ip_context`` table for the country/ASN rules when a hunt needs one
    tables = frozenset({"ip_context"})

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        path: str | None = None,
        *,
        kind: str | None = None,
        read_only: bool = False,
    ):
        self.con = con
        self.path = path
        self.kind = kind or ("memory" if path in (None, ":memory:") else "file")
        self.read_only = read_only

    # -- the back end
    def query(self, sql: str) -> pd.DataFrame:
        """Run the library's own SQL on ``con`` into a frame."""
        return self.con.execute(sql).df()

    def rows(self, sql: str) -> builtins.list[dict]:
        """Run the library's own SQL on ``con``; rows as dicts."""
        cur = self.con.execute(sql)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def scope(self, filters: Filters) -> str:
        """The DuckDB predicate for ``filters``."""
        return filters.where(self.dialect)

    # -- basics
    def sql(
        self,
        query: str,
        params: builtins.list | None = None,
        *,
        allow_paths: Iterable[str | Path] = (),
        window: Window | None = None,
        start: Any = None,
        end: Any = None,
    ) -> pd.DataFrame:
        """Run one query (SELECT, EXPLAIN, PRAGMA) on the store, read-only with external access off, into a
        frame. Tables: events, insights, loaded_files, load_history, load_errors. ``allow_paths``: files or
        folders the query may also read. A ``window`` (or ``start``/``end``) bounds every read of ``events``
        to it. Anything else is a one-line ``BadInput``."""
        from iamkit.trail import store

        w = Window.either(window, start, end)
        if not w.open:
            from iamkit.trail.predicates import Filters, bound_scans

            query, _ = bound_scans(query, "duckdb", "events", lambda q: Filters(w).where(self.dialect, prefix=q))
        with self._user_connection(allow_paths) as con:
            return store.run_user_sql(con, query, params)

    @contextlib.contextmanager
    def _user_connection(self, allow_paths: Iterable[str | Path]) -> Iterator[duckdb.DuckDBPyConnection]:
        """A locked connection seeing this store and nothing else (``store.locked_connection``)."""
        from iamkit.errors import BadInput, NotFound
        from iamkit.trail import store

        extra = [Path(p).expanduser() for p in allow_paths]
        for p in extra:
            if not p.exists():
                raise NotFound(f"allow path not found: {p}")
        if self.kind == "parquet":
            if not extra:
                yield self.con  # already locked to its Parquet files
                return
            con = store.locked_connection(readable=[self.path, *extra], setup=lambda c: _parquet_view(c, self.path))
        elif self.kind == "memory":
            con = store.locked_connection(readable=extra, setup=lambda c: _copy_tables(self.con, c))
        else:
            if not self.read_only:  # the file is this process's to write: let go of it for the query
                try:
                    store.detach(self.con)
                except Exception as e:  # an open transaction holds it
                    raise BadInput(
                        f"the store is busy ({str(e).splitlines()[0]}): finish the transaction first"
                    ) from None
            try:
                con = store.locked_connection(
                    readable=[*store.store_files(self.path), *extra],
                    setup=lambda c: store.attach(c, self.path, read_only=True),
                )
            except BaseException:
                self._reattach()
                raise
        try:
            yield con
        finally:
            con.close()
            if self.kind == "file":
                self._reattach()

    def _reattach(self) -> None:
        from iamkit.trail import store

        if not self.read_only:
            store.attach(self.con, self.path, read_only=False)

    def events(
        self,
        *,
        window: Window | None = None,
        principal: str | None = None,
        access_key_id: str | None = None,
        event_name: str | builtins.list[str] | None = None,
        event_source: str | None = None,
        start: Any = None,
        end: Any = None,
        source_ip: str | None = None,
        account_id: str | None = None,
        region: str | None = None,
        error_code: str | None = None,
        limit: int | None = None,
        parse_json: bool = True,
    ) -> pd.DataFrame:
        """Events matching every filter given, oldest first, as an ``events`` frame (``window`` or
        ``start``/``end``: a bare end date means that whole day)."""
        from iamkit.trail.backend import events_frame
        from iamkit.trail.predicates import Filters

        f = Filters.make(
            window=Window.either(window, start, end),
            principal=principal,
            access_key_id=access_key_id,
            event_name=event_name,
            event_source=event_source,
            source_ip=source_ip,
            account_id=account_id,
            region=region,
            error_code=error_code,
        )
        return events_frame(self, f, limit=limit, parse_json=parse_json)

    def count(self) -> int:
        """Number of events in the store."""
        return int(self.con.execute("SELECT count(*) FROM events").fetchone()[0])

    @property
    def errors(self) -> pd.DataFrame:
        """Everything that failed in past loads (``errors`` frame)."""
        from iamkit import frames

        if not _has_table(self.con, "load_errors"):
            return frames.empty("errors")
        return frames.conform(self.con.execute('SELECT * FROM load_errors ORDER BY "when"').df(), "errors")

    @property
    def loaded_files(self) -> pd.DataFrame:
        """The load bookkeeping: one row per file (path, etag, sha256, kind, records, status, reason)."""
        return self.con.execute("SELECT * FROM loaded_files ORDER BY path").df()

    # -- questions
    def timeline(
        self,
        principal_or_key: str,
        *,
        window: Window | None = None,
        start: Any = None,
        end: Any = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Every call of a principal (ARN, user or session name) or access key, oldest first."""
        from iamkit.trail.backend import timeline_frame
        from iamkit.trail.predicates import Filters

        return timeline_frame(self, principal_or_key, Filters(Window.either(window, start, end)), limit=limit)

    def trace(
        self,
        access_key_id: str,
        *,
        window: Window | None = None,
        start: Any = None,
        end: Any = None,
        max_depth: int = 10,
    ) -> TraceResult:
        """Trace an access key back to its origin and forward through what it created (``trace.trace``)."""
        from iamkit.trail.trace import trace

        return trace(self, access_key_id, window=Window.either(window, start, end), max_depth=max_depth)

    def hunt(
        self,
        rules: Any = None,
        sigma_dirs: Any = (),
        *,
        window: Window | None = None,
        since: Any = None,
        until: Any = None,
        accounts: Iterable[str] | None = None,
        regions: Iterable[str] | None = None,
        ip_context: Any = None,
    ) -> HuntResult:
        """Run the detections (default: the shipped rules, plus Sigma rules under ``sigma_dirs``) over the
        window (``window`` or ``since``/``until``) and, when given, only the ``accounts`` and ``regions``.
        Rules needing IP context (country/ASN) use an ``ip_context`` table when the store has one, else one
        built from ``ip_context`` (an ``IpContext`` or an ``ip_context`` frame; default: offline data)."""
        from iamkit.trail.detect.hunt import LocalRunner, execute, plan

        p = plan(self, rules, sigma_dirs, filters=self._scope(window, since, until, accounts, regions))
        return execute(p, LocalRunner(self.con, ip_context, self.table))

    def hunt_queries(
        self,
        rules: Any = None,
        sigma_dirs: Any = (),
        *,
        window: Window | None = None,
        since: Any = None,
        until: Any = None,
        accounts: Iterable[str] | None = None,
        regions: Iterable[str] | None = None,
    ) -> dict[str, str]:
        """The DuckDB SQL of each rule a hunt would run (nothing is run)."""
        from iamkit.trail.detect.hunt import plan

        return plan(self, rules, sigma_dirs, filters=self._scope(window, since, until, accounts, regions)).queries

    @staticmethod
    def _scope(window: Window | None, since: Any, until: Any, accounts: Any, regions: Any) -> Filters:
        from iamkit.trail.predicates import Filters

        return Filters.make(
            window=Window.either(window, since, until, names=("since", "until")), accounts=accounts, regions=regions
        )

    def load(
        self, sources: Any, *, window: Window | None = None, start: Any = None, end: Any = None, **kw: Any
    ) -> LoadResult:
        """Load more sources into this store, keeping the events inside ``window`` (or ``start``/``end``;
        default: all); incremental: files already loaded for a window holding this one are skipped. Other
        keywords: ``accounts``, ``regions``, ``session``, ``s3_client``, ``cache_dir``, ``pacer``, ``progress``."""
        from iamkit.trail.sources import load as _load

        _loadable(self)
        return _load(sources, self.con, window=Window.either(window, start, end), **kw)

    # -- Parquet cache
    def cache(self, path: str | Path | None = None, refresh: bool = False) -> Trail:
        """A Trail over a Parquet copy of ``events`` (rebuilt when the store changed) for repeated queries.

        By default beside the store (``<store>.events.parquet``), unless the store is inside a case folder
        (a ``case.yaml`` above it): a case's evidence is never added to, so the copy then goes to the user
        cache (``$XDG_CACHE_HOME/iamkit`` or ``~/.cache/iamkit``), named after the store's path."""
        from iamkit.trail import store

        if path is None:
            if self.kind != "file":
                raise ValueError("only a store file has a default cache path: give one")
            path = default_cache_path(self.path)
        path = Path(path)
        stamp = _stamp(self.con)
        marker = path.with_suffix(".stamp.json")
        if refresh or not path.exists() or not marker.exists() or json.loads(marker.read_text()) != stamp:
            store.export_parquet(self.con, path)
            marker.write_text(json.dumps(stamp))
        return open(path)

    def close(self) -> None:
        """Close the DuckDB connection."""
        self.con.close()

    def __enter__(self) -> Trail:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Trail({self.path!r}, events={self.count()})"


def case_folder_of(path: str | Path) -> Path | None:
    """The case folder holding ``path`` (the nearest folder above it with a ``case.yaml``), if any."""
    p = Path(path).expanduser().resolve()
    for folder in [p, *p.parents] if p.is_dir() else p.parents:
        if (folder / "case.yaml").is_file():
            return folder
    return None


def default_cache_path(db: str | Path) -> Path:
    """Where ``Trail.cache`` puts a store's Parquet copy: beside it, or (store inside a case folder) in the
    user cache under a name made from the store's path."""
    db = Path(db).expanduser().resolve()
    if case_folder_of(db) is None:
        return db.with_suffix(".events.parquet")
    key = hashlib.sha256(str(db).encode()).hexdigest()[:24]
    return cache_dir() / "trail" / key / "events.parquet"


def _parquet_view(con: duckdb.DuckDBPyConnection, path: str) -> None:
    """The ``events`` view (and an empty ``loaded_files``) of a Parquet file or folder of them."""
    from iamkit.trail import store

    src = path if path.endswith(".parquet") else str(Path(path) / "*.parquet")
    con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{store._sql_str(src)}')")
    con.execute("CREATE TABLE loaded_files AS SELECT NULL::VARCHAR AS path WHERE false")


def _copy_tables(src: duckdb.DuckDBPyConnection, dst: duckdb.DuckDBPyConnection) -> None:
    """An in-memory store's tables, copied (as Arrow) into the connection that runs someone's SQL."""
    tables = [
        t
        for (t,) in src.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_type = 'BASE TABLE'"
        ).fetchall()
    ]
    for t in tables:
        dst.register(t, src.sql(f'SELECT * FROM "{t}"').to_arrow_table())


def _stamp(con: duckdb.DuckDBPyConnection) -> list:
    n, last = con.execute("SELECT count(*), max(event_time)::VARCHAR FROM events").fetchone()
    files, loaded = con.execute("SELECT count(*), max(loaded_at)::VARCHAR FROM loaded_files").fetchone()
    return [n, last, files, loaded]


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]).fetchone()[0]
    )


def open(db: str | Path = ":memory:", read_only: bool = False) -> Trail:  # noqa: A001 (the public verb)
    """Open a store: a DuckDB file (created if missing), ``:memory:``, or a Parquet file/folder of events
    (read only, on a locked connection)."""
    from iamkit.errors import BadInput, NotFound
    from iamkit.trail import store

    p = str(db)
    if p.endswith(".parquet") or (Path(p).is_dir() and any(Path(p).glob("*.parquet"))):
        if not Path(p).exists():
            raise NotFound(f"no such Parquet events file: {p}")
        p = str(Path(p).resolve())
        import duckdb

        try:
            con = store.locked_connection(readable=[p], setup=lambda c: _parquet_view(c, p))
            con.execute("DESCRIBE events").fetchall()  # reads the footers: a damaged file fails here, not later
        except duckdb.Error as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else e.__class__.__name__
            raise BadInput(f"{p}: cannot read as Parquet events ({first})") from None
        return Trail(con, p, kind="parquet", read_only=True)
    if p == ":memory:":
        return Trail(store.connect(p), p, kind="memory")
    if read_only and not Path(p).exists():
        raise NotFound(f"no such trail database: {p}")
    if Path(p).is_dir():
        raise BadInput(f"{p}: is a folder, expected a trail database file (or a folder of Parquet events)")
    if not Path(p).parent.is_dir():
        raise BadInput(f"{p}: folder {Path(p).parent} does not exist")
    import duckdb

    try:
        con = store.connect_attached(p, read_only=read_only)
    except duckdb.Error as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else e.__class__.__name__
        raise BadInput(f"{p}: cannot open as a trail database ({first})") from None
    return Trail(con, p, kind="file", read_only=read_only)


def _loadable(t: Trail) -> None:
    from iamkit.errors import BadInput

    if t.kind == "parquet" or t.read_only:
        raise BadInput(
            f"{t.path}: read-only (a Parquet events file or a store opened read-only); "
            "load into a DuckDB store file instead"
        )


def load(sources: Any, db: str | Path | Trail = ":memory:", **kw: Any) -> LoadResult:
    """Load CloudTrail sources (paths, ``s3://…``, ``lookup:…``) into the DuckDB store ``db``."""
    if isinstance(db, Trail):
        return db.load(sources, **kw)
    trail = open(db)
    try:
        return trail.load(sources, **kw)
    finally:
        trail.close()


def open_athena(database: str, **kw: Any) -> Any:
    """The same questions on Athena, for trails that outgrew one machine: an ``AthenaTrail`` over
    ``database``'s events view (``iamkit.trail.athena.connect_athena``; workgroup, output_location,
    region, session, view... as keywords). Every query is bounded to its window's partitions."""
    from iamkit.trail.athena import connect_athena

    return connect_athena(database=database, **kw)


__all__ = ["JSON_COLUMNS", "Trail", "load", "open", "open_athena", "parse_json_columns"]
