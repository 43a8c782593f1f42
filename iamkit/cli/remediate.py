"""`iamkit remediate plan|approve|apply|undo`: plans (dry run, from a case's key trace or from findings and
detections), approvals (who, when, where; optionally two people), apply (needs the plan hash), undo."""

from __future__ import annotations

from pathlib import Path

import typer

from iamkit.cli.output import FORMAT_OPT, OUT_OPT, Format, emit
from iamkit.errors import BadInput
from iamkit.escape import visible

remediate_app = typer.Typer(
    no_args_is_help=True, help="remediation: plan (dry run), approve, apply (needs --approve), undo"
)
KEY_FILE_OPT = typer.Option(None, "--key-file", help="key for the keyed case seal (default: $IAMKIT_CASE_KEY)")
APPROVER_OPT = typer.Option(
    None,
    "--approver",
    help="who approves (default: the IAM caller from GetCallerIdentity, else $USER); a name iamkit cannot check",
)


def _warn(lines: list[str]) -> None:
    from rich.console import Console
    from rich.markup import escape

    for line in lines:
        Console(stderr=True).print(f"[yellow]warning:[/] {escape(line)}", highlight=False)


def _approver(name: str | None) -> dict:
    from iamkit.respond.approval import identity
    from iamkit.respond.sessions import caller_arn

    return identity(name, caller=None if name else caller_arn)


def _show(plan, fmt: Format, out: Path | None, frame=None) -> None:
    emit(
        frame if frame is not None else plan.frame(),
        fmt,
        out,
        title=f"plan {plan.hash} (dry run; apply with --approve {plan.hash})",
    )
    if fmt == Format.table and out is None:
        typer.echo(visible("\n".join(plan.diff())))
        if plan.irreversible:
            typer.echo(
                f"irreversible step(s) {', '.join(map(str, plan.irreversible))}: apply needs --allow-irreversible"
            )


@remediate_app.command("plan")
def remediate_plan(
    case_dir: Path | None = typer.Argument(
        None, help="case folder: show its plan, or (with --from-findings) write the new plan into it"
    ),
    from_findings: list[Path] = typer.Option(
        [], "--from-findings", help="assess findings or hunt detections (JSON, CSV, Parquet, OCSF); repeatable"
    ),
    cases_dir: Path | None = typer.Option(
        None,
        "--cases-dir",
        help="where a new case is made when no CASE_DIR is given (default $IAMKIT_CASES or ./cases)",
    ),
    db: Path | None = typer.Option(
        None,
        "--db",
        help="trail store: the events detections name, and who really assumed a role whose trust is restricted",
    ),
    snapshot: Path | None = typer.Option(
        None, "--snapshot", help="inventory snapshot: the blast radius of each action (policy engine)"
    ),
    trust_principal: list[str] = typer.Option(
        [], "--trust-principal", help="a role or user ARN that keeps access when a trust is restricted"
    ),
    org_id: str | None = typer.Option(None, "--org-id", help="aws:PrincipalOrgID added to restricted trusts"),
    fmt: Format = FORMAT_OPT,
    out: Path | None = OUT_OPT,
    key_file: Path | None = KEY_FILE_OPT,
) -> None:
    """Show a case's remediation plan (dry run), its diff and the hash that approves it; or, with
    --from-findings, propose a plan for findings and detections (each action with its rationale and blast
    radius) into CASE_DIR or a new case. A case that does not verify is refused (exit 1)."""
    from iamkit.case import Case
    from iamkit.respond import Plan

    if not from_findings:
        if case_dir is None:
            raise BadInput("name a case folder, or --from-findings FILE to propose a plan")
        c = Case.open(case_dir)
        c.require_intact(key_file=key_file)
        _show(Plan.from_dict(c.load_json("remediation-plan")), fmt, out)
        return
    _plan_from_findings(case_dir, from_findings, cases_dir, db, snapshot, trust_principal, org_id, fmt, out, key_file)


