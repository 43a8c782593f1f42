"""The body of ``iamkit trail hunt`` (the typer command itself lives in ``iamkit/cli/trail.py``)."""

from __future__ import annotations

from pathlib import Path

import typer

SEVERITY_ORDER = ["critical", "high", "medium", "low", "info"]


def run_hunt(db: Path | None, rules: list[Path] | None, sigma: list[Path] | None, dialect: str,
             since: str | None, until: str | None, fail_on: str | None, show_sql: bool, fmt, out, *,
             country_mmdb: Path | None = None, asn_mmdb: Path | None = None) -> int:
    """Run (duckdb) or render (trino) the detections; print rows; return the exit status."""
    from iamkit.cli.output import emit
    from iamkit.errors import BadInput, NotFound
    from iamkit.trail.detect import render
    from iamkit.trail.detect.hunt import hunt

    d = render.get(dialect)
    if fail_on is not None and fail_on.lower() not in SEVERITY_ORDER:
        raise BadInput(f"--fail-on must be one of {', '.join(SEVERITY_ORDER)}, got {fail_on!r}")
    for p in [*(rules or []), *(sigma or [])]:
        if not Path(p).exists():
            raise NotFound(f"no such rule file or folder: {p}")
    ip_context = None
    if country_mmdb or asn_mmdb:
        from iamkit.trail.ipcontext import IpContext

        ip_context = IpContext(country_mmdb=country_mmdb, asn_mmdb=asn_mmdb)  # BadInput when unreadable
    con = None
    if d.name == "duckdb" and not show_sql:
        if db is None:
            raise BadInput("--db FILE is required to run a hunt (or use --dialect trino / --show-sql to print SQL)")
        if not Path(db).exists():
            raise NotFound(f"no such trail database: {db} (create it with `iamkit trail load SOURCE --db {db}`)")
        from iamkit.trail.store import connect

        con = connect(db, read_only=True)
    try:
        res = hunt(con, rules=rules or None, sigma_dirs=sigma or (), dialect=d.name, since=since, until=until,
                   ip_context=ip_context)
    finally:
        if con is not None:
            con.close()
    for row in res.errors.itertuples():
        typer.echo(f"{row.code}: {row.operation}: {row.message}", err=True)
    if con is None:
        import pandas as pd

        emit(pd.DataFrame({"detection_id": list(res.queries), "sql": list(res.queries.values())}), fmt, out)
        return 0
    emit(res.detections, fmt, out, title=f"{len(res.detections)} detection(s)")
    if fail_on is not None:
        worst = SEVERITY_ORDER.index(fail_on.lower())
        if res.detections["severity"].isin(SEVERITY_ORDER[: worst + 1]).any():
            return 1
    return 0
