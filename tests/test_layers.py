"""docs/architecture.md is true to the code: every import of every module follows its layer table, the README's
layout table says the same, and the generated sections (frames, commands) are current."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"


def _table(text: str, heading: str, first_col: str) -> list[list[str]]:
    """The rows of the first markdown table after ``heading`` whose header starts with ``first_col``."""
    body = text.split(heading, 1)[1]
    rows, inside = [], False
    for line in body.splitlines():
        if line.startswith(f"| {first_col} |"):
            inside = True
            continue
        if inside:
            if not line.startswith("|"):
                break
            if set(line) <= set("|- "):
                continue
            rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
    assert rows, f"no table under {heading!r}"
    return rows


def layer_table() -> tuple[dict[str, str], dict[str, set[str]], list[tuple[str, str]]]:
    """(path prefix -> layer, layer -> layers it may import, allowed crossings (from prefix, to prefix))."""
    text = DOC.read_text()
    where, may = {}, {}
    for layer, modules, imports in _table(text, "## Layers", "layer"):
        for path in re.findall(r"`([^`]+)`", modules):
            where[path] = layer
        may[layer] = {x.strip() for x in imports.split(",") if x.strip() not in ("", "—")}
    crossings = [
        (re.findall(r"`([^`]+)`", a)[0], re.findall(r"`([^`]+)`", b)[0])
        for a, b, _ in _table(text, "Crossings the table does not allow", "from")
    ]
    assert set().union(*may.values()) <= set(may), "a layer may only import layers of the table"
    return where, may, crossings


def _path_of(module: str) -> str:
    """``iamkit.trail.detect.hunt`` -> ``iamkit/trail/detect/hunt.py`` (a package: its ``__init__.py``)."""
    rel = Path(*module.split("."))
    return str(rel / "__init__.py") if (ROOT / rel).is_dir() else f"{rel}.py"


def layer_of(path: str, where: dict[str, str]) -> str | None:
    best = max((p for p in where if path == p or (p.endswith("/") and path.startswith(p))), key=len, default=None)
    return where[best] if best else None


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(module imported, line, inside a function) for every iamkit import, ``TYPE_CHECKING`` blocks left out."""
    tree = ast.parse(path.read_text(), str(path))
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child, in_function)
            return
        if isinstance(node, ast.Import):
            out.extend((a.name, node.lineno, in_function) for a in node.names if a.name.split(".")[0] == "iamkit")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            if base.split(".")[0] == "iamkit":
                # ``from iamkit import trail`` imports the sub-module; ``from iamkit.x import name`` the module x
                names = [f"{base}.{a.name}" for a in node.names] if base == "iamkit" else [base]
                out.extend((n, node.lineno, in_function) for n in names)
        inner = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, False)
    return out


def _target_path(name: str) -> str | None:
    """The file an imported name lives in (``iamkit.__version__`` and other root attributes: None)."""
    parts = name.split(".")
    while parts:
        rel = Path(*parts)
        if (ROOT / rel).is_dir() or (ROOT / f"{rel}.py").is_file():
            return _path_of(".".join(parts))
        parts = parts[:-1]
    return None


def layer_violations() -> list[str]:
    where, may, crossings = layer_table()
    bad = []
    for path in sorted((ROOT / "iamkit").rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        mine = layer_of(rel, where)
        if mine is None:
            bad.append(f"{rel}: not in the layer table")
            continue
        for name, line, in_function in _imports(path):
            target = _target_path(name)
            if target is None or target == "iamkit/__init__.py":
                continue  # the package root itself (iamkit.__version__)
            theirs = layer_of(target, where)
            if theirs is None or theirs == mine or theirs in may[mine]:
                continue
            crossing = any(rel.startswith(a) and target.startswith(b) for a, b in crossings)
            if crossing and in_function:
                continue
            bad.append(f"{rel}:{line}: {mine} imports {name} ({theirs})")
    return bad


def test_every_import_follows_the_layer_table():
    assert layer_violations() == []


def test_the_checker_catches_an_upward_import(tmp_path, monkeypatch):
    """Regression guard for the checker itself: core importing the CLI is reported."""
    where, may, _ = layer_table()
    assert layer_of("iamkit/arn.py", where) == "core" and layer_of("iamkit/trail/detect/hunt.py", where) == "analysis"
    assert layer_of("iamkit/trail/store.py", where) == "sources" and "analysis" not in may["sources"]
    fake = tmp_path / "iamkit" / "severity.py"
    fake.parent.mkdir()
    fake.write_text("def f():\n    from iamkit.cli import main\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert [(n, fn) for n, _, fn in _imports(fake)] == [("iamkit.cli", True)]


def test_the_sandbox_is_imported_only_by_orchestration_inside_functions():
    where, _, _ = layer_table()
    bad = []
    for path in sorted((ROOT / "iamkit").rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        if layer_of(rel, where) == "sandbox":
            continue
        tree = ast.parse(path.read_text())
        for name, line, in_function in _imports(path):
            if name.startswith("iamkit.sandbox") and (not in_function or layer_of(rel, where) != "orchestration"):
                bad.append(f"{rel}:{line} {name}")
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        mods = [a.name for n in top if isinstance(n, ast.Import) for a in n.names] + [
            n.module or "" for n in top if isinstance(n, ast.ImportFrom)
        ]
        bad += [f"{rel}: imports {m} at module level" for m in mods if m.split(".")[0] == "moto"]
    assert bad == []


def test_the_readme_layout_table_matches():
    """Each README layout row names the same modules as the architecture table's row of that layer."""
    where, _, _ = layer_table()
    readme = (ROOT / "README.md").read_text()
    rows = _table(readme, "## Layout", "layer")
    by_layer: dict[str, set[str]] = {}
    for path, layer in where.items():
        by_layer.setdefault(layer, set()).add(path)
    seen = {}
    for layer, modules in rows:
        name = layer.split()[0]
        seen[name] = set(re.findall(r"`(iamkit/[^`]+)`", modules))
    assert seen == by_layer


@pytest.mark.parametrize("section", ["frames", "commands"])
def test_generated_sections_are_current(section):
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import architecture_doc
    finally:
        sys.path.remove(str(ROOT / "tools"))
    text = DOC.read_text()
    m = re.search(rf"<!-- generated: {section} .*?-->\n(.*?)<!-- end generated -->", text, re.S)
    assert m and m.group(1) == architecture_doc.SECTIONS[section](), (
        "docs/architecture.md is stale: run .venv/bin/python tools/architecture_doc.py"
    )


def test_the_doc_tool_checks_from_the_command_line():
    r = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "architecture_doc.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
