"""The DuckDB store: the ``events`` table (docs/architecture.md, "Frames"), its row extraction, and load bookkeeping.

Raw CloudTrail records arrive as DuckDB JSON values (column ``r``); one SQL projection turns them into
typed scalar columns plus the JSON subtrees kept whole. Everyone (loaders, tests, other engineers'
fixtures) goes through ``create_schema`` / ``insert_records`` / ``insert_json_relation`` so the table
is defined in exactly one place.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamkit.trail import columns
from iamkit.window import Window

if TYPE_CHECKING:  # pragma: no cover
    import duckdb
    import pandas as pd

INSIGHT_DDL_TYPES: dict[str, str] = {
    "event_id": "VARCHAR",
    "event_time": "TIMESTAMPTZ",
    "event_source": "VARCHAR",
    "event_name": "VARCHAR",
    "aws_region": "VARCHAR",
    "recipient_account_id": "VARCHAR",
    "insight_type": "VARCHAR",
    "state": "VARCHAR",
    "insight_details": "JSON",
    "source_file": "VARCHAR",
}

LOADED_FILES_DDL = """
CREATE TABLE IF NOT EXISTS loaded_files (
    path VARCHAR PRIMARY KEY,   -- local path or s3://bucket/key
    etag VARCHAR,               -- S3 ETag, or size:mtime_ns for a local file
    sha256 VARCHAR,             -- of the bytes read (local files and downloaded objects)
    size BIGINT,
    kind VARCHAR,               -- records | array | jsonl | lookup | digest | insights | single | irregular | ...
    records BIGINT,             -- records read from the file (before dedupe and window)
    status VARCHAR,             -- ok | skipped | error
    reason VARCHAR,             -- why skipped / what failed
    loaded_at TIMESTAMPTZ
)"""

#: Every read of every file, every version: what ``loaded_files`` keeps only the latest of. A file counts as
#: loaded for a window when reads of its current version (path + etag) with status ok cover that window.
LOAD_HISTORY_DDL = """
CREATE TABLE IF NOT EXISTS load_history (
    path VARCHAR, etag VARCHAR, sha256 VARCHAR, size BIGINT, kind VARCHAR, records BIGINT,
    status VARCHAR, reason VARCHAR,
    window_start TIMESTAMPTZ,   -- the load's window; NULL: unbounded on that side (both NULL: all events)
    window_end TIMESTAMPTZ,
    loaded_at TIMESTAMPTZ
)"""
#: the columns ``loaded_files`` and ``load_history`` are written with, in this order
MARK_COLUMNS = (
    "path",
    "etag",
    "sha256",
    "size",
    "kind",
    "records",
    "status",
    "reason",
    "loaded_at",
    "window_start",
    "window_end",
)

LOAD_ERRORS_DDL = """
CREATE TABLE IF NOT EXISTS load_errors (
    account_id VARCHAR, region VARCHAR, operation VARCHAR, code VARCHAR, message VARCHAR, "when" TIMESTAMPTZ
)"""

# from_json structure of one record: one parse, scalar fields as text, subtrees as JSON.
RECORD_FIELDS = {
    "eventID": "VARCHAR",
    "eventTime": "VARCHAR",
    "@timestamp": "VARCHAR",
    "eventSource": "VARCHAR",
    "eventName": "VARCHAR",
    "awsRegion": "VARCHAR",
    "recipientAccountId": "VARCHAR",
    "requestID": "VARCHAR",
    "sourceIPAddress": "VARCHAR",
    "userAgent": "VARCHAR",
    "errorCode": "VARCHAR",
    "errorMessage": "VARCHAR",
    "readOnly": "VARCHAR",
    "eventType": "VARCHAR",
    "eventCategory": "VARCHAR",
    "userIdentity": "JSON",
    "requestParameters": "JSON",
    "responseElements": "JSON",
    "additionalEventData": "JSON",
    "resources": "JSON",
    "insightDetails": "JSON",
}
RECORD_STRUCT = json.dumps(RECORD_FIELDS)
#: A whole delivery file parsed in one pass straight into typed records (no per-record JSON text).
RECORDS_FILE_STRUCT = json.dumps({"Records": [RECORD_FIELDS]})
#: The same record as a SQL type, for ``read_json(columns=…)``: one parse from the file's bytes.
RECORD_SQL_TYPE = "STRUCT(" + ", ".join(f'"{k}" {v}' for k, v in RECORD_FIELDS.items()) + ")"

# ---------------------------------------------------------------- secrets

#: Object keys whose values are secrets (compared without case), wherever they sit inside a record's
#: ``requestParameters``, ``responseElements`` and ``additionalEventData``: STS/SSO/Cognito credentials
#: (``credentials.*``, ``roleCredentials.*``, ``accessKey.secretAccessKey``, ``additionalEventData.SessionToken``),
#: passwords in requests, bearer tokens. The one list both the store and raw copies in a case use.
SECRET_KEYS = (
    "sessionToken",
    "secretAccessKey",
    "secretKey",
    "password",
    "newPassword",
    "oldPassword",
    "clientSecret",
    "privateKey",
    "accessToken",
    "refreshToken",
    "webIdentityToken",
    "SAMLAssertion",
)
#: The record subtrees searched for them (any depth).
SECRET_SUBTREES = ("requestParameters", "responseElements", "additionalEventData")
_SECRET_NAMES = frozenset(k.lower() for k in SECRET_KEYS)
#: Values that already stand for a secret and are kept as they are: CloudTrail's own mask, iamkit's marks.
_MASKS = ("HIDDEN_DUE_TO_SECURITY_REASONS",)
REDACTED = "<redacted"


def redaction_mark(value: Any) -> str:
    """What a secret value becomes: ``<redacted:sha256:HEX>``, HEX the sha256 of the original (a string's
    UTF-8 bytes; any other value's compact JSON text), so a copy held elsewhere can still be matched."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return f"<redacted:sha256:{hashlib.sha256(text.encode()).hexdigest()}>"


def _masked(value: Any) -> bool:
    return isinstance(value, str) and (value.startswith(REDACTED) or value in _MASKS)


def redact_secrets(obj: Any) -> int:
    """Replace, in place and at any depth of ``obj`` (dicts and lists), the value of every ``SECRET_KEYS``
    key by its ``redaction_mark``; returns how many were replaced. Iterative: hostile nesting cannot
    exhaust the stack."""
    n = 0
    stack = [obj]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                if isinstance(k, str) and k.lower() in _SECRET_NAMES and v is not None and not _masked(v):
                    node[k] = redaction_mark(v)
                    n += 1
                elif isinstance(v, dict | list):
                    stack.append(v)
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, dict | list))
    return n


def redact_document(doc: Any) -> int:
    """``redact_secrets`` on every record subtree that may carry secrets (``SECRET_SUBTREES``) anywhere in a
    CloudTrail document (a delivery file, an array, LookupEvents output whose ``CloudTrailEvent`` strings are
    parsed, redacted and written back); returns how many values were replaced."""
    n = 0
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, dict | list))
            continue
        if not isinstance(node, dict):
            continue
        for k, v in node.items():
            if k in SECRET_SUBTREES and isinstance(v, dict | list):
                n += redact_secrets(v)
            elif k == "CloudTrailEvent" and isinstance(v, str):
                try:
                    inner = json.loads(v)
                except ValueError:
                    continue
                m = redact_document(inner)
                if m:
                    node[k] = json.dumps(inner, separators=(",", ":"), ensure_ascii=False)
                    n += m
            elif isinstance(v, dict | list):
                stack.append(v)
    return n


def _redact_json_text(text: str | None) -> str | None:
    """The UDF behind ``_redacted_sql`` for values the SQL pass cannot take (a secret key holding an object,
    a list or a number): parse, redact, write compact JSON."""
    if text is None:
        return None
    obj = json.loads(text)
    redact_secrets(obj)
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


_REDACT_UDF = "iamkit_redact_json"
_KEY_ALT = "|".join(sorted(_SECRET_NAMES))
#: DuckDB writes JSON subtrees it parsed compactly with escapes resolved (``"session\u0054oken" : 1`` becomes
#: ``"sessionToken":1``), so in that text a secret key is exactly ``"<name>":`` whatever the input looked like.
_SECRET_KEY_RE = f'"(?i:{_KEY_ALT})":'
_SECRET_STRING_RE = f'"(?i:{_KEY_ALT})":"(?:[^"\\\\]|\\\\.)*"'  # RE2: linear time on any input
_SECRET_OTHER_RE = f'"(?i:{_KEY_ALT})":[^"]'
#: in the SQL pass, ``m`` is one ``"key":"value"`` match; its value's JSON literal:
_MATCH_VALUE = "substr(m, strpos(m, '\":') + 2)"
_MASK_SQL = " OR ".join([f"{_MATCH_VALUE} LIKE '\"<redacted%'", *(f"{_MATCH_VALUE} = '\"{m}\"'" for m in _MASKS)])


