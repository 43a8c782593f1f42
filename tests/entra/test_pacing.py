"""The client paces itself to Graph's documented limits on an injected clock (no real sleep), ``$batch``
sub-requests included, and waits a window out when a 429 without Retry-After still comes."""

from __future__ import annotations

import random
import re

import pytest
from entra_helpers import ALICE, FakeClock
from hypothesis import given, settings
from hypothesis import strategies as st

from iamkit import entra
from iamkit.entra.client import PACING_MARGIN, RATE_LIMITS, RateLimit, family

REPORTS = RATE_LIMITS["reports"]
PROTECTION = RATE_LIMITS["identityProtection"]


def _within(times: list[float], limit: int, per: float) -> bool:
    """At most ``limit`` of ``times`` in any half-open window of ``per`` seconds."""
    times = sorted(times)
    return all(sum(1 for u in times if t <= u < t + per) <= limit for t in times)


# ---------------------------------------------------------------- the limiter itself (pure)
def test_rate_limit_admits_a_burst_then_waits_for_the_oldest_to_leave_the_window():
    rl = RateLimit(5, 10.0, margin=0.0)
    for _ in range(5):
        assert rl.delay(100.0) == 0.0
        rl.record(100.0)
    assert rl.delay(100.0, k=2) == 10.0
    with pytest.raises(ValueError):
        rl.delay(100.0, k=6)
    assert rl.delay(100.0) == 10.0 and rl.delay(104.0) == 6.0 and rl.delay(110.0) == 0.0
    rl.saturate(200.0)
    assert rl.delay(200.0) == 10.0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(min_value=0, max_value=30, allow_nan=False), min_size=1, max_size=40),
    st.integers(1, 6),
    st.floats(min_value=0.5, max_value=12),
)
def test_pacing_keeps_any_arrival_pattern_under_the_limit(gaps, limit, per):
    """Whatever the caller's pace, the times the limiter lets requests go keep the documented limit."""
    rl = RateLimit(limit, per, margin=0.0)
    now, sent = 0.0, []
    for gap in gaps:
        now += gap
        now += rl.delay(now)
        rl.record(now)
        sent.append(now)
    assert _within(sent, limit, per)


def test_families_by_path():
    assert family("https://g/v1.0/auditLogs/signIns?x=1") == "reports"
    assert family("https://g/beta/reports/authenticationMethods/userRegistrationDetails/x") == "reports"
    assert family("https://g/v1.0/identityProtection/riskDetections") == "identityProtection"
    assert family("https://g/v1.0/users/a@b.c") is None
    assert family("https://g/v1.0/users/a@b.c/auditLogs") is None  # the service is the path's first segment


# ---------------------------------------------------------------- against the fake, on its clock
def test_the_person_view_never_gets_throttled_and_waits_only_what_the_limits_require(beta_graph, fake, clock):
    p = entra.person(beta_graph, ALICE, since="14d")
    assert len(p.errors) == 0 and len(p.signins)
    assert not [e for e in fake.log if e["status"] == 429]
    for fam, pattern in (("reports", "/auditLogs/|/reports/"), ("identityProtection", "/identityProtection/")):
        times = [e["t"] for e in fake.log if re.search(pattern, e["path"])]  # direct and $batch sub-requests
        _, limit, per = RATE_LIMITS[fam]
        assert _within(times, limit, per), fam
    # two Identity Protection calls a window apart are all the waiting a person's view needs
    assert len(clock.sleeps) <= 1 and sum(clock.sleeps) <= PROTECTION[2] * (1 + PACING_MARGIN) + 1e-9


def test_batch_spreads_identity_protection_sub_requests_over_their_window(graph, fake, clock):
    subs = [
        {"id": f"r{i}", "url": f"/identityProtection/riskyUsers?$filter=riskLevel eq 'high'&x={i}"} for i in range(3)
    ] + [{"id": f"u{i}", "url": f"/users/{ALICE}"} for i in range(4)]
    answers = graph.batch(subs)
    assert {a["status"] for a in answers.values()} == {200}
    posts = [e for e in fake.log if e["path"].endswith("/$batch")]
    assert len(posts) == 3  # one Identity Protection sub-request per second: the directory ones ride in the first
    risky = [e["t"] for e in fake.log if e["host"] == "$batch" and "identityProtection" in e["path"]]
    assert _within(risky, 1, 1.0) and len(risky) == 3


def test_a_429_without_retry_after_from_a_shared_budget_is_waited_out(graph, fake, clock, raw):
    """Identity Protection's budget is the tenant's: another app spends it, the client is throttled once,
    waits at least the window, and gets through."""
    graph.authenticate()
    assert raw("GET", "/v1.0/identityProtection/riskyUsers", token=fake.issue_token(app_id="other")).status_code == 200
    df = entra.risky_users(graph, ALICE)
    assert df["user_principal_name"].tolist() == [ALICE]
    mine = [e for e in fake.log if e["path"].endswith("/riskyUsers") and e["client_request_id"]]
    assert [e["status"] for e in mine] == [429, 200]
    assert mine[1]["t"] - mine[0]["t"] >= PROTECTION[2]


def test_pacing_off_is_a_choice_and_the_fake_still_throttles(entra_env, fake, clock, monkeypatch):
    """IAMKIT_GRAPH_PACING=off: no pacing, so the strict fake answers 429s the client must back off from."""
    monkeypatch.setenv("IAMKIT_GRAPH_PACING", "off")
    g = entra.connect("client_secret", clock=clock, sleeper=clock.sleep, rng=random.Random(1))
    assert g.limits == {}
    from datetime import timedelta

    entra.signins(g, ALICE, since="8d", slice_=timedelta(days=1))
    assert [e["status"] for e in fake.log if "/auditLogs/" in e["path"]].count(429) >= 1


def test_bad_pacing_settings_are_clear_errors(entra_env, monkeypatch):
    from iamkit.errors import BadInput

    monkeypatch.setenv("IAMKIT_GRAPH_PACING", "sometimes")
    with pytest.raises(BadInput, match="IAMKIT_GRAPH_PACING"):
        entra.connect("client_secret")
    monkeypatch.delenv("IAMKIT_GRAPH_PACING")
    with pytest.raises(ValueError, match="unknown pacing families"):
        entra.connect("client_secret", pacing={"mail": (1, 1.0)})


def test_each_client_has_its_own_limiter(entra_env, fake):
    """Each client has its own limiter (a fresh clock starts with a fresh window)."""
    a = entra.connect("client_secret", clock=FakeClock(), sleeper=lambda s: None)
    b = entra.connect("client_secret", clock=FakeClock(), sleeper=lambda s: None)
    a.limits["reports"].record(1000.0, 5)
    assert a.limits["reports"].delay(1000.0) > 0 and b.limits["reports"].delay(1000.0) == 0
