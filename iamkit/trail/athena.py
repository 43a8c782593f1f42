"""Athena back end: the CloudTrail table DDL (partition projection), an ``events`` view, a query runner.

Queries are Trino SQL. ``with_partitions`` adds partition predicates for a time window so a bounded
question never scans the whole trail. The runner starts a query, polls it (injectable clock/sleep) and
pages the results into a DataFrame.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from iamkit.errors import BadInput, TrailError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

_USER_IDENTITY = """STRUCT<
        type: STRING, principalId: STRING, arn: STRING, accountId: STRING, invokedBy: STRING,
        accessKeyId: STRING, userName: STRING, identityProvider: STRING,
        onBehalfOf: STRUCT<userId: STRING, identityStoreArn: STRING>,
        sessionContext: STRUCT<
            attributes: STRUCT<mfaAuthenticated: STRING, creationDate: STRING>,
            sessionIssuer: STRUCT<type: STRING, principalId: STRING, arn: STRING, accountId: STRING,
                                  userName: STRING>,
            webIdFederationData: STRUCT<federatedProvider: STRING, attributes: MAP<STRING, STRING>>,
            sourceIdentity: STRING, ec2RoleDelivery: STRING>>"""

_COLUMNS = f"""    eventversion STRING,
    useridentity {_USER_IDENTITY},
    eventtime STRING,
    eventsource STRING,
    eventname STRING,
    awsregion STRING,
    sourceipaddress STRING,
    useragent STRING,
    errorcode STRING,
    errormessage STRING,
    requestparameters STRING,
    responseelements STRING,
    additionaleventdata STRING,
    requestid STRING,
    eventid STRING,
    readonly STRING,
    resources ARRAY<STRUCT<arn: STRING, accountId: STRING, type: STRING>>,
    eventtype STRING,
    apiversion STRING,
    recipientaccountid STRING,
    serviceeventdetails STRING,
    sharedeventid STRING,
    vpcendpointid STRING,
    eventcategory STRING,
    tlsdetails STRUCT<tlsVersion: STRING, cipherSuite: STRING, clientProvidedHostHeader: STRING>"""


def _check_ident(name: str, what: str) -> str:
    import re

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name or ""):
        raise BadInput(f"invalid Athena {what} name: {name!r}")
    return name


def cloudtrail_ddl(*, table: str = "cloudtrail_logs", location: str = "s3://BUCKET/AWSLogs/o-ORGID/",
                   database: str = "default", accounts: Iterable[str] | None = None,
                   regions: Iterable[str] | None = None, start_date: str = "2020/01/01") -> str:
    """CREATE EXTERNAL TABLE for an (organization) trail, partitioned by account, region and date.

    Partition projection computes partitions from the S3 layout
    ``<location><account>/CloudTrail/<region>/<yyyy/MM/dd>`` so no MSCK/ALTER TABLE ADD PARTITION is needed.
    """
    _check_ident(table, "table")
    _check_ident(database, "database")
    if not location.startswith("s3://"):
        raise BadInput(f"location must be an s3:// uri: {location}")
    loc = location if location.endswith("/") else location + "/"
    acc = ",".join(accounts) if accounts else None
    reg = ",".join(regions) if regions else None
    props = {
        "projection.enabled": "true",
        "projection.account.type": "enum" if acc else "injected",
        **({"projection.account.values": acc} if acc else {}),
        "projection.region.type": "enum" if reg else "injected",
        **({"projection.region.values": reg} if reg else {}),
        "projection.date.type": "date",
        "projection.date.format": "yyyy/MM/dd",
        "projection.date.range": f"{start_date},NOW",
        "projection.date.interval": "1",
        "projection.date.interval.unit": "DAYS",
        "storage.location.template": loc + "${account}/CloudTrail/${region}/${date}",
    }
    tbl = ",\n  ".join(f"'{k}'='{v}'" for k, v in props.items())
    return f"""CREATE EXTERNAL TABLE IF NOT EXISTS {database}.{table} (
{_COLUMNS}
)
PARTITIONED BY (account STRING, region STRING, date STRING)
ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'
STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION '{loc}'
TBLPROPERTIES (
  {tbl}
)"""


def events_view_sql(table: str = "cloudtrail_logs", view: str = "events", database: str = "default") -> str:
    """Trino: a view with the columns of the DuckDB ``events`` table (plus partitions), so rules run unchanged."""
    _check_ident(table, "table")
    _check_ident(view, "view")
    _check_ident(database, "database")
    return f"""CREATE OR REPLACE VIEW {database}.{view} AS
