"""The assessment context shares engine decisions among principals (same covering statements, same statement
effects on a target): sharing must never merge two principals whose decisions could differ. Each case below is a
pair of twins with the same policy text that differ in one thing the engine looks at (boundary, SCP path,
management account, a condition or policy variable, tags, principal kind, service-linked role, a Deny); the
context is asked about one twin first (priming any shared entry), then the other, and every answer is compared
with the engine asked directly, with nothing cached."""

from __future__ import annotations

import pytest
from assesstest import ACCT, NOW, OTHER, Builder, allow, deny, doc, run, trust

from iamkit.policy.engine import ALLOWED, evaluate
from iamkit.policy.query import build_model, decide_for, request_for

ESCALATE = doc(
    allow(["iam:PutUserPolicy", "iam:CreateAccessKey", "iam:PassRole", "s3:GetObject"]),
    allow("lambda:CreateFunction", f"arn:aws:lambda:us-east-1:{ACCT}:function:app-*"),
)
THIRD = "333333333333"  # a third account, under an SCP denying IAM writes
MANAGEMENT = "444444444444"  # the management account, in the same OU
VICTIM = "arn:aws:iam::*:user/victim"


def _inventory():
    b = Builder()
    b.accounts(ACCT, OTHER)
    for acct, management in ((THIRD, False), (MANAGEMENT, True)):
        b.add(
            "accounts",
            {
                "account_id": acct,
                "org_id": "o-test1234",
                "status": "ACTIVE",
                "ou_id": "ou-iam",
                "ou_path": "r-root/ou-iam",
                "is_management": management,
            },
        )
    # Grants and denies that stop short of every resource, so they reach the shared cache entries (a Deny of
    # every resource, or a layer with no Allow at all, is answered before any sharing).
    # This OU allows IAM on one user only: IAM writes on '*' or on another user are denied.
    b.scp("ou-iam", doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, allow("iam:*", VICTIM)), "ou")
    # account OTHER's SCP reads who asks: a condition on aws:username, a variable in NotResource
    b.scp(
        OTHER,
        doc(
            allow("*"),
            deny("iam:PutUserPolicy", Condition={"StringNotEquals": {"aws:username": "scp-a-carol"}}),
            {
                "Effect": "Deny",
                "Action": "iam:CreateAccessKey",
                "NotResource": "arn:aws:iam::*:user/scp-${aws:username}",
            },
        ),
    )
    boundary = b.managed("boundary", doc(allow(["s3:*", "lambda:*"]), allow("iam:*", VICTIM)))
    lam = trust({"Service": "lambda.amazonaws.com"})
    users = {
        name: f"arn:aws:iam::{ACCT}:user/{name}"
        for name in (
            "tags-a-tagged",
            "tags-b-untagged",
            "var-a-alice",
            "var-b-bob",
            "boundary-a-free",
            "boundary-b-bounded",
        )
    }
    arns = {
        # the same managed policy; one twin confined by a boundary allowing IAM on one user only
        "boundary": [b.user("boundary-a-free"), b.user("boundary-b-bounded", boundary=boundary)],
        # one AWS-managed policy (one document, so one parsed policy) held in two accounts, one under the SCP
        "aws-managed": [b.user("aws-a-open"), b.user("aws-b-confined", THIRD)],
        # the same text in two accounts; only the second one's OU has the SCP
        "scp": [
            b.user("scp-path-a-open", policies=(ESCALATE,)),
            b.user("scp-path-b-confined", THIRD, policies=(ESCALATE,)),
        ],
        # the management account is not bound by SCPs, a member account under the same OU is
        "management": [
            b.user("mgmt-a-member", THIRD, policies=(ESCALATE,)),
            b.user("mgmt-b-management", MANAGEMENT, policies=(ESCALATE,)),
        ],
        # the same managed policies; a condition in them reads the principal's tags
        "tags": [b.user("tags-a-tagged", tags={"team": "ops"}), b.user("tags-b-untagged")],
        # the same managed policy with a variable: each user may write only its own user
        "variable": [b.user("var-a-alice"), b.user("var-b-bob")],
        # a Deny on one target beside the same grants
        "deny": [
            b.user("deny-a-plain", policies=(ESCALATE,)),
            b.user("deny-b-denied", policies=(ESCALATE, doc(deny("iam:PutUserPolicy", VICTIM)))),
        ],
        # the same statement resources with the other effect: a Deny covering every resource
        "effect": [
            b.user("effect-a-allow", policies=(doc(allow("iam:*"), allow("iam:PutUserPolicy", ["*", VICTIM])),)),
            b.user("effect-b-deny", policies=(doc(allow("iam:*"), deny("iam:PutUserPolicy", ["*", VICTIM])),)),
        ],
        # the SCP of account OTHER reads the caller's name
        "scp-reads-caller": [
            b.user("scp-a-carol", OTHER, policies=(ESCALATE,)),
            b.user("scp-b-dave", OTHER, policies=(ESCALATE,)),
        ],
        # a service-linked role is not bound by SCPs
        "service-linked": [
            b.role("slr-a-normal", lam, THIRD, policies=(ESCALATE,)),
            b.role("slr-b-linked", lam, THIRD, policies=(ESCALATE,), service_linked=True),
        ],
    }
    both = lambda *names: tuple((users[n], "user") for n in names)  # noqa: E731
    b.managed("escalate", ESCALATE, attach_to=both("tags-a-tagged", "tags-b-untagged"))
    b.managed("escalate-too", ESCALATE, attach_to=both("boundary-a-free", "boundary-b-bounded"))
    aws = "arn:aws:iam::aws:policy/PowerUserish"
    for i, (arn, acct) in enumerate(((arns["aws-managed"][0], ACCT), (arns["aws-managed"][1], THIRD))):
        b.add(
            "policies",
            {
                "account_id": acct,
                "policy_arn": aws,
                "policy_name": "PowerUserish",
                "policy_type": "aws_managed",
                "attached_to_arn": arn,
                "attached_to_type": "user",
                "version_id": "v1",
                "is_default": True,
                "document": None if i else ESCALATE,
                "aws_managed": True,
            },
        )
    b.managed(
        "ops-only",
        doc(allow("iam:AttachUserPolicy", Condition={"StringEquals": {"aws:PrincipalTag/team": "ops"}})),
        attach_to=both("tags-a-tagged", "tags-b-untagged"),
    )
    b.managed(
        "own-user",
        doc(allow(["iam:PutUserPolicy", "iam:CreateAccessKey"], "arn:aws:iam::*:user/${aws:username}")),
        attach_to=both("var-a-alice", "var-b-bob"),
    )
    names = ["victim", "var-a-alice", "var-b-bob", "scp-a-carol", "scp-b-dave", "scp-path-b-confined"]
    targets = [f"arn:aws:iam::{a}:user/{n}" for a in (ACCT, OTHER, THIRD, MANAGEMENT) for n in names]
    targets += [
        f"arn:aws:iam::{ACCT}:role/iamkit-any-probe",
        f"arn:aws:lambda:us-east-1:{ACCT}:function:app-1",
        f"arn:aws:lambda:us-east-1:{ACCT}:function:other",
        "*",
    ]
    return b, arns, targets


