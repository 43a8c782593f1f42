"""`iamkit assess …`: findings for a snapshot folder or offline authorization-details exports, with
``--fail-on SEVERITY`` for CI gating (exit 1) and OCSF output."""

from __future__ import annotations

from pathlib import Path

import typer

from iamkit.cli.output import FORMAT_OCSF_OPT, OUT_OPT, Format, fail_on_gate, fail_on_option


def assess(
    snapshot: Path = typer.Argument(None, help="inventory snapshot folder (iamkit inventory collect --out DIR)"),
    authz_details: list[Path] = typer.Option(
        None, "--authz-details", "-a", help="aws iam get-account-authorization-details JSON (repeatable)"
    ),
    fmt: Format = FORMAT_OCSF_OPT,
    out: Path = OUT_OPT,
    fail_on: str = fail_on_option("finding"),
    rule: list[str] = typer.Option(None, "--rule", "-r", help="only these rule ids or patterns (repeatable)"),
    by_control: bool = typer.Option(
        False,
        "--by-control",
        help="one row per compliance control (CIS AWS Foundations v3.0.0 section 1, NIST 800-53 r5 AC)",
    ),
) -> None:
    """Assess IAM risk: over-privilege, unsafe trusts, credentials, exposure, posture, escalation paths."""
    from iamkit.errors import BadInput

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
    fail_on_gate(fail_on, findings["severity"].dropna(), "finding")


COMMANDS = [assess]
