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
import math
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
from iamkit.frames import error_row
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
            self.files_loaded or self.files_unchanged or self.records_read)

    def as_dict(self) -> dict[str, Any]:
        """Counters only (for printing and JSON)."""
        out = {k: v for k, v in self.__dict__.items() if not k.endswith("_rows")} | {"errors": len(self.error_rows)}
        out["seconds"] = round(self.seconds, 3)
        return out


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _error(operation: str, code: str, message: str, account_id: str = "", region: str = "") -> dict:
    return error_row(operation, code, message, account_id=account_id, region=region, when=_now())


# ---------------------------------------------------------------- classification

#: Keys only a CloudTrail digest file has at its top level.
DIGEST_KEYS = frozenset({"digestStartTime", "digestEndTime", "digestS3Bucket", "digestS3Object",
                         "digestPublicKeyFingerprint", "digestSignatureAlgorithm", "previousDigestS3Bucket",
                         "previousDigestS3Object", "previousDigestHashValue", "previousDigestHashAlgorithm",
                         "previousDigestSignature"})
#: Keys of a CloudTrail record (or of a renamed export of one): an object holding one is a record.
RECORD_KEYS = frozenset({"eventID", "eventName", "eventTime", "eventSource", "@timestamp"})
_WRAPPER_KEYS = frozenset({"Records", "Events", "CloudTrailEvent", "_source"})
_SHAPE_KEYS = DIGEST_KEYS | RECORD_KEYS | _WRAPPER_KEYS
CHUNK = 65536
HEAD = 4096  # the first read: what decides a delivery file (no need to inflate all of it)

_TOKEN = re.compile(rb'["{}\[\]]')  # outside strings, at depths whose keys are not tracked
_TOKEN_KEYS = re.compile(rb'["{}\[\],:]')  # outside strings, where keys are tracked
_STRING_BODY = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*', re.S)  # up to a closing quote or a final lone backslash
_SPACE = b" \t\r\n"
_MAX_KEY = 256  # longer keys are none of the keys looked for


