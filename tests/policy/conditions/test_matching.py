"""Wildcard matching for actions, resources and ArnLike, checked against two reference matchers:
a dynamic-programming glob and the regex matcher iamkit used before matching became linear (kept here only
as an oracle: it backtracks exponentially on patterns such as ``*?*?*?…Z``)."""

from __future__ import annotations

import itertools
import re
from functools import cache, lru_cache

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from policytest import examples

from iamkit.policy.matching import (
    LITERAL_NEXT,
    LITERAL_QMARK,
    LITERAL_STAR,
    action_matches,
    arn_like,
    arn_matches,
    compile_glob,
    glob_match,
    literal_glob,
    split_arn,
    unescape_glob,
)


def reference_glob(pattern: str, value: str) -> bool:
    """Plain dynamic-programming glob: '*' any run, '?' one char, markers literal, LITERAL_NEXT + marker itself."""
    markers = LITERAL_STAR + LITERAL_QMARK + LITERAL_NEXT

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
        if p == LITERAL_NEXT and i + 1 < len(pattern) and pattern[i + 1] in markers:
            return pattern[i + 1] == value[j] and m(i + 2, j + 1)
        literal = {LITERAL_STAR: "*", LITERAL_QMARK: "?"}.get(p, p)
        return literal == value[j] and m(i + 1, j + 1)

    return m(0, 0)


# ---- the old regex matcher, verbatim in behaviour: the oracle for the property tests ---------------------------
_OLD_TRANSLATE = {ord("*"): ".*", ord("?"): ".", ord(LITERAL_STAR): r"\*", ord(LITERAL_QMARK): r"\?"}


@lru_cache(maxsize=4096)
def old_compile_glob(pattern: str, case_sensitive: bool) -> re.Pattern:
    parts = []
    for ch in pattern:
        special = _OLD_TRANSLATE.get(ord(ch))
        parts.append(special if special is not None else re.escape(ch))
    body = "".join(parts)
    while ".*.*" in body:
        body = body.replace(".*.*", ".*")
    return re.compile(body, re.DOTALL if case_sensitive else re.DOTALL | re.IGNORECASE)


def old_glob_match(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    if pattern == "*":
        return True
    if not any(c in pattern for c in "*?" + LITERAL_STAR + LITERAL_QMARK):
        return pattern == value if case_sensitive else pattern.lower() == value.lower()
    return old_compile_glob(pattern, case_sensitive).fullmatch(value) is not None


def _old_split_pattern(pattern: str):
    parts = pattern.split(":", 5)
    if len(parts) != 6 or not old_glob_match(parts[0], "arn"):
        return None
    return tuple(parts)


def _old_parts_match(pparts, vparts) -> bool:
    return all(p == v or old_glob_match(p, v) for p, v in zip(pparts, vparts, strict=True))


def old_arn_like(pattern: str, arn: str) -> bool:
    if pattern == "*":
        return True
    pparts = _old_split_pattern(pattern)
    if pparts is None:
        return False
    vparts = arn.split(":", 5)
    return len(vparts) == 6 and _old_parts_match(pparts, vparts)


def old_arn_matches(pattern: str, arn: str) -> bool:
    if pattern in ("*", arn):
        return True
    pparts = _old_split_pattern(pattern)
    if pparts is not None:
        vparts = arn.split(":", 5)
        if len(vparts) == 6:
            return _old_parts_match(pparts, vparts)
    return old_glob_match(pattern, arn, True)


# ---- strategies: small alphabets so wildcards, literals and separators collide often ---------------------------
WILD = ["*", "?", LITERAL_STAR, LITERAL_QMARK]
# few distinct literals and many wildcards, so segments recur and overlap in the values
pattern_chars = st.sampled_from([*"aabb*?*?:é", *WILD])
value_chars = st.sampled_from([*"aaabbb:*?\né"])
# star-separated runs of short, overlapping words: several middle segments, with and without '?'
words = st.sampled_from(["a", "b", "ab", "ba", "aa", "?", "a?", "?b", "a?a", LITERAL_STAR, LITERAL_QMARK + "a", "é"])
starred = st.tuples(
    st.sampled_from(["", "*"]), st.lists(words, min_size=1, max_size=5), st.sampled_from(["", "*"])
).map(lambda t: t[0] + "*".join(t[1]) + t[2])
glob_patterns = st.text(pattern_chars, max_size=12) | starred


def instances(pattern: str, chars=value_chars):
    """Values built from ``pattern`` ('*' → a random run, '?' → one char, literals as themselves): likely matches."""

    def piece(ch):
        if ch == "*":
            return st.text(chars, max_size=4)
        if ch == "?":
            return chars
        return st.just(unescape_glob(ch))

    return st.tuples(*(piece(ch) for ch in pattern)).map("".join)


def pattern_and_value(patterns, chars=value_chars):
    """A pattern and either a random value or one built from the pattern, perhaps with one character changed."""

    def values(p):
        built = instances(p, chars)
        mutated = st.tuples(built, st.integers(0, 20), chars).map(lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + 1 :])
        return st.tuples(st.just(p), st.text(chars, max_size=12) | built | mutated)

    return patterns.flatmap(values)


