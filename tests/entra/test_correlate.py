"""Person correlation end to end: the fake Entra + Identity Center on moto + a CloudTrail store built from records."""

from __future__ import annotations

from datetime import timedelta

import pytest
from entra_helpers import ATTACKER, DEV, DIRECT_ROLE, NOW, PROD, SSO_ROLE, trail_records
from hypothesis import given
from hypothesis import strategies as st

from iamkit import frames
from iamkit.correlate import build_timeline, correlate

pytestmark = pytest.mark.sandbox

ALICE = "alice@corp.example"


@pytest.fixture
def aws(identity_center, moto_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    return identity_center


@pytest.fixture
def trail(fake, aws):
    import duckdb

    from iamkit.trail import Trail, store

    con = duckdb.connect()
    store.insert_records(con, trail_records(fake, aws["users"][ALICE]))
    yield Trail(con)
    con.close()


def test_correlate_joins_entra_identity_center_and_cloudtrail(beta_graph, aws, trail, fake):
    view = correlate(ALICE, graph=beta_graph, aws_session=aws["session"], trail=trail, since=NOW - timedelta(days=14))
    assert view.skipped == {} and len(view.errors) == 0, view.errors.to_dict("records")
    for name, schema in (
        ("profile", "entra_user"),
        ("mfa", "entra_mfa"),
        ("signins", "entra_signins"),
        ("groups", "person_groups"),
        ("identity_center_user", "person_identity_center_user"),
        ("assignments", "person_assignments"),
        ("roles", "person_roles"),
        ("sessions", "person_sessions"),
        ("activity", "person_activity"),
        ("timeline", "person_timeline"),
        ("errors", "errors"),
    ):
        frames.check(getattr(view, name), schema)
    assert view.profile["display_name"].tolist() == ["Alice Ames"]
    assert bool(view.mfa["is_mfa_registered"].iloc[0]) is True
    ic = view.identity_center_user.iloc[0]
    assert ic["user_id"] == aws["users"][ALICE] and ic["matched_by"] == "userName"
    assert set(view.groups.loc[view.groups["source"] == "identity_center", "display_name"]) == {"AWS-Admins"}
    assert {"AWS-Admins", "Engineering"} <= set(view.groups.loc[view.groups["source"] == "entra", "display_name"])
    got = {(a["account_id"], a["permission_set"], a["via"]) for a in view.assignments.to_dict("records")}
    assert got == {(PROD, "AdministratorAccess", "group:AWS-Admins"), (DEV, "ReadOnly", "direct")}
    roles = {(r["account_id"], r["role_name"]): r for r in view.roles.to_dict("records")}
    admin = roles[(PROD, SSO_ROLE.rsplit("/", 1)[-1])]
    assert admin["permission_set"] == "AdministratorAccess" and bool(admin["used"]) and admin["role_arn"] == SSO_ROLE
    assert roles[(DEV, "AWSReservedSSO_ReadOnly_*")]["used"] is False or not bool(
        roles[(DEV, "AWSReservedSSO_ReadOnly_*")]["used"]
    )
    assert roles[(DEV, "EntraFederatedAdmins")]["via"] == "direct SAML / session name"


def test_sessions_cover_saml_identity_center_role_sessions_and_iam_users(graph, aws, trail):
    view = correlate(ALICE, graph=graph, aws_session=aws["session"], trail=trail, since=NOW - timedelta(days=14))
    s = view.sessions
    assert sorted(s["kind"]) == ["iam_user", "identity_center", "role_session", "saml", "saml"]
    role = s[s["kind"] == "role_session"].iloc[0]
    assert (
        role["access_key_id"] == "ASIAALICESSO00000001"
        and role["events"] == 2
        and role["origin"] == "AssumeRoleWithSAML"
    )
    direct = s[(s["kind"] == "saml") & (s["role_arn"] == DIRECT_ROLE)].iloc[0]
    assert bool(direct["direct_saml"]) is True
    iam = s[s["kind"] == "iam_user"].iloc[0]
    assert iam["events"] == 3 and iam["errors"] == 1 and list(iam["source_ips"]) == [ATTACKER]
    assert iam["origin"] == "IAM user named after the UPN"
    assert "ASIABOB0000000000001" not in set(view.activity["access_key_id"].dropna())
    assert len(view.activity) == 8


def test_timeline_says_whether_ip_and_time_agree(graph, aws, trail):
    view = correlate(
        ALICE,
        graph=graph,
        aws_session=aws["session"],
        trail=trail,
        since=NOW - timedelta(days=14),
        iam_user_arns=[f"arn:aws:iam::{PROD}:user/alice"],
    )
    tl = view.timeline
    aws_rows = tl[tl["source"] == "aws"]
    sso = aws_rows[(aws_rows["kind"] == "role_session")].iloc[0]
    assert bool(sso["ip_match"]) and bool(sso["time_match"]) and sso["agreement"].startswith("yes")
    assert 0 < sso["minutes_from_signin"] <= 30
    attacker = aws_rows[aws_rows["kind"] == "iam_user"].iloc[0]
    assert attacker["ip"] == ATTACKER and not bool(attacker["ip_match"])
    assert attacker["ip_seen_in_entra"] == "failed_only"
    assert attacker["agreement"].startswith("NO")
    assert view.summary()["aws_sessions_without_matching_signin"] >= 1
    entra_rows = tl[tl["source"] == "entra"]
    assert {"signin", "signin_failed", "risk"} <= set(entra_rows["kind"])
    assert tl["time"].is_monotonic_increasing


def test_without_graph_the_aws_side_still_correlates(aws, trail):
    view = correlate(ALICE, aws_session=aws["session"], trail=trail, since=NOW - timedelta(days=14))
    assert "entra" in view.skipped and len(view.profile) == 0
    assert len(view.sessions) == 5
    assert set(view.timeline["agreement"].dropna()) == {"unknown: no Entra sign-ins"}


def test_without_a_licence_signins_are_skipped_not_fatal(graph, aws, trail, fake):
    fake.licence = "free"
    view = correlate(ALICE, graph=graph, aws_session=aws["session"], trail=trail, since=NOW - timedelta(days=14))
    assert view.skipped["signins"] == "needs Entra ID P1"
    assert view.skipped["risky_user"] == "needs Entra ID P2"
    assert view.mfa["source"].tolist() == ["methods"]  # derived from the method list without the P1 report
    assert len(view.profile) == 1 and view.profile["last_sign_in"].isna().all()
    assert len(view.sessions) == 5
    assert {"entra:signins", "entra:risky_user"} <= set(view.errors["operation"])


def test_identity_center_falls_back_to_a_case_insensitive_scan(aws, trail):
    view = correlate("ALICE@Corp.Example", aws_session=aws["session"], trail=trail, since=NOW - timedelta(days=14))
    assert view.identity_center_user["user_id"].tolist() == [aws["users"][ALICE]]
    assert len(view.sessions) == 5


def test_unknown_person_gives_errors_not_a_crash(graph, aws, trail):
    view = correlate("nobody@corp.example", graph=graph, aws_session=aws["session"], trail=trail)
    assert len(view.sessions) == 0 and len(view.identity_center_user) == 0
    assert {"entra:person", "identitystore:GetUserId"} <= set(view.errors["operation"])


def test_a_broken_store_is_an_error_row(graph, aws):
    import duckdb

    from iamkit.trail import Trail

    con = duckdb.connect()  # no events table
    view = correlate(ALICE, aws_session=aws["session"], trail=Trail(con))
    assert "trail:sessions" in set(view.errors["operation"]) and len(view.assignments) == 2


def test_not_a_upn_is_bad_input():
    from iamkit.errors import BadInput

    with pytest.raises(BadInput, match="user principal name"):
        correlate("alice")


def test_build_timeline_pure_cases():
    import pandas as pd

    from iamkit.entra.frames import signins_frame

    t0 = "2026-01-01T10:00:00Z"
    s = signins_frame(
        [
            {
                "id": "1",
                "createdDateTime": t0,
                "userPrincipalName": "a@b.c",
                "ipAddress": "1.1.1.1",
                "isInteractive": True,
                "status": {"errorCode": 0},
                "appDisplayName": "AWS",
            }
        ]
    )
    sessions = frames.conform(
        [
            {
                "kind": "role_session",
                "first_seen": "2026-01-01T10:10:00Z",
                "source_ips": ["1.1.1.1"],
                "events": 1,
                "errors": 0,
                "origin": "x",
            },
            {
                "kind": "role_session",
                "first_seen": "2026-01-01T10:12:00Z",
                "source_ips": ["2.2.2.2"],
                "events": 1,
                "errors": 0,
                "origin": "x",
            },
            {
                "kind": "role_session",
                "first_seen": "2026-01-03T10:00:00Z",
                "source_ips": ["1.1.1.1"],
                "events": 1,
                "errors": 0,
                "origin": "x",
            },
        ],
        "person_sessions",
    )
    tl = build_timeline(s, sessions, window=timedelta(minutes=15))
    verdicts = tl.loc[tl["source"] == "aws", "agreement"].tolist()
    assert (
        verdicts[0].startswith("yes")
        and verdicts[1].startswith("NO: different IP")
        and verdicts[2].startswith("partly")
    )
    assert tl.loc[tl["source"] == "aws", "minutes_from_signin"].tolist()[:2] == [10.0, 12.0]
    assert isinstance(tl["time"].dtype, pd.DatetimeTZDtype)


@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=50), st.integers(-100, 10_100))
def test_nearest_signin_agrees_with_brute_force(times, t):
    from iamkit.correlate import _nearest

    items = sorted((x, f"ip{x}") for x in times)
    got = _nearest(items, [i[0] for i in items], t)
    assert abs(got[0] - t) == min(abs(x - t) for x in times)
