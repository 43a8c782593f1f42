"""Fixtures for the remediation tests: a scratch account on the shared sandbox server (its clients can record
every AWS call, for the responder policy check), one scenario per action kind, and an empty case."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import pytest

from iamkit.aws.recorder import CallRecorder
from iamkit.respond import Action
from iamkit.respond.actions import QUARANTINE_POLICY, inline_document, quarantine_role_document, role_trust


@dataclass
class Scratch:
    """A fresh account on the shared sandbox (moto creates accounts on first use): tests may change its IAM and
    Identity Center without touching the seeded organization."""

    acct: str
    endpoint: str
    session: Any
    recorder: CallRecorder | None = None
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            c = self.session.client(service, endpoint_url=self.endpoint)
            if self.recorder is not None:
                self.recorder(c, self.acct)
            self._clients[service] = c
        return self._clients[service]

    @property
    def iam(self) -> Any:
        return self.client("iam")

    def recorded(self, recorder: CallRecorder) -> Scratch:
        """The same account through new clients whose calls ``recorder`` records (set-up calls stay out)."""
        return Scratch(self.acct, self.endpoint, self.session, recorder)

    def clients(self, graph: Any = None) -> Any:
        from iamkit.respond import Clients

        return Clients(aws=lambda account, service: self.client(service), graph=graph)

    def arn(self, kind: str, name: str) -> str:
        return f"arn:aws:iam::{self.acct}:{kind}/{name}"


def new_scratch(sandbox: Any) -> Scratch:
    from iamkit.sandbox.server import account_session

    acct = f"5{random.randrange(10**10, 10**11):011d}"[:12]
    return Scratch(acct, sandbox.endpoint_url, account_session(sandbox.endpoint_url, acct, region="us-east-1"), None)


@pytest.fixture
def scratch(sandbox) -> Scratch:
    return new_scratch(sandbox)


@pytest.fixture
def case(tmp_path):
    from iamkit.case import Case

    return Case.create(tmp_path, "remediation", {})


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    """Identity Center polling never sleeps for real."""
    from iamkit.respond import actions

    monkeypatch.setattr(actions, "SLEEP", lambda s: None)


@pytest.fixture(scope="session")
def make_scratch(sandbox) -> Callable[..., Scratch]:
    """``make_scratch()``: another scratch account (for module-scoped fixtures)."""
    return lambda: new_scratch(sandbox)


@pytest.fixture(scope="session")
def scenarios() -> dict[str, Callable[[Any], Scenario]]:
    return SCENARIOS


# ------------------------------------------------------------------------------------------------ scenarios
# One scenario per action kind on a scratch account: set the target up, name the actions, read everything the
# action could touch (documents as IAM stores them, byte for byte) and say what must differ after apply.
TRUST_ROOT = (
    '{"Version": "2012-10-17",\n  "Statement": [{"Effect": "Allow", "Principal": {"AWS": '
    '"arn:aws:iam::%s:root"}, "Action": "sts:AssumeRole"},\n {"Effect": "Allow", "Principal": '
    '{"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}'
)
# odd spacing and key order: putting it back "equal as JSON" is not enough, it must be the same text
ODD_DOC = (
    '{ "Statement" : [ {"Resource":"*", "Action" : ["s3:GetObject" ,"s3:ListBucket"], "Effect":"Allow"} ],'
    '\n"Version":"2012-10-17" }'
)
ADMIN_DOC = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
ISSUED = "2026-11-29T00:00:00Z"


@dataclass
class Scenario:
    actions: list[Action]
    state: Callable[[], dict[str, Any]]
    expect: Callable[[dict[str, Any], dict[str, Any]], None]  # (before, after): asserts the change
    reversible: bool = True
    notes: dict[str, Any] = field(default_factory=dict)


def _principal_state(iam, kind: str, name: str) -> dict[str, Any]:
    lst = {"user": iam.list_user_policies, "role": iam.list_role_policies, "group": iam.list_group_policies}[kind]
    att = {
        "user": iam.list_attached_user_policies,
        "role": iam.list_attached_role_policies,
        "group": iam.list_attached_group_policies,
    }[kind]
    key = {"user": "UserName", "role": "RoleName", "group": "GroupName"}[kind]
    names = lst(**{key: name})["PolicyNames"]
    out: dict[str, Any] = {
        "inline": {n: inline_document(iam, kind, name, n) for n in sorted(names)},
        "attached": sorted(p["PolicyArn"] for p in att(**{key: name})["AttachedPolicies"]),
    }
    if kind == "role":
        out["trust"] = role_trust(iam, name)
        out["tags"] = iam.list_role_tags(RoleName=name)["Tags"]
    if kind == "user":
        out["tags"] = iam.list_user_tags(UserName=name)["Tags"]
        out["groups"] = sorted(g["GroupName"] for g in iam.list_groups_for_user(UserName=name)["Groups"])
        out["keys"] = sorted(
            (k["AccessKeyId"], k["Status"]) for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
        )
        try:
            iam.get_login_profile(UserName=name)
            out["login_profile"] = True
        except iam.exceptions.NoSuchEntityException:
            out["login_profile"] = False
    return out


def _role(s, name: str, trust: str | None = None) -> str:
    s.iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust or TRUST_ROOT % s.acct)
    return s.arn("role", name)


def quarantine_role_deny_all(s) -> Scenario:
    arn = _role(s, "ci-deploy")
    s.iam.put_role_policy(RoleName="ci-deploy", PolicyName="app", PolicyDocument=ODD_DOC)

    def expect(b, a):
        assert set(a["inline"]) == {"app", QUARANTINE_POLICY} and a["inline"]["app"] == ODD_DOC
        doc = json.loads(a["inline"][QUARANTINE_POLICY])
        assert doc["Statement"][0]["Action"] == "*" and doc["Statement"][0]["Effect"] == "Deny"
        assert doc["Statement"][1]["Condition"] == {"DateLessThan": {"aws:TokenIssueTime": ISSUED}}

    return Scenario(
        [Action("quarantine_role", s.acct, arn, {"mode": "deny-all", "issued_before": ISSUED}, "t")],
        lambda: _principal_state(s.iam, "role", "ci-deploy"),
        expect,
    )


def quarantine_role_sensitive_replaces(s) -> Scenario:
    """An inline policy already under iamkit's name (odd text) is replaced, and put back byte for byte."""
    arn = _role(s, "etl")
    s.iam.put_role_policy(RoleName="etl", PolicyName=QUARANTINE_POLICY, PolicyDocument=ODD_DOC)
    act = Action("quarantine_role", s.acct, arn, {"mode": "sensitive", "issued_before": ISSUED}, "t")

    def expect(b, a):
        assert b["inline"][QUARANTINE_POLICY] == ODD_DOC
        assert json.loads(a["inline"][QUARANTINE_POLICY]) == quarantine_role_document(act)
        assert "iam:*" in json.loads(a["inline"][QUARANTINE_POLICY])["Statement"][0]["Action"]

    return Scenario([act], lambda: _principal_state(s.iam, "role", "etl"), expect)