alphabet = st.sampled_from(list("ab:/*?.-") + [LITERAL_STAR, LITERAL_QMARK, LITERAL_NEXT])
values = st.text(
    alphabet=st.sampled_from(list("ab:/*?.-\n") + [LITERAL_STAR, LITERAL_QMARK, LITERAL_NEXT]), max_size=10
)


@given(pattern=st.text(alphabet=alphabet, max_size=8), value=values)
def test_glob_agrees_with_reference(pattern, value):
    assert glob_match(pattern, value) is reference_glob(pattern, value)


@settings(max_examples=examples(300))
@given(pattern_and_value(glob_patterns))
@example(("*ab*ba*", "abab"))  # middle segments may not overlap
@example(("::*:?*a*", ":::a:"))
@example(("a*?b", "a\nb"))  # '?' and '*' span newlines
@example(("*?*?*?Z", "arn:aws:s3:::" + "a" * 12))  # the hostile shape, small enough for the oracle
@example((LITERAL_STAR + "*" + LITERAL_QMARK, "*x?"))
@example(("a?*?a", "aaa"))  # head and tail segments may not overlap
def test_glob_agrees_with_the_old_regex_matcher(case):
    pattern, value = case
    assert glob_match(pattern, value) is old_glob_match(pattern, value)
    assert compile_glob(pattern, case_sensitive=True).matches(value) is old_glob_match(pattern, value)


@pytest.mark.parametrize(
    ("pattern_alphabet", "value_alphabet", "size", "oracle"),
    [
        ("ab*?", "ab", 5, old_glob_match),
        ("a*?" + LITERAL_STAR, "a*", 5, old_glob_match),
        (
            "a*?" + LITERAL_STAR + LITERAL_NEXT,
            "a*" + LITERAL_STAR,
            4,
            reference_glob,
        ),  # the old one had no LITERAL_NEXT
    ],
)
def test_glob_agrees_with_an_oracle_on_every_small_case(pattern_alphabet, value_alphabet, size, oracle):
    """Exhaustive: every pattern over the alphabet against every value, up to ``size`` (no sampling luck)."""

    def words(alphabet, n):
        return ["".join(w) for k in range(n + 1) for w in itertools.product(alphabet, repeat=k)]

    all_values = words(value_alphabet, size)
    wrong = [(p, v) for p in words(pattern_alphabet, size) for v in all_values if glob_match(p, v) is not oracle(p, v)]
    assert wrong == []


@given(pattern_and_value(st.text(st.sampled_from([*"aBé:É", *WILD]), max_size=10), st.sampled_from([*"aAbBéÉ:*?"])))
def test_case_insensitive_glob_agrees_with_the_old_regex_matcher(case):
    pattern, value = case
    assert glob_match(pattern, value, case_sensitive=False) is old_glob_match(pattern, value, False)


@given(value=st.text(max_size=20) | st.text(st.sampled_from([*"a*?", LITERAL_STAR, LITERAL_QMARK, LITERAL_NEXT])))
@example(value=LITERAL_STAR)  # a marker character in the text itself: fuzzing found it matched '*' instead
@example(value=LITERAL_NEXT + LITERAL_STAR + "?")
def test_literal_glob_matches_only_itself(value):
    pattern = literal_glob(value)
    assert glob_match(pattern, value)
    assert glob_match("*" + pattern + "?", "x" + value + "y")
    assert not glob_match(pattern, value + "x")
    altered = value.replace("*", "x").replace("?", "y").replace(LITERAL_STAR, "*")
    assert glob_match(pattern, altered) is (altered == value)
    assert unescape_glob(pattern) == value


@given(pattern=st.text(alphabet=st.sampled_from(list("aB:*?")), max_size=8), value=st.text("aAbB:", max_size=8))
def test_case_insensitive_is_case_blind(pattern, value):
    assert glob_match(pattern, value, case_sensitive=False) is glob_match(pattern.lower(), value.lower())


@given(action=st.from_regex(r"[a-z0-9]{1,6}:[A-Za-z]{1,12}", fullmatch=True))
def test_action_matching_ignores_case_and_star_covers_all(action):
    service = action.split(":")[0]
    assert action_matches("*", action)
    assert action_matches(f"{service.upper()}:*", action)
    assert action_matches(action.swapcase(), action)
    assert not action_matches(action + "x", action)


