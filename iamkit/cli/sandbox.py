"""`iamkit sandbox start|stop|env|status`: the local AWS (moto) + fake Entra, seeded, on 127.0.0.1."""

from __future__ import annotations

import shlex
import signal
import threading
from pathlib import Path

import typer

from iamkit import config
from iamkit.errors import BadInput

app = typer.Typer(no_args_is_help=True, help="Local sandbox: moto + fake Entra on 127.0.0.1, seeded.")
COMMANDS: list = []


def _exports(env: dict[str, str]) -> str:
    return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in sorted(env.items()))


def _default_workdir() -> Path:
    return config.load().home / "sandbox"


@app.command()
def start(
    accounts: int = typer.Option(4, "--accounts", help="member accounts (>= 4)"),
    roles_per_account: int = typer.Option(40, "--roles-per-account", help="roles per account (<= 500)"),
    scenario: str = typer.Option("compromised-access-key", "--scenario", help="incident to script, or 'none'"),
    variant: str = typer.Option(
        "default", "--variant", help="variant of the scenario: default, logging-succeeds or console"
    ),
    seed: int = typer.Option(7, "--seed", help="seed: same seed, same ids"),
    events: int = typer.Option(5000, "--events", help="benign CloudTrail events around the incident"),
    days: int = typer.Option(14, "--days", help="days of CloudTrail"),
    trail_dir: Path = typer.Option(None, "--trail-dir", help="also write the CloudTrail files here"),
    workdir: Path = typer.Option(None, "--workdir", help="where the manifest and certificates go"),
    entra: bool = typer.Option(True, "--entra/--no-entra", help="start the fake Entra authority + Graph"),
    detach: bool = typer.Option(False, "--detach", help="run in the background; stop with: iamkit sandbox stop"),
    replace: bool = typer.Option(False, "--replace", help="stop a running sandbox first instead of refusing"),
) -> None:
    """Start the sandbox and print the `export …` lines that point clients at it."""
    from iamkit.sandbox import daemon, require_extra

    require_extra()
    if events < 0 or days < 1:
        raise BadInput("--events must be >= 0 and --days >= 1")
    args = {
        "accounts": accounts,
        "roles_per_account": roles_per_account,
        "scenario": None if scenario == "none" else scenario,
        "variant": variant,
        "seed": seed,
        "benign_events": events,
        "days": days,
        "local_trail_dir": str(trail_dir) if trail_dir else None,
        "entra": entra,
        "workdir": str(workdir or _default_workdir()),
    }
    from iamkit.sandbox import scenario as scenarios
    from iamkit.sandbox.seed import MAX_ROLES

    if args["scenario"] is not None and args["scenario"] not in scenarios.SCENARIOS:
        raise BadInput(f"unknown scenario {scenario!r}; known: {', '.join(scenarios.SCENARIOS)}, none")
    if args["scenario"]:
        scenarios.check_variant(args["scenario"], variant)
    elif variant != "default":
        raise BadInput(f"--variant {variant} needs a scenario")
    if accounts < 4:
        raise BadInput(f"--accounts must be at least 4 (Security, Prod, Dev, Sandbox), got {accounts}")
    if not 1 <= roles_per_account <= MAX_ROLES:
        raise BadInput(f"--roles-per-account must be between 1 and {MAX_ROLES}, got {roles_per_account}")
    if replace:
        existing = daemon.read_state()
        if existing and daemon.is_sandbox(existing):
            daemon.stop()
    from rich.console import Console

    console = Console(stderr=True)
    if detach:
        with console.status("starting and seeding the sandbox in the background…"):
            state = daemon.spawn(args)
        typer.echo(_exports(daemon.env_of(state)))
        typer.echo(f"# sandbox pid {state['pid']} at {state['endpoint_url']}; manifest {state['manifest']}", err=True)
        return
    existing = daemon.read_state()
    if existing and daemon.is_sandbox(existing):
        raise BadInput(f"a sandbox is already running (pid {existing['pid']}); stop it first: iamkit sandbox stop")
    import iamkit.sandbox

    with console.status("seeding the sandbox…"):
        sb = iamkit.sandbox.start(**args)
    path = daemon.write_state(sb)
    typer.echo(_exports(sb.env()))
    typer.echo(f"# sandbox at {sb.endpoint_url}; manifest {sb.manifest_path}; Ctrl-C to stop", err=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        while not done.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sb.stop()
        path.unlink(missing_ok=True)


@app.command()
def stop() -> None:
    """Stop the sandbox started with `iamkit sandbox start --detach`."""
    from iamkit.sandbox import daemon

    state = daemon.stop()
    typer.echo(f"stopped sandbox pid {state['pid']} ({state['endpoint_url']})")


@app.command()
def env() -> None:
    """Print `export …` lines for the running sandbox (eval "$(iamkit sandbox env)")."""
    from iamkit.sandbox import daemon

    typer.echo(_exports(daemon.env_of(daemon.running_state())))


@app.command()
def status() -> None:
    """Say whether a sandbox is running, where, and whether it answers."""
    from iamkit.sandbox import daemon
    from iamkit.sandbox.server import ping

    state = daemon.running_state()
    ok = ping(state["endpoint_url"])
    typer.echo(f"sandbox pid {state['pid']} at {state['endpoint_url']}: {'answering' if ok else 'NOT answering'}")
    typer.echo(
        f"organization {state['org_id']} (management {state['management_account_id']}, "
        f"{state['accounts']} members, seed {state['seed']}); manifest {state['manifest']}"
    )
    for note in state.get("notes", []):
        typer.echo(f"note: {note}")