class _Scanner:
    """A streaming look at the structure of a JSON document: the keys of its top-level object (with the
    first byte of each value), or the keys of the first element of its top-level array, and whether more
    values follow it. Bytes go in chunk by chunk; each byte is looked at once (linear time), strings are
    skipped whole by one regex step, and only short keys at the tracked depths are kept (bounded memory).
    """

    def __init__(self) -> None:
        self.started = False
        self.top = b""  # b"{" or b"["
        self.depth = 0
        self.stack: list[bytes] = []  # container of each open level
        self.expect_key = False
        self.in_string = False
        self.escape = False
        self.capture: bytearray | None = None  # the key being read, when it is one we track
        self.key_too_long = False
        self.last_key: str | None = None
        self.await_value: str | None = None  # a top-level key whose value's first byte is wanted
        self.keys: dict[str, bytes] = {}  # top-level keys that decide a shape -> first byte of their value
        self.other_keys: list[str] = []  # a few other top-level keys (to name an unknown shape)
        self.first_element = b""  # first byte of the top-level array's first element
        self.element_keys: set[str] = set()
        self.first_done = False  # the top-level value is complete
        self.more = b""  # first byte after the top-level value (another value: JSON lines)
        self.buffer = b""  # the first HEAD bytes (a first record is decoded from them)
        self._in_first_element = False

    def _tracked(self) -> bool:
        """Are keys at the current depth wanted? The top-level object's, and the first array element's."""
        if self.top == b"{":
            return self.depth == 1
        return self.depth == 2 and not self.first_done and self._in_first_element

    def feed(self, buf: bytes) -> None:
        """Look at the next chunk (stops looking once the top-level value ended and the next byte is known)."""
        if len(self.buffer) < HEAD:
            self.buffer += buf[: HEAD - len(self.buffer)]
        pos, n = 0, len(buf)
        while pos < n and not self.decided():
            if self.in_string:
                pos = self._string(buf, pos)
                continue
            if not self.started or self.first_done or self.await_value is not None:
                while pos < n and buf[pos] in _SPACE:
                    pos += 1
                if pos >= n:
                    break
                b = buf[pos:pos + 1]
                if not self.started:
                    if b not in (b"{", b"["):
                        raise TrailError(f"not JSON (starts with {buf[pos:pos + 16]!r})")
                    self.started, self.top = True, b
                elif self.first_done:
                    self.more = b
                    break
                else:
                    self.keys[self.await_value] = b
                    self.await_value = None
            m = (_TOKEN_KEYS if self._tracked() or self.depth <= 1 else _TOKEN).search(buf, pos)
            if m is None:
                break
            pos = m.end()
            self._token(m.group())

    def _token(self, t: bytes) -> None:
        if t == b'"':
            self.in_string = True
            self.capture = bytearray() if self.expect_key and self._tracked() else None
            self.key_too_long = False
        elif t in (b"{", b"["):
            if self.top == b"[" and self.depth == 1 and not self.first_element:
                self.first_element = t
                self._in_first_element = True
            self.depth += 1
            self.stack.append(t)
            self.expect_key = t == b"{"
        elif t in (b"}", b"]"):
            self.depth -= 1
            if self.stack:
                self.stack.pop()
            if self.depth == 1 and self.top == b"[":
                self._in_first_element = False
            if self.depth == 0:
                self.first_done = True
            self.expect_key = False
        elif t == b",":
            if self.top == b"[" and self.depth == 1 and not self.first_element:
                self.first_element = b","  # the first element was a scalar
            self.expect_key = bool(self.stack) and self.stack[-1] == b"{"
        elif t == b":":
            self.expect_key = False
            if self.last_key is not None and self.top == b"{" and self.depth == 1:
                self.await_value = self.last_key
            self.last_key = None

    def _string(self, buf: bytes, pos: int) -> int:
        if self.escape:  # the last chunk ended on a backslash: this byte is escaped
            self._keep(buf[pos:pos + 1])
            self.escape = False
            return pos + 1
        end = _STRING_BODY.match(buf, pos).end()
        self._keep(buf[pos:end])
        if end >= len(buf):
            return end
        if buf[end:end + 1] == b"\\":  # a lone backslash ends the chunk
            self._keep(b"\\")
            self.escape = True
            return end + 1
        self.in_string = False  # buf[end] is the closing quote
        if self.top == b"[" and self.depth == 1 and not self.first_element:
            self.first_element = b'"'
        if self.capture is not None:
            key = None
            if not self.key_too_long:
                try:
                    key = json.loads(b'"' + bytes(self.capture) + b'"')
                except ValueError:
                    key = None
            if key not in _SHAPE_KEYS:  # kept: only the keys that decide a shape, and a few to show
                if key is not None and len(self.other_keys) < 8 and self.top == b"{":
                    self.other_keys.append(key)
                key = None
            elif self.top == b"{":
                self.keys.setdefault(key, b"")
            else:
                self.element_keys.add(key)
            self.last_key = key
            self.capture = None
        return end + 1

    def _keep(self, part: bytes) -> None:
        if self.capture is not None and not self.key_too_long:
            if len(self.capture) + len(part) > _MAX_KEY:
                self.key_too_long = True
            else:
                self.capture += part

    def decided(self) -> bool:
        """Enough is known to classify (a records file is known from its ``Records`` key on)."""
        if self.more:
            return True
        if self.top == b"{":
            return self.keys.get("Records") == b"["
        if self.top == b"[":
            return self.first_element not in (b"", b"{") or not self._in_first_element and self.first_element == b"{"
        return False


def _chunks(path: Path, data: bytes | None = None) -> Iterator[bytes]:
    """The decompressed content of a file (or of its bytes already read), chunk by chunk (the first
    ``HEAD`` bytes, then ``CHUNK``s); gzip is told by its magic number, not the name; a gzip cut short
    raises ``EOFError`` when its end is reached."""
    if data is not None:
        yield from (_inflate(data) if data[:2] == b"\x1f\x8b" else
                    (data[i:i + CHUNK] for i in range(0, len(data), CHUNK)))
        return
    with open(path, "rb") as raw:
        gz = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw) if gz else raw
        size = HEAD
        while chunk := stream.read(size):
            yield chunk
            size = CHUNK


