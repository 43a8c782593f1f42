"""``--format table|json|csv|parquet`` and ``--out FILE`` for every command that prints rows, ``--fail-on`` for
every command whose rows carry a severity, and ``say`` for every line the CLI prints with rich: values never go
through rich markup."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from iamkit import severity
from iamkit.errors import BadInput, IamkitError
from iamkit.escape import visible

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from rich.text import Text


class Format(enum.StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    parquet = "parquet"
    ocsf = "ocsf"


def working(message: str):
    """A transient spinner on stderr while something may take seconds (a connection, a token, a listing)."""
    from rich.console import Console

    return Console(stderr=True).status(message, spinner="dots")


def format_option(*formats: Format) -> typer.models.OptionInfo:
    """``--format`` offering only ``formats``: its help and metavar list them, any other value is a clear
    bad-input error (exit 2)."""
    names = [f.value for f in formats]

    def check(value: Format | None) -> Format | None:
        if value is not None and Format(value) not in formats:
            raise BadInput(f"--format {Format(value).value}: this command writes {'|'.join(names)}")
        return value

    return typer.Option(
        Format.table,
        "--format",
        "-f",
        help="|".join(names),
        callback=check,
        metavar="[" + "|".join(names) + "]",
        show_choices=False,
    )


#: the formats every command that prints rows writes
ROW_FORMATS = (Format.table, Format.json, Format.csv, Format.parquet)
FORMAT_OPT = format_option(*ROW_FORMATS)
#: commands whose rows are findings or detections also write OCSF Detection Findings
FORMAT_OCSF_OPT = format_option(*ROW_FORMATS, Format.ocsf)
OUT_OPT = typer.Option(None, "--out", "-o", help="write to this file instead of stdout")


class FailOnReached(IamkitError):
    """``--fail-on`` was met: exit status 1 (an error, not ``typer.Exit``: ``iamkit.cli.main`` runs click with
    ``standalone_mode=False``, where a raised Exit becomes a return value)."""

    exit_code = 1


def fail_on_option(what: str, scale: tuple[str, ...] = severity.LEVELS) -> typer.models.OptionInfo:
    """The ``--fail-on LEVEL`` option of a command whose ``what`` rows carry a severity of ``scale``; the
    value is checked (case-insensitive) while the command line is parsed and arrives lower-cased."""

    def check(value: str | None) -> str | None:
        return severity.parse(value, flag="--fail-on", scale=scale) if value else None

    return typer.Option(
        None, "--fail-on", callback=check, help=f"exit 1 when a {what} is at this severity or worse: {'|'.join(scale)}"
    )


def fail_on_gate(fail_on: str | None, severities, what: str, scale: tuple[str, ...] = severity.LEVELS) -> None:
    """Raise ``FailOnReached`` (exit 1, one line) when a severity is ``fail_on`` or worse."""
    if not fail_on:
        return
    hits = severity.at_or_above(fail_on, severities, scale)
    if hits:
        raise FailOnReached(f"{hits} {what}(s) at or above {fail_on} (--fail-on)")


def say(*parts: object) -> Text:
    """A line for a rich console. Each part is a value shown literally (no markup: ``[bold]`` or ``[/]`` in
    evidence stays text; control characters shown as ``⟨U+001B⟩``), or a ``(value, style)`` pair where the
    library chooses the style."""
    from rich.text import Text

    return Text.assemble(*((visible(p[0]), p[1]) if isinstance(p, tuple) else visible(p) for p in parts))


def _jsonable(df: pd.DataFrame) -> list[dict]:
    import pandas as pd

    rows = []
    for rec in df.to_dict(orient="records"):
        row = {}
        for k, v in rec.items():
            if v is None or (not isinstance(v, (list, dict, tuple)) and pd.isna(v)):
                row[k] = None
            elif isinstance(v, pd.Timestamp):
                row[k] = v.isoformat()
            elif hasattr(v, "item"):
                row[k] = v.item()
            else:
                row[k] = v
        rows.append(row)
    return rows


def emit(df: pd.DataFrame, fmt: Format | str = Format.table, out: Path | None = None, title: str | None = None) -> None:
    """Write ``df`` in the requested format to ``out`` or stdout (parquet needs ``--out``)."""
    fmt = Format(fmt)
    if fmt == Format.ocsf:  # only the commands that offer it write it, through their own OCSF writer
        raise BadInput("--format ocsf: this command's rows have no OCSF form; use table, json, csv or parquet")
    if fmt == Format.parquet:
        if out is None:
            raise BadInput("--format parquet needs --out FILE")
        safe = df.copy()
        for c in safe.columns:
            if safe[c].dtype == object:
                safe[c] = safe[c].map(lambda v: v if v is None or isinstance(v, str) else json.dumps(v, default=str))
        safe.to_parquet(out, index=False)
        return
    if fmt == Format.json:
        # pandas' C writer (the Python row loop cost seconds on big findings frames); indented for a terminal only
        text = df.to_json(
            orient="records",
            date_format="iso",
            date_unit="s",
            default_handler=str,
            indent=1 if out is None else 0,
            force_ascii=False,
        )
    elif fmt == Format.csv:
        text = df.to_csv(index=False)
    else:
        if out is None:
            from rich.console import Console
            from rich.table import Table

            t = Table(title=say(title) if title else None, show_lines=False)
            for c in df.columns:
                t.add_column(say(c), overflow="fold")
            for rec in _jsonable(df):
                t.add_row(*[say("" if v is None else v) for v in rec.values()])
            Console(width=200).print(t)
            return
        text = df.to_string(index=False)
    if out is None:
        typer.echo(text)
    else:
        Path(out).write_text(text if text.endswith("\n") else text + "\n")
