"""Write the playbook notebooks from the cell sources below (committed without outputs).

Run: .venv/bin/python tools/make_notebooks.py   — edit here, not in the .ipynb files, to keep them thin.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NB = Path(__file__).resolve().parent.parent / "notebooks"

PARAMS_KEY = """access_key_id = ""      # the suspected key, AKIA… or ASIA…
trail_source = "auto"   # auto | s3://bucket/prefix | local folder | lookup:
start = ""              # ISO-8601 UTC, empty for 30 days before end
end = ""                # ISO-8601 UTC, empty for now
case_dir = ""           # set by iamkit run, empty for a new case under ./cases"""

SETUP = """import iamkit as ik
from iamkit.investigate import access_key as inv
from iamkit.investigate import workspace as ws
from iamkit.ui import show

case = inv.open_case(case_dir, step="{step}", access_key_id=access_key_id, trail_source=trail_source, start=start,
                     end=end)"""

DONE = """print(inv.done(case, "{step}"))"""


def setup(step: str):
    return new_code_cell(SETUP.format(step=step))


def done(step: str):
    return new_code_cell(DONE.format(step=step))


def section(title: str, answers: str, look_for: str, next_: str):
    """A section's narrative: what it answers, what to look for, what to do next."""
    return new_markdown_cell(f"## {title}\n\n**Answers:** {answers}\n\n**Look for:** {look_for}\n\n**Next:** {next_}")


def notebook(cells: list) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def params_cell(src: str):
    c = new_code_cell(src)
    c.metadata["tags"] = ["parameters"]
    return c


PARAMS_EXPLORE = """case_dir = ""   # the case to explore; empty: the newest case with answers
start = ""      # ISO-8601 UTC; empty: the start of the loaded data
end = ""        # ISO-8601 UTC; empty: the end of the loaded data
subject = ""    # an access key, principal ARN or IP; empty: the case's key
pivot_on = ""   # an IP, ARN, key, session, UPN or resource to pivot on"""


WHERE = (
    "In JupyterLab (`make lab`) this notebook continues the newest case (set `case_dir` to pick one); "
    "under `iamkit run` it writes into the run's case. The last cell ends its work on the case."
)