def _inflate(data: bytes) -> Iterator[bytes]:
    """gzip ``data`` (any number of members) inflated chunk by chunk, no more than asked for."""
    rest, size = data, HEAD
    while rest:
        d = zlib.decompressobj(wbits=31)
        pending = rest
        while not d.eof:
            out = d.decompress(pending, size)
            pending = d.unconsumed_tail
            if not out and not pending:
                out = d.flush()
                if not d.eof:
                    if out:
                        yield out
                    raise EOFError("Compressed file ended before the end-of-stream marker was reached")
            if out:
                yield out
                size = CHUNK
        rest = d.unused_data
        if rest[:2] != b"\x1f\x8b":
            if rest.strip(b"\x00"):
                raise gzip.BadGzipFile("not a gzip member after the first one")
            return


def _classify(chunks: Iterable[bytes]) -> tuple[str, str]:
    """(kind, why) of a document from its structure: records | insights | array | jsonl | lookup | single |
    digest | irregular | empty | unknown. Raises ``TrailError`` for bytes that are not JSON."""
    sc = _Scanner()
    it = _without_bom(chunks)
    for chunk in it:
        sc.feed(chunk)
        if sc.decided():
            break
    while len(sc.buffer) < HEAD:  # the head a first record is decoded from, however the chunks fell
        chunk = next(it, b"")
        if not chunk:
            break
        sc.buffer += chunk[: HEAD - len(sc.buffer)]
    if not sc.started:
        return "empty", "empty file"
    if sc.top == b"[":
        if sc.first_element == b"{" and not sc._in_first_element and "CloudTrailEvent" in sc.element_keys:
            return "lookup", ""
        return "array", ""
    keys = sc.keys
    if keys.get("Records") == b"[":
        return ("insights" if _first_record_is_insight(sc.buffer) else "records"), ""
    if not sc.first_done:
        raise TrailError("invalid JSON: the file ends inside its top-level object")
    if sc.more:
        return "jsonl", ""
    if "Records" in keys:
        return "irregular", f"Records is {_json_kind(keys['Records'])}, not a list"
    if "Events" in keys:
        return ("lookup", "") if keys["Events"] == b"[" else ("irregular", "Events is not a list")
    if keys.keys() & (RECORD_KEYS | _WRAPPER_KEYS):
        return "single", ""
    if keys.keys() & DIGEST_KEYS:
        return "digest", "CloudTrail digest file (digest keys at its top level, no Records)"
    shown = ", ".join(sc.other_keys) or "none"
    return "unknown", f"unknown shape: a JSON object without Records, Events or record fields (keys: {shown})"


