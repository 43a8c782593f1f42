"""What a CloudTrail file is, read from its structure (never from a substring of its content).

A streaming scanner looks at the keys of a document's top-level object (or of its top-level array's first
element) in linear time and bounded memory, through gzip members of any number; ``classify`` names the shape
(records, insights, array, jsonl, lookup, single, digest, irregular, empty, unknown). CloudTrail's delivery
file names say when a file was delivered (``delivery_time``), so files outside a window can be skipped unread.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamkit.errors import TrailError
from iamkit.trail.predicates import ACCOUNT, REGION

if TYPE_CHECKING:  # pragma: no cover
    from iamkit.window import Window

#: names of the files a folder or S3 prefix is searched for
JSON_SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".gz")

#: Keys only a CloudTrail digest file has at its top level.
DIGEST_KEYS = frozenset(
    {
        "digestStartTime",
        "digestEndTime",
        "digestS3Bucket",
        "digestS3Object",
        "digestPublicKeyFingerprint",
        "digestSignatureAlgorithm",
        "previousDigestS3Bucket",
        "previousDigestS3Object",
        "previousDigestHashValue",
        "previousDigestHashAlgorithm",
        "previousDigestSignature",
    }
)
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
                b = buf[pos : pos + 1]
                if not self.started:
                    if b not in (b"{", b"["):
                        raise TrailError(f"not JSON (starts with {buf[pos : pos + 16]!r})")
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
            self._keep(buf[pos : pos + 1])
            self.escape = False
            return pos + 1
        end = _STRING_BODY.match(buf, pos).end()
        self._keep(buf[pos:end])
        if end >= len(buf):
            return end
        if buf[end : end + 1] == b"\\":  # a lone backslash ends the chunk
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
        yield from (
            _inflate(data) if data[:2] == b"\x1f\x8b" else (data[i : i + CHUNK] for i in range(0, len(data), CHUNK))
        )
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
        first, "a number" if first else "missing"
    )


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
    return isinstance(first, dict) and (
        first.get("eventType") == "AwsCloudTrailInsight" or first.get("eventCategory") == "Insight"
    )


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


# ---------------------------------------------------------------- delivery file names

#: CloudTrail's delivery file name: ``<account>_CloudTrail[-Insight]_<region>_<YYYYMMDDTHHMMZ>_<unique>.json.gz``
_DELIVERY_NAME = re.compile(
    r"\d{12}_CloudTrail(?:-Insight)?_[a-z0-9-]{1,32}_(\d{8}T\d{4})Z_[A-Za-z0-9]{1,64}\.json(?:\.gz)?"
)


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


def delivery_ok(window: Window, delivered: dt.datetime) -> bool:
    """Could a file delivered at ``delivered`` hold events inside ``window``? Its events are older than its
    delivery (an hour's margin for clocks), and rarely more than a day (the folders' margin)."""
    return (window.start is None or delivered >= window.start - dt.timedelta(hours=1)) and (
        window.end is None or delivered <= window.end + dt.timedelta(days=1)
    )


# ---------------------------------------------------------------- the trail layout

_ORG = re.compile(r"o-[a-z0-9]{10,32}")


def layout_state(prefix: str) -> dict[str, Any]:
    """What a path (or S3 prefix) in CloudTrail's layout fixes: level, org, account, service, region,
    y, m, d (from its segments: ``AWSLogs/[o-…/]<account>/CloudTrail/<region>/<yyyy>/<MM>/<dd>/``)."""
    st: dict[str, Any] = {"level": "top"}
    for seg in [s for s in prefix.split("/") if s]:
        advance(st, seg)
    return st


def advance(st: dict[str, Any], seg: str) -> str:
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
    if level == "service" and REGION.fullmatch(seg):
        st.update(level="region", region=seg)
        return "region"
    if level == "account" and seg.startswith("CloudTrail"):
        st.update(level="service", service=seg)
        return "service"
    if ACCOUNT.fullmatch(seg) and level in ("top", "awslogs", "org"):
        st.update(level="account", account=seg)
        return "account"
    if _ORG.fullmatch(seg) and level == "awslogs":
        st.update(level="org", org=seg)
        return "org"
    if seg == "AWSLogs":
        st.update(level="awslogs")
        return "awslogs"
    return "other"
