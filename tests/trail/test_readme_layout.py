"""The README's layout table matches the code: every path it names exists, and every CloudTrail module is
named in it (a newcomer finds a feature by its layer and noun)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _table() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    body = text[text.index("| layer | where |") :]
    rows = {}
    for line in body.splitlines()[2:]:
        if not line.startswith("|"):
            break
        layer, where = (c.strip() for c in line.strip("|").split("|", 1))
        rows[layer] = where
    return rows


def test_every_iamkit_path_named_exists():
    named = [p for where in _table().values() for p in re.findall(r"`(iamkit/[^`]*)`", where)]
    assert named
    for p in named:
        assert (ROOT / p).exists(), p


def test_every_trail_module_is_in_its_layer():
    rows = _table()
    trail = ROOT / "iamkit" / "trail"
    for f in sorted(trail.iterdir()):
        if f.name.startswith(("_", ".")) or f.name == "detections":
            continue
        name = f.name if f.suffix == ".py" else f"{f.name}/"
        where = rows["analysis"] if f.name == "detect" else rows["sources"]
        assert f"`{name}`" in where or f"`iamkit/trail/{name}`" in where, name
    for f in sorted((trail / "sources").glob("*.py")):
        if f.stem != "__init__":
            assert f"`{f.stem}`" in rows["sources"], f.stem
    assert "`iamkit/window.py`" in rows["core"] and (ROOT / "iamkit" / "window.py").exists()
