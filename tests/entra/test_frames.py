"""Pure pieces: Graph JSON → frames, error mapping, --since parsing, auth settings (no network)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iamkit import frames
from iamkit.entra import errors as ee
from iamkit.entra import frames as ef
from iamkit.entra.auth import EntraSettings, StaticToken, is_expired, read_secret, token_expiry
from iamkit.entra.client import error_for, required_licence, required_permission
from iamkit.entra.queries import parse_since
from iamkit.errors import BadInput

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


@given(st.text(min_size=1, max_size=40).filter(lambda s: s.strip()))
def test_upn_key_is_idempotent_trimmed_and_lower_case(upn):
    k = ef.upn_key(upn)
    assert ef.upn_key(k) == k and k == k.lower() and ef.upn_key(f"  {upn}\t") == k


@pytest.mark.parametrize("value", [None, "", "   ", 5])
def test_upn_key_of_nothing_is_none(value):
    assert ef.upn_key(value) is None


@pytest.mark.parametrize(
    ("odata", "name"),
    [
        ("#microsoft.graph.fido2AuthenticationMethod", "fido2"),
        ("#microsoft.graph.microsoftAuthenticatorAuthenticationMethod", "microsoftAuthenticator"),
        ("#microsoft.graph.passwordAuthenticationMethod", "password"),
        ("#microsoft.graph.somethingNew", "somethingNew"),
        (None, ""),
    ],
)
def test_method_name(odata, name):
    assert ef.method_name(odata) == name


def test_every_entra_frame_follows_its_schema_even_from_sparse_json():
    checks = [
        (ef.user_frame([{"userPrincipalName": "A@B.C", "createdDateTime": "2026-01-01T00:00:00Z"}]), "entra_user"),
        (ef.groups_frame("a@b.c", [{"id": "g", "@odata.type": "#microsoft.graph.directoryRole"}]), "entra_groups"),
        (
            ef.methods_frame(
                "a@b.c",
                [{"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": "1", "phoneNumber": "+1 555"}],
            ),
            "entra_auth_methods",
        ),
        (ef.mfa_frame("a@b.c", None, []), "entra_mfa"),
        (
            ef.signins_frame([{"id": "1", "createdDateTime": "2026-01-01T00:00:00Z", "status": {"errorCode": 50126}}]),
            "entra_signins",
        ),
        (ef.risky_users_frame([{"id": "u"}]), "entra_risky_users"),
        (ef.risk_detections_frame([{"id": "r", "detectedDateTime": "2026-01-01T00:00:00Z"}]), "entra_risk_detections"),
        (
            ef.directory_audits_frame(
                [
                    {
                        "id": "a",
                        "initiatedBy": {"app": {"displayName": "Sync"}},
                        "targetResources": [{"userPrincipalName": "X@Y.Z"}],
                    }
                ]
            ),
            "entra_directory_audits",
        ),
    ]
    for df, name in checks:
        frames.check(df, name)
        frames.check(frames.empty(name), name)
    assert checks[0][0]["upn_key"].tolist() == ["a@b.c"]
    assert checks[1][0]["kind"].tolist() == ["directoryRole"]
    assert checks[2][0]["detail"].iloc[0] == {"phoneNumber": "+1 555"} and bool(checks[2][0]["strong"].iloc[0])
    assert bool(checks[4][0]["success"].iloc[0]) is False
    assert checks[7][0]["initiated_by"].tolist() == ["Sync"] and checks[7][0]["target_upn_key"].tolist() == ["x@y.z"]


def test_mfa_without_the_report_is_derived_from_methods():
    pw = {"@odata.type": "#microsoft.graph.passwordAuthenticationMethod"}
    fido = {"@odata.type": "#microsoft.graph.fido2AuthenticationMethod"}
    weak = ef.mfa_frame("a@b.c", None, [pw]).iloc[0]
    strong = ef.mfa_frame("a@b.c", None, [pw, fido]).iloc[0]
    assert not bool(weak["is_mfa_registered"]) and weak["default_mfa_method"] == "none"
    assert bool(strong["is_mfa_registered"]) and bool(strong["is_passwordless_capable"])
    assert strong["methods_registered"] == ["fido2"] and strong["source"] == "methods"


def test_signins_are_deduplicated_and_newest_first():
    rows = [
        {
            "id": str(i % 3),
            "createdDateTime": f"2026-01-0{i + 1}T00:00:00Z",
            "isInteractive": i % 2 == 0,
            "status": {"errorCode": 0},
            "authenticationRequirement": "multiFactorAuthentication",
        }
        for i in range(5)
    ]
    df = ef.signins_frame(rows)
    assert sorted(df["id"]) == ["0", "1", "2"] and df["created"].is_monotonic_decreasing
    assert set(df["event_type"]) == {"interactiveUser", "nonInteractiveUser"} and (df["mfa"] == "yes").all()


@pytest.mark.parametrize(
    ("status", "body", "url", "kind", "attr"),
    [
        (
            403,
            {"error": {"code": "Authentication_RequestFromNonPremiumTenantOrB2CTenant"}},
            "https://g/v1.0/auditLogs/signIns",
            ee.LicenceRequired,
            ("licence", "P1"),
        ),
        (
            403,
            {"error": {"code": "Forbidden", "message": "tenant is not licensed for premium"}},
            "https://g/v1.0/identityProtection/riskyUsers",
            ee.LicenceRequired,
            ("licence", "P2"),
        ),
        (
            403,
            {"error": {"code": "Authorization_RequestDenied"}},
            "https://g/v1.0/users/x/authentication/methods",
            ee.PermissionDenied,
            ("permission", "UserAuthenticationMethod.Read.All"),
        ),
        (401, {"error": {"code": "InvalidAuthenticationToken"}}, "https://g/v1.0/users", ee.TokenExpired, None),
        (404, {"error": {"code": "Request_ResourceNotFound"}}, "https://g/v1.0/users/x", ee.GraphNotFound, None),
        (
            400,
            {"error": {"code": "Directory_ExpiredPageToken"}},
            "https://g/v1.0/auditLogs/signIns",
            ee.ExpiredSkipToken,
            None,
        ),
        (429, {"error": {"code": "TooManyRequests"}}, "https://g/v1.0/users", ee.Throttled, None),
        (500, None, "https://g/v1.0/users", ee.GraphError, None),
        (400, "not json", "https://g/v1.0/users", ee.GraphError, None),
    ],
)
def test_error_mapping(status, body, url, kind, attr):
    err = error_for(status, body, url, request_id="rid")
    assert type(err) is kind and err.status == status and err.request_id == "rid"
    if attr:
        assert getattr(err, attr[0]) == attr[1]


@pytest.mark.parametrize(
    ("held", "kind", "skipped"),
    [
        ({"IdentityRiskyUser.Read.All"}, ee.LicenceRequired, "needs Entra ID P2"),
        (set(), ee.PermissionDenied, None),
        (None, ee.LicenceRequired, "needs Entra ID P2 or IdentityRiskyUser.Read.All"),
    ],
)
def test_identity_protections_bare_403_is_told_apart_by_the_tokens_permissions(held, kind, skipped):
    err = error_for(
        403,
        {"error": {"code": "Forbidden", "message": "Forbidden"}},
        "https://g/v1.0/identityProtection/riskyUsers",
        held=held,
    )
    assert type(err) is kind
    if skipped:
        assert err.skipped == skipped and err.licence == "P2"
    else:
        assert err.permission == "IdentityRiskyUser.Read.All"


def test_permission_and_licence_tables():
    assert required_permission("https://g/v1.0/users/a/transitiveMemberOf") == "GroupMember.Read.All"
    assert required_permission("https://g/v1.0/identityProtection/riskDetections") == "IdentityRiskEvent.Read.All"
    assert required_permission("https://g/v1.0/somethingElse") is None
    assert required_licence("https://g/v1.0/reports/authenticationMethods/userRegistrationDetails/x") == "P1"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7d", NOW - timedelta(days=7)),
        ("36h", NOW - timedelta(hours=36)),
        ("90m", NOW - timedelta(minutes=90)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T10:00:00Z", datetime(2026, 11, 1, 10, tzinfo=UTC)),
        (None, NOW - timedelta(days=14)),
        (timedelta(hours=1), NOW - timedelta(hours=1)),
        (datetime(2026, 1, 1), datetime(2026, 1, 1, tzinfo=UTC)),
    ],
)
def test_parse_since(value, expected):
    assert parse_since(value, now=NOW) == expected


@given(st.text(max_size=12).filter(lambda s: s.strip() and not s.strip()[0].isdigit()))
def test_parse_since_rejects_words(value):
    with pytest.raises(BadInput):
        parse_since(value, now=NOW)


def test_settings_from_env_and_sovereign_clouds(monkeypatch):
    for var in ("IAMKIT_ENTRA_AUTHORITY", "IAMKIT_GRAPH_URL", "IAMKIT_ENTRA_TENANT_ID", "IAMKIT_ENTRA_CLOUD"):
        monkeypatch.delenv(var, raising=False)
    s = EntraSettings.from_env("usgov", tenant_id="t1", client_id="c1")
    assert s.authority == "https://login.microsoftonline.us/t1" and s.is_microsoft_authority
    assert s.app_scopes() == ["https://graph.microsoft.us/.default"]
    monkeypatch.setenv("IAMKIT_ENTRA_AUTHORITY", "https://127.0.0.1:8443/")
    monkeypatch.setenv("IAMKIT_GRAPH_URL", "https://127.0.0.1:8443/v1.0/")
    s2 = EntraSettings.from_env(tenant_id="t2")
    assert s2.authority == "https://127.0.0.1:8443/t2" and not s2.is_microsoft_authority
    assert s2.graph_url == "https://127.0.0.1:8443/v1.0"
    assert s2.delegated_scopes()[0] == "https://127.0.0.1:8443/User.Read.All"
    with pytest.raises(BadInput, match="unknown Entra cloud"):
        EntraSettings.from_env("mars")


def test_read_secret_prefers_the_variable_then_the_file(monkeypatch, tmp_path):
    monkeypatch.delenv("X_SECRET", raising=False)
    monkeypatch.delenv("X_SECRET_FILE", raising=False)
    assert read_secret("X_SECRET") is None
    f = tmp_path / "s"
    f.write_text("from-file\n")
    monkeypatch.setenv("X_SECRET_FILE", str(f))
    assert read_secret("X_SECRET") == "from-file"
    monkeypatch.setenv("X_SECRET", "from-env")
    assert read_secret("X_SECRET") == "from-env"
    monkeypatch.delenv("X_SECRET")
    monkeypatch.setenv("X_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(BadInput, match="X_SECRET_FILE"):
        read_secret("X_SECRET")


def test_token_expiry_reads_jwt_exp():
    import base64
    import json

    def jwt(claims):
        return "e30." + base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=") + ".sig"

    assert token_expiry(jwt({"exp": 100})) == 100.0
    assert is_expired(jwt({"exp": 100}), now=101) and not is_expired(jwt({"exp": 100}), now=99)
    assert token_expiry("opaque-token") is None and not is_expired("opaque-token")
    with pytest.raises(BadInput):
        StaticToken("")
