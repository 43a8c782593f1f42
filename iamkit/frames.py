"""Frame schemas: the columns and types of every DataFrame iamkit returns, documented once.

A schema is an ordered mapping ``column -> dtype``. dtypes: ``string`` (ARNs, ids, JSON text),
``ts`` (UTC timestamp), ``bool``, ``int``, ``float``, ``json`` (Python objects: dict/list, kept whole).
``conform(df, name)`` orders and types a frame; ``check(df, name)`` raises on a mismatch (used by tests).
Domain modules register their own schemas with ``register`` so this file stays the single index.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

S, TS, B, INT, F, J = "string", "ts", "bool", "int", "float", "json"
I = INT  # noqa: E741  (short alias used by schema tables)

SCHEMAS: dict[str, dict[str, str]] = {}
DOCS: dict[str, str] = {}


def register(name: str, columns: dict[str, str], doc: str = "") -> None:
    """Declare a frame schema (idempotent for identical redefinitions)."""
    if name in SCHEMAS and SCHEMAS[name] != columns:
        raise ValueError(f"frame schema {name!r} registered twice with different columns")
    SCHEMAS[name] = dict(columns)
    DOCS[name] = doc


# ---- inventory (one snapshot = these frames; every AWS row carries account_id) ----
register(
    "accounts",
    {
        "account_id": S,
        "name": S,
        "email": S,
        "status": S,
        "ou_id": S,
        "ou_path": S,
        "org_id": S,
        "is_management": B,
        "joined": TS,
    },
    "Accounts of the organization.",
)
register(
    "principals",
    {
        "account_id": S,
        "principal_type": S,
        "name": S,
        "arn": S,
        "principal_id": S,
        "path": S,
        "created": TS,
        "last_used": TS,
        "permissions_boundary_arn": S,
        "max_session_duration": INT,
        "groups": J,
        "tags": J,
        "service_linked": B,
    },
    "IAM users, roles and groups (principal_type user|role|group|root).",
)
register(
    "policies",
    {
        "account_id": S,
        "policy_arn": S,
        "policy_name": S,
        "policy_type": S,
        "attached_to_arn": S,
        "attached_to_type": S,
        "version_id": S,
        "is_default": B,
        "document": J,
        "aws_managed": B,
    },
    "Policies, one row per (policy version, attachment). policy_type: managed (customer managed), "
    "aws_managed, inline, scp, rcp. attached_to_type: user|role|group (IAM) or root|ou|account "
    "(SCP/RCP targets, attached_to_arn = the target id); attached_to_arn is empty for an "
    "unattached version. Permission boundaries are principals.permissions_boundary_arn.",
)
register(
    "statements",
    {
        "account_id": S,
        "policy_arn": S,
        "policy_name": S,
        "attached_to_arn": S,
        "sid": S,
        "effect": S,
        "actions": J,
        "not_actions": J,
        "resources": J,
        "not_resources": J,
        "principals": J,
        "not_principals": J,
        "conditions": J,
        "statement_index": INT,
    },
    "Statements of default/inline policy documents, normalised.",
)
register(
    "trusts",
    {
        "account_id": S,
        "role_arn": S,
        "sid": S,
        "effect": S,
        "principal_type": S,
        "principal": S,
        "principal_account_id": S,
        "actions": J,
        "conditions": J,
        "external_id_required": B,
        "mfa_required": B,
    },
    "One row per (role, trust-statement principal).",
)
register(
    "access_keys",
    {
        "account_id": S,
        "user_name": S,
        "user_arn": S,
        "access_key_id": S,
        "status": S,
        "created": TS,
        "last_used": TS,
        "last_used_service": S,
        "last_used_region": S,
    },
    "IAM user access keys and their last use.",
)
register(
    "credentials",
    {
        "account_id": S,
        "user": S,
        "arn": S,
        "user_creation_time": TS,
        "password_enabled": B,
        "password_last_used": TS,
        "password_last_changed": TS,
        "mfa_active": B,
        "access_key_1_active": B,
        "access_key_1_last_rotated": TS,
        "access_key_1_last_used_date": TS,
        "access_key_2_active": B,
        "access_key_2_last_rotated": TS,
        "access_key_2_last_used_date": TS,
    },
    "The IAM credential report (root row included, user '<root_account>').",
)
register(
    "resource_policies",
    {"account_id": S, "region": S, "service": S, "resource_type": S, "resource_arn": S, "policy": J, "extra": J},
    "Resource-based policies (bucket, key, secret, function, queue, topic, repository) plus "
    "service-specific extras (public access block, ACL grants, KMS grants).",
)
register(
    "identity_center",
    {"instance_arn": S, "identity_store_id": S, "kind": S, "id": S, "name": S, "account_id": S, "detail": J},
    "IAM Identity Center: users, groups, memberships, permission sets, assignments (kind says which).",
)
register(
    "posture",
    {"account_id": S, "region": S, "control": S, "resource_arn": S, "status": S, "detail": J},
    "Trails, analyzers, detectors, password policy, account summary.",
)
register(
    "errors",
    {"account_id": S, "region": S, "operation": S, "code": S, "message": S, "when": TS},
    "Everything that failed during a collection or load; the rest went on.",
)


def error_row(
    operation: str,
    code: str,
    message: str,
    *,
    account_id: str | None = None,
    region: str | None = None,
    when: datetime | None = None,
) -> dict[str, Any]:
    """One row of the ``errors`` frame: what failed (``operation``: an IAM action, a file, a Graph part…),
    its error ``code`` and ``message``, where, and when (now unless given)."""
    return {
        "account_id": account_id,
        "region": region,
        "operation": operation,
        "code": code,
        "message": message,
        "when": when if when is not None else datetime.now(UTC),
    }


# ---- findings (assessment) ----
register(
    "findings",
    {
        "finding_id": S,
        "rule_id": S,
        "severity": S,
        "account_id": S,
        "principal_arn": S,
        "principal_type": S,
        "resource_arn": S,
        "title": S,
        "detail": S,
        "evidence": S,
        "remediation": S,
        "references": S,
    },
    "Risk findings; severity critical|high|medium|low|info; evidence is JSON text.",
)

# ---- CloudTrail ----
# ``events`` (one row per CloudTrail record) is registered by ``iamkit.trail.columns``, the one column table
# that also generates the DuckDB table, the Athena view and the Sigma field map.
register(
    "detections",
    {
        "detection_id": S,
        "severity": S,
        "title": S,
        "event_ids": J,
        "principal_arn": S,
        "access_key_id": S,
        "first_seen": TS,
        "last_seen": TS,
        "summary": S,
    },
    "Detection hits.",
)


def empty(name: str) -> pd.DataFrame:
    """An empty frame with the schema's columns and types."""
    import pandas as pd

    return conform(pd.DataFrame(columns=list(SCHEMAS[name])), name)


