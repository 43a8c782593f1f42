"""What the rule schema holds shipped rules to (id, rationale, false positives, ATT&CK ids, the fields read,
each one both dialects keep), and what it still lets a user's own rule leave out."""

from __future__ import annotations

import pytest

from iamkit.trail.detect import native
from iamkit.trail.detect.rules import RuleError, rule_from_doc
from iamkit.trail.dialect import get

GOOD = {
    "id": "iamkit-x",
    "title": "X",
    "severity": "high",
    "kind": "event_match",
    "description": "A rationale long enough to say why.",
    "falsepositives": ["admins"],
    "attack": ["T1485"],
    "fields": ["eventName", "requestParameters.keyId"],
    "params": {"event_names": ["ScheduleKeyDeletion"], "where": [{"field": "requestParameters.keyId", "exists": True}]},
}


def test_a_complete_shipped_rule_loads():
    rule = rule_from_doc(GOOD, "x.yml", shipped=True)
    assert rule.techniques == ["T1485"] and rule.fields == GOOD["fields"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"falsepositives": None}, "falsepositives"),
        ({"attack": None}, "attack"),
        ({"fields": None}, "fields"),
        ({"description": None}, "description"),
        ({"id": "my-rule"}, "id"),
        ({"attack": ["T9999"]}, "T9999"),
        ({"attack": ["1485"]}, "attack"),
        ({"fields": ["eventName", "requestParameters.keyId", "vpcEndpointId"]}, "vpcEndpointId"),
        ({"fields": ["eventName"]}, "requestParameters.keyId"),  # a condition reads an undeclared field
    ],
)
def test_a_shipped_rule_missing_a_part_is_refused_naming_it(change, message):
    doc = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(RuleError, match=message.replace(".", r"\.")):
        rule_from_doc(doc, "x.yml", shipped=True)


def test_a_users_rule_may_be_short():
    rule = rule_from_doc(
        {"id": "mine", "title": "m", "severity": "low", "kind": "event_match", "params": {"event_names": ["X"]}},
        "mine.yml",
    )
    assert rule.techniques == [] and rule.kind == "event_match"


def test_event_match_parameters_that_cannot_render_are_named():
    d = get("duckdb")
    for params, message in (
        ({"where": [{"field": "eventName"}]}, "exactly one"),
        ({"where": [{"field": "nope.x", "equals": ["a"]}]}, "not kept"),
        ({"event_names": ["X"], "outcome": "maybe"}, "outcome"),
        ({}, "needs"),
        ({"event_names": ["X"], "threshold": {"count": 2}, "first_seen": {}}, "not both"),
        ({"event_names": ["X"], "threshold": 5}, "threshold is a mapping"),
        ({"event_names": ["X"], "threshold": {"count": "ten"}}, "count must be"),
        ({"event_names": ["X"], "first_seen": {"baseline_days": 0}}, "baseline_days must be"),
        ({"event_names": "X"}, "event_names is a list"),
        ({"where": ["eventName"]}, "a condition is a mapping"),
    ):
        with pytest.raises(native.NativeError, match=message):
            native.build("event_match", params, d)


def test_field_names_map_to_the_same_columns_in_both_dialects():
    for name, column in (
        ("eventName", "event_name"),
        ("userIdentity.arn", "principal_arn"),
        ("event_source", "event_source"),
        ("sourceIPAddress", "source_ip"),
    ):
        assert native.field_sql(name, get("duckdb")) == native.field_sql(name, get("trino")) == column
    assert "json_extract_string(request_parameters" in native.field_sql("requestParameters.a.b", get("duckdb"))
    assert "json_extract_scalar(request_parameters" in native.field_sql("requestParameters.a.b", get("trino"))


def test_text_values_in_conditions_are_literals():
    sql = native.condition_sql({"field": "eventName", "startswith": ["a'b%_\\"]}, get("duckdb"))
    assert "'a''b\\%\\_\\\\%' ESCAPE '\\'" in sql
