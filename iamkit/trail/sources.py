"""CloudTrail sources: local files and folders, ``s3://`` trails (pruned before download), ``lookup:``.

Files are classified from their first bytes, then read in batches by DuckDB's JSON reader (fast path);
odd shapes (LookupEvents output, a single record, wrapped exports) are parsed in Python. A file that
cannot be read is recorded with its reason and the rest goes on loading.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
import re
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamkit.errors import BadInput, TrailError
from iamkit.trail import store

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
JSON_SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".gz")
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


@dataclass
class LoadResult:
    """What a load did: files read/skipped/failed, rows read and inserted, and the errors frame."""

    files_loaded: int = 0
    files_skipped: int = 0
    files_failed: int = 0
    records_read: int = 0
    events_inserted: int = 0
    insights_inserted: int = 0
    digests: int = 0
    seconds: float = 0.0
    error_rows: list[dict] = field(default_factory=list)

    @property
    def errors(self) -> pd.DataFrame:
        """Failures as an ``errors`` frame (operation = the file or API call that failed)."""
        from iamkit import frames

        return frames.conform(self.error_rows, "errors") if self.error_rows else frames.empty("errors")

    def as_dict(self) -> dict[str, Any]:
        """Counters only (for printing and JSON)."""
        out = {k: v for k, v in self.__dict__.items() if k != "error_rows"} | {"errors": len(self.error_rows)}
        out["seconds"] = round(self.seconds, 3)
        return out


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _error(operation: str, code: str, message: str, account_id: str = "", region: str = "") -> dict:
    return {"account_id": account_id, "region": region, "operation": operation, "code": code,
            "message": message, "when": _now()}


# ---------------------------------------------------------------- classification

def _head(path: Path, n: int = 65536) -> bytes:
    """The first ``n`` decompressed bytes (gzip detected from the magic number, not the name)."""
    with open(path, "rb") as f:
        magic = f.read(2)
    opener = gzip.open if magic == b"\x1f\x8b" else open
    with opener(path, "rb") as f:  # type: ignore[operator]
        return f.read(n)


_DIGEST_KEYS = (b'"digestStartTime"', b'"digestEndTime"', b'"previousDigestSignature"')


def _head_of(data: bytes, n: int = 65536) -> bytes:
    """The first ``n`` decompressed bytes of a file's content already in memory."""
    if data[:2] != b"\x1f\x8b":
        return data[:n]
    d = zlib.decompressobj(wbits=31)
    out = d.decompress(data, n)
    if len(out) < n and not d.eof and not d.unconsumed_tail:
        raise EOFError("Compressed file ended before the end-of-stream marker was reached")
    return out


def classify(path: Path, head: bytes | None = None) -> str:
    """The shape of a CloudTrail file: records | array | jsonl | lookup | digest | insights | single | empty.

    Raises ``TrailError`` for a file that is not JSON-like at all.
    """
    head = _head(path) if head is None else head
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text:
        return "empty"
    if any(k in head for k in _DIGEST_KEYS):
        return "digest"
    if b'"CloudTrailEvent"' in head:
        return "lookup"
    if text[:1] == b"[":
        return "array"
    if text[:1] != b"{":
        raise TrailError(f"{path}: not JSON (starts with {text[:16]!r})")
    if re.match(rb'\{\s*"Records"\s*:', text):
        return "insights" if b'"AwsCloudTrailInsight"' in head[:4096] else "records"
    first_line, _, rest = text.partition(b"\n")
    if rest.lstrip()[:1] == b"{" and first_line.rstrip().endswith(b"}"):
        return "jsonl"
    return "single"


def _classify_small(path: Path, data: bytes) -> str:
    """``classify`` for a file already in memory, deciding a plain delivery file from its first 4 KiB.

    Only a ``{"Records": …}`` head without digest or lookup markers is decided early; anything else gets
    the full 64 KiB look. A damaged gzip is then found when the batch reads it (and isolated there).
    """
    head = _head_of(data, 4096)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if (re.match(rb'\{\s*"Records"\s*:', text) and b'"CloudTrailEvent"' not in head
            and not any(k in head for k in _DIGEST_KEYS)):
        return "insights" if b'"AwsCloudTrailInsight"' in head else "records"
    return classify(path, head=_head_of(data))


