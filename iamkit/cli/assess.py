"""`iamkit assess …`: findings for a snapshot folder or offline authorization-details exports, with
``--fail-on SEVERITY`` for CI gating (exit 1) and OCSF output."""

from __future__ import annotations

from pathlib import Path

import typer

from iamkit.cli.output import FORMAT_OPT, OUT_OPT, Format
from iamkit.errors import IamkitError

SEVERITIES = ("critical", "high", "medium", "low", "info")


class FindingsGate(IamkitError):
    """``--fail-on`` was met: exit status 1."""

    exit_code = 1


def assess(
    snapshot: Path = typer.Argument(None, help="inventory snapshot folder (iamkit inventory collect --out DIR)"),
    authz_details: list[Path] = typer.Option(None, "--authz-details", "-a",
                                             help="aws iam get-account-authorization-details JSON (repeatable)"),
    fmt: Format = FORMAT_OPT,
    out: Path = OUT_OPT,
    fail_on: str = typer.Option(None, "--fail-on", help="exit 1 when a finding is at least this severe "
                                                        "(critical|high|medium|low|info)"),
    rule: list[str] = typer.Option(None, "--rule", "-r", help="only these rule ids or patterns (repeatable)"),
    by_control: bool = typer.Option(False, "--by-control", help="one row per compliance control (CIS AWS "
                                                                 "Foundations v3.0.0 section 1, NIST 800-53 r5 AC)"),
) -> None:
    """Assess IAM risk: over-privilege, unsafe trusts, credentials, exposure, posture, escalation paths."""
    from iamkit.errors import BadInput

    if fail_on is not None and fail_on.lower() not in SEVERITIES:
        raise BadInput(f"--fail-on {fail_on!r}: use one of {', '.join(SEVERITIES)}")
    if (snapshot is None) == (not authz_details):
        raise BadInput("give either a SNAPSHOT_DIR or one or more --authz-details FILE")
    if by_control and Format(fmt) == Format.ocsf:
        raise BadInput("--by-control has no OCSF form: use table, json, csv or parquet")
    from iamkit import assess as assess_mod
    from iamkit.inventory import Inventory, from_authorization_details

    if snapshot is not None:
        if not Path(snapshot).is_dir():
            raise BadInput(f"{snapshot}: not a snapshot folder")
        inv = Inventory.load(snapshot)
    else:
        inv = from_authorization_details(list(authz_details))
    findings = assess_mod.run(inv, rules=rule or None)
    if by_control:
        from iamkit.cli.output import emit

        report = assess_mod.by_control(findings, rules=rule or None)
        failed = int((report["status"] == "fail").sum()) if len(report) else 0
        emit(report, fmt, out, title=f"{failed} of {len(report)} controls with findings")
    elif Format(fmt) == Format.ocsf:
        from iamkit.assess.ocsf import dumps

        text = dumps(findings)
        if out is None:
            typer.echo(text)
        else:
            Path(out).write_text(text + "\n")
    else:
        from iamkit.cli.output import emit

        shown = findings
        if Format(fmt) == Format.table and out is None:
            shown = findings[["severity", "rule_id", "account_id", "principal_arn", "resource_arn", "detail"]]
        emit(shown, fmt, out, title=f"{len(findings)} findings")
    if fail_on is not None:
        limit = SEVERITIES.index(fail_on.lower())
        hits = sum(1 for s in findings["severity"].dropna() if s in SEVERITIES and SEVERITIES.index(s) <= limit)
        if hits:
            # an IamkitError (exit_code 1) rather than typer.Exit: iamkit.cli.main runs click with
            # standalone_mode=False, where a raised Exit becomes a return value and the status would be lost
            raise FindingsGate(f"{hits} finding(s) at or above {fail_on.lower()} (--fail-on)")


COMMANDS = [assess]
