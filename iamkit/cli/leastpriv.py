"""`iamkit leastpriv PRINCIPAL… --db FILE | --athena --database DB --window 90d`: the least-privilege policy each
principal's observed usage needs, proven by replay; with several principals, a canary-first roll-out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from iamkit.cli.output import FORMAT_OPT, OUT_OPT, Format, say


def leastpriv(
    principals: list[str] = typer.Argument(..., help="role or user ARN, or permission-set/NAME (repeatable)"),
    db: Path = typer.Option(None, "--db", help="DuckDB file of the trail store"),
    window: str = typer.Option("90d", "--window", help="how far back from --until (or now): 90d, 36h, or a date"),
    until: str = typer.Option(None, "--until", help="the window's end (default: now)"),
    holdback: str = typer.Option(
        None, "--holdback", help="the window's last span kept out of generation and replayed as a canary: 7d"
    ),
    snapshot: Path = typer.Option(
        None,
        "--inventory",
        help="inventory snapshot folder: boundaries, SCPs, resource policies and today's permissions for the proof",
    ),
    max_resources: int = typer.Option(
        10, "--max-resources", help="generalise an action's resources past this many (0: never)"
    ),
    policy_out: Path = typer.Option(None, "--policy-out", help="write the candidate policy document(s) as JSON"),
    result_out: Path = typer.Option(None, "--result", help="write the whole answer (usage, candidate, proof) as JSON"),
    rollout_out: Path = typer.Option(None, "--rollout", help="write the canary-first roll-out plan as JSON"),
    strict: bool = typer.Option(False, "--strict", help="exit 1 unless every principal's proof is clean"),
    athena: bool = typer.Option(False, "--athena", help="read the calls from Athena (needs --database)"),
    database: str = typer.Option(None, "--database", help="Athena database holding the CloudTrail events view"),
    workgroup: str = typer.Option(None, "--workgroup", help="Athena workgroup"),
    output_location: str = typer.Option(None, "--output-location", help="s3:// for Athena results"),
    view: str = typer.Option("events", "--view", help="the Athena events view"),
    profile: str = typer.Option(None, "--profile", help="AWS profile for Athena"),
    region: str = typer.Option(None, "--region", help="AWS region for Athena"),
    fmt: Format = FORMAT_OPT,
    out: Path = OUT_OPT,
) -> None:
    """Least privilege from observed usage: candidate policy per principal, proven by replay."""
    from iamkit.cli.trail import _athena_target, _open_existing
    from iamkit.errors import BadInput
    from iamkit.leastpriv import Principal, generate
    from iamkit.window import Window

    parsed = [Principal.parse(p) for p in principals]
    if max_resources < 0:
        raise BadInput("--max-resources must be 0 or more")
    target = _athena_target(athena, database, workgroup, output_location, view, profile, region)
    if (db is None) == (target is None):
        raise BadInput("give --db FILE or --athena --database DB (one of them)")
    w = Window.parse(window, until, names=("--window", "--until"), end_now=True)
    inventory = None
    if snapshot is not None:
        from iamkit.inventory import Inventory

        if not Path(snapshot).is_dir():
            raise BadInput(f"{snapshot}: not an inventory snapshot folder")
        inventory = Inventory.load(snapshot)
    backend = _open_existing(db) if db is not None else target.connect()
    try:
        results = [
            generate(p, backend, window=w, holdback=holdback, inventory=inventory, max_resources=max_resources)
            for p in parsed
        ]
    finally:
        close = getattr(backend, "close", None)
        if close is not None:
            close()
    _report(results)
    if policy_out is not None:
        docs: Any = [r.candidate.documents for r in results] if len(results) > 1 else results[0].candidate.documents
        _write(policy_out, docs[0] if len(results) == 1 and len(docs) == 1 else docs)
    if result_out is not None:
        _write(result_out, [r.to_dict() for r in results] if len(results) > 1 else results[0].to_dict())
    if rollout_out is not None:
        _write(rollout_out, rollout_document(results, inventory))
    _emit(results, fmt, out)
    if strict and not all(_clean(r) for r in results):
        from iamkit.cli.output import FailOnReached

        raise FailOnReached("a proof is not clean (uncovered calls or canary denials): --strict")


def _clean(r: Any) -> bool:
    p = r.proof
    return p.coverage >= 1.0 and (p.canary is None or not len(p.canary_denied)) and r.candidate.valid


def _report(results: list[Any]) -> None:
    from rich.console import Console

    con = Console(stderr=True, width=200)
    for r in results:
        s = r.proof.summary()
        con.print(
            say(
                f"{r.usage.principal.label}: {r.usage.events} calls, {len(r.usage.uses)} authorizations, "
                f"{len(r.candidate.actions)} actions in {len(r.candidate.statements)} statements "
                f"({r.candidate.size} chars, {len(r.candidate.documents)} document(s)); coverage "
                f"{s['covered']}/{s['replayed']}"
                + (
                    f"; canary would deny {s['canary_would_deny']} of {s['canary_calls']}"
                    if "canary_calls" in s
                    else ""
                )
                + (f"; would remove {s['removed']} action(s)" if "removed" in s else "")
            )
        )
        for note in (
            *r.candidate.notes,
            *r.proof.notes,
            *([r.usage.last_accessed_note] if r.usage.last_accessed_note else []),
        ):
            con.print(say("  note: ", note))


def _emit(results: list[Any], fmt: Format, out: Path | None) -> None:
    import pandas as pd

    from iamkit.cli.output import emit

    frames = []
    for r in results:
        df = r.candidate.frame()
        df.insert(0, "principal", r.usage.principal.label)
        frames.append(df)
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    emit(df, fmt, out, title=f"{len(df)} statement(s)")


def _write(path: Path, data: Any) -> None:
    from iamkit.files import write_atomic

    write_atomic(Path(path), json.dumps(data, indent=1, default=str) + "\n")


def rollout_document(results: list[Any], inventory: Any) -> dict[str, Any]:
    """The staged roll-out (``iamkit.leastpriv.rollout``) with each stage rendered as a remediation plan of the
    response layer (dry run: nothing applied; the plan's hash is what an approval names)."""
    from iamkit.leastpriv.rollout import stage
    from iamkit.respond import Action, Plan

    ro = stage(results, inventory)
    doc = ro.to_dict()
    doc["plans"] = {}
    for st in ro.stages:
        if st.name == "held" or not st.changes:
            continue
        actions = [
            Action(
                "put_least_privilege_policy",
                c.account_id,
                c.principal,
                {"candidate": c.candidate, "current": c.current},
                f"least privilege from observed usage (coverage {c.coverage:.0%}, {c.calls} calls)",
            )
            for c in st.changes
        ]
        plan = Plan(f"leastpriv-{ro.hash}-{st.name}", actions, created=ro.created)
        doc["plans"][st.name] = {"hash": plan.hash, "plan": plan.to_dict()}
    return doc


COMMANDS = [leastpriv]