def _propose_into(c, rows, trail, inventory, trust_principal, org_id):
    """Propose, read the before-state, and keep plan, proposals and diff in case ``c``."""
    from iamkit.respond import capture_before
    from iamkit.respond.proposals import propose
    from iamkit.respond.sessions import default_clients

    got = propose(
        rows,
        c.id,
        clients=default_clients(),
        trail=trail,
        inventory=inventory,
        trust_principals=trust_principal,
        org_id=org_id,
    )
    capture_before(got.plan, default_clients())
    c.save_json("remediation-plan", got.plan.to_dict())
    c.save_json("remediation-proposals", got.to_dict())
    (c.evidence / "remediation-plan.diff").write_text("\n".join(got.plan.diff()) + "\n")
    if got.plan.actions:
        from iamkit.respond.notify import notify_case

        _warn(notify_case(c, got.plan))  # what was found and what awaits approval
    return got


def _plan_from_findings(case_dir, files, cases_dir, db, snapshot, trust_principal, org_id, fmt, out, key_file):
    import contextlib

    from iamkit import config
    from iamkit.case import Case
    from iamkit.respond.proposals import read_rows

    rows = [r for f in files for r in read_rows(f)]
    inventory = None
    if snapshot is not None:
        from iamkit.inventory import Inventory

        inventory = Inventory.load(snapshot)
    with contextlib.ExitStack() as stack:
        trail = None
        if db is not None:
            import iamkit.trail

            if not db.exists():
                raise BadInput(f"--db {db}: no such trail store")
            trail = stack.enter_context(iamkit.trail.open(db, read_only=True))
        if case_dir is not None:
            c = stack.enter_context(
                Case.open_for_write(case_dir, actor="remediate plan --from-findings", key_file=key_file)
            )
            got = _propose_into(c, rows, trail, inventory, trust_principal, org_id)
        else:
            c = Case.create(
                cases_dir or config.load().cases_dir,
                "remediation",
                {"from_findings": [str(f) for f in files]},
                key_file=key_file,
            )
            try:
                got = _propose_into(c, rows, trail, inventory, trust_principal, org_id)
            except BaseException as e:
                c.finish("failed", error=f"{e.__class__.__name__}: {e}"[:300])
                raise
            c.finish()
        path = c.path
    _show(got.plan, fmt, out, got.frame())
    typer.echo(visible(f"case: {path}"), err=True)
    if got.unhandled:
        _warn([f"no automatic response for: {', '.join(got.unhandled)}"])
    _warn([e["message"] for e in got.errors])


@remediate_app.command("approve")
def remediate_approve(
    case_dir: Path = typer.Argument(...),
    approve: str = typer.Option(None, "--approve", help="the plan hash shown by `remediate plan`"),
    approver: str = APPROVER_OPT,
    key_file: Path | None = KEY_FILE_OPT,
) -> None:
    """Record a first approval of the case's plan (nothing is changed): with two-person approval on, someone
    else's `remediate apply` of the same plan hash completes it."""
    from iamkit.case import Case
    from iamkit.respond import Plan
    from iamkit.respond import approve as approve_plan

    with Case.open_for_write(case_dir, actor=f"remediate approve {approve}", key_file=key_file) as c:
        plan = Plan.from_dict(c.load_json("remediation-plan"))
        if approve != plan.hash:
            raise BadInput(f"not approved: --approve must be the plan hash {plan.hash} (got {approve or 'none'})")
        e = approve_plan(plan, c, _approver(approver))
    typer.echo(
        visible(
            f"plan {plan.hash} approved by {e['approver']} ({e['approver_source']}) at "
            f"{e['approved_at']}; nothing applied"
        )
    )