def delete_inline_policies(s) -> Scenario:
    s.iam.create_user(UserName="ana")
    s.iam.put_user_policy(UserName="ana", PolicyName="backdoor", PolicyDocument=ODD_DOC)
    _role(s, "batch")
    s.iam.put_role_policy(RoleName="batch", PolicyName="wide", PolicyDocument=ADMIN_DOC)
    s.iam.create_group(GroupName="ops")
    s.iam.put_group_policy(GroupName="ops", PolicyName="odd", PolicyDocument=ODD_DOC)
    s.iam.put_group_policy(GroupName="ops", PolicyName="keep", PolicyDocument=ADMIN_DOC)
    acts = [
        Action("delete_inline_policy", s.acct, s.arn("user", "ana"), {"policy_name": "backdoor"}, "t"),
        Action("delete_inline_policy", s.acct, s.arn("role", "batch"), {"policy_name": "wide"}, "t"),
        Action("delete_inline_policy", s.acct, s.arn("group", "ops"), {"policy_name": "odd"}, "t"),
    ]

    def state():
        return {
            "user": _principal_state(s.iam, "user", "ana"),
            "role": _principal_state(s.iam, "role", "batch"),
            "group": _principal_state(s.iam, "group", "ops"),
        }

    def expect(b, a):
        assert a["user"]["inline"] == {} and a["role"]["inline"] == {}
        assert a["group"]["inline"] == {"keep": ADMIN_DOC}

    return Scenario(acts, state, expect)


