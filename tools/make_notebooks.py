"""Write the playbook notebooks from the cell sources below (committed without outputs).

Run: .venv/bin/python tools/make_notebooks.py   — edit here, not in the .ipynb files, to keep them thin.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NB = Path(__file__).resolve().parent.parent / "notebooks"

PARAMS_KEY = '''access_key_id = ""      # the suspected key, AKIA… or ASIA…
trail_source = "auto"   # auto | s3://bucket/prefix | local folder | lookup:
start = ""              # ISO-8601 UTC, empty for 30 days before end
end = ""                # ISO-8601 UTC, empty for now
case_dir = ""           # set by iamkit run, empty for a new case under ./cases'''

SETUP = '''import iamkit as ik
from iamkit.investigate import access_key as inv
from iamkit.ui import show

case = inv.open_case(case_dir, access_key_id=access_key_id)'''


def notebook(cells: list) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def params_cell(src: str):
    c = new_code_cell(src)
    c.metadata["tags"] = ["parameters"]
    return c


NOTEBOOKS = {
    "01-enrichment.ipynb": [
        new_markdown_cell("# 1 · Enrichment: what did this key do?\n\nLoads CloudTrail for the window into the "
                          "case's DuckDB store, traces the key back to the first key of its chain (a session key "
                          "to the long-term key that opened it) and forward to every key, user and session it "
                          "created, separates the suspicious activity from the owner's usual one, and looks up "
                          "the owner in IAM. The answers are written as data (`evidence/facts.json`); evidence "
                          "lands in the case folder."),
        params_cell(PARAMS_KEY),
        new_code_cell(SETUP),
        new_code_cell("loaded = inv.load_trail(case, trail_source=trail_source, start=start, end=end)\nshow(loaded)"),
        new_code_cell("trace = inv.trace_key(case, access_key_id)\nshow(trace)"),
        new_code_cell("owner = inv.owner(case)\nshow(owner)"),
        new_code_cell("show(inv.timeline_explorer(case))"),
    ],
    "02-assessment.ipynb": [
        new_markdown_cell("# 2 · Assessment: what can it reach, how bad is it?\n\nEffective permissions of "
                          "every principal of the incident (decided by the policy engine with the organization's "
                          "SCPs), who is or can become administrator, the sensitive resources they reach, and the "
                          "detections raised on the incident."),
        params_cell(PARAMS_KEY),
        new_code_cell(SETUP),
        new_code_cell("assessment = inv.assess(case)\nshow(assessment)"),
    ],
    "03-remediation.ipynb": [
        new_markdown_cell("# 3 · Remediation: a dry-run containment plan\n\nNothing is changed here. The plan "
                          "lists each reversible action, the state it would change (read now), and the hash that "
                          "approves it: `iamkit remediate apply CASE --approve HASH`, undone with "
                          "`iamkit remediate undo CASE`."),
        params_cell(PARAMS_KEY),
        new_code_cell(SETUP),
        new_code_cell("plan = inv.plan_containment(case)\nshow(plan)"),
    ],
    "04-postmortem.ipynb": [
        new_markdown_cell("# 4 · Post-mortem\n\nThe summary a responder reads first — who, what, when, from where, "
                          "blast radius, proposed actions — rendered from the case's answers, and the incident "
                          "timeline. What a step could not answer comes first (the case is then `complete with "
                          "errors`)."),
        params_cell(PARAMS_KEY),
        new_code_cell(SETUP),
        new_code_cell("summary = inv.postmortem(case)\nshow(summary)"),
        new_code_cell("show(inv.answers(case))"),
    ],
}


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        for i, cell in enumerate(cells):  # stable ids: regenerating an unchanged notebook changes nothing
            cell["id"] = f"{name.split('-', 1)[0]}-{i:02d}"
        nbformat.write(notebook(cells), str(NB / name))
        print("wrote", NB / name)


if __name__ == "__main__":
    main()
