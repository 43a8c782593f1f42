"""The scheduled reviews end to end on the sandbox: each review playbook runs headless under papermill from its
documented example parameters into its own case folder, whose facts (``evidence/review.json``) equal the
review's answer key written from the seeded organization (``iamkit.sandbox.review_answers``); the key-hygiene
plan is proposed and never applied; the cases folder's index lists the runs with their figures and trends; the
inventory review's drift shows a change made between two runs."""

from __future__ import annotations

import datetime as dt
import html
import importlib.util
import json
import os
from pathlib import Path

import pytest

from iamkit import playbook, reviews
from iamkit.case import Case
from iamkit.sandbox.review_answers import review_answer_keys

pytestmark = [
    pytest.mark.notebook,
    pytest.mark.sandbox,
    pytest.mark.xdist_group("reviews"),
]  # one worker runs them once

#: the README's example parameters for the sandbox (its incident is a day or two old)
EXAMPLES = {
    "review-inventory": {},
    "review-external-access": {},
    "review-key-hygiene": {},
    "review-assume-role-hunt": {"start": "3d"},
}


def _mmdbs(folder: Path, ip: str) -> dict[str, str]:
    """Country and ASN databases for the attacker's /24 (the writer of tests/trail/test_ipcontext.py), so the
    country and ASN rules run as they would for a responder who configured them."""
    spec = importlib.util.spec_from_file_location(
        "ipcontext_writer", Path(__file__).resolve().parents[1] / "trail" / "test_ipcontext.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    net = ip.rsplit(".", 1)[0] + ".0/24"
    country, asn = folder / "country.mmdb", folder / "asn.mmdb"
    mod.write_mmdb(country, {net: {"country": {"iso_code": "KP"}}}, "GeoLite2-Country")
    mod.write_mmdb(
        asn,
        {net: {"autonomous_system_number": 64500, "autonomous_system_organization": "Example Hosting"}},
        "GeoLite2-ASN",
    )
    return {"IAMKIT_COUNTRY_MMDB": str(country), "IAMKIT_ASN_MMDB": str(asn)}


@pytest.fixture(scope="module")
def runs(sandbox, tmp_path_factory):
    root = tmp_path_factory.mktemp("review-cases")
    env = _mmdbs(tmp_path_factory.mktemp("mmdb"), sandbox.org.incident.attacker_ip)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        keys = review_answer_keys(sandbox.org, dt.datetime.now(dt.UTC))
        out = {name: playbook.run(name, params, cases_root=root) for name, params in EXAMPLES.items()}
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    return root, out, keys


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_review_is_a_verified_complete_case(runs, name):
    root, out, _ = runs
    case = Case.open(out[name].case.path)
    assert case.path.parent == root and case.meta["playbook"] == name
    assert case.status == "complete", case.meta.get("unanswered")
    assert case.verify() == []
    assert [p.name for p in (case.path / "notebooks").glob("*.ipynb")] == [f"{name}.ipynb"]
    text = html.unescape((case.path / "report.html").read_text())
    summary = text[text.index("id=summary") : text.index("id=notebooks")]
    assert out[name].summary["headline"][0] in summary  # summary first, from the review's facts


def test_inventory_counts_equal_the_seeded_org(runs):
    _, out, keys = runs
    facts = reviews.review_facts(out["review-inventory"].case.path)
    assert facts["counts"] == keys["review-inventory"]["counts"]
    assert facts["previous_case"] is None and facts["drift"] is None  # the first run is the baseline


def test_external_access_equals_the_seeded_exposures(runs):
    _, out, keys = runs
    facts = reviews.review_facts(out["review-external-access"].case.path)
    key = keys["review-external-access"]
    assert facts["exposed_resources"] == key["exposed_resources"]
    assert facts["external_roles"] == key["external_roles"]
    assert facts["source"] == "iamkit"  # moto has no Access Analyzer: said, and iamkit's own findings used
    assert any("Access Analyzer is not available" in x for x in out["review-external-access"].summary["headline"])


def test_key_hygiene_equals_the_stale_keys_and_applies_nothing(runs, sandbox):
    from iamkit.respond import Plan
    from iamkit.respond.sessions import iam_client_for

    _, out, keys = runs
    case = Case.open(out["review-key-hygiene"].case.path)
    facts = reviews.review_facts(case.path)
    key = keys["review-key-hygiene"]
    assert facts["stale_keys"] == key["stale_keys"] and facts["planned"] == key["planned"]
    assert facts["applied"] is False and key["stale_keys"]
    plan = Plan.from_dict(case.load_json("remediation-plan"))
    assert plan.hash == facts["plan_hash"]
    assert {a.kind for a in plan.actions} == {"deactivate_access_key"}
    assert all(b.get("status") == "Active" for b in plan.before)  # before-state read at plan time
    assert case.journal_entries() == []  # nothing approved, nothing applied
    for a in plan.actions:  # and the keys are still active in IAM
        listed = iam_client_for(a.account_id).list_access_keys(UserName=a.params["user_name"])
        status = {k["AccessKeyId"]: k["Status"] for k in listed["AccessKeyMetadata"]}
        assert status[a.params["access_key_id"]] == "Active"


def test_assume_role_hunt_finds_the_incidents_assume_role(runs):
    _, out, keys = runs
    facts = reviews.review_facts(out["review-assume-role-hunt"].case.path)
    found = [{k: d[k] for k in ("detection_id", "principal_arn", "access_key_id")} for d in facts["detections"]]
    for want in keys["review-assume-role-hunt"]["must_find"]:
        assert want in found
    assert facts["rules"] == [
        "iamkit-assume-role-new-asn",
        "iamkit-assume-role-new-country",
        "iamkit-assume-role-new-source-ip",
        "iamkit-assume-role-new-user-agent",
    ]


def test_the_index_lists_every_run_with_its_figures(runs):
    root, out, _ = runs
    text = (root / "index.html").read_text()
    for name, res in out.items():
        assert f'href="{res.case.id}/report.html"' in text, name
    stale = reviews.review_facts(out["review-key-hygiene"].case.path)["stale_keys"]
    assert f"stale_keys {len(stale)}" in text


def test_inventory_drift_between_two_runs(isolated_sandbox, tmp_path):
    """A user created between two runs is the drift the second run reports, against the first run's case."""
    sb = isolated_sandbox(set_env=True)
    root = tmp_path / "cases"
    first = playbook.run("review-inventory", {}, cases_root=root)
    acct = next(a.account_id for a in sb.org.accounts if a.ou == "Dev")
    from iamkit.respond.sessions import iam_client_for

    arn = iam_client_for(acct).create_user(UserName="drift-check-user")["User"]["Arn"]
    second = playbook.run("review-inventory", {}, cases_root=root)
    facts = reviews.review_facts(second.case.path)
    assert facts["previous_case"] == first.case.id
    assert facts["drift"] == {"added": 1, "removed": 0, "changed": 0}
    assert facts["drift_items"] == [{"kind": "principal", "change": "added", "key": arn}]
    assert facts["counts"]["users"] == reviews.review_facts(first.case.path)["counts"]["users"] + 1
    text = (root / "index.html").read_text()
    trends = text[text.index("id=trends") : text.index("id=runs")]
    assert "review-inventory" in trends and "(+1)" in trends
    assert json.loads((second.case.evidence / "summary.json").read_text())["figures"]["drift_added"] == 1