# ---------------------------------------------------------------- python parsing for odd shapes

def _read_text(path: Path) -> str:
    with open(path, "rb") as f:
        magic = f.read(2)
    opener = gzip.open if magic == b"\x1f\x8b" else open
    with opener(path, "rb") as f:  # type: ignore[operator]
        return f.read().decode("utf-8-sig")


def _unwrap(obj: Any) -> list[dict]:
    """Records inside any supported wrapper: Records, Events (LookupEvents), a list, one record."""
    if isinstance(obj, list):
        out: list[dict] = []
        for item in obj:
            out.extend(_unwrap(item))
        return out
    if not isinstance(obj, dict):
        raise TrailError(f"unexpected JSON value of type {type(obj).__name__}")
    if "Records" in obj and isinstance(obj["Records"], list):
        return _unwrap(obj["Records"])
    if "Events" in obj and isinstance(obj["Events"], list):
        return _unwrap(obj["Events"])
    if "CloudTrailEvent" in obj:
        inner = obj["CloudTrailEvent"]
        return [json.loads(inner) if isinstance(inner, str) else inner]
    if "_source" in obj and isinstance(obj["_source"], dict):  # Elasticsearch/OpenSearch exports
        return [obj["_source"]]
    if any(k in obj for k in ("eventID", "eventName", "eventTime", "@timestamp")):
        return [obj]
    raise TrailError("unknown shape: no Records, Events, CloudTrailEvent or CloudTrail record fields")


def parse_python(path: Path) -> list[dict]:
    """Every record of a file of any supported shape, parsed in Python (slow path, odd shapes only)."""
    text = _read_text(path)
    try:
        return _unwrap(json.loads(text))
    except json.JSONDecodeError as first:
        records: list[dict] = []
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if len(lines) < 2:
            raise TrailError(f"invalid JSON: {first}") from None
        for i, line in enumerate(lines, 1):
            try:
                records.extend(_unwrap(json.loads(line)))
            except json.JSONDecodeError as e:
                raise TrailError(f"invalid JSON on line {i}: {e}") from None
        return records


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

def _already_loaded(con: duckdb.DuckDBPyConnection, infos: list[FileInfo]) -> set[str]:
    if not infos:
        return set()
    rows = con.execute("SELECT path, etag FROM loaded_files WHERE status = 'ok' AND path IN "
                       f"(SELECT unnest({store.sql_list(i.name for i in infos)}))").fetchall()
    known = dict(rows)
    return {i.name for i in infos if known.get(i.name) == i.etag}


_MARK_FIELDS = ("path", "etag", "sha256", "size", "kind", "records", "status", "reason", "loaded_at")