@pytest.mark.parametrize(
    ("pattern", "action", "expected"),
    [
        ("s3:Get*", "s3:GetObject", True),
        ("s3:get*", "S3:GETOBJECT", True),
        ("s3:Get*", "s3:PutObject", False),
        ("s3:*Object", "s3:DeleteObject", True),
        ("s3:?etObject", "s3:GetObject", True),
        ("iam:Pass*", "iam:PassRole", True),
        ("s3:GetObject", "s3:GetObjectAcl", False),
        ("*", "anything:AtAll", True),
    ],
)
def test_action_matches(pattern, action, expected):
    assert action_matches(pattern, action) is expected


@pytest.mark.parametrize(
    ("pattern", "arn", "expected"),
    [
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
    ],
)
def test_arn_matches(pattern, arn, expected):
    assert arn_matches(pattern, arn) is expected


arn_part = st.text(alphabet=st.sampled_from(list("abc-0123")), min_size=0, max_size=5)


@given(
    parts=st.tuples(arn_part, arn_part, arn_part, arn_part, st.text("abc/:-", max_size=10)),
    stars=st.lists(st.booleans(), min_size=5, max_size=5),
)
def test_arn_like_per_part_wildcards(parts, stars):
    arn = "arn:" + ":".join(parts)
    pattern = "arn:" + ":".join("*" if s else p for p, s in zip(parts, stars, strict=True))
    assert arn_like(pattern, arn)
    assert arn_matches(pattern, arn)
    assert arn_like(arn, arn)
    assert split_arn(arn) is not None


@given(parts=st.tuples(arn_part, arn_part, arn_part, arn_part, st.text("abc/", min_size=1, max_size=10)))
def test_arn_like_star_in_account_never_reaches_resource(parts):
    """An account-part '*' cannot absorb a colon, so a resource with an extra ':x' prefix does not match."""
    arn = "arn:" + ":".join(parts[:3]) + ":acct:x:" + parts[4]
    pattern = "arn:" + ":".join(parts[:3]) + ":*:" + parts[4]
    assert not arn_like(pattern, arn)
    assert glob_match(pattern, arn)  # whereas one glob over the whole text would let it


@pytest.mark.parametrize(
    ("pattern", "arn", "expected"),
    [
        ("arn:aws:sns:*:123456789012:*", "arn:aws:sns:us-west-2:123456789012:topic", True),
        ("arn:aws:sns:*:123456789012:*", "arn:aws:sns:us-west-2:999999999999:topic", False),
        ("arn:aws:sns:*", "arn:aws:sns:us-west-2:123456789012:topic", False),
        ("a*:aws:sns:*:*:*", "arn:aws:sns:us-west-2:123456789012:topic", True),
        ("arn:aws:sns:*:*:*", "not:an:arn", False),
        ("*", "not-an-arn", True),
    ],
)
def test_arn_like(pattern, arn, expected):
    assert arn_like(pattern, arn) is expected


def test_compile_glob_is_cached_and_anchored():
    assert compile_glob("a*b", case_sensitive=True) is compile_glob("a*b", case_sensitive=True)
    assert compile_glob("a*b", case_sensitive=True).matches("axxb")
    assert not compile_glob("a*b", case_sensitive=True).matches("axxbc")
    assert not compile_glob("a*b", case_sensitive=True).matches("xaxxb")
    many = compile_glob("a" + "*" * 50 + "b", case_sensitive=True)
    assert many.matches("ab") and many.matches("a-b") and not many.matches("a")
    assert compile_glob("S3:GET*", case_sensitive=False).matches("s3:getobject")
    assert not compile_glob("S3:GET*", case_sensitive=True).matches("s3:getobject")


arn_pattern_chars = st.sampled_from([*"arn:ws3*?/b", LITERAL_STAR])
arn_value_chars = st.sampled_from([*"arn:ws3/b*"])


@given(
    pattern_and_value(
        st.one_of(
            st.text(arn_pattern_chars, max_size=20),
            st.lists(st.text(arn_pattern_chars, max_size=4), min_size=5, max_size=7).map(":".join),
        ),
        arn_value_chars,
    )
)
@example(("arn:aws:s3:::*?*?*?Z", "arn:aws:s3:::" + "b" * 12))
@example(("a*:aws:*:*:*:*", "arn:aws:s3:::b"))
@example(("arn:*", "arn:aws:s3:::b"))
def test_arn_like_and_arn_matches_agree_with_the_old_part_wise_matching(case):
    pattern, value = case
    assert arn_like(pattern, value) is old_arn_like(pattern, value)
    assert arn_matches(pattern, value) is old_arn_matches(pattern, value)