@remediate_app.command("apply")
def remediate_apply(
    case_dir: Path = typer.Argument(...),
    approve: str = typer.Option(None, "--approve", help="the plan hash shown by `remediate plan`"),
    approver: str = APPROVER_OPT,
    allow_irreversible: bool = typer.Option(
        False,
        "--allow-irreversible",
        help="also apply the steps that cannot be undone (console password removal, Entra session revocation)",
    ),
    two_person: bool | None = typer.Option(
        None,
        "--two-person/--one-person",
        help="destructive steps need an earlier approval by someone else (default: $IAMKIT_TWO_PERSON_APPROVAL)",
    ),
    secret_out: Path | None = typer.Option(
        None,
        "--secret-out",
        help="a new file OUTSIDE the case for a rotated key's secret (mode 0600); default: shown once on this terminal",
    ),
    confirm: bool = typer.Option(
        False, "--confirm", help="the rotated key's replacement works: deactivate the old key now"
    ),
    notify: bool = typer.Option(
        True,
        "--notify/--no-notify",
        help="tell the configured receivers (Slack, Teams, SNS, PagerDuty: IAMKIT_* settings) what was done",
    ),
    fmt: Format = FORMAT_OPT,
    out: Path | None = OUT_OPT,
    key_file: Path | None = KEY_FILE_OPT,
) -> None:
    """Apply the case's plan as a new run: needs --approve PLAN_HASH; the case is verified first (exit 1 if it
    was changed outside iamkit); each step journals its before-state first; changes already in place are left.
    Exit 1 when a step failed or did not verify; a step waiting for --confirm is reported, not failed."""
    import pandas as pd

    from iamkit.case import Case
    from iamkit.respond import Plan, apply
    from iamkit.respond.handover import to_file, to_terminal
    from iamkit.respond.sessions import default_clients

    if not approve:
        raise BadInput("not applied: pass --approve with the plan hash shown by `iamkit remediate plan`")
    with Case.open_for_write(case_dir, actor=f"remediate apply {approve}", key_file=key_file) as c:
        _warn(c.read_journal()[1])
        plan = Plan.from_dict(c.load_json("remediation-plan"))
        hand_over = None
        if any(a.kind == "create_access_key" for a in plan.actions):
            hand_over = to_file(secret_out, c.path) if secret_out else _terminal_or_none(to_terminal)
        rows = apply(
            plan,
            c,
            default_clients(),
            approve=approve,
            approver=_approver(approver),
            allow_irreversible=allow_irreversible,
            two_person=two_person,
            hand_over=hand_over,
            confirm=(lambda a: True) if confirm else None,
        )
        if notify:
            from iamkit.respond.notify import notify_case

            _warn(notify_case(c, plan, rows))
    emit(pd.DataFrame(rows), fmt, out)
    if any(r["pending"] for r in rows):
        typer.echo("waiting: the old key is deactivated once you run apply again with --confirm", err=True)
    if any(not r["verified"] and not r["pending"] for r in rows):
        raise typer.Exit(1)


def _terminal_or_none(to_terminal):
    try:
        return to_terminal()
    except BadInput:  # the step fails with its own message (somewhere for the secret to go)
        return None


@remediate_app.command("undo")
def remediate_undo(
    case_dir: Path = typer.Argument(...),
    run_id: str = typer.Option(
        None, "--run", help="the run to undo (default: the newest one with changes not yet undone)"
    ),
    fmt: Format = FORMAT_OPT,
    out: Path | None = OUT_OPT,
    key_file: Path | None = KEY_FILE_OPT,
) -> None:
    """Restore exactly the before-state one apply run journalled, newest step first (the case is verified
    first). A step that cannot be undone says why (exit 1)."""
    import pandas as pd

    from iamkit.case import Case
    from iamkit.respond import undo
    from iamkit.respond.sessions import default_clients

    with Case.open_for_write(case_dir, actor="remediate undo", key_file=key_file) as c:
        _warn(c.read_journal()[1])
        rows = undo(c, default_clients(), run=run_id)
    emit(pd.DataFrame(rows), fmt, out)
    if any(not r["restored"] for r in rows):
        raise typer.Exit(1)
