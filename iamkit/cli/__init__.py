"""The ``iamkit`` command line: one typer app with a sub-app per noun (each in its own module)."""

from __future__ import annotations

import os
import sys

import typer

from iamkit.errors import IamkitError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Investigation kit for AWS identity incidents.",
)


def _mount() -> None:
    from iamkit.cli import assess as assess_cli
    from iamkit.cli import (
        autorespond,
        case,
        data,
        entra,
        inventory,
        leastpriv,
        policy,
        remediate,
        run,
        sandbox,
        schedule,
        trail,
    )

    app.add_typer(sandbox.app, name="sandbox")
    app.add_typer(inventory.app, name="inventory")
    app.add_typer(policy.app, name="policy")
    app.add_typer(trail.app, name="trail")
    app.add_typer(entra.app, name="entra")
    app.add_typer(case.app, name="case")
    app.add_typer(data.app, name="data")
    app.add_typer(remediate.remediate_app, name="remediate")
    app.add_typer(autorespond.app, name="autorespond")
    app.add_typer(schedule.cases_app, name="cases")
    for cmd in run.COMMANDS + entra.COMMANDS + assess_cli.COMMANDS + schedule.COMMANDS + leastpriv.COMMANDS:
        app.command(cmd.__name__.rstrip("_").replace("_", "-"))(cmd)


_mount()


def _usage_error_types() -> tuple[type[BaseException], ...]:
    """Click's usage errors: the pinned typer raises its own bundled copy of click's classes, not click's."""
    types: list[type[BaseException]] = []
    for mod in ("typer._click.exceptions", "click.exceptions"):
        try:
            types.append(__import__(mod, fromlist=["ClickException"]).ClickException)
        except (ImportError, AttributeError):
            pass
    return tuple(types)


def _abort_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [typer.Abort]
    for mod in ("typer._click.exceptions", "click.exceptions"):
        try:
            types.append(__import__(mod, fromlist=["Abort"]).Abort)
        except (ImportError, AttributeError):
            pass
    return tuple(types)


def _say(message: str) -> None:
    """One line on stderr; the message is printed as text (values from evidence are never markup)."""
    from rich.console import Console

    from iamkit.cli.output import say

    Console(stderr=True, soft_wrap=True).print(say(("error:", "bold red"), " ", message), highlight=False)


def main(argv: list[str] | None = None) -> None:
    """Entry point: one clear line for every error (exit 2 bad input, 1 failed check), never a traceback.

    An exception no layer turned into an ``IamkitError`` is a bug: it is reported as one ``internal error`` line
    (exit 1) naming where it happened; ``IAMKIT_DEBUG=1`` re-raises it to show the traceback.
    """
    usage_errors, aborts = _usage_error_types(), _abort_types()
    try:
        rc = app(args=argv, standalone_mode=False)  # click returns typer.Exit's code here
        if isinstance(rc, int) and rc:
            sys.exit(rc if rc in (1, 2) else 1)
    except IamkitError as e:
        _say(str(e))
        sys.exit(e.exit_code)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except aborts:
        sys.exit(1)
    except usage_errors as e:
        e.show()  # click's own usage text (exit 2)
        sys.exit(2)
    except KeyboardInterrupt:
        _say("interrupted")
        sys.exit(1)
    except OSError as e:  # a path the user named cannot be read or written
        where = f": {e.filename}" if getattr(e, "filename", None) else ""
        _say(f"{e.strerror or e.__class__.__name__}{where}")
        sys.exit(2)
    except Exception as e:
        if os.environ.get("IAMKIT_DEBUG"):
            raise
        tb = e.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        where = f" at {tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}" if tb else ""
        _say(
            f"internal error: {e.__class__.__name__}: {str(e)[:300]}{where} "
            "(a bug: please report it; IAMKIT_DEBUG=1 shows the traceback)"
        )
        sys.exit(1)
    sys.exit(0)
