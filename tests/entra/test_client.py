"""GraphClient + msal against the fake Entra/Graph over HTTPS: auth, paging, $batch, every fault."""

from __future__ import annotations

import json
import os
import random
import stat
from datetime import timedelta

import pytest
from entra_helpers import NOW

from iamkit import entra
from iamkit.entra import errors as ee

pytestmark = pytest.mark.sandbox

ALICE = "alice@corp.example"


def graph_calls(fake, path_part: str) -> list[dict]:
    return [e for e in fake.log if path_part in e["path"] and e["host"] != "$batch"]


# ---------------------------------------------------------------- auth
def test_client_secret_reads_user_over_https_with_the_fake_ca(graph, fake):
    df = entra.user(graph, ALICE)
    assert df["user_principal_name"].tolist() == [ALICE]
    assert df["id"].iloc[0] == fake.directory.user(ALICE)["id"]
    assert bool(df["account_enabled"].iloc[0]) is True
    token_calls = [e for e in fake.log if e["path"].endswith("/oauth2/v2.0/token")]
    assert len(token_calls) == 1


def test_ca_is_honoured_even_when_requests_ca_bundle_points_elsewhere(entra_env, monkeypatch, clock):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    g = entra.connect("client_secret", sleeper=clock.sleep, clock=clock)
    assert len(entra.user(g, ALICE)) == 1


def test_without_the_ca_the_fake_is_not_trusted(entra_env, monkeypatch):
    monkeypatch.delenv("IAMKIT_ENTRA_CA_BUNDLE")
    with pytest.raises(Exception) as exc:
        entra.connect("client_secret")
    assert "CERTIFICATE_VERIFY_FAILED" in str(exc.value) or "SSL" in type(exc.value).__name__


def test_only_loopback_is_contacted_and_instance_discovery_is_off(graph, fake, loopback_only):
    entra.user(graph, ALICE)
    entra.signins(graph, ALICE, since=timedelta(days=2))
    assert {h for h, _ in loopback_only["connections"]} == {"127.0.0.1"}
    assert {p for _, p in loopback_only["connections"]} == {fake.port}
    assert graph.tokens.settings.is_microsoft_authority is False
    assert not any("discovery/instance" in e["path"] for e in fake.log)


def test_the_guard_refuses_microsoft_hosts(loopback_only):
    import requests

    with pytest.raises(requests.ConnectionError):
        requests.get("https://login.microsoftonline.com/common/discovery/instance", timeout=2)
    assert loopback_only["refused"] == ["dns:login.microsoftonline.com"]
    loopback_only["refused"].clear()  # the refusal was the point of this test


def test_wrong_client_secret_fails_clearly_without_echoing_it(entra_env, monkeypatch):
    monkeypatch.setenv("IAMKIT_ENTRA_CLIENT_SECRET", "not-the-secret-123")
    g = entra.connect("client_secret")
    with pytest.raises(ee.AuthFailed) as exc:
        entra.user(g, ALICE)
    assert "invalid_client" in str(exc.value)
    assert "not-the-secret-123" not in str(exc.value)


def test_secret_from_a_file(entra_env, monkeypatch, tmp_path, fake):
    secret_file = tmp_path / "secret"
    secret_file.write_text(fake.client_secret + "\n")
    monkeypatch.delenv("IAMKIT_ENTRA_CLIENT_SECRET")
    monkeypatch.setenv("IAMKIT_ENTRA_CLIENT_SECRET_FILE", str(secret_file))
    assert len(entra.user(entra.connect(), ALICE)) == 1  # auto picks client_secret


def test_certificate_auth_signs_a_client_assertion(entra_env, monkeypatch, fake):
    monkeypatch.delenv("IAMKIT_ENTRA_CLIENT_SECRET")
    monkeypatch.setenv("IAMKIT_ENTRA_CERT_FILE", str(fake.client_cert))
    g = entra.connect()
    assert g.tokens.kind == "certificate"
    assert len(entra.user(g, ALICE)) == 1


def test_certificate_auth_with_another_key_is_refused(entra_env, monkeypatch, tmp_path):
    from iamkit.sandbox.entra import make_client_certificate

    other, _ = make_client_certificate(tmp_path, "someone-else")
    monkeypatch.delenv("IAMKIT_ENTRA_CLIENT_SECRET")
    monkeypatch.setenv("IAMKIT_ENTRA_CERT_FILE", str(other))
    with pytest.raises(ee.AuthFailed, match="invalid_client"):
        entra.user(entra.connect(), ALICE)