ACTIONS = [
    "iam:PutUserPolicy",
    "iam:CreateAccessKey",
    "iam:AttachUserPolicy",
    "iam:PassRole",
    "s3:GetObject",
    "lambda:CreateFunction",
    "ec2:RunInstances",
]


def _direct(m, arn: str, action: str, resource: str) -> bool:
    pm = m.by_arn[arn]
    return decide_for(m, pm, action, resource, None, "strict", False, scope="all", now=NOW).result == ALLOWED


@pytest.mark.parametrize("order", ["a-first", "b-first"])
def test_shared_decisions_match_the_engine_asked_alone(order):
    from iamkit.assess.context import Context

    b, arns, targets = _inventory()
    inv = b.inventory()
    ctx = Context(inv, now=NOW)
    fresh = build_model(inv)
    assert not fresh.errors
    differing = set()
    for case, pair in sorted(arns.items()):
        first, second = pair if order == "a-first" else pair[::-1]
        for action in ACTIONS:
            for resource in targets:
                answers = {}
                for arn in (first, second):
                    got = ctx.allowed(ctx.model.by_arn[arn], action, resource)
                    want = _direct(fresh, arn, action, resource)
                    assert got == want, (case, arn, action, resource)
                    answers[arn] = got
                if len(set(answers.values())) > 1:
                    differing.add(case)
    # every pair really differs somewhere, so a wrong share would have been caught
    assert differing == set(arns), set(arns) - differing