def detach_managed(s) -> Scenario:
    pol = s.iam.create_policy(PolicyName="Wide", PolicyDocument=ADMIN_DOC)["Policy"]["Arn"]
    keep = s.iam.create_policy(PolicyName="Keep", PolicyDocument=ODD_DOC)["Policy"]["Arn"]
    _role(s, "app")
    s.iam.attach_role_policy(RoleName="app", PolicyArn=pol)
    s.iam.attach_role_policy(RoleName="app", PolicyArn=keep)
    s.iam.create_group(GroupName="devs")
    s.iam.attach_group_policy(GroupName="devs", PolicyArn=pol)
    s.iam.create_user(UserName="bo")
    s.iam.attach_user_policy(UserName="bo", PolicyArn=pol)
    acts = [
        Action("detach_role_policy", s.acct, s.arn("role", "app"), {"policy_arn": pol}, "t"),
        Action("detach_group_policy", s.acct, s.arn("group", "devs"), {"policy_arn": pol}, "t"),
        Action("detach_user_policy", s.acct, s.arn("user", "bo"), {"policy_arn": pol}, "t"),
    ]

    def state():
        return {
            "role": _principal_state(s.iam, "role", "app"),
            "group": _principal_state(s.iam, "group", "devs"),
            "user": _principal_state(s.iam, "user", "bo"),
        }

    def expect(b, a):
        assert a["role"]["attached"] == [keep] and a["group"]["attached"] == [] and a["user"]["attached"] == []

    return Scenario(acts, state, expect, notes={"policy_arn": pol})


