"""`iamkit run`, `iamkit demo`, `iamkit playbooks` (`iamkit remediate …` is in ``iamkit.cli.remediate``)."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from iamkit.cli.output import FORMAT_OPT, OUT_OPT, Format, emit, say
from iamkit.errors import BadInput
from iamkit.escape import visible

KEY_FILE_OPT = typer.Option(None, "--key-file", help="key for the keyed case seal (default: $IAMKIT_CASE_KEY)")
PLAYBOOKS_OPT = typer.Option(
    [],
    "--playbooks",
    help="a folder of your own playbooks, searched after the built-in "
    "ones (repeatable; also the IAMKIT_PLAYBOOKS setting)",
)


def _params(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in pairs:
        if "=" not in p:
            raise BadInput(f"parameter {p!r} must be key=value")
        k, v = p.split("=", 1)
        k = k.strip()
        if k in out:
            raise BadInput(f"parameter {k} is given more than once")
        out[k] = v
    return out


def _print_result(res) -> None:
    from rich.console import Console

    con = Console(soft_wrap=True)
    con.print(say(("report:", "bold"), " ", res.report), highlight=False)
    for line in res.summary.get("headline", [])[:5]:
        con.print(say("  • ", line), highlight=False)


def run(
    playbook: str = typer.Argument(
        None,
        help="playbook id (built-in first) or path to a .yml file; with "
        "--from-finding, the one the finding's triggers pick when left out",
    ),
    param: list[str] = typer.Option([], "--param", "-p", help="key=value, repeatable (wins over a finding's fields)"),
    case: Path | None = typer.Option(
        None, "--case", help="case folder (default: $IAMKIT_CASES/<new id>, IAMKIT_CASES defaulting to ./cases)"
    ),
    from_finding: Path | None = typer.Option(
        None,
        "--from-finding",
        help="a GuardDuty finding (GetFindings or "
        "EventBridge), an iamkit detection row (JSON or OCSF) or an "
        "EventBridge CloudTrail event: picks the playbook, fills its "
        "parameters",
    ),
    playbooks_dir: list[Path] = PLAYBOOKS_OPT,
    key_file: Path | None = KEY_FILE_OPT,
) -> None:
    """Run a playbook's notebooks into a case folder; print the playbook file, the report path and a summary."""
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import Progress

    from iamkit import playbook as pb

    params = _params(param)
    con = Console(soft_wrap=True)
    trigger = None
    if from_finding is not None:
        from iamkit import triggers

        finding = triggers.read(from_finding)
        chosen = pb.load(playbook, playbooks_dir) if playbook else triggers.choose(finding, playbooks_dir)
        mapped = triggers.parameters(finding, chosen)
        con.print(say(("finding:", "bold"), " ", finding.describe()), highlight=False)
        con.print(
            say(("mapped:", "bold"), " ", ", ".join(f"{k}={v}" for k, v in mapped.items()) or "nothing"),
            highlight=False,
        )
        params = {**mapped, **params}
        trigger = triggers.record(finding, mapped, from_finding)
        path = chosen.path
        playbook = playbook or chosen.id
    elif not playbook:
        raise BadInput("name a playbook (iamkit playbooks lists them) or give --from-finding FILE")
    else:
        path = pb.locate(playbook, playbooks_dir)
    con.print(f"[bold]playbook:[/] {escape(str(path))}", highlight=False)
    for other in pb.shadowed(playbook, playbooks_dir):
        con.print(
            f"  (not {escape(str(other))}: a built-in playbook has that name; give the file's path to run it)",
            highlight=False,
        )
    with Progress(transient=True) as progress:
        task = progress.add_task("starting", total=None)

        def on_step(i: int, n: int, title: str) -> None:
            progress.update(task, total=n, completed=i - 1, description=f"step {i}/{n}: {title}")

        res = pb.run(path, params, case_dir=case, on_step=on_step, key_file=key_file, trigger=trigger)
    _print_result(res)


def playbook_rows(playbooks_dir: list[Path] | None = None) -> list[dict[str, str]]:
    """The playbook table (``iamkit playbooks`` and the README's): id, kind, what it answers, parameters
    (required ones starred), cadence, triggers."""
    from iamkit import playbook as pb

    rows = []
    for _, path in sorted(pb.available(playbooks_dir).items()):
        p = pb.load(path)
        trig = p.triggers or {}
        rows.append(
            {
                "id": p.id,
                "kind": p.kind,
                "answers": p.title,
                "parameters": ", ".join(f"{x.name}{'*' if x.required else ''}" for x in p.parameters),
                "cadence": p.schedule or "",
                "triggers": "; ".join(
                    f"{k}: {len(trig[k])}" for k in ("guardduty", "detections", "cloudtrail") if trig.get(k)
                ),
            }
        )
    return rows


def playbooks(
    fmt: Format = FORMAT_OPT,
    out: Path | None = OUT_OPT,
    playbooks_dir: list[Path] = PLAYBOOKS_OPT,
    markdown: bool = typer.Option(False, "--markdown", help="the table as markdown (the README's)"),
) -> None:
    """List the playbooks (built-in, then the folders named with --playbooks or IAMKIT_PLAYBOOKS): id, kind, what
    each answers, its parameters (* required), its cadence and how many trigger types start it."""
    import pandas as pd

    rows = playbook_rows(playbooks_dir)
    if markdown:
        typer.echo(markdown_table(rows))
        return
    emit(pd.DataFrame(rows), fmt, out)


def markdown_table(rows: list[dict[str, str]]) -> str:
    """Rows as a markdown table, ``|`` escaped in cells."""
    cols = ["id", "kind", "answers", "parameters", "cadence", "triggers"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(visible(r[c]).replace("|", "\\|") or "—" for c in cols) + " |")
    return "\n".join(lines)


def demo(
    case: Path | None = typer.Option(None, "--case", help="case folder"),
    events: int = typer.Option(5000, help="benign CloudTrail events around the incident"),
) -> None:
    """Start the sandbox, run the compromised-access-key playbook on its incident, print the report."""
    from rich.console import Console

    from iamkit import playbook as pb
    from iamkit import sandbox

    sandbox.require_extra()
    con = Console()
    with con.status("starting the local sandbox (AWS on 127.0.0.1 + fake Entra)…"):
        sb = sandbox.start(benign_events=events)
    saved = dict(os.environ)
    try:
        os.environ.update(sb.env())
        inc = sb.org.incident
        con.print(f"sandbox up at {sb.endpoint_url}; incident: leaked key {inc.leaked_access_key_id}", highlight=False)
        con.print(f"[bold]playbook:[/] {pb.locate('compromised-access-key')}", highlight=False)
        with con.status("running playbook compromised-access-key (4 notebooks)…"):
            res = pb.run("compromised-access-key", {"access_key_id": inc.leaked_access_key_id}, case_dir=case)
        _print_result(res)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        sb.stop()


COMMANDS = [run, demo, playbooks]