def _redacted_sql(col: str) -> str:
    """SQL for JSON column ``col`` (compact text from DuckDB's parser) with secret values replaced.

    String values (all real CloudTrail) in SQL: each ``"key":"value"`` becomes ``"key":"<redacted:sha256:…>"``;
    other values (an object, a list or a number under a secret key) through the Python UDF.
    """
    return (
        f"CASE WHEN NOT regexp_matches({col}::VARCHAR, '{_SECRET_KEY_RE}') THEN {col} "
        f"WHEN regexp_matches({col}::VARCHAR, '{_SECRET_OTHER_RE}') THEN {_REDACT_UDF}({col}::VARCHAR)::JSON "
        f"ELSE list_reduce(regexp_extract_all({col}::VARCHAR, '{_SECRET_STRING_RE}'), "
        f"lambda acc, m: CASE WHEN {_MASK_SQL} THEN acc ELSE replace(acc, m, left(m, strpos(m, '\":') + 1) "
        f"|| '\"<redacted:sha256:' || sha256(json_extract_string({_MATCH_VALUE}, '$')) || '>\"') END, "
        f"{col}::VARCHAR)::JSON END"
    )


_REGISTERED: weakref.WeakSet = weakref.WeakSet()  # connections that have the UDF (registering costs ~20 ms)


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    """Register the Python function the projection calls for odd secrets (once per connection)."""
    import duckdb

    if con in _REGISTERED:
        return
    try:
        con.create_function(_REDACT_UDF, _redact_json_text, ["VARCHAR"], "VARCHAR", side_effects=False)
    except duckdb.NotImplementedException:  # registered by someone else
        pass
    _REGISTERED.add(con)


def _time_sql(col: str) -> str:
    """An event time from ISO-8601 text or epoch seconds/milliseconds (renamed exports use both)."""
    return (
        f"coalesce(TRY_CAST({col} AS TIMESTAMPTZ), "  # ISO-8601 (all real CloudTrail) first: no regex
        f"CASE WHEN regexp_full_match({col}, '\\d{{12,13}}') THEN to_timestamp({col}::DOUBLE / 1000) "
        f"WHEN regexp_full_match({col}, '\\d{{9,11}}(\\.\\d+)?') THEN to_timestamp({col}::DOUBLE) END)"
    )


def _column_sql(c: columns.Column) -> str:
    """A column's projection (``columns.EVENTS``), with the store's time parsing and secret redaction."""
    if c.time:
        return _time_sql(c.record)
    if c.redact:
        return _redacted_sql(c.record)
    return c.record


