"""The person steps' pure parts: which sign-ins are risky, which sessions a risky sign-in's IP opened, and the
containment proposed for a person."""

from __future__ import annotations

import pandas as pd
import pytest

from iamkit.errors import BadInput
from iamkit.investigate import person as P

ROLE = "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_AdministratorAccess_0a1b2c3d"
PS_ARN = "arn:aws:sso:::permissionSet/ssoins-1/ps-admin"


def _signins():
    t = pd.Timestamp("2026-12-06T10:00:00Z")
    rows = [
        (t, "198.51.100.7", "none", True, "US"),
        (t + pd.Timedelta(minutes=5), "203.0.113.9", "high", False, "NL"),
        (t + pd.Timedelta(minutes=9), "203.0.113.9", "high", True, "NL"),
        (t + pd.Timedelta(minutes=20), "192.0.2.44", "medium", False, None),
    ]
    return pd.DataFrame(rows, columns=["created", "ip_address", "risk_level", "success", "country"])


def test_risky_signins_are_the_rated_ones_oldest_first():
    got = P.risky_signins(_signins().iloc[::-1])
    assert got == [
        {
            "time": "2026-12-06T10:05:00Z",
            "ip": "203.0.113.9",
            "country": "NL",
            "risk_level": "high",
            "succeeded": False,
        },
        {"time": "2026-12-06T10:09:00Z", "ip": "203.0.113.9", "country": "NL", "risk_level": "high", "succeeded": True},
        {
            "time": "2026-12-06T10:20:00Z",
            "ip": "192.0.2.44",
            "country": None,
            "risk_level": "medium",
            "succeeded": False,
        },
    ]
    assert P.risky_signins(_signins().iloc[:1]) == []


def test_only_sessions_from_a_risky_signin_that_got_in_are_suspicious():
    sessions = pd.DataFrame(
        [
            {"kind": "role_session", "role_arn": ROLE, "access_key_id": "ASIAHOME", "source_ips": ["198.51.100.7"]},
            {"kind": "role_session", "role_arn": ROLE, "access_key_id": "ASIABAD", "source_ips": ["203.0.113.9"]},
            # a failed risky sign-in's IP opened nothing: its session is not the attacker's
            {"kind": "role_session", "role_arn": ROLE, "access_key_id": "ASIAOTHER", "source_ips": ["192.0.2.44"]},
            {"kind": "identity_center", "role_arn": None, "access_key_id": None, "source_ips": ["203.0.113.9"]},
        ]
    )
    got = P.suspicious_sessions(sessions, P.risky_signins(_signins()))
    assert list(got["access_key_id"]) == ["ASIABAD"]
    assert P.suspicious_sessions(sessions, []).empty


def test_containment_shuts_the_person_out_of_entra_and_the_accounts_reached():
    f = {
        "subject": {"kind": "person", "id": "ivan@contoso.example", "account_id": None},
        "person": {"permission_sets": [{"permission_set": "AdministratorAccess", "account_id": "111122223333"}]},
        "roles_assumed": [{"role_arn": ROLE}],
    }
    assignments = [
        {
            "account_id": "111122223333",
            "permission_set": "AdministratorAccess",
            "permission_set_arn": PS_ARN,
            "principal_type": "GROUP",
            "principal_id": "g-admins",
            "via": "group:AWS-Admins",
        },
        {
            "account_id": "444455556666",
            "permission_set": "AdministratorAccess",
            "permission_set_arn": PS_ARN,
            "principal_type": "GROUP",
            "principal_id": "g-admins",
            "via": "group:AWS-Admins",
        },
    ]
    got = P.proposals(f, assignments, "arn:aws:sso:::instance/ssoins-1", "999988887777", "2026-12-06T12:00:00Z")
    assert [(p.kind, p.target_arn) for p in got] == [
        ("revoke_entra_sessions", "ivan@contoso.example"),
        ("disable_entra_user", "ivan@contoso.example"),
        ("remove_account_assignment", PS_ARN),
        ("revoke_role_sessions", ROLE),
    ]
    remove = got[2]
    assert remove.account_id == "999988887777"
    assert remove.params == {
        "instance_arn": "arn:aws:sso:::instance/ssoins-1",
        "target_account_id": "111122223333",
        "principal_type": "GROUP",
        "principal_id": "g-admins",
    }
    assert got[0].params == {"user": "ivan@contoso.example", "issued_before": "2026-12-06T12:00:00Z"}


@pytest.mark.parametrize("bad", ["", "arn:aws:iam::111122223333:role/x", "two words@x"])
def test_the_subject_must_be_a_upn(bad):
    with pytest.raises(BadInput):
        P.check({"subject": bad})
    P.check({"subject": "ivan@contoso.example"})
