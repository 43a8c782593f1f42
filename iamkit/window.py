"""A time window: the one parser and renderer of "from when to when" for every layer.

``Window.parse(since, until)`` reads absolute ISO times (``2026-03-01T10:00:00Z``, offsets converted to UTC,
naive times taken as UTC), bare dates (``2026-03-01``: a bare end date means that whole day, everywhere) and
spans back from now (``14d``, ``36h``, ``90m``, against an injectable ``now``). An empty side is open unless the
caller asks for a default (``default_span`` for the start, ``end_now`` for the end). Both ends are inclusive.

The window renders its ``WHERE`` predicate per SQL dialect (``duckdb``, ``trino``) and yields the days a
partitioned store must read (Athena date partitions, S3 date folders), with a day of margin each side.
Stdlib only: the core layer.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from iamkit.errors import BadInput

UTC = dt.UTC
_SPAN = re.compile(r"(\d{1,9})\s*([dhm])")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}
#: the last instant of a day that a bare end date stands for
_DAY_END = dt.timedelta(days=1) - dt.timedelta(microseconds=1)
#: the days of margin a partition or folder date gets on each side (an event's day and its file's differ)
MARGIN_DAYS = 1
#: the accepted forms, as error messages show them
HELP = "2026-03-01, 2026-03-01T10:00:00Z, 14d, 36h, 90m"


def _now(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return dt.datetime.now(UTC)
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def parse_time(
    value: Any, *, end: bool = False, now: dt.datetime | None = None, name: str = "time"
) -> dt.datetime | None:
    """One side of a window as an aware UTC datetime (None when empty).

    ``end``: a bare date means the last microsecond of that day. ``name`` (e.g. ``--since``) is what the
    one-line ``BadInput`` names when ``value`` is none of the accepted forms.
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, dt.date):
        day = dt.datetime(value.year, value.month, value.day, tzinfo=UTC)
        return day + _DAY_END if end else day
    if isinstance(value, dt.timedelta):
        return _now(now) - value
    text = str(value).strip()
    if not text:
        return None
    m = _SPAN.fullmatch(text)
    if m:
        return _now(now) - dt.timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    if _DATE.fullmatch(text):
        try:
            return parse_time(dt.date.fromisoformat(text), end=end)
        except ValueError:
            raise BadInput(f"{name} {text!r}: not a calendar date") from None
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        shown = text if len(text) <= 60 else text[:60] + "…"
        raise BadInput(f"{name} {shown!r}: not an ISO date/time nor a span ({HELP})") from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _iso_ms(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _dialect_name(dialect: Any) -> str:
    name = str(getattr(dialect, "name", dialect)).lower()
    name = "trino" if name == "athena" else name
    if name not in ("duckdb", "trino"):
        raise BadInput(f"unknown SQL dialect {name!r}: use duckdb or trino")
    return name


@dataclass(frozen=True)
class Window:
    """``[start, end]`` in UTC, both inclusive; ``None`` on a side means open on that side."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def __post_init__(self) -> None:
        for side in ("start", "end"):
            t = getattr(self, side)
            if t is not None and (not isinstance(t, dt.datetime) or t.tzinfo is None):
                raise TypeError(f"Window.{side} must be an aware datetime (use Window.parse), got {t!r}")
        if self.start is not None and self.end is not None and self.start > self.end:
            raise BadInput(f"window start {_iso_ms(self.start)} is after its end {_iso_ms(self.end)}")

    # -- making one
    @classmethod
    def parse(
        cls,
        since: Any = None,
        until: Any = None,
        *,
        now: dt.datetime | None = None,
        default_span: dt.timedelta | None = None,
        end_now: bool = False,
        names: tuple[str, str] = ("--since", "--until"),
    ) -> Window:
        """A window from two values of any accepted form (see the module). ``default_span``: an empty start
        becomes that long before the end (or now); ``end_now``: an empty end becomes now. Errors name the
        side with ``names`` (the flags or parameters the values came from)."""
        if isinstance(since, Window) and until is None:
            return since
        lo = parse_time(since, now=now, name=names[0])
        hi = parse_time(until, end=True, now=now, name=names[1])
        if hi is None and end_now:
            hi = _now(now)
        if lo is None and default_span is not None:
            lo = (hi or _now(now)) - default_span
        if lo is not None and hi is not None and lo > hi:
            raise BadInput(f"{names[0]} {_iso_ms(lo)} is after {names[1]} {_iso_ms(hi)}")
        return cls(lo, hi)

    @classmethod
    def either(
        cls,
        window: Window | tuple | None,
        since: Any = None,
        until: Any = None,
        *,
        names: tuple[str, str] = ("start", "end"),
    ) -> Window:
        """``window`` (a Window or a pair) or else ``since``/``until`` of any accepted form, not both."""
        if window is not None:
            if since is not None or until is not None:
                raise BadInput(f"give a window or {names[0]}/{names[1]}, not both")
            return cls.of(window)
        return cls.parse(since, until, names=names)

    @classmethod
    def of(cls, value: Window | tuple | None) -> Window:
        """A ``Window`` from a Window, None (open) or a ``(since, until)`` pair of any accepted form."""
        if value is None:
            return cls()
        if isinstance(value, Window):
            return value
        if isinstance(value, tuple) and len(value) == 2:
            return cls.parse(*value)
        raise BadInput(f"not a time window: {value!r} (give a Window or a (since, until) pair)")

    # -- what it is
    @property
    def bounded(self) -> bool:
        """Both ends given."""
        return self.start is not None and self.end is not None

    @property
    def open(self) -> bool:
        """Neither end given: every time."""
        return self.start is None and self.end is None

    def contains(self, t: dt.datetime) -> bool:
        """Is ``t`` (aware) inside the window?"""
        return (self.start is None or t >= self.start) and (self.end is None or t <= self.end)

    def __str__(self) -> str:
        lo = _iso_ms(self.start) if self.start else "the beginning"
        hi = _iso_ms(self.end) if self.end else "now"
        return f"{lo} to {hi}"

    # -- SQL
    def literal(self, t: dt.datetime, dialect: Any) -> str:
        """A UTC timestamp literal for ``dialect`` (Trino: millisecond precision, its timestamps' own)."""
        if _dialect_name(dialect) == "trino":
            return f"from_iso8601_timestamp('{_iso_ms(t)}')"
        return f"TIMESTAMPTZ '{t.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S.%f')}+00'"

    def where(self, dialect: Any, column: str = "event_time") -> str | None:
        """The predicate keeping ``column`` inside the window in ``dialect`` (None for an open window)."""
        parts = []
        if self.start is not None:
            parts.append(f"{column} >= {self.literal(self.start, dialect)}")
        if self.end is not None:
            parts.append(f"{column} <= {self.literal(self.end, dialect)}")
        return " AND ".join(parts) or None

    # -- partitions
    def day_range(self, margin: int = MARGIN_DAYS) -> tuple[dt.date | None, dt.date | None]:
        """First and last day (UTC) a day-partitioned store must read, ``margin`` days wider each side."""
        pad = dt.timedelta(days=margin)
        lo = (self.start - pad).date() if self.start is not None else None
        hi = (self.end + pad).date() if self.end is not None else None
        return lo, hi

    def days(self, margin: int = MARGIN_DAYS) -> Iterator[dt.date]:
        """Every day of ``day_range`` (a bounded window only), oldest first."""
        lo, hi = self.day_range(margin)
        if lo is None or hi is None:
            raise BadInput("an open window has no finite list of days: give both ends")
        d = lo
        while d <= hi:
            yield d
            d += dt.timedelta(days=1)

    def day_ok(self, y: int, m: int | None = None, d: int | None = None, margin: int = MARGIN_DAYS) -> bool:
        """Could the year ``y`` (month ``m``, day ``d``) hold events inside the window (with ``margin``)?"""
        lo, hi = self.day_range(margin)
        lo, hi = lo or dt.date.min, hi or dt.date.max
        if d is not None and m is not None:
            first = last = dt.date(y, m, d)
        elif m is not None:
            first = dt.date(y, m, 1)
            last = dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)
        else:
            first, last = dt.date(y, 1, 1), dt.date(y, 12, 31)
        return last >= lo and first <= hi
