"""One positive and one negative case per escalation method of the catalogue, generated from the method's own
data (kind, scope, target, reach, service, actions), so a method added to the YAML is tested automatically."""

from __future__ import annotations

import pytest
from assesstest import ACCT, ALLOW_ALL, Builder, allow, doc, trust

from iamkit.assess.privesc import build_graph, load

ATTACKER_USER = f"arn:aws:iam::{ACCT}:user/attacker"
ATTACKER_ROLE = f"arn:aws:iam::{ACCT}:role/attacker"
WEAK = doc(allow("s3:ListAllMyBuckets"))


def _attacker(b: Builder, kind: str, policies: tuple, groups: tuple[str, ...] = ()) -> str:
    if kind == "user":
        return b.user("attacker", groups=groups, policies=policies)
    return b.role("attacker", trust({"AWS": f"arn:aws:iam::{ACCT}:root"}), policies=policies)


def scenario(m, positive: bool) -> tuple[Builder, str, str]:
    """An inventory where ``m`` applies (or, negative, where one required action is scoped elsewhere)."""
    b = Builder()
    kind = m.principal_types[0]
    me = ATTACKER_USER if kind == "user" else ATTACKER_ROLE
    elsewhere = f"arn:aws:iam::{ACCT}:user/someone-else"
    expected = f"admin:{ACCT}" if m.grants == "admin" else ""

    def grant(resource: str) -> tuple:
        res = resource if positive else elsewhere
        return (doc(allow(list(m.actions), res)),)

    if m.kind == "self":
        groups: tuple[str, ...] = ()
        if m.on == "self":
            pols = grant(me)
        elif m.on in ("own_policies", "own_policies_with_versions"):
            pol = f"arn:aws:iam::{ACCT}:policy/mine"
            b.managed("mine", WEAK, ((me, kind),), versions=2 if m.on == "own_policies_with_versions" else 1)
            pols = grant(pol)
        elif m.on == "own_groups":
            g = b.group("team", policies=(WEAK,))
            groups = ("team",)
            pols = grant(g)
        else:  # admin_groups
            g = b.group("admins", policies=(doc(ALLOW_ALL),))
            pols = grant(g)
        src = _attacker(b, kind, pols, groups)
        return b, src, expected
    if m.kind == "principal":
        if m.target == "user":
            target = b.user("victim", policies=(WEAK,))
        elif m.id == "sts-assume-role":
            target = b.role("victim", trust({"AWS": f"arn:aws:iam::{ACCT}:root"}), policies=(WEAK,))
        else:
            target = b.role("victim", trust({"Service": "ec2.amazonaws.com"}), policies=(WEAK,))
        src = _attacker(b, kind, grant(target))
        return b, src, target
    if m.kind == "modify_other":
        reach = {
            "assume": "sts:AssumeRole",
            "update_trust": "iam:UpdateAssumeRolePolicy",
            "create_access_key": "iam:CreateAccessKey",
        }[m.reach]
        if m.target == "user":
            target = b.user("victim", policies=(WEAK,))
        else:
            t = (
                trust({"AWS": f"arn:aws:iam::{ACCT}:root"})
                if m.reach == "assume"
                else trust({"Service": "ec2.amazonaws.com"})
            )
            target = b.role("victim", t, policies=(WEAK,))
        res = target
        if m.on == "target_policies":
            res = b.managed("victim-policy", WEAK, ((target, m.target),))
        pols = (doc(allow(list(m.actions), res if positive else elsewhere)), doc(allow(reach, target)))
        src = _attacker(b, kind, pols)
        return b, src, expected
    # passrole / existing: a role the service may assume, with more privilege than the attacker
    target = b.role("compute-role", trust({"Service": m.service}), policies=(doc(ALLOW_ALL),))
    if m.kind == "passrole":
        others = [a for a in m.actions if a != "iam:PassRole"]
        cond = {"StringEquals": {"iam:PassedToService": m.service if positive else "nothing.amazonaws.com"}}
        pols = (doc(allow(others), allow("iam:PassRole", target, Condition=cond)),)
    else:
        pols = (doc(allow(list(m.actions), "*" if positive else "arn:aws:iam::123456789012:role/nope")),)
    src = _attacker(b, kind, pols)
    return b, src, target


METHODS = [m for m in load()]


@pytest.mark.parametrize("positive", [True, False], ids=["positive", "negative"])
@pytest.mark.parametrize("method", METHODS, ids=[m.id for m in METHODS])
def test_method(method, positive):
    b, src, expected = scenario(method, positive)
    g = build_graph(b.inventory(), methods=[method])
    got = {(e["source"], e["target"]) for e in g.edges if e["method"] == method.id}
    members = {(e["source"], e["target"]) for e in g.edges if e["method"] == "any-target"}
    got |= {(s, t) for s, group in got for g2, t in members if g2 == group}  # via an any:<targets> node
    if positive:
        assert (src, expected) in got, f"{method.id}: expected edge {src} -> {expected}, got {got}"
    else:
        assert not {e for e in got if e[0] == src}, f"{method.id}: unexpected edges {got}"


def test_every_catalogue_method_is_covered():
    kinds = {m.kind for m in METHODS}
    assert kinds == {"self", "principal", "modify_other", "passrole", "existing"}
    ids = {m.id for m in METHODS}
    for needed in (
        "iam-create-policy-version",
        "iam-set-default-policy-version",
        "iam-add-user-to-group",
        "iam-create-access-key",
        "iam-create-login-profile",
        "iam-update-login-profile",
        "iam-update-assume-role-policy",
        "sts-assume-role",
        "lambda-create-invoke",
        "ec2-run-instances",
        "ecs-run-task",
        "glue-dev-endpoint",
        "cloudformation-create-stack",
        "codebuild-create-project",
        "sagemaker-notebook",
        "datapipeline-create",
        "apprunner-create-service",
        "bedrock-code-interpreter",
        "lambda-update-code",
        "ssm-send-command",
        "ssm-start-session",
        "ec2-user-data",
    ):
        assert needed in ids
