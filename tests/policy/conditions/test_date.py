"""Date operators: AWS doc table (aws:TokenIssueTime) and ISO-8601 / epoch forms."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iamkit.policy.conditions import evaluate_conditions
from iamkit.policy.conditions.date import parse_date

ABSENT = object()
KEY = "aws:TokenIssueTime"

CASES = [
    ("DateGreaterThan", "2020-01-01T00:00:01Z", "2050-01-01T00:00:01Z", True),  # AWS doc
    ("DateGreaterThan", "2020-01-01T00:00:01Z", "2010-01-01T00:00:01Z", False),
    ("DateGreaterThan", "2020-01-01T00:00:01Z", ABSENT, False),
    ("DateLessThan", "2020-01-01T00:00:00Z", "2019-12-31T23:59:59Z", True),
    ("DateLessThan", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", False),
    ("DateLessThanEquals", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", True),
    ("DateGreaterThanEquals", "2020-01-01", "2020-01-01T00:00:00Z", True),  # date only = midnight UTC
    ("DateEquals", "2020-01-01T00:00:00Z", "2020-01-01T01:00:00+01:00", True),  # offsets
    ("DateEquals", "2020-01-01T00:00:00Z", "1577836800", True),  # epoch seconds
    ("DateEquals", "1577836800", "2020-01-01T00:00:00.000Z", True),
    ("DateNotEquals", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", False),
    ("DateNotEquals", "2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z", True),
    ("DateNotEquals", "2020-01-01T00:00:00Z", ABSENT, True),
    ("DateLessThanIfExists", "2020-01-01T00:00:00Z", ABSENT, True),
    ("DateLessThan", "2020-01-01T00:00:00Z", "yesterday", False),
    ("DateLessThan", "2020-01-01T00:00:00Z", datetime(2019, 5, 1, tzinfo=UTC), True),
    ("DateLessThan", ["2000-01-01T00:00:00Z", "2030-01-01T00:00:00Z"], "2025-01-01T00:00:00Z", True),
]


@pytest.mark.parametrize(("operator", "values", "request_value", "expected"), CASES)
def test_date_truth_table(decide, operator, values, request_value, expected):
    context = {} if request_value is ABSENT else {KEY: request_value}
    assert decide(operator, KEY, values, context) is expected


def test_epoch_time_key_against_iso_policy(decide):
    assert decide("DateLessThan", "aws:EpochTime", "2030-01-01T00:00:00Z", {"aws:EpochTime": 1700000000}) is True
    assert (
        decide("DateGreaterThan", "aws:CurrentTime", "1700000000", {"aws:CurrentTime": "2024-01-01T00:00:00Z"}) is True
    )


@pytest.mark.parametrize("bad", ["not-a-date", "2020-13-01", "", True])
def test_invalid_policy_date_never_matches(bad):
    out = evaluate_conditions({"DateNotEquals": {KEY: bad}}, {KEY: "2020-01-01T00:00:00Z"})
    assert out.matched is False
    assert out.errors


@settings(deadline=None)
@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)))
def test_iso_and_epoch_forms_agree(moment):
    iso = moment.isoformat().replace("+00:00", "Z")
    assert parse_date(iso) == pytest.approx(moment.timestamp())
    assert parse_date(str(moment.timestamp())) == pytest.approx(moment.timestamp())
    assert evaluate_conditions({"DateEquals": {KEY: iso}}, {KEY: moment}).matched is True
