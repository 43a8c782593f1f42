"""Whole Condition blocks: AND/OR structure, unknown operators, discovery mode, details, compilation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iamkit.errors import PolicyError
from iamkit.policy.conditions import (
    CompiledConditions,
    compile_conditions,
    evaluate_conditions,
    known_operator,
    operator_family,
)
from iamkit.policy.variables import as_context

BLOCK = {
    "StringEquals": {"aws:PrincipalTag/team": "blue", "aws:RequestedRegion": ["eu-west-1", "eu-central-1"]},
    "IpAddress": {"aws:SourceIp": "203.0.113.0/24"},
    "Bool": {"aws:SecureTransport": "true"},
}
GOOD = {
    "aws:PrincipalTag/team": "blue",
    "aws:RequestedRegion": "eu-central-1",
    "aws:SourceIp": "203.0.113.5",
    "aws:SecureTransport": "true",
}


def test_all_operators_and_keys_and_together():
    assert evaluate_conditions(BLOCK, GOOD).matched is True
    for key, bad in [
        ("aws:PrincipalTag/team", "red"),
        ("aws:RequestedRegion", "us-east-1"),
        ("aws:SourceIp", "198.51.100.1"),
        ("aws:SecureTransport", "false"),
    ]:
        assert evaluate_conditions(BLOCK, {**GOOD, key: bad}).matched is False, key


def test_empty_or_missing_block_matches():
    assert evaluate_conditions(None, {}).matched is True
    assert evaluate_conditions({}, {}).matched is True


def test_unknown_operator_raises_policy_error_naming_it():
    with pytest.raises(PolicyError, match="StringEqualz"):
        evaluate_conditions({"StringEqualz": {"k": "v"}}, {})
    with pytest.raises(PolicyError, match="ForSomeValues"):
        evaluate_conditions({"ForSomeValues:StringEquals": {"k": "v"}}, {})


@pytest.mark.parametrize("block", [["StringEquals"], {"StringEquals": "v"}, "x"])
def test_malformed_block_raises_policy_error(block):
    with pytest.raises(PolicyError):
        evaluate_conditions(block, {})


def test_non_scalar_policy_value_never_matches():
    out = evaluate_conditions({"StringEquals": {"k": {"nested": 1}}}, {"k": "v"})
    assert out.matched is False and out.errors
    out = evaluate_conditions({"StringNotEquals": {"k": []}}, {"k": "v"})
    assert out.matched is False and out.errors


def test_malformed_variable_never_matches():
    out = evaluate_conditions({"StringEquals": {"k": "${aws:username, nodefault}"}}, {"k": "v"})
    assert out.matched is False and "default" in out.errors[0]


def test_details_name_operator_key_and_result():
    out = evaluate_conditions(BLOCK, {**GOOD, "aws:SourceIp": "198.51.100.1"})
    assert len(out.details) == 4
    ip_line = next(d for d in out.details if d.startswith("IpAddress"))
    assert "aws:SourceIp" in ip_line and "198.51.100.1" in ip_line and ip_line.endswith("-> false")
    assert all(d.endswith("-> true") for d in out.details if d is not ip_line)


def test_explain_false_skips_details_but_decides_alike():
    for context in (GOOD, {**GOOD, "aws:SecureTransport": "false"}):
        a = evaluate_conditions(BLOCK, context)
        b = evaluate_conditions(BLOCK, context, explain=False)
        assert a.matched is b.matched and b.details == []


def test_discovery_reports_missing_keys_instead_of_false():
    context = {k: v for k, v in GOOD.items() if k != "aws:SourceIp"}
    assert evaluate_conditions(BLOCK, context).matched is False
    out = evaluate_conditions(BLOCK, context, mode="discovery")
    assert out.matched is None and out.unknown_keys == ["aws:SourceIp"]


def test_discovery_false_wins_over_unknown():
    context = {"aws:PrincipalTag/team": "red"}
    out = evaluate_conditions(BLOCK, context, mode="discovery")
    assert out.matched is False


def test_discovery_if_exists_and_null_decide_absent_keys():
    block = {"StringEqualsIfExists": {"ec2:InstanceType": "t3.micro"}, "Null": {"aws:TokenIssueTime": "true"}}
    assert evaluate_conditions(block, {}, mode="discovery").matched is True


def test_discovery_negated_and_for_all_values_are_unknown_when_absent():
    for op in ("StringNotEquals", "ForAllValues:StringEquals", "NotIpAddress"):
        out = evaluate_conditions({op: {"k": "1.2.3.4"}}, {}, mode="discovery")
        assert out.matched is None and out.unknown_keys == ["k"], op


def test_discovery_missing_policy_variable_is_unknown():
    block = {"StringEquals": {"aws:ResourceTag/owner": "${aws:username}"}}
    out = evaluate_conditions(block, {"aws:ResourceTag/owner": "bob"}, mode="discovery")
    assert out.matched is None and out.unknown_keys == ["aws:username"]
    block = {"StringEquals": {"aws:ResourceTag/owner": "${aws:PrincipalTag/Owner}"}}
    out = evaluate_conditions(block, {"aws:ResourceTag/owner": "bob"}, mode="discovery")
    assert out.unknown_keys == ["aws:PrincipalTag/Owner"]  # reported as written
    block = {"StringEquals": {"aws:ResourceTag/owner": "${aws:username, 'bob'}"}}
    assert evaluate_conditions(block, {"aws:ResourceTag/owner": "bob"}, mode="discovery").matched is True


def test_present_but_empty_key_is_known_in_discovery():
    out = evaluate_conditions({"ForAnyValue:StringEquals": {"aws:TagKeys": "a"}}, {"aws:TagKeys": []}, mode="discovery")
    assert out.matched is False


def test_unknown_mode_rejected():
    with pytest.raises(PolicyError, match="mode"):
        evaluate_conditions(BLOCK, GOOD, mode="lenient")


def test_compiled_block_is_cached_and_reusable():
    block = {"StringEquals": {"k": "v"}}
    compiled = compile_conditions(block)
    assert compile_conditions(block) is compiled
    assert isinstance(compiled, CompiledConditions)
    assert compiled.evaluate({"K": "v"}).matched is True
    assert evaluate_conditions(compiled, as_context({"k": "w"})).matched is False


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("StringEquals", "string"),
        ("ForAnyValue:StringLikeIfExists", "string"),
        ("NumericLessThan", "numeric"),
        ("DateGreaterThanEquals", "date"),
        ("Bool", "bool"),
        ("BoolIfExists", "bool"),
        ("BinaryEquals", "binary"),
        ("IpAddress", "ip"),
        ("NotIpAddressIfExists", "ip"),
        ("ArnNotLike", "arn"),
        ("ArnEquals", "arn"),
        ("Null", "null"),
        ("stringequals", "string"),
    ],
)
def test_operator_family(name, family):
    assert known_operator(name)
    assert operator_family(name) == family


@pytest.mark.parametrize(
    "name", ["StringEqualz", "NullIfExists", "ForSomeValues:StringEquals", "IfExists", "", "NumericLike", "Foo:Bool"]
)
def test_unknown_operators(name):
    assert not known_operator(name)
    with pytest.raises(PolicyError):
        operator_family(name)


@settings(deadline=None)
@given(
    st.dictionaries(st.sampled_from(["a", "b", "c"]), st.sampled_from(["x", "y"]), max_size=3),
    st.dictionaries(st.sampled_from(["a", "b", "c"]), st.sampled_from(["x", "y"]), max_size=3),
)
def test_block_is_the_and_of_its_conditions(keys, context):
    """A block matches exactly when each one-key block matches (operators and keys AND)."""
    block = {"StringEquals": keys, "StringNotEquals": {k: "y" for k in keys}}
    whole = evaluate_conditions(block, context).matched
    parts = [evaluate_conditions({op: {k: v}}, context).matched for op, kv in block.items() for k, v in kv.items()]
    assert whole is all(parts)


def test_variables_false_keeps_dollar_braces_literal():
    block = {"StringEquals": {"s3:prefix": "home/${aws:username}"}}
    context = {"s3:prefix": "home/${aws:username}", "aws:username": "bob"}
    assert evaluate_conditions(block, context, variables=False).matched is True
    assert evaluate_conditions(block, context).matched is False
    context["s3:prefix"] = "home/bob"
    assert evaluate_conditions(block, context).matched is True
    assert evaluate_conditions(block, context, variables=False).matched is False


def test_errors_are_reported_whether_or_not_explaining():
    block = {"StringEquals": {"a": "x"}, "IpAddress": {"aws:SourceIp": "bad-cidr"}}
    for explain in (True, False):
        out = evaluate_conditions(block, {"a": "other", "aws:SourceIp": "10.0.0.1"}, explain=explain)
        assert out.matched is False and len(out.errors) == 1


def test_compile_condition_reports_errors_for_validators():
    from iamkit.policy.conditions import compile_condition

    assert compile_condition("IpAddress", "aws:SourceIp", "10.0.0.0/8").error is None
    assert "CIDR" in compile_condition("IpAddress", "aws:SourceIp", "10.0.0.0/99").error
    assert compile_condition("StringEquals", "k", "${aws:username, bad}").error
    assert compile_condition("StringEquals", "k", "${aws:username, bad}", variables=False).error is None
    with pytest.raises(PolicyError):
        compile_condition("Nope", "k", "v")


def test_cache_follows_block_content():
    block = {"StringEquals": {"k": "v"}}
    assert evaluate_conditions(block, {"k": "v"}).matched is True
    block["StringEquals"]["k"] = "w"  # mutated in place: the new content is compiled afresh
    assert evaluate_conditions(block, {"k": "v"}).matched is False
    assert compile_conditions({"Bool": {"k": True}}) is not compile_conditions({"Bool": {"k": 1}})
    assert evaluate_conditions({"Bool": {"k": 1}}, {"k": "true"}).matched is False


# ---- properties over every family --------------------------------------------------------------------------
PAIRS = {
    "string": [
        ("StringEquals", "StringNotEquals"),
        ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"),
        ("StringLike", "StringNotLike"),
    ],
    "numeric": [("NumericEquals", "NumericNotEquals")],
    "date": [("DateEquals", "DateNotEquals")],
    "ip": [("IpAddress", "NotIpAddress")],
    "arn": [("ArnLike", "ArnNotLike"), ("ArnEquals", "ArnNotEquals")],
}
FAMILY_VALUES = {
    "string": st.text(alphabet="aAb*?", max_size=4),
    "numeric": st.integers(-3, 3).map(str),
    "date": st.sampled_from(["2020-01-01T00:00:00Z", "2021-06-01", "1577836800", "2030-01-01T00:00:00+02:00"]),
    "ip": st.sampled_from(["10.0.0.0/8", "10.1.2.3", "192.0.2.0/24", "2001:db8::/32", "::1", "not-ip"]),
    "arn": st.sampled_from(
        ["arn:aws:s3:::b", "arn:aws:s3:::b*", "arn:aws:iam::1:role/r", "arn:aws:iam::*:role/?", "not-arn"]
    ),
}


@st.composite
def family_case(draw):
    family = draw(st.sampled_from(sorted(PAIRS)))
    pos, neg = draw(st.sampled_from(PAIRS[family]))
    values = draw(st.lists(FAMILY_VALUES[family], min_size=1, max_size=3))
    request = draw(FAMILY_VALUES[family])
    return pos, neg, values, request


@settings(deadline=None, max_examples=300)
@given(family_case())
def test_negated_operator_is_the_complement_for_a_present_value(case):
    """With valid policy values and a present single value, NotX is exactly not X (all families)."""
    pos, neg, values, request = case
    a = evaluate_conditions({pos: {"k": values}}, {"k": request})
    b = evaluate_conditions({neg: {"k": values}}, {"k": request})
    if a.errors:  # invalid policy values: neither form may match (never a silent Allow)
        assert a.matched is False and b.matched is False and b.errors
    else:
        assert a.matched is (not b.matched)


@settings(deadline=None, max_examples=200)
@given(family_case())
def test_if_exists_and_set_operators_agree_with_plain_operator_on_a_present_scalar(case):
    pos, neg, values, request = case
    for op in (pos, neg):
        plain = evaluate_conditions({op: {"k": values}}, {"k": request}).matched
        assert evaluate_conditions({op + "IfExists": {"k": values}}, {"k": request}).matched is plain
        assert evaluate_conditions({f"ForAnyValue:{op}": {"k": values}}, {"k": [request]}).matched is plain
        assert evaluate_conditions({f"ForAllValues:{op}": {"k": values}}, {"k": [request]}).matched is plain
