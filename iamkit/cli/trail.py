"""`iamkit trail …` commands: load, sql, trace, timeline, athena-ddl, hunt (local or --athena), athena-query."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from iamkit.cli.output import FORMAT_OCSF_OPT, FORMAT_OPT, OUT_OPT, Format, emit, fail_on_option
from iamkit.escape import visible

app = typer.Typer(no_args_is_help=True, help="CloudTrail: load sources into DuckDB, query, trace keys, hunt.")
COMMANDS: list = []

DB_OPT = typer.Option(..., "--db", help="DuckDB file of the trail store")
_WHEN = "an ISO date/time, a date, or a span back from now (14d, 36h, 90m)"
SINCE_OPT = typer.Option(None, "--since", help=f"keep events at or after: {_WHEN}")
UNTIL_OPT = typer.Option(None, "--until", help=f"keep events at or before: {_WHEN} (a date means that whole day)")
START_OPT = typer.Option(None, "--start", hidden=True, help="deprecated: --since")
END_OPT = typer.Option(None, "--end", hidden=True, help="deprecated: --until")


def _window(since: str | None, until: str | None, start: str | None = None, end: str | None = None):
    """The command's window from ``--since``/``--until`` (or the deprecated ``--start``/``--end``, with a
    one-line notice on stderr; giving both spellings of one side is an error)."""
    from iamkit.errors import BadInput
    from iamkit.window import Window

    for old, new, a, b in (("--start", "--since", start, since), ("--end", "--until", end, until)):
        if a is not None:
            if b is not None:
                raise BadInput(f"{old} is the old spelling of {new}: give {new} only")
            typer.echo(f"note: {old} is deprecated, use {new} (same values)", err=True)
    return Window.parse(
        since if since is not None else start,
        until if until is not None else end,
        names=(
            "--since" if since is not None or start is None else "--start",
            "--until" if until is not None or end is None else "--end",
        ),
    )


def _split(value: str | None) -> list[str] | None:
    """A comma-separated option as a list (None when not given)."""
    return [x.strip() for x in value.split(",") if x.strip()] if value else None


def _open_existing(db: Path):
    """Open a store that must already exist (a query on a missing file is a typo, not a new store)."""
    import iamkit.trail as trail
    from iamkit.errors import NotFound

    if not Path(db).exists():
        raise NotFound(f"no such trail database: {db} (create it with `iamkit trail load SOURCE --db {db}`)")
    return trail.open(db, read_only=True)  # queries never need the write lock (a notebook may hold it)


@app.command("load")
def load_cmd(
    sources: list[str] = typer.Argument(..., help="files, folders, s3://bucket/prefix, lookup:[regions][?Key=Value]"),
    db: Path = DB_OPT,
    accounts: str = typer.Option(None, "--accounts", help="comma-separated account ids (S3 pruning)"),
    regions: str = typer.Option(None, "--regions", help="comma-separated regions (S3 pruning, lookup regions)"),
    since: str = SINCE_OPT,
    until: str = UNTIL_OPT,
    start: str = START_OPT,
    end: str = END_OPT,
    fmt: Format = FORMAT_OPT,
    out: Path = OUT_OPT,
) -> None:
    """Load CloudTrail sources into the store (incremental: files already loaded for the window are skipped).

    Prints the counters (with --format json also every skipped file and every problem); failures and
    problems go to stderr. Exit 2 when something failed and nothing could be read."""
    import pandas as pd
    from rich.console import Console
    from rich.progress import Progress

    import iamkit.trail as trail

    window = _window(since, until, start, end)
    with Progress(transient=True, console=Console(stderr=True)) as bar:  # stdout stays the rows
        task = bar.add_task("loading", total=None)
        t = trail.open(db)
        try:
            res = t.load(
                sources,
                accounts=_split(accounts),
                regions=_split(regions),
                window=window,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        finally:
            t.close()
    row = res.as_dict()
    if fmt == Format.json:
        row["skipped_files"] = res.skipped_rows
        row["problems"] = [{k: r[k] for k in ("operation", "code", "message")} for r in res.error_rows]
    emit(pd.DataFrame([row]), fmt, out, title=f"loaded into {db}")
    if res.files_skipped:
        kinds = res.skipped.kind.value_counts().to_dict()
        typer.echo(f"{res.files_skipped} file(s) skipped: " + ", ".join(f"{n} {k}" for k, n in kinds.items()), err=True)
    if res.error_rows:
        typer.echo(f"{len(res.error_rows)} failure(s)/problem(s):", err=True)
        for row in res.error_rows:
            typer.echo(visible(f"  {row['operation']}: {row['code']}: {row['message']}"), err=True)
    if res.nothing_read:
        typer.echo("nothing could be read: every source failed", err=True)
        raise typer.Exit(2)


@app.command("sql")
def sql_cmd(
    query: str = typer.Argument(..., help="SQL over tables events, insights, loaded_files, load_history, load_errors"),
    db: Path = DB_OPT,
    cache: bool = typer.Option(
        False, "--cache", help="query the Parquet cache of events (built if stale; never inside a case folder)"
    ),
    allow_path: list[Path] = typer.Option(
        None, "--allow-path", help="a file or folder the query may also read (repeatable)"
    ),
    since: str = SINCE_OPT,
    until: str = UNTIL_OPT,
    fmt: Format = FORMAT_OPT,
    out: Path = OUT_OPT,
) -> None:
    """Run one query on the store and print the rows. The query runs read-only with DuckDB's external
    access off: it sees the store (and --allow-path files) only; COPY, ATTACH, INSTALL, SET are refused.
    --since/--until bound every read of events to the window (as athena-query does on Athena)."""
    window = _window(since, until)
    t = _open_existing(db)
    try:
        if cache:
            cached = t.cache()
            try:
                emit(cached.sql(query, allow_paths=allow_path or (), window=window), fmt, out)
            finally:
                cached.close()
        else:
            emit(t.sql(query, allow_paths=allow_path or (), window=window), fmt, out)
    finally:
        t.close()


@app.command("trace")
def trace_cmd(
    access_key_id: str = typer.Argument(..., help="AKIA… or ASIA… key id"),
    db: Path = DB_OPT,
    what: str = typer.Option("events", "--show", help="events | nodes | summary"),
    since: str = SINCE_OPT,
    until: str = UNTIL_OPT,
    fmt: Format = FORMAT_OPT,
    out: Path = OUT_OPT,
) -> None:
    """Trace a key to its origin and through every key, user and session it created, and what each did."""
    import pandas as pd

    window = _window(since, until)
    t = _open_existing(db)
    try:
        res = t.trace(access_key_id, window=window)
    finally:
        t.close()
    o = res.origin
    typer.echo(
        visible(f"origin: {o.kind} {o.principal_arn or o.name or '?'} (chain: {' -> '.join(o.chain)})"), err=True
    )
    if what == "nodes":
        emit(res.nodes, fmt, out)
    elif what == "summary":
        if fmt == Format.json:
            text = json.dumps(res.summary, indent=1, default=str)
            Path(out).write_text(text + "\n") if out else typer.echo(text)
        else:
            emit(
                pd.DataFrame([{"key": k, "value": json.dumps(v, default=str)} for k, v in res.summary.items()]),
                fmt,
                out,
            )
    else:
        emit(res.events, fmt, out)


@app.command("timeline")
def timeline_cmd(
    principal_or_key: str = typer.Argument(..., help="access key id, principal ARN, user or session name"),
    db: Path = DB_OPT,
    since: str = SINCE_OPT,
    until: str = UNTIL_OPT,
    start: str = START_OPT,
    end: str = END_OPT,
    fmt: Format = FORMAT_OPT,
    out: Path = OUT_OPT,
) -> None:
    """Every call of a principal or access key, oldest first."""
    window = _window(since, until, start, end)
    t = _open_existing(db)
    try:
        emit(t.timeline(principal_or_key, window=window), fmt, out)
    finally:
        t.close()


@app.command("athena-ddl")
def athena_ddl_cmd(
    table: str = typer.Option("cloudtrail_logs", "--table"),
    location: str = typer.Option("s3://BUCKET/AWSLogs/o-ORGID/", "--location", help="s3://bucket/AWSLogs/[o-…/]"),
    database: str = typer.Option("default", "--database"),
    accounts: str = typer.Option(None, "--accounts", help="comma-separated account ids of the trail (projection)"),
    org: bool = typer.Option(False, "--org", help="the accounts are the organization's (Organizations ListAccounts)"),
    regions: str = typer.Option(None, "--regions", help="comma-separated regions (default: every AWS region)"),
    start_date: str = typer.Option("2020/01/01", "--start-date", help="first date partition (YYYY/MM/DD)"),
    injected: bool = typer.Option(
        False,
        "--injected",
        help="project account/region as injected: every query must then name its accounts and regions",
    ),
    profile: str = typer.Option(None, "--profile", help="AWS profile for --org (default: env credentials)"),
    region: str = typer.Option(None, "--region", help="AWS region for --org"),
) -> None:
    """Print the Athena CREATE TABLE for a CloudTrail (organization) trail with partition projection (account
    and region as enums: give --accounts or --org) and the events view iamkit's queries read."""
    from iamkit.errors import BadInput
    from iamkit.trail.athena import cloudtrail_ddl, events_view_sql

    ids = _split(accounts)
    if org:
        if ids:
            raise BadInput("give --accounts or --org, not both")
        ids = _org_accounts(profile, region)
    typer.echo(
        cloudtrail_ddl(
            table=table,
            location=location,
            database=database,
            accounts=ids,
            regions=_split(regions),
            start_date=start_date,
            injected=injected,
        )
        + ";\n"
    )
    typer.echo(events_view_sql(table=table, database=database) + ";")


