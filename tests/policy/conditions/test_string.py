"""String operators: cases transcribed from AWS's IAM condition-operators page, plus edge cases."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ABSENT = object()


def ctx(key, value):
    return {} if value is ABSENT else {key: value}


# (operator, policy values, request value, expected) for key aws:PrincipalTag/job-category
CASES = [
    # StringEquals "iamuser-admin" (AWS doc table)
    ("StringEquals", "iamuser-admin", "iamuser-admin", True),
    ("StringEquals", "iamuser-admin", "dev-ops", False),
    ("StringEquals", "iamuser-admin", ABSENT, False),
    ("StringEquals", "iamuser-admin", "IAMUSER-ADMIN", False),  # case-sensitive
    ("StringEquals", ["a", "iamuser-admin"], "iamuser-admin", True),  # values OR
    ("StringEquals", "iamuser*", "iamuser-admin", False),  # no wildcards in StringEquals
    ("StringEquals", "iamuser*", "iamuser*", True),
    # StringNotEquals: NOR over the values; an absent key matches
    ("StringNotEquals", "iamuser-admin", "iamuser-admin", False),
    ("StringNotEquals", "iamuser-admin", "dev-ops", True),
    ("StringNotEquals", "iamuser-admin", ABSENT, True),
    ("StringNotEquals", ["dev-ops", "iamuser-admin"], "iamuser-admin", False),
    ("StringNotEquals", ["dev-ops", "iamuser-admin"], "qa", True),
    # IgnoreCase pair
    ("StringEqualsIgnoreCase", "IAMUser-Admin", "iamuser-admin", True),
    ("StringEqualsIgnoreCase", "iamuser-admin", "dev-ops", False),
    ("StringEqualsIgnoreCase", "iamuser-admin", ABSENT, False),
    ("StringNotEqualsIgnoreCase", "IAMUser-Admin", "iamuser-ADMIN", False),
    ("StringNotEqualsIgnoreCase", "iamuser-admin", "dev-ops", True),
    ("StringNotEqualsIgnoreCase", "iamuser-admin", ABSENT, True),
    # StringLike: * any run, ? one char, case-sensitive
    ("StringLike", "iamuser*", "iamuser-admin", True),
    ("StringLike", "iamuser*", "IAMuser-admin", False),
    ("StringLike", "iamuser-?dmin", "iamuser-admin", True),
    ("StringLike", "iamuser-?dmin", "iamuser-aadmin", False),
    ("StringLike", "*", "", True),
    ("StringLike", ["dev*", "qa*"], "qa-lead", True),
    ("StringLike", "iamuser*", ABSENT, False),
    ("StringNotLike", "iamuser*", "iamuser-admin", False),
    ("StringNotLike", "iamuser*", "dev-ops", True),
    ("StringNotLike", ["dev*", "qa*"], "qa-lead", False),
    ("StringNotLike", "iamuser*", ABSENT, True),
    # IfExists (AWS doc: ec2:InstanceType t1.*, t2.*, m3.*)
    ("StringLikeIfExists", ["t1.*", "t2.*", "m3.*"], "t1.micro", True),
    ("StringLikeIfExists", ["t1.*", "t2.*", "m3.*"], "m2.micro", False),
    ("StringLikeIfExists", ["t1.*", "t2.*", "m3.*"], ABSENT, True),
    ("StringEqualsIfExists", "x", "y", False),
    ("StringNotEqualsIfExists", "x", ABSENT, True),
    # JSON booleans / numbers as values and context values
    ("StringEquals", True, True, True),
    ("StringEquals", "true", True, True),
    ("StringEquals", 10, "10", True),
]


@pytest.mark.parametrize(("operator", "values", "request_value", "expected"), CASES)
def test_string_truth_table(decide, operator, values, request_value, expected):
    key = "aws:PrincipalTag/job-category"
    assert decide(operator, key, values, ctx(key, request_value)) is expected


def test_policy_variable_in_string_like_value(decide):
    # AWS doc: "s3:prefix": ["", "home/", "home/${aws:username}/"] style conditions
    values = ["", "home/", "home/${aws:username}/*"]
    base = {"aws:username": "bob"}
    assert decide("StringLike", "s3:prefix", values, {**base, "s3:prefix": "home/bob/docs"}) is True
    assert decide("StringLike", "s3:prefix", values, {**base, "s3:prefix": "home/alice/docs"}) is False
    assert decide("StringLike", "s3:prefix", values, {**base, "s3:prefix": ""}) is True


def test_substituted_wildcards_are_literal(decide):
    # a username holding '*' must not act as a wildcard
    context = {"aws:username": "*", "s3:prefix": "home/alice/"}
    assert decide("StringLike", "s3:prefix", "home/${aws:username}/", context) is False
    context["s3:prefix"] = "home/*/"
    assert decide("StringLike", "s3:prefix", "home/${aws:username}/", context) is True


def test_unresolved_variable_matches_nothing(decide):
    assert decide("StringEquals", "s3:prefix", "home/${aws:username}", {"s3:prefix": "home/"}) is False
    assert decide("StringNotEquals", "s3:prefix", "home/${aws:username}", {"s3:prefix": "home/"}) is True
    assert decide("StringEquals", "s3:prefix", ["home/${aws:username}", "pub"], {"s3:prefix": "pub"}) is True


def test_variable_default_is_used(decide):
    values = "${aws:PrincipalTag/team, 'company-wide'}"
    assert decide("StringEquals", "aws:ResourceTag/team", values, {"aws:ResourceTag/team": "company-wide"}) is True
    both = {"aws:ResourceTag/team": "blue", "aws:PrincipalTag/team": "blue"}
    assert decide("StringEquals", "aws:ResourceTag/team", values, both) is True


def test_variable_matches_resource_tag_to_principal_tag(decide):
    values = "${aws:PrincipalTag/project}"
    same = {"aws:ResourceTag/project": "apollo", "aws:PrincipalTag/project": "apollo"}
    other = {"aws:ResourceTag/project": "apollo", "aws:PrincipalTag/project": "gemini"}
    assert decide("StringEquals", "aws:ResourceTag/project", values, same) is True
    assert decide("StringEquals", "aws:ResourceTag/project", values, other) is False


def test_context_keys_ignore_case(decide):
    assert decide("StringEquals", "AWS:PrincipalTag/Team", "blue", {"aws:principaltag/team": "blue"}) is True
    assert decide("StringEquals", "aws:username", "${AWS:UserName}", {"AWS:USERNAME": "bob"}) is True


texts = st.text(alphabet=st.characters(codec="ascii", exclude_characters="*?$"), max_size=12)


@settings(deadline=None)
@given(policy=st.lists(texts, min_size=1, max_size=4), value=texts)
def test_not_equals_is_complement(policy, value):
    from iamkit.policy.conditions import evaluate_conditions

    for pos, neg in (
        ("StringEquals", "StringNotEquals"),
        ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"),
        ("StringLike", "StringNotLike"),
    ):
        context = {"k": value}
        a = evaluate_conditions({pos: {"k": policy}}, context).matched
        b = evaluate_conditions({neg: {"k": policy}}, context).matched
        assert a is not b


@settings(deadline=None)
@given(value=texts)
def test_string_like_without_wildcards_is_equality(value):
    from iamkit.policy.conditions import evaluate_conditions

    for other in (value, value + "x", value.upper()):
        like = evaluate_conditions({"StringLike": {"k": value}}, {"k": other}).matched
        eq = evaluate_conditions({"StringEquals": {"k": value}}, {"k": other}).matched
        assert like is eq