def _mark_many(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    """Record files in ``loaded_files`` in one statement (a row per file: path, etag, …, loaded_at)."""
    if not rows:
        return
    import pyarrow as pa

    cols = list(zip(*rows, strict=True))
    _marks = pa.table({name: pa.array(list(col)) for name, col in zip(_MARK_FIELDS, cols, strict=True)})  # noqa: F841
    con.register("_marks", _marks)
    try:
        con.execute(f"INSERT OR REPLACE INTO loaded_files SELECT {', '.join(_MARK_FIELDS)} FROM _marks")
    finally:
        con.unregister("_marks")


def _mark(con: duckdb.DuckDBPyConnection, info: FileInfo, records: int, status: str, reason: str = "") -> None:
    _mark_many(con, [_mark_row(info, records, status, reason)])


def _mark_row(info: FileInfo, records: int, status: str, reason: str = "") -> tuple:
    return (info.name, info.etag, info.sha256, info.size, info.kind, records, status, reason, _now())


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
    return (f"SELECT {parsed} AS x, f.name AS _file "
            f"FROM read_json_objects({lst}, format='{fmt}', {opts}) o JOIN _batch_files f ON f.local = o.filename")


def _stored_gzip(data: bytes) -> bytes:
    """``data`` as one gzip member holding a stored (uncompressed) deflate block: cheaper than compressing."""
    n = len(data)
    if n > 0xFFFF:
        raise ValueError(f"a stored gzip block holds at most 65535 bytes, not {n}")
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\x01" + n.to_bytes(2, "little")
            + (n ^ 0xFFFF).to_bytes(2, "little") + data + zlib.crc32(data).to_bytes(4, "little")
            + n.to_bytes(4, "little"))


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
    sql = (f"SELECT unnest(o.d.Records) AS x, o.f AS _file "  # read_json parses each file once, typed
           f"FROM read_json({lst}, columns={columns}, format='auto', maximum_object_size={_object_limit(batch)}, "
           "compression='auto_detect') o")
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
    """Loads files into one store: classify, skip known, read fast or slow, record what happened."""

    def __init__(self, con: duckdb.DuckDBPyConnection, *, start: Any = None, end: Any = None,
                 progress: Callable[[int, int], None] | None = None):
        self.con = con
        self.start, self.end = start, end
        self.result = LoadResult()
        self.progress = progress or (lambda done, total: None)
        #: batch files per fast batch: one gzip stream is read by one thread, so two per DuckDB thread keep
        #: every thread busy when the files' sizes differ
        self.parts = 2 * max(1, int(con.execute("SELECT current_setting('threads')").fetchall()[0][0]))

    def load_files(self, infos: list[FileInfo], *, hash_files: bool = True) -> LoadResult:
        """Load local files (possibly downloaded from S3) described by ``infos``."""
        t0 = time.perf_counter()
        known = _already_loaded(self.con, infos)
        todo = [i for i in infos if i.name not in known]
        self.result.files_skipped += len(infos) - len(todo)
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda i: self._identify(i, hash_files), todo))
        groups: dict[tuple[str, bool], list[FileInfo]] = {}
        for info in todo:  # same shape and same compression: a batch can be read as one stream
            groups.setdefault((info.kind, info.gz), []).append(info)
        done = 0
        for (kind, _gz), files in groups.items():
            if kind == "error":
                for f in files:
                    self._fail(f, f.reason)
                continue
            if kind in ("digest", "empty"):
                self.result.digests += len(files) if kind == "digest" else 0
                why = "CloudTrail digest file" if kind == "digest" else "empty file"
                _mark_many(self.con, [_mark_row(f, 0, "skipped", why) for f in files])
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
                info.kind = _classify_small(info.local, data)
                return
            if hash_files and not info.sha256:
                info.sha256 = _sha256(info.local)
            info.kind = classify(info.local)
            with open(info.local, "rb") as f:
                info.gz = f.read(2) == b"\x1f\x8b"
        except (OSError, EOFError, zlib.error, TrailError, gzip.BadGzipFile) as e:  # recorded by the caller
            info.kind = "error"
            info.reason = _reason(e)

    def _fail(self, info: FileInfo, exc: BaseException | str) -> None:
        reason = exc if isinstance(exc, str) else _reason(exc)
        self.result.files_failed += 1
        where = _state(info.name.split("://", 1)[-1])  # account/region from a trail layout path, when it is one
        self.result.error_rows.append(_error(f"load {info.name}", "BadFile", reason,
                                             where.get("account", ""), where.get("region", "")))
        _mark(self.con, info, 0, "error", reason)

    def _commit(self, counts: dict[str, int], infos: list[FileInfo], out: dict) -> None:
        """Record the files in ``loaded_files``, commit, then count (a failed commit counts nothing)."""
        _mark_many(self.con, [_mark_row(i, counts.get(i.name, 0), "ok") for i in infos])
        self.con.execute("COMMIT")
        self.result.records_read += out["read"]
        self.result.events_inserted += out["inserted"]
        self.result.insights_inserted += out["insights"]
        self.result.files_loaded += len(infos)

    def _load_fast(self, kind: str, batch: list[FileInfo]) -> None:
        concat = kind == "records" and len(batch) > 1 and len({f.gz for f in batch}) == 1
        tmp: list[Path] = []
        if not concat:  # DuckDB reads the files themselves: a table maps their local paths to names
            import pyarrow as pa

            _batch_files = pa.table({"local": pa.array([str(i.local) for i in batch], pa.string()),  # noqa: F841
                                     "name": pa.array([i.name for i in batch], pa.string())})
            self.con.register("_batch_files", _batch_files)
        try:
            self.con.execute("BEGIN TRANSACTION")
            if concat:
                tmp, source = _concat_source(batch, self.parts)
            else:
                source = _fast_source(kind, batch)
            out = None if kind == "insights" else store.insert_direct(self.con, source, parsed=True,
                                                                       start=self.start, end=self.end)
            if out is None:  # Insights records: the staged path sorts them into their own table
                self.con.execute("ROLLBACK")
                self.con.execute("BEGIN TRANSACTION")
                out = store.insert_json_relation(self.con, source, parsed=True, start=self.start, end=self.end)
            if None in out["per_file"]:
                raise TrailError("a delivery file held more than one JSON object")  # -> file by file
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

    def _load_python(self, info: FileInfo) -> None:
        try:
            records = parse_python(info.local)
        except (OSError, EOFError, ValueError, TrailError, UnicodeDecodeError, gzip.BadGzipFile) as e:
            self._fail(info, e)
            return
        self.con.execute("BEGIN TRANSACTION")
        try:
            out = _insert_dicts(self.con, records, info.name, self.start, self.end)
            self._commit({info.name: len(records)}, [info], out)
        except Exception as e:  # a record DuckDB cannot take: list it, keep going
            self.con.execute("ROLLBACK")
            self._fail(info, e)


