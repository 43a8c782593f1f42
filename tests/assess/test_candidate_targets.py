"""The escalation graph's candidate targets: a resource pattern's matches are found through a sorted index
(bisection on the pattern's literal prefix) and must be exactly what matching every ARN one by one finds, in
the list's order."""

from __future__ import annotations

import random

from iamkit.assess.context import Context
from iamkit.assess.privesc.graph import _Builder
from iamkit.policy.matching import LITERAL_STAR, arn_matches

PARTS = ["user/", "role/", "user/app-", "role/service-role/", "User/", "group/"]
NAMES = ["alice", "bob", "app1", "app12", "App1", "x*y", "svc", "a", "", "dev/ops"]


def _arns(rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        acct = rng.choice(["111111111111", "222222222222", "11111111111"])
        out.append(f"arn:{rng.choice(['aws', 'aws-cn'])}:iam::{acct}:{rng.choice(PARTS)}{rng.choice(NAMES)}")
    return out


def _pattern(rng: random.Random, arns: list[str]) -> str:
    base = rng.choice(arns + ["arn:aws:iam::111111111111:user/app", "not-an-arn", "arn:aws:iam:us-east-1::x"])
    chars = list(base)
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(chars) + 1)
        chars[i : i + rng.randint(0, 4)] = rng.choice(["*", "?", "*", LITERAL_STAR, "*1", "?*"])
    return "".join(chars)


def test_indexed_matches_equal_one_by_one_matches_in_list_order():
    b = _Builder.__new__(_Builder)
    b._sorted = {}
    rng = random.Random(20261206)
    checked = hits = 0
    for _ in range(60):
        arns = _arns(rng, rng.randint(0, 80))
        key = (arns[0], arns[-1], len(arns)) if arns else ("", "", 0)
        for _ in range(25):
            p = _pattern(rng, arns)
            want = [a for a in arns if arn_matches(p, a)]
            assert b._matching(p, arns, key) == want, p
            checked += 1
            hits += bool(want)
    assert checked == 1500 and 200 < hits < 1400  # both outcomes well exercised


def test_graph_candidates_through_scoped_patterns():
    """A principal allowed iam:CreateAccessKey only on app-* users gets exactly those users as candidates."""
    from assesstest import ACCT, Builder, allow, doc

    b = Builder()
    users = [b.user(n) for n in ("app-1", "app-2", "bob", "App-3")]
    dev = b.user("dev", policies=(doc(allow("iam:CreateAccessKey", f"arn:aws:iam::{ACCT}:user/app-*")),))
    ctx = Context(b.inventory())
    g = _Builder(ctx, [])
    pm = ctx.model.by_arn[dev]
    targets = g._targets(pm, "user")
    got = [t.arn for t in g._candidates(pm, "iam:CreateAccessKey", targets)]
    assert got == [u for u in [t.arn for t in targets] if u in users[:2]]


def test_holders_are_the_users_and_roles_with_a_covering_allow():
    """The graph's holder index (through the context's per-policy index) against a principal-by-principal scan."""
    from assesstest import Builder, allow, deny, doc, trust

    b = Builder()
    shared = doc(allow(["iam:Put*", "s3:GetObject"]))
    b.user("a", policies=(shared,))
    b.user("b", policies=(doc(allow("iam:*"), deny("iam:PutUserPolicy")),))
    b.user("c", policies=(doc(allow("s3:*")),))
    b.user("d", policies=(doc({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}),))
    b.role("r", trust({"Service": "lambda.amazonaws.com"}), policies=(shared,))
    b.group("g", policies=(doc(allow("iam:PassRole")),))
    b.user("e", groups=("g",))
    ctx = Context(b.inventory())
    g = _Builder(ctx, [])
    for action in ("iam:PutUserPolicy", "iam:PassRole", "s3:GetObject", "ec2:RunInstances", "sts:AssumeRole"):
        want = {
            pm.arn
            for pm in ctx.iam_principals
            if any(st.effect == "Allow" for p in pm.identity for st in p.relevant(action.lower()))
        }
        assert g.holders(action) == want, action
        assert [pm.arn for pm in g.holders_all([action, "iam:PutUserPolicy"])] == sorted(
            want & g.holders("iam:PutUserPolicy")
        )
