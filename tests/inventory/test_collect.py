"""Live collection against a seeded moto organization: frames, counts, snapshots, drift, CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from iamkit import frames
from iamkit.errors import BadInput
from iamkit.inventory import FRAME_NAMES, Inventory, collect, diff


@pytest.fixture(scope="module")
def snapshot(mini_org):
    """One collection of the module's organization (collected once, read by many tests)."""
    mp = pytest.MonkeyPatch()
    for k, v in mini_org.env().items():
        mp.setenv(k, v) if v else mp.delenv(k, raising=False)
    try:
        yield collect(org=True, service_last_accessed=True)
    finally:
        mp.undo()


def test_every_frame_follows_its_schema(snapshot):
    for name in FRAME_NAMES:
        frames.check(getattr(snapshot, name), name)


def test_accounts_with_ou_paths(snapshot, mini_org):
    acc = snapshot.accounts.set_index("account_id")
    assert sorted(acc.index) == sorted(mini_org.accounts)
    assert acc.loc[mini_org.management, "is_management"]
    for member in mini_org.members:
        assert acc.loc[member, "ou_path"] == f"Root/{mini_org.ous[member]}"
        assert acc.loc[member, "org_id"] == mini_org.org_id


def test_principals_match_what_was_seeded(snapshot, mini_org):
    p = snapshot.principals
    for acct in mini_org.members:
        mine = p[p["account_id"] == acct]
        assert set(mini_org.users[acct]) == set(mine.loc[mine["principal_type"] == "user", "arn"])
        assert set(mini_org.roles[acct]) <= set(mine.loc[mine["principal_type"] == "role", "arn"])
        assert (mine["principal_type"] == "group").sum() == 1
        assert (mine["principal_type"] == "root").sum() == 1
        seeded = mine[mine["arn"].isin(mini_org.roles[acct])]
        assert set(seeded["max_session_duration"]) == {7200}


def test_policies_versions_and_attachments(snapshot, mini_org):
    pol = snapshot.policies
    for acct in mini_org.members:
        read = pol[(pol["account_id"] == acct) & (pol["policy_name"] == "app-read")]
        default = read[read["is_default"]]
        # attached to the devs group and every seeded role
        assert len(default) == 1 + len(mini_org.roles[acct])
        assert set(default["attached_to_type"]) == {"group", "role"}
        assert list(read.loc[~read["is_default"], "version_id"]) == ["v2"]
        inline = pol[(pol["account_id"] == acct) & (pol["policy_type"] == "inline")]
        assert sorted(inline["policy_name"]) == ["admin-inline", "inline-read", "inline-read"]


def test_scp_with_targets_and_statements(snapshot, mini_org):
    pol = snapshot.policies
    scp = pol[pol["policy_name"] == "deny-stop-logging"]
    assert list(scp["policy_type"]) == ["scp"] and list(scp["attached_to_type"]) == ["ou"]
    st = snapshot.statements
    [row] = st[st["policy_name"] == "deny-stop-logging"].to_dict("records")
    assert row["effect"] == "Deny" and row["actions"] == ["cloudtrail:StopLogging", "cloudtrail:DeleteTrail"]


def test_trusts_flags(snapshot, mini_org):
    t = snapshot.trusts
    for acct in mini_org.members:
        mine = t[t["role_arn"].isin(mini_org.roles[acct])].set_index("role_arn")
        star, ext, plain = mini_org.roles[acct]
        assert mine.loc[star, "principal"] == "*"
        assert mine.loc[ext, "external_id_required"] and mine.loc[ext, "principal_account_id"] == mini_org.management
        assert not mine.loc[plain, "external_id_required"]


def test_access_keys_and_credentials(snapshot, mini_org):
    keys = snapshot.access_keys
    for acct in mini_org.members:
        assert set(keys.loc[keys["account_id"] == acct, "access_key_id"]) == set(mini_org.keys[acct])
    cred = snapshot.credentials
    for acct in mini_org.members:
        mine = cred[cred["account_id"] == acct]
        assert "<root_account>" in set(mine["user"])
        assert {"alice", "bob"} <= set(mine["user"])


def test_every_seeded_resource_policy_appears(snapshot, mini_org):
    rp = snapshot.resource_policies
    for acct in mini_org.members:
        mine = rp[rp["account_id"] == acct].set_index("resource_arn")
        for arn in mini_org.resources[acct]:
            assert arn in mine.index, arn
            assert isinstance(mine.loc[arn, "policy"], dict), arn
        assert set(mine["service"]) == {"s3", "kms", "secretsmanager", "sqs", "sns", "ecr"}
        bucket = mine.loc[f"arn:aws:s3:::iamkit-inv-{acct}"]
        assert bucket["extra"]["acl_grants"] and bucket["policy"]["Statement"][0]["Principal"] == "*"


def test_identity_center(snapshot, mini_org):
    ic = snapshot.identity_center
    kinds = ic.groupby("kind").size().to_dict()
    assert kinds == {"instance": 1, "permission_set": 1, "user": 1, "group": 1, "membership": 1, "assignment": 1}
    ps = ic[ic["kind"] == "permission_set"].iloc[0]
    assert ps["detail"]["managed_policies"] == ["arn:aws:iam::aws:policy/AdministratorAccess"]
    assert ic.loc[ic["kind"] == "assignment", "account_id"].tolist() == [mini_org.members[0]]


def test_posture(snapshot, mini_org):
    post = snapshot.posture
    trail = post[post["control"] == "cloudtrail.trail"].iloc[0]
    assert trail["status"] == "logging" and trail["detail"]["multi_region"] and trail["detail"]["log_file_validation"]
    assert (post["control"] == "guardduty.detector").sum() == 1
    assert set(post.loc[post["control"] == "iam.password_policy", "account_id"]) == set(mini_org.accounts)
    assert (post["control"] == "organizations.ou").sum() == 3
    [admin] = post[post["control"] == "organizations.delegated_administrator"].to_dict("records")
    assert admin["account_id"] == mini_org.members[0]
    assert admin["detail"]["services"] == ["guardduty.amazonaws.com"]


