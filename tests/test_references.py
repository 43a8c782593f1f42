"""No dangling references: every ``iamkit …`` command a finding, a remediation, a playbook, a message or the docs
name parses in the CLI tree; every detection id a playbook trigger or an answer key names exists; nothing is
advertised that does not exist; sources cite the design document in the repository."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

import iamkit
from iamkit.cli import app

ROOT = Path(__file__).resolve().parent.parent
TREE = typer.main.get_command(app)
IN_TEXT = re.compile(r"\biamkit((?: [a-z][a-z0-9|-]*)+)")  # "iamkit trail sql", "iamkit remediate keeps an undo"
IN_TICKS = re.compile(r"`(iamkit [^`]*)`")  # a command to copy: `iamkit trail load SOURCE --db FILE`
NOT_COMMANDS = {"iamkit sandbox CA"}  # the sandbox certificate authority's common name


def _resolve(words: list[str]) -> tuple[list[str], Any]:
    """The longest run of ``words`` naming nested commands, and the command it ends on."""
    cmd, path = TREE, []
    for w in words:
        subs = getattr(cmd, "commands", None)
        if not subs or w not in subs:
            break
        cmd, path = subs[w], [*path, w]
    return path, cmd


def _alternatives(words: list[str]) -> list[list[str]]:
    """``remediate plan|apply|undo`` -> the three command lines it abbreviates."""
    lines: list[list[str]] = [[]]
    for w in words:
        lines = [[*line, alt] for line in lines for alt in (w.split("|") if "|" in w else [w])]
    return lines


def problems_in_prose(text: str) -> list[str]:
    """In prose the first word after ``iamkit`` must be a command (``iamkit remediate keeps an undo`` is fine)."""
    out = []
    for m in IN_TEXT.finditer(text):
        for words in _alternatives(m.group(1).split()[:1]):
            if not _resolve(words)[0]:
                out.append(m.group(0))
    return out


def problems_in_command(line: str) -> list[str]:
    """A command line to copy must name a whole command (a group only when followed by ``…``)."""
    if line in NOT_COMMANDS:
        return []
    out = []
    words = line.split()[1:]
    for alt in _alternatives(words):
        path, cmd = _resolve(alt)
        open_group = hasattr(cmd, "commands") and alt[len(path) : len(path) + 1] == ["…"]
        if not path or (hasattr(cmd, "commands") and not open_group):
            out.append(line)
    return out


def _strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


def _yaml_docs(paths) -> dict[str, list[Any]]:
    return {str(p.relative_to(ROOT)): list(yaml.safe_load_all(p.read_text())) for p in sorted(paths)}


def finding_texts() -> dict[str, list[str]]:
    """Every text a finding, a detection or a playbook carries, by where it comes from."""
    from iamkit.assess import rule_table

    texts: dict[str, list[str]] = {}
    for rid, r in rule_table().items():
        texts[f"assess rule {rid}"] = [r.title, r.rationale, r.remediation, *r.references]
    yml = [
        *(ROOT / "iamkit/assess/privesc/catalog").glob("*.yml"),
        *(ROOT / "iamkit/trail/detections").glob("*.yml"),
        *(ROOT / "playbooks").glob("*.yml"),
    ]
    for where, docs in _yaml_docs(yml).items():
        texts[where] = list(_strings(docs))
    return texts


def test_finding_texts_and_playbooks_name_real_commands():
    texts = finding_texts()
    assert any(k.startswith("assess rule") for k in texts) and any(k.startswith("playbooks/") for k in texts)
    bad = {
        where: p
        for where, ts in texts.items()
        for t in ts
        if (p := problems_in_prose(t) + sum((problems_in_command(c) for c in IN_TICKS.findall(t)), []))
    }
    assert bad == {}


def _code_strings(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value


def test_messages_and_docs_name_real_commands():
    bad = []
    for path in sorted((ROOT / "iamkit").rglob("*.py")):
        for s in _code_strings(path):
            lines = IN_TICKS.findall(s) + ([s] if s.startswith("iamkit ") else [])
            bad += [f"{path.relative_to(ROOT)}: {p}" for c in lines for p in problems_in_command(c)]
    docs = [ROOT / "README.md", ROOT / "SECURITY.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "iamkit").rglob("*.md")]
    for path in docs:
        bad += [
            f"{path.relative_to(ROOT)}: {p}" for c in IN_TICKS.findall(path.read_text()) for p in problems_in_command(c)
        ]
    assert bad == []


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("fix it with `iamkit remediate undo cases/x`", True),
        ("`iamkit remediate plan|apply|undo`", True),
        ("`iamkit trail …`", True),
        ("`iamkit frobnicate ARN --db F`", False),
        ("`iamkit remediate`", False),  # a group alone is not a command to run
        ("`iamkit remediate plan|apply|revert`", False),
        ("`iamkit sandbox CA`", True),
    ],
)
def test_the_command_check_itself(text, ok):
    assert (not sum((problems_in_command(c) for c in IN_TICKS.findall(text)), [])) is ok


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("iamkit remediate keeps an undo", True),
        ("see iamkit trail sql", True),
        ("(iamkit frobnicate)", False),
        ("use iamkit frobnicate first", False),
    ],
)
def test_the_prose_check_itself(text, ok):
    assert (not problems_in_prose(text)) is ok


def detection_ids() -> set[str]:
    """Ids of the shipped detections: native and Sigma rules alike (one rule per YAML document)."""
    docs = _yaml_docs((ROOT / "iamkit/trail/detections").glob("*.yml"))
    ids = {d["id"] for ds in docs.values() for d in ds if isinstance(d, dict) and "id" in d}
    assert len(ids) == sum(len(ds) for ds in docs.values())
    return ids


def test_playbook_triggers_and_answer_keys_name_real_detections():
    from iamkit.sandbox.answers import DETECTIONS

    ids = detection_ids()
    named = {}
    for where, docs in _yaml_docs((ROOT / "playbooks").glob("*.yml")).items():
        for d in docs:
            named[where] = set((d.get("triggers") or {}).get("detections") or [])
            if d.get("kind", "incident") == "incident":  # reviews run on a schedule, not from a detection
                assert named[where], f"{where}: no detection triggers"
    named["iamkit/sandbox/answers.py"] = {i for v in DETECTIONS.values() for i in v}
    assert {w: sorted(n - ids) for w, n in named.items() if n - ids} == {}


def test_nothing_unbuilt_is_advertised():
    with pytest.raises(AttributeError):
        iamkit.frobnicate  # noqa: B018
    for name in dir(iamkit):
        if not name.startswith("_"):
            getattr(iamkit, name)  # every advertised sub-module imports


def test_sources_cite_the_design_document_in_the_repository():
    assert (ROOT / "docs" / "architecture.md").is_file()
    citing = [
        str(p.relative_to(ROOT))
        for d in ("iamkit", "tests", "tools", "bench")
        for p in (ROOT / d).rglob("*.py")
        if "DESIGN.md" in p.read_text() and p.name != "test_references.py"
    ]
    assert citing == []
