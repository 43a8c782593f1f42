"""notebooks/least-privilege.ipynb headless under papermill against the sandbox: the executed notebook gives the
answer the library gives (same candidate, full coverage), and the least-privilege playbook runs it into a case."""

from __future__ import annotations

import json

import nbformat
import pytest

from iamkit import playbook

pytestmark = [pytest.mark.notebook, pytest.mark.sandbox]
NOTEBOOK = playbook.BUILTIN.parent / "notebooks" / "least-privilege.ipynb"


def _role(world) -> str:
    records = world[0]
    counts: dict[str, int] = {}
    for r in records:
        issuer = (((r.get("userIdentity") or {}).get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn")
        if issuer and ("-lambda" in issuer or "-ecs-task" in issuer):
            counts[issuer] = counts.get(issuer, 0) + 1
    return max(sorted(counts), key=counts.get)


def test_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") and not c.get("execution_count") for c in nb.cells if c.cell_type == "code")
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells)


def test_headless_gives_what_the_library_gives(sandbox, world, tmp_path):
    from iamkit import trail
    from iamkit.kernels import execute_notebook
    from iamkit.leastpriv import generate
    from iamkit.window import Window

    _records, db, inv, inv_dir = world
    role = _role(world)
    until = sandbox.now.isoformat()
    out = tmp_path / "out"
    execute_notebook(
        NOTEBOOK,
        tmp_path / "run.ipynb",
        {
            "principal": role,
            "trail_db": str(db),
            "window": "30d",
            "until": until,
            "holdback": "",
            "inventory_dir": str(inv_dir),
            "out_dir": str(out),
        },
        cwd=tmp_path,
        timeout=600,
    )
    answer = json.loads((out / "leastpriv.json").read_text())
    with trail.open(db, read_only=True) as t:
        want = generate(role, t, window=Window.parse("30d", until, end_now=True), inventory=inv)
    assert answer["candidate"]["documents"] == want.candidate.documents
    assert json.loads((out / "candidate-policy.json").read_text()) == want.candidate.documents
    assert answer["proof"]["coverage"] == 1.0 and answer["proof"]["replayed"] == len(want.usage.uses) > 0


def test_the_playbook_runs_it_into_a_case(sandbox, world, tmp_path):
    from iamkit.case import Case

    _records, db, _inv, inv_dir = world
    res = playbook.run(
        "least-privilege",
        {
            "principal": _role(world),
            "trail_db": str(db),
            "until": sandbox.now.isoformat(),
            "window": "30d",
            "inventory_dir": str(inv_dir),
        },
        case_dir=tmp_path / "cases" / "lp",
    )
    case = Case.open(res.case.path)
    assert (case.path / "notebooks" / "least-privilege.ipynb").is_file()
    assert res.report.is_file()
    ran = nbformat.read(case.path / "notebooks" / "least-privilege.ipynb", as_version=4)
    text = json.dumps([c.get("outputs") for c in ran.cells if c.cell_type == "code"])
    assert "'coverage': 1.0" in text
