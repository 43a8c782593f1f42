"""The README's playbook table is what `iamkit playbooks` prints (the same rows, the same cells)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from iamkit.cli.run import markdown_table, playbook_rows

ROOT = Path(__file__).resolve().parent.parent


def _readme_table() -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- playbooks: .*? -->\n(.*?)\n<!-- end playbooks -->", text, re.S)
    assert m, "README has no generated playbook table"
    return m.group(1).strip()


def test_readme_table_is_the_cli_table(closed_endpoints):
    from tests.conftest import run_cli

    code, out, err = run_cli(["playbooks", "--markdown"])
    assert code == 0, err
    assert out.strip() == _readme_table() == markdown_table(playbook_rows())


def test_cli_table_rows(closed_endpoints):
    from iamkit import playbook as pb
    from tests.conftest import run_cli

    code, out, _ = run_cli(["playbooks", "--format", "json"])
    rows = {r["id"]: r for r in json.loads(out)}
    assert code == 0 and set(rows) == set(pb.available())
    key = rows["compromised-access-key"]
    assert key["kind"] == "incident" and key["cadence"] == ""
    assert key["parameters"].startswith("access_key_id*")
    assert key["triggers"] == "guardduty: 4; detections: 5; cloudtrail: 2"
    assert rows["review-key-hygiene"]["cadence"] == "monthly" and rows["review-key-hygiene"]["kind"] == "review"


def test_markdown_cells_are_escaped():
    out = markdown_table(
        [{"id": "a|b", "kind": "k", "answers": "x\u202ey", "parameters": "", "cadence": "", "triggers": ""}]
    )
    row = out.splitlines()[2]
    assert "a\\|b" in row and "\u202e" not in row and "| — |" in row
