"""The ``iamkit`` command line: one typer app with a sub-app per noun (each in its own module)."""

from __future__ import annotations

import sys

import typer

from iamkit.errors import IamkitError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Investigation kit for AWS identity incidents.")


def _mount() -> None:
    from iamkit.cli import assess as assess_cli
    from iamkit.cli import case, entra, inventory, policy, run, sandbox, trail

    app.add_typer(sandbox.app, name="sandbox")
    app.add_typer(inventory.app, name="inventory")
    app.add_typer(policy.app, name="policy")
    app.add_typer(trail.app, name="trail")
    app.add_typer(entra.app, name="entra")
    app.add_typer(case.app, name="case")
    app.add_typer(run.remediate_app, name="remediate")
    for cmd in run.COMMANDS + entra.COMMANDS + assess_cli.COMMANDS:
        app.command(cmd.__name__.rstrip("_").replace("_", "-"))(cmd)


_mount()


def main(argv: list[str] | None = None) -> None:
    """Entry point: clear one-line errors for bad input (exit 2), never a traceback for them."""
    from rich.console import Console

    try:
        rc = app(args=argv, standalone_mode=False)  # click returns typer.Exit's code here
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except IamkitError as e:  # one line, and the message (which may quote hostile file names) is not markup
        from rich.markup import escape

        Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(str(e))}", highlight=False)
        sys.exit(e.exit_code)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        sys.exit(1)
    except Exception as e:  # click usage errors
        import click

        if isinstance(e, click.exceptions.ClickException):
            e.show()
            sys.exit(2)
        raise
    sys.exit(0)