def _coerce(series: pd.Series, dtype: str) -> pd.Series:
    import pandas as pd

    if dtype == S:
        return series.astype("string")
    if dtype == TS:
        return pd.to_datetime(series, utc=True, errors="coerce", format="mixed")
    if dtype == B:
        return series.astype("boolean")
    if dtype == INT:
        return pd.to_numeric(series, errors="coerce").astype("Int64")
    if dtype == F:
        return pd.to_numeric(series, errors="coerce").astype("Float64")
    return series.astype(object)


def conform(df: pd.DataFrame | list[dict[str, Any]], name: str) -> pd.DataFrame:
    """Return ``df`` with exactly the schema's columns, in order, typed (missing columns are null)."""
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        df = pd.DataFrame(list(df))
    schema = SCHEMAS[name]
    out = {}
    for col, dtype in schema.items():
        s = df[col] if col in df.columns else pd.Series([None] * len(df), index=df.index, dtype=object)
        out[col] = _coerce(s, dtype)
    return pd.DataFrame(out, index=df.index).reset_index(drop=True)


def check(df: pd.DataFrame, name: str) -> None:
    """Raise ``ValueError`` if ``df`` does not follow the schema exactly."""
    import pandas as pd

    schema = SCHEMAS[name]
    if list(df.columns) != list(schema):
        raise ValueError(f"{name}: columns {list(df.columns)} != {list(schema)}")
    for col, dtype in schema.items():
        s = df[col]
        ok = {
            S: pd.api.types.is_string_dtype(s),
            TS: isinstance(s.dtype, pd.DatetimeTZDtype) and str(s.dtype.tz) == "UTC",
            B: pd.api.types.is_bool_dtype(s),
            INT: pd.api.types.is_integer_dtype(s),
            F: pd.api.types.is_float_dtype(s),
            J: s.dtype == object,
        }[dtype]
        if not ok:
            raise ValueError(f"{name}.{col}: dtype {s.dtype} is not {dtype}")