NOTEBOOKS = {
    "01-enrichment.ipynb": [
        new_markdown_cell(
            "# 1 · Enrichment: what did this key do?\n\nLoads CloudTrail for the window into the "
            "case's DuckDB store, traces the key back to the first key of its chain (a session key "
            "to the long-term key that opened it) and forward to every key, user and session it "
            "created, separates the suspicious activity from the owner's usual one, and looks up "
            "the owner in IAM. The answers are written as data (`evidence/facts.json`); evidence "
            "lands in the case folder.\n\nIn JupyterLab set `access_key_id` below first: this "
            "notebook then starts a new case (nothing is loaded without a key)."
        ),
        params_cell(PARAMS_KEY),
        setup("01"),
        section(
            "Load CloudTrail",
            "which trail files and events cover the window, and which could not be read.",
            "files that failed (listed; the rest loaded) and a window that holds the incident.",
            "if the key's first call is missing, widen `start`.",
        ),
        new_code_cell(
            "loaded = inv.load_trail(case, trail_source=trail_source, start=start, end=end, "
            "progress=not case_dir)\nshow(loaded)"
        ),
        section(
            "Trace the key",
            "what the key and everything it created did, from where, with which result.",
            "new IPs and user agents, users and keys created, roles assumed, denied calls, logging changes.",
            "pivot on the new IP or the created user below; contain with 03-remediation.",
        ),
        new_code_cell("trace = inv.trace_key(case, access_key_id)\nshow(trace)"),
        section(
            "The owner",
            "who the key belongs to (IAM user, its policies, the person in its tags).",
            "administrator policies, a missing MFA, an old key.",
            "ask the person whether the usual activity is theirs.",
        ),
        new_code_cell("owner = inv.owner(case)\nshow(owner)"),
        section(
            "Steer and pivot",
            "the same calls for another window or subject, and what else is known about any IP, key, ARN or person.",
            "the red lanes (new IPs) in the figure; a click on an entity in the table pivots on it.",
            "under papermill the parameters decide (`start`, `end`, the key); in JupyterLab the controls call "
            "the same functions.",
        ),
        new_code_cell("show(ws.workbench(case, start=start, end=end, subject=access_key_id))"),
        done("01"),
    ],
    "02-assessment.ipynb": [
        new_markdown_cell(
            "# 2 · Assessment: what can it reach, how bad is it?\n\nEffective permissions of "
            "every principal of the incident (decided by the policy engine with the organization's "
            "SCPs), who is or can become administrator, the sensitive resources they reach, and the "
            "detections raised on the incident.\n\n" + WHERE
        ),
        params_cell(PARAMS_KEY),
        setup("02"),
        section(
            "Reach and blast radius",
            "what each principal of the incident can do now, and which detections fired.",
            "`Allow` on creating keys, passing roles or stopping logging; admin principals.",
            "contain those principals first (03-remediation).",
        ),
        new_code_cell("assessment = inv.assess(case)\nshow(assessment)"),
        section(
            "Trust and escalation",
            "which roles others can assume, and each principal's path to administrator.",
            "red edges (anyone, or outside the organization without ExternalId/MFA) and "
            "the orange roles the incident used.",
            "tighten those trust policies after containment.",
        ),
        new_code_cell('show(inv.figures(case, "trust", "escalation", "keys"))'),
        done("02"),
    ],
    "03-remediation.ipynb": [
        new_markdown_cell(
            "# 3 · Remediation: a dry-run containment plan\n\nNothing is changed here. The plan "
            "lists each reversible action, the state it would change (read now), and the hash that "
            "approves it: `iamkit remediate apply CASE --approve HASH`, undone with "
            "`iamkit remediate undo CASE`.\n\n" + WHERE
        ),
        params_cell(PARAMS_KEY),
        setup("03"),
        section(
            "The plan",
            "how to contain the incident reversibly: keys off, users quarantined, sessions revoked, policies detached.",
            "a before-state that could not be read (that action is not safe to apply yet).",
            "approve the actions below (dry run, journalled), then apply with the command.",
        ),
        new_code_cell("plan = inv.plan_containment(case)\nshow(plan)"),
        new_code_cell("show(ws.plan_review(case))"),
        done("03"),
    ],
    "04-postmortem.ipynb": [
        new_markdown_cell(
            "# 4 · Post-mortem\n\nThe summary a responder reads first — who, what, when, from where, "
            "blast radius, proposed actions — rendered from the case's answers, and the incident "
            "figures. What a step could not answer comes first (the case is then `complete with "
            "errors`).\n\n" + WHERE + " In JupyterLab its last cell also builds the report."
        ),
        params_cell(PARAMS_KEY),
        setup("04"),
        section(
            "Summary",
            "who, what, when, from where, blast radius, proposed actions.",
            "the first line: anything not answered, and why.",
            "forward report.html (built at the end).",
        ),
        new_code_cell("summary = inv.postmortem(case)\nshow(summary)"),
        section(
            "Figures",
            "the window call by call, the sources over time and on a map, trust, escalation, key age.",
            "each figure says what to look for.",
            "pivot on anything odd (explore.ipynb).",
        ),
        new_code_cell("show(inv.figures(case))"),
        section(
            "The answers, as data",
            "every field of `evidence/facts.json`.",
            "`unanswered` entries.",
            "compare with a headless run: the same fields.",
        ),
        new_code_cell("show(inv.answers(case))"),
        done("04"),
    ],
    "explore.ipynb": [
        new_markdown_cell(
            "# Explore a case: steer, pivot, approve\n\nOpens a finished (or paused) case "
            "read-only: pick another case, change the window and the subject, page through every "
            "call, click an IP, key or ARN to pivot on it, and approve containment actions in dry "
            "run (journalled, nothing applied). Headless, the parameters decide and the same "
            "functions run."
        ),
        params_cell(PARAMS_EXPLORE),
        new_code_cell(
            "import iamkit as ik\nfrom iamkit.investigate import access_key as inv\n"
            "from iamkit.investigate import workspace as ws\nfrom iamkit.ui import show\n\n"
            'case = inv.open_case(case_dir, step="explore")\n'
            "subject = subject or ws.default_subject(case)"
        ),
        section(
            "Steer",
            "the calls of `subject` between `start` and `end`, as a figure and a table.",
            "red lanes (new IPs), ✕ (denied); sort and filter the table, page through it.",
            "click an entity to pivot; change the window or the subject and compare.",
        ),
        new_code_cell("bench = ws.workbench(case, start=start, end=end, subject=subject)\nshow(bench)"),
        section(
            "Pivot",
            "everything the case knows about `pivot_on`: its calls, sessions, detections, reach, "
            "country, ASN, AWS address space, Tor exit, hosting.",
            "a new IP with calls from several keys.",
            "pivot again on what it was seen with.",
        ),
        new_code_cell(
            "if pivot_on:\n    show(ik.pivot(pivot_on, case=case))\nelse:\n"
            '    print("set pivot_on (an IP, ARN, key, session, UPN or resource) to pivot headless")'
        ),
        section(
            "Approve containment (dry run)",
            "which actions of the plan a responder approves.",
            "the targets: the leaked key, the users and roles the attacker created or used.",
            "apply with the command from 03-remediation.",
        ),
        new_code_cell("show(ws.plan_review(case))"),
    ],
}


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        for i, cell in enumerate(cells):  # stable ids: regenerating an unchanged notebook changes nothing
            cell["id"] = f"{name.split('-', 1)[0].removesuffix('.ipynb')}-{i:02d}"
        nbformat.write(notebook(cells), str(NB / name))
        print("wrote", NB / name)


if __name__ == "__main__":
    main()
