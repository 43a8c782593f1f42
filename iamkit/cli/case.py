"""`iamkit case verify|report`."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=True, help="case folders: verify the seal and its history, re-build the report")
COMMANDS: list = []

KEY_FILE_OPT = typer.Option(
    None,
    "--key-file",
    help="key for the keyed seal (hex, base64 or raw bytes; default: $IAMKIT_CASE_KEY). Never stored in the case.",
)


@app.command()
def verify(
    case_dir: Path = typer.Argument(..., help="the case folder"),
    key_file: Path | None = KEY_FILE_OPT,
    history: bool = typer.Option(True, "--history/--no-history", help="print the seal history"),
) -> None:
    """Recompute every file's sha256 against the sealed manifest, check the seal chain (and the keyed seal when a
    key is set); print the case's history; exit 1 naming each file that differs."""
    from rich.console import Console

    from iamkit.case import Case, describe_seal
    from iamkit.cli.output import say

    v = Case.open(case_dir).check(key_file)
    con = Console(soft_wrap=True)
    if history and v.history:
        con.print(say(("seal history", "bold"), " (oldest first)"), highlight=False)
        for s in v.history:
            con.print(say("  ", describe_seal(s)), highlight=False)
    for n in v.notes:
        con.print(say(("NOTE", "cyan"), " ", n), highlight=False)
    if not v.ok:
        for p in v.lines():
            con.print(say(("FAIL", "red"), " ", p), highlight=False)
        raise typer.Exit(1)
    con.print(say(("OK", "green"), " ", case_dir, ": every file matches the sealed manifest"), highlight=False)


@app.command()
def report(case_dir: Path = typer.Argument(..., help="the case folder"), key_file: Path | None = KEY_FILE_OPT) -> None:
    """Re-build report.html from the case folder alone (no AWS or Graph calls). The case is verified first (exit
    1, naming the files, if it was changed outside iamkit) and sealed again after, with the change recorded."""
    from iamkit import report as rep
    from iamkit.case import Case

    with Case.open_for_write(case_dir, actor="case report", key_file=key_file) as case:
        path = rep.build(case)
    typer.echo(str(path))
