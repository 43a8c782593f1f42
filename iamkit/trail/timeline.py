"""Timelines: every call of one principal or access key, oldest first, with a one-line target per call."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from iamkit import frames

if TYPE_CHECKING:  # pragma: no cover
    import duckdb
    import pandas as pd

TIMELINE_COLUMNS = {
    "event_time": frames.TS, "event_name": frames.S, "event_source": frames.S, "aws_region": frames.S,
    "recipient_account_id": frames.S, "principal_arn": frames.S, "access_key_id": frames.S,
    "session_name": frames.S, "source_ip": frames.S, "user_agent": frames.S, "error_code": frames.S,
    "target": frames.S, "event_id": frames.S,
}
frames.register("timeline", TIMELINE_COLUMNS,
                "Calls of one principal or key, oldest first; target = the main request parameter(s).")

ACCESS_KEY_RE = re.compile(r"^(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{12,124}$")

#: The request parameters that say what a call acted on, most specific first.
TARGET_PATHS = ["$.userName", "$.roleName", "$.policyArn", "$.roleArn", "$.secretId", "$.bucketName", "$.key",
                "$.name", "$.trailName", "$.groupName", "$.policyName", "$.functionName", "$.keyId",
                "$.instanceId", "$.detectorId", "$.analyzerName"]


def target_sql(col: str = "request_parameters") -> str:
    """SQL: 'name=value …' of the known target parameters present in a request (NULL if none)."""
    parts = [f"CASE WHEN json_extract_string({col}, '{p}') IS NOT NULL THEN '{p[2:]}=' || "
             f"json_extract_string({col}, '{p}') END" for p in TARGET_PATHS]
    return f"nullif(concat_ws(' ', {', '.join(parts)}), '')"


def is_access_key(value: str) -> bool:
    """Does ``value`` look like an AWS access key id (AKIA… long-term, ASIA… temporary)?"""
    return bool(ACCESS_KEY_RE.match(value or ""))


def timeline(con: duckdb.DuckDBPyConnection, principal_or_key: str, *, start: Any = None, end: Any = None,
             limit: int | None = None) -> pd.DataFrame:
    """Calls made with a key, or by a principal (ARN, IAM user name, role session name), oldest first."""
    from iamkit.errors import NotFound
    from iamkit.trail import _filters

    value = principal_or_key.strip()
    if is_access_key(value):
        where, params = _filters(access_key_id=value, start=start, end=end)
    else:
        where, params = _filters(principal=value, start=start, end=end)
    cols = ", ".join(c for c in TIMELINE_COLUMNS if c != "target")
    q = f"SELECT {cols}, {target_sql()} AS target FROM events{where} ORDER BY event_time, event_id"
    if limit:
        q += f" LIMIT {int(limit)}"
    df = con.execute(q, params).df()
    if df.empty and start is None and end is None:
        raise NotFound(f"no CloudTrail events for {value!r} in this store")
    return frames.conform(df, "timeline")
