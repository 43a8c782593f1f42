"""``iamkit trail rules``: every detection rule a hunt would load, with its source, severity, ATT&CK techniques
and whether it runs, then the ATT&CK coverage (technique -> rules). Registered on the ``trail`` group."""

from __future__ import annotations

import enum
from pathlib import Path

import typer

from iamkit.cli.output import OUT_OPT, emit


class RulesFormat(enum.StrEnum):
    """The formats this command writes (no OCSF: rules are not findings)."""

    table = "table"
    json = "json"
    csv = "csv"
    parquet = "parquet"


def rules_cmd(
    rules: list[Path] = typer.Option(
        None, "--rules", help="rule file/folder (repeatable; default: the shipped detections)"
    ),
    sigma: list[Path] = typer.Option(None, "--sigma", help="folder/file of Sigma rules to add (repeatable)"),
    show_coverage: bool = typer.Option(False, "--coverage", help="write only the ATT&CK coverage (technique -> rules)"),
    fmt: RulesFormat = typer.Option(RulesFormat.table, "--format", "-f", help="table|json|csv|parquet"),
    out: Path = OUT_OPT,
) -> None:
    """List every rule (shipped native, shipped Sigma, yours) with id, title, source, severity, ATT&CK
    techniques and status (ok, or unsupported with the reason), then the ATT&CK coverage. Files that do not
    load are listed with the reason. With --format json/csv/parquet: the rules, or the coverage with --coverage."""
    from iamkit.errors import NotFound
    from iamkit.trail.detect.catalogue import catalogue

    for p in [*(rules or []), *(sigma or [])]:
        if not Path(p).exists():
            raise NotFound(f"no such rule file or folder: {p}")
    listing, cov = catalogue(rules or None, sigma or ())
    if fmt == RulesFormat.table and out is None and not show_coverage:
        emit(listing.drop(columns=["path"]), "table", None, title="detection rules")
        emit(cov, "table", None, title="ATT&CK coverage (techniques the rules name)")
        return
    emit(
        cov if show_coverage else listing,
        fmt.value,
        out,
        title="ATT&CK coverage" if show_coverage else "detection rules",
    )


def register(app: typer.Typer) -> None:
    """Mount the command on the ``trail`` group."""
    app.command("rules")(rules_cmd)
