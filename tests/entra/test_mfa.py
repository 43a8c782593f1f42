"""MFA is derived from what the queried Graph version really returns and is "unknown" when it cannot be known:
the per-sign-in answers and the person view, compared with the seed's ground truth (``Directory.signin_mfa``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from entra_helpers import ALICE, NOW

from iamkit import entra
from iamkit.correlate import correlate, mfa_at_signin
from iamkit.entra.frames import sign_in_mfa, signins_frame
from iamkit.sandbox.entra_data import STRONG

BOB, CAROL = "bob@corp.example", "carol@corp.example"
OK = {"errorCode": 0, "failureReason": "Other.", "additionalDetails": None}


# ---------------------------------------------------------------- the derivation (pure)
@pytest.mark.parametrize(
    ("record", "answer", "evidence"),
    [
        # v1.0: MFA named in the status details, or proven by a Conditional Access grant
        ({"status": {**OK, "additionalDetails": "MFA completed in Azure AD"}}, "yes", "status.additionalDetails"),
        (
            {"status": {**OK, "additionalDetails": "MFA requirement satisfied by claim in the token"}},
            "yes",
            "status.additionalDetails",
        ),
        (
            {
                "status": OK,
                "appliedConditionalAccessPolicies": [{"enforcedGrantControls": ["Mfa"], "result": "success"}],
            },
            "yes",
            "appliedConditionalAccessPolicies",
        ),
        (
            {
                "status": OK,
                "appliedConditionalAccessPolicies": [{"enforcedGrantControls": ["Mfa"], "result": "failure"}],
            },
            "unknown",
            None,
        ),
        # v1.0 cannot say "no": a plain successful sign-in is unknown
        ({"status": OK}, "unknown", None),
        ({"status": {**OK, "additionalDetails": "Redirected to external provider"}}, "unknown", None),
        # failed MFA is a v1.0 error code; other failures say nothing about MFA
        (
            {"status": {"errorCode": 500121, "failureReason": "Authentication failed during strong authentication"}},
            "failed",
            "status.errorCode 500121",
        ),
        ({"status": {"errorCode": 50126}, "authenticationRequirement": "singleFactorAuthentication"}, "unknown", None),
        # beta says it outright
        ({"status": OK, "authenticationRequirement": "multiFactorAuthentication"}, "yes", "authenticationRequirement"),
        ({"status": OK, "authenticationRequirement": "singleFactorAuthentication"}, "no", "authenticationRequirement"),
        (
            {
                "status": OK,
                "authenticationRequirement": "singleFactorAuthentication",
                "authenticationDetails": [
                    {"authenticationStepRequirement": "Multifactor authentication", "succeeded": True}
                ],
            },
            "yes",
            "authenticationDetails",
        ),
        # hostile or broken shapes never crash and never claim anything
        ({}, "unknown", None),
        ({"status": "x", "authenticationDetails": "y", "appliedConditionalAccessPolicies": ["z"]}, "unknown", None),
    ],
)
def test_sign_in_mfa(record, answer, evidence):
    assert sign_in_mfa(record) == (answer, evidence)


def test_mfa_at_signin_needs_evidence_to_say_no():
    def frame(*answers):
        recs = []
        for i, a in enumerate(answers):
            status = {**OK, "additionalDetails": "MFA completed in Azure AD" if a == "yes" else None}
            rec = {"id": str(i), "createdDateTime": f"2026-01-0{i + 1}T00:00:00Z", "status": status}
            if a == "no":
                rec["authenticationRequirement"] = "singleFactorAuthentication"
            recs.append(rec)
        return signins_frame(recs)

    assert mfa_at_signin(frame("yes", "yes")) == "yes"
    assert mfa_at_signin(frame("yes", "unknown")) == "unknown"
    assert mfa_at_signin(frame("unknown", "unknown")) == "unknown"
    assert mfa_at_signin(frame("yes", "no")) == "no"
    assert mfa_at_signin(frame()) == "unknown"


# ---------------------------------------------------------------- against the fake's ground truth
def _truth(fake, upn):
    return {
        s["id"]: fake.directory.signin_mfa[s["id"]] for s in fake.directory.signins if s["userPrincipalName"] == upn
    }


@pytest.mark.parametrize("upn", [ALICE, BOB, CAROL])
def test_v1_answers_are_never_contradicted_by_the_truth_and_never_say_no(graph, fake, upn):
    df = entra.signins(graph, upn, since=NOW - timedelta(days=15))
    truth = _truth(fake, upn)
    assert len(df) and set(df["api_version"]) == {"v1.0"}
    for sid, answer in zip(df["id"], df["mfa"], strict=True):
        assert answer in ("unknown", truth[sid]), (sid, answer, truth[sid])
    assert "no" not in set(df["mfa"])
    ok = df[df["success"].astype(bool)]
    assert set(ok["mfa"]) <= ({"yes"} if upn == ALICE else {"unknown"})  # bob's single factor is unknowable in v1.0


@pytest.mark.parametrize("upn", [ALICE, BOB, CAROL])
def test_beta_answers_every_successful_sign_in_exactly(beta_graph, fake, upn):
    df = entra.signins(beta_graph, upn, since=NOW - timedelta(days=15))
    truth = _truth(fake, upn)
    assert set(df["id"]) == set(truth)  # interactive and non-interactive, all of them
    for sid, answer, ok in zip(df["id"], df["mfa"], df["success"], strict=True):
        assert answer in ("unknown", truth[sid])
        if ok:
            assert answer == truth[sid]


def _people(org):
    return {p.upn: p for p in org.people}


@pytest.mark.parametrize("beta", [False, True])
def test_the_person_view_gives_each_seeded_persons_mfa(graph, beta_graph, fake, org, beta):
    """correlate's summary for every person of the seed, compared with who has a strong method and what
    their sign-ins really did."""
    g = beta_graph if beta else graph
    for upn, person in _people(org).items():
        view = correlate(upn, graph=g, since=NOW - timedelta(days=14))
        s = view.summary()
        strong = bool(set(person.mfa_methods) & STRONG)
        assert s["mfa_registered"] is strong, upn
        truths = {
            fake.directory.signin_mfa[i]
            for i, ok in zip(view.signins["id"], view.signins["success"], strict=True)
            if ok
        }
        if not truths:  # carol is disabled: no successful sign-in to judge by
            expected = "unknown"
        elif truths == {"yes"}:
            expected = "yes"
        else:
            expected = "no" if beta else "unknown"  # v1.0 cannot show a sign-in without MFA
        assert s["mfa_at_signin"] == expected, (upn, s["mfa_signins"])
        assert (s["mfa_signins"]["no"] > 0) is (expected == "no")
        assert ("signins_beta" in view.skipped) is (not beta)


def test_the_attackers_failed_mfa_shows_as_failed(graph, fake):
    df = entra.signins(graph, ALICE, since=NOW - timedelta(days=2))
    attacker = df[df["ip_address"] == "203.0.113.66"].sort_values("created")
    assert attacker["mfa"].tolist() == ["unknown", "failed", "failed"]  # bad password, then two MFA denials
    assert (
        attacker["failure_reason"].notna().all() and df.loc[df["success"].astype(bool), "failure_reason"].isna().all()
    )
