"""`iamkit inventory …` commands: collect a snapshot, diff two, import authorization-details exports."""

from __future__ import annotations

from pathlib import Path

import typer

from iamkit.cli.output import FORMAT_OPT, OUT_OPT, Format, say

app = typer.Typer(no_args_is_help=True, help="Organization IAM inventory: collect snapshots, diff them.")
COMMANDS: list = []


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


class _Bars:
    """Rich progress bars fed by the collector's ``progress(label, done, total)`` callback."""

    def __init__(self, progress) -> None:
        self.progress = progress
        self.tasks: dict[str, int] = {}

    def __call__(self, label: str, done: int, total: int) -> None:
        phase = "assume roles" if label.startswith("assume ") else "collect"
        if phase not in self.tasks:
            self.tasks[phase] = self.progress.add_task(phase, total=total)
        self.progress.update(self.tasks[phase], completed=done, total=total, description=f"{phase}: {label}"[:60])


def _summary(inv, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title)
    t.add_column("frame")
    t.add_column("rows", justify="right")
    for name, n in inv.counts().items():
        t.add_row(name, str(n))
    console = Console(stderr=True)
    console.print(t)
    if len(inv.errors):
        console.print(f"[yellow]{len(inv.errors)} error row(s)[/]: see errors.parquet; first ones:")
        for r in inv.errors.head(10).itertuples():
            console.print(
                say(f"  {r.account_id or '-'} {r.operation} {r.code}: {str(r.message)[:140]}"), highlight=False
            )


@app.command("collect")
def collect(
    out: Path = typer.Option(..., "--out", help="snapshot folder to write"),
    profile: str | None = typer.Option(None, "--profile", help="AWS profile (env credentials otherwise)"),
    org: bool = typer.Option(False, "--org", help="every active account of the organization"),
    accounts: list[str] | None = typer.Option(None, "--accounts", help="account ids (repeat or comma-separate)"),
    role_name: str = typer.Option("OrganizationAccountAccessRole", "--role-name", help="role assumed per account"),
    external_id: str | None = typer.Option(None, "--external-id", help="ExternalId for AssumeRole"),
    session_name: str | None = typer.Option(None, "--session-name", help="RoleSessionName (name the case)"),
    role_arn: str | None = typer.Option(None, "--role-arn", help="role (chain, comma-separated) to start from"),
    region: str | None = typer.Option(None, "--region", help="home region"),
    regions: list[str] | None = typer.Option(None, "--regions", help="regions for regional resources"),
    max_workers: int | None = typer.Option(None, "--max-workers", help="parallel calls (1 = serial)"),
    no_service_last_accessed: bool = typer.Option(
        False, "--no-service-last-accessed", help="skip per-principal service-last-accessed jobs"
    ),
) -> None:
    """Collect principals, policies, trusts, keys, credentials, resource policies, Identity Center and
    posture of the caller's account, the given accounts or the whole organization into a snapshot."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from iamkit import inventory
    from iamkit.aws import connect
    from iamkit.cli.output import working

    with working("connecting to AWS (GetCallerIdentity)…"):
        ctx = connect(
            profile, region, role_arn=role_arn, external_id=external_id if role_arn else None, session_name=session_name
        )
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
    ) as progress:
        inv = inventory.collect(
            ctx,
            org=org,
            accounts=_split(accounts) or None,
            role_name=role_name,
            external_id=external_id,
            session_name=session_name,
            regions=_split(regions) or None,
            max_workers=max_workers,
            service_last_accessed=not no_service_last_accessed,
            progress=_Bars(progress),
        )
    path = inv.save(out)
    _summary(inv, f"inventory of {inv.meta.get('accounts_collected')} account(s)")
    typer.echo(str(path))


@app.command("diff")
def diff(
    old: Path = typer.Argument(..., help="older snapshot folder"),
    new: Path = typer.Argument(..., help="newer snapshot folder"),
    fmt: Format = FORMAT_OPT,
    out: Path | None = OUT_OPT,
) -> None:
    """Principals, policies, trusts, keys and resource policies added, removed or changed."""
    from iamkit import inventory
    from iamkit.cli.output import emit

    emit(
        inventory.diff(inventory.Inventory.load(old), inventory.Inventory.load(new)),
        fmt,
        out,
        title=f"drift {old} -> {new}",
    )


@app.command("from-authz")
def from_authz(
    files: list[Path] = typer.Argument(..., help="get-account-authorization-details JSON file(s)"),
    out: Path = typer.Option(..., "--out", help="snapshot folder to write"),
) -> None:
    """Build a snapshot from `aws iam get-account-authorization-details` exports (offline)."""
    from iamkit import inventory

    inv = inventory.from_authorization_details(files)
    path = inv.save(out)
    _summary(inv, f"inventory from {len(files)} file(s)")
    typer.echo(str(path))
