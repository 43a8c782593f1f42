"""The fake Entra/Graph itself: seeding from a SeededOrg, its OData filter subset, certificates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from entra_helpers import ALICE, ATTACKER, small_org
from hypothesis import given
from hypothesis import strategies as st

from iamkit.sandbox.entra import BadFilter, compile_filter, make_certificates
from iamkit.sandbox.entra_data import build, incident_person, signins_from_trail

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


def test_directory_has_the_same_people_as_the_org():
    org = small_org()
    d = build(org, tenant_id="t", now=NOW)
    assert {u["userPrincipalName"] for u in d.users.values()} == {p.upn for p in org.people}
    assert {u["id"] for u in d.users.values()} == {p.entra_object_id for p in org.people}
    carol = d.user("CAROL@corp.example")
    assert carol["accountEnabled"] is False
    assert all(s["status"]["errorCode"] == 50057 for s in d.signins if s["userId"] == carol["id"])
    bob = d.user("bob@corp.example")
    assert d.registration[bob["id"]]["isMfaRegistered"] is False
    assert {s["authenticationRequirement"] for s in d.signins if s["userId"] == bob["id"]} == {
        "singleFactorAuthentication"
    }


def test_seeding_is_deterministic_and_within_the_window():
    a, b = build(small_org(), tenant_id="t", now=NOW), build(small_org(), tenant_id="t", now=NOW)
    assert a.signins == b.signins and a.audits == b.audits
    times = [datetime.fromisoformat(s["createdDateTime"].replace("Z", "+00:00")) for s in a.signins]
    assert min(times) >= NOW - timedelta(days=15) and max(times) < NOW


def test_home_ip_for_normal_signins_and_the_attacker_before_the_incident():
    org = small_org()
    d = build(org, tenant_id="t", now=NOW)
    assert incident_person(org).upn == ALICE
    start = datetime(2026, 11, 28, 10, tzinfo=UTC)
    attacker = [s for s in d.signins if s["ipAddress"] == ATTACKER]
    assert len(attacker) == 3 and all(s["status"]["errorCode"] != 0 for s in attacker)
    assert all(
        start - timedelta(minutes=15) <= datetime.fromisoformat(s["createdDateTime"].replace("Z", "+00:00")) < start
        for s in attacker
    )
    ok = [s for s in d.signins if s["status"]["errorCode"] == 0]
    homes = {p.upn: p.home_ip for p in org.people}
    assert all(s["ipAddress"] == homes[s["userPrincipalName"]] for s in ok)
    assert [r["userPrincipalName"] for r in d.risky_users if r["riskLevel"] == "high"] == [ALICE]
    assert {r["ipAddress"] for r in d.risk_detections if r["userPrincipalName"] == ALICE} == {ATTACKER}


def test_no_incident_means_no_attacker_signins():
    org = small_org()
    org.incident = None
    d = build(org, tenant_id="t", now=NOW)
    assert not [s for s in d.signins if s["ipAddress"] == ATTACKER]


def test_aws_signins_from_the_trail_get_a_matching_entra_signin():
    org = small_org()
    org.people[0].identity_center_user_id = "ic-alice"
    rec = {
        "eventName": "Authenticate",
        "eventTime": "2026-11-20T09:00:00Z",
        "sourceIPAddress": "198.51.100.10",
        "userAgent": "Mozilla/5.0",
        "userIdentity": {"type": "IdentityCenterUser", "onBehalfOf": {"userId": "ic-alice"}},
    }
    wanted = signins_from_trail(org, [rec, {**rec, "errorCode": "Failed"}, {**rec, "eventName": "Federate"}])
    assert wanted == [
        {"upn": ALICE, "time": "2026-11-20T09:00:00Z", "ip": "198.51.100.10", "user_agent": "Mozilla/5.0"}
    ]
    d = build(org, tenant_id="t", now=NOW, aws_signins=wanted)
    match = [s for s in d.signins if s["createdDateTime"].startswith("2026-11-20T08:59")]
    assert len(match) == 1 and match[0]["appDisplayName"] == "AWS IAM Identity Center"


ITEM = {
    "userPrincipalName": "Alice@Corp.Example",
    "createdDateTime": "2026-11-20T09:00:00Z",
    "isInteractive": True,
    "signInEventTypes": ["nonInteractiveUser"],
    "status": {"errorCode": 0},
    "targetResources": [{"userPrincipalName": "bob@corp.example"}],
}


@pytest.mark.parametrize(
    ("expr", "hit"),
    [
        ("userPrincipalName eq 'alice@corp.example'", True),
        ("userPrincipalName eq 'bob@corp.example'", False),
        ("createdDateTime ge 2026-11-20T00:00:00Z and createdDateTime lt 2026-11-21T00:00:00Z", True),
        ("createdDateTime lt 2026-11-20T09:00:00Z", False),
        ("signInEventTypes/any(t: t eq 'nonInteractiveUser')", True),
        ("targetResources/any(t: t/userPrincipalName eq 'BOB@corp.example')", True),
        ("startswith(userPrincipalName, 'ali')", True),
        ("status/errorCode eq 0", True),
        ("isInteractive eq false", False),
        ("(userPrincipalName eq 'alice@corp.example')", True),
        ("", True),
    ],
)
def test_filter_subset(expr, hit):
    assert compile_filter(expr)(ITEM) is hit


@pytest.mark.parametrize("expr", ["userPrincipalName in ('a')", "contains(displayName, 'x')", "x eq bare"])
def test_unsupported_filters_are_refused(expr):
    with pytest.raises(BadFilter):
        compile_filter(expr)


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
)
def test_time_window_filter_agrees_with_python(t, lo):
    t, lo = t.replace(microsecond=0, tzinfo=UTC), lo.replace(microsecond=0, tzinfo=UTC)
    item = {"createdDateTime": t.strftime("%Y-%m-%dT%H:%M:%SZ")}
    hi = lo + timedelta(days=1)
    expr = f"createdDateTime ge {lo:%Y-%m-%dT%H:%M:%SZ} and createdDateTime lt {hi:%Y-%m-%dT%H:%M:%SZ}"
    assert compile_filter(expr)(item) is (lo <= t < hi)


def test_certificates_chain_to_the_ca(tmp_path):
    from cryptography import x509

    ca_path, cert_path, key_path = make_certificates(tmp_path)
    ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    cert.verify_directly_issued_by(ca)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in sans.get_values_for_type(x509.DNSName)
    assert oct(key_path.stat().st_mode & 0o777) == "0o600"
