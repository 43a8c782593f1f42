"""The fake Graph is as strict as the real one: each rule of ``iamkit.sandbox.entra``, checked over bare HTTPS
(no iamkit client), so a lenient fake cannot hide a client that only works against it."""

from __future__ import annotations

import base64
import json

import pytest
from entra_helpers import ALICE

from iamkit.sandbox.entra import RATE_LIMITS, V1_SIGNIN_FIELDS

pytestmark = pytest.mark.sandbox

BETA_ONLY = {"authenticationRequirement", "mfaDetail", "authenticationDetails", "userAgent", "signInEventTypes"}
ALICE_ID = "0a0a0a0a-0000-4000-8000-00000000000a"
SIGNINS = "/auditLogs/signIns"
RISKY = "/identityProtection/riskyUsers"


def _error(resp) -> tuple[str, str]:
    err = resp.json()["error"]
    return err["code"], err["message"]


# ---------------------------------------------------------------- sign-in field sets per version
def test_v1_signins_carry_only_the_v1_fields_and_beta_adds_the_mfa_ones(raw, fake):
    v1 = raw("GET", f"/v1.0{SIGNINS}", params={"$top": "999"}).json()["value"]
    beta = raw("GET", f"/beta{SIGNINS}", params={"$top": "999"}).json()["value"]
    assert v1 and {k for s in v1 for k in s} <= V1_SIGNIN_FIELDS
    assert not {k for s in v1 for k in s} & BETA_ONLY
    assert all(BETA_ONLY <= set(s) for s in beta)
    assert {s["id"] for s in v1} == {s["id"] for s in beta}  # the same (interactive) sign-ins
    assert all(s["isInteractive"] for s in v1 + beta)


def test_v1_refuses_to_filter_or_select_a_beta_only_property(raw):
    for params in (
        {"$filter": "signInEventTypes/any(t: t eq 'nonInteractiveUser')"},
        {"$select": "id,authenticationRequirement"},
    ):
        resp = raw("GET", f"/v1.0{SIGNINS}", params=params)
        assert resp.status_code == 400 and "Could not find a property named" in _error(resp)[1]


def test_beta_lists_non_interactive_sign_ins_only_when_filtered_for(raw, fake):
    resp = raw(
        "GET",
        f"/beta{SIGNINS}",
        params={"$filter": "signInEventTypes/any(t: t eq 'nonInteractiveUser')", "$top": "999"},
    )
    rows = resp.json()["value"]
    expected = {s["id"] for s in fake.directory.signins if not s["isInteractive"]}
    assert rows and {s["id"] for s in rows} == expected


def test_v1_tells_mfa_only_by_status_details_and_never_says_single_factor(raw, fake):
    """Ground truth of the seed vs what v1.0 shows: MFA named when it happened, nothing when it did not."""
    v1 = {s["id"]: s for s in raw("GET", f"/v1.0{SIGNINS}", params={"$top": "999"}).json()["value"]}
    truth = fake.directory.signin_mfa
    for sid, s in v1.items():
        details = s["status"]["additionalDetails"] or ""
        assert ("MFA" in details) is (truth[sid] == "yes"), s
    assert {truth[sid] for sid in v1} == {"yes", "no", "failed"}  # every kind is in the seed


def test_risk_fields_of_sign_ins_are_hidden_without_p2(raw, fake):
    fake.licence = "P1"
    rows = raw("GET", f"/v1.0{SIGNINS}", params={"$top": "999"}).json()["value"]
    assert {s["riskLevelDuringSignIn"] for s in rows} == {"hidden"}
    assert {s["riskLevelAggregated"] for s in rows} == {"hidden"} and {s["riskDetail"] for s in rows} == {"hidden"}
    fake.licence = "P2"
    assert "high" in {
        s["riskLevelDuringSignIn"] for s in raw("GET", f"/v1.0{SIGNINS}", params={"$top": "999"}).json()["value"]
    }


# ---------------------------------------------------------------- signInActivity
def test_sign_in_activity_by_upn_is_the_error_graph_gives(raw):
    resp = raw("GET", f"/v1.0/users/{ALICE}", params={"$select": "id,signInActivity"})
    assert resp.status_code == 400
    assert _error(resp) == ("BadRequest", "Get By Key only supports UserId and the key has to be a valid Guid")
    # the same user by UPN without signInActivity is fine
    assert raw("GET", f"/v1.0/users/{ALICE}", params={"$select": "id"}).json()["id"] == ALICE_ID


