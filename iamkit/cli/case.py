"""`iamkit case verify|report|show`."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=True, help="case folders: verify the manifest, re-build the report")
COMMANDS: list = []


@app.command()
def verify(case_dir: Path = typer.Argument(..., help="the case folder")) -> None:
    """Recompute every file's sha256 against manifest.json; exit 1 naming each file that differs."""
    from rich.console import Console

    from iamkit.case import Case
    from iamkit.cli.output import say

    problems = Case.open(case_dir).verify()
    con = Console()
    if problems:
        for p in problems:
            con.print(say(("FAIL", "red"), " ", p), highlight=False)
        raise typer.Exit(1)
    con.print(say(("OK", "green"), " ", case_dir, ": every file matches manifest.json"), highlight=False)


@app.command()
def report(case_dir: Path = typer.Argument(..., help="the case folder")) -> None:
    """Re-build report.html from the case folder alone (no AWS or Graph calls), then re-seal the manifest."""
    from iamkit import report as rep
    from iamkit.case import Case

    case = Case.open(case_dir)
    path = rep.build(case)
    case.write_manifest()
    typer.echo(str(path))
