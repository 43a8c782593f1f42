"""Case folder: manifest, seal, tamper detection, redaction, journal."""

from __future__ import annotations

import pandas as pd
import pytest

from iamkit.case import MARKER, Case, redact
from iamkit.errors import BadInput, NotFound


@pytest.fixture
def case(tmp_path):
    c = Case.create(tmp_path, "demo-playbook", {"access_key_id": "AKIAEXAMPLE", "client_secret": "s3cr3t"})
    c.save_frame("events", pd.DataFrame({"a": [1, 2], "j": [{"x": 1}, None]}), query={"sql": "select 1"})
    c.save_json("summary", {"headline": ["x"]})
    c.save_raw("raw", [{"k": 1}, {"k": 2}])
    (c.path / "notebooks" / "01.ipynb").write_text("{}")
    c.finish()
    return c


def test_complete_case_verifies(case):
    assert case.verify() == []
    assert not (case.path / MARKER).exists()
    assert Case.open(case.path).meta["status"] == "complete"


def test_secrets_are_redacted_in_case_yaml(case):
    text = (case.path / "case.yaml").read_text()
    assert "s3cr3t" not in text and "***" in text


def test_redact_aws_secret_shaped_values():
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert redact({"note": f"key {secret}"})["note"] == "key ***"
    assert redact({"token": "abc"})["token"] == "***"
    assert redact({"access_key_id": "AKIAIOSFODNN7EXAMPLE"})["access_key_id"] == "AKIAIOSFODNN7EXAMPLE"


@pytest.mark.parametrize("target", ["case.yaml", "evidence/events.parquet", "evidence/summary.json",
                                    "evidence/raw.jsonl.gz", "notebooks/01.ipynb", "manifest.json",
                                    "manifest.sha256", "evidence/events.query.json"])
def test_one_changed_byte_is_caught_and_named(case, target):
    p = case.path / target
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x01
    p.write_bytes(bytes(data))
    problems = case.verify()
    assert problems, f"changing {target} went unnoticed"
    named = "manifest.json" if target == "manifest.sha256" else target
    assert any(named in line for line in problems), problems


def test_added_and_removed_files_are_caught(case):
    (case.path / "evidence" / "extra.json").write_text("{}")
    (case.path / "evidence" / "summary.json").unlink()
    problems = case.verify()
    assert any("extra.json: not in manifest" in p for p in problems)
    assert any("summary.json: missing" in p for p in problems)


def test_failed_case_is_marked(tmp_path):
    c = Case.create(tmp_path, "pb", {})
    c.finish("failed", error="boom")
    assert (c.path / MARKER).exists()
    assert Case.open(c.path).meta["status"] == "failed"
    assert any("did not finish" in p for p in c.verify())


def test_bad_names_and_missing_things(tmp_path, case):
    with pytest.raises(BadInput):
        case.save_json("../escape", {})
    with pytest.raises(NotFound):
        Case.open(tmp_path / "nope")
    with pytest.raises(NotFound):
        case.load_json("absent")
    with pytest.raises(BadInput):
        Case.create(case.path.parent, "pb", {}, case_id=case.id)


def test_journal_appends_in_order(case):
    case.journal({"event": "before", "step": 0})
    case.journal({"event": "after", "step": 0})
    assert [e["event"] for e in case.journal_entries()] == ["before", "after"]


def test_evidence_roundtrip(case):
    df = case.load_frame("events")
    assert list(df["a"]) == [1, 2]
    assert case.load_json("summary") == {"headline": ["x"]}