SELECT
  eventid AS event_id,
  from_iso8601_timestamp(eventtime) AS event_time,
  eventsource AS event_source,
  eventname AS event_name,
  awsregion AS aws_region,
  recipientaccountid AS recipient_account_id,
  useridentity.type AS identity_type,
  useridentity.arn AS principal_arn,
  useridentity.principalid AS principal_id,
  useridentity.accesskeyid AS access_key_id,
  useridentity.sessioncontext.sessionissuer.arn AS session_issuer_arn,
  nullif(regexp_extract(useridentity.arn, ':(?:assumed-role/[^/]+|federated-user)/([^/]+)$', 1), '') AS session_name,
  sourceipaddress AS source_ip,
  useragent AS user_agent,
  errorcode AS error_code,
  errormessage AS error_message,
  try_cast(readonly AS BOOLEAN) AS read_only,
  eventtype AS event_type,
  try_cast(useridentity.sessioncontext.attributes.mfaauthenticated AS BOOLEAN) AS mfa_authenticated,
  json_parse(requestparameters) AS request_parameters,
  json_parse(responseelements) AS response_elements,
  json_parse(additionaleventdata) AS additional_event_data,
  CAST(resources AS JSON) AS resources,
  CAST(useridentity AS JSON) AS user_identity,
  account AS partition_account,
  region AS partition_region,
  date AS partition_date
FROM {database}.{table}"""


def _day(value: Any) -> dt.date:
    from iamkit.trail.sources import _as_utc

    ts = _as_utc(value)
    if ts is None:
        raise BadInput("a time window needs a start and an end")
    return ts.astimezone(dt.UTC).date()


def partition_predicate(start: Any, end: Any, *, accounts: Iterable[str] | None = None,
                        regions: Iterable[str] | None = None, date_col: str = "date",
                        account_col: str = "account", region_col: str = "region") -> str:
    """Trino predicate on the projected partitions covering ``[start, end]`` (a day of margin each side)."""
    lo = _day(start) - dt.timedelta(days=1)
    hi = _day(end) + dt.timedelta(days=1)
    parts = [f"{date_col} BETWEEN '{lo:%Y/%m/%d}' AND '{hi:%Y/%m/%d}'"]
    if accounts:
        parts.append(f"{account_col} IN ({', '.join(_quote(a) for a in accounts)})")
    if regions:
        parts.append(f"{region_col} IN ({', '.join(_quote(r) for r in regions)})")
    return " AND ".join(parts)


def _quote(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def with_partitions(sql: str, start: Any, end: Any, *, accounts: Iterable[str] | None = None,
                    regions: Iterable[str] | None = None, on_view: bool = True) -> str:
    """Add partition predicates for a window to the outermost SELECT of a Trino query (parsed with sqlglot).

    ``on_view`` uses the ``events`` view's ``partition_*`` names; otherwise the table's own partitions.
    """
    import sqlglot

    names = ({"date_col": "partition_date", "account_col": "partition_account", "region_col": "partition_region"}
             if on_view else {})
    pred = partition_predicate(start, end, accounts=accounts, regions=regions, **names)
    try:
        tree = sqlglot.parse_one(sql, read="trino")
    except sqlglot.errors.ParseError as e:
        raise BadInput(f"not a Trino query: {str(e).splitlines()[0]}") from None
    if not isinstance(tree, sqlglot.exp.Select):
        raise BadInput("partition predicates can only be added to a SELECT")
    return tree.where(sqlglot.condition(pred, dialect="trino"), append=True).sql(dialect="trino")


# ---------------------------------------------------------------- runner

_CASTS: dict[str, Callable[[str], Any]] = {
    "boolean": lambda v: v.lower() == "true", "tinyint": int, "smallint": int, "integer": int, "bigint": int,
    "double": float, "float": float, "real": float, "decimal": float,
}


class AthenaRunner:
    """Runs Trino SQL on Athena: start, poll until done, page the results into a DataFrame."""

    def __init__(self, client: Any, *, database: str = "default", workgroup: str | None = None,
                 output_location: str | None = None, poll_seconds: float = 1.0, timeout_seconds: float = 600.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.client = client
        self.database, self.workgroup, self.output_location = database, workgroup, output_location
        self.poll_seconds, self.timeout_seconds = poll_seconds, timeout_seconds
        self.clock, self.sleep = clock, sleep

    def start(self, sql: str) -> str:
        """Submit a query; returns its execution id."""
        kwargs: dict[str, Any] = {"QueryString": sql, "QueryExecutionContext": {"Database": self.database}}
        if self.workgroup:
            kwargs["WorkGroup"] = self.workgroup
        if self.output_location:
            kwargs["ResultConfiguration"] = {"OutputLocation": self.output_location}
        return self.client.start_query_execution(**kwargs)["QueryExecutionId"]

    def wait(self, qid: str) -> dict:
        """Poll until the query ends; TrailError naming the reason if it failed, was cancelled or timed out."""
        deadline = self.clock() + self.timeout_seconds
        while True:
            ex = self.client.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
            status = ex.get("Status", {})
            state = status.get("State")
            if state == "SUCCEEDED":
                return ex
            if state in ("FAILED", "CANCELLED"):
                raise TrailError(f"Athena query {qid} {state.lower()}: {status.get('StateChangeReason', 'no reason')}")
            if self.clock() >= deadline:
                raise TrailError(f"Athena query {qid} still {state} after {self.timeout_seconds:.0f}s")
            self.sleep(self.poll_seconds)

    def results(self, qid: str) -> pd.DataFrame:
        """Every page of a finished query's results, typed from the result metadata."""
        import pandas as pd

        rows: list[list[Any]] = []
        columns: list[dict] = []
        kwargs: dict[str, Any] = {"QueryExecutionId": qid, "MaxResults": 1000}
        first = True
        while True:
            page = self.client.get_query_results(**kwargs)
            rs = page.get("ResultSet", {})
            if first:
                columns = rs.get("ResultSetMetadata", {}).get("ColumnInfo", [])
            data = rs.get("Rows", [])
            if first and data and columns and [d.get("VarCharValue") for d in data[0].get("Data", [])] == \
                    [c["Name"] for c in columns]:
                data = data[1:]  # the header row Athena puts first for SELECT queries
            first = False
            for r in data:
                rows.append([d.get("VarCharValue") for d in r.get("Data", [])])
            token = page.get("NextToken")
            if not token:
                break
            kwargs["NextToken"] = token
        names = [c["Name"] for c in columns] or [f"_{i}" for i in range(len(rows[0]) if rows else 0)]
        types = [c.get("Type", "varchar").lower() for c in columns] or ["varchar"] * len(names)
        out: dict[str, Any] = {}
        for i, (name, typ) in enumerate(zip(names, types, strict=True)):
            values = [r[i] if i < len(r) else None for r in rows]
            cast = _CASTS.get(typ)
            if cast:
                values = [None if v is None else cast(v) for v in values]
                dtype = "boolean" if typ == "boolean" else "Float64" if cast is float else "Int64"
                out[name] = pd.array(values, dtype=dtype)
            elif typ.startswith("timestamp"):
                out[name] = pd.to_datetime(pd.Series(values, dtype=object), utc=True, errors="coerce")
            else:
                out[name] = pd.array(values, dtype="string")
        return pd.DataFrame(out)

    def run(self, sql: str) -> pd.DataFrame:
        """Start, wait, fetch: the results of ``sql`` as a DataFrame."""
        qid = self.start(sql)
        self.wait(qid)
        return self.results(qid)


