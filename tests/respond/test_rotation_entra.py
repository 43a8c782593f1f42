"""Key rotation (the secret only ever reaches the operator) and the Entra actions against the fake Graph."""

from __future__ import annotations

import stat

import pytest

from iamkit.errors import BadInput
from iamkit.respond import Action, Plan, apply, capture_before, undo
from iamkit.respond.handover import to_file
from iamkit.respond.plan import rotate_key_actions


def _keys(iam, user):
    return sorted((k["AccessKeyId"], k["Status"]) for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"])


def _all_bytes(root):
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_rotation_hands_the_secret_over_outside_the_case_then_waits(scratch, case, tmp_path_factory):
    iam = scratch.iam
    iam.create_user(UserName="fi")
    old = iam.create_access_key(UserName="fi")["AccessKey"]["AccessKeyId"]
    before = _keys(iam, "fi")
    cl = scratch.clients()
    plan = capture_before(Plan(case.id, rotate_key_actions(scratch.acct, scratch.arn("user", "fi"), old, [old])), cl)
    assert any("never written to the case" in line for line in plan.diff())
    with pytest.raises(BadInput, match="never written into the case"):
        to_file(case.path / "secret.env", case.path)
    out = tmp_path_factory.mktemp("operator") / "fi.env"
    rows = apply(plan, case, cl, approve=plan.hash, hand_over=to_file(out, case.path))
    assert rows[0]["changed"] and rows[0]["verified"] and rows[1]["pending"] and not rows[1]["changed"]
    keys = _keys(iam, "fi")
    assert len(keys) == 2 and (old, "Active") in keys, "the old key stays active until confirmed"
    new = next(k for k, _ in keys if k != old)
    text = out.read_text()
    secret = text.split("AWS_SECRET_ACCESS_KEY=")[1].strip()
    assert f"AWS_ACCESS_KEY_ID={new}" in text and len(secret) >= 20
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert secret.encode() not in _all_bytes(case.path), "the secret reached the case folder"
    assert any(e.get("created") == new and e.get("handed_to") == f"file {out}" for e in case.journal_entries())
    # confirmed: the old key is deactivated, the create step is already in place
    rows = apply(plan, case, cl, approve=plan.hash, confirm=lambda a: True)
    assert not rows[0]["changed"] and rows[1]["changed"] and rows[1]["verified"]
    assert _keys(iam, "fi") == sorted([(old, "Inactive"), (new, "Active")])
    assert secret.encode() not in _all_bytes(case.path)
    undo(case, cl)  # the newest run: the old key active again
    assert _keys(iam, "fi") == sorted([(old, "Active"), (new, "Active")])
    undo(case, cl)  # then the first run: the key it created is deleted
    assert _keys(iam, "fi") == before


def test_rotation_without_a_place_for_the_secret_creates_nothing(scratch, case):
    iam = scratch.iam
    iam.create_user(UserName="gu")
    old = iam.create_access_key(UserName="gu")["AccessKey"]["AccessKeyId"]
    plan = Plan(case.id, rotate_key_actions(scratch.acct, scratch.arn("user", "gu"), old, [old]))
    rows = apply(plan, case, scratch.clients(), approve=plan.hash)
    assert "somewhere to go" in rows[0]["error"] and _keys(iam, "gu") == [(old, "Active")]
    with pytest.raises(BadInput, match="two access keys"):
        rotate_key_actions(scratch.acct, scratch.arn("user", "gu"), old, [old, "AKIAOTHER"])


@pytest.fixture(scope="module")
def fake_entra(sandbox, tmp_path_factory):
    """A private fake Entra + Graph for the shared sandbox's people (the shared one stays untouched)."""
    from iamkit.sandbox import entra

    fake = entra.start(sandbox.org, tmp_path_factory.mktemp("entra-remediation"))
    yield fake
    fake.stop()


def _graph(fake, cache):
    """A Graph client with its own token cache (a cached token would keep the permissions it was issued with)."""
    from iamkit.entra import connect

    env = fake.env()
    return connect(
        "client_secret",
        tenant_id=env["IAMKIT_ENTRA_TENANT_ID"],
        client_id=env["IAMKIT_ENTRA_CLIENT_ID"],
        authority=env["IAMKIT_ENTRA_AUTHORITY"],
        graph_url=env["IAMKIT_GRAPH_URL"],
        ca_bundle=env["IAMKIT_ENTRA_CA_BUNDLE"],
        sleeper=lambda s: None,
        token_cache=cache,
    )


def test_entra_disable_and_revoke_reach_the_fake_graph(fake_entra, case, monkeypatch, tmp_path):
    from iamkit.respond import Clients

    fake = fake_entra
    monkeypatch.setenv("IAMKIT_ENTRA_CLIENT_SECRET", fake.client_secret)
    user = next(
        u
        for u in fake.directory.users.values()
        if u.get("accountEnabled") and "signInSessionsValidFromDateTime" not in u
    )
    upn = user["userPrincipalName"]
    cl = Clients(graph=_graph(fake_entra, tmp_path / "cache.json"))
    acts = [
        Action("disable_entra_user", "entra", f"entra:user/{upn}", {"user": upn}, "t"),
        Action(
            "revoke_entra_sessions",
            "entra",
            f"entra:user/{upn}",
            {"user": upn, "issued_before": "2026-01-01T00:00:00Z"},
            "t",
        ),
    ]
    plan = capture_before(Plan(case.id, acts), cl)
    assert plan.before[0] == {"account_enabled": True}
    with pytest.raises(BadInput, match="allow-irreversible"):
        apply(plan, case, cl, approve=plan.hash)
    assert user["accountEnabled"] is True and "signInSessionsValidFromDateTime" not in user
    rows = apply(plan, case, cl, approve=plan.hash, allow_irreversible=True)
    assert all(r["changed"] and r["verified"] for r in rows), rows
    assert user["accountEnabled"] is False and user["signInSessionsValidFromDateTime"] >= "2026-01-01"
    writes = [(e["method"], e["path"], e["status"]) for e in fake.log if e["method"] != "GET"]
    assert ("PATCH", f"/v1.0/users/{upn}", 204) in writes
    assert ("POST", f"/v1.0/users/{upn}/revokeSignInSessions", 200) in writes
    undone = undo(case, cl)
    by_kind = {r["kind"]: r for r in undone}
    assert by_kind["disable_entra_user"]["restored"] and user["accountEnabled"] is True
    assert by_kind["revoke_entra_sessions"]["irreversible"] and not by_kind["revoke_entra_sessions"]["restored"]
    assert "irreversible" in by_kind["revoke_entra_sessions"]["note"]


def test_entra_writes_need_their_permissions(fake_entra, case, monkeypatch, tmp_path):
    from iamkit.entra import GraphError, PermissionDenied
    from iamkit.respond import Clients

    fake = fake_entra
    monkeypatch.setenv("IAMKIT_ENTRA_CLIENT_SECRET", fake.client_secret)
    user = next(
        u
        for u in fake.directory.users.values()
        if u.get("accountEnabled") and "signInSessionsValidFromDateTime" not in u
    )
    upn = user["userPrincipalName"]
    fake.reset()
    fake.granted -= {"User.EnableDisableAccount.All", "User.RevokeSessions.All"}
    try:
        g = _graph(fake, tmp_path / "cache-1.json")
        acts = [
            Action("disable_entra_user", "entra", f"entra:user/{upn}", {"user": upn}, "t"),
            Action(
                "revoke_entra_sessions",
                "entra",
                f"entra:user/{upn}",
                {"user": upn, "issued_before": "2026-01-01T00:00:00Z"},
                "t",
            ),
        ]
        plan = Plan(case.id, acts)
        rows = apply(plan, case, Clients(graph=g), approve=plan.hash, allow_irreversible=True)
        assert "User.EnableDisableAccount.All" in rows[0]["error"] and "User.RevokeSessions.All" in rows[1]["error"]
        assert user["accountEnabled"] is True and "signInSessionsValidFromDateTime" not in user
        assert [e["status"] for e in fake.log if e["path"].startswith("/v1.0/") and e["method"] != "GET"] == [403, 403]
        fake.granted |= {"User.ReadWrite.All"}  # the broader permission grants both
        g2 = _graph(fake, tmp_path / "cache-2.json")
        g2.request("PATCH", f"/users/{upn}", json_body={"accountEnabled": False})
        assert user["accountEnabled"] is False
        g2.request("PATCH", f"/users/{upn}", json_body={"accountEnabled": True})
        with pytest.raises(GraphError, match="accountEnabled"):  # the fake updates nothing else
            g2.request("PATCH", f"/users/{upn}", json_body={"displayName": "x"})
        with pytest.raises(GraphError):
            g2.request("PATCH", f"/users/{upn}", json_body={"accountEnabled": "no"})
        assert user["accountEnabled"] is True and user["displayName"] != "x"
        fake.granted -= {"User.ReadWrite.All"}
        with pytest.raises(PermissionDenied):
            _graph(fake, tmp_path / "cache-3.json").request("POST", f"/users/{upn}/revokeSignInSessions")
    finally:
        fake.reset()