def record_projection(source: str, parsed: bool = False) -> str:
    """SQL selecting ``events`` rows (plus ``_category``, ``_insight``, ``_file``) from ``source``: each column
    as ``columns.EVENTS`` says.

    ``source`` has columns ``r`` (one record as JSON) and ``_file``; or, with ``parsed``, ``x`` (a record
    already parsed with ``RECORD_FIELDS``) and ``_file``.
    """
    paths = "[" + ", ".join(f"'{p}'" for p in columns.IDENTITY_PATHS) + "]"
    parse = (
        f"SELECT x, _file FROM ({source})"
        if parsed
        else f"SELECT from_json(r, '{RECORD_STRUCT}') AS x, _file FROM ({source})"
    )
    cols = ",\n    ".join(f"{_column_sql(c)} AS {c.name}" for c in columns.EVENTS)
    return f"""
WITH p AS ({parse}),
q AS (SELECT x, _file, json_extract_string(x.userIdentity, {paths}) AS u FROM p)
SELECT
    {cols},
    x.eventCategory AS _category,
    x.insightDetails AS _insight,
    _file
FROM q"""


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """Session settings every iamkit connection needs: UTC timestamps, no progress bar on stdout; and the
    function the projection's redaction calls."""
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    register_functions(con)


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``events``, ``insights``, ``loaded_files``, ``load_history`` and ``load_errors`` if missing."""
    prepare(con)
    cols = ",\n    ".join(f"{c} {t}" for c, t in columns.DDL_TYPES.items())
    con.execute(f"CREATE TABLE IF NOT EXISTS events (\n    {cols}\n)")
    con.execute("ALTER TABLE events ADD COLUMN IF NOT EXISTS source_file VARCHAR")  # stores made before it
    icols = ",\n    ".join(f"{c} {t}" for c, t in INSIGHT_DDL_TYPES.items())
    con.execute(f"CREATE TABLE IF NOT EXISTS insights (\n    {icols}\n)")
    con.execute(LOADED_FILES_DDL)
    for c in ("window_start", "window_end"):  # the latest read's window (stores made before it lack them)
        con.execute(f"ALTER TABLE loaded_files ADD COLUMN IF NOT EXISTS {c} TIMESTAMPTZ")
    con.execute(LOAD_HISTORY_DDL)
    con.execute(LOAD_ERRORS_DDL)


def connect(db: str | Path = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) a DuckDB store with the schema in place."""
    import duckdb

    con = duckdb.connect(str(db), read_only=read_only)
    if read_only:
        prepare(con)
    else:
        create_schema(con)
    return con


#: The name a store file is attached under in the connections ``attach`` makes.
CATALOG = "trail"


def store_files(db: str | Path) -> list[str]:
    """The files DuckDB touches for a store: the database and its write-ahead log (and their siblings)."""
    p = str(Path(db).resolve())
    return [p, f"{p}.wal", f"{p}.wal.checkpoint", f"{p}.wal.recovery"]


def attach(con: duckdb.DuckDBPyConnection, db: str | Path, read_only: bool) -> None:
    """Attach store file ``db`` to ``con`` as ``CATALOG`` and make it the default for ``con``."""
    mode = " (READ_ONLY)" if read_only else ""
    con.execute(f"ATTACH '{_sql_str(Path(db).resolve())}' AS {CATALOG}{mode}")
    con.execute(f"USE {CATALOG}")


def detach(con: duckdb.DuckDBPyConnection) -> None:
    """Release the store file ``attach`` attached (for another connection to open it)."""
    con.execute("USE memory")
    con.execute(f"DETACH {CATALOG}")