def _without_bom(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The chunks without a leading UTF-8 byte order mark (however the first chunks are cut)."""
    it = iter(chunks)
    head = b""
    for chunk in it:
        head += chunk
        if len(head) >= 3:
            break
    if head:
        yield head.removeprefix(b"\xef\xbb\xbf")
    yield from it


def _json_kind(first: bytes) -> str:
    return {b"n": "null", b"{": "an object", b'"': "a string", b"t": "a boolean", b"f": "a boolean"}.get(
        first, "a number" if first else "missing")


def _first_record_is_insight(head: bytes) -> bool:
    """Is the first entry of ``Records`` (decoded from the head of the file when it fits) an Insights event?"""
    text = head.decode("utf-8", "replace")
    m = re.match(r'\s*\{\s*"Records"\s*:\s*\[\s*', text)  # the usual layout; any other: plain records
    if not m:
        return False
    try:
        first, _ = json.JSONDecoder().raw_decode(text, m.end())
    except ValueError:
        return False
    return isinstance(first, dict) and (first.get("eventType") == "AwsCloudTrailInsight"
                                        or first.get("eventCategory") == "Insight")


def classify(path: Path) -> str:
    """The shape of a CloudTrail file, read from its structure (never from a substring of its content):
    records | insights | array | jsonl | lookup | single | digest | irregular | empty | unknown.

    A digest is a top-level object with digest keys and neither ``Records`` nor record fields; a
    ``"digestStartTime"`` inside a record is just a value. Raises ``TrailError`` for bytes that are not JSON.
    """
    return _classify(_chunks(path))[0]


def _classify_small(path: Path, data: bytes) -> tuple[str, str]:
    """``_classify`` of a file already in memory (most delivery files): (kind, why)."""
    return _classify(_chunks(path, data))


# ---------------------------------------------------------------- python parsing for odd shapes

def _read_text(path: Path) -> str:
    with open(path, "rb") as f:
        magic = f.read(2)
    opener = gzip.open if magic == b"\x1f\x8b" else open
    with opener(path, "rb") as f:  # type: ignore[operator]
        return f.read().decode("utf-8-sig")


@dataclass
class Parsed:
    """What a file holds: its records (each with where it sits in the file) and what could not be read."""

    records: list[dict] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (where, what is wrong)

    def add(self, record: dict, where: str) -> None:
        self.records.append(record)
        self.where.append(where)


def _type_name(value: Any) -> str:
    return "null" if value is None else {"str": "a string", "int": "a number", "float": "a number",
                                         "bool": "a boolean", "list": "a list", "dict": "an object"}.get(
        type(value).__name__, type(value).__name__)


def _at(where: str, part: str) -> str:
    return f"{where}.{part}" if where and not part.startswith("[") and not where.endswith(" ") else f"{where}{part}"


def _unwrap(obj: Any, out: Parsed, where: str = "") -> None:
    """Add the records inside ``obj`` (Records, Events/CloudTrailEvent of LookupEvents, a list, an
    Elasticsearch ``_source``, one record) to ``out``; every entry that is not a record becomes a problem
    naming where it is. Iterative: hostile nesting cannot exhaust the stack."""
    work = [(obj, where)]
    while work:
        node, at = work.pop()
        here = at.strip() or "file"
        if isinstance(node, list):
            work.extend((item, _at(at, f"[{i}]")) for i, item in reversed(list(enumerate(node))))
            continue
        if not isinstance(node, dict):
            out.problems.append((here, f"{_type_name(node)}, not a record object"))
            continue
        if "Records" in node:
            if isinstance(node["Records"], list):
                work.append((node["Records"], _at(at, "Records")))
            else:
                out.problems.append((_at(at, "Records"), f"Records is {_type_name(node['Records'])}, not a list"))
        elif "Events" in node:
            if isinstance(node["Events"], list):
                work.append((node["Events"], _at(at, "Events")))
            else:
                out.problems.append((_at(at, "Events"), f"Events is {_type_name(node['Events'])}, not a list"))
        elif "CloudTrailEvent" in node:
            inner = node["CloudTrailEvent"]
            if isinstance(inner, str):
                try:
                    inner = json.loads(inner)
                except json.JSONDecodeError as e:
                    out.problems.append((_at(at, "CloudTrailEvent"), f"invalid JSON: {e}"))
                    continue
            if isinstance(inner, dict):
                out.add(inner, _at(at, "CloudTrailEvent"))
            else:
                out.problems.append((_at(at, "CloudTrailEvent"), f"{_type_name(inner)}, not a record object"))
        elif isinstance(node.get("_source"), dict):  # Elasticsearch/OpenSearch exports
            out.add(node["_source"], _at(at, "_source"))
        elif node.keys() & RECORD_KEYS:
            out.add(node, here)
        else:
            out.problems.append((here, "unknown shape: no Records, Events, CloudTrailEvent or record fields"))


def read_python(path: Path) -> Parsed:
    """Every record of a file of any supported shape, parsed in Python (slow path, odd shapes only), with
    the entries that are not records listed. Raises ``TrailError`` when the file is not JSON at all or
    holds nothing of a trail file."""
    text = _read_text(path)
    out = Parsed()
    try:
        _unwrap(json.loads(text), out)
    except json.JSONDecodeError as first:
        lines = [(n, ln) for n, ln in enumerate(text.splitlines(), 1) if ln.strip()]
        try:
            if len(lines) < 2:
                raise ValueError
            json.loads(lines[0][1])
        except ValueError:  # not JSON lines either: the whole document is broken
            raise TrailError(f"invalid JSON: {first}") from None
        for n, line in lines:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                out.problems.append((f"line {n}", f"invalid JSON: {e}"))
                continue
            _unwrap(obj, out, f"line {n} ")
    if not out.records and [w for w, _ in out.problems] == ["file"]:
        raise TrailError(out.problems[0][1])  # the file as a whole is no trail file
    return out


def parse_python(path: Path) -> list[dict]:
    """Every record of a file of any supported shape (``read_python`` without the problems)."""
    return read_python(path).records


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


def covers(windows: Iterable[tuple[dt.datetime | None, dt.datetime | None]], start: dt.datetime | None,
           end: dt.datetime | None) -> bool:
    """Do the closed windows (None: unbounded on that side) together hold all of ``[start, end]``?
    Windows a microsecond apart (one ending on a day's last microsecond, one starting the next day) join."""
    lo = -math.inf if start is None else _micros(start)
    hi = math.inf if end is None else _micros(end)
    merged: list[list[float]] = []
    for s, e in sorted((-math.inf if s is None else _micros(s), math.inf if e is None else _micros(e))
                       for s, e in windows):
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
    _marks = pa.table({name: pa.array(list(col)) for name, col in  # noqa: F841
                       zip(store.MARK_COLUMNS, cols, strict=True)})
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
    """Loads files into one store: classify, skip what is known, read fast or slow, record what happened."""

    #: problems listed per file at most (a hostile file of a million bad entries gives this many and a count)
    MAX_PROBLEMS = 50

    def __init__(self, con: duckdb.DuckDBPyConnection, *, start: Any = None, end: Any = None,
                 progress: Callable[[int, int], None] | None = None, window: Window | None = None):
        self.con = con
        self.start, self.end = start, end
        self.window = window or Window(start=start, end=end)
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
            if delivered is not None and not self.window.delivery_ok(delivered):
                self.skip(info, "outside-window", f"outside the window by its name (delivered {delivered:%Y-%m-%dT%H:%MZ})",
                          mark=False)
                continue
            past = history.get(info.name, [])
            windows = [(ws, we) for etag, _, status, ws, we in past if status == "ok" and etag == info.etag]
            if windows and covers(windows, self.start, self.end):
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
                self._row(info, "FileChanged", f"changed since it was loaded (sha256 {info.sha256[:16]}…, before "
                                               f"{before}…): read again, new events added, every version's hash "
                                               "kept in load_history")
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
        return (info.name, info.etag, info.sha256, info.size, info.kind, records, status, reason, _now(),
                self.start, self.end)

    def _row(self, info: FileInfo, code: str, message: str, operation: str = "") -> None:
        """An ``errors`` row about file ``info`` (account/region from a trail layout path, when it is one)."""
        where = _state(info.name.split("://", 1)[-1])
        self.result.error_rows.append(_error(operation or f"load {info.name}", code, message,
                                             where.get("account", ""), where.get("region", "")))

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

    def _commit(self, counts: dict[str, int], infos: list[FileInfo], out: dict,
                reasons: dict[str, str] | None = None) -> None:
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
            parsed = read_python(info.local)
        except (OSError, EOFError, ValueError, TrailError, UnicodeDecodeError, gzip.BadGzipFile) as e:
            self._fail(info, e)
            return
        times = [r.get("eventTime") if r.get("eventTime") is not None else r.get("@timestamp")
                 for r in parsed.records]
        unpaired = [(parsed.where[i], "a string holds an unpaired UTF-16 surrogate escape (kept as the text "
                     "\\udXXX)") for i, r in enumerate(parsed.records) if record_text(r)[1]]
        problems = parsed.problems + unpaired + [
            (parsed.where[i], f"eventTime {_shown(times[i])} is not a time (the record is kept, without one)")
            for i in store.bad_times(self.con, times)]
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
            out = _insert_dicts(self.con, records, info.name, self.start, self.end)
            reason = f"{len(problems)} bad entries listed in load_errors" if problems else ""
            self._commit({info.name: len(records)}, [info], out, {info.name: reason})
        except Exception as e:  # noqa: BLE001 - whatever the store says, this file alone fails, named
            self.con.execute("ROLLBACK")
            self._fail(info, e)
            return
        self._problems(info, problems)


def _shown(value: Any, limit: int = 60) -> str:
    """A value from a file, short and quoted, for a message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _unpaired_as_text(v: Any) -> Any:
    """``v`` with every unpaired UTF-16 surrogate in its strings written as the text ``\\udXXX``."""
    if isinstance(v, str):
        return v.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(v, dict):
        return {_unpaired_as_text(k): _unpaired_as_text(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_unpaired_as_text(x) for x in v]
    return v


def record_text(r: Any) -> tuple[str, bool]:
    """A parsed record as JSON text DuckDB accepts, and whether it had to be changed to be accepted.

    JSON allows ``\\ud800`` (an unpaired surrogate escape), which Python parses and DuckDB refuses; one such
    value in a field an attacker controls (a user agent) must not keep the whole file out of the store. It is
    kept as the visible text ``\\ud800``.
    """
    text = json.dumps(r, default=str, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(_unpaired_as_text(r), default=str, ensure_ascii=False), True
    return text, False


def _refused_records(records: list[dict]) -> list[tuple[int, str]]:
    """The records the store's parser would refuse, by index, with why: probed on a throwaway connection
    (a failed statement aborts a DuckDB transaction), bisecting so a clean file costs one probe."""
    import duckdb
    import pyarrow as pa

    probe = duckdb.connect()
    refused: list[tuple[int, str]] = []

    def check(lo: int, hi: int) -> None:
        texts = [record_text(r)[0] for r in records[lo:hi]]
        _probe = pa.table({"r": pa.array(texts, pa.string()),  # noqa: F841 (scanned by DuckDB)
                           "_file": pa.array([""] * len(texts), pa.string())})
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


def _insert_dicts(con: duckdb.DuckDBPyConnection, records: list[dict], name: str, start: Any, end: Any) -> dict:
    import pyarrow as pa

    texts = [record_text(r)[0] for r in records]
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

    def delivery_ok(self, delivered: dt.datetime) -> bool:
        """Could a file delivered at ``delivered`` hold events inside the window? Its events are older than
        its delivery (an hour's margin for clocks), and rarely more than a day (the folders' margin)."""
        return ((self.start is None or delivered >= self.start - dt.timedelta(hours=1))
                and (self.end is None or delivered <= self.end + dt.timedelta(days=1)))


#: CloudTrail's delivery file name: ``<account>_CloudTrail[-Insight]_<region>_<YYYYMMDDTHHMMZ>_<unique>.json.gz``
_DELIVERY_NAME = re.compile(r"\d{12}_CloudTrail(?:-Insight)?_[a-z0-9-]{1,32}_(\d{8}T\d{4})Z_[A-Za-z0-9]{1,64}\.json(?:\.gz)?")


def delivery_time(name: str) -> dt.datetime | None:
    """When CloudTrail delivered a file, from its name (None when the name is not CloudTrail's)."""
    m = _DELIVERY_NAME.fullmatch(name.rsplit("/", 1)[-1])
    if not m:
        return None
    t = m.group(1)
    try:  # by hand: strptime costs more than the rest of a file's bookkeeping
        return dt.datetime(int(t[:4]), int(t[4:6]), int(t[6:8]), int(t[9:11]), int(t[11:13]), tzinfo=dt.UTC)
    except ValueError:
        return None


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


def _local_for(dest: Path, key: str) -> Path:
    """Where object ``key`` is saved under ``dest``: its key as a relative path, never outside ``dest``."""
    parts = [p for p in key.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise TrailError(f"unsafe S3 key for a local copy: {key!r}")
    return dest.joinpath(*parts)


def download_s3(client: Any, bucket: str, infos: list[FileInfo], dest: Path,
                workers: int = 16) -> tuple[list[FileInfo], list[tuple[FileInfo, BaseException]]]:
    """Download objects in parallel into ``dest`` (keys kept as relative paths): (fetched, failed with why).
    One object that cannot be fetched (in Glacier, denied, gone) fails alone."""
    def one(info: FileInfo) -> tuple[FileInfo, BaseException | None]:
        key = info.name.split("/", 3)[3]
        try:
            info.local = _local_for(dest, key)
            info.local.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(bucket, key, str(info.local))
            info.size = info.size or info.local.stat().st_size
            return info, None
        except Exception as e:  # botocore ClientError, endpoint and file errors: this object only
            if info.local != Path() and info.local.is_file():
                info.local.unlink(missing_ok=True)
            return info, e

    ok, failed = [], []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for info, err in pool.map(one, infos):
            (ok.append(info) if err is None else failed.append((info, err)))
    return ok, failed


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
    """Load every source (local paths, ``s3://bucket/prefix``, ``lookup:…``) into the store ``con``.

    Lossless: a file counts as loaded only for the windows it was read for (a wider load reads it again),
    a file whose content changed is read again (a ``FileChanged`` row; every version's hash kept), one
    unreadable file or S3 object fails alone, and entries that are no readable record are listed."""
    if isinstance(sources, str | Path):
        sources = [sources]
    start_ts, end_ts = window_bounds(start, end)
    window = Window(set(accounts) if accounts else None, set(regions) if regions else None, start_ts, end_ts)
    loader = Loader(con, start=start_ts, end=end_ts, progress=progress, window=window)
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
        store.add_errors(con, loader.result.error_rows)
    return loader.result


def _boto_session(session: Any) -> Any:
    if session is not None:
        return session
    from iamkit.aws.session import new_session

    return new_session()


#: objects downloaded (and then loaded and removed) at a time: bounds the disk a very large trail takes
S3_CHUNK = 2000


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
        loader.result.calls_failed += 1
        loader.result.error_rows.append(_call_error(f"s3:ListObjectsV2 s3://{bucket}/{prefix}", e))
        return
    infos = []
    for o in objects:
        info = FileInfo(local=Path(), name=f"s3://{bucket}/{o['Key']}", etag=o.get("ETag", "").strip('"'),
                        size=o.get("Size", 0))
        if "/CloudTrail-Digest/" in o["Key"]:  # CloudTrail's own layout: digests live in their folder
            loader.result.digests += 1
            loader.skip(info, "digest", "CloudTrail digest (in a CloudTrail-Digest folder)", mark=False)
        else:
            infos.append(info)
    todo = loader.select(infos)
    if not todo:
        return
    tmp = None
    if cache_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="iamkit-s3-")
        dest = Path(tmp.name)
    else:
        dest = Path(cache_dir)
    try:
        for chunk_start in range(0, len(todo), S3_CHUNK):
            files, failed = download_s3(client, bucket, todo[chunk_start:chunk_start + S3_CHUNK], dest)
            for info, exc in failed:
                loader.fail_download(info, exc)
            loader.load_files(files, selected=True)
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
    for region, rec, err in lookup_events(lambda r: sess.client("cloudtrail", region_name=r), regions,
                                          attribute=parsed["attribute"], start=w.start, end=w.end, pacer=pacer):
        if err:
            loader.result.calls_failed += err["code"] != "InvalidJSON"
            loader.result.records_bad += err["code"] == "InvalidJSON"
            loader.result.error_rows.append(err)
        elif isinstance(rec, dict):
            records.append(rec)
        else:
            loader.result.records_bad += 1
            loader.result.error_rows.append(_error("cloudtrail:LookupEvents", "BadRecord",
                                                   f"CloudTrailEvent is {_type_name(rec)}, not a record object",
                                                   region=region))
    times = [r.get("eventTime") for r in records]
    for i in store.bad_times(loader.con, times):
        loader.result.records_bad += 1
        loader.result.error_rows.append(_error("cloudtrail:LookupEvents", "BadRecord",
                                               f"event {_shown(records[i].get('eventID'))}: eventTime "
                                               f"{_shown(times[i])} is not a time (the record is kept, without one)"))
    out = _insert_dicts(loader.con, records, spec, w.start, w.end)
    loader.result.records_read += out["read"]
    loader.result.events_inserted += out["inserted"]
    loader.result.insights_inserted += out["insights"]
