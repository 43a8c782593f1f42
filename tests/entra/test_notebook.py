"""notebooks/entra-person.ipynb: committed clean, and runs under papermill against the fake Entra + moto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from entra_helpers import ALICE, trail_records

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "entra-person.ipynb"


def _outputs_text(nb: dict) -> str:
    parts = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", "") if isinstance(out.get("text"), str) else "".join(out.get("text", [])))
            for v in (out.get("data") or {}).values():
                parts.append(v if isinstance(v, str) else "".join(v) if isinstance(v, list) else json.dumps(v))
    return "\n".join(parts)


def test_notebook_is_committed_without_outputs_and_has_a_parameters_cell():
    nb = json.loads(NOTEBOOK.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    import ast

    names = [
        t.id
        for node in ast.parse("".join(tagged[0]["source"])).body
        if isinstance(node, ast.Assign)
        for t in node.targets
    ]
    assert "upn" in names
    assert not [n for n in names if any(w in n.lower() for w in ("secret", "token", "password", "key"))]


@pytest.fixture
def real_clock(fake):
    """The papermill kernel paces on the real clock (it cannot share the test's), so the fake counts on it too;
    a person's view stays within the limits but for one pause of about a second between its two Identity
    Protection calls."""
    import time

    fake.use_clock(time.monotonic)
    return fake


@pytest.fixture
def trail_db(fake, aws_env, tmp_path):
    from iamkit.trail import store

    path = tmp_path / "trail.duckdb"
    con = store.connect(path)
    store.insert_records(con, trail_records(fake, aws_env["users"][ALICE]))
    con.close()
    return path


def _run(tmp_path: Path, **params) -> dict:
    import papermill as pm

    out = tmp_path / "entra-person.out.ipynb"
    pm.execute_notebook(
        str(NOTEBOOK),
        str(out),
        parameters=params,
        kernel_name="python3",
        cwd=str(tmp_path),
        progress_bar=False,
        log_output=False,
    )
    return json.loads(out.read_text())


@pytest.mark.notebook
def test_notebook_runs_against_the_fake_and_shows_the_timeline(real_clock, trail_db, tmp_path):
    fake = real_clock
    evidence = tmp_path / "evidence"
    nb = _run(tmp_path, upn=ALICE, since="2026-11-15", trail_db=str(trail_db), evidence_dir=str(evidence), beta=True)
    text = _outputs_text(nb)
    assert "'mfa_at_signin': 'yes'" in text
    assert "Alice Ames" in text
    assert "nothing skipped" in text
    assert "AWSReservedSSO_AdministratorAccess" in text
    assert "yes: same IP" in text and "NO: IP only seen in FAILED" in text
    assert any(evidence.rglob("*signIns*.json"))
    assert fake.client_secret not in text and fake.client_secret not in json.dumps(nb)
    assert not [e for e in fake.log if e["status"] == 429]  # the kernel kept under Graph's rate limits


@pytest.mark.notebook
def test_notebook_shows_skipped_instead_of_failing_without_a_licence(real_clock, trail_db, tmp_path):
    fake = real_clock
    fake.licence = "free"
    nb = _run(tmp_path, upn=ALICE, since="2026-11-15", trail_db=str(trail_db))
    text = _outputs_text(nb)
    assert "skipped: signins — needs Entra ID P1" in text
    assert "skipped: risky_user — needs Entra ID P2" in text
    assert "skipped: last_sign_in — needs Entra ID P1" in text
    assert "skipped: signins_beta — non-interactive sign-ins and a sign-in's 'no MFA' are only in Graph beta" in text
    assert "AWSReservedSSO_AdministratorAccess" in text  # the AWS side still correlates