def connect_attached(db: str | Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A store as ``connect`` gives it, but attached to an in-memory DuckDB: the library's connection,
    which can let go of the file (``detach``) while a locked connection runs someone's SQL on it.

    Note: ``USE`` is per connection; a ``cursor()`` of it starts in the empty in-memory catalog.
    """
    import duckdb

    con = duckdb.connect(config={"temp_directory": f"{Path(db).resolve()}.tmp"})  # where a file store spills
    attach(con, db, read_only)
    if read_only:
        prepare(con)
    else:
        create_schema(con)
    return con


def locked_connection(*, readable: Iterable[str | Path] = (), setup: Any = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for running someone else's SQL: ``setup(con)`` attaches or defines what it may
    see, then external access is switched off (no file, network, extension or Python-variable access:
    ``read_csv``, ``COPY … TO``, ``ATTACH``, ``INSTALL``/``LOAD``) except to the ``readable`` files and
    folders, and the configuration is locked so the SQL cannot switch it back on.

    Spills go to a private temporary folder (never beside the evidence); it is removed with the connection.
    """
    import tempfile
    import weakref

    import duckdb

    tmp = tempfile.mkdtemp(prefix="iamkit-sql-")
    con = duckdb.connect(config={"temp_directory": tmp})
    weakref.finalize(con, _remove_tree, tmp)
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")
        if setup is not None:
            setup(con)
        files, folders = [], []
        for r in readable:
            path = Path(r).resolve()
            (folders if path.is_dir() else files).append(str(path) + ("/" if path.is_dir() else ""))
        if files:
            con.execute(f"SET allowed_paths = {sql_list(files)}")
        if folders:
            con.execute(f"SET allowed_directories = {sql_list(folders)}")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


#: Statements someone's SQL may be: queries, and their plans and table descriptions.
USER_STATEMENTS = ("SELECT", "EXPLAIN", "PRAGMA")


def run_user_sql(con: duckdb.DuckDBPyConnection, query: str, params: list | None = None) -> pd.DataFrame:
    """Run one query statement on ``con`` (a ``locked_connection``) into a frame; anything else, and any
    failure, is a one-line ``BadInput`` (refusals say so: external access is off)."""
    import duckdb

    from iamkit.errors import BadInput

    def first_line(e: Exception) -> str:
        return (str(e).strip().splitlines() or [type(e).__name__])[0]

    try:
        statements = con.extract_statements(query)
    except duckdb.Error as e:
        raise BadInput(f"SQL failed: {first_line(e)}") from None
    if len(statements) != 1:
        raise BadInput(f"SQL refused: one statement at a time, got {len(statements)}")
    kind = statements[0].type.name
    if kind not in USER_STATEMENTS:
        raise BadInput(
            f"SQL refused: {kind} statement; only queries ({', '.join(USER_STATEMENTS)}) run on a trail store"
        )
    try:
        return con.execute(query, params or []).df()
    except duckdb.PermissionException as e:
        raise BadInput(
            f"SQL refused: {first_line(e)} (the query sees the store only; name other files "
            "with --allow-path / allow_paths=)"
        ) from None
    except duckdb.Error as e:
        raise BadInput(f"SQL failed: {first_line(e)}") from None


def _remove_tree(path: str) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


#: a projected row that belongs in ``insights``, not ``events``
_IS_INSIGHT = "coalesce(event_type = 'AwsCloudTrailInsight' OR _category = 'Insight', false)"


def _window(window: Window | None) -> tuple[list[str], list[Any]]:
    """SQL conditions and parameters keeping ``event_time`` inside ``window`` (None or open: everything).

    A record whose time cannot be read is kept whatever the window (the loader lists it as a problem):
    it cannot be shown to be outside, and dropping it would lose it silently.
    """
    w = window or Window()
    bounds = [(c, v) for c, v in (("event_time >= ?", w.start), ("event_time <= ?", w.end)) if v is not None]
    if not bounds:
        return [], []
    return [f"(event_time IS NULL OR ({' AND '.join(c for c, _ in bounds)}))"], [v for _, v in bounds]


def insert_json_relation(
    con: duckdb.DuckDBPyConnection,
    source: str,
    *,
    parsed: bool = False,
    window: Window | None = None,
    params: list | None = None,
) -> dict[str, Any]:
    """Insert records from ``source`` (SQL with ``r`` JSON or, ``parsed``, ``x`` struct; and ``_file``).

    Deduplicates on ``event_id`` (within the batch and against the table) and keeps only events inside
    ``window`` when given. Returns ``{"read": n, "inserted": n, "insights": n, "per_file": {...},
    "untimed": {file: n}}`` (``untimed``: records whose time could not be read, which are stored).
    """
    register_functions(con)
    con.execute("DROP TABLE IF EXISTS _stage")
    con.execute(f"CREATE TEMP TABLE _stage AS {record_projection(source, parsed)}", params or [])
    per_file = dict(con.execute("SELECT _file, count(*) FROM _stage GROUP BY _file").fetchall())
    untimed = dict(con.execute("SELECT _file, count(*) FROM _stage WHERE event_time IS NULL GROUP BY 1").fetchall())
    read = sum(per_file.values())
    conds, wparams = _window(window)
    wsql = (" AND " + " AND ".join(conds)) if conds else ""
    n_ins = con.execute(
        f"""
        INSERT INTO insights
        SELECT event_id, event_time,
               -- an Insights record names the API it is about inside insightDetails
               coalesce(event_source, json_extract_string(_insight, '$.eventSource')),
               coalesce(event_name, json_extract_string(_insight, '$.eventName')), aws_region, recipient_account_id,
               json_extract_string(_insight, '$.insightType'), json_extract_string(_insight, '$.state'),
               _insight, _file
        FROM _stage s WHERE {_IS_INSIGHT}{wsql}
          AND NOT EXISTS (SELECT 1 FROM insights i WHERE i.event_id = s.event_id)
        QUALIFY row_number() OVER (PARTITION BY event_id) = 1""",
        wparams,
    ).fetchone()[0]
    cols = ", ".join(columns.DDL_TYPES)
    # Repeats inside a batch are rare (a file delivered twice): the window only runs when there are some.
    repeats = con.execute("SELECT count(event_id) > count(DISTINCT event_id) FROM _stage").fetchall()[0][0]
    once = "QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY event_time) = 1" if repeats else ""
    n = con.execute(
        f"""
        INSERT INTO events
        SELECT {cols} FROM _stage s
        WHERE NOT {_IS_INSIGHT}{wsql}
          AND NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = s.event_id)
        {once}""",
        wparams,
    ).fetchone()[0]
    con.execute("DROP TABLE IF EXISTS _stage")
    return {"read": read, "inserted": int(n), "insights": int(n_ins), "per_file": per_file, "untimed": untimed}


_STAGING_MARK = "iamkit: batch holds Insights records"


def insert_direct(
    con: duckdb.DuckDBPyConnection, source: str, *, parsed: bool = False, window: Window | None = None
) -> dict[str, Any] | None:
    """``insert_json_relation`` without the staging copy of the batch: rows go straight into ``events``.

    Per-file counts, the time window and deduplication (against the table and inside the batch) are then
    settled on the new rows only (``rowid`` above the table's last committed one); about a quarter faster
    on large batches. Returns None when the batch holds Insights records (which belong in ``insights``):
    the transaction is then aborted and the caller must roll back and use ``insert_json_relation``.
    Must run inside a transaction.
    """
    register_functions(con)
    before = con.execute("SELECT coalesce(max(rowid), -1) FROM events").fetchall()[0][0]
    cols = ", ".join(columns.DDL_TYPES)
    try:
        con.execute(
            f"INSERT INTO events SELECT {cols} FROM ({record_projection(source, parsed)}) "
            f"WHERE CASE WHEN {_IS_INSIGHT} THEN error('{_STAGING_MARK}') ELSE true END"
        ).fetchall()
    except Exception as e:  # duckdb raises its own error classes
        if _STAGING_MARK in str(e):
            return None
        raise
    new = f"rowid > {int(before)}"
    per_file, untimed = {}, {}
    for f, n, nt in con.execute(
        f"SELECT source_file, count(*), count(*) FILTER (event_time IS NULL) FROM events WHERE {new} GROUP BY 1"
    ).fetchall():
        per_file[f] = n
        if nt:
            untimed[f] = nt
    read = sum(per_file.values())
    dropped = 0
    conds, wparams = _window(window)
    if conds:
        dropped += con.execute(f"DELETE FROM events WHERE {new} AND NOT ({' AND '.join(conds)})", wparams).fetchall()[
            0
        ][0]
    if before >= 0:
        # an inner join (not IN): DuckDB builds its hash table on the smaller side, the batch, so memory
        # follows the batch and not the size of the store
        dropped += con.execute(f"""
            DELETE FROM events WHERE rowid IN (
                SELECT n.rowid FROM events n JOIN events o ON o.event_id = n.event_id
                WHERE n.{new} AND o.rowid <= {int(before)})""").fetchall()[0][0]
    total, distinct = con.execute(f"SELECT count(*), count(DISTINCT event_id) FROM events WHERE {new}").fetchall()[0]
    if total > distinct:  # a record delivered twice in one batch: keep the earliest
        dropped += con.execute(f"""
            DELETE FROM events WHERE rowid IN (
                SELECT rowid FROM events WHERE {new}
                QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY event_time, rowid) > 1)""").fetchall()[0][0]
    return {"read": read, "inserted": read - int(dropped), "insights": 0, "per_file": per_file, "untimed": untimed}


def bad_times(con: duckdb.DuckDBPyConnection, times: list[Any]) -> list[int]:
    """Positions (0-based) of the values in ``times`` the store cannot read as an event time (the same rule
    as the projection's: ISO-8601 or epoch seconds/milliseconds); a missing value is one of them."""
    if not times:
        return []
    texts = [None if t is None else str(t) for t in times]
    rows = con.execute(
        f"SELECT i - 1 FROM (SELECT unnest($1) AS t, generate_subscripts($1, 1) AS i) "
        f"WHERE t IS NULL OR {_time_sql('t')} IS NULL ORDER BY i",
        [texts],
    ).fetchall()
    return [int(i) for (i,) in rows]


def insert_records(
    con: duckdb.DuckDBPyConnection, records: Iterable[dict], *, source: str = "<memory>", window: Window | None = None
) -> int:
    """Insert raw CloudTrail record dicts (as in ``{"Records": [...]}``); returns how many rows were new.

    Creates the schema when missing, so tests can start from an empty connection.
    """
    import pyarrow as pa

    create_schema(con)
    texts = [json.dumps(r, default=str) for r in records]
    if not texts:
        return 0
    _records_arrow = pa.table(
        {
            "r": pa.array(texts, pa.string()),  # noqa: F841 (scanned by DuckDB)
            "_file": pa.array([source] * len(texts), pa.string()),
        }
    )
    con.register("_records_arrow", _records_arrow)
    try:
        out = insert_json_relation(con, "SELECT r::JSON AS r, _file FROM _records_arrow", window=window)
    finally:
        con.unregister("_records_arrow")
    return out["inserted"]


def add_errors(con: duckdb.DuckDBPyConnection, rows: list[dict]) -> None:
    """Append rows of the ``errors`` frame schema to ``load_errors``."""
    for r in rows:
        con.execute(
            "INSERT INTO load_errors VALUES (?, ?, ?, ?, ?, ?)",
            [r.get("account_id"), r.get("region"), r.get("operation"), r.get("code"), r.get("message"), r.get("when")],
        )


def export_parquet(con: duckdb.DuckDBPyConnection, path: str | Path) -> Path:
    """Write ``events`` sorted by time to one Parquet file (the cache repeated notebook queries read)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    con.execute(
        f"COPY (SELECT * FROM events ORDER BY event_time) TO '{_sql_str(tmp)}' "
        "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)"
    )
    tmp.replace(path)
    return path


def _sql_str(value: Any) -> str:
    """Quote a string for inclusion inside single quotes in SQL."""
    return str(value).replace("'", "''")


def sql_list(values: Iterable[Any]) -> str:
    """A SQL list literal of quoted strings: ``['a', 'b']``."""
    return "[" + ", ".join(f"'{_sql_str(v)}'" for v in values) + "]"
