"""The batch loader: files classified, known ones skipped, delivery files read in batches by DuckDB's JSON
reader (fast path), odd shapes parsed in Python, and every read recorded (``loaded_files``, ``load_history``).

A batch bounds the load's memory whatever the total size. One bad file fails a batch, which is bisected so
that file fails alone, named with its reason; entries that are no readable record are listed, the rest loads.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import math
import os
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamkit import frames
from iamkit.errors import BadInput, TrailError
from iamkit.trail import store
from iamkit.trail.sources import parse
from iamkit.trail.sources.classify import (
    JSON_SUFFIXES,
    _chunks,
    _classify,
    _classify_small,
    delivery_ok,
    delivery_time,
    layout_state,
)
from iamkit.window import Window

if TYPE_CHECKING:  # pragma: no cover
    import duckdb
    import pandas as pd

#: DuckDB's JSON reader refuses objects larger than this unless told otherwise (one delivery file = one object).
MAX_OBJECT_SIZE = 2**31 - 1
#: JSON bytes per DuckDB batch (gzip's ISIZE trailer gives them without decompressing) when set; None:
#: ``batch_bytes()`` sizes it to the machine. A batch bounds the load's memory whatever the total size
#: (peak ~3x the batch); larger batches read faster (fewer commits: at 1M events 64 MiB took 9.3 s,
#: 128 MiB 6.6 s, 256 MiB 5.9 s, 512 MiB 5.0 s), smaller ones keep the peak lower.
BATCH_BYTES: int | None = None
BATCH_ENV = "IAMKIT_TRAIL_BATCH_MB"


def batch_bytes() -> int:
    """Bytes of JSON per batch: ``IAMKIT_TRAIL_BATCH_MB`` if set, else 1/32 of the memory available
    now, between 64 and 512 MiB (a 16 GiB laptop with 8 GiB free gets 256 MiB, peaking near 1 GiB)."""
    if BATCH_BYTES is not None:
        return BATCH_BYTES
    raw = os.environ.get(BATCH_ENV, "").strip()
    if raw:
        try:
            mb = int(raw)
        except ValueError:
            raise BadInput(f"{BATCH_ENV} must be a whole number of MiB, got {raw!r}") from None
        if not 8 <= mb <= 8192:
            raise BadInput(f"{BATCH_ENV} must be between 8 and 8192 MiB, got {mb}")
        return mb * 2**20
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not on this platform: the middle of the range
        return 128 * 2**20
    return int(min(512 * 2**20, max(64 * 2**20, available // 32)))


FAST_KINDS = ("records", "array", "jsonl")


@dataclass
class FileInfo:
    """One file to load: where it is locally, what it is called in the bookkeeping, and its identity."""

    local: Path
    name: str  # path or s3:// uri recorded in loaded_files
    etag: str
    size: int
    kind: str = "unknown"
    sha256: str = ""
    reason: str = ""
    gz: bool = False
    raw_size: int = 0  # uncompressed bytes (gzip ISIZE), 0 when unknown
    previous: set[str] = field(default_factory=set)  # sha256 of the versions loaded before


@dataclass
class LoadResult:
    """What a load did: files read/skipped/failed, rows read and inserted, the errors frame (failures and
    problems: bad entries, changed files) and the skipped files with their reasons."""

    files_loaded: int = 0
    files_skipped: int = 0  # every skipped file, whatever the reason (``skipped`` lists them)
    files_unchanged: int = 0  # of which: already loaded, unchanged, for a window that covers this one
    files_changed: int = 0  # read again because their content changed since they were loaded (a warning each)
    files_failed: int = 0
    calls_failed: int = 0  # S3 listings and LookupEvents calls that failed
    records_read: int = 0
    records_bad: int = 0  # entries that are no readable record, or whose time cannot be read (listed)
    events_inserted: int = 0
    insights_inserted: int = 0
    digests: int = 0
    seconds: float = 0.0
    error_rows: list[dict] = field(default_factory=list)
    skipped_rows: list[dict] = field(default_factory=list)

    @property
    def errors(self) -> pd.DataFrame:
        """Failures and problems as an ``errors`` frame (operation = the file or API call; code = BadFile,
        BadRecord, FileChanged or the service's error code)."""
        from iamkit import frames

        return frames.conform(self.error_rows, "errors") if self.error_rows else frames.empty("errors")

    @property
    def skipped(self) -> pd.DataFrame:
        """Every file not read, and why (digest, empty, unknown shape, outside the window by its name,
        already loaded): columns ``path, kind, reason``."""
        import pandas as pd

        return pd.DataFrame(self.skipped_rows, columns=["path", "kind", "reason"])

    @property
    def nothing_read(self) -> bool:
        """Something failed and nothing could be read: no file loaded or already loaded, no event read."""
        return bool(self.files_failed or self.calls_failed) and not (
            self.files_loaded or self.files_unchanged or self.records_read
        )

    def as_dict(self) -> dict[str, Any]:
        """Counters only (for printing and JSON)."""
        out = {k: v for k, v in self.__dict__.items() if not k.endswith("_rows")} | {"errors": len(self.error_rows)}
        out["seconds"] = round(self.seconds, 3)
        return out


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def error_row(operation: str, code: str, message: str, account_id: str = "", region: str = "") -> dict:
    """A row of the ``errors`` frame about a load (a file, an S3 listing, an API call)."""
    return frames.error_row(operation, code, message, account_id=account_id, region=region, when=_now())


# ---------------------------------------------------------------- local files


def _is_candidate(p: Path) -> bool:
    name = p.name.lower()
    return not name.startswith(".") and name.endswith(JSON_SUFFIXES)


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, and JSON/gz files under folders named (sorted, recursive)."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw).expanduser()
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and _is_candidate(f)))
        elif p.is_file():
            out.append(p)
        else:
            raise BadInput(f"trail source not found: {raw}")
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(2**20), b""):
            h.update(chunk)
    return h.hexdigest()