def test_device_code_prints_the_code_and_caches_tokens_0600_only_when_changed(entra_env, monkeypatch, tmp_path, fake):
    monkeypatch.delenv("IAMKIT_ENTRA_CLIENT_SECRET")
    cache = tmp_path / "cache.json"
    shown: list[str] = []
    g = entra.connect("device_code", token_cache=cache, prompt=shown.append)
    assert entra.user(g, ALICE)["user_principal_name"].tolist() == [ALICE]
    assert len(shown) == 1 and "enter the code" in shown[0]
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o600
    first = cache.read_text()
    assert "refresh_token" in first.lower() or "RefreshToken" in first
    mtime = cache.stat().st_mtime_ns
    # a second client signs in silently from the cache: no new device code, no rewrite of the file
    shown.clear()
    g2 = entra.connect("device_code", token_cache=cache, prompt=shown.append)
    assert len(entra.groups(g2, ALICE)) >= 1
    assert shown == []
    assert sum(1 for e in fake.log if e["path"].endswith("/devicecode")) == 1
    assert cache.stat().st_mtime_ns == mtime


def test_static_token_works_and_cannot_be_renewed(entra_env, monkeypatch, fake):
    monkeypatch.delenv("IAMKIT_ENTRA_CLIENT_SECRET")
    monkeypatch.setenv("IAMKIT_GRAPH_TOKEN", fake.issue_token())
    g = entra.connect()
    assert g.tokens.kind == "static" and "redacted" in repr(g.tokens)
    assert len(entra.user(g, ALICE)) == 1
    fake.faults.expire_token()
    with pytest.raises(ee.TokenExpired, match="cannot be renewed"):
        entra.user(g, ALICE)


def test_interactive_needs_a_desktop(entra_env, monkeypatch):
    from iamkit.errors import BadInput

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    g = entra.connect("interactive", token_cache=None)
    with pytest.raises(BadInput, match="desktop"):
        entra.user(g, ALICE)


def test_unknown_auth_kind_is_bad_input(entra_env):
    from iamkit.errors import BadInput

    with pytest.raises(BadInput, match="unknown Entra auth"):
        entra.connect("kerberos")


# ---------------------------------------------------------------- faults
def test_429_with_retry_after_waits_exactly_that_long(graph, fake, clock):
    fake.faults.throttle(r"^/users/alice", retry_after=7, times=2)
    assert len(entra.user(graph, ALICE)) == 1
    assert clock.sleeps == [7, 7]
    assert len(graph_calls(fake, "/users/alice")) == 3  # two 429s, then the answer
    assert len(graph_calls(fake, "/users/0a0a0a0a")) == 1  # then signInActivity by object id


def test_429_without_retry_after_backs_off_exponentially_with_jitter(graph, fake, clock):
    fake.faults.throttle(r"^/identityProtection/riskyUsers", retry_after=None, times=3)
    assert len(entra.risky_users(graph, ALICE)) == 1
    sent = [e for e in graph_calls(fake, "/identityProtection/riskyUsers")]
    assert [e["status"] for e in sent] == [429, 429, 429, 200]
    gaps = [b["t"] - a["t"] for a, b in zip(sent, sent[1:], strict=False)]
    for attempt, gap in enumerate(gaps):  # jittered exponential backoff, never less than the service's window
        ceiling = min(graph.backoff_cap, graph.backoff_base * 2**attempt)
        assert max(ceiling / 2, 1.0) <= gap <= max(ceiling, 1.0 * 1.1) + 1e-9
    assert gaps[2] > gaps[0]


def test_still_throttled_after_every_retry_raises_throttled(graph, fake, clock):
    fake.faults.throttle(r"^/users/", retry_after=2, times=None)
    with pytest.raises(ee.Throttled) as exc:
        entra.user(graph, ALICE)
    assert exc.value.retry_after == 2
    assert clock.sleeps == [2] * graph.max_retries


def test_403_licence_on_signins_is_p1_and_on_risk_is_p2(graph, fake):
    fake.licence = "free"
    with pytest.raises(ee.LicenceRequired) as exc:
        entra.signins(graph, ALICE, since="1d")
    assert exc.value.licence == "P1" and exc.value.skipped == "needs Entra ID P1"
    fake.licence = "P1"
    with pytest.raises(ee.LicenceRequired) as exc2:
        entra.risk_detections(graph, ALICE)
    assert exc2.value.licence == "P2"


