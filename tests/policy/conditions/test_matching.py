"""Wildcard matching for actions, resources and ArnLike, checked against a reference matcher."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iamkit.policy.matching import (
    LITERAL_QMARK,
    LITERAL_STAR,
    action_matches,
    arn_like,
    arn_matches,
    compile_glob,
    glob_match,
    split_arn,
    unescape_glob,
)


def reference_glob(pattern: str, value: str) -> bool:
    """Plain dynamic-programming glob: '*' any run, '?' one char, markers literal."""

    @cache
    def m(i: int, j: int) -> bool:
        if i == len(pattern):
            return j == len(value)
        p = pattern[i]
        if p == "*":
            return m(i + 1, j) or (j < len(value) and m(i, j + 1))
        if j == len(value):
            return False
        if p == "?":
            return m(i + 1, j + 1)
        literal = {LITERAL_STAR: "*", LITERAL_QMARK: "?"}.get(p, p)
        return literal == value[j] and m(i + 1, j + 1)

    return m(0, 0)


alphabet = st.sampled_from(list("ab:/*?.-") + [LITERAL_STAR, LITERAL_QMARK])
values = st.text(alphabet=st.sampled_from(list("ab:/*?.-\n")), max_size=10)


@settings(deadline=None)
@given(pattern=st.text(alphabet=alphabet, max_size=8), value=values)
def test_glob_agrees_with_reference(pattern, value):
    assert glob_match(pattern, value) is reference_glob(pattern, value)


@settings(deadline=None)
@given(value=st.text(max_size=20))
def test_escaped_literal_matches_only_itself(value):
    pattern = value.replace("*", LITERAL_STAR).replace("?", LITERAL_QMARK)
    assert glob_match(pattern, value)
    assert not glob_match(pattern, value + "x")
    assert unescape_glob(pattern) == value


@settings(deadline=None)
@given(pattern=st.text(alphabet=st.sampled_from(list("aB:*?")), max_size=8), value=st.text("aAbB:", max_size=8))
def test_case_insensitive_is_case_blind(pattern, value):
    assert glob_match(pattern, value, case_sensitive=False) is glob_match(pattern.lower(), value.lower())


@settings(deadline=None)
@given(action=st.from_regex(r"[a-z0-9]{1,6}:[A-Za-z]{1,12}", fullmatch=True))
def test_action_matching_ignores_case_and_star_covers_all(action):
    service = action.split(":")[0]
    assert action_matches("*", action)
    assert action_matches(f"{service.upper()}:*", action)
    assert action_matches(action.swapcase(), action)
    assert not action_matches(action + "x", action)


@pytest.mark.parametrize(("pattern", "action", "expected"), [
    ("s3:Get*", "s3:GetObject", True),
    ("s3:get*", "S3:GETOBJECT", True),
    ("s3:Get*", "s3:PutObject", False),
    ("s3:*Object", "s3:DeleteObject", True),
    ("s3:?etObject", "s3:GetObject", True),
    ("iam:Pass*", "iam:PassRole", True),
    ("s3:GetObject", "s3:GetObjectAcl", False),
    ("*", "anything:AtAll", True),
])
def test_action_matches(pattern, action, expected):
    assert action_matches(pattern, action) is expected


@pytest.mark.parametrize(("pattern", "arn", "expected"), [
    ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b/c", True),
    ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket", False),
    ("arn:aws:s3:::bucket*", "arn:aws:s3:::bucket-logs", True),
    ("arn:aws:s3:::Bucket/*", "arn:aws:s3:::bucket/x", False),  # resources are case-sensitive
    ("arn:aws:iam::*:role/app", "arn:aws:iam::111122223333:role/app", True),
    ("arn:aws:iam::111122223333:role/*", "arn:aws:iam::111122223333:role/path/app", True),
    ("arn:aws:iam::*:role/app", "arn:aws:iam::1:role/x:role/app", False),  # account '*' stays in its part
    ("arn:aws:ec2:*:*:instance/i-?", "arn:aws:ec2:eu-west-1:1:instance/i-7", True),
    ("arn:aws:logs:*:*:log-group:*", "arn:aws:logs:r:1:log-group:g:log-stream:s", True),
    ("*", "arn:aws:s3:::anything", True),
    ("*", "", True),
    ("arn:aws:s3:::bucket/${*}", "arn:aws:s3:::bucket/x", False),  # unsubstituted text is not special here
    ("arn:aws:s3:::bucket/" + LITERAL_STAR, "arn:aws:s3:::bucket/*", True),
    ("arn:aws:s3:::bucket/" + LITERAL_STAR, "arn:aws:s3:::bucket/x", False),
    ("arn:aws:*", "arn:aws:s3:::bucket", True),  # not a six-part pattern: one glob over the text
])
def test_arn_matches(pattern, arn, expected):
    assert arn_matches(pattern, arn) is expected


arn_part = st.text(alphabet=st.sampled_from(list("abc-0123")), min_size=0, max_size=5)


@settings(deadline=None)
@given(parts=st.tuples(arn_part, arn_part, arn_part, arn_part, st.text("abc/:-", max_size=10)),
       stars=st.lists(st.booleans(), min_size=5, max_size=5))
def test_arn_like_per_part_wildcards(parts, stars):
    arn = "arn:" + ":".join(parts)
    pattern = "arn:" + ":".join("*" if s else p for p, s in zip(parts, stars, strict=True))
    assert arn_like(pattern, arn)
    assert arn_matches(pattern, arn)
    assert arn_like(arn, arn)
    assert split_arn(arn) is not None


@settings(deadline=None)
@given(parts=st.tuples(arn_part, arn_part, arn_part, arn_part, st.text("abc/", min_size=1, max_size=10)))
def test_arn_like_star_in_account_never_reaches_resource(parts):
    """An account-part '*' cannot absorb a colon, so a resource with an extra ':x' prefix does not match."""
    arn = "arn:" + ":".join(parts[:3]) + ":acct:x:" + parts[4]
    pattern = "arn:" + ":".join(parts[:3]) + ":*:" + parts[4]
    assert not arn_like(pattern, arn)
    assert glob_match(pattern, arn)  # whereas one glob over the whole text would let it


@pytest.mark.parametrize(("pattern", "arn", "expected"), [
    ("arn:aws:sns:*:123456789012:*", "arn:aws:sns:us-west-2:123456789012:topic", True),
    ("arn:aws:sns:*:123456789012:*", "arn:aws:sns:us-west-2:999999999999:topic", False),
    ("arn:aws:sns:*", "arn:aws:sns:us-west-2:123456789012:topic", False),
    ("a*:aws:sns:*:*:*", "arn:aws:sns:us-west-2:123456789012:topic", True),
    ("arn:aws:sns:*:*:*", "not:an:arn", False),
    ("*", "not-an-arn", True),
])
def test_arn_like(pattern, arn, expected):
    assert arn_like(pattern, arn) is expected


def test_compile_glob_is_cached_and_anchored():
    assert compile_glob("a*b", case_sensitive=True) is compile_glob("a*b", case_sensitive=True)
    assert compile_glob("a*b", case_sensitive=True).fullmatch("axxb")
    assert not compile_glob("a*b", case_sensitive=True).fullmatch("axxbc")
    assert compile_glob("a" + "*" * 50 + "b", case_sensitive=True).pattern.count(".*") == 1