def local_file_info(p: Path) -> FileInfo:
    """Identity of a local file: its absolute path and size:mtime (cheap to compare on every load)."""
    st = p.stat()
    return FileInfo(local=p, name=os.path.abspath(p), etag=f"{st.st_size}:{st.st_mtime_ns}", size=st.st_size)


# ---------------------------------------------------------------- the loader


def _micros(t: dt.datetime) -> int:
    return (t - _EPOCH) // dt.timedelta(microseconds=1)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def covers(
    windows: Iterable[tuple[dt.datetime | None, dt.datetime | None]], start: dt.datetime | None, end: dt.datetime | None
) -> bool:
    """Do the closed windows (None: unbounded on that side) together hold all of ``[start, end]``?
    Windows a microsecond apart (one ending on a day's last microsecond, one starting the next day) join."""
    lo = -math.inf if start is None else _micros(start)
    hi = math.inf if end is None else _micros(end)
    merged: list[list[float]] = []
    for s, e in sorted(
        (-math.inf if s is None else _micros(s), math.inf if e is None else _micros(e)) for s, e in windows
    ):
        if merged and s <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return any(s <= lo and e >= hi for s, e in merged)


def _history(con: duckdb.DuckDBPyConnection, names: list[str]) -> dict[str, list[tuple]]:
    """Past reads of these files: path -> [(etag, sha256, status, window_start, window_end)], from
    ``load_history`` and (for stores made before it) the ``loaded_files`` row."""
    if not names:
        return {}
    import pyarrow as pa

    _probe = pa.table({"path": pa.array(names, pa.string())})  # noqa: F841 (scanned by DuckDB)
    con.register("_probe", _probe)
    try:
        rows = con.execute("""
            SELECT h.path, h.etag, h.sha256, h.status, h.window_start, h.window_end
            FROM load_history h JOIN _probe p USING (path)
            UNION ALL  -- a store from before load_history: the sha256 only (no window: never covers one)
            SELECT f.path, NULL, f.sha256, 'ok-unknown-window', NULL, NULL
            FROM loaded_files f JOIN _probe p USING (path) WHERE f.status = 'ok'""").fetchall()
    finally:
        con.unregister("_probe")
    out: dict[str, list[tuple]] = {}
    for path, *rest in rows:
        out.setdefault(path, []).append(tuple(rest))
    return out