def _insert_dicts(con: duckdb.DuckDBPyConnection, records: list[dict], name: str, start: Any, end: Any) -> dict:
    import pyarrow as pa

    texts = [json.dumps(r, default=str) for r in records if isinstance(r, dict)]
    _py_records = pa.table({"r": pa.array(texts, pa.string()),  # noqa: F841 (scanned by DuckDB)
                            "_file": pa.array([name] * len(texts), pa.string())})
    con.register("_py_records", _py_records)
    try:
        return store.insert_json_relation(con, "SELECT r::JSON AS r, _file FROM _py_records", start=start, end=end)
    finally:
        con.unregister("_py_records")


def _call_error(operation: str, exc: BaseException, region: str = "") -> dict:
    """An ``errors`` row for a failed AWS call: the service's error code when it gave one."""
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
    return _error(operation, code, _reason(exc), region=region)


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


# ---------------------------------------------------------------- S3

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_ORG = re.compile(r"^o-[a-z0-9]{10,32}$")


@dataclass
class Window:
    """Pruning filters for an S3 trail walk; dates compare on the folder date (with a day of margin)."""

    accounts: set[str] | None = None
    regions: set[str] | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def day_ok(self, y: int, m: int | None = None, d: int | None = None) -> bool:
        """Could a folder for year ``y`` (month ``m``, day ``d``) hold events inside the window?"""
        lo = (self.start - dt.timedelta(days=1)).date() if self.start else dt.date.min
        hi = (self.end + dt.timedelta(days=1)).date() if self.end else dt.date.max
        if d is not None and m is not None:
            first = last = dt.date(y, m, d)
        elif m is not None:
            first = dt.date(y, m, 1)
            last = (dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1))
        else:
            first, last = dt.date(y, 1, 1), dt.date(y, 12, 31)
        return last >= lo and first <= hi


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, prefix ending in / or empty)."""
    m = re.match(r"^s3://([^/]+)/?(.*)$", uri)
    if not m:
        raise BadInput(f"not an s3:// uri: {uri}")
    prefix = m.group(2)
    if prefix and not prefix.endswith("/") and not prefix.endswith(JSON_SUFFIXES):
        prefix += "/"
    return m.group(1), prefix


def _state(prefix: str) -> dict[str, Any]:
    """What a prefix already fixes: in_trail, account, region, y, m, d (from its path segments)."""
    st: dict[str, Any] = {"level": "top"}
    for seg in [s for s in prefix.split("/") if s]:
        _advance(st, seg)
    return st


def _advance(st: dict[str, Any], seg: str) -> str:
    """Move the walk state one segment down; return the segment's role."""
    level = st["level"]
    if level == "region" and re.fullmatch(r"\d{4}", seg):
        st.update(level="year", y=int(seg))
        return "year"
    if level == "year" and re.fullmatch(r"\d{2}", seg):
        st.update(level="month", m=int(seg))
        return "month"
    if level == "month" and re.fullmatch(r"\d{2}", seg):
        st.update(level="day", d=int(seg))
        return "day"
    if level == "service" and _REGION.match(seg):
        st.update(level="region", region=seg)
        return "region"
    if level == "account" and seg.startswith("CloudTrail"):
        st.update(level="service", service=seg)
        return "service"
    if _ACCOUNT.match(seg) and level in ("top", "awslogs", "org"):
        st.update(level="account", account=seg)
        return "account"
    if _ORG.match(seg) and level == "awslogs":
        st.update(level="org", org=seg)
        return "org"
    if seg == "AWSLogs":
        st.update(level="awslogs")
        return "awslogs"
    return "other"