def test_sign_in_activity_by_object_id_needs_audit_log_and_p1(raw, fake):
    ok = raw("GET", f"/v1.0/users/{ALICE_ID}", params={"$select": "id,signInActivity"})
    truth = fake.directory.users[ALICE_ID]["signInActivity"]
    assert ok.status_code == 200 and ok.json()["signInActivity"] == truth
    attempts = [s for s in fake.directory.signins if s["userId"] == ALICE_ID and s["isInteractive"]]
    assert truth["lastSignInDateTime"] == max(s["createdDateTime"] for s in attempts)  # failed attempts count
    assert truth["lastSuccessfulSignInDateTime"] == max(
        s["createdDateTime"]
        for s in fake.directory.signins
        if s["userId"] == ALICE_ID and s["status"]["errorCode"] == 0
    )
    fake.granted -= {"AuditLog.Read.All"}
    denied = raw("GET", f"/v1.0/users/{ALICE_ID}", params={"$select": "id,signInActivity"}, token=fake.issue_token())
    assert denied.status_code == 403 and _error(denied)[0] == "Authorization_RequestDenied"
    fake.granted |= {"AuditLog.Read.All"}
    fake.licence = "free"
    unlicensed = raw("GET", f"/v1.0/users/{ALICE_ID}", params={"$select": "id,signInActivity"})
    assert unlicensed.status_code == 403
    assert _error(unlicensed)[0] == "Authentication_RequestFromNonPremiumTenantOrB2CTenant"


# ---------------------------------------------------------------- licences and permissions
def test_identity_protection_needs_p2_and_says_so_with_a_generic_403(raw, fake, clock):
    assert raw("GET", f"/v1.0{RISKY}").status_code == 200
    for licence in ("P1", "free"):
        fake.licence = licence
        clock.t += 1.0  # 1 request per second
        resp = raw("GET", f"/v1.0{RISKY}")
        code, message = _error(resp)
        assert resp.status_code == 403 and (code, message) == ("Forbidden", "Forbidden")
        assert "licen" not in message.lower() and "premium" not in message.lower()
    fake.licence = "P1"  # the sign-in log only needs P1
    assert raw("GET", f"/v1.0{SIGNINS}").status_code == 200


def test_permissions_come_from_the_token_not_from_the_fakes_settings(raw, fake, clock):
    before = fake.issue_token()  # minted with every permission
    fake.granted -= {"IdentityRiskyUser.Read.All"}
    after = fake.issue_token()
    assert raw("GET", f"/v1.0{RISKY}", token=before).status_code == 200  # consent changes reach new tokens only
    clock.t += 1.0
    resp = raw("GET", f"/v1.0{RISKY}", token=after)
    assert resp.status_code == 403 and _error(resp)[0] == "Authorization_RequestDenied"
    claims = json.loads(base64.urlsafe_b64decode(after.split(".")[1] + "=="))
    assert "IdentityRiskyUser.Read.All" not in claims["roles"] and "AuditLog.Read.All" in claims["roles"]


# ---------------------------------------------------------------- rate limits
@pytest.mark.parametrize(
    ("family", "path"),
    [
        ("reports", f"/v1.0{SIGNINS}"),
        ("reports", "/beta/auditLogs/directoryAudits"),
        ("identityProtection", f"/v1.0{RISKY}"),
    ],
)
def test_rate_limits_answer_429_without_retry_after_until_the_window_passes(raw, fake, clock, family, path):
    rule = RATE_LIMITS[family]
    answers = [raw("GET", path) for _ in range(rule.limit + 1)]
    assert [a.status_code for a in answers] == [200] * rule.limit + [429]
    assert "Retry-After" not in answers[-1].headers and _error(answers[-1])[0] == "TooManyRequests"
    clock.t += rule.per - 0.01
    assert raw("GET", path).status_code == 429  # still inside the window
    clock.t += 0.02
    assert raw("GET", path).status_code == 200


