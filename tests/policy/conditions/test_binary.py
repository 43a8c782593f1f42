"""BinaryEquals: base64 policy values compared byte for byte (AWS doc example key/value)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iamkit.policy.conditions import evaluate_conditions

VALUE = "QmluYXJ5VmFsdWVJbkJhc2U2NA=="  # AWS doc example
RAW = base64.b64decode(VALUE)


@pytest.mark.parametrize(
    ("request_value", "expected"),
    [
        (VALUE, True),
        (RAW, True),
        (bytearray(RAW), True),
        ("QmluYXJ5", False),
        (b"other", False),
        ("%%%", False),
    ],
)
def test_binary_equals(decide, request_value, expected):
    assert decide("BinaryEquals", "key", VALUE, {"key": request_value}) is expected


def test_binary_absent_and_if_exists(decide):
    assert decide("BinaryEquals", "key", VALUE, {}) is False
    assert decide("BinaryEqualsIfExists", "key", VALUE, {}) is True


def test_invalid_base64_in_policy_never_matches():
    out = evaluate_conditions({"BinaryEquals": {"key": "not base64!"}}, {"key": VALUE})
    assert out.matched is False and "base64" in out.errors[0]


@settings(deadline=None)
@given(st.binary(max_size=64))
def test_any_bytes_round_trip(data):
    encoded = base64.b64encode(data).decode()
    assert evaluate_conditions({"BinaryEquals": {"k": encoded}}, {"k": data}).matched is True
    assert evaluate_conditions({"BinaryEquals": {"k": encoded}}, {"k": data + b"x"}).matched is False