def _org_accounts(profile: str | None, region: str | None) -> list[str]:
    """The organization's active account ids (ListAccounts from the management or a delegated-admin account)."""
    from iamkit.aws.calls import ErrorLog
    from iamkit.aws.fanout import org_accounts
    from iamkit.aws.session import connect
    from iamkit.errors import BadInput

    log = ErrorLog()
    found = org_accounts(connect(profile, region), log)
    ids = sorted(a["Id"] for a in found if a.get("Status", "ACTIVE") == "ACTIVE")
    if not ids:
        why = f"{log.rows[0]['code']}: {log.rows[0]['message']}" if log.rows else "no active account listed"
        raise BadInput(f"--org: cannot list the organization's accounts ({why}); give --accounts")
    return ids


@app.command("hunt")
def hunt_cmd(
    db: Path = typer.Option(None, "--db", help="DuckDB file of the trail store"),
    rules: list[Path] = typer.Option(
        None, "--rules", help="rule file/folder (repeatable; default: the shipped detections)"
    ),
    sigma: list[Path] = typer.Option(None, "--sigma", help="folder/file of Sigma rules to add (repeatable)"),
    dialect: str = typer.Option("duckdb", "--dialect", help="duckdb (run on --db) | trino (print the Athena SQL)"),
    since: str = SINCE_OPT,
    until: str = UNTIL_OPT,
    accounts: str = typer.Option(None, "--accounts", help="comma-separated account ids: hunt only these"),
    regions: str = typer.Option(None, "--regions", help="comma-separated regions: hunt only these"),
    fail_on: str = fail_on_option("detection"),
    show_sql: bool = typer.Option(False, "--show-sql", help="print each rule's SQL instead of running it"),
    country_mmdb: Path = typer.Option(None, "--country-mmdb", help="MaxMind country/city .mmdb for IP context"),
    asn_mmdb: Path = typer.Option(None, "--asn-mmdb", help="MaxMind ASN .mmdb (the ASN first-seen rule needs it)"),
    athena: bool = typer.Option(False, "--athena", help="run the hunt on Athena (needs --database, --since, --until)"),
    database: str = typer.Option(None, "--database", help="Athena database holding the CloudTrail events view"),
    workgroup: str = typer.Option(None, "--workgroup", help="Athena workgroup"),
    output_location: str = typer.Option(None, "--output-location", "--output", help="s3:// for Athena results"),
    view: str = typer.Option("events", "--view", help="the Athena events view (iamkit.trail.athena.events_view_sql)"),
    profile: str = typer.Option(None, "--profile", help="AWS profile for Athena (default: env credentials)"),
    region: str = typer.Option(None, "--region", help="AWS region for Athena"),
    fmt: Format = FORMAT_OCSF_OPT,
    out: Path = OUT_OPT,
) -> None:
    """Run the detections (Sigma + native rules) over the store or on Athena; rules that cannot run are
    listed on stderr."""
    from iamkit.cli.hunt import run_hunt

    window = _window(since, until)
    target = _athena_target(athena, database, workgroup, output_location, view, profile, region)
    code = run_hunt(
        db,
        rules,
        sigma,
        dialect,
        window,
        fail_on,
        show_sql,
        fmt,
        out,
        country_mmdb=country_mmdb,
        asn_mmdb=asn_mmdb,
        athena=target,
        accounts=_split(accounts),
        regions=_split(regions),
    )
    if code:
        raise typer.Exit(code)


