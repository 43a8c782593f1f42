"""Timelines: every call of one principal or access key, oldest first, with a one-line target per call
(the question itself is ``iamkit.trail.backend.timeline_frame``, the same on every back end)."""

from __future__ import annotations

import re
from typing import Any

from iamkit import frames

TIMELINE_COLUMNS = {
    "event_time": frames.TS,
    "event_name": frames.S,
    "event_source": frames.S,
    "aws_region": frames.S,
    "recipient_account_id": frames.S,
    "principal_arn": frames.S,
    "access_key_id": frames.S,
    "session_name": frames.S,
    "source_ip": frames.S,
    "user_agent": frames.S,
    "error_code": frames.S,
    "target": frames.S,
    "event_id": frames.S,
}
frames.register(
    "timeline", TIMELINE_COLUMNS, "Calls of one principal or key, oldest first; target = the main request parameter(s)."
)

ACCESS_KEY_RE = re.compile(r"^(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{12,124}$")

#: The request parameters that say what a call acted on, most specific first.
TARGET_PATHS = [
    "$.userName",
    "$.roleName",
    "$.policyArn",
    "$.roleArn",
    "$.secretId",
    "$.bucketName",
    "$.key",
    "$.name",
    "$.trailName",
    "$.groupName",
    "$.policyName",
    "$.functionName",
    "$.keyId",
    "$.instanceId",
    "$.detectorId",
    "$.analyzerName",
]


def target_sql(dialect: Any, col: str = "request_parameters") -> str:
    """SQL in ``dialect``: 'name=value …' of the known target parameters present in a request (NULL if none)."""
    from iamkit.trail.dialect import get, lit

    d = get(dialect) if isinstance(dialect, str) else dialect
    parts = []
    for p in TARGET_PATHS:
        value = d.json_text(col, [p[2:]])
        parts.append(f"CASE WHEN {value} IS NOT NULL THEN {lit(p[2:] + '=')} || {value} END")
    return f"nullif(concat_ws(' ', {', '.join(parts)}), '')"


def is_access_key(value: str) -> bool:
    """Does ``value`` look like an AWS access key id (AKIA… long-term, ASIA… temporary)?"""
    return bool(ACCESS_KEY_RE.match(value or ""))
