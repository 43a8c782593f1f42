"""The sandbox is an optional extra: ``pip install iamkit`` does not pull moto, the kit works without it, and
starting the sandbox without it says what to install in one line (no venv needed: moto is blocked with a
meta-path finder in a child interpreter)."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

WITHOUT_MOTO = r'''
import contextlib, importlib, io, json, pkgutil, sys

class NoMoto:
    """As if the sandbox extra were not installed."""
    def find_spec(self, name, path=None, target=None):
        if name == "moto" or name.startswith("moto."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoMoto())
out = {}
import iamkit, iamkit.cli
from iamkit.cli import main
failed = []
for mod in pkgutil.walk_packages(iamkit.__path__, "iamkit."):
    if mod.name.startswith("iamkit.sandbox.") or mod.name.endswith("__main__"):
        continue
    try:
        importlib.import_module(mod.name)
    except Exception as e:
        failed.append(f"{mod.name}: {e!r}")
out["import_failures"] = failed
import iamkit.sandbox
try:
    iamkit.sandbox.start()
except Exception as e:
    out["start"] = [type(e).__name__, str(e)]
for argv in (["sandbox", "start"], ["demo"], ["trail", "hunt", "--dialect", "trino", "--format", "csv"]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            main(argv)
        except SystemExit as e:
            code = e.code
    out[" ".join(argv)] = [code, err.getvalue()]
out["moto_loaded"] = [m for m in sys.modules if m == "moto" or m.startswith("moto.")]
print(json.dumps(out))
'''


def test_the_kit_works_without_moto_and_says_what_to_install():
    r = subprocess.run([sys.executable, "-c", WITHOUT_MOTO], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["import_failures"] == [] and out["moto_loaded"] == []
    assert out["start"][0] == "BadInput" and "install iamkit[sandbox]" in out["start"][1]
    for command in ("sandbox start", "demo"):
        code, err = out[command]
        assert code == 2 and err.count("\n") == 1 and "install iamkit[sandbox]" in err, (command, err)
    assert out["trail hunt --dialect trino --format csv"][0] == 0  # any other command goes on as before


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(requirements: list[str]) -> set[str]:
    """Distributions a ``pip install`` of ``requirements`` brings, from the installed metadata."""
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        key = (_norm(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue
        for text in dist.requires or []:
            sub = Requirement(text)
            if sub.marker is not None and not any(sub.marker.evaluate({"extra": e}) for e in (req.extras or {""})):
                continue
            todo.append(sub)
    return {name for name, _ in seen}


def _third_party_imports(paths) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and not node.level and node.module
                else []
            )
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "iamkit":
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_a_plain_install_has_everything_the_core_imports_and_no_moto():
    core = _closure(PROJECT["dependencies"])
    sandbox = core | _closure(PROJECT["optional-dependencies"]["sandbox"])
    assert "moto" not in core and "moto" in sandbox
    owners = metadata.packages_distributions()
    files = sorted((ROOT / "iamkit").rglob("*.py"))
    outside = [p for p in files if "sandbox" not in p.relative_to(ROOT).parts]
    inside = [p for p in files if "sandbox" in p.relative_to(ROOT).parts]
    missing = {
        top: where
        for top, where in _third_party_imports(outside).items()
        if not {_norm(d) for d in owners.get(top, [])} & core
    }
    assert missing == {}
    missing = {
        top: where
        for top, where in _third_party_imports(inside).items()
        if not {_norm(d) for d in owners.get(top, [])} & sandbox
    }
    assert missing == {}


def test_the_extra_is_declared_and_installed_by_make():
    assert not any(_norm(Requirement(d).name) == "moto" for d in PROJECT["dependencies"])
    assert any(_norm(Requirement(d).name) == "moto" for d in PROJECT["optional-dependencies"]["sandbox"])
    make = (ROOT / "Makefile").read_text()
    assert "-e '.[dev,sandbox]'" in make and "install -q '.[dev,sandbox]'" in make