def test_unsupported_operations_listed_once(snapshot):
    err = snapshot.errors
    unsupported = err[err["code"] == "NotSupportedByEndpoint"]
    assert unsupported["operation"].is_unique
    assert {"access-analyzer:ListAnalyzers", "iam:GenerateServiceLastAccessedDetails"} <= set(unsupported["operation"])
    assert set(err["code"]) == {"NotSupportedByEndpoint"}  # nothing else failed
    assert set(snapshot.meta["unsupported_operations"]) == set(unsupported["operation"])


def test_save_load_roundtrip_and_tamper(snapshot, tmp_path):
    snapshot.save(tmp_path / "snap")
    manifest = json.loads((tmp_path / "snap" / "manifest.json").read_text())
    assert sorted(manifest["files"]) == sorted(f"{n}.parquet" for n in FRAME_NAMES)
    back = Inventory.load(tmp_path / "snap")
    for name in FRAME_NAMES:
        frames.check(getattr(back, name), name)
        assert len(getattr(back, name)) == len(getattr(snapshot, name))
    assert back.resource_policies["policy"].tolist() == snapshot.resource_policies["policy"].tolist()
    assert diff(snapshot, back).empty
    target = tmp_path / "snap" / "trusts.parquet"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(BadInput, match="trusts.parquet does not match"):
        Inventory.load(tmp_path / "snap")


def test_load_rejects_a_folder_that_is_not_a_snapshot(tmp_path):
    with pytest.raises(BadInput, match="not an inventory snapshot"):
        Inventory.load(tmp_path)


def test_drift_reports_exactly_the_three_changes(fresh_account, aws_env, tmp_path, helpers):
    account_client, trust_account = helpers.account_client, helpers.trust_account
    fresh_org, acct = fresh_account
    aws_env(fresh_org)
    before = collect(accounts=[acct], service_last_accessed=False)
    iam = account_client(fresh_org.url, acct, "iam")
    changed, deleted = fresh_org.roles[acct][0], fresh_org.roles[acct][1]
    iam.update_assume_role_policy(
        RoleName=changed.split("/")[-1], PolicyDocument=json.dumps(trust_account("555555555555"))
    )
    new_key = iam.create_access_key(UserName="bob")["AccessKey"]["AccessKeyId"]
    name = deleted.split("/")[-1]
    iam.detach_role_policy(RoleName=name, PolicyArn=f"arn:aws:iam::{acct}:policy/app-read")
    iam.delete_role(RoleName=name)
    after = collect(accounts=[acct], service_last_accessed=False)
    before.save(tmp_path / "old")
    after.save(tmp_path / "new")
    d = diff(Inventory.load(tmp_path / "old"), Inventory.load(tmp_path / "new"))
    got = sorted(zip(d["kind"], d["change"], d["key"], strict=True))
    assert got == sorted(
        [("trust", "changed", changed), ("access_key", "added", new_key), ("principal", "removed", deleted)]
    )
    assert "555555555555" in d.loc[d["kind"] == "trust", "detail"].iloc[0]
    result = CliRunner().invoke(
        __import__("iamkit.cli", fromlist=["app"]).app,
        ["inventory", "diff", str(tmp_path / "old"), str(tmp_path / "new"), "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    assert sorted(r["key"] for r in json.loads(result.output)) == sorted([changed, new_key, deleted])


def test_cli_collect_writes_every_frame(mini_org, aws_env, tmp_path):
    from iamkit.cli import app

    aws_env(mini_org)
    out = tmp_path / "snap"
    result = CliRunner().invoke(
        app,
        ["inventory", "collect", "--org", "--out", str(out), "--no-service-last-accessed", "--session-name", "case 42"],
    )
    assert result.exit_code == 0, result.output
    inv = Inventory.load(out)
    assert set(inv.accounts["account_id"]) == set(mini_org.accounts)
    assert all(len(getattr(inv, n)) for n in FRAME_NAMES)


def test_explicit_accounts_without_org(mini_org, aws_env):
    aws_env(mini_org)
    inv = collect(accounts=[mini_org.members[1]], service_last_accessed=False)
    assert set(inv.principals["account_id"]) == {mini_org.members[1]}
    assert inv.identity_center.empty


def test_bad_account_id_is_bad_input(mini_org, aws_env):
    aws_env(mini_org)
    with pytest.raises(BadInput, match="not an AWS account id: 12"):
        collect(accounts=["12"])


def test_org_flag_outside_an_organization(moto_url, helpers, scratch_account, monkeypatch):
    iam = helpers.account_client(moto_url, scratch_account, "iam")
    iam.create_user(UserName="solo")
    key = iam.create_access_key(UserName="solo")["AccessKey"]["AccessKeyId"]
    org = helpers.MiniOrg(url=moto_url, management=scratch_account, access_key_id=key, org_id="", members=[], ous={})
    for k, v in org.env().items():
        monkeypatch.setenv(k, v) if v else monkeypatch.delenv(k, raising=False)
    inv = collect(org=True, service_last_accessed=False)
    err = inv.errors[inv.errors["code"] != "NotSupportedByEndpoint"]
    assert err[["account_id", "code"]].values.tolist() == [[scratch_account, "NoOrganization"]]
    assert f"arn:aws:iam::{scratch_account}:user/solo" in set(inv.principals["arn"])
    assert inv.accounts["account_id"].tolist() == [scratch_account]
