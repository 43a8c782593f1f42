"""Bulk building pauses Python's cycle collector (its passes over a large heap freed nothing and cost a fifth
of a small run) and always restores it, on errors too."""

from __future__ import annotations

import gc
import json

import pytest
from assesstest import Builder, allow, doc

from iamkit.errors import BadInput


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_rules_run_with_the_collector_paused_and_it_resumes(collector_on, monkeypatch):
    from iamkit.assess import registry, run

    seen = []

    def probe(ctx):
        seen.append(gc.isenabled())
        return []

    monkeypatch.setitem(
        registry.RULES, "IAMKIT-TEST-GC", registry.Rule("IAMKIT-TEST-GC", "test", "info", "t", "r", "m", (), probe)
    )
    b = Builder()
    b.user("dev", policies=(doc(allow("s3:GetObject")),))
    run(b.inventory(), rules=["IAMKIT-TEST-GC"])
    assert seen == [False] and gc.isenabled()


def test_a_failing_rule_still_resumes_the_collector(collector_on, monkeypatch):
    from iamkit.assess import registry, run

    def broken(ctx):
        raise RuntimeError("boom")

    monkeypatch.setitem(
        registry.RULES, "IAMKIT-TEST-GC", registry.Rule("IAMKIT-TEST-GC", "test", "info", "t", "r", "m", (), broken)
    )
    df = run(Builder().inventory(), rules=["IAMKIT-TEST-GC"])
    assert list(df["rule_id"]) == ["IAMKIT-ERROR"] and gc.isenabled()


def test_a_disabled_collector_stays_disabled(monkeypatch):
    from iamkit.inventory import collector_paused

    was = gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()


def test_authorization_details_resume_the_collector_on_bad_input(collector_on, tmp_path):
    from iamkit.inventory import from_authorization_details

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"UserDetailList": "not a list"}))
    with pytest.raises(BadInput):
        from_authorization_details(bad)
    assert gc.isenabled()


def test_bulk_built_while_paused_lands_in_the_oldest_generation():
    from iamkit.inventory import collector_paused

    was = gc.isenabled()
    gc.enable()
    try:
        with collector_paused():
            built = [{"n": [i]} for i in range(1000)]
        oldest = {id(o) for o in gc.get_objects(generation=2)}
        assert id(built) in oldest and id(built[500]) in oldest and gc.isenabled()
    finally:
        if not was:
            gc.disable()


def test_objects_frozen_by_the_process_stay_frozen():
    from iamkit.inventory import collector_paused

    was = gc.isenabled()
    gc.enable()
    keep = [{"frozen": True}]
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with collector_paused():
            _ = [{"n": [i]} for i in range(100)]
        assert gc.get_freeze_count() >= frozen  # not unfrozen behind the process's back
    finally:
        gc.unfreeze()
        if not was:
            gc.disable()
    assert keep
