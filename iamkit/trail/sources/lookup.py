"""``lookup:`` sources: CloudTrail's LookupEvents API, paged and paced (2 requests per second per region, the
API's limit), one attribute per call as the API allows; a failed call is listed and the next region goes on.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from iamkit.errors import BadInput
from iamkit.trail import store
from iamkit.trail.predicates import Filters
from iamkit.trail.sources.batch import Loader, boto_session, call_error, error_row, insert_dicts
from iamkit.trail.sources.parse import shown, type_name


class Pacer:
    """At most ``rate`` calls per second per key (region); the clock and sleep are injectable for tests."""

    def __init__(
        self,
        rate: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
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


LOOKUP_ATTRIBUTES = (
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
)


def parse_lookup_spec(spec: str) -> dict[str, Any]:
    """``lookup:[region[,region]][?AttributeKey=value]`` -> regions and at most one attribute."""
    body = spec[len("lookup:") :]
    regions_part, _, query = body.partition("?")
    regions = [r for r in regions_part.split(",") if r]
    attr = None
    if query:
        key, eq, value = query.partition("=")
        if not eq or key not in LOOKUP_ATTRIBUTES:
            raise BadInput(f"lookup attribute must be one of {', '.join(LOOKUP_ATTRIBUTES)} as KEY=VALUE: {query}")
        attr = {"AttributeKey": key, "AttributeValue": value}
    return {"regions": regions, "attribute": attr}


def lookup_events(
    client_for: Callable[[str], Any],
    regions: list[str],
    *,
    attribute: dict | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    pacer: Pacer | None = None,
) -> Iterator[tuple[str, dict | None, dict | None]]:
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
                yield region, None, call_error("cloudtrail:LookupEvents", e, region=region)
                break
            for ev in page.get("Events", []):
                raw = ev.get("CloudTrailEvent")
                try:
                    yield region, json.loads(raw) if isinstance(raw, str) else raw, None
                except json.JSONDecodeError as e:
                    yield (
                        region,
                        None,
                        error_row(
                            "cloudtrail:LookupEvents", "InvalidJSON", f"event {ev.get('EventId')}: {e}", region=region
                        ),
                    )
            token = page.get("NextToken")
            if not token:
                break
            kwargs["NextToken"] = token


def load_lookup(loader: Loader, spec: str, scope: Filters, session: Any, pacer: Pacer | None) -> None:
    """Load a ``lookup:`` source: LookupEvents in each region (the spec's, else the scope's, else the session's)."""
    parsed = parse_lookup_spec(spec)
    sess = boto_session(session)
    regions = parsed["regions"] or sorted(
        scope.regions or [sess.region_name or os.environ.get("AWS_REGION", "us-east-1")]
    )
    records: list[dict] = []
    for region, rec, err in lookup_events(
        lambda r: sess.client("cloudtrail", region_name=r),
        regions,
        attribute=parsed["attribute"],
        start=scope.window.start,
        end=scope.window.end,
        pacer=pacer,
    ):
        if err:
            loader.result.calls_failed += err["code"] != "InvalidJSON"
            loader.result.records_bad += err["code"] == "InvalidJSON"
            loader.result.error_rows.append(err)
        elif isinstance(rec, dict):
            records.append(rec)
        else:
            loader.result.records_bad += 1
            loader.result.error_rows.append(
                error_row(
                    "cloudtrail:LookupEvents",
                    "BadRecord",
                    f"CloudTrailEvent is {type_name(rec)}, not a record object",
                    region=region,
                )
            )
    times = [r.get("eventTime") for r in records]
    for i in store.bad_times(loader.con, times):
        loader.result.records_bad += 1
        loader.result.error_rows.append(
            error_row(
                "cloudtrail:LookupEvents",
                "BadRecord",
                f"event {shown(records[i].get('eventID'))}: eventTime "
                f"{shown(times[i])} is not a time (the record is kept, without one)",
            )
        )
    out = insert_dicts(loader.con, records, spec, scope.window)
    loader.result.records_read += out["read"]
    loader.result.events_inserted += out["inserted"]
    loader.result.insights_inserted += out["insights"]
