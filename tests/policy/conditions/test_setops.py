"""ForAnyValue / ForAllValues and IfExists: the AWS multivalued-context-keys page as cases.

Vacuous truth: ForAllValues is true for an absent or empty key, ForAnyValue false. Negated operators under
a qualifier apply per request value ("matches none of the policy values").
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iamkit.policy.conditions import evaluate_conditions
from iamkit.policy.conditions.setops import ALL, ANY, parse_operator

ABSENT = object()
KEY = "aws:TagKeys"

CASES = [
    # AWS doc: Deny with "ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}
    ("ForAllValues:StringNotLike", "key1*", ["key1:legal"], False),
    ("ForAllValues:StringNotLike", "key1*", ["key1:hr", "key1:personnel"], False),
    ("ForAllValues:StringNotLike", "key1*", ["key2:audit"], True),
    ("ForAllValues:StringNotLike", "key1*", ABSENT, True),
    ("ForAllValues:StringNotLike", "key1*", ["key1:hr", "key2:audit"], False),
    # AWS doc: "ForAllValues:StringNotLike": {"aws:TagKeys": ["key1*", "key2*"]}
    ("ForAllValues:StringNotLike", ["key1*", "key2*"], ["key1:legal"], False),
    ("ForAllValues:StringNotLike", ["key1*", "key2*"], ["key3:legal"], True),
    ("ForAllValues:StringNotLike", ["key1*", "key2*"], ["key2:audit", "key3:x"], False),
    # ForAllValues: every request value must match some policy value (subset); vacuous truth
    ("ForAllValues:StringEquals", ["environment", "cost-center"], ["environment"], True),
    ("ForAllValues:StringEquals", ["environment", "cost-center"], ["environment", "cost-center"], True),
    ("ForAllValues:StringEquals", ["environment", "cost-center"], ["environment", "owner"], False),
    ("ForAllValues:StringEquals", ["environment", "cost-center"], ABSENT, True),
    ("ForAllValues:StringEquals", ["environment", "cost-center"], [], True),
    ("ForAllValues:StringEquals", ["environment", "cost-center"], "environment", True),  # scalar = one value
    # ForAnyValue: at least one request value matches; absent/empty is false
    ("ForAnyValue:StringEquals", ["environment", "webserver"], ["environment"], True),
    ("ForAnyValue:StringEquals", ["environment", "webserver"], ["webserver", "owner"], True),
    ("ForAnyValue:StringEquals", ["environment", "webserver"], ["owner"], False),
    ("ForAnyValue:StringEquals", ["environment", "webserver"], ABSENT, False),
    ("ForAnyValue:StringEquals", ["environment", "webserver"], [], False),
    # AWS doc: Deny with "ForAnyValue:StringEquals": {"aws:TagKeys": "webserver"}
    ("ForAnyValue:StringEquals", "webserver", ["webserver"], True),
    ("ForAnyValue:StringEquals", "webserver", ["environment", "webserver", "test"], True),
    ("ForAnyValue:StringEquals", "webserver", ["environment", "test"], False),
    ("ForAnyValue:StringEquals", "webserver", ABSENT, False),
    # negated under ForAnyValue: some request value matches none of the policy values
    ("ForAnyValue:StringNotEquals", ["environment", "webserver"], ["environment"], False),
    ("ForAnyValue:StringNotEquals", ["environment", "webserver"], ["environment", "owner"], True),
    ("ForAnyValue:StringNotEquals", ["environment", "webserver"], ABSENT, False),
    # IfExists under a qualifier: ForAllValues already true when absent; ForAnyValue stays false
    ("ForAllValues:StringLikeIfExists", "key1*", ABSENT, True),
    ("ForAnyValue:StringLikeIfExists", "key1*", ABSENT, False),
    ("ForAnyValue:StringNotLikeIfExists", ["Owner:*", "State:??"], ["Owner:Legal", "State:NY"], False),
    ("ForAnyValue:StringNotLikeIfExists", ["Owner:*", "State:??"], ["owner:Legal", "Owner:Legal"], True),
    ("ForAllValues:StringNotLikeIfExists", ["Owner:*", "State:??"], ["owner:Legal"], True),
    ("ForAllValues:StringNotLikeIfExists", ["Owner:*", "State:??"], ["Owner:Legal", "owner:Legal"], False),
    # other families under qualifiers
    ("ForAnyValue:ArnLike", "arn:aws:iam::*:role/admin", ["arn:aws:iam::1:role/x", "arn:aws:iam::2:role/admin"], True),
    ("ForAllValues:IpAddress", "10.0.0.0/8", ["10.0.0.1", "192.168.0.1"], False),
    ("ForAnyValue:NumericGreaterThan", "5", ["1", "7"], True),
    # no qualifier on a multivalued key: false, positive or negated (AWS requires a set operator)
    ("StringEquals", "environment", ["environment", "owner"], False),
    ("StringEquals", "environment", ["environment"], False),
    ("StringNotEquals", "environment", ["environment", "owner"], False),
    ("StringNotEquals", "environment", ["x", "owner"], False),
    ("StringLike", "env*", ("environment",), False),
    ("StringEqualsIfExists", "environment", ["environment"], False),
    # an empty multivalued key counts as absent
    ("StringEquals", "environment", [], False),
    ("StringNotEquals", "environment", [], True),
    # a scalar under a set operator is a one-value set
    ("ForAnyValue:StringEquals", "environment", "environment", True),
    ("ForAllValues:StringNotEquals", "environment", "owner", True),
]


@pytest.mark.parametrize(("operator", "values", "request_value", "expected"), CASES)
def test_multivalued_truth_table(decide, operator, values, request_value, expected):
    context = {} if request_value is ABSENT else {KEY: request_value}
    assert decide(operator, KEY, values, context) is expected


def test_principal_org_paths_for_any_value_string_like(decide):
    paths = ["o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/ou-ab12-22222222/"]
    pattern = "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*"
    assert decide("ForAnyValue:StringLike", "aws:PrincipalOrgPaths", pattern, {"aws:PrincipalOrgPaths": paths}) is True
    assert decide("StringLike", "aws:PrincipalOrgPaths", pattern, {"aws:PrincipalOrgPaths": paths}) is False


def test_missing_set_operator_is_explained():
    out = evaluate_conditions({"StringEquals": {KEY: "a"}}, {KEY: ["a"]})
    assert out.matched is False and "ForAnyValue" in out.details[0]


@pytest.mark.parametrize(
    ("name", "qualifier", "base", "if_exists"),
    [
        ("StringEquals", None, "stringequals", False),
        ("ForAnyValue:StringLike", ANY, "stringlike", False),
        ("forallvalues:StringLikeIfExists", ALL, "stringlike", True),
        ("BoolIfExists", None, "bool", True),
        (" ArnLike ", None, "arnlike", False),
    ],
)
def test_parse_operator(name, qualifier, base, if_exists):
    parsed = parse_operator(name)
    assert (parsed.qualifier, parsed.base, parsed.if_exists) == (qualifier, base, if_exists)


texts = st.sampled_from(["a", "b", "c", "d"])


@settings(deadline=None)
@given(policy=st.lists(texts, min_size=1, max_size=3), request=st.lists(texts, min_size=0, max_size=4))
def test_qualifier_duality(policy, request):
    """ForAllValues:X == not ForAnyValue:NotX, for present and empty keys alike (the docs' set algebra)."""
    context = {KEY: request}
    for_all = evaluate_conditions({"ForAllValues:StringEquals": {KEY: policy}}, context).matched
    any_not = evaluate_conditions({"ForAnyValue:StringNotEquals": {KEY: policy}}, context).matched
    assert for_all is (not any_not)
    assert for_all is set(request).issubset(policy)
    for_any = evaluate_conditions({"ForAnyValue:StringEquals": {KEY: policy}}, context).matched
    assert for_any is bool(set(request) & set(policy))


@settings(deadline=None)
@given(policy=st.lists(texts, min_size=1, max_size=3), request=st.lists(texts, min_size=1, max_size=4))
def test_value_order_does_not_matter(policy, request):
    context_a, context_b = {KEY: request}, {KEY: list(reversed(request))}
    for op in ("ForAllValues:StringEquals", "ForAnyValue:StringNotEquals", "StringEquals", "StringNotEquals"):
        a = evaluate_conditions({op: {KEY: policy}}, context_a).matched
        b = evaluate_conditions({op: {KEY: list(reversed(policy))}}, context_b).matched
        assert a is b
