"""End to end on the shared sandbox: ``iamkit inventory collect --org`` finds what the scenario manifest
(``SeededOrg``) says was seeded, and ``errors`` lists only the endpoint's missing APIs."""

from __future__ import annotations

import dataclasses

import pytest
from typer.testing import CliRunner

from iamkit import frames
from iamkit.inventory import FRAME_NAMES, Inventory

pytestmark = pytest.mark.sandbox


@pytest.fixture(scope="module")
def snap(sandbox, tmp_path_factory) -> Inventory:
    """``iamkit inventory collect --org`` through the CLI, loaded back from its snapshot folder."""
    from iamkit.cli import app

    out = tmp_path_factory.mktemp("sandbox-inventory") / "snap"
    result = CliRunner().invoke(app, ["inventory", "collect", "--org", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return Inventory.load(out)


def test_frames_follow_schemas_and_seeded_ones_are_filled(snap):
    for name in FRAME_NAMES:
        frames.check(getattr(snap, name), name)
    for name in (
        "accounts",
        "principals",
        "policies",
        "statements",
        "trusts",
        "access_keys",
        "credentials",
        "resource_policies",
        "identity_center",
        "posture",
    ):
        assert len(getattr(snap, name)), name


def test_accounts_and_ous(snap, sandbox):
    acc = snap.accounts.set_index("account_id")
    assert sorted(acc.index) == sorted(a.account_id for a in sandbox.org.accounts)
    for a in sandbox.org.accounts:
        if a.ou != "Root":
            assert acc.loc[a.account_id, "ou_path"].split("/")[-1] == a.ou
        assert bool(acc.loc[a.account_id, "is_management"]) == (a.account_id == sandbox.org.management_account_id)


def test_every_seeded_principal_and_key(snap, sandbox):
    incident = sandbox.org.incident
    extra_users = {incident.created_user_arn} if incident else set()
    extra_keys = {incident.created_access_key_id} if incident else set()
    p = snap.principals
    roles = set(p.loc[p["principal_type"] == "role", "arn"])
    users = set(p.loc[p["principal_type"] == "user", "arn"])
    assert {r.arn for r in sandbox.org.roles} <= roles
    seeded_users = {u.arn for u in sandbox.org.users}
    assert seeded_users <= users and users - seeded_users <= extra_users
    seeded_keys = {k.access_key_id for u in sandbox.org.users for k in u.access_keys}
    keys = set(snap.access_keys["access_key_id"])
    assert seeded_keys <= keys and keys - seeded_keys <= extra_keys
    role_session = {r.arn: r.max_session_duration for r in sandbox.org.roles}
    got = snap.principals.set_index("arn")["max_session_duration"]
    assert {arn: int(got[arn]) for arn in role_session} == role_session


def test_every_seeded_resource_policy_appears(snap, sandbox):
    rp = snap.resource_policies.set_index("resource_arn")
    for res in sandbox.org.resources:
        assert res.arn in rp.index, res.arn
        if res.policy:
            policy = rp.loc[res.arn, "policy"]
            assert isinstance(policy, dict) and policy.get("Statement"), res.arn


def test_identity_center_assignments(snap, sandbox):
    ic = snap.identity_center
    got = {
        (r["account_id"], r["detail"]["permission_set_arn"], r["detail"]["principal_id"])
        for r in ic[ic["kind"] == "assignment"].to_dict("records")
    }
    want = {(a.account_id, a.permission_set_arn, a.principal_id) for a in sandbox.org.assignments}
    assert want <= got


def test_scp_in_workload_ous(snap):
    st = snap.statements
    denies = st[(st["effect"] == "Deny") & st["actions"].map(lambda a: "cloudtrail:StopLogging" in (a or []))]
    assert len(denies) >= 1
    scp_arns = set(denies["policy_arn"])
    pol = snap.policies
    targets = pol[pol["policy_arn"].isin(scp_arns)]
    assert set(targets["policy_type"]) == {"scp"} and (targets["attached_to_type"] == "ou").any()


def test_the_shared_snapshot_check_finds_nothing_and_catches_a_gap(snap, sandbox):
    from iamkit.sandbox.verify import snapshot_problems

    assert snapshot_problems(snap, sandbox.org) == []
    lost = sandbox.org.resources[0].arn
    rp = snap.resource_policies
    gap = dataclasses.replace(snap, resource_policies=rp[rp["resource_arn"] != lost])
    assert f"resource missing: {lost}" in snapshot_problems(gap, sandbox.org)


def test_counts_match_the_manifest(snap, sandbox):
    from iamkit.sandbox.verify import count_mismatches

    checked, problems = count_mismatches(snap, sandbox.org)
    assert problems == []
    assert checked >= len(sandbox.org.accounts) + len((sandbox.org.counts or {}).get("per_account") or {})


def test_errors_are_only_missing_apis(snap):
    err = snap.errors
    assert set(err["code"]) <= {"NotSupportedByEndpoint"}
    assert err["operation"].is_unique