def _keep(st: dict[str, Any], role: str, w: Window) -> bool:
    if role == "account":
        return w.accounts is None or st["account"] in w.accounts
    if role == "region":
        return w.regions is None or st["region"] in w.regions
    if role == "service":
        return st["service"] in ("CloudTrail", "CloudTrail-Insight")
    if role == "year":
        return w.day_ok(st["y"])
    if role == "month":
        return w.day_ok(st["y"], st["m"])
    if role == "day":
        return w.day_ok(st["y"], st["m"], st["d"])
    return True


def list_s3(client: Any, bucket: str, prefix: str, w: Window, max_depth: int = 12) -> list[dict]:
    """Objects of a trail under ``prefix``, walking folders with a delimiter and pruning by ``w`` first."""
    out: list[dict] = []
    frontier = [(prefix, _state(prefix), 0)]
    paginator = client.get_paginator("list_objects_v2")
    while frontier:
        next_frontier = []

        def walk(item: tuple[str, dict, int]) -> tuple[list[dict], list]:
            pfx, st, depth = item
            objs, subs = [], []
            delim = st["level"] != "day" and depth < max_depth
            kwargs = {"Bucket": bucket, "Prefix": pfx} | ({"Delimiter": "/"} if delim else {})
            for page in paginator.paginate(**kwargs):
                objs.extend(o for o in page.get("Contents", []) if o["Key"].endswith(JSON_SUFFIXES))
                for cp in page.get("CommonPrefixes", []):
                    seg = cp["Prefix"][len(pfx):].strip("/")
                    sub = dict(st)
                    role = _advance(sub, seg)
                    if _keep(sub, role, w):
                        subs.append((cp["Prefix"], sub, depth + 1))
            return objs, subs

        with ThreadPoolExecutor(max_workers=8) as pool:
            for objs, subs in pool.map(walk, frontier):
                out.extend(objs)
                next_frontier.extend(subs)
        frontier = next_frontier
    return sorted(out, key=lambda o: o["Key"])


def download_s3(client: Any, bucket: str, objects: list[dict], dest: Path, workers: int = 16) -> list[FileInfo]:
    """Download objects in parallel into ``dest`` (keys kept as relative paths)."""
    def one(obj: dict) -> FileInfo:
        local = dest / obj["Key"]
        local.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, obj["Key"], str(local))
        return FileInfo(local=local, name=f"s3://{bucket}/{obj['Key']}", etag=obj.get("ETag", "").strip('"'),
                        size=obj.get("Size", local.stat().st_size))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, objects))


