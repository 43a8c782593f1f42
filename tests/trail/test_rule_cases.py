"""Every shipped rule against its own generated records: ``rule_cases/<rule-id>.yml`` has a positive case
(the rule fires, listing exactly the records marked ``hit``) and a negative case (it stays silent)."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
import rulecases

from iamkit import frames
from iamkit.trail import Trail, store
from iamkit.trail.detect.rules import load_rules

RULES = {r.id: r for r in load_rules()[0]}


def _hunt(rule_id: str, records: list[dict], ip_context: list[dict] | None) -> pd.DataFrame:
    con = duckdb.connect()
    try:
        store.insert_records(con, records)
        if ip_context:
            con.register("_ipc", pd.DataFrame(ip_context))
            con.execute("CREATE TABLE ip_context AS SELECT ip, CAST(asn AS BIGINT) AS asn, country FROM _ipc")
        res = Trail(con).hunt([RULES[rule_id]])
    finally:
        con.close()
    assert res.errors.empty, res.errors.to_dict("records")
    frames.check(res.detections, "detections")
    return res.detections


def test_shipped_rules_load_without_errors():
    rules, errors = load_rules()
    assert errors == [] and len(rules) >= 40


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_every_rule_has_a_case_file(rule_id):
    case = rulecases.load(rule_id)
    assert case.get("positive") and case.get("negative"), rule_id


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_positive_case_fires_on_exactly_the_hits(rule_id):
    case = rulecases.load(rule_id)
    records, hits = rulecases.expand(case["positive"], "pos")
    assert hits, "a positive case marks the records its detection must list (hit: true)"
    det = _hunt(rule_id, records, case.get("ip_context"))
    assert len(det) >= 1 and set(det["detection_id"]) == {rule_id}
    assert {e for ids in det["event_ids"] for e in ids} == hits
    rule = RULES[rule_id]
    assert (det["severity"] == rule.severity).all() and (det["title"] == rule.title).all()


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_negative_case_stays_silent(rule_id):
    case = rulecases.load(rule_id)
    records, _ = rulecases.expand(case["negative"], "neg")
    assert records
    assert _hunt(rule_id, records, case.get("ip_context")).empty
