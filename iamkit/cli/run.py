"""`iamkit run`, `iamkit demo`, `iamkit remediate …`."""

from __future__ import annotations

import typer

remediate_app = typer.Typer(no_args_is_help=True, help="remediation plans: plan, apply, undo")
COMMANDS: list = []
