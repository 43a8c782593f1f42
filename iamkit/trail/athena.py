"""Athena back end: the CloudTrail table DDL (partition projection), an ``events`` view, a query runner.

Queries are Trino SQL. ``with_partitions`` adds partition predicates for a time window so a bounded
question never scans the whole trail. The runner starts a query, polls it (injectable clock/sleep) and
pages the results into a DataFrame. ``AthenaTrail`` (``connect_athena``) asks the ``Trail`` questions
(events, timeline, hunt, sql) of the ``events`` view and answers with the same frames.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from iamkit.errors import BadInput, TrailError
from iamkit.trail import columns
from iamkit.trail.dialect import Dialect
from iamkit.trail.predicates import Filters, Partitions, bound_scans, partition_predicate, scans
from iamkit.window import Window

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

_USER_IDENTITY = """STRUCT<
        type: STRING, principalId: STRING, arn: STRING, accountId: STRING, invokedBy: STRING,
        accessKeyId: STRING, userName: STRING, identityProvider: STRING, credentialId: STRING,
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


def partition_regions() -> list[str]:
    """Every region of the AWS partition (botocore's endpoint data, read offline)."""
    import botocore.session

    return sorted(botocore.session.get_session().get_available_regions("cloudtrail"))


def cloudtrail_ddl(
    *,
    table: str = "cloudtrail_logs",
    location: str = "s3://BUCKET/AWSLogs/o-ORGID/",
    database: str = "default",
    accounts: Iterable[str] | None = None,
    regions: Iterable[str] | None = None,
    start_date: str = "2020/01/01",
    injected: bool = False,
) -> str:
    """CREATE EXTERNAL TABLE for an (organization) trail, partitioned by account, region and date.

    Partition projection computes partitions from the S3 layout
    ``<location><account>/CloudTrail/<region>/<yyyy/MM/dd>`` so no MSCK/ALTER TABLE ADD PARTITION is needed.
    Athena needs a projection for every partition column (catalogue partitions are ignored once projection
    is on), and an ``injected`` column makes it refuse any query without a static value for it, which a
    hunt over the organization does not have. So account and region are ``enum``s: ``accounts`` (required)
    and ``regions`` (default: every region of the AWS partition); the date is projected by day.
    ``injected=True`` keeps account and region injected, for tables every query names both of.
    """
    from iamkit.trail.predicates import checked

    _check_ident(table, "table")
    _check_ident(database, "database")
    if not location.startswith("s3://") or any(c in location for c in "'\"\\\n"):
        raise BadInput(f"location must be an s3:// uri (no quotes): {location}")
    import re

    if not re.fullmatch(r"\d{4}/\d{2}/\d{2}", start_date or ""):
        raise BadInput(f"start date must be YYYY/MM/DD (the first date partition), got {start_date!r}")
    loc = location if location.endswith("/") else location + "/"
    acc, reg = checked("account", accounts), checked("region", regions)
    if injected:
        projected = {"projection.account.type": "injected", "projection.region.type": "injected"}
    else:
        if not acc:
            raise BadInput(
                "the trail's accounts are needed for partition projection (--accounts 111…,222…, or "
                "--org to list the organization's): an injected account column makes Athena refuse "
                "every query that does not name its accounts (--injected if every query will)"
            )
        reg = reg or tuple(partition_regions())
        projected = {
            "projection.account.type": "enum",
            "projection.account.values": ",".join(acc),
            "projection.region.type": "enum",
            "projection.region.values": ",".join(reg),
        }
    props = {
        "projection.enabled": "true",
        **projected,
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
    """Trino: a view with the columns of the DuckDB ``events`` table (``iamkit.trail.columns``; JSON subtrees
    as JSON, ``source_file`` the S3 object) plus the table's partitions, so the same rules run unchanged."""
    _check_ident(table, "table")
    _check_ident(view, "view")
    _check_ident(database, "database")
    cols = [f"{c.athena} AS {c.name}" for c in columns.EVENTS]
    cols += [f"{part} AS {name}" for name, part in columns.VIEW_PARTITIONS.items()]
    body = ",\n  ".join(cols)
    return f"""CREATE OR REPLACE VIEW {database}.{view} AS
SELECT
  {body}
FROM {database}.{table}"""


#: the partition columns of the ``events`` view (``events_view_sql``)
VIEW_PARTITIONS = Partitions(date="partition_date", account="partition_account", region="partition_region")
#: the partition columns of the CloudTrail table itself (``cloudtrail_ddl``)
TABLE_PARTITIONS = Partitions(date="date", account="account", region="region")


def with_partitions(
    sql: str,
    start: Any,
    end: Any,
    *,
    accounts: Iterable[str] | None = None,
    regions: Iterable[str] | None = None,
    on_view: bool = True,
    table: str | None = None,
    time_col: str | None = None,
) -> str:
    """Add partition predicates for a window to every SELECT that reads ``table`` (default: any table
    that is not a CTE) in a Trino query (parsed with sqlglot), qualified by the scan's alias.

    ``on_view`` uses the ``events`` view's ``partition_*`` names; otherwise the table's own partitions.
    ``time_col`` (e.g. ``event_time``) also bounds that column to ``[start, end]`` (a bare end date
    means its whole day), so the rows, not only the partitions, fall in the window.
    """
    return _bound_scans(
        sql,
        Window.parse(start, end, names=("start", "end")),
        accounts=accounts,
        regions=regions,
        on_view=on_view,
        table=table,
        time_col=time_col,
    )[0]


def _bound_scans(
    sql: str,
    window: Window,
    *,
    accounts: Iterable[str] | None,
    regions: Iterable[str] | None,
    on_view: bool,
    table: str | None,
    time_col: str | None,
) -> tuple[str, int]:
    """``with_partitions`` plus the number of scans it bounded."""
    if not window.bounded:
        raise BadInput("a time window needs a start and an end")
    cols = VIEW_PARTITIONS if on_view else TABLE_PARTITIONS

    def predicate(q: str) -> str:
        pred = partition_predicate(window, accounts, regions, cols=cols, prefix=q)
        if time_col:
            pred += " AND " + window.where("trino", f"{q}{time_col}")
        return pred

    return bound_scans(sql, "trino", table, predicate)


def reads_partitions(sql: str) -> bool:
    """Does a Trino query either read no table or name a partition column (``partition_date`` or
    ``date``) somewhere? False for a query that would scan every partition."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read="trino")
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError) as e:
        raise BadInput(
            f"not a Trino query ({str(e).splitlines()[0]}); pass all=True / --all to send it as written"
        ) from None
    if not isinstance(tree, exp.Query) or not scans(tree, None):
        return True  # DDL, SHOW, DESCRIBE, or a query over no table: nothing is scanned
    return any(c.name.lower() in ("partition_date", "date") for c in tree.find_all(exp.Column))


# ---------------------------------------------------------------- runner

_CASTS: dict[str, Callable[[str], Any]] = {
    "boolean": lambda v: v.lower() == "true",
    "tinyint": int,
    "smallint": int,
    "integer": int,
    "bigint": int,
    "double": float,
    "float": float,
    "real": float,
    "decimal": float,
}


def _head(sql: str, width: int = 100) -> str:
    """The start of a query on one line, to name it in an error."""
    text = " ".join(sql.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _aws_error(e: Exception, what: str) -> Exception:
    """A botocore failure of ``what`` as an iamkit error with one clear line."""
    import botocore.exceptions as bx

    from iamkit.errors import AccessDenied, EndpointUnreachable

    if isinstance(e, bx.ClientError):
        err = e.response.get("Error", {})
        code, msg = err.get("Code", "?"), err.get("Message", "")
        if code in ("AccessDeniedException", "AccessDenied", "UnrecognizedClientException"):
            return AccessDenied(f"Athena {what} refused: {code}: {msg}")
        return TrailError(f"Athena {what} failed: {code}: {msg}")
    if isinstance(e, (bx.EndpointConnectionError, bx.ConnectTimeoutError)):
        return EndpointUnreachable(f"Athena endpoint unreachable ({what}): {e}")
    if isinstance(e, bx.NoCredentialsError):
        return BadInput("no AWS credentials found for Athena (set a profile, environment credentials or SSO login)")
    return TrailError(f"Athena {what} failed: {type(e).__name__}: {e}")


def _timestamps(values: list[str | None], column: str) -> pd.Series:
    """Athena's timestamp text (``2026-01-01 00:00:00.000 UTC``, ISO-8601, offsets) as UTC timestamps;
    a value that cannot be read is an error naming it (never a silent NaT)."""
    import re

    import pandas as pd

    def norm(v: str | None) -> str | None:
        if v is None or v == "":
            return None
        return re.sub(r"\s+(UTC|Z|Etc/UTC)$", "+00:00", v.strip())

    texts = pd.Series([norm(v) for v in values], dtype=object)
    out = pd.to_datetime(texts, utc=True, errors="coerce", format="mixed")
    bad = out.isna() & texts.notna()
    if bad.any():
        raise TrailError(f"Athena column {column!r}: cannot read timestamp {values[int(bad.idxmax())]!r}")
    return out


def result_frame(columns: list[dict], rows: list[list[str | None]]) -> pd.DataFrame:
    """Athena's result rows (every value text, NULL as None) as a frame typed from the result metadata
    (``ColumnInfo``: Name, Type): numbers, booleans and UTC timestamps typed, the rest text (arrays and JSON
    as Athena prints them)."""
    import pandas as pd

    names = [c["Name"] for c in columns] or [f"_{i}" for i in range(len(rows[0]) if rows else 0)]
    types = [c.get("Type", "varchar").lower() for c in columns] or ["varchar"] * len(names)
    out: dict[str, Any] = {}
    for i, (name, typ) in enumerate(zip(names, types, strict=True)):
        values = [r[i] if i < len(r) else None for r in rows]
        cast = _CASTS.get(typ.split("(")[0])
        if cast:
            try:
                values = [None if v is None else cast(v) for v in values]
            except ValueError as e:
                raise TrailError(f"Athena column {name!r} ({typ}): {e}") from None
            dtype = "boolean" if cast is _CASTS["boolean"] else "Float64" if cast is float else "Int64"
            out[name] = pd.array(values, dtype=dtype)
        elif typ.startswith("timestamp"):
            out[name] = _timestamps(values, name)
        else:
            out[name] = pd.array(values, dtype="string")
    return pd.DataFrame(out)


class AthenaRunner:
    """Runs Trino SQL on Athena: start, poll until done, page the results into a DataFrame.

    ``history`` keeps every query sent (execution id, SQL, final state, bytes scanned) for the evidence.
    """

    def __init__(
        self,
        client: Any,
        *,
        database: str = "default",
        workgroup: str | None = None,
        output_location: str | None = None,
        poll_seconds: float = 1.0,
        timeout_seconds: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.client = client
        self.database, self.workgroup, self.output_location = database, workgroup, output_location
        self.poll_seconds, self.timeout_seconds = poll_seconds, timeout_seconds
        self.clock, self.sleep = clock, sleep
        self.history: list[dict[str, Any]] = []

    def start(self, sql: str) -> str:
        """Submit a query; returns its execution id."""
        kwargs: dict[str, Any] = {"QueryString": sql, "QueryExecutionContext": {"Database": self.database}}
        if self.workgroup:
            kwargs["WorkGroup"] = self.workgroup
        if self.output_location:
            kwargs["ResultConfiguration"] = {"OutputLocation": self.output_location}
        try:
            qid = self.client.start_query_execution(**kwargs)["QueryExecutionId"]
        except Exception as e:
            raise _aws_error(e, f"StartQueryExecution of [{_head(sql)}]") from e
        self.history.append({"query_execution_id": qid, "sql": sql, "state": "QUEUED", "data_scanned_bytes": None})
        return qid

    def wait(self, qid: str, sql: str | None = None) -> dict:
        """Poll until the query ends; TrailError naming the query and the reason if it failed, was
        cancelled or timed out."""
        deadline = self.clock() + self.timeout_seconds
        named = f"Athena query {qid}" + (f" [{_head(sql)}]" if sql else "")
        while True:
            try:
                ex = self.client.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
            except Exception as e:
                raise _aws_error(e, f"GetQueryExecution of {qid}") from e
            status = ex.get("Status", {})
            state = status.get("State")
            self._note(qid, state, ex)
            if state == "SUCCEEDED":
                return ex
            if state in ("FAILED", "CANCELLED"):
                reason = status.get("StateChangeReason") or status.get("AthenaError", {}).get("ErrorMessage")
                raise TrailError(
                    f"Athena query {qid} {state.lower()}: {reason or 'no reason given'}"
                    + (f" (query: {_head(sql)})" if sql else "")
                )
            if self.clock() >= deadline:
                raise TrailError(f"{named} still {state} after {self.timeout_seconds:.0f}s")
            self.sleep(self.poll_seconds)

    def _note(self, qid: str, state: str | None, ex: dict) -> None:
        for h in reversed(self.history):
            if h["query_execution_id"] == qid:
                h["state"] = state
                h["data_scanned_bytes"] = ex.get("Statistics", {}).get("DataScannedInBytes")
                return

    def results(self, qid: str) -> pd.DataFrame:
        """Every page of a finished query's results, typed from the result metadata."""

        rows: list[list[Any]] = []
        columns: list[dict] = []
        kwargs: dict[str, Any] = {"QueryExecutionId": qid, "MaxResults": 1000}
        first = True
        while True:
            try:
                page = self.client.get_query_results(**kwargs)
            except Exception as e:
                raise _aws_error(e, f"GetQueryResults of {qid}") from e
            rs = page.get("ResultSet", {})
            if first:
                columns = rs.get("ResultSetMetadata", {}).get("ColumnInfo", [])
            data = rs.get("Rows", [])
            if (
                first
                and data
                and columns
                and [d.get("VarCharValue") for d in data[0].get("Data", [])] == [c["Name"] for c in columns]
            ):
                data = data[1:]  # the header row Athena puts first for SELECT queries
            first = False
            for r in data:
                rows.append([d.get("VarCharValue") for d in r.get("Data", [])])
            token = page.get("NextToken")
            if not token:
                break
            kwargs["NextToken"] = token
        return result_frame(columns, rows)

    def run(self, sql: str) -> pd.DataFrame:
        """Start, wait, fetch: the results of ``sql`` as a DataFrame."""
        qid = self.start(sql)
        self.wait(qid, sql)
        return self.results(qid)


class LakeRunner:
    """Runs SQL on a CloudTrail Lake event data store: StartQuery, poll DescribeQuery, page GetQueryResults.

    (AWS closed CloudTrail Lake to new customers in 2026; existing stores keep working, so iamkit reads them.)
    """

    def __init__(
        self,
        client: Any,
        *,
        poll_seconds: float = 1.0,
        timeout_seconds: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
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


# ---------------------------------------------------------------- the Trail questions, on Athena


def _check_view(name: str) -> str:
    """A view name, optionally ``database.view``, safe to put in SQL."""
    for part in (name or "").split("."):
        _check_ident(part, "view")
    return name


class AthenaTrail:
    """The Athena ``TrailBackend`` over the ``events`` view (``events_view_sql``): the same questions as a
    local ``Trail``, the same frames, for organization trails that outgrew one machine.

    Every query carries partition predicates for its window; a question without a window is refused
    (an unbounded scan of an organization trail is slow and billed by the byte) unless ``all=True``.
    ``accounts``/``regions`` narrow every question to those partitions too. ``ip_context_table``: the
    database has an ``ip_context(ip, asn, country)`` table (the country/ASN rules need it).
    """

    dialect = Dialect("trino")

    def __init__(
        self,
        runner: AthenaRunner | None,
        view: str = "events",
        *,
        accounts: Iterable[str] | None = None,
        regions: Iterable[str] | None = None,
        ip_context_table: bool = False,
    ):
        from iamkit.trail.predicates import checked

        self.runner = runner
        self.view = _check_view(view)
        self.accounts = checked("account", accounts)
        self.regions = checked("region", regions)
        self.ip_context_table = ip_context_table

    # -- the back end
    @property
    def table(self) -> str:
        return self.view

    @property
    def tables(self) -> frozenset[str]:
        return frozenset({"ip_context"}) if self.ip_context_table else frozenset()

    def query(self, sql: str) -> pd.DataFrame:
        """Run the library's own Trino SQL (already bounded) on Athena."""
        if self.runner is None:
            raise BadInput("this AthenaTrail has no runner: it can only render queries (hunt_queries)")
        return self.runner.run(sql)

    def rows(self, sql: str) -> list[dict]:
        """``query``'s rows as dicts (NULL as None, timestamps as datetimes)."""
        import pandas as pd

        df = self.query(sql)
        out = []
        for rec in df.to_dict("records"):
            out.append(
                {
                    k: None
                    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v)
                    else v.to_pydatetime()
                    if isinstance(v, pd.Timestamp)
                    else v
                    for k, v in rec.items()
                }
            )
        return out

    def scope(self, filters: Filters) -> str:
        """The Trino predicate for ``filters`` (this trail's accounts/regions by default), with the view's
        partition predicates."""
        return filters.narrowed(self.accounts, self.regions).where(self.dialect, partitions=VIEW_PARTITIONS)

    # -- the questions
    def sql(
        self,
        query: str,
        *,
        window: Window | None = None,
        start: Any = None,
        end: Any = None,
        accounts: Iterable[str] | None = None,
        regions: Iterable[str] | None = None,
        all: bool = False,
    ) -> pd.DataFrame:
        """Run Trino SQL. With a window (``window`` or ``start`` and ``end``) every read of the view gets the
        window's partition and ``event_time`` predicates; without one the query must name a partition column
        itself (``partition_date``) or ``all=True`` must say a full scan is meant."""
        from iamkit.trail.predicates import checked

        w = Window.either(window, start, end)
        if not w.open:
            if not w.bounded:
                raise BadInput("an Athena query window needs both start and end")
            bounded, n = _bound_scans(
                query,
                w,
                accounts=checked("account", accounts) or self.accounts,
                regions=checked("region", regions) or self.regions,
                on_view=True,
                table=self.view,
                time_col="event_time",
            )
            if n == 0 and not all and not reads_partitions(query):
                raise BadInput(
                    f"the window bounds reads of the view {self.view} and this query reads none: "
                    "filter on the table's date partition yourself or pass all=True"
                )
            query = bounded
        elif accounts or regions:
            raise BadInput("accounts/regions narrow a window's partitions: give start and end too")
        elif not all and not reads_partitions(query):
            raise BadInput(
                "refusing an unbounded Athena scan: give start and end (partition predicates are "
                "added), filter on partition_date yourself, or pass all=True"
            )
        return self.query(query)

    def events(
        self,
        *,
        window: Window | None = None,
        principal: str | None = None,
        access_key_id: str | None = None,
        event_name: str | list[str] | None = None,
        event_source: str | None = None,
        start: Any = None,
        end: Any = None,
        source_ip: str | None = None,
        account_id: str | None = None,
        region: str | None = None,
        error_code: str | None = None,
        limit: int | None = None,
        parse_json: bool = True,
        all: bool = False,
    ) -> pd.DataFrame:
        """Events matching every filter given, oldest first, as an ``events`` frame (as ``Trail.events``;
        a window is required unless ``all=True``; a bare end date means its whole day). Secrets in the
        request, response and additional data are redacted as the local store redacts them."""
        from iamkit.trail.backend import events_frame

        w = self._bounded(Window.either(window, start, end), all, "scan")
        f = Filters.make(
            window=w,
            principal=principal,
            access_key_id=access_key_id,
            event_name=event_name,
            event_source=event_source,
            source_ip=source_ip,
            account_id=account_id,
            region=region,
            error_code=error_code,
        )
        return events_frame(self, f, limit=limit, parse_json=parse_json, redact=True)

    def timeline(
        self,
        principal_or_key: str,
        *,
        window: Window | None = None,
        start: Any = None,
        end: Any = None,
        limit: int | None = None,
        all: bool = False,
    ) -> pd.DataFrame:
        """Every call of a principal (ARN, user or session name) or access key, oldest first (a
        ``timeline`` frame, as ``Trail.timeline``)."""
        from iamkit.trail.backend import timeline_frame

        w = self._bounded(Window.either(window, start, end), all, "scan")
        return timeline_frame(self, principal_or_key, Filters(w), limit=limit, where=f"in Athena view {self.view}")

    def trace(
        self,
        access_key_id: str,
        *,
        window: Window | None = None,
        start: Any = None,
        end: Any = None,
        max_depth: int = 10,
        all: bool = False,
    ) -> Any:
        """Trace an access key to its origin and through what it created (as ``Trail.trace``), every query
        bounded to the window."""
        from iamkit.trail.trace import trace

        w = self._bounded(Window.either(window, start, end), all, "trace")
        return trace(self, access_key_id, window=w, max_depth=max_depth)

    def hunt(
        self,
        rules: Any = None,
        sigma_dirs: Any = (),
        *,
        window: Window | None = None,
        since: Any = None,
        until: Any = None,
        accounts: Iterable[str] | None = None,
        regions: Iterable[str] | None = None,
        all: bool = False,
        ip_context_table: bool | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Any:
        """Run the detections (default: the shipped rules) on Athena, one query per rule; a ``HuntResult``
        with the same ``detections`` frame as a local hunt. Rules needing IP context (country/ASN) run
        only when the database has an ``ip_context(ip, asn, country)`` table (``ip_context_table=True``);
        otherwise they are listed as skipped in ``errors``. ``progress(done, total)`` follows the queries."""
        from iamkit.trail.detect.hunt import QueryRunner, execute

        p = self._plan(rules, sigma_dirs, window, since, until, accounts, regions, all, ip_context_table)
        if self.runner is None:
            raise BadInput("this AthenaTrail has no runner: it can only render queries (hunt_queries)")
        return execute(p, QueryRunner(self.query, progress))

    def hunt_queries(
        self,
        rules: Any = None,
        sigma_dirs: Any = (),
        *,
        window: Window | None = None,
        since: Any = None,
        until: Any = None,
        accounts: Iterable[str] | None = None,
        regions: Iterable[str] | None = None,
        all: bool = False,
        ip_context_table: bool | None = None,
    ) -> dict[str, str]:
        """The Trino SQL ``hunt`` would send, per rule id, in the order it sends them (nothing is run)."""
        return self._plan(rules, sigma_dirs, window, since, until, accounts, regions, all, ip_context_table).queries

    # -- helpers
    def _plan(
        self,
        rules: Any,
        sigma_dirs: Any,
        window: Window | None,
        since: Any,
        until: Any,
        accounts: Any,
        regions: Any,
        all: bool,
        ip_context_table: bool | None,
    ) -> Any:
        from iamkit.trail.detect.hunt import plan

        w = Window.either(window, since, until, names=("since", "until"))
        if not w.bounded and not all:
            raise BadInput("refusing an unbounded Athena hunt: give both since and until (or all=True)")
        tables = None if ip_context_table is None else ({"ip_context"} if ip_context_table else set())
        return plan(
            self, rules, sigma_dirs, filters=Filters.make(window=w, accounts=accounts, regions=regions), tables=tables
        )

    def _bounded(self, window: Window, all: bool, what: str) -> Window:
        """``window``, refused unless bounded on both sides or ``all`` says a full scan is meant."""
        if not window.bounded and not all:
            raise BadInput(f"refusing an unbounded Athena {what}: give both start and end (or all=True)")
        return window

    def __repr__(self) -> str:
        database = self.runner.database if self.runner is not None else None
        return f"AthenaTrail(database={database!r}, view={self.view!r})"


def connect_athena(
    session: Any = None,
    *,
    database: str,
    workgroup: str | None = None,
    output_location: str | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
    view: str = "events",
    accounts: Iterable[str] | None = None,
    regions: Iterable[str] | None = None,
    poll_seconds: float = 1.0,
    timeout_seconds: float = 600.0,
) -> AthenaTrail:
    """An ``AthenaTrail`` over ``database``'s events view, with a boto3 ``session`` (default: the usual
    profile/env credentials; ``AWS_ENDPOINT_URL`` is honoured, so the sandbox works unchanged)."""
    if not database:
        raise BadInput("an Athena database is required (the one holding the CloudTrail table and events view)")
    if output_location is not None and not output_location.startswith("s3://"):
        raise BadInput(f"the Athena output location must be an s3:// uri, got {output_location!r}")
    if session is None:
        from iamkit.aws.session import new_session

        session = new_session(region=region)
    region = region or session.region_name or "us-east-1"
    try:
        from iamkit.aws.session import client_config

        client = session.client("athena", region_name=region, endpoint_url=endpoint_url, config=client_config())
    except Exception as e:
        raise _aws_error(e, "client creation") from e
    runner = AthenaRunner(
        client,
        database=database,
        workgroup=workgroup,
        output_location=output_location,
        poll_seconds=poll_seconds,
        timeout_seconds=timeout_seconds,
    )
    return AthenaTrail(runner, view=view, accounts=accounts, regions=regions)
