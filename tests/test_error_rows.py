"""Every row of the ``errors`` frame is built by ``frames.error_row`` (no hand-built copies drifting apart)."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

from iamkit import frames

ROOT = Path(__file__).resolve().parent.parent
FIELDS = set(frames.SCHEMAS["errors"])


def test_error_row_follows_the_schema():
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    row = frames.error_row(
        "iam:ListUsers", "AccessDenied", "no", account_id="111111111111", region="eu-west-1", when=when
    )
    assert row == {
        "account_id": "111111111111",
        "region": "eu-west-1",
        "operation": "iam:ListUsers",
        "code": "AccessDenied",
        "message": "no",
        "when": when,
    }
    df = frames.conform([row, frames.error_row("load x.json", "BadFile", "truncated")], "errors")
    frames.check(df, "errors")
    assert df["account_id"].isna().tolist() == [False, True]
    assert df["when"].iloc[1].tzinfo is not None  # now, in UTC, when not given


def test_no_errors_row_is_built_by_hand():
    """A dict literal naming three or more of the errors frame's columns outside frames.py is a second copy."""
    found = []
    for path in sorted((ROOT / "iamkit").rglob("*.py")):
        if path == ROOT / "iamkit" / "frames.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Dict):
                keys = {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
                if "operation" in keys and len(keys & FIELDS) >= 3:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []
