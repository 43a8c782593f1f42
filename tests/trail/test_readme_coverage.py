"""The README's ATT&CK coverage table is the one the shipped rules give (a rule added, renamed or remapped
shows there)."""

from __future__ import annotations

import re
from pathlib import Path

from iamkit.trail.detect.attack import coverage, coverage_table
from iamkit.trail.detect.rules import load_rules

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_coverage_table_matches_the_rules():
    text = README.read_text()
    m = re.search(r"<!-- attack-coverage[^>]*-->\n(.*?)\n<!-- /attack-coverage -->", text, re.S)
    assert m, "README lacks the attack-coverage table"
    assert m.group(1).strip() == coverage_table(load_rules()[0])


def test_issue_15_technique_list_is_covered():
    cov = coverage(load_rules()[0])
    for t in (
        "T1555.006",
        "T1552",
        "T1552.005",
        "T1098.001",
        "T1098",
        "T1484.002",
        "T1546",
        "T1525",
        "T1562.001",
        "T1562.008",
        "T1666",
        "T1651",
        "T1059.009",
        "T1098.004",
        "T1537",
        "T1496",
        "T1485",
    ):
        assert cov.get(t), t
