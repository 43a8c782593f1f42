"""``tools/measure_coverage.py DIR``: one technique per file or folder, which raised a medium-or-worse detection."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import rulecases

ROOT = Path(__file__).resolve().parents[2]


def test_measure_coverage_names_what_each_technique_raised(tmp_path):
    recs, _ = rulecases.expand(rulecases.load("iamkit-kms-key-deletion")["positive"], "k")
    (tmp_path / "T1485_kms.json").write_text(json.dumps({"Records": recs}))
    recs, _ = rulecases.expand(rulecases.load("iamkit-assume-role-new-user-agent")["positive"], "u")  # low only
    (tmp_path / "T1078_agent").mkdir()
    (tmp_path / "T1078_agent" / "a.json").write_text(json.dumps({"Records": recs}))
    (tmp_path / "notes.txt").write_text("not a log")
    r = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "measure_coverage.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("no   T1078_agent  (11 events)")
    assert lines[1] == "yes  T1485_kms  (1 events)  iamkit-kms-key-deletion"
    assert lines[-1] == "1 of 2 techniques raised a medium-or-worse detection"
    r = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "measure_coverage.py"), str(tmp_path), "--min", "low"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "yes  T1078_agent" in r.stdout and r.stdout.splitlines()[-1].startswith("2 of 2")
    r = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "measure_coverage.py"), str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "not a folder" in r.stderr