def _mark_many(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    """Record files in ``loaded_files`` (the latest row per file) and, when read (ok or error), in
    ``load_history`` (every read kept), in one statement each; rows follow ``store.MARK_COLUMNS``."""
    if not rows:
        return
    import pyarrow as pa

    cols = list(zip(*rows, strict=True))
    _marks = pa.table(
        {
            name: pa.array(list(col))
            for name, col in zip(store.MARK_COLUMNS, cols, strict=True)  # noqa: F841
        }
    )
    names = ", ".join(store.MARK_COLUMNS)
    con.register("_marks", _marks)
    try:
        con.execute(f"INSERT OR REPLACE INTO loaded_files ({names}) SELECT {names} FROM _marks")
        con.execute(f"INSERT INTO load_history ({names}) SELECT {names} FROM _marks WHERE status <> 'skipped'")
    finally:
        con.unregister("_marks")


def _fast_source(kind: str, files: list[FileInfo]) -> str:
    """SQL yielding parsed records ``x`` and ``_file`` (the file's recorded name) for same-shaped files.

    Each file (or line / array element) is parsed once by DuckDB's JSON reader, straight into
    ``store.RECORD_FIELDS``; ``_batch_files`` (registered by the loader) maps local paths to names.
    """
    lst = store.sql_list(str(f.local) for f in files)
    opts = f"maximum_object_size={MAX_OBJECT_SIZE}, compression='auto_detect', filename=true"
    if kind == "records":
        parsed = f"unnest(from_json(json, '{store.RECORDS_FILE_STRUCT}').Records)"
        fmt = "auto"
    else:
        parsed = f"from_json(json, '{store.RECORD_STRUCT}')"
        fmt = "array" if kind == "array" else "newline_delimited"
    return (
        f"SELECT {parsed} AS x, f.name AS _file "
        f"FROM read_json_objects({lst}, format='{fmt}', {opts}) o JOIN _batch_files f ON f.local = o.filename"
    )


def _stored_gzip(data: bytes) -> bytes:
    """``data`` as one gzip member holding a stored (uncompressed) deflate block: cheaper than compressing."""
    n = len(data)
    if n > 0xFFFF:
        raise ValueError(f"a stored gzip block holds at most 65535 bytes, not {n}")
    return (
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\x01"
        + n.to_bytes(2, "little")
        + (n ^ 0xFFFF).to_bytes(2, "little")
        + data
        + zlib.crc32(data).to_bytes(4, "little")
        + n.to_bytes(4, "little")
    )


_WRAP_TAIL = _stored_gzip(b"}\n")


def _wrap_head(name: str, gz: bool) -> bytes:
    """The bytes written before file ``name`` in a batch file: ``{"f":"<name>","d":`` (a gzip member when gz)."""
    head = b'{"f":' + json.dumps(name).encode() + b',"d":'
    return _stored_gzip(head) if gz else head


def _object_limit(batch: list[FileInfo]) -> int:
    """A ``maximum_object_size`` that fits every file of ``batch`` (DuckDB sizes its buffers by it: ~15 % of
    a load's time at 2 GiB). A file bigger than it says fails the batch and is then read on its own."""
    if any(not f.raw_size for f in batch):
        return MAX_OBJECT_SIZE
    return min(MAX_OBJECT_SIZE, max(64 * 2**20, 2 * max(f.raw_size for f in batch) + 4096))


def _split(batch: list[FileInfo], parts: int) -> list[list[tuple[int, FileInfo]]]:
    """``batch`` numbered from 1 and cut into up to ``parts`` contiguous chunks of similar raw size."""
    total = sum(f.raw_size or f.size * 10 for f in batch)
    target = total / max(1, parts)
    chunks: list[list[tuple[int, FileInfo]]] = [[]]
    size = 0
    for n, f in enumerate(batch, 1):
        if size >= target and len(chunks) < parts:
            chunks.append([])
            size = 0
        chunks[-1].append((n, f))
        size += f.raw_size or f.size * 10
    return chunks


def _concat_source(batch: list[FileInfo], parts: int = 2) -> tuple[list[Path], str]:
    """Join a batch of one-object delivery files into ``parts`` files DuckDB reads in parallel.

    DuckDB's JSON reader processes one small file per vector; CloudTrail writes many small files, so
    they are joined (gzip members concatenate) and read in full vectors. Each file is wrapped as
    ``{"f": "<its name>", "d": <file>}`` (extra gzip members around the untouched bytes), so every object
    names its file whatever the read order (no join needed: joining the parsed batch to a file table
    copied every record once more), and a file that is not exactly one object fails the batch.
    """
    gz = batch[0].gz
    tail = _WRAP_TAIL if gz else b"}\n"
    paths: list[Path] = []
    try:
        for chunk in _split(batch, parts):
            fd, name = tempfile.mkstemp(prefix="iamkit-batch-", suffix=".json.gz" if gz else ".json")
            paths.append(Path(name))
            with os.fdopen(fd, "wb") as out:
                for _, info in chunk:
                    out.write(_wrap_head(info.name, gz))
                    out.write(info.local.read_bytes())  # delivery files are small: whole-file reads are cheapest
                    out.write(tail)
    except BaseException:
        for q in paths:
            q.unlink(missing_ok=True)
        raise
    columns = "{'f': 'VARCHAR', 'd': 'STRUCT(Records " + store.RECORD_SQL_TYPE + "[])'}"
    lst = store.sql_list(str(q) for q in paths)
    sql = (
        f"SELECT unnest(o.d.Records) AS x, o.f AS _file "  # read_json parses each file once, typed
        f"FROM read_json({lst}, columns={columns}, format='auto', maximum_object_size={_object_limit(batch)}, "
        "compression='auto_detect') o"
    )
    return paths, sql


def _batches(files: list[FileInfo]) -> Iterator[list[FileInfo]]:
    limit = batch_bytes()
    batch: list[FileInfo] = []
    size = 0
    for f in files:
        batch.append(f)
        size += f.raw_size or f.size * 10  # unknown: assume CloudTrail's usual ~10x gzip ratio
        if size >= limit:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


class Loader:
    """Loads files into one store: classify, skip what is known, read fast or slow, record what happened."""

    #: problems listed per file at most (a hostile file of a million bad entries gives this many and a count)
    MAX_PROBLEMS = 50

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        window: Window | None = None,
        progress: Callable[[int, int], None] | None = None,
    ):
        self.con = con
        self.window = window or Window()
        self.result = LoadResult()
        self.progress = progress or (lambda done, total: None)
        #: batch files per fast batch: one gzip stream is read by one thread, so two per DuckDB thread keep
        #: every thread busy when the files' sizes differ
        self.parts = 2 * max(1, int(con.execute("SELECT current_setting('threads')").fetchall()[0][0]))

    # -- what to read
    def select(self, infos: list[FileInfo]) -> list[FileInfo]:
        """The files to read: not those outside the window by their name, nor those whose current version
        was loaded for windows covering this one (both listed as skipped). Notes earlier versions' hashes."""
        history = _history(self.con, [i.name for i in infos])
        todo = []
        for info in infos:
            delivered = delivery_time(info.name)
            if delivered is not None and not delivery_ok(self.window, delivered):
                self.skip(
                    info,
                    "outside-window",
                    f"outside the window by its name (delivered {delivered:%Y-%m-%dT%H:%MZ})",
                    mark=False,
                )
                continue
            past = history.get(info.name, [])
            windows = [(ws, we) for etag, _, status, ws, we in past if status == "ok" and etag == info.etag]
            if windows and covers(windows, self.window.start, self.window.end):
                self.result.files_unchanged += 1
                self.skip(info, "loaded", "already loaded, unchanged, for a window holding this one", mark=False)
                continue
            info.previous = {sha for _, sha, status, _, _ in past if status.startswith("ok") and sha}
            todo.append(info)
        return todo

    def skip(self, info: FileInfo, kind: str, reason: str, mark: bool = True) -> None:
        """List a file as skipped (and record it in ``loaded_files`` when ``mark``)."""
        self.result.files_skipped += 1
        self.result.skipped_rows.append({"path": info.name, "kind": kind, "reason": reason})
        if mark:
            info.kind = kind
            _mark_many(self.con, [self._mark_row(info, 0, "skipped", reason)])

    # -- reading
    def load_files(self, infos: list[FileInfo], *, hash_files: bool = True, selected: bool = False) -> LoadResult:
        """Load local files (possibly downloaded from S3) described by ``infos`` (``selected``: already
        passed through ``select``)."""
        t0 = time.perf_counter()
        todo = infos if selected else self.select(infos)
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda i: self._identify(i, hash_files), todo))
        for info in todo:
            if info.previous and info.sha256 and info.sha256 not in info.previous:
                self.result.files_changed += 1
                before = ", ".join(sorted(s[:16] for s in info.previous))
                self._row(
                    info,
                    "FileChanged",
                    f"changed since it was loaded (sha256 {info.sha256[:16]}…, before "
                    f"{before}…): read again, new events added, every version's hash "
                    "kept in load_history",
                )
        groups: dict[tuple[str, bool], list[FileInfo]] = {}
        for info in todo:  # same shape and same compression: a batch can be read as one stream
            groups.setdefault((info.kind, info.gz), []).append(info)
        done = 0
        for (kind, _gz), files in groups.items():
            if kind == "error":
                for f in files:
                    self._fail(f, f.reason)
                continue
            if kind in ("digest", "empty", "unknown"):
                self.result.digests += len(files) if kind == "digest" else 0
                for f in files:
                    self.skip(f, kind, f.reason)
                continue
            if kind in FAST_KINDS or kind == "insights":
                for batch in _batches(files):
                    self._load_fast("records" if kind == "insights" else kind, batch)
                    done += len(batch)
                    self.progress(done, len(todo))
            else:
                for f in files:
                    self._load_python(f)
                    done += 1
                    self.progress(done, len(todo))
        self.result.seconds += time.perf_counter() - t0
        return self.result

    def _identify(self, info: FileInfo, hash_files: bool) -> None:
        try:
            if info.size <= 2**20:  # small files (most CloudTrail deliveries): one read for everything
                data = info.local.read_bytes()
                if hash_files and not info.sha256:
                    info.sha256 = hashlib.sha256(data).hexdigest()
                info.gz = data[:2] == b"\x1f\x8b"
                info.raw_size = int.from_bytes(data[-4:], "little") if info.gz and len(data) > 18 else len(data)
                info.kind, info.reason = _classify_small(info.local, data)
                return
            if hash_files and not info.sha256:
                info.sha256 = _sha256(info.local)
            info.kind, info.reason = _classify(_chunks(info.local))
            with open(info.local, "rb") as f:
                info.gz = f.read(2) == b"\x1f\x8b"
        except (OSError, EOFError, zlib.error, TrailError, gzip.BadGzipFile) as e:  # recorded by the caller
            info.kind = "error"
            info.reason = _reason(e)

    def _mark_row(self, info: FileInfo, records: int, status: str, reason: str = "") -> tuple:
        return (
            info.name,
            info.etag,
            info.sha256,
            info.size,
            info.kind,
            records,
            status,
            reason,
            _now(),
            self.window.start,
            self.window.end,
        )

    def _row(self, info: FileInfo, code: str, message: str, operation: str = "") -> None:
        """An ``errors`` row about file ``info`` (account/region from a trail layout path, when it is one)."""
        where = layout_state(info.name.split("://", 1)[-1])
        self.result.error_rows.append(
            error_row(
                operation or f"load {info.name}", code, message, where.get("account", ""), where.get("region", "")
            )
        )

    def _fail(self, info: FileInfo, exc: BaseException | str, code: str = "BadFile", operation: str = "") -> None:
        reason = exc if isinstance(exc, str) else _reason(exc)
        self.result.files_failed += 1
        self._row(info, code, reason, operation)
        _mark_many(self.con, [self._mark_row(info, 0, "error", reason)])

    def fail_download(self, info: FileInfo, exc: BaseException) -> None:
        """One S3 object that could not be fetched (Glacier, denied...): listed; the others load."""
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        self._fail(info, exc, code=code, operation=f"s3:GetObject {info.name}")

    def _problems(self, info: FileInfo, problems: list[tuple[str, str]]) -> None:
        """List a file's bad entries (at most ``MAX_PROBLEMS``, then how many more)."""
        self.result.records_bad += len(problems)
        for where, what in problems[: self.MAX_PROBLEMS]:
            self._row(info, "BadRecord", f"{where}: {what}")
        if len(problems) > self.MAX_PROBLEMS:
            self._row(info, "BadRecord", f"… and {len(problems) - self.MAX_PROBLEMS} more entries like these")

    def _commit(
        self, counts: dict[str, int], infos: list[FileInfo], out: dict, reasons: dict[str, str] | None = None
    ) -> None:
        """Record the files in ``loaded_files``/``load_history``, commit, then count (a failed commit counts nothing)."""
        reasons = reasons or {}
        _mark_many(self.con, [self._mark_row(i, counts.get(i.name, 0), "ok", reasons.get(i.name, "")) for i in infos])
        self.con.execute("COMMIT")
        self.result.records_read += out["read"]
        self.result.events_inserted += out["inserted"]
        self.result.insights_inserted += out["insights"]
        self.result.files_loaded += len(infos)

    def _load_fast(self, kind: str, batch: list[FileInfo]) -> None:
        concat = kind == "records" and len(batch) > 1 and len({f.gz for f in batch}) == 1
        tmp: list[Path] = []
        odd: set[str] = set()
        if not concat:  # DuckDB reads the files themselves: a table maps their local paths to names
            import pyarrow as pa

            _batch_files = pa.table(
                {
                    "local": pa.array([str(i.local) for i in batch], pa.string()),  # noqa: F841
                    "name": pa.array([i.name for i in batch], pa.string()),
                }
            )
            self.con.register("_batch_files", _batch_files)
        try:
            self.con.execute("BEGIN TRANSACTION")
            if concat:
                tmp, source = _concat_source(batch, self.parts)
            else:
                source = _fast_source(kind, batch)
            out = None if kind == "insights" else store.insert_direct(self.con, source, parsed=True, window=self.window)
            if out is None:  # Insights records: the staged path sorts them into their own table
                self.con.execute("ROLLBACK")
                self.con.execute("BEGIN TRANSACTION")
                out = store.insert_json_relation(self.con, source, parsed=True, window=self.window)
            if None in out["per_file"]:
                raise TrailError("a delivery file held more than one JSON object")  # -> file by file
            if out["untimed"]:  # entries without a readable time (or no object at all): read those files in
                odd = set(out["untimed"])  # Python, which names each bad entry
                self.con.execute("ROLLBACK")
            else:
                self._commit(out["per_file"], batch, out)
        except Exception:  # one bad file fails a DuckDB batch: bisect to isolate it, the rest loads
            self.con.execute("ROLLBACK")
            if len(batch) == 1:
                self._load_python(batch[0])  # gives the file's own reason, or loads an odd shape
                return
            mid = len(batch) // 2
            self._load_fast(kind, batch[:mid])
            self._load_fast(kind, batch[mid:])
        finally:
            if not concat:
                self.con.unregister("_batch_files")
            for q in tmp:
                q.unlink(missing_ok=True)
        if odd:
            rest = [f for f in batch if f.name not in odd]
            if rest:
                self._load_fast(kind, rest)
            for f in batch:
                if f.name in odd:
                    self._load_python(f)

    def _load_python(self, info: FileInfo) -> None:
        try:
            parsed = parse.read_python(info.local)
        except (OSError, EOFError, ValueError, TrailError, UnicodeDecodeError, gzip.BadGzipFile) as e:
            self._fail(info, e)
            return
        times = [r.get("eventTime") if r.get("eventTime") is not None else r.get("@timestamp") for r in parsed.records]
        unpaired = [
            (parsed.where[i], "a string holds an unpaired UTF-16 surrogate escape (kept as the text \\udXXX)")
            for i, r in enumerate(parsed.records)
            if parse.record_text(r)[1]
        ]
        problems = (
            parsed.problems
            + unpaired
            + [
                (parsed.where[i], f"eventTime {parse.shown(times[i])} is not a time (the record is kept, without one)")
                for i in store.bad_times(self.con, times)
            ]
        )
        if not parsed.records and problems:  # the first problem says why the file failed; the others are listed
            self._fail(info, f"no record could be read: {problems[0][0]}: {problems[0][1]}")
            self.result.records_bad += 1
            self._problems(info, problems[1:])
            return
        records = parsed.records
        refused = _refused_records(records)  # probed apart: a refused record fails alone, never the whole file
        if refused:
            bad = {i for i, _ in refused}
            problems += [(parsed.where[i], f"refused by the store ({why})") for i, why in refused]
            records = [r for i, r in enumerate(records) if i not in bad]
            if not records:
                self._fail(info, f"no record could be stored: {refused[0][1]}")
                self.result.records_bad += len(refused)
                return
        self.con.execute("BEGIN TRANSACTION")
        try:
            out = insert_dicts(self.con, records, info.name, self.window)
            reason = f"{len(problems)} bad entries listed in load_errors" if problems else ""
            self._commit({info.name: len(records)}, [info], out, {info.name: reason})
        except Exception as e:  # noqa: BLE001 - whatever the store says, this file alone fails, named
            self.con.execute("ROLLBACK")
            self._fail(info, e)
            return
        self._problems(info, problems)