def test_same_on_every_target_only_when_it_is():
    """``uniform`` (the graph asks once instead of per target) holds only when the engine agrees on every user
    and role target without a resource policy."""
    from iamkit.assess.context import Context

    b, arns, targets = _inventory()
    inv = b.inventory()
    ctx = Context(inv, now=NOW)
    fresh = build_model(inv)
    iam_targets = [t for t in targets if ":iam::" in t]
    claimed = 0
    for pair in arns.values():
        for arn in pair:
            for action in ACTIONS:
                if ctx.uniform(ctx.model.by_arn[arn], action):
                    claimed += 1
                    answers = {
                        _direct(fresh, arn, action, t)
                        for t in iam_targets
                        if t.split(":")[4] == fresh.by_arn[arn].account_id
                    }
                    assert len(answers) == 1, (arn, action)
    assert claimed


def test_account_trust_decisions_are_not_shared_across_twins():
    from iamkit.assess.context import Context

    b, arns, _targets = _inventory()
    inv = b.inventory()
    ctx = Context(inv, now=NOW)
    m = build_model(inv)
    roles = [f"arn:aws:iam::{a}:role/iamkit-any-probe" for a in (ACCT, OTHER, THIRD)]
    for pair in arns.values():
        for arn in pair:
            for role in roles:
                pm = m.by_arn[arn]
                tr = {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "sts:AssumeRole",
                            "Principal": {"AWS": f"arn:aws:iam::{pm.account_id}:root"},
                        }
                    ],
                }
                want = (
                    evaluate(
                        request_for(pm, m, "sts:AssumeRole", role, role.split(":")[4], None),
                        pm.identity,
                        tr,
                        pm.boundaries or None,
                        m.scps.get(pm.account_id),
                        m.rcps.get(role.split(":")[4]),
                        explain=False,
                        now=NOW,
                    ).result
                    == ALLOWED
                )
                assert ctx.allowed_via_account_trust(ctx.model.by_arn[arn], "sts:AssumeRole", role) == want, (arn, role)


def test_findings_of_twins_follow_their_own_policies():
    """End to end: rules flag the unconfined twin and spare the confined one (SCP and boundary allow IAM writes
    on one user only: not on every resource, and a boundary leaves no write on the twin's own user)."""
    b, arns, _targets = _inventory()
    df = run(b, "IAMKIT-ESC-001", "IAMKIT-PRIV-002")
    flagged = set(zip(df["rule_id"], df["principal_arn"], strict=True))
    for case in ("boundary", "scp", "management", "service-linked"):
        free, confined = arns[case][::-1] if case in ("management", "service-linked") else arns[case]
        assert ("IAMKIT-PRIV-002", free) in flagged and ("IAMKIT-PRIV-002", confined) not in flagged, case
    free, bounded = arns["boundary"]
    assert ("IAMKIT-ESC-001", free) in flagged and ("IAMKIT-ESC-001", bounded) not in flagged
