"""msal as iamkit drives it: certificates named by their SHA-256 thumbprint, app-only sign-in only for a tenant."""

from __future__ import annotations

import base64

import pytest
from entra_helpers import ALICE

from iamkit import entra
from iamkit.entra.auth import EntraSettings, _cert_credential, token_permissions
from iamkit.errors import BadInput

pytestmark = pytest.mark.sandbox


def _fingerprints(path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return cert.fingerprint(hashes.SHA256()), cert.fingerprint(hashes.SHA1())  # noqa: S303


def test_certificate_credential_is_named_by_its_sha256_thumbprint(fake):
    cred = _cert_credential(str(fake.client_cert))
    sha256, _ = _fingerprints(fake.client_cert)
    assert cred["thumbprint_sha256"] == sha256.hex()
    assert "thumbprint" not in cred  # a SHA-1 "thumbprint" would make msal sign with x5t (SHA-1) instead
    assert "BEGIN CERTIFICATE" in cred["public_certificate"] and "PRIVATE KEY" in cred["private_key"]


def test_certificate_sign_in_sends_x5t_s256_of_the_certificate(entra_env, monkeypatch, fake):
    monkeypatch.delenv("IAMKIT_ENTRA_CLIENT_SECRET")
    monkeypatch.setenv("IAMKIT_ENTRA_CERT_FILE", str(fake.client_cert))
    g = entra.connect()
    assert g.tokens.kind == "certificate" and g.tokens.thumbprint_sha256 == _fingerprints(fake.client_cert)[0].hex()
    assert len(entra.user(g, ALICE)) == 1
    header = next(e["assertion_header"] for e in fake.log if "assertion_header" in e)
    sha256, _ = _fingerprints(fake.client_cert)
    assert header["x5t#S256"].rstrip("=") == base64.urlsafe_b64encode(sha256).decode().rstrip("=")
    assert "x5t" not in header and header["alg"] == "PS256"


@pytest.mark.parametrize("tenant", ["organizations", "common", "consumers", "Organizations"])
@pytest.mark.parametrize("auth", ["client_secret", "certificate"])
def test_app_only_sign_in_refuses_a_tenant_that_names_none(entra_env, monkeypatch, fake, tenant, auth):
    monkeypatch.setenv("IAMKIT_ENTRA_TENANT_ID", tenant)
    monkeypatch.setenv("IAMKIT_ENTRA_CERT_FILE", str(fake.client_cert))
    before = len(fake.log)
    with pytest.raises(BadInput, match=f"needs a tenant id, not '{tenant}'"):
        entra.connect(auth)
    assert len(fake.log) == before  # refused before anything was sent


def test_without_a_tenant_id_app_only_sign_in_says_what_to_set(entra_env, monkeypatch):
    monkeypatch.delenv("IAMKIT_ENTRA_TENANT_ID")
    with pytest.raises(BadInput, match="IAMKIT_ENTRA_TENANT_ID"):
        entra.connect("client_secret")


def test_delegated_sign_in_may_still_use_organizations(entra_env, monkeypatch, tmp_path):
    monkeypatch.setenv("IAMKIT_ENTRA_TENANT_ID", "organizations")
    g = entra.connect("device_code", token_cache=tmp_path / "c.json", prompt=lambda m: None)
    assert g.tokens.settings.tenant == "organizations"


def test_the_authority_url_may_name_the_tenant_itself(monkeypatch):
    monkeypatch.setenv("IAMKIT_ENTRA_AUTHORITY", "https://login.example/organizations")
    assert EntraSettings.from_env(tenant_id="t1").tenant == "organizations"
    monkeypatch.setenv("IAMKIT_ENTRA_AUTHORITY", "https://login.example")
    assert EntraSettings.from_env(tenant_id="t1").tenant == "t1"


def test_token_permissions_reads_roles_and_scopes(fake):
    assert "AuditLog.Read.All" in token_permissions(fake.issue_token())
    assert "AuditLog.Read.All" in token_permissions(fake.issue_token(upn=ALICE))
    assert token_permissions("opaque") is None and token_permissions("a.e30.c") is None
