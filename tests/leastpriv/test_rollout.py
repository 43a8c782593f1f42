"""Roll-out as data: clean proofs staged canary-first (quietest first), the rest held with the reason, current
documents kept for undo; the quarterly re-audit table."""

from __future__ import annotations

from lptest import ACCT, rec

from iamkit.leastpriv import generate
from iamkit.leastpriv.rollout import current_documents, reaudit, stage
from iamkit.window import Window

W = Window.parse("2026-03-01", "2026-03-10")


def _role(name: str) -> str:
    return f"arn:aws:iam::{ACCT}:role/{name}"


def test_stages_canary_first_and_holds_what_would_break(store, org_inventory):
    recs = []
    for i, name in enumerate(("quiet", "busy", "busier")):
        recs += [
            rec(
                "s3.amazonaws.com",
                "GetObject",
                {"bucketName": "b", "key": f"k{j}"},
                who=_role(name),
                when="2026-03-02T10:00:00Z",
            )
            for j in range(1 + 3 * i)
        ]
    # "drifting" does something new in the held-back days: the canary would deny it
    recs += [
        rec(
            "s3.amazonaws.com",
            "GetObject",
            {"bucketName": "b", "key": "k"},
            who=_role("drifting"),
            when="2026-03-02T10:00:00Z",
        ),
        rec(
            "s3.amazonaws.com",
            "DeleteObject",
            {"bucketName": "b", "key": "k"},
            who=_role("drifting"),
            when="2026-03-09T10:00:00Z",
        ),
    ]
    recs.append(rec("sts.amazonaws.com", "GetCallerIdentity", None, who=_role("idle"), when="2026-03-02T10:00:00Z"))
    t = store(recs)
    results = [generate(_role(n), t, window=W, holdback="3d") for n in ("busier", "drifting", "quiet", "busy", "idle")]
    ro = stage(results, org_inventory, canary_fraction=0.34)
    names = {s.name: [c.principal.rsplit("/", 1)[-1] for c in s.changes] for s in ro.stages}
    assert names == {"canary": ["quiet", "busy"], "rollout": ["busier"], "held": ["drifting", "idle"]}
    assert "nothing to prove" in ro.stage("held").changes[1].reason  # never staged to an empty policy
    held = ro.stage("held").changes[0]
    assert "would have been denied" in held.reason and held.canary_would_deny == 1
    canary = ro.stage("canary").changes[0]
    assert canary.candidate == results[2].candidate.documents and canary.coverage == 1.0
    assert ro.hash == stage(results, org_inventory, canary_fraction=0.34).hash  # data, reproducible
    # each stage is a remediation plan the response layer reads back and can apply (put_least_privilege_policy)
    from iamkit.cli.leastpriv import rollout_document
    from iamkit.respond import Plan

    doc = rollout_document(results, org_inventory)
    assert set(doc["plans"]) == {"canary", "rollout"}
    plan = Plan.from_dict(doc["plans"]["canary"]["plan"])
    assert plan.hash == doc["plans"]["canary"]["hash"]
    assert [(a.kind, a.target_arn) for a in plan.actions] == [("put_least_privilege_policy", _role("quiet"))]
    later = Plan.from_dict(doc["plans"]["rollout"]["plan"])  # the default canary fraction: the quietest one
    assert [a.target_arn for a in later.actions] == [_role("busy"), _role("busier")]
    assert plan.actions[0].params["candidate"] == results[2].candidate.documents
    table = reaudit(results)
    assert list(table["principal"]) == [r.usage.principal.label for r in results]
    assert dict(zip(table["principal"], table["canary_would_deny"], strict=True))[_role("drifting")] == 1


def test_current_documents_are_kept_for_undo(org_inventory):
    cur = current_documents(org_inventory, f"arn:aws:iam::{ACCT}:user/admin")
    assert cur["managed"] == ["arn:aws:iam::aws:policy/AdministratorAccess"]
    assert list(cur["inline"]) == ["no-secrets"] and cur["inline"]["no-secrets"]["Statement"]
    assert current_documents(None, "x") == {"managed": [], "inline": {}}
