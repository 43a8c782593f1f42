"""Every detection id a playbook names as its trigger is a shipped rule (a renamed or removed rule would
otherwise silently stop starting its playbook)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from iamkit.trail.detect.rules import load_rules

PLAYBOOKS = sorted((Path(__file__).resolve().parents[2] / "playbooks").glob("*.yml"))
RULE_IDS = {r.id for r in load_rules()[0]}


def unknown_triggers(doc: dict, known: set[str]) -> list[str]:
    """The ``triggers.detections`` of a playbook document that are not rule ids in ``known``."""
    named = ((doc.get("triggers") or {}).get("detections")) or []
    return [d for d in named if d not in known]


def test_there_are_playbooks_with_detection_triggers():
    assert PLAYBOOKS and any((yaml.safe_load(p.read_text()).get("triggers") or {}).get("detections") for p in PLAYBOOKS)


@pytest.mark.parametrize("path", PLAYBOOKS, ids=lambda p: p.stem)
def test_every_triggering_detection_exists(path):
    assert unknown_triggers(yaml.safe_load(path.read_text()), RULE_IDS) == []


def test_a_misspelled_trigger_is_caught():
    doc = {"triggers": {"detections": ["iamkit-key-created-then-used", "iamkit-key-creatd-then-used"]}}
    assert unknown_triggers(doc, RULE_IDS) == ["iamkit-key-creatd-then-used"]
