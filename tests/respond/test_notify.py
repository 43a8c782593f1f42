"""Notifications: escaped for each target, delivered to the sandbox's fake receivers (and moto's SNS), settings
from the environment or a file and never written into a case, failures reported and never fatal."""

from __future__ import annotations

import json

import pytest

from iamkit.errors import BadInput
from iamkit.respond.notify import (
    Message,
    notify_case,
    send,
    settings,
    slack_escape,
    slack_payload,
    teams_escape,
    teams_payload,
)

HOSTILE = "<!channel> <http://evil.example|click> & *bold* [x](http://evil.example) {{DATE(2017-02-14T06:08:39Z)}}"


def _msg(**kw):
    base = {
        "case_id": "case-1",
        "severity": "high",
        "found": [f"IAMKIT-TRUST-002: role/{HOSTILE}"],
        "done": ["tag_principal arn:aws:iam::123456789012:role/x"],
        "awaiting": ["restrict_trust role/x"],
    }
    return Message(**{**base, **kw})


def test_every_value_is_escaped_for_its_target():
    s = json.dumps(slack_payload(_msg()))
    assert "<!channel>" not in s and "<http://evil" not in s and "&lt;!channel&gt;" in s and "&amp;" in s
    assert slack_escape("a<b>&c") == "a&lt;b&gt;&amp;c"
    t = teams_payload(_msg())
    texts = [b["text"] for b in t["attachments"][0]["content"]["body"]]
    joined = "\n".join(texts)
    assert "{{DATE" not in joined and "](http" not in joined and "\\[x\\]" in joined and "\\*bold\\*" in joined
    assert teams_escape("a_b") == "a\\_b" and teams_escape("1. x") == "\\1. x" and teams_escape("- x") == "\\- x"
    m = _msg(found=["line one\n# heading\n- item"])  # no newline reaches a Markdown renderer
    assert all("\n" not in x for _n, lines in m.sections() for x in lines)
    with pytest.raises(BadInput, match="severity"):
        send(_msg(severity="urgent"), conf={})


def test_delivered_to_the_fake_receivers(sandbox):
    rec = sandbox.receivers
    rec.clear()
    rows, errors = send(_msg(), conf=settings(sandbox.env()), only=["slack", "teams", "pagerduty"])
    assert errors == [] and [(r["receiver"], r["ok"]) for r in rows] == [
        ("slack", True),
        ("teams", True),
        ("pagerduty", True),
    ]
    slack, teams, pd_ = rec.of("slack")[-1]["body"], rec.of("teams")[-1]["body"], rec.of("pagerduty")[-1]["body"]
    assert "case-1" in slack["text"] and "&lt;!channel&gt;" in json.dumps(slack)
    assert teams["attachments"][0]["content"]["type"] == "AdaptiveCard"
    assert pd_["payload"]["severity"] == "error" and pd_["dedup_key"] == "iamkit-case-1"
    assert pd_["payload"]["custom_details"]["Awaiting approval"] == ["restrict_trust role/x"]
    # a wrong routing key, a dead URL: error rows, never an exception
    bad = {
        **settings(sandbox.env()),
        "pagerduty_routing_key": "x" * 32,
        "slack_webhook_url": "http://127.0.0.1:9/slack/services/nope",
    }
    rows, errors = send(_msg(), conf=bad, only=["slack", "pagerduty"])
    assert [r["ok"] for r in rows] == [False, False] and len(errors) == 2
    assert "HTTP 400" in errors[1]["message"] and "127.0.0.1:9" not in json.dumps(errors, default=str)
    assert send(_msg(), conf={"slack_webhook_url": "http://example.com/x"})[1][0]["message"].startswith(
        "slack: the receiver URL must be https"
    )


def test_sns_reaches_moto(scratch):
    from iamkit.sandbox.receivers import sns_inbox

    sns, sqs = scratch.client("sns"), scratch.client("sqs")
    topic, queue = sns_inbox(sns, sqs)
    rows, errors = send(_msg(), conf={"sns_topic_arn": topic}, sns=sns)
    assert errors == [] and rows[0]["ok"]
    got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1)["Messages"][0]["Body"]
    assert got.startswith("[HIGH] iamkit") and "case-1" in got and "Awaiting approval:" in got


def test_settings_from_a_file_and_env(tmp_path):
    f = tmp_path / "notify.yaml"
    f.write_text("slack_webhook_url: https://hooks.example/1\npagerduty_routing_key: abc\n")
    conf = settings({"IAMKIT_NOTIFY_FILE": str(f), "IAMKIT_PAGERDUTY_ROUTING_KEY": "from-env"})
    assert conf == {"slack_webhook_url": "https://hooks.example/1", "pagerduty_routing_key": "from-env"}
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(BadInput, match="IAMKIT_NOTIFY_FILE"):
        settings({"IAMKIT_NOTIFY_FILE": str(tmp_path / "bad.json")})


def test_cli_apply_notifies_and_no_url_or_key_lands_in_the_case(scratch, case, sandbox, capsys, monkeypatch):
    from iamkit.case import Case
    from iamkit.cli import main
    from iamkit.respond import Action, Plan, capture_before

    rec = sandbox.receivers
    rec.clear()
    scratch.iam.create_user(UserName="nia")
    plan = capture_before(
        Plan(case.id, [Action("quarantine_user", scratch.acct, scratch.arn("user", "nia"), {}, "found <b>")]),
        scratch.clients(),
    )
    case.save_json("remediation-plan", plan.to_dict())
    case.finish()
    monkeypatch.setenv("IAMKIT_SLACK_WEBHOOK_URL", "http://127.0.0.1:9/dead")  # one receiver fails
    with pytest.raises(SystemExit) as e:
        main(["remediate", "apply", str(case.path), "--approve", plan.hash, "--format", "json"])
    out = capsys.readouterr()
    assert e.value.code == 0, out.err  # a failed notification does not fail the remediation
    assert "notification not delivered: slack" in out.err
    assert [r["receiver"] for r in rec.received] == ["teams", "pagerduty"]
    assert "quarantine_user" in json.dumps(rec.of("pagerduty")[0]["body"])
    assert "quarantine\\\\_user" in json.dumps(rec.of("teams")[0]["body"])  # escaped Markdown
    secrets_ = [v for k, v in sandbox.env().items() if k.startswith(("IAMKIT_TEAMS", "IAMKIT_PAGERDUTY"))]
    secrets_ += [rec.token, rec.routing_key, "127.0.0.1:9"]
    blob = b"".join(p.read_bytes() for p in case.path.rglob("*") if p.is_file())
    assert not [s for s in secrets_ if s.encode() in blob]
    notified = [x for x in Case.open(case.path).journal_entries() if x["event"] == "notified"]
    assert [r["receiver"] for r in notified[0]["receivers"]] == ["slack", "teams", "pagerduty"]
    assert Case.open(case.path).verify() == []


def test_notify_case_without_receivers_does_nothing(case):
    assert notify_case(case, None, [], conf={}) == []
    assert case.journal_entries() == []
