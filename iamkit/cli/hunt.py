"""The bodies of ``iamkit trail hunt`` and ``iamkit trail athena-query`` (the typer commands live in
``iamkit/cli/trail.py``): a hunt on the DuckDB store, rendered as Trino SQL, or run on Athena."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from iamkit import severity
from iamkit.escape import visible


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

    def connect(self) -> Any:
        """An ``AthenaTrail`` for this target."""
        from iamkit.aws.session import new_session
        from iamkit.trail.athena import connect_athena

        session = new_session(self.profile, self.region)
        return connect_athena(session, database=self.database, workgroup=self.workgroup,
                              output_location=self.output_location, region=self.region, view=self.view)


def run_hunt(db: Path | None, rules: list[Path] | None, sigma: list[Path] | None, dialect: str,
             since: str | None, until: str | None, fail_on: str | None, show_sql: bool, fmt, out, *,
             country_mmdb: Path | None = None, asn_mmdb: Path | None = None,
             athena: AthenaTarget | None = None, accounts: list[str] | None = None,
             regions: list[str] | None = None) -> int:
    """Run (duckdb), render (trino) or run on Athena the detections; print rows; return the exit status."""
    from iamkit.errors import BadInput, NotFound
    from iamkit.trail.detect import render
    from iamkit.trail.detect.hunt import hunt

    d = render.get(dialect)
    if fail_on:
        fail_on = severity.parse(fail_on, flag="--fail-on")
    for p in [*(rules or []), *(sigma or [])]:
        if not Path(p).exists():
            raise NotFound(f"no such rule file or folder: {p}")
    if athena is not None:
        return _run_athena_hunt(athena, db, rules, sigma, since, until, fail_on, show_sql, fmt, out,
                                mmdb=bool(country_mmdb or asn_mmdb), accounts=accounts, regions=regions)
    ip_context = None
    if country_mmdb or asn_mmdb:
        from iamkit.trail.ipcontext import IpContext

        ip_context = IpContext(country_mmdb=country_mmdb, asn_mmdb=asn_mmdb)  # BadInput when unreadable
    con = None
    if d.name == "duckdb" and not show_sql:
        if db is None:
            raise BadInput("--db FILE is required to run a hunt (or use --dialect trino / --show-sql to print SQL, "
                           "or --athena --database DB to run it on Athena)")
        if not Path(db).exists():
            raise NotFound(f"no such trail database: {db} (create it with `iamkit trail load SOURCE --db {db}`)")
        from iamkit import trail

        opened = trail.open(db, read_only=True)
        con = opened.con
    try:
        res = hunt(con, rules=rules or None, sigma_dirs=sigma or (), dialect=d.name, since=since, until=until,
                   ip_context=ip_context, accounts=accounts, regions=regions)
    finally:
        if con is not None:
            opened.close()
    if con is None:
        _print_errors(res.errors)
        _emit_queries(res.queries, fmt, out)
        return 0
    return _report(res, fmt, out, fail_on)


def _run_athena_hunt(target: AthenaTarget, db: Path | None, rules: list[Path] | None, sigma: list[Path] | None,
                     since: str | None, until: str | None, fail_on: str | None, show_sql: bool, fmt, out, *,
                     mmdb: bool, accounts: list[str] | None = None, regions: list[str] | None = None) -> int:
    """``--athena``: the hunt as one Trino query per rule on the Athena events view, bounded by the window."""
    from iamkit.errors import BadInput
    from iamkit.trail.athena import AthenaTrail

    if db is not None:
        raise BadInput("give --db (hunt the local store) or --athena (hunt on Athena), not both")
    if mmdb:
        raise BadInput("--country-mmdb/--asn-mmdb apply to --db hunts; on Athena the country/ASN rules need an "
                       "ip_context table in the database")
    if not since or not until:
        raise BadInput("--athena needs both --since and --until (an unbounded hunt would scan the whole trail)")
    if show_sql:
        trail = AthenaTrail(None, view=target.view, accounts=accounts, regions=regions)
        _emit_queries(trail.hunt_queries(rules or None, sigma or (), since=since, until=until), fmt, out)
        return 0
    trail = target.connect()
    trail.accounts, trail.regions = accounts, regions
    from rich.console import Console
    from rich.progress import Progress

    with Progress(transient=True, console=Console(stderr=True)) as bar:  # stdout stays the rows
        task = bar.add_task("Athena hunt", total=None)
        res = trail.hunt(rules or None, sigma or (), since=since, until=until,
                         progress=lambda done, total: bar.update(task, completed=done, total=total))
    scanned = sum(h.get("data_scanned_bytes") or 0 for h in trail.runner.history)
    typer.echo(f"Athena: {len(trail.runner.history)} quer(ies) on {target.database}.{target.view}, "
               f"{scanned / 1e6:.1f} MB scanned", err=True)
    return _report(res, fmt, out, fail_on)


def _print_errors(errors: Any) -> None:
    for row in errors.itertuples():
        typer.echo(visible(f"{row.code}: {row.operation}: {row.message}"), err=True)


def _emit_queries(queries: dict[str, str], fmt, out) -> None:
    import pandas as pd

    from iamkit.cli.output import emit

    emit(pd.DataFrame({"detection_id": list(queries), "sql": list(queries.values())}), fmt, out)


def _report(res: Any, fmt, out, fail_on: str | None) -> int:
    """Rule problems on stderr, detections on stdout; exit 1 (``FailOnReached``) when ``--fail-on`` is reached."""
    from iamkit.cli.output import emit, fail_on_gate

    _print_errors(res.errors)
    emit(res.detections, fmt, out, title=f"{len(res.detections)} detection(s)")
    fail_on_gate(fail_on, res.detections["severity"], "detection")
    return 0


def run_athena_query(target: AthenaTarget, query: str, since: str | None, until: str | None,
                     accounts: list[str] | None, regions: list[str] | None, scan_all: bool, fmt, out) -> None:
    """``iamkit trail athena-query``: ad-hoc Trino SQL on Athena, bounded to a window when given one."""
    from iamkit.cli.output import emit

    trail = target.connect()
    df = trail.sql(query, start=since, end=until, accounts=accounts, regions=regions, all=scan_all)
    emit(df, fmt, out, title=f"{len(df)} row(s)")
