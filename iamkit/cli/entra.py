"""`iamkit entra user|signins …` and the top-level `iamkit correlate UPN`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from iamkit.cli.output import FORMAT_OPT, OUT_OPT, Format, emit, say
from iamkit.errors import BadInput

app = typer.Typer(no_args_is_help=True, help="Entra ID through Microsoft Graph (env: IAMKIT_ENTRA_*).")

AUTH_OPT = typer.Option("auto", "--auth", help="auto|client_secret|certificate|device_code|interactive|static")
SINCE_OPT = typer.Option("14d", "--since", help="7d, 36h, 90m or an ISO date/time")
EVIDENCE_OPT = typer.Option(None, "--evidence", help="folder for the raw Graph pages, as received")
BETA_OPT = typer.Option(
    None,
    "--beta/--no-beta",
    help="also query Graph beta (non-interactive sign-ins, each "
    "sign-in's MFA requirement); default IAMKIT_GRAPH_BETA, else v1.0 only",
)


def _graph(auth: str, evidence: Path | None, beta: bool | None = None):
    from iamkit import entra

    return entra.connect(auth, evidence_dir=evidence, prompt=lambda m: typer.echo(m, err=True), beta=beta)


def _say_skipped(skipped: dict[str, str]) -> None:
    for what, why in skipped.items():
        typer.echo(f"skipped: {what} — {why}", err=True)


@app.command("user")
def user(
    upn: str = typer.Argument(..., help="user principal name"),
    auth: str = AUTH_OPT,
    evidence: Path = EVIDENCE_OPT,
    fmt: Format = FORMAT_OPT,
    out: Path = OUT_OPT,
) -> None:
    """The Entra profile of UPN (enabled, type, created, on-premises sync, last sign-in)."""
    from iamkit import entra

    skipped: dict[str, str] = {}
    df = entra.user(_graph(auth, evidence), upn, skipped=skipped)
    _say_skipped(skipped)
    emit(df, fmt, out, title=f"Entra user {upn}")


@app.command("signins")
def signins(
    upn: str = typer.Argument(..., help="user principal name"),
    since: str = SINCE_OPT,
    interactive_only: bool = typer.Option(
        False, "--interactive-only", help="with --beta: skip non-interactive sign-ins"
    ),
    beta: bool = BETA_OPT,
    auth: str = AUTH_OPT,
    evidence: Path = EVIDENCE_OPT,
    fmt: Format = FORMAT_OPT,
    out: Path = OUT_OPT,
) -> None:
    """Entra sign-ins of UPN since --since (needs Entra ID P1). v1.0 by default: interactive only, and a
    sign-in's mfa is 'unknown' unless the record shows MFA; --beta adds non-interactive ones and 'no MFA'."""
    from iamkit import entra
    from iamkit.entra.queries import BETA_ONLY

    graph = _graph(auth, evidence, beta)
    if not graph.beta:
        _say_skipped({"signins_beta": f"non-interactive sign-ins and a sign-in's 'no MFA' are {BETA_ONLY}"})
    df = entra.signins(graph, upn, since=since, noninteractive=False if interactive_only else None)
    emit(df, fmt, out, title=f"Entra sign-ins of {upn}")


PARTS = [
    "summary",
    "profile",
    "mfa",
    "signins",
    "groups",
    "identity_center_user",
    "assignments",
    "roles",
    "sessions",
    "activity",
    "timeline",
    "errors",
]


def correlate(
    upn: str = typer.Argument(..., help="user principal name"),
    db: Path = typer.Option(None, "--db", help="CloudTrail DuckDB store (iamkit trail load)"),
    since: str = SINCE_OPT,
    part: str = typer.Option("", "--part", help="print one part: " + "|".join(PARTS)),
    no_entra: bool = typer.Option(False, "--no-entra", help="do not call Graph"),
    no_aws: bool = typer.Option(False, "--no-aws", help="do not call Identity Center"),
    beta: bool = BETA_OPT,
    auth: str = AUTH_OPT,
    evidence: Path = EVIDENCE_OPT,
    fmt: Format = FORMAT_OPT,
    out: Path = OUT_OPT,
) -> None:
    """The person behind UPN: Entra profile, MFA, sign-ins, AWS roles and CloudTrail sessions on one timeline."""
    from iamkit.correlate import correlate as run

    if part and part not in PARTS:
        raise BadInput(f"--part {part!r}: one of {', '.join(PARTS)}")
    if db is not None and not db.exists():
        raise BadInput(f"--db {db}: no such CloudTrail store")
    graph = None if no_entra else _graph(auth, evidence, beta)
    aws = None
    if not no_aws:
        from iamkit.aws.session import connect

        aws = connect(region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"), verify=False)
    from iamkit import trail

    store = trail.open(db, read_only=True) if db else None
    try:
        view = run(upn, graph=graph, aws_session=aws, trail=store, since=since)
    finally:
        if store is not None:
            store.close()
    if part == "summary" or (not part and fmt != Format.table):
        if not part and fmt == Format.json:
            text = _view_json(view)
            if out is None:
                typer.echo(text)
            else:
                Path(out).write_text(text + "\n")
            return
        import pandas as pd

        emit(
            pd.DataFrame(
                [
                    {
                        k: json.dumps(v, default=str) if isinstance(v, (list, dict)) else v
                        for k, v in view.summary().items()
                    }
                ]
            ),
            fmt,
            out,
            title=f"{upn}",
        )
        return
    if part:
        emit(getattr(view, part), fmt, out, title=f"{part} of {upn}")
        return
    _print_view(view)


def _view_json(view) -> str:
    """The whole view as one JSON object: ``summary``, ``skipped`` and every part as an array of rows."""
    from iamkit.cli.output import _jsonable

    doc = {"upn": view.upn, "summary": view.summary(), "skipped": view.skipped}
    for name in PARTS[1:]:
        doc[name] = _jsonable(getattr(view, name))
    return json.dumps(doc, indent=1, default=str)


def _print_view(view) -> None:
    from rich.console import Console

    console = Console(width=200)
    s = view.summary()
    console.print(
        say(
            (view.upn, "bold"),
            f" — {s['display_name'] or '?'}; enabled={s['account_enabled']}; "
            f"MFA registered={s['mfa_registered']}; MFA at sign-in={s['mfa_at_signin']}; "
            f"risk={s['risk'] or 'none'}",
        ),
        highlight=False,
    )
    for what, why in view.skipped.items():
        console.print(say((f"skipped {what}: {why}", "yellow")), highlight=False)
    cols = {
        "roles": ["account_id", "permission_set", "role_name", "via", "used"],
        "sessions": ["kind", "account_id", "role_arn", "principal_arn", "first_seen", "events", "source_ips"],
        "timeline": ["time", "source", "kind", "account_id", "what", "ip", "success", "agreement"],
        "errors": ["operation", "code", "message"],
    }
    for name, keep in cols.items():
        df = getattr(view, name)
        if name == "timeline" and len(df):
            quiet = (df["source"] == "entra") & df["success"].fillna(False).astype(bool)
            df = df[~quiet]
            if quiet.any():
                console.print(
                    f"({int(quiet.sum())} successful Entra sign-ins left out of the timeline below: "
                    "--part timeline shows every row)",
                    highlight=False,
                )
        if len(df):
            emit(df[keep], Format.table, None, title=name)


COMMANDS = [correlate]
