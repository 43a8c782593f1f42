"""Entra bench: pulling sign-ins through ``iamkit.entra`` (sliced, paged, typed frame, raw pages kept)
against a bare ``requests`` loop over the same fake Graph pages, and building the person timeline
against a bare ``pandas.merge_asof`` (the engine limit for "nearest sign-in").

Run: ``.venv/bin/python -m bench entra`` (``BENCH_ENTRA_SIGNINS`` / ``BENCH_ENTRA_SESSIONS`` to change sizes).
"""

from __future__ import annotations

import os
import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import record, timed

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


def _org():
    from iamkit.sandbox.model import Person, SeededOrg

    people = [
        Person(
            upn=f"user{i}@bench.example",
            display_name=f"User {i}",
            given_name="U",
            surname=str(i),
            department="Eng",
            entra_object_id=f"00000000-0000-4000-8000-{i:012d}",
            groups=["AWS-Developers"],
            mfa_methods=["fido2"],
            home_ip=f"198.51.100.{i % 250 + 1}",
        )
        for i in range(3)
    ]
    return SeededOrg(seed=1, org_id="o-bench", management_account_id="111111111111", people=people)


def _pad_signins(fake, n: int) -> str:
    """Give one person ``n`` sign-ins spread over 14 days (the fake serves them like any other)."""
    from iamkit.sandbox.entra_data import _signin

    person = _org().people[0]
    rng = random.Random(3)
    for i in range(n):
        when = NOW - timedelta(seconds=rng.randrange(1, 14 * 86400))
        fake.directory.signins.append(_signin(person, when, person.home_ip, "AWS IAM Identity Center", seq=i))
    fake.directory.signins.sort(key=lambda s: s["createdDateTime"], reverse=True)
    return person.upn


def _raw_pull(fake, upn: str, since: datetime) -> int:
    """Baseline: the same daily slices and pages with bare requests; JSON only (no frame, no evidence, no retries)."""
    from iamkit.entra.client import make_session

    s = make_session(str(fake.ca_bundle))
    headers = {"Authorization": f"Bearer {fake.issue_token()}"}
    n, hi = 0, NOW
    while hi > since:
        lo = max(since, hi - timedelta(days=1))
        url = f"{fake.graph_url}/auditLogs/signIns"
        params = {
            "$filter": f"userPrincipalName eq '{upn}' and createdDateTime ge {lo:%Y-%m-%dT%H:%M:%SZ} "
            f"and createdDateTime lt {hi:%Y-%m-%dT%H:%M:%SZ}"
        }
        while url:
            page = s.get(url, params=params, headers=headers, timeout=30).json()
            n += len(page["value"])
            url, params = page.get("@odata.nextLink"), None
        hi = lo
    return n


def _timeline_inputs(n_signins: int, n_sessions: int):
    import pandas as pd

    from iamkit import frames
    from iamkit.entra.frames import signins_frame

    rng = random.Random(5)
    base = NOW - timedelta(days=14)
    signins = signins_frame(
        [
            {
                "id": str(i),
                "createdDateTime": (base + timedelta(seconds=rng.randrange(14 * 86400))).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "userPrincipalName": "a@b.c",
                "ipAddress": f"10.0.0.{rng.randrange(4)}",
                "isInteractive": True,
                "status": {"errorCode": 0 if rng.random() < 0.95 else 50126},
            }
            for i in range(n_signins)
        ]
    )
    sessions = frames.conform(
        [
            {
                "kind": "role_session",
                "first_seen": base + timedelta(seconds=rng.randrange(14 * 86400)),
                "source_ips": [f"10.0.0.{rng.randrange(5)}"],
                "events": 3,
                "errors": 0,
                "origin": "x",
            }
            for _ in range(n_sessions)
        ],
        "person_sessions",
    )
    return signins, sessions, pd


def main() -> None:
    from iamkit import entra
    from iamkit.correlate import build_timeline
    from iamkit.entra.auth import StaticToken
    from iamkit.entra.client import GraphClient, make_session
    from iamkit.sandbox import entra as fake_entra

    n = int(os.environ.get("BENCH_ENTRA_SIGNINS", "20000"))
    n_sessions = int(os.environ.get("BENCH_ENTRA_SESSIONS", "5000"))
    with tempfile.TemporaryDirectory() as tmp:
        fake = fake_entra.start(_org(), Path(tmp) / "fake", now=NOW)
        fake.rate_limits = {}  # this bench measures the client's own cost, not Graph's 5 requests per 10 s
        try:
            fake.page_size = 999
            upn = _pad_signins(fake, n)
            since = NOW - timedelta(days=14)
            raw_s, raw_n = timed(_raw_pull, fake, upn, since, repeat=2)
            graph = GraphClient(
                fake.graph_url,
                StaticToken(fake.issue_token(lifetime=3600)),
                session=make_session(str(fake.ca_bundle)),
                evidence_dir=Path(tmp) / "evidence",
                pacing={},
                now=lambda: NOW,
            )
            kit_s, df = timed(
                entra.signins, graph, upn, since=since, noninteractive=False, slice_=timedelta(days=1), repeat=2
            )
        finally:
            fake.stop()
    signins, sessions, pd = _timeline_inputs(n, n_sessions)
    tl_s, tl = timed(build_timeline, signins, sessions, repeat=2)

    def asof():
        good = signins[signins["success"].fillna(False).astype(bool)].sort_values("created")
        left = sessions.sort_values("first_seen")[["first_seen"]]
        return pd.merge_asof(
            left, good[["created", "ip_address"]], left_on="first_seen", right_on="created", direction="nearest"
        )

    asof_s, _ = timed(asof, repeat=2)
    record(
        "entra",
        {
            "signins pulled": len(df),
            "signins (raw baseline)": raw_n,
            "iamkit.entra.signins (sliced, frame, evidence) s": kit_s,
            "raw requests, same slices and pages s": raw_s,
            "ratio signins pull / raw loop": kit_s / raw_s,
            "timeline rows": len(tl),
            "build_timeline s": tl_s,
            "pandas merge_asof (nearest only) s": asof_s,
            "ratio build_timeline / merge_asof": tl_s / asof_s,
        },
    )