def test_identity_protection_without_p2_is_a_licence_not_a_permission(graph, fake, clock):
    fake.licence = "P1"
    with pytest.raises(ee.LicenceRequired) as exc:
        entra.risky_users(graph, ALICE)
    assert exc.value.skipped == "needs Entra ID P2" and "holds IdentityRiskyUser.Read.All" in str(exc.value)
    fake.licence = "P2"
    fake.granted.discard("IdentityRiskyUser.Read.All")
    clock.t += 2
    g2 = entra.connect("client_secret", clock=clock, sleeper=clock.sleep)
    with pytest.raises(ee.PermissionDenied) as exc2:
        entra.risky_users(g2, ALICE)
    assert exc2.value.permission == "IdentityRiskyUser.Read.All"


def test_403_permission_names_the_missing_permission(graph, fake):
    fake.granted -= {"AuditLog.Read.All", "Directory.Read.All"}  # either grants the audit log
    with pytest.raises(ee.PermissionDenied) as exc:
        entra.directory_audits(graph, ALICE, since="2d")
    assert exc.value.permission == "AuditLog.Read.All"
    assert "AuditLog.Read.All" in str(exc.value)


def test_401_expiry_renews_the_token_once_and_retries(graph, fake):
    entra.user(graph, ALICE)
    fake.faults.expire_token()
    assert len(entra.groups(graph, ALICE)) >= 1
    assert sum(1 for e in fake.log if e["path"].endswith("/token")) == 2


def test_401_twice_gives_token_expired(graph, fake):
    fake.faults.expire_token(times=2)
    with pytest.raises(ee.TokenExpired):
        entra.user(graph, ALICE)


def test_not_found_is_a_typed_bad_input(graph):
    from iamkit.errors import BadInput

    with pytest.raises(ee.GraphNotFound) as exc:
        entra.user(graph, "nobody@corp.example")
    assert isinstance(exc.value, BadInput) and exc.value.exit_code == 2


def test_expired_skip_token_restarts_only_its_slice(graph, fake, clock):
    fake.page_size = 1
    since = NOW - timedelta(days=3)
    baseline = entra.signins(graph, ALICE, since=since, slice_=timedelta(days=1))
    fake.log.clear()
    fake.faults.expire_skiptoken(r"^/auditLogs/signIns", times=1)
    again = entra.signins(graph, ALICE, since=since, slice_=timedelta(days=1))
    assert sorted(again["id"]) == sorted(baseline["id"])
    firsts = [e for e in graph_calls(fake, "/auditLogs/signIns") if "$skiptoken" not in e["query"]]
    filters = [e["query"]["$filter"] for e in firsts]
    assert len(filters) == 4  # three daily slices + one restart
    assert len(set(filters)) == 3  # the restart repeated exactly one slice
    assert any(e["status"] == 400 for e in fake.log)


def test_paging_follows_next_link_exactly_and_resends_consistency_level(graph, fake):
    fake.page_size = 1
    pages = list(
        graph.pages(
            "users",
            params={"$count": "true", "$select": "id,userPrincipalName"},
            headers={"ConsistencyLevel": "eventual"},
        )
    )
    assert len(pages) == len(fake.directory.users)
    assert sorted(u["userPrincipalName"] for p in pages for u in p["value"]) == sorted(
        u["userPrincipalName"] for u in fake.directory.users.values()
    )
    follow = [e for e in graph_calls(fake, "/v1.0/users") if "$skiptoken" in e["query"]]
    assert len(follow) == len(pages) - 1
    assert all(e["consistency_level"] == "eventual" for e in follow)


def test_a_page_without_consistency_level_is_refused(graph, fake):
    fake.page_size = 1
    first = graph.get("users", params={"$count": "true"}, headers={"ConsistencyLevel": "eventual"})
    with pytest.raises(ee.GraphError, match="ConsistencyLevel"):
        graph.get(first["@odata.nextLink"])


def test_an_altered_next_link_is_refused(graph, fake):
    fake.page_size = 1
    first = graph.get("users", params={"$top": "1"})
    with pytest.raises(ee.GraphError, match="altered"):
        graph.get(first["@odata.nextLink"].replace("%24top=1", "%24top=2"))


def test_batch_sends_chunks_of_20_and_requeues_throttled_subrequests(graph, fake, clock):
    users = list(fake.directory.users.values())
    subs = [{"id": str(i), "url": f"/users/{users[i % len(users)]['id']}"} for i in range(45)]
    fake.faults.throttle(r"^/users/", retry_after=3, times=4)
    answers = graph.batch(subs)
    assert sorted(answers, key=int) == [str(i) for i in range(45)]
    assert all(a["status"] == 200 for a in answers.values())
    posts = [e for e in fake.log if e["path"].endswith("/$batch")]
    assert len(posts) == 3  # 20, then 20 + 9 (the 4 throttled ride along with the rest)
    assert clock.sleeps == [3]