def least_privilege(s) -> Scenario:
    """A role and a user whose managed and inline policies give way to their least-privilege candidates."""
    wide = s.iam.create_policy(PolicyName="Wide", PolicyDocument=ADMIN_DOC)["Policy"]["Arn"]
    _role(s, "worker")
    s.iam.attach_role_policy(RoleName="worker", PolicyArn=wide)
    s.iam.put_role_policy(RoleName="worker", PolicyName="extra", PolicyDocument=ODD_DOC)
    s.iam.create_user(UserName="cy")
    s.iam.put_user_policy(UserName="cy", PolicyName="old", PolicyDocument=ADMIN_DOC)
    role_docs = [
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::logs/*"}],
        },
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": f"arn:aws:sqs:us-east-1:{s.acct}:jobs"}
            ],
        },
    ]
    user_docs = [
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}],
        }
    ]
    acts = [
        Action("put_least_privilege_policy", s.acct, s.arn("role", "worker"), {"candidate": role_docs}, "t"),
        Action("put_least_privilege_policy", s.acct, s.arn("user", "cy"), {"candidate": user_docs}, "t"),
    ]

    def state():
        return {"role": _principal_state(s.iam, "role", "worker"), "user": _principal_state(s.iam, "user", "cy")}

    def expect(b, a):
        base = f"arn:aws:iam::{s.acct}:policy/iamkit/iamkit-lp-"
        assert a["role"]["attached"] == [f"{base}worker-1", f"{base}worker-2"] and a["role"]["inline"] == {}
        assert a["user"]["attached"] == [f"{base}cy-1"] and a["user"]["inline"] == {}
        doc = s.iam.get_policy_version(PolicyArn=f"{base}worker-2", VersionId="v1")["PolicyVersion"]["Document"]
        doc = json.loads(unquote(doc)) if isinstance(doc, str) else doc
        assert doc == role_docs[1]

    return Scenario(acts, state, expect)


def restrict_trust(s) -> Scenario:
    from iamkit.respond.actions import restricted_trust

    arn = _role(s, "shared-admin")
    doc = restricted_trust(json.loads(TRUST_ROOT % s.acct), [s.arn("role", "deployer")], "o-abc123")
    act = Action("restrict_trust", s.acct, arn, {"document": doc}, "t")

    def expect(b, a):
        t = json.loads(a["trust"])
        assert t["Statement"][0]["Principal"] == {"AWS": s.arn("role", "deployer")}
        assert t["Statement"][0]["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}
        assert t["Statement"][1]["Principal"] == {"Service": "ec2.amazonaws.com"}  # service trust untouched
        assert b["trust"] == TRUST_ROOT % s.acct

    return Scenario([act], lambda: _principal_state(s.iam, "role", "shared-admin"), expect)


def tag_principals(s) -> Scenario:
    s.iam.create_user(
        UserName="cy", Tags=[{"Key": "iam-risk:quarantine", "Value": "false"}, {"Key": "team", "Value": "data"}]
    )
    _role(s, "ml")
    tags = {"iam-risk:quarantine": "true", "iam-risk:case": "case-1"}
    acts = [
        Action("tag_principal", s.acct, s.arn("user", "cy"), {"tags": tags}, "t"),
        Action("tag_principal", s.acct, s.arn("role", "ml"), {"tags": tags}, "t"),
    ]

    def state():
        return {"user": _principal_state(s.iam, "user", "cy"), "role": _principal_state(s.iam, "role", "ml")}

    def expect(b, a):
        for who in ("user", "role"):
            got = {t["Key"]: t["Value"] for t in a[who]["tags"]}
            assert got["iam-risk:quarantine"] == "true" and got["iam-risk:case"] == "case-1"
        assert {t["Key"]: t["Value"] for t in a["user"]["tags"]}["team"] == "data"

    def canon():  # IAM's tag order is not part of the state
        st = state()
        for who in st:
            st[who]["tags"] = sorted((t["Key"], t["Value"]) for t in st[who]["tags"])
        return st

    def expect_canon(b, a):
        expect({}, {w: {**a[w], "tags": [{"Key": k, "Value": v} for k, v in a[w]["tags"]]} for w in a})

    return Scenario(acts, canon, expect_canon)


def remove_from_group(s) -> Scenario:
    s.iam.create_user(UserName="di")
    for g in ("admins", "readers"):
        s.iam.create_group(GroupName=g)
        s.iam.add_user_to_group(GroupName=g, UserName="di")

    def expect(b, a):
        assert b["groups"] == ["admins", "readers"] and a["groups"] == ["readers"]

    return Scenario(
        [Action("remove_from_group", s.acct, s.arn("user", "di"), {"group_name": "admins"}, "t")],
        lambda: _principal_state(s.iam, "user", "di"),
        expect,
    )


def remove_login_profile(s) -> Scenario:
    s.iam.create_user(UserName="ed")
    s.iam.create_login_profile(UserName="ed", Password="Sandbox-Passw0rd!")

    def expect(b, a):
        assert b["login_profile"] is True and a["login_profile"] is False

    return Scenario(
        [Action("remove_login_profile", s.acct, s.arn("user", "ed"), {}, "t")],
        lambda: _principal_state(s.iam, "user", "ed"),
        expect,
        reversible=False,
    )


def remove_account_assignment(s) -> Scenario:
    sso = s.client("sso-admin")
    inst = sso.list_instances()["Instances"][0]["InstanceArn"]
    ps = sso.create_permission_set(InstanceArn=inst, Name="Admin")["PermissionSet"]["PermissionSetArn"]
    for pid in ("user-1", "user-2"):
        sso.create_account_assignment(
            InstanceArn=inst,
            TargetId=s.acct,
            TargetType="AWS_ACCOUNT",
            PermissionSetArn=ps,
            PrincipalType="USER",
            PrincipalId=pid,
        )

    def state():
        got = sso.list_account_assignments(InstanceArn=inst, AccountId=s.acct, PermissionSetArn=ps)
        return {"assigned": sorted((x["PrincipalType"], x["PrincipalId"]) for x in got["AccountAssignments"])}

    def expect(b, a):
        assert b["assigned"] == [("USER", "user-1"), ("USER", "user-2")] and a["assigned"] == [("USER", "user-2")]

    act = Action(
        "remove_account_assignment",
        s.acct,
        ps,
        {"instance_arn": inst, "target_account_id": s.acct, "principal_type": "USER", "principal_id": "user-1"},
        "t",
    )
    return Scenario([act], state, expect)


SCENARIOS: dict[str, Callable[[Any], Scenario]] = {
    f.__name__: f
    for f in (
        quarantine_role_deny_all,
        quarantine_role_sensitive_replaces,
        delete_inline_policies,
        detach_managed,
        least_privilege,
        restrict_trust,
        tag_principals,
        remove_from_group,
        remove_login_profile,
        remove_account_assignment,
    )
}
