"""The project's standing rules: pinned dependencies in one place, conda mirror in step, lazy import,
notebooks committed without outputs and every one executed by a test."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _norm(name: str) -> str:
    return re.split(r"[\[<>=!~ ]", name, maxsplit=1)[0].lower().replace("_", "-")


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not pinned with =="
            pins[_norm(name)] = version
    return pins


def _pyproject_deps() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project["dependencies"] + [d for ds in project["optional-dependencies"].values() for d in ds]


def test_every_dependency_is_pinned_in_constraints():
    pins = _pins()
    missing = [d for d in _pyproject_deps() if _norm(d) not in pins]
    assert not missing, f"not pinned in constraints.txt: {missing}"


def test_environment_yml_mirrors_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_deps = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    in_env = {_norm(d): d.split("==")[1] for d in pip_deps}
    pins = _pins()
    for dep in _pyproject_deps():
        name = _norm(dep)
        assert name in in_env, f"environment.yml lacks {name}"
        assert in_env[name] == pins[name], f"environment.yml pins {name}=={in_env[name]}, constraints {pins[name]}"
    extra = set(in_env) - {_norm(d) for d in _pyproject_deps()}
    assert not extra, f"environment.yml has packages pyproject does not: {extra}"
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    req = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert python.removeprefix("python") == req


def test_import_iamkit_is_lazy():
    code = (
        "import sys, iamkit; heavy = ['duckdb', 'plotly', 'moto', 'msal', 'papermill', 'nbconvert', "
        "'pandas', 'boto3']; print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"import iamkit pulled in {out.strip()}"


def test_lazy_attributes_resolve():
    import iamkit as ik

    assert ik.Case.__name__ == "Case"
    assert hasattr(ik.playbook, "run")


def test_notebooks_committed_without_outputs():
    for nb_path in (ROOT / "notebooks").glob("*.ipynb"):
        nb = json.loads(nb_path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell.get("outputs"), f"{nb_path.name} has outputs committed"
                assert cell.get("execution_count") is None, f"{nb_path.name} has execution counts"


def test_every_notebook_is_executed_by_a_test():
    tests_text = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py"))
    playbooks = "\n".join(p.read_text() for p in (ROOT / "playbooks").glob("*.yml"))
    for nb_path in (ROOT / "notebooks").glob("*.ipynb"):
        assert nb_path.name in tests_text or nb_path.name in playbooks, f"{nb_path.name} is run by no test"


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
