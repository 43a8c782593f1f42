"""The bodies of ``iamkit trail hunt`` and ``iamkit trail athena-query`` (the typer commands live in
``iamkit/cli/trail.py``): a hunt on the DuckDB store, rendered as Trino SQL, or run on Athena."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from iamkit import severity
from iamkit.escape import visible

if TYPE_CHECKING:  # pragma: no cover
    from iamkit.window import Window


@dataclass
class AthenaTarget:
    """Where Athena queries go: database (holding the events view), workgroup, result location,
    and the AWS profile/region (credentials and ``AWS_ENDPOINT_URL`` come from the usual environment)."""

    database: str
    workgroup: str | None = None
    output_location: str | None = None
    view: str = "events"
    region: str | None = None
    profile: str | None = None

    def connect(self, accounts: Any = None, regions: Any = None) -> Any:
        """An ``AthenaTrail`` for this target (narrowed to ``accounts``/``regions`` when given)."""
        from iamkit.aws.session import new_session
        from iamkit.trail.athena import connect_athena

        session = new_session(self.profile, self.region)
        return connect_athena(
            session,
            database=self.database,
            workgroup=self.workgroup,
            output_location=self.output_location,
            region=self.region,
            view=self.view,
            accounts=accounts,
            regions=regions,
        )


def run_hunt(
    db: Path | None,
    rules: list[Path] | None,
    sigma: list[Path] | None,
    dialect: str,
    window: Window,
    fail_on: str | None,
    show_sql: bool,
    fmt,
    out,
    *,
    country_mmdb: Path | None = None,
    asn_mmdb: Path | None = None,
    athena: AthenaTarget | None = None,
    accounts: list[str] | None = None,
    regions: list[str] | None = None,
) -> int:
    """Run (duckdb), render (trino) or run on Athena the detections; print rows; return the exit status."""
    from iamkit.errors import BadInput, NotFound
    from iamkit.trail import dialect as sql_dialect
    from iamkit.trail.predicates import Filters

    d = sql_dialect.get(dialect)
    if fail_on:
        fail_on = severity.parse(fail_on, flag="--fail-on")
    for p in [*(rules or []), *(sigma or [])]:
        if not Path(p).exists():
            raise NotFound(f"no such rule file or folder: {p}")
    scope = Filters.make(window=window, accounts=accounts, regions=regions)
    if athena is not None:
        return _run_athena_hunt(
            athena, db, rules, sigma, scope, fail_on, show_sql, fmt, out, mmdb=bool(country_mmdb or asn_mmdb)
        )
    ip_context = None
    if country_mmdb or asn_mmdb:
        from iamkit.trail.ipcontext import IpContext

        ip_context = IpContext(country_mmdb=country_mmdb, asn_mmdb=asn_mmdb)  # BadInput when unreadable
    from iamkit import trail

    if d.name == "trino" or show_sql:  # print the SQL: a back end of that dialect renders it, nothing runs
        from iamkit.trail.athena import AthenaTrail

        backend = AthenaTrail(None) if d.name == "trino" else trail.open()
        _print_plan(backend, rules, sigma, scope, fmt, out)
        return 0
    if db is None:
        raise BadInput(
            "--db FILE is required to run a hunt (or use --dialect trino / --show-sql to print SQL, "
            "or --athena --database DB to run it on Athena)"
        )
    if not Path(db).exists():
        raise NotFound(f"no such trail database: {db} (create it with `iamkit trail load SOURCE --db {db}`)")
    with trail.open(db, read_only=True) as t:
        res = t.hunt(
            rules or None,
            sigma or (),
            window=scope.window,
            accounts=scope.accounts,
            regions=scope.regions,
            ip_context=ip_context,
        )
    return _report(res, fmt, out, fail_on)


def _no_ocsf_for_sql(fmt) -> None:
    from iamkit.cli.output import Format
    from iamkit.errors import BadInput

    if Format(fmt) == Format.ocsf:
        raise BadInput(
            "--format ocsf writes detections; printing the SQL (--dialect trino, --show-sql) "
            "takes table, json, csv or parquet"
        )


def _print_plan(backend: Any, rules: list[Path] | None, sigma: list[Path] | None, scope: Any, fmt, out) -> None:
    """The SQL a hunt would run on ``backend``, one row per rule; rule problems on stderr."""
    _no_ocsf_for_sql(fmt)
    from iamkit import frames
    from iamkit.trail.detect.hunt import plan

    p = plan(backend, rules or None, sigma or (), filters=scope, tables=("ip_context",))  # every rule's SQL
    _print_errors(frames.conform(p.errors, "errors"))
    _emit_queries(p.queries, fmt, out)


def _run_athena_hunt(
    target: AthenaTarget,
    db: Path | None,
    rules: list[Path] | None,
    sigma: list[Path] | None,
    scope: Any,
    fail_on: str | None,
    show_sql: bool,
    fmt,
    out,
    *,
    mmdb: bool,
) -> int:
    """``--athena``: the hunt as one Trino query per rule on the Athena events view, bounded by the window."""
    from iamkit.errors import BadInput
    from iamkit.trail.athena import AthenaTrail

    if db is not None:
        raise BadInput("give --db (hunt the local store) or --athena (hunt on Athena), not both")
    if mmdb:
        raise BadInput(
            "--country-mmdb/--asn-mmdb apply to --db hunts; on Athena the country/ASN rules need an "
            "ip_context table in the database"
        )
    if not scope.window.bounded:
        raise BadInput("--athena needs both --since and --until (an unbounded hunt would scan the whole trail)")
    if show_sql:
        trail = AthenaTrail(None, view=target.view, accounts=scope.accounts, regions=scope.regions)
        _emit_queries(trail.hunt_queries(rules or None, sigma or (), window=scope.window), fmt, out)
        return 0
    trail = target.connect(accounts=scope.accounts, regions=scope.regions)
    from rich.console import Console
    from rich.progress import Progress

    with Progress(transient=True, console=Console(stderr=True)) as bar:  # stdout stays the rows
        task = bar.add_task("Athena hunt", total=None)
        res = trail.hunt(
            rules or None,
            sigma or (),
            window=scope.window,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    scanned = sum(h.get("data_scanned_bytes") or 0 for h in trail.runner.history)
    typer.echo(
        f"Athena: {len(trail.runner.history)} quer(ies) on {target.database}.{target.view}, "
        f"{scanned / 1e6:.1f} MB scanned",
        err=True,
    )
    return _report(res, fmt, out, fail_on)


def _print_errors(errors: Any) -> None:
    for row in errors.itertuples():
        typer.echo(visible(f"{row.code}: {row.operation}: {row.message}"), err=True)


def _emit_queries(queries: dict[str, str], fmt, out) -> None:
    import pandas as pd

    _no_ocsf_for_sql(fmt)
    from iamkit.cli.output import emit

    emit(pd.DataFrame({"detection_id": list(queries), "sql": list(queries.values())}), fmt, out)


def _report(res: Any, fmt, out, fail_on: str | None) -> int:
    """Rule problems on stderr, detections on stdout; exit 1 (``FailOnReached``) when ``--fail-on`` is reached."""
    from iamkit.cli.output import Format, emit, fail_on_gate

    _print_errors(res.errors)
    if Format(fmt) == Format.ocsf:  # OCSF Detection Findings with the rules' ATT&CK mapping
        from iamkit.trail.detect.ocsf import dumps

        text = dumps(res.detections, res.rules) + "\n"
        Path(out).write_text(text) if out is not None else typer.echo(text, nl=False)
    else:
        emit(res.detections, fmt, out, title=f"{len(res.detections)} detection(s)")
    fail_on_gate(fail_on, res.detections["severity"], "detection")
    return 0


def run_athena_query(
    target: AthenaTarget,
    query: str,
    window: Window,
    accounts: list[str] | None,
    regions: list[str] | None,
    scan_all: bool,
    fmt,
    out,
) -> None:
    """``iamkit trail athena-query``: ad-hoc Trino SQL on Athena, bounded to a window when given one."""
    from iamkit.cli.output import emit

    trail = target.connect()
    df = trail.sql(query, window=window, accounts=accounts, regions=regions, all=scan_all)
    emit(df, fmt, out, title=f"{len(df)} row(s)")
