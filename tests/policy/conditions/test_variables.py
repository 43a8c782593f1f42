"""Policy variables: the AWS policy-variables page as cases (defaults, escapes, missing keys, literal values)."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from iamkit.policy.matching import arn_matches, glob_match
from iamkit.policy.variables import (
    RequestContext,
    VariableError,
    as_context,
    context_get,
    has_variables,
    referenced_keys,
    substitute,
)

CTX = {"aws:username": "bob", "aws:PrincipalTag/team": "blue", "aws:userid": "AIDA:bob@example.com"}


@pytest.mark.parametrize(
    ("text", "for_glob", "expected"),
    [
        ("arn:aws:s3:::bucket/${aws:username}/*", False, "arn:aws:s3:::bucket/bob/*"),
        ("home/${aws:username}", True, "home/bob"),
        ("${aws:PrincipalTag/team}", False, "blue"),
        ("${AWS:PRINCIPALTAG/TEAM}", False, "blue"),  # keys ignore case
        ("${aws:PrincipalTag/dept, 'company-wide'}", False, "company-wide"),  # AWS doc default
        ("${aws:PrincipalTag/team, 'company-wide'}", False, "blue"),  # present key wins over default
        ("${aws:PrincipalTag/dept,'x y'}", False, "x y"),
        ("${aws:PrincipalTag/dept, ''}", False, ""),
        ("a${*}b", False, "a*b"),
        ("a${?}b", False, "a?b"),
        ("a${$}b", False, "a$b"),
        ("no variables *", True, "no variables *"),
        ("${aws:username}-${aws:username}", False, "bob-bob"),
        ("$aws:username", False, "$aws:username"),  # no braces: plain text
    ],
)
def test_substitute(text, for_glob, expected):
    from iamkit.policy.matching import unescape_glob

    assert unescape_glob(substitute(text, CTX, for_glob=for_glob)) == expected


@pytest.mark.parametrize("text", ["${aws:SourceIdentity}", "home/${aws:username}/${aws:PrincipalTag/missing}"])
def test_missing_key_without_default_gives_none(text):
    assert substitute(text, {"aws:username": "bob"}, for_glob=False) is None


@pytest.mark.parametrize("text", ["${}", "${ }", "${aws:username, nodefault}", "${, 'x'}", "abc${aws:username"])
def test_malformed_variables_raise(text):
    with pytest.raises(VariableError):
        substitute(text, CTX, for_glob=False)


def test_variable_error_is_a_policy_error():
    from iamkit.errors import PolicyError

    assert issubclass(VariableError, PolicyError)


def test_escapes_are_literal_in_globs():
    resource = substitute("arn:aws:s3:::bucket/${*}${?}", {}, for_glob=True)
    assert arn_matches(resource, "arn:aws:s3:::bucket/*?")
    assert not arn_matches(resource, "arn:aws:s3:::bucket/ab")


def test_substituted_wildcards_are_literal():
    resource = substitute("arn:aws:s3:::bucket/${aws:username}/*", {"aws:username": "*"}, for_glob=True)
    assert arn_matches(resource, "arn:aws:s3:::bucket/*/file")
    assert not arn_matches(resource, "arn:aws:s3:::bucket/alice/file")


def test_multivalued_and_typed_context_values():
    assert substitute("${k}", {"k": ["only"]}, for_glob=False) == "only"
    assert substitute("${k}", {"k": ["a", "b"]}, for_glob=False) is None  # multivalued keys cannot be variables
    assert substitute("${k}", {"k": True}, for_glob=False) == "true"
    assert substitute("${k}", {"k": 42}, for_glob=False) == "42"
    assert substitute("${k}", {"k": None}, for_glob=False) is None


def test_helpers():
    assert has_variables("a${b}") and not has_variables("a$b")
    assert referenced_keys("${aws:username}/${*}/${aws:PrincipalTag/Team, 'x'}") == [
        "aws:username",
        "aws:principaltag/team",
    ]
    assert referenced_keys("${aws:PrincipalTag/Team, 'x'}${aws:userid}", keep_case=True) == [
        "aws:PrincipalTag/Team",
        "aws:userid",
    ]
    ctx = as_context({"AWS:UserName": "bob"})
    assert isinstance(ctx, RequestContext) and as_context(ctx) is ctx
    assert context_get(ctx, "aws:USERNAME") == "bob"
    assert context_get({"AWS:UserName": "bob"}, "aws:username") == "bob"
    assert context_get({}, "aws:username", "d") == "d"


safe_text = st.text(alphabet=st.characters(blacklist_characters="${}'", blacklist_categories=("Cs", "Co")), max_size=15)


@given(value=st.text(max_size=15), prefix=safe_text, suffix=safe_text)
@example(value="\ue000", prefix="", suffix="")  # a marker character in the value: the fuzz profile found it
@example(value="\ue002\ue001*", prefix="a", suffix="")
def test_substituted_value_matches_itself_literally(value, prefix, suffix):
    template = prefix.replace("*", "").replace("?", "") + "${k}" + suffix.replace("*", "").replace("?", "")
    pattern = substitute(template, {"k": value}, for_glob=True)
    plain = substitute(template, {"k": value}, for_glob=False)
    assert glob_match(pattern, plain)
    altered = plain.replace("*", "x").replace("?", "y")
    if altered != plain:  # the value's wildcards are literal: other text in their place does not match
        assert not glob_match(pattern, altered)


@settings(deadline=None)
@given(text=safe_text)
def test_text_without_variables_is_unchanged(text):
    assert substitute(text, CTX, for_glob=True) == text
    assert substitute(text, CTX, for_glob=False) == text
    assert referenced_keys(text) == []
