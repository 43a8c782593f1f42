"""Smoke test of the surgery on moto's internals: fails loudly when a moto upgrade moves them."""

from __future__ import annotations

import json

import pytest

from iamkit.sandbox import backend


def test_internals_are_where_the_sandbox_expects():
    backend.check_internals()


@pytest.mark.parametrize("attr", ["iam_backends", "AccessKeyLastUsed", "AWSManagedPolicy"])
def test_a_moved_internal_is_named(monkeypatch, attr):
    from moto.iam import models

    monkeypatch.delattr(models, attr)
    with pytest.raises(backend.MotoInternalsChanged, match=attr):
        backend.check_internals()


def test_a_moved_backend_attribute_is_named(monkeypatch):
    from moto.iam import models

    real = models.IAMBackend.__init__

    def init(self, *a, **kw):
        real(self, *a, **kw)
        del self.access_keys

    monkeypatch.setattr(models.IAMBackend, "__init__", init)
    with pytest.raises(backend.MotoInternalsChanged, match="access_keys"):
        backend.check_internals()


@pytest.mark.parametrize(
    "name, path",
    [
        ("AdministratorAccess", "/"),
        ("AWSLambdaBasicExecutionRole", "/service-role/"),
        ("ViewOnlyAccess", "/job-function/"),
    ],
)
def test_aws_managed_policy_arns_keep_their_path(name, path):
    assert backend.aws_policy_arn(name) == f"arn:aws:iam::aws:policy{path}{name}"


def test_managed_policies_installed_once_and_attachable(sandbox):
    acct = sandbox.org.accounts_in("Sandbox")[0].account_id
    iam = sandbox.client("iam", acct)
    before = sorted(p["Arn"] for p in iam.list_policies(Scope="AWS")["Policies"])
    again = backend.install_aws_managed_policies(acct)  # idempotent: nothing added the second time
    assert sorted(again) == before == sorted(p["Arn"] for p in iam.list_policies(Scope="AWS")["Policies"])
    version = iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")["Policy"]["DefaultVersionId"]
    doc = iam.get_policy_version(PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess", VersionId=version)[
        "PolicyVersion"
    ]["Document"]
    doc = json.loads(doc) if isinstance(doc, str) else doc
    assert doc["Statement"][0]["Action"] == "*"


def test_backdating_a_key_shows_in_the_credential_report(sandbox):
    """On a scratch account outside the seeded org (same server), so the shared sandbox stays untouched."""
    from datetime import UTC, datetime

    from iamkit.sandbox.server import account_session, client

    scratch = "990000000123"
    iam = client(account_session(sandbox.endpoint_url, scratch), "iam", sandbox.endpoint_url)
    iam.create_user(UserName="probe")
    kid = iam.create_access_key(UserName="probe")["AccessKey"]["AccessKeyId"]
    created, used = datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC), datetime(2024, 3, 4, 5, 6, 7, tzinfo=UTC)
    backend.set_access_key(scratch, kid, created=created, last_used=used, service="ec2")
    backend.set_user(scratch, "probe", user_id="AIDAPROBEPROBEPROBE1", created=created)
    meta = iam.list_access_keys(UserName="probe")["AccessKeyMetadata"][0]
    assert meta["CreateDate"] == created
    last = iam.get_access_key_last_used(AccessKeyId=kid)["AccessKeyLastUsed"]
    assert (last["LastUsedDate"], last["ServiceName"]) == (used, "ec2")
    assert iam.get_user(UserName="probe")["User"]["UserId"] == "AIDAPROBEPROBEPROBE1"
    iam.generate_credential_report()
    report = iam.get_credential_report()["Content"].decode()
    row = next(line for line in report.splitlines() if line.startswith("probe,"))
    assert "2024-02-03T04:05:06" in row and "2024-03-04T05:06:07" in row


def test_bulk_s3_writer_stores_what_put_object_stores(sandbox):
    """Same bytes, metadata and ETag as a PutObject, on a scratch account outside the seeded org."""
    from iamkit.sandbox.server import account_session, client

    scratch = "990000000124"
    s3 = client(account_session(sandbox.endpoint_url, scratch), "s3", sandbox.endpoint_url)
    s3.create_bucket(Bucket="bulk-writer-probe-990000000124")
    body = b"\x1f\x8b" + bytes(range(200))
    s3.put_object(
        Bucket="bulk-writer-probe-990000000124",
        Key="api.json.gz",
        Body=body,
        ContentType="application/json",
        ContentEncoding="gzip",
    )
    put = backend.BulkS3Writer(scratch).put_object(
        Bucket="bulk-writer-probe-990000000124",
        Key="bulk.json.gz",
        Body=body,
        ContentType="application/json",
        ContentEncoding="gzip",
    )
    api = s3.get_object(Bucket="bulk-writer-probe-990000000124", Key="api.json.gz")
    bulk = s3.get_object(Bucket="bulk-writer-probe-990000000124", Key="bulk.json.gz")
    assert bulk["Body"].read() == api["Body"].read() == body
    for field in ("ContentType", "ContentEncoding", "ETag", "ContentLength"):
        assert bulk[field] == api[field], field
    assert put["ETag"] == bulk["ETag"]