def test_raw_pages_are_saved_as_received_and_hold_no_secret(graph, fake, tmp_path):
    fake.page_size = 2
    entra.groups(graph, ALICE)
    saved = sorted((tmp_path / "evidence" / "graph").glob("*memberOf*.json"))
    assert len(saved) >= 2
    values = [v for p in saved for v in json.loads(p.read_bytes())["value"]]
    assert {v["id"] for v in values} == set(fake.directory.member_of[fake.directory.user(ALICE)["id"]])
    blob = b"".join(p.read_bytes() for p in (tmp_path / "evidence").rglob("*") if p.is_file())
    assert fake.client_secret.encode() not in blob and b"Bearer" not in blob


def test_every_call_has_its_own_client_request_id(graph, fake):
    entra.user(graph, ALICE)
    entra.groups(graph, ALICE)
    ids = [e["client_request_id"] for e in fake.log if e["path"].startswith("/v1.0/")]
    assert len(ids) >= 2 and None not in ids and len(set(ids)) == len(ids)


def test_reports_endpoints_are_paced_with_the_injected_clock(graph, fake, clock):
    """12 daily slices against 5 requests per 10 s: bursts of 5, each next burst once the window has passed."""
    entra.signins(graph, ALICE, since="12d", slice_=timedelta(days=1))
    sent = [e for e in graph_calls(fake, "/auditLogs/signIns")]
    assert len(sent) == 12 and {e["status"] for e in sent} == {200}  # never throttled
    times = [e["t"] for e in sent]
    assert all(sum(1 for u in times if t <= u < t + 10.0) <= 5 for t in times)  # the documented limit held
    assert len(clock.sleeps) == 2 and all(10.0 < w <= 11.0 + 1e-9 for w in clock.sleeps)  # and no more waiting


def test_backoff_is_reproducible_with_a_seeded_rng(entra_env):
    from iamkit.entra.auth import StaticToken
    from iamkit.entra.client import GraphClient

    a = GraphClient("https://127.0.0.1:1/v1.0", StaticToken("x"), rng=random.Random(1))
    b = GraphClient("https://127.0.0.1:1/v1.0", StaticToken("x"), rng=random.Random(1))
    assert [a.backoff(i) for i in range(5)] == [b.backoff(i) for i in range(5)]


def test_device_code_token_expiry_is_renewed_with_the_refresh_token(entra_env, monkeypatch, tmp_path, fake):
    monkeypatch.delenv("IAMKIT_ENTRA_CLIENT_SECRET")
    g = entra.connect("device_code", token_cache=tmp_path / "cache.json", prompt=lambda m: None)
    entra.user(g, ALICE)
    fake.faults.expire_token()
    assert len(entra.user(g, ALICE)) == 1
    assert sum(1 for e in fake.log if e["path"].endswith("/devicecode")) == 1
    assert sum(1 for e in fake.log if e["path"].endswith("/token")) == 2  # device code, then refresh


def test_connect_or_none_says_why_it_skipped(entra_env, monkeypatch):
    said: list[str] = []
    monkeypatch.delenv("IAMKIT_ENTRA_CLIENT_ID")
    assert entra.connect_or_none("client_secret", say=said.append) is None
    assert said and said[0].startswith("skipped: Entra ID") and "client id" in said[0]
    monkeypatch.setenv("IAMKIT_ENTRA_CLIENT_ID", entra_env["IAMKIT_ENTRA_CLIENT_ID"])
    monkeypatch.setenv("IAMKIT_ENTRA_CLIENT_SECRET", "wrong")
    said.clear()
    assert entra.connect_or_none("client_secret", say=said.append) is None and "invalid_client" in said[0]


def test_person_fans_out_through_one_batch_and_keeps_partial_results(graph, fake):
    fake.faults.forbid(r"/authentication/methods$")
    p = entra.person(graph, ALICE, since="2d")
    assert sum(1 for e in fake.log if e["path"].endswith("/$batch")) == 1
    assert len(p.profile) == 1 and len(p.groups) >= 1 and len(p.methods) == 0
    row = p.errors[p.errors["operation"] == "entra:methods"].iloc[0]
    assert "UserAuthenticationMethod.Read.All" in row["message"]


