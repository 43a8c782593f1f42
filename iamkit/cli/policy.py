"""`iamkit policy …` commands: eval, who-can, what-can, validate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from iamkit.cli.output import FORMAT_OPT, OUT_OPT, Format, emit, fail_on_gate, fail_on_option
from iamkit.errors import BadInput
from iamkit.severity import VALIDATION as VALIDATION_SCALE

app = typer.Typer(no_args_is_help=True, help="Evaluate, question and validate IAM policies.")
COMMANDS: list = []

_POLICY_ARGS = (
    "identity_policies",
    "resource_policy",
    "permission_boundaries",
    "scps",
    "rcps",
    "session_policies",
    "endpoint_policies",
)


def _read_json(path: Path) -> Any:
    from iamkit import jsontext

    return jsontext.read(path)


def _context(pairs: list[str] | None) -> dict[str, str]:
    """``--context KEY=VALUE`` options as a request context."""
    out: dict[str, str] = {}
    for p in pairs or []:
        key, sep, value = p.partition("=")
        if not sep or not key:
            raise BadInput(f"--context {p!r}: expected KEY=VALUE, e.g. aws:SourceIp=203.0.113.9")
        out[key.strip()] = value.strip()
    return out


CONTEXT_OPT = typer.Option(None, "--context", help="request context KEY=VALUE (repeatable)")


def _load_inventory(snapshot: Path) -> Any:
    from iamkit.inventory import Inventory

    return Inventory.load(snapshot)


def eval_request(spec: dict[str, Any]):
    """Run one evaluation from a REQUEST.json object; returns (Decision, rows frame)."""
    import pandas as pd

    from iamkit.policy import evaluate

    if not isinstance(spec, dict):
        raise BadInput("REQUEST.json must hold a JSON object")
    request = spec.get("request")
    if request is None:  # flat form: request fields beside the policies
        request = {k: v for k, v in spec.items() if k not in _POLICY_ARGS and k != "mode"}
    kwargs = {k: spec[k] for k in _POLICY_ARGS if k in spec}
    decision = evaluate(request, mode=spec.get("mode", "strict"), explain=spec.get("explain", True), **kwargs)
    base = {
        "result": decision.result,
        "blocked_by": ",".join(decision.blocked_by),
        "unknown_keys": ",".join(decision.unknown_keys),
    }
    rows = [
        {
            **base,
            "policy_type": e.policy_type,
            "policy": e.policy,
            "statement": e.statement,
            "effect": e.effect,
            "applied": {True: "yes", False: "no", None: "unknown"}[e.applied],
            "reason": e.reason,
        }
        for e in decision.explain
    ]
    if not rows:
        rows = [
            {
                **base,
                "policy_type": None,
                "policy": None,
                "statement": None,
                "effect": None,
                "applied": None,
                "reason": "no statement covers the action",
            }
        ]
    return decision, pd.DataFrame(rows)


@app.command("eval")
def eval_(
    request_file: Path = typer.Argument(..., help="JSON: {request: {...}, identity_policies: [...], ...}"),
    fmt: Format = FORMAT_OPT,
    out: Path = OUT_OPT,
) -> None:
    """Decide one request like AWS and explain every statement that mattered."""
    decision, df = eval_request(_read_json(request_file))
    emit(
        df,
        fmt,
        out,
        title=f"{decision.result}" + (f" (blocked by {', '.join(decision.blocked_by)})" if decision.blocked_by else ""),
    )


@app.command("who-can")
def who_can(
    action: str = typer.Argument(..., help="service:Action"),
    resource: str = typer.Argument("*", help="resource ARN (or *)"),
    snapshot: Path = typer.Option(..., "--snapshot", help="inventory snapshot folder"),
    mode: str = typer.Option("discovery", "--mode", help="strict|discovery"),
    context: list[str] = CONTEXT_OPT,
    fmt: Format = FORMAT_OPT,
    out: Path = OUT_OPT,
) -> None:
    """Principals of a snapshot allowed ACTION on RESOURCE (SCPs, RCPs, boundaries, denies applied)."""
    from iamkit.policy.query import who_can as _who_can

    ctx = _context(context)
    emit(
        _who_can(action, resource, _load_inventory(snapshot), context=ctx, mode=mode),
        fmt,
        out,
        title=f"who can {action}",
    )


@app.command("what-can")
def what_can(
    principal_arn: str = typer.Argument(..., help="user or role ARN"),
    snapshot: Path = typer.Option(..., "--snapshot", help="inventory snapshot folder"),
    service: list[str] = typer.Option(None, "--service", help="only these service prefixes"),
    mode: str = typer.Option("discovery", "--mode", help="strict|discovery"),
    context: list[str] = CONTEXT_OPT,
    fmt: Format = FORMAT_OPT,
    out: Path = OUT_OPT,
) -> None:
    """Actions (with access level) a principal of a snapshot is allowed, after every guard rail."""
    from iamkit.policy.query import what_can as _what_can

    ctx = _context(context)
    emit(
        _what_can(principal_arn, _load_inventory(snapshot), services=service or None, context=ctx, mode=mode),
        fmt,
        out,
        title=f"what {principal_arn} can do",
    )


@app.command("validate")
def validate(
    policy_file: Path = typer.Argument(..., help="policy document (JSON, URL-encoded JSON too)"),
    kind: str = typer.Option("identity", "--kind", help="identity|resource|trust|scp|rcp|boundary|session|endpoint"),
    fail_on: str = fail_on_option("finding", VALIDATION_SCALE),
    fmt: Format = FORMAT_OPT,
    out: Path = OUT_OPT,
) -> None:
    """Check a policy like IAM Access Analyzer (errors, security warnings, warnings, suggestions)."""
    from iamkit import jsontext
    from iamkit.policy.validate import findings_frame
    from iamkit.policy.validate import validate as _validate

    findings = _validate(jsontext.read_text(policy_file), kind)
    emit(findings_frame(findings), fmt, out, title=f"{policy_file}: {len(findings)} finding(s)")
    fail_on_gate(fail_on, [f.severity for f in findings], "finding", VALIDATION_SCALE)
