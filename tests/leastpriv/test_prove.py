"""The proof: replay through the engine with the candidate plus the principal's boundary and the account's SCPs,
the diff against today's effective permissions (sensitive first), and the canary over held-back days."""

from __future__ import annotations

import pytest
from lptest import ACCT, ROLE, rec

from iamkit.errors import BadInput
from iamkit.leastpriv import candidate, generate, prove, split_window, usage
from iamkit.window import Window

AUDITOR = "arn:aws:iam::444455556666:role/auditor"
KEY = f"arn:aws:kms:us-east-1:{ACCT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_replay_covers_what_the_candidate_grants_and_names_what_the_boundary_blocks(store, org_inventory):
    # svc/app: AdministratorAccess, boundary s3:* only, in an OU whose SCP denies iam:* (policytest)
    t = store(
        [
            rec("s3.amazonaws.com", "GetObject", {"bucketName": "b", "key": "k"}),
            rec("kms.amazonaws.com", "Decrypt", {}, resources=[{"ARN": KEY}]),
            rec("iam.amazonaws.com", "ListRoles", {}),
        ]
    )
    u = usage(t, ROLE)
    c = candidate(u)
    assert c.actions == ["iam:ListRoles", "kms:Decrypt", "s3:GetObject"]
    p = prove(u, c, inventory=org_inventory, diff=False)
    assert (p.total, p.covered) == (3, 1)
    why = dict(zip(p.uncovered["action"], p.uncovered["why"], strict=True))
    assert set(why) == {"kms:Decrypt", "iam:ListRoles"}
    assert "boundary" in why["kms:Decrypt"]
    assert "scp" in why["iam:ListRoles"] or "boundary" in why["iam:ListRoles"]
    # without an inventory the candidate alone decides: everything it grants is covered, and the note says so
    bare = prove(u, c)
    assert bare.coverage == 1.0 and any("no inventory" in n for n in bare.notes)


def test_a_candidate_missing_an_action_leaves_its_calls_uncovered_with_the_reason(store):
    t = store(
        [
            rec("s3.amazonaws.com", "GetObject", {"bucketName": "b", "key": "k"}),
            rec("s3.amazonaws.com", "PutObject", {"bucketName": "b", "key": "k"}),
        ]
    )
    u = usage(t, ROLE)
    c = candidate(u)
    c.documents = [
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/k"}],
        }
    ]
    p = prove(u, c)
    assert p.coverage == 0.5
    assert list(p.uncovered["action"]) == ["s3:PutObject"]
    assert "no statement of the candidate allows it" in p.uncovered["why"].iloc[0]


def test_removed_permissions_sensitive_first(store, org_inventory):
    # the auditor may s3:Get* and s3:List*; it only listed one bucket
    t = store([rec("s3.amazonaws.com", "ListObjects", {"bucketName": "audit-logs"}, who=AUDITOR)])
    u = usage(t, AUDITOR)
    p = prove(u, candidate(u), inventory=org_inventory)
    assert p.coverage == 1.0
    removed = p.removed
    assert "s3:ListBucket" not in set(removed["action"])
    assert {"s3:GetObject", "s3:GetBucketPolicy", "s3:ListAllMyBuckets"} <= set(removed["action"])
    assert removed["severity"].iloc[0] == "medium" and removed["action"].iloc[0] == "s3:GetObject"
    ranks = [("critical", "high", "medium", "low", "info").index(s) for s in removed["severity"]]
    assert ranks == sorted(ranks)
    assert p.summary()["removed"] == len(removed) and p.added == []


def test_canary_replays_the_held_back_days(store):
    t = store(
        [
            rec("s3.amazonaws.com", "GetObject", {"bucketName": "b", "key": "k"}, when="2026-03-01T10:00:00Z"),
            rec("s3.amazonaws.com", "GetObject", {"bucketName": "b", "key": "k"}, when="2026-03-09T10:00:00Z"),
            rec("s3.amazonaws.com", "DeleteObject", {"bucketName": "b", "key": "k"}, when="2026-03-09T11:00:00Z"),
        ]
    )
    w = Window.parse("2026-03-01", "2026-03-10")
    r = generate(ROLE, t, window=w, holdback="3d")
    assert r.candidate.actions == ["s3:GetObject"]
    assert r.proof.coverage == 1.0
    denied = r.proof.canary_denied
    assert list(denied["action"]) == ["s3:DeleteObject"] and len(r.proof.canary) == 2
    assert r.to_dict()["proof"]["canary_would_deny"] == 1
    # without a holdback the later call is part of the usage: granted, nothing held back
    r2 = generate(ROLE, t, window=w)
    assert r2.candidate.actions == ["s3:DeleteObject", "s3:GetObject"] and r2.proof.canary is None


def test_split_window():
    w = Window.parse("2026-03-01", "2026-03-10")
    gen, can = split_window(w, "2d")
    assert gen.start == w.start and can.end == w.end and gen.end < can.start
    assert split_window(w, None) == (w, None)
    with pytest.raises(BadInput, match="as long as the window"):
        split_window(w, "30d")
    with pytest.raises(BadInput, match="needs a window with an end"):
        split_window(Window.parse("2026-03-01"), "1d")
    with pytest.raises(BadInput, match="holdback"):
        split_window(w, "soon")


def test_a_call_the_resource_policy_refuses_is_uncovered_with_that_reason(store, org_inventory):
    # bucket "data" (account A) lets the auditor GetObject only: a ListBucket there cannot be proven
    t = store([rec("s3.amazonaws.com", "ListObjects", {"bucketName": "data"}, who=AUDITOR)])
    u = usage(t, AUDITOR)
    p = prove(u, candidate(u), inventory=org_inventory, diff=False)
    assert p.coverage == 0.0 and "resource's policy" in p.uncovered["why"].iloc[0]


def test_another_accounts_role_without_its_trust_is_decided_on_the_identity_side(store):
    # found by the bench on the sandbox: a cross-account AssumeRole replayed without the target's trust policy
    target = "arn:aws:iam::444455556666:role/deploy"
    t = store([rec("sts.amazonaws.com", "AssumeRole", {"roleArn": target, "roleSessionName": "s"})])
    u = usage(t, ROLE)
    p = prove(u, candidate(u))
    assert p.coverage == 1.0
    assert any("decided on the identity side" in n for n in p.notes)
