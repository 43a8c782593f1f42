"""`iamkit schedule` (cron lines, systemd units, run the reviews that are due) and `iamkit cases index`."""

from __future__ import annotations

import enum
from pathlib import Path

import typer

from iamkit.cli.output import FORMAT_OPT, OUT_OPT, Format, emit, say

cases_app = typer.Typer(no_args_is_help=True, help="the cases folder: its index of runs")
CASES_OPT = typer.Option(None, "--cases", help="the cases folder (default: $IAMKIT_CASES, else ./cases)")
PLAYBOOKS_OPT = typer.Option([], "--playbooks", help="a folder of your own playbooks (repeatable)")


class Printed(enum.StrEnum):
    cron = "cron"
    systemd = "systemd"
    due = "due"


def _root(cases: Path | None) -> Path:
    from iamkit import config

    return Path(cases) if cases is not None else Path(config.load().cases_dir)


def schedule(
    print_: Printed = typer.Option(
        Printed.due,
        "--print",
        help="cron: crontab lines; systemd: a service "
        "and a timer unit per review; due: each review's last run and whether "
        "it is due",
    ),
    run_due: bool = typer.Option(
        False,
        "--run-due",
        help="run every review whose last completed run is older than its cadence (each into its own case)",
    ),
    cases: Path | None = CASES_OPT,
    playbooks_dir: list[Path] = PLAYBOOKS_OPT,
    params_file: Path | None = typer.Option(
        None, "--params", help="YAML/JSON: playbook id -> its parameters, for reviews that need some (least-privilege)"
    ),
    fmt: Format = FORMAT_OPT,
    out: Path | None = OUT_OPT,
) -> None:
    """The scheduled reviews: print how to schedule them (cron or systemd, times in UTC), or which are due, or
    run the due ones (--run-due; exit 1 if one failed, the others still run)."""
    import pandas as pd

    from iamkit import schedule as sch

    root = _root(cases)
    params = sch.load_params(params_file)
    if run_due:
        _run_due(root, playbooks_dir, params, fmt, out)
        return
    if print_ == Printed.cron:
        typer.echo("\n".join(sch.cron_lines(root, playbooks_dir, params)))
    elif print_ == Printed.systemd:
        for name, text in sch.systemd_units(root, playbooks_dir, params):
            typer.echo(f"# ---- {name}\n{text}")
    else:
        emit(pd.DataFrame(sch.due(root, extra=playbooks_dir, params=params)), fmt, out)


def _run_due(
    root: Path, playbooks_dir: list[Path], params: dict[str, dict[str, str]], fmt: Format, out: Path | None
) -> None:
    import pandas as pd
    from rich.console import Console

    from iamkit import playbook as pb
    from iamkit import schedule as sch
    from iamkit.errors import IamkitError

    con = Console(stderr=True, soft_wrap=True)
    rows = []
    for r in sch.due(root, extra=playbooks_dir, params=params):
        if not r["due"]:
            rows.append({**r, "result": "not due", "case": ""})
            continue
        if r["needs"]:
            rows.append({**r, "result": f"failed: needs parameters {r['needs']} (--params FILE)", "case": ""})
            continue
        con.print(say(("running", "bold"), f" {r['playbook']} ({r['schedule']})"), highlight=False)
        try:
            res = pb.run(
                r["playbook"], params.get(r["playbook"], {}), cases_root=root, playbook_dirs=playbooks_dir, index=False
            )
            rows.append({**r, "result": res.case.status, "case": str(res.case.path)})
        except IamkitError as e:
            rows.append(
                {**r, "result": f"failed: {str(e).splitlines()[0] if str(e) else e.__class__.__name__}", "case": ""}
            )
    pb.rebuild_index(root)
    emit(pd.DataFrame(rows), fmt, out)
    if any(x["result"].startswith("failed") for x in rows):
        raise typer.Exit(1)


@cases_app.command("index")
def cases_index(cases: Path | None = CASES_OPT) -> None:
    """Rebuild the cases folder's index.html: every run with its headline figures, trends across runs of each
    review, links to the reports."""
    from iamkit import caseindex
    from iamkit.errors import NotFound

    root = _root(cases)
    if not root.is_dir():
        raise NotFound(f"cases folder {root} not found")
    typer.echo(str(caseindex.build(root)))


COMMANDS = [schedule]
