"""End to end: collect the sandbox organization, assess it, and check every seeded risk is found by the right
rule while no deliberately safe look-alike is flagged by the rules it imitates (nor at high/critical)."""

from __future__ import annotations

import pytest

# risk kind (SeededOrg.risks[].kind) -> the rule that must flag its ARN
EXPECTED = {
    "root-principal-trust": "IAMKIT-TRUST-001",
    "star-trust": "IAMKIT-TRUST-002",
    "star-trust-conditional": "IAMKIT-TRUST-003",
    "third-party-trust": "IAMKIT-TRUST-004",
    "cross-account-no-external-id": "IAMKIT-TRUST-005",
    "service-trust-no-source-account": "IAMKIT-TRUST-007",
    "github-oidc-no-sub": "IAMKIT-TRUST-008",
    "long-session-admin": "IAMKIT-TRUST-010",
    "old-access-key": "IAMKIT-CRED-001",
    "unused-access-key": "IAMKIT-CRED-002",
    "two-active-keys": "IAMKIT-CRED-003",
    "user-no-mfa": "IAMKIT-CRED-004",
    "wildcard-admin-policy": "IAMKIT-PRIV-001",
    "iam-star": "IAMKIT-PRIV-002",
    "passrole-lambda": "IAMKIT-ESC-002",
    "public-bucket": "IAMKIT-EXPO-001",
    "open-kms-key": "IAMKIT-EXPO-001",
    "cross-account-secret": "IAMKIT-EXPO-002",
    "stale-role": "IAMKIT-POST-006",
}
# safe look-alike kind -> rule-id prefixes that must stay silent on it
LOOKALIKE = {
    "safe-cross-account-external-id": ("IAMKIT-TRUST-",),
    "safe-wildcard-denied": ("IAMKIT-PRIV-", "IAMKIT-ESC-"),
    "safe-github-oidc-sub": ("IAMKIT-TRUST-",),
    "safe-bucket-org-restricted": ("IAMKIT-EXPO-",),
}


@pytest.fixture(scope="module")
def assessed(sandbox):
    from iamkit.assess import run
    from iamkit.inventory import collect

    inv = collect(org=True, service_last_accessed=False)
    return sandbox.org, run(inv)


def _on(df, arn):
    return df[(df.principal_arn == arn) | (df.resource_arn == arn)]


def test_every_seeded_risk_is_found_by_its_rule(assessed):
    org, df = assessed
    risks = [r for r in org.risks if not r.safe]
    assert risks
    unknown = sorted({r.kind for r in risks} - set(EXPECTED))
    assert not unknown, f"new sandbox risk kinds need a rule mapping: {unknown}"
    missed = []
    for r in risks:
        hits = _on(df, r.arn)
        hits = hits[hits.rule_id == EXPECTED[r.kind]]
        if r.access_key_id and r.kind != "two-active-keys":
            hits = hits[hits.evidence.str.contains(r.access_key_id, regex=False)]
        if hits.empty:
            missed.append((r.risk_id, r.arn, EXPECTED[r.kind]))
    assert not missed


def test_no_safe_lookalike_is_flagged(assessed):
    org, df = assessed
    safe = [r for r in org.risks if r.safe]
    assert safe
    for r in safe:
        hits = _on(df, r.arn)
        assert r.kind in LOOKALIKE, f"new safe look-alike kind {r.kind} needs a mapping"
        bad = hits[hits.rule_id.str.startswith(LOOKALIKE[r.kind]) | hits.severity.isin(["critical", "high"])]
        assert bad.empty, (r.risk_id, bad[["rule_id", "detail"]].to_dict(orient="records"))


def test_escalation_paths_found_in_the_sandbox(assessed):
    org, df = assessed
    esc = df[df.rule_id == "IAMKIT-ESC-001"]
    jenkins = next(r.arn for r in org.risks if r.kind == "iam-star")
    assert jenkins in set(esc.principal_arn)
    assert "IAMKIT-ERROR" not in set(df.rule_id)
