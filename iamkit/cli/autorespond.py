"""`iamkit autorespond package|template`: the event-driven auto-response's deployment zip and its
CloudFormation template."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=True, help="event-driven auto-response (Lambda + EventBridge): package, template")


@app.command("package")
def package(out: Path = typer.Option(..., "--out", help="the deployment zip to write (FILE.zip)")) -> None:
    """Build the Lambda deployment zip: the iamkit modules the handler loads and the data they need (no
    pandas, no DuckDB); upload it and deploy `iamkit autorespond template`."""
    from iamkit.respond.package import build

    got = build(out)
    typer.echo(f"{out}: {got['files']} files, {got['bytes']} bytes")


@app.command("template")
def template(out: Path | None = typer.Option(None, "--out", help="write the template here (default: stdout)")) -> None:
    """Print the CloudFormation template (function, its least-privilege role, the EventBridge rule, the SNS
    topic)."""
    text = resources.files("iamkit.respond").joinpath("autorespond.yaml").read_text()
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text)
