"""The investigation layer's shared pieces, without a sandbox: a subject checked on entry, who opened a role's
sessions, the trust to restrict a role to, the post-mortem's lessons, and the steps each playbook names."""

from __future__ import annotations

import pandas as pd
import pytest

from iamkit.errors import BadInput
from iamkit.investigate import playbooks
from iamkit.investigate.postmortem import lessons
from iamkit.investigate.subject import Subject, role_arn_param
from iamkit.investigate.trust import usage_of
from iamkit.respond.actions import restricted_trust

ROLE = "arn:aws:iam::111122223333:role/prod-deploy"
CI = "arn:aws:iam::444455556666:role/ci"


@pytest.mark.parametrize(
    ("kind", "value", "want"),
    [
        ("key", "AKIAIOSFODNN7EXAMPLE", Subject("key", "AKIAIOSFODNN7EXAMPLE")),
        ("key", "ASIAIOSFODNN7EXAMPLE", Subject("session", "ASIAIOSFODNN7EXAMPLE")),
        ("principal", ROLE, Subject("principal", ROLE, "111122223333")),
        (
            "principal",
            "arn:aws:iam::111122223333:root",
            Subject("principal", "arn:aws:iam::111122223333:root", "111122223333"),
        ),
        ("person", "ana@example.com", Subject("person", "ana@example.com")),
        ("resource", "arn:aws:s3:::bucket", Subject("resource", "arn:aws:s3:::bucket")),
    ],
)
def test_a_subject_is_checked_on_entry(kind, value, want):
    assert Subject.parse(kind, value) == want


@pytest.mark.parametrize(
    ("kind", "value", "says"),
    [
        ("key", "", "required"),
        ("key", "akiaiosfodnn7example", "access key"),
        ("key", "AKIA" + "A" * 200, "access key"),
        ("principal", "arn:aws:iam::1:role/" + "a" * 3000, "too long"),
        ("principal", "not an arn", "spaces"),
        ("principal", "prod-deploy", "not an ARN"),
        ("principal", "arn:aws:s3:::bucket", "not an IAM role"),
        ("person", "ana", "user principal name"),
        ("thing", "x", "kind"),
    ],
)
def test_a_bad_subject_is_one_clear_line(kind, value, says):
    with pytest.raises(BadInput, match=says):
        Subject.parse(kind, value)


def test_a_trust_subject_must_be_a_role():
    with pytest.raises(BadInput, match="not an IAM role ARN"):
        role_arn_param("arn:aws:iam::111122223333:user/alice")


def _ev(rows):
    cols = [
        "event_time",
        "event_id",
        "relation",
        "event_name",
        "identity_type",
        "principal_arn",
        "session_issuer_arn",
        "error_code",
    ]
    return pd.DataFrame([dict(zip(cols, r, strict=True)) for r in rows], columns=cols)


def test_usage_counts_each_session_once_and_only_the_granted_ones():
    ev = _ev(
        [
            (pd.Timestamp("2026-01-01T01:00Z"), "1", "opened", "AssumeRole", "AssumedRole", f"{CI}/s1", CI, None),
            # the role account's copy of the same cross-account call: not a second session
            (pd.Timestamp("2026-01-01T01:00Z"), "2", "opened", "AssumeRole", "AWSAccount", None, None, None),
            (
                pd.Timestamp("2026-01-02T01:00Z"),
                "3",
                "opened",
                "AssumeRole",
                "IAMUser",
                "arn:aws:iam::444455556666:user/bob",
                None,
                "AccessDenied",
            ),
            (
                pd.Timestamp("2026-01-03T01:00Z"),
                "4",
                "made",
                "GetCallerIdentity",
                "AssumedRole",
                f"{ROLE}/s1",
                ROLE,
                None,
            ),
            (pd.Timestamp("2026-01-04T02:00Z"), "5", "opened", "AssumeRole", "AssumedRole", f"{CI}/s2", CI, None),
        ]
    )
    u = usage_of(ev, ROLE)
    assert u["used_by"] == [CI] and u["sessions"] == 2
    assert (u["first_used"], u["last_used"]) == ("2026-01-01T01:00:00Z", "2026-01-04T02:00:00Z")


def test_the_restricted_trust_names_the_callers_in_the_organization_and_keeps_services():
    """The one trust restriction (``iamkit.respond.actions.restricted_trust``) the playbook proposes."""
    before = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"},
        ],
    }
    after = restricted_trust(before, [CI], "o-abc123")
    assert after["Statement"][1] == before["Statement"][1]
    assert after["Statement"][0]["Principal"] == {"AWS": CI}
    assert after["Statement"][0]["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}
    assert "Condition" not in restricted_trust(before, [CI], None)["Statement"][0]
    with pytest.raises(BadInput, match="needs the principals"):  # nobody used it: nothing to restrict to
        restricted_trust(before, [], "o-abc123")


def test_lessons_time_the_detection_and_pick_guardrails_from_the_facts():
    facts = {
        "subject": {"kind": "principal", "id": ROLE, "account_id": "111122223333"},
        "window": {"start": "2026-01-01T00:00:00Z"},
        "logging_changes": [{"event_name": "StopLogging"}],
        "exposure": None,
        "standing_detections": ["iamkit-logging-stopped"],
    }
    det = pd.DataFrame({"first_seen": [pd.Timestamp("2026-01-01T00:10Z"), pd.Timestamp("2026-01-01T00:05Z")]})
    journal = [
        {"event": "applied", "at": "2026-01-01T01:00:00+00:00", "failed": 0},
        {"event": "after", "at": "2026-01-01T01:00:30+00:00", "verified": True},
    ]
    pm = lessons(facts, det, journal, "abc")
    assert pm["time_to_detect"]["seconds"] == 300
    assert pm["time_to_contain"]["seconds"] == 55 * 60 and pm["time_to_recover"]["seconds"] == 55 * 60 + 30
    kinds = [g["kind"] for g in pm["guardrails"]]
    assert kinds == ["scp", "detection"] and "cloudtrail:StopLogging" in pm["guardrails"][0]["what"]
    assert pm["detection_gaps"] == []
    none = lessons(facts, None, [], "abc")
    assert none["time_to_detect"]["seconds"] is None and none["detection_gaps"]
    assert "dry-run plan abc" in none["time_to_contain"]["note"]


def test_every_incident_playbook_has_its_steps_and_an_unknown_one_is_refused():
    from iamkit import playbook

    for name in playbooks.REGISTRY:
        pb = playbook.load(name)
        assert playbooks.get(name).playbook == pb.id
        assert all(s.parameters.get("playbook", "compromised-access-key") == name for s in pb.steps)
    with pytest.raises(BadInput, match="no investigation steps"):
        playbooks.get("weekly-inventory")


def test_a_notebook_started_alone_checks_its_subject_before_making_a_case(tmp_path, monkeypatch):
    from iamkit.investigate.access_key import open_case

    monkeypatch.setenv("IAMKIT_CASES", str(tmp_path / "cases"))
    with pytest.raises(BadInput, match="not an IAM role ARN"):
        open_case("", step="01", playbook="cross-account-trust-exposure", subject="arn:aws:iam::1:user/x")
    with pytest.raises(BadInput, match="required"):
        open_case("", step="01", playbook="logging-tampering", subject="")
    assert not (tmp_path / "cases").exists()


def test_a_person_has_no_cloudtrail_timeline_of_its_own():
    from iamkit.investigate.subject import events_of

    with pytest.raises(BadInput, match="correlate"):
        events_of(None, Subject.parse("person", "ana@example.com"))
