"""The CloudTrail events columns, defined once: name, frame dtype, DuckDB and Trino types, where each value
comes from in a record (the DuckDB projection) and in Athena's CloudTrail table (the ``events`` view), and
the CloudTrail field names Sigma rules use for it.

Generated from ``EVENTS``: the ``events`` frame schema (registered here), the DuckDB DDL and projection
(``iamkit.trail.store``), the Athena view (``iamkit.trail.athena.events_view_sql``) and the Sigma field map
(``iamkit.trail.detect.sigma``). Adding a column here adds it everywhere; a test checks they agree.
Pure data, stdlib only.
"""

from __future__ import annotations

from dataclasses import dataclass

from iamkit import frames

S, TS, B, J = frames.S, frames.TS, frames.B, frames.J

#: ``userIdentity`` paths the DuckDB projection extracts in one pass (``u[1]``… in ``Column.record``).
IDENTITY_PATHS = (
    "$.type",
    "$.arn",
    "$.principalId",
    "$.accessKeyId",
    "$.sessionContext.sessionIssuer.arn",
    "$.sessionContext.attributes.mfaAuthenticated",
)


def _u(path: str) -> str:
    """The projection's value of one ``IDENTITY_PATHS`` entry."""
    return f"u[{IDENTITY_PATHS.index(path) + 1}]"


#: DuckDB types by frame dtype, and the Trino types of the Athena view's columns.
_DUCKDB = {S: "VARCHAR", TS: "TIMESTAMPTZ", B: "BOOLEAN", J: "JSON"}
_TRINO = {S: "varchar", TS: "timestamp(3) with time zone", B: "boolean", J: "json"}

#: a session name from an assumed-role or federated-user ARN (both engines: RE2 / Java regex)
_SESSION_RE = "':(?:assumed-role/[^/]+|federated-user)/([^/]+)$'"


@dataclass(frozen=True)
class Column:
    """One column of ``events``.

    ``record``: DuckDB SQL over a parsed record ``x`` (``RECORD_FIELDS``) and ``u`` (its ``IDENTITY_PATHS``);
    ``time``/``redact`` ask the store to wrap it (time parsing, secret redaction). ``athena``: Trino SQL over
    the columns of Athena's CloudTrail table. ``fields``: the CloudTrail record fields (dotted, as CloudTrail
    spells them) a Sigma rule names for this column's value; ``json_root``: the record subtree a JSON column
    keeps whole. ``frame``: part of the ``events`` frame (provenance columns are the store's only).
    """

    name: str
    kind: str
    record: str
    athena: str
    fields: tuple[str, ...] = ()
    json_root: str | None = None
    time: bool = False
    redact: bool = False
    frame: bool = True

    @property
    def duckdb_type(self) -> str:
        return _DUCKDB[self.kind]

    @property
    def trino_type(self) -> str:
        return _TRINO[self.kind]


_FALLBACK_ID = (
    "md5(concat_ws('|', x.eventTime, x.\"@timestamp\", x.eventSource, x.eventName, x.requestID, "
    "x.sourceIPAddress, x.userIdentity, x.requestParameters))"
)