class LakeRunner:
    """Runs SQL on a CloudTrail Lake event data store: StartQuery, poll DescribeQuery, page GetQueryResults.

    (AWS closed CloudTrail Lake to new customers in 2026; existing stores keep working, so iamkit reads them.)
    """

    def __init__(self, client: Any, *, poll_seconds: float = 1.0, timeout_seconds: float = 600.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.client = client
        self.poll_seconds, self.timeout_seconds = poll_seconds, timeout_seconds
        self.clock, self.sleep = clock, sleep

    def run(self, sql: str) -> pd.DataFrame:
        """Start ``sql`` (its FROM names the event data store id), wait, and return every row as strings."""
        import pandas as pd

        qid = self.client.start_query(QueryStatement=sql)["QueryId"]
        deadline = self.clock() + self.timeout_seconds
        while True:
            d = self.client.describe_query(QueryId=qid)
            state = d.get("QueryStatus")
            if state == "FINISHED":
                break
            if state in ("FAILED", "CANCELLED", "TIMED_OUT"):
                raise TrailError(f"CloudTrail Lake query {qid} {state.lower()}: {d.get('ErrorMessage', 'no reason')}")
            if self.clock() >= deadline:
                raise TrailError(f"CloudTrail Lake query {qid} still {state} after {self.timeout_seconds:.0f}s")
            self.sleep(self.poll_seconds)
        rows: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"QueryId": qid}
        while True:
            page = self.client.get_query_results(**kwargs)
            for row in page.get("QueryResultRows", []):
                merged: dict[str, Any] = {}
                for cell in row:  # each row is a list of one-entry {column: value} maps
                    merged.update(cell)
                rows.append(merged)
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
        return pd.DataFrame(rows).astype("string") if rows else pd.DataFrame()
