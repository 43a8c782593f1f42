"""Each action kind against the sandbox: preview, no change without approval, the change with it (verified),
a second apply changes nothing, undo restores exactly the prior state (or says why it cannot)."""

from __future__ import annotations

import pytest

from iamkit.errors import BadInput
from iamkit.respond import Plan, apply, capture_before, undo


def run_scenario(sc, scratch, case) -> dict:
    """The whole life of one scenario's plan; returns what the tests look at afterwards."""
    cl = scratch.clients()
    before = sc.state()
    plan = capture_before(Plan(case.id, sc.actions), cl)
    assert not any("error" in b for b in plan.before), plan.before
    assert sc.state() == before, "planning changed something"
    irreversible = not sc.reversible
    for wrong in (None, "0" * 16):
        with pytest.raises(BadInput, match="plan hash"):
            apply(plan, case, cl, approve=wrong, allow_irreversible=irreversible)
    assert sc.state() == before and case.journal_entries() == []
    rows = apply(plan, case, cl, approve=plan.hash, allow_irreversible=irreversible, approver="ana")
    assert all(r["changed"] and r["verified"] and not r["error"] for r in rows), rows
    after = sc.state()
    sc.expect(before, after)
    again = apply(plan, case, cl, approve=plan.hash, allow_irreversible=irreversible, approver="ana")
    assert not any(r["changed"] for r in again) and all(r["verified"] for r in again), again
    assert sc.state() == after
    undone = undo(case, cl)
    return {"sc": sc, "plan": plan, "before": before, "after": after, "undone": undone, "now": sc.state()}


REVERSIBLE = [
    "quarantine_role_deny_all",
    "quarantine_role_sensitive_replaces",
    "delete_inline_policies",
    "detach_managed",
    "least_privilege",
    "restrict_trust",
    "tag_principals",
    "remove_from_group",
    "remove_account_assignment",
]


@pytest.mark.parametrize("name", REVERSIBLE)
def test_action_applies_and_undoes_exactly(name, scenarios, scratch, case):
    got = run_scenario(scenarios[name](scratch), scratch, case)
    assert all(r["restored"] and not r["error"] for r in got["undone"]), got["undone"]
    assert got["now"] == got["before"]
    assert any(line.startswith(("+", "-")) for line in got["plan"].diff())


def test_login_profile_removal_is_irreversible_and_says_so(scenarios, scratch, case):
    sc = scenarios["remove_login_profile"](scratch)
    cl = scratch.clients()
    plan = capture_before(Plan(case.id, sc.actions), cl)
    assert any("IRREVERSIBLE" in line for line in plan.diff())
    before = sc.state()
    with pytest.raises(BadInput, match="allow-irreversible"):
        apply(plan, case, cl, approve=plan.hash)
    assert sc.state() == before and case.journal_entries() == []
    rows = apply(plan, case, cl, approve=plan.hash, allow_irreversible=True)
    assert rows[0]["verified"] and rows[0]["irreversible"]
    assert sc.state()["login_profile"] is False
    journal = case.journal_entries()
    step = next(e for e in journal if e["event"] == "before")
    assert step["irreversible"] is True and "irreversible" in step["note"]
    assert next(e for e in journal if e["event"] == "approved")["allow_irreversible"] is True
    undone = undo(case, cl)
    assert undone[0]["restored"] is False and undone[0]["irreversible"] and "password" in undone[0]["note"]
    assert sc.state()["login_profile"] is False
    assert next(e for e in case.journal_entries() if e["event"] == "undone")["irreversible"] is True


def test_restore_of_detached_policy_keeps_its_document(scenarios, scratch, case):
    """The managed policy's document is journalled with the detach (the record of what the principal had)."""
    got = run_scenario(scenarios["detach_managed"](scratch), scratch, case)
    befores = [e for e in case.journal_entries() if e["event"] == "before"]
    assert all(e["state"]["policy_document"] for e in befores)
    assert '"Action": "*"' in befores[0]["state"]["policy_document"]
    assert got["now"] == got["before"]


def test_least_privilege_undo_deletes_the_policies_it_created(scenarios, scratch, case):
    got = run_scenario(scenarios["least_privilege"](scratch), scratch, case)
    assert all(r["restored"] for r in got["undone"]), got["undone"]
    left = scratch.iam.list_policies(Scope="Local", PathPrefix="/iamkit/")["Policies"]
    assert left == []


def test_least_privilege_refuses_a_stale_policy_of_the_same_name(scenarios, scratch, case):
    """A policy left under the candidate's name with another document is never attached in its place."""
    import json as _json

    from iamkit.errors import IamkitError

    sc = scenarios["least_privilege"](scratch)
    scratch.iam.create_policy(
        PolicyName="iamkit-lp-cy-1",
        Path="/iamkit/",
        PolicyDocument=_json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    )
    cl = scratch.clients()
    plan = capture_before(Plan(case.id, sc.actions), cl)
    before = sc.state()
    try:
        rows = apply(plan, case, cl, approve=plan.hash, approver="ana")
    except IamkitError as e:
        rows = [{"error": str(e)}]
    assert any("already exists with another document" in str(r.get("error")) for r in rows), rows
    assert sc.state()["user"] == before["user"]  # the user kept its own policy; the stale one was not attached
