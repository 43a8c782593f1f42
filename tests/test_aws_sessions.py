"""Every boto3 session and client outside the sandbox is made by ``iamkit.aws.session`` (``new_session``,
``connect``, ``as_context``), so each gets the same credentials chain, retries, time limits and hooks."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {Path("iamkit/aws/session.py")}


def _boto3_calls(path: Path) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("Session", "client", "resource")
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in ("boto3", "botocore")
        ):
            lines.append(node.lineno)
        if (
            isinstance(node, ast.ImportFrom)
            and node.module in ("boto3", "boto3.session", "botocore.session")
            and any(a.name in ("Session", "client", "get_session") for a in node.names)
        ):
            lines.append(node.lineno)
    return lines


def test_no_session_is_made_outside_aws_session():
    found = []
    for path in sorted((ROOT / "iamkit").rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel in ALLOWED or rel.parts[:2] == ("iamkit", "sandbox"):  # the sandbox is the endpoint, not a client
            continue
        found += [f"{rel}:{n}" for n in _boto3_calls(path)]
    assert found == []
