"""The analyst's workspace on the sandbox's incident: parameters and widgets give the same frames, pivots
answer from the case, a dry-run approval is journalled and changes nothing, the notebooks chain in "Lab" (no
case_dir) as they do under ``iamkit run``, and the report carries the figures and a bounded manifest."""

from __future__ import annotations

import base64
import html
import json
import re

import nbformat
import pandas as pd
import pytest

from iamkit import playbook
from iamkit.case import Case
from iamkit.errors import BadInput
from iamkit.investigate import access_key as inv
from iamkit.investigate import facts as F
from iamkit.investigate import workspace as ws
from iamkit.kernels import execute_notebook

pytestmark = [pytest.mark.notebook, pytest.mark.sandbox]
NOTEBOOKS = playbook.BUILTIN.parent / "notebooks"


@pytest.fixture(scope="module")
def run(sandbox, tmp_path_factory):
    return playbook.run(
        "compromised-access-key",
        {"access_key_id": sandbox.org.incident.leaked_access_key_id},
        case_dir=tmp_path_factory.mktemp("cases") / "incident",
    )


def _store_count(case, where: str, params: list) -> int:
    import duckdb

    con = duckdb.connect(str(case.path / "trail.duckdb"), read_only=True)
    try:
        return con.execute(f"SELECT count(*) FROM events WHERE {where}", params).fetchone()[0]
    finally:
        con.close()


def test_widgets_drive_the_same_function_as_the_parameters(run, sandbox):
    inc = sandbox.org.incident
    case = inv.open_case(str(run.case.path), step="explore")
    facts = json.loads((case.evidence / "facts.json").read_text())
    start, end = ws.window_presets(case, facts)["suspicious window ±15 min"]
    headless = ws.activity(case, start, end, inc.attacker_ip)
    bench = ws.workbench(case, subject=inc.leaked_access_key_id)
    bench.widget()
    bench.panels["window"].set(start, end)
    bench.panels["subject"].set(inc.attacker_ip)
    pd.testing.assert_frame_equal(bench.current.events, headless.events)
    page, total = bench.panels["browser"].current()
    assert total == len(headless.events)
    # ground truth: the store's own count of the attacker IP's calls in that window
    truth = _store_count(case, "source_ip = ? AND event_time BETWEEN ? AND ?", [inc.attacker_ip, start, end])
    assert len(headless.events) == truth > 0


def test_pivot_from_the_attackers_ip(run, sandbox):
    import iamkit as ik

    inc = sandbox.org.incident
    p = ik.pivot(inc.attacker_ip, case=run.case.path)
    assert p.kind == "ip" and p.total_events == _store_count(run.case, "source_ip = ?", [inc.attacker_ip])
    assert p.context["in this incident"] == "new (suspicious)" and p.context["AWS address space"] == "no"
    assert inc.leaked_access_key_id in set(p.related["entity"]) and inc.session_access_key_id in set(
        p.related["entity"]
    )
    assert "iamkit-assume-role-new-source-ip" in set(p.detections["detection_id"])
    user = ik.pivot(inc.created_user_arn, case=run.case.path)
    assert user.kind == "arn" and len(user.reach) and set(user.reach["principal"]) == {inc.created_user_arn}
    with pytest.raises(BadInput):
        ik.pivot("   ", case=run.case.path)


def test_dry_run_approval_is_journalled_and_changes_nothing(run, sandbox):
    inc = sandbox.org.incident
    case = inv.open_case(str(run.case.path), step="explore")
    review = ws.plan_review(case, approver="ana.responder")
    entry = review.approve([1], "ana.responder")
    entries, _ = Case.open(run.case.path).read_journal()
    mine = [e for e in entries if e.get("event") == "approved-dry-run"]
    assert mine[-1]["approver"] == "ana.responder" and mine[-1]["steps"] == [1] and mine[-1]["applied"] is False
    assert mine[-1]["plan_hash"] == review.plan.hash == entry["plan_hash"]
    assert Case.open(run.case.path).verify() == [], "the approval was written through a verified, sealed session"
    keys = sandbox.session(inc.account_id).client("iam").list_access_keys(UserName=inc.user_name)
    assert {k["AccessKeyId"]: k["Status"] for k in keys["AccessKeyMetadata"]}[inc.leaked_access_key_id] == "Active"


def test_explore_notebook_headless_gives_what_the_functions_give(run, sandbox, tmp_path):
    inc = sandbox.org.incident
    out = tmp_path / "explore.ipynb"
    execute_notebook(
        NOTEBOOKS / "explore.ipynb",
        out,
        {"case_dir": str(run.case.path), "subject": inc.attacker_ip, "pivot_on": inc.created_access_key_id},
        cwd=tmp_path,
    )
    nb = nbformat.read(str(out), as_version=4)
    text = " ".join(o.get("data", {}).get("text/markdown", "") for c in nb.cells for o in c.get("outputs", []))
    n = len(ws.activity(Case.open(run.case.path), "", "", inc.attacker_ip).events)
    assert f"{n} calls between" in text.replace("\\", "")
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]


def test_notebooks_chain_in_lab_without_case_dir(sandbox, tmp_path, monkeypatch):
    """Regression: each notebook opened in Lab started a new case, so 02 failed with "no evidence 'key-facts'"."""
    inc = sandbox.org.incident
    cases = tmp_path / "cases"
    monkeypatch.setenv("IAMKIT_CASES", str(cases))
    with pytest.raises(BadInput, match="access_key_id is required"):
        inv.open_case("", step="01", access_key_id="")
    assert not cases.exists(), "no case is started without a key"
    for name in ("01-enrichment", "02-assessment", "03-remediation", "04-postmortem"):
        params = {"access_key_id": inc.leaked_access_key_id} if name.startswith("01") else {}
        execute_notebook(NOTEBOOKS / f"{name}.ipynb", tmp_path / f"{name}.ipynb", params, cwd=tmp_path)
    (folder,) = list(cases.iterdir())
    case = Case.open(folder)
    assert case.status == "complete" and (folder / "report.html").is_file() and case.verify() == []
    facts = json.loads((case.evidence / "facts.json").read_text())
    key = next(
        k
        for k in json.loads(sandbox.manifest_path.read_text())["answer_keys"]
        if k["subject"]["access_key_id"] == inc.leaked_access_key_id
    )
    assert F.differences(facts, key) == []


def test_report_has_the_figures_and_a_bounded_manifest(run, sandbox):
    page = (run.case.path / "report.html").read_text()
    imgs = re.findall(r'<img src="data:image/svg\+xml;base64,([^"]+)" alt="([^"]+)">', page)
    titles = {html.unescape(alt) for _, alt in imgs}
    assert {
        "The suspicious window, call by call",
        "Calls over time, by source IP and country",
        "Where the calls came from",
        "Who can assume which role",
        "Paths to administrator",
        "Access keys of the owner's account: age and last use",
    } <= titles
    timeline = base64.b64decode(next(d for d, alt in imgs if alt.startswith("The suspicious window"))).decode()
    assert sandbox.org.incident.attacker_ip in timeline and "suspicious window" in timeline
    manifest = page[page.index("id=manifest") :]
    raw = len(list((run.case.evidence / "cloudtrail").rglob("*.gz")))
    assert raw > 50 and "evidence/cloudtrail/" in manifest and manifest.count("<tr>") < 30
    events = page[page.index("Every call traced from the key") : page.index("id=notebooks")]
    first_row = events[events.index("<tbody>") :].split("</tr>")[0]
    assert "suspicious (new IP)" in first_row, "the attacker's calls come first"