def _athena_target(
    athena: bool,
    database: str | None,
    workgroup: str | None,
    output_location: str | None,
    view: str,
    profile: str | None,
    region: str | None,
):
    """The Athena options as a target (None without --athena; Athena options alone are a mistake)."""
    from iamkit.cli.hunt import AthenaTarget
    from iamkit.errors import BadInput

    if not athena:
        if database or workgroup or output_location:
            raise BadInput("--database/--workgroup/--output-location are Athena options: add --athena")
        return None
    if not database:
        raise BadInput("--athena needs --database DB (the Athena database holding the events view)")
    return AthenaTarget(database, workgroup, output_location, view, region, profile)


@app.command("athena-query")
def athena_query_cmd(
    query: str = typer.Argument(..., help="Trino SQL over the events view (partition_date bounds the scan)"),
    database: str = typer.Option(..., "--database", help="Athena database holding the CloudTrail events view"),
    since: str = SINCE_OPT,
    until: str = UNTIL_OPT,
    accounts: str = typer.Option(None, "--accounts", help="comma-separated account ids (partition pruning)"),
    regions: str = typer.Option(None, "--regions", help="comma-separated regions (partition pruning)"),
    scan_all: bool = typer.Option(False, "--all", help="send a query without a window or partition filter"),
    workgroup: str = typer.Option(None, "--workgroup", help="Athena workgroup"),
    output_location: str = typer.Option(None, "--output-location", "--output", help="s3:// for Athena results"),
    view: str = typer.Option("events", "--view", help="the Athena events view the window applies to"),
    profile: str = typer.Option(None, "--profile", help="AWS profile (default: env credentials)"),
    region: str = typer.Option(None, "--region", help="AWS region"),
    fmt: Format = FORMAT_OPT,
    out: Path = OUT_OPT,
) -> None:
    """Run ad-hoc Trino SQL on Athena; an unbounded scan is refused unless --since/--until or --all."""
    from iamkit.cli.hunt import run_athena_query

    window = _window(since, until)
    target = _athena_target(True, database, workgroup, output_location, view, profile, region)
    run_athena_query(target, query, window, _split(accounts), _split(regions), scan_all, fmt, out)


from iamkit.cli import rules as _rules  # noqa: E402  (`iamkit trail rules`, in its own module)

_rules.register(app)