def _refused_records(records: list[dict]) -> list[tuple[int, str]]:
    """The records the store's parser would refuse, by index, with why: probed on a throwaway connection
    (a failed statement aborts a DuckDB transaction), bisecting so a clean file costs one probe."""
    import duckdb
    import pyarrow as pa

    probe = duckdb.connect()
    refused: list[tuple[int, str]] = []

    def check(lo: int, hi: int) -> None:
        texts = [parse.record_text(r)[0] for r in records[lo:hi]]
        _probe = pa.table(
            {
                "r": pa.array(texts, pa.string()),  # noqa: F841 (scanned by DuckDB)
                "_file": pa.array([""] * len(texts), pa.string()),
            }
        )
        try:
            probe.execute(f"SELECT count(from_json(r::JSON, '{store.RECORD_STRUCT}')) FROM _probe").fetchall()
        except duckdb.Error as e:
            if hi - lo == 1:
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                refused.append((lo, first[:200]))
                return
            mid = (lo + hi) // 2
            check(lo, mid)
            check(mid, hi)

    try:
        if records:
            check(0, len(records))
    finally:
        probe.close()
    return refused


def insert_dicts(con: duckdb.DuckDBPyConnection, records: list[dict], name: str, window: Window) -> dict:
    import pyarrow as pa

    texts = [parse.record_text(r)[0] for r in records]
    _py_records = pa.table(
        {
            "r": pa.array(texts, pa.string()),  # noqa: F841 (scanned by DuckDB)
            "_file": pa.array([name] * len(texts), pa.string()),
        }
    )
    con.register("_py_records", _py_records)
    try:
        return store.insert_json_relation(con, "SELECT r::JSON AS r, _file FROM _py_records", window=window)
    finally:
        con.unregister("_py_records")


def call_error(operation: str, exc: BaseException, region: str = "") -> dict:
    """An ``errors`` row for a failed AWS call: the service's error code when it gave one."""
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
    return error_row(operation, code, _reason(exc), region=region)


def _reason(exc: BaseException) -> str:
    """A one-line reason for a failed file (truncated gzip, invalid JSON, unknown shape...)."""
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, EOFError) or "end-of-stream" in msg or "Unexpected end of GZIP" in msg:
        return f"truncated gzip: {msg}"
    if isinstance(exc, gzip.BadGzipFile):
        return f"bad gzip: {msg}"
    if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError):
        return f"invalid JSON: {msg}"
    return msg


def boto_session(session: Any) -> Any:
    """``session``, or a default boto3 session (profile/env credentials, ``AWS_ENDPOINT_URL`` honoured)."""
    if session is not None:
        return session
    from iamkit.aws.session import new_session

    return new_session()