EVENTS: tuple[Column, ...] = (
    Column("event_id", S, f"coalesce(x.eventID, {_FALLBACK_ID})", "eventid", ("eventID",)),
    Column(
        "event_time",
        TS,
        'coalesce(x.eventTime, x."@timestamp")',
        "from_iso8601_timestamp(eventtime)",
        ("eventTime",),
        time=True,
    ),
    Column("event_source", S, "x.eventSource", "eventsource", ("eventSource",)),
    Column("event_name", S, "x.eventName", "eventname", ("eventName",)),
    Column("aws_region", S, "x.awsRegion", "awsregion", ("awsRegion",)),
    Column("recipient_account_id", S, "x.recipientAccountId", "recipientaccountid", ("recipientAccountId",)),
    Column("identity_type", S, _u("$.type"), "useridentity.type", ("userIdentity.type",)),
    Column("principal_arn", S, _u("$.arn"), "useridentity.arn", ("userIdentity.arn",)),
    Column("principal_id", S, _u("$.principalId"), "useridentity.principalid", ("userIdentity.principalId",)),
    Column("access_key_id", S, _u("$.accessKeyId"), "useridentity.accesskeyid", ("userIdentity.accessKeyId",)),
    Column(
        "session_issuer_arn",
        S,
        _u("$.sessionContext.sessionIssuer.arn"),
        "useridentity.sessioncontext.sessionissuer.arn",
        ("userIdentity.sessionContext.sessionIssuer.arn",),
    ),
    Column(
        "session_name",
        S,
        f"CASE WHEN {_u('$.type')} IN ('AssumedRole', 'FederatedUser') OR {_u('$.type')} IS NULL "
        f"THEN nullif(regexp_extract({_u('$.arn')}, {_SESSION_RE}, 1), '') END",
        f"CASE WHEN useridentity.type IN ('AssumedRole', 'FederatedUser') OR useridentity.type IS NULL "
        f"THEN nullif(regexp_extract(useridentity.arn, {_SESSION_RE}, 1), '') END",
    ),
    Column("source_ip", S, "x.sourceIPAddress", "sourceipaddress", ("sourceIPAddress",)),
    Column("user_agent", S, "x.userAgent", "useragent", ("userAgent",)),
    Column("error_code", S, "x.errorCode", "errorcode", ("errorCode",)),
    Column("error_message", S, "x.errorMessage", "errormessage", ("errorMessage",)),
    Column("read_only", B, "TRY_CAST(x.readOnly AS BOOLEAN)", "try_cast(readonly AS boolean)", ("readOnly",)),
    Column("event_type", S, "x.eventType", "eventtype", ("eventType",)),
    Column(
        "mfa_authenticated",
        B,
        f"CASE lower({_u('$.sessionContext.attributes.mfaAuthenticated')}) WHEN 'true' THEN true "
        "WHEN 'false' THEN false ELSE CASE json_extract_string(x.additionalEventData, '$.MFAUsed') "
        "WHEN 'Yes' THEN true WHEN 'No' THEN false END END",
        "CASE lower(useridentity.sessioncontext.attributes.mfaauthenticated) WHEN 'true' THEN true "
        "WHEN 'false' THEN false ELSE CASE json_extract_scalar(additionaleventdata, '$.MFAUsed') "
        "WHEN 'Yes' THEN true WHEN 'No' THEN false END END",
    ),
    Column(
        "request_parameters",
        J,
        "x.requestParameters",
        "json_parse(requestparameters)",
        json_root="requestParameters",
        redact=True,
    ),
    Column(
        "response_elements",
        J,
        "x.responseElements",
        "json_parse(responseelements)",
        json_root="responseElements",
        redact=True,
    ),
    Column(
        "additional_event_data",
        J,
        "x.additionalEventData",
        "json_parse(additionaleventdata)",
        json_root="additionalEventData",
        redact=True,
    ),
    Column("resources", J, "x.resources", "CAST(resources AS json)", json_root="resources"),
    Column("user_identity", J, "x.userIdentity", "CAST(useridentity AS json)", json_root="userIdentity"),
    # provenance: the file or s3:// object the record was read from (the store's, not the frame's)
    Column("source_file", S, "_file", '"$path"', frame=False),
)

BY_NAME = {c.name: c for c in EVENTS}
#: the ``events`` frame: column -> frame dtype
FRAME_COLUMNS: dict[str, str] = {c.name: c.kind for c in EVENTS if c.frame}
#: the DuckDB ``events`` table: column -> type (frame columns first, then the store's own)
DDL_TYPES: dict[str, str] = {c.name: c.duckdb_type for c in EVENTS}
#: the Athena ``events`` view's column types (as Athena names them in query results)
TRINO_TYPES: dict[str, str] = {c.name: c.trino_type for c in EVENTS if c.frame}
#: JSON subtree columns (text in DuckDB results, parsed to Python objects in frames)
JSON_COLUMNS: tuple[str, ...] = tuple(c.name for c in EVENTS if c.kind == J and c.frame)
#: columns whose values are not text (Sigma compares their text form)
NON_TEXT_COLUMNS: frozenset[str] = frozenset(c.name for c in EVENTS if c.kind in (TS, B))

#: the partition columns the Athena ``events`` view adds after the frame columns: view column -> table column
VIEW_PARTITIONS = {"partition_account": "account", "partition_region": "region", "partition_date": "date"}


def sigma_fields() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """The Sigma field map: top-level record fields with a column, ``userIdentity.*`` paths with a column,
    and record subtrees kept whole as JSON columns; keys lower-cased (Sigma field names are matched without
    case), values column names."""
    scalar, identity, roots = {}, {}, {}
    for c in EVENTS:
        for f in c.fields:
            head, _, rest = f.partition(".")
            if not rest:
                scalar[f.lower()] = c.name
            elif head == "userIdentity":
                identity[rest.lower()] = c.name
        if c.json_root:
            roots[c.json_root.lower()] = c.name
    return scalar, identity, roots


frames.register("events", FRAME_COLUMNS, "CloudTrail records, one row per eventID (DuckDB table `events`).")