# ---------------------------------------------------------------- LookupEvents

class Pacer:
    """At most ``rate`` calls per second per key (region); the clock and sleep are injectable for tests."""

    def __init__(self, rate: float = 2.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.interval = 1.0 / rate
        self.clock, self.sleep = clock, sleep
        self.last: dict[str, float] = {}

    def wait(self, key: str) -> None:
        """Block until a call for ``key`` is allowed."""
        now = self.clock()
        last = self.last.get(key)
        if last is not None and now - last < self.interval:
            self.sleep(self.interval - (now - last))
            now = self.clock()
        self.last[key] = now


LOOKUP_ATTRIBUTES = ("EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName",
                     "EventSource", "AccessKeyId")


def parse_lookup_spec(spec: str) -> dict[str, Any]:
    """``lookup:[region[,region]][?AttributeKey=value]`` -> regions and at most one attribute."""
    body = spec[len("lookup:"):]
    regions_part, _, query = body.partition("?")
    regions = [r for r in regions_part.split(",") if r]
    attr = None
    if query:
        key, eq, value = query.partition("=")
        if not eq or key not in LOOKUP_ATTRIBUTES:
            raise BadInput(f"lookup attribute must be one of {', '.join(LOOKUP_ATTRIBUTES)} as KEY=VALUE: {query}")
        attr = {"AttributeKey": key, "AttributeValue": value}
    return {"regions": regions, "attribute": attr}


def lookup_events(client_for: Callable[[str], Any], regions: list[str], *, attribute: dict | None = None,
                  start: dt.datetime | None = None, end: dt.datetime | None = None,
                  pacer: Pacer | None = None) -> Iterator[tuple[str, dict | None, dict | None]]:
    """Yield (region, record, error row) from LookupEvents, paging and pacing 2 requests/s per region."""
    pacer = pacer or Pacer()
    for region in regions:
        client = client_for(region)
        kwargs: dict[str, Any] = {"MaxResults": 50}
        if attribute:
            kwargs["LookupAttributes"] = [attribute]  # the API takes exactly one attribute per call
        if start:
            kwargs["StartTime"] = start
        if end:
            kwargs["EndTime"] = end
        while True:
            pacer.wait(region)
            try:
                page = client.lookup_events(**kwargs)
            except Exception as e:  # botocore ClientError / endpoint errors: listed, next region
                yield region, None, _call_error("cloudtrail:LookupEvents", e, region=region)
                break
            for ev in page.get("Events", []):
                raw = ev.get("CloudTrailEvent")
                try:
                    yield region, json.loads(raw) if isinstance(raw, str) else raw, None
                except json.JSONDecodeError as e:
                    yield region, None, _error("cloudtrail:LookupEvents", "InvalidJSON",
                                               f"event {ev.get('EventId')}: {e}", region=region)
            token = page.get("NextToken")
            if not token:
                break
            kwargs["NextToken"] = token


# ---------------------------------------------------------------- entry point

def _as_utc(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"not an ISO date/time: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def window_bounds(start: Any, end: Any) -> tuple[dt.datetime | None, dt.datetime | None]:
    """UTC datetimes for a time window given as datetimes, dates or ISO text; an end given as a bare date
    (``2026-03-01``) means the whole of that day, everywhere a window is taken (load, events, Athena)."""
    start, end = (v.strip() if isinstance(v, str) else v for v in (start, end))
    lo, hi = _as_utc(start), _as_utc(end)
    bare_date = (isinstance(end, dt.date) and not isinstance(end, dt.datetime)) or \
        (isinstance(end, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", end) is not None)
    if hi is not None and bare_date:
        hi = hi + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
    return lo, hi


def load(sources: Iterable[str | Path] | str | Path, con: duckdb.DuckDBPyConnection, *,
         accounts: Iterable[str] | None = None, regions: Iterable[str] | None = None,
         start: Any = None, end: Any = None, session: Any = None, s3_client: Any = None,
         cache_dir: str | Path | None = None, pacer: Pacer | None = None,
         progress: Callable[[int, int], None] | None = None) -> LoadResult:
    """Load every source (local paths, ``s3://bucket/prefix``, ``lookup:…``) into the store ``con``."""
    if isinstance(sources, str | Path):
        sources = [sources]
    start_ts, end_ts = window_bounds(start, end)
    window = Window(set(accounts) if accounts else None, set(regions) if regions else None, start_ts, end_ts)
    loader = Loader(con, start=start_ts, end=end_ts, progress=progress)
    local: list[str | Path] = []
    for src in sources:
        s = str(src)
        if s.startswith("s3://"):
            _load_s3(loader, s, window, session, s3_client, cache_dir)
        elif s.startswith("lookup:"):
            _load_lookup(loader, s, window, session, pacer)
        else:
            local.append(src)
    if local:
        loader.load_files([local_file_info(p) for p in discover(local)])
    if loader.result.error_rows:
        store.add_errors(con, [r for r in loader.result.error_rows])
    return loader.result


def _boto_session(session: Any) -> Any:
    if session is not None:
        return session
    import boto3

    return boto3.Session()


def _load_s3(loader: Loader, uri: str, w: Window, session: Any, client: Any, cache_dir: Any) -> None:
    bucket, prefix = parse_s3_uri(uri)
    client = client or _boto_session(session).client("s3")
    try:
        if prefix.endswith(JSON_SUFFIXES):
            head = client.head_object(Bucket=bucket, Key=prefix)
            objects = [{"Key": prefix, "ETag": head.get("ETag", ""), "Size": head.get("ContentLength", 0)}]
        else:
            objects = list_s3(client, bucket, prefix, w)
    except Exception as e:
        loader.result.error_rows.append(_call_error(f"s3:ListObjectsV2 s3://{bucket}/{prefix}", e))
        return
    digests = [o for o in objects if "/CloudTrail-Digest/" in o["Key"]]
    objects = [o for o in objects if o not in digests]
    loader.result.digests += len(digests)
    names = {f"s3://{bucket}/{o['Key']}": o for o in objects}
    infos = [FileInfo(local=Path(), name=n, etag=o.get("ETag", "").strip('"'), size=o.get("Size", 0))
             for n, o in names.items()]
    known = _already_loaded(loader.con, infos)
    loader.result.files_skipped += len(known)
    todo = [names[i.name] for i in infos if i.name not in known]
    if not todo:
        return
    tmp = None
    if cache_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="iamkit-s3-")
        dest = Path(tmp.name)
    else:
        dest = Path(cache_dir)
    try:
        for chunk_start in range(0, len(todo), 2000):  # bounded disk use for very large trails
            chunk = todo[chunk_start:chunk_start + 2000]
            try:
                files = download_s3(client, bucket, chunk, dest)
            except Exception as e:
                loader.result.error_rows.append(_call_error(f"s3:GetObject s3://{bucket}/{prefix}", e))
                continue
            loader.load_files(files)
            if tmp is not None:
                for f in files:
                    f.local.unlink(missing_ok=True)
    finally:
        if tmp is not None:
            tmp.cleanup()


def _load_lookup(loader: Loader, spec: str, w: Window, session: Any, pacer: Pacer | None) -> None:
    parsed = parse_lookup_spec(spec)
    sess = _boto_session(session)
    regions = parsed["regions"] or sorted(w.regions or [sess.region_name or os.environ.get("AWS_REGION", "us-east-1")])
    records: list[dict] = []
    for _region, rec, err in lookup_events(lambda r: sess.client("cloudtrail", region_name=r), regions,
                                           attribute=parsed["attribute"], start=w.start, end=w.end, pacer=pacer):
        if err:
            loader.result.error_rows.append(err)
        elif rec is not None:
            records.append(rec)
    out = _insert_dicts(loader.con, records, spec, w.start, w.end)
    loader.result.records_read += out["read"]
    loader.result.events_inserted += out["inserted"]
    loader.result.insights_inserted += out["insights"]