def test_a_second_client_never_overwrites_evidence(graph, entra_env, clock, tmp_path):
    entra.user(graph, ALICE)
    other = entra.connect("client_secret", clock=clock, sleeper=clock.sleep, evidence_dir=tmp_path / "evidence")
    entra.user(other, ALICE)
    saved = sorted((tmp_path / "evidence" / "graph").glob("*-user.json"))
    assert len(saved) == 2 and len({p.name for p in saved}) == 2


def test_mfa_falls_back_to_methods_without_p1(graph, fake):
    assert entra.mfa(graph, ALICE)["source"].tolist() == ["registrationDetails"]
    fake.licence = "free"
    df = entra.mfa(graph, ALICE)
    assert df["source"].tolist() == ["methods"] and bool(df["is_mfa_registered"].iloc[0])
    assert entra.mfa(graph, "bob@corp.example")["is_mfa_registered"].tolist() == [False]


def test_sign_in_activity_is_read_by_object_id_and_skipped_with_its_reason(graph, fake):
    skipped: dict[str, str] = {}
    df = entra.user(graph, ALICE, skipped=skipped)
    assert skipped == {} and df["last_successful_sign_in"].notna().all()
    reads = [e for e in fake.log if "signInActivity" in e["query"].get("$select", "")]
    assert [e["path"] for e in reads] == [f"/v1.0/users/{fake.directory.user(ALICE)['id']}"]  # never by UPN
    fake.granted.discard("AuditLog.Read.All")
    g2 = entra.connect("client_secret", clock=graph.clock, sleeper=graph.sleeper)
    df2 = entra.user(g2, ALICE, skipped=skipped)
    assert skipped == {"last_sign_in": "needs AuditLog.Read.All"} and df2["last_sign_in"].isna().all()
    assert df2["user_principal_name"].tolist() == [ALICE]  # the rest of the profile is kept


def test_mfa_falls_back_to_methods_without_the_audit_log_permission(graph, fake):
    fake.granted.discard("AuditLog.Read.All")
    df = entra.mfa(graph, ALICE)
    assert df["source"].tolist() == ["methods"] and bool(df["is_mfa_registered"].iloc[0])
    assert [e["status"] for e in fake.log if "userRegistrationDetails" in e["path"]] == [403]


def test_signins_include_non_interactive_only_from_beta_when_asked(graph, beta_graph, fake):
    v1 = entra.signins(graph, ALICE, since=NOW - timedelta(days=5))
    assert set(v1["event_type"]) == {"interactiveUser"} and set(v1["api_version"]) == {"v1.0"}
    assert not any(e["path"].startswith("/beta/") for e in fake.log)  # v1.0 unless asked
    df = entra.signins(beta_graph, ALICE, since=NOW - timedelta(days=5))
    assert {"interactiveUser", "nonInteractiveUser"} <= set(df["event_type"]) and set(df["api_version"]) == {"beta"}
    assert any(e["path"].startswith("/beta/auditLogs/signIns") for e in fake.log)
    assert df["created"].is_monotonic_decreasing and df["upn_key"].eq(ALICE).all()
    truth = {
        s["id"]
        for s in fake.directory.signins
        if s["userPrincipalName"] == ALICE and s["createdDateTime"] >= "2026-11-24T12:00:00Z"
    }
    assert set(df["id"]) == truth  # every sign-in of the window, once


def test_non_interactive_without_beta_is_bad_input(graph):
    from iamkit.errors import BadInput

    with pytest.raises(BadInput, match="only in Graph beta"):
        entra.signins(graph, ALICE, since="1d", noninteractive=True)


def test_audits_and_risk_for_the_person(graph):
    audits = entra.directory_audits(graph, ALICE, since=NOW - timedelta(days=3))
    assert audits["activity"].tolist() == ["Reset password (self-service)"]
    assert audits["result"].tolist() == ["failure"] and audits["initiated_by_ip"].tolist() == ["203.0.113.66"]
    risk = entra.risk_detections(graph, ALICE, since=NOW - timedelta(days=3))
    assert set(risk["risk_event_type"]) == {"unfamiliarFeatures", "anonymizedIPAddress"}
    assert len(entra.risk_detections(graph, ALICE, since=NOW - timedelta(hours=1))) == 0


def test_a_next_link_to_another_host_is_refused_before_sending_the_token(graph, fake):
    before = len(fake.log)
    with pytest.raises(ee.GraphError, match="refusing to follow"):
        graph.get("https://evil.example/v1.0/users?$skiptoken=x")
    with pytest.raises(ee.GraphError, match="refusing to follow"):
        graph.get(fake.graph_url.replace("https://", "http://") + "/users")
    assert len(fake.log) == before
