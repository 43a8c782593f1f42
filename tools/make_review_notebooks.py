"""Write the scheduled-review notebooks (``notebooks/review-*.ipynb``, committed without outputs): one thin
notebook per review, each calling one ``iamkit.reviews`` function. Edit here, not in the .ipynb files.

Run: .venv/bin/python tools/make_review_notebooks.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_notebooks import NB, notebook, params_cell, section  # noqa: E402

ALONE = (
    "Under `iamkit run` (or `iamkit schedule --run-due`) this notebook writes into the run's case; alone in "
    "JupyterLab it starts a new case under the cases folder and builds its report at the end."
)


def review(name: str, title: str, intro: str, params: str, call: str, sec: tuple[str, str, str, str]) -> list:
    open_args = ", ".join(
        p.split("=")[0].strip() + "=" + p.split("=")[0].strip()
        for p in params.splitlines()
        if p.strip() and not p.startswith("case_dir")
    )
    return [
        new_markdown_cell(f"# {title}\n\n{intro}\n\n{ALONE}"),
        params_cell(
            params + ("\n" if params else "") + 'case_dir = ""           # set by iamkit run, empty for a new case'
        ),
        new_code_cell(
            "from iamkit import reviews\nfrom iamkit.ui import show\n\n"
            f'case = reviews.open_case(case_dir, "{name}"{", " + open_args if open_args else ""})'
        ),
        section(*sec),
        new_code_cell(f"result = {call}\nshow(result)"),
        new_code_cell("print(reviews.done(case))"),
    ]


NOTEBOOKS = {
    "review-inventory.ipynb": review(
        "review-inventory",
        "Weekly review · inventory and drift",
        "Collects the organization's IAM inventory into the case and compares it with the previous run's case of "
        "this review: principals, policies, trusts, keys and resource policies added, removed or changed.",
        "",
        "reviews.inventory_drift(case)",
        (
            "Inventory and drift",
            "what the organization holds now and what changed since the last review.",
            "principals or trusts added outside a change window; policies whose document changed.",
            "open an incident playbook for a change nobody can explain.",
        ),
    ),
    "review-external-access.ipynb": review(
        "review-external-access",
        "Weekly review · external access",
        "What is reachable from outside the organization: IAM Access Analyzer's active findings where the endpoint "
        "has it, otherwise iamkit's own exposure and trust findings (the summary says which).",
        "",
        "reviews.external_access(case)",
        (
            "Reachable from outside",
            "which resources and roles anyone, or an account outside the organization, can reach.",
            "public buckets and keys, secrets shared out, roles trusting `*` or a third party without ExternalId.",
            "restrict each with aws:PrincipalOrgID or named principals, or record it as accepted.",
        ),
    ),
    "review-key-hygiene.ipynb": review(
        "review-key-hygiene",
        "Monthly review · access-key hygiene",
        "Active access keys older than 90 days or unused for 90 days, each proposed for deactivation in a "
        "remediation plan. Nothing is changed: the plan is a dry run, applied only with `iamkit remediate apply "
        "CASE --approve HASH`.",
        "",
        "reviews.key_hygiene(case)",
        (
            "Stale keys and the plan",
            "which keys should be rotated or removed, and the reversible plan to turn them off.",
            "keys never used (delete candidates) and keys of people who left.",
            "agree with each owner, then approve the plan by its hash (or rotate the key).",
        ),
    ),
    "review-assume-role-hunt.ipynb": review(
        "review-assume-role-hunt",
        "Daily review · AssumeRole threat hunt",
        "The shipped AssumeRole detections (new source IP, user agent, country, ASN for the caller) over the "
        "window, with two weeks of history loaded before it as their baseline.",
        'trail_source = "auto"   # auto | s3://bucket/prefix | local folder | lookup:\n'
        'start = ""              # ISO-8601 UTC or a span (36h, 3d); empty for one day before end\n'
        'end = ""                # ISO-8601 UTC, empty for now',
        "reviews.assume_role_hunt(case, trail_source=trail_source, start=start, end=end)",
        (
            "Detections",
            "which role sessions were opened from somewhere the caller never came from.",
            "a human's key assuming a production role from a new IP; CI callers with a new agent after an upgrade.",
            "start the compromised-access-key playbook from a detection row (`iamkit run --from-finding ROW.json`).",
        ),
    ),
}


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        for i, cell in enumerate(cells):
            cell["id"] = f"{name.removesuffix('.ipynb')}-{i:02d}"
        nbformat.write(notebook(cells), str(NB / name))
        print("wrote", NB / name)


if __name__ == "__main__":
    main()