def test_reports_count_per_app_and_identity_protection_per_tenant(raw, fake):
    other = fake.issue_token(app_id="another-app-of-the-tenant")
    for _ in range(5):
        assert raw("GET", f"/v1.0{SIGNINS}").status_code == 200
    assert raw("GET", f"/v1.0{SIGNINS}").status_code == 429
    assert raw("GET", f"/v1.0{SIGNINS}", token=other).status_code == 200  # its own 5 per 10 s
    assert raw("GET", f"/v1.0{RISKY}", token=other).status_code == 200
    assert raw("GET", f"/v1.0{RISKY}").status_code == 429  # 1 per second for all apps of the tenant


def test_batch_sub_requests_count_one_by_one(raw, fake):
    subs = [{"id": str(i), "method": "GET", "url": "/auditLogs/signIns?$top=1"} for i in range(6)]
    subs.append({"id": "u", "method": "GET", "url": f"/users/{ALICE}"})
    answers = {r["id"]: r for r in raw("POST", "/v1.0/$batch", json={"requests": subs}).json()["responses"]}
    assert sorted(a["status"] for k, a in answers.items() if k != "u") == [200] * 5 + [429]
    throttled = next(a for a in answers.values() if a["status"] == 429)
    assert "Retry-After" not in throttled["headers"] and answers["u"]["status"] == 200


def test_other_routes_are_not_rate_limited(raw):
    assert {raw("GET", f"/v1.0/users/{ALICE}").status_code for _ in range(12)} == {200}


# ---------------------------------------------------------------- the authority
def test_client_credentials_need_a_tenant(fake):
    from iamkit.entra.client import make_session

    requests = make_session(str(fake.ca_bundle))
    for tenant in ("organizations", "common"):
        resp = requests.post(
            f"{fake.authority_url}/{tenant}/oauth2/v2.0/token",
            verify=str(fake.ca_bundle),
            data={
                "grant_type": "client_credentials",
                "client_id": fake.client_id,
                "client_secret": fake.client_secret,
                "scope": "https://graph/.default",
            },
            timeout=10,
        )
        assert resp.status_code == 400 and "AADSTS50059" in resp.json()["error_description"]
    ok = requests.post(
        f"{fake.authority_url}/{fake.tenant_id}/oauth2/v2.0/token",
        verify=str(fake.ca_bundle),
        data={
            "grant_type": "client_credentials",
            "client_id": fake.client_id,
            "client_secret": fake.client_secret,
            "scope": "https://graph/.default",
        },
        timeout=10,
    )
    assert ok.status_code == 200 and ok.json()["access_token"]


def _assertion(fake, header: dict) -> str:
    import time

    import jwt
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(fake.client_cert.read_bytes(), password=None)
    audience = f"{fake.authority_url}/{fake.tenant_id}/oauth2/v2.0/token"
    now = int(time.time())
    return jwt.encode(
        {
            "aud": audience,
            "iss": fake.client_id,
            "sub": fake.client_id,
            "iat": now,
            "nbf": now,
            "exp": now + 600,
            "jti": "x",
        },
        key,
        algorithm="PS256",
        headers=header,
    )


def _thumbprint(fake, algorithm) -> str:
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(fake.client_cert.read_bytes())
    return base64.urlsafe_b64encode(cert.fingerprint(algorithm)).decode().rstrip("=")


@pytest.mark.parametrize(("which", "good"), [("x5t#S256", True), ("x5t#S256", False), ("x5t", True), ("x5t", False)])
def test_a_client_assertion_must_name_the_registered_certificate(fake, which, good):
    from cryptography.hazmat.primitives import hashes

    from iamkit.entra.client import make_session

    requests = make_session(str(fake.ca_bundle))
    thumb = _thumbprint(fake, hashes.SHA256() if which == "x5t#S256" else hashes.SHA1())  # noqa: S303
    if not good:
        thumb = thumb[::-1]
    resp = requests.post(
        f"{fake.authority_url}/{fake.tenant_id}/oauth2/v2.0/token",
        verify=str(fake.ca_bundle),
        data={
            "grant_type": "client_credentials",
            "client_id": fake.client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": _assertion(fake, {which: thumb}),
            "scope": "https://graph/.default",
        },
        timeout=10,
    )
    assert resp.status_code == (200 if good else 401)
