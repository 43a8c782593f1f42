"""Rule test cases as data: ``rule_cases/<rule-id>.yml`` holds ``positive:`` and ``negative:`` lists of
compact record specs (``iamkit.trail.detect.synth.from_specs`` says the format); ``hit: true`` marks the
records a positive case's detections must list, and only those."""

from __future__ import annotations

from pathlib import Path

import yaml

from iamkit.trail.detect.synth import from_specs

CASES = Path(__file__).parent / "rule_cases"


def expand(specs: list[dict], prefix: str, tag: str = "") -> tuple[list[dict], set[str]]:
    """Records for ``specs`` and the ids of those marked ``hit``."""
    return from_specs(specs, prefix, tag)


def load(rule_id: str) -> dict:
    return yaml.safe_load((CASES / f"{rule_id}.yml").read_text())


def all_positive_records(cases: Path = CASES) -> list[dict]:
    """Every case file's positive records, each case's principals named apart (the Athena differential test
    and the detections bench make each rule fire with them)."""
    out = []
    for n, f in enumerate(sorted(cases.glob("*.yml"))):
        out += from_specs(yaml.safe_load(f.read_text())["positive"], f"{f.stem}-pos", f"-c{n}")[0]
    return out
