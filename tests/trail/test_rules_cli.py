"""``iamkit trail rules``: the listing against the rule files themselves (ground truth read here with plain
YAML), statuses and reasons, the ATT&CK coverage table, formats and bad input."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from iamkit.trail.detect.catalogue import catalogue, techniques
from iamkit.trail.detect.rules import SHIPPED_DIR, Rule

FIXTURES = Path(__file__).parent / "fixtures" / "sigma"


def _cli(args: list[str]):
    from iamkit.cli import app

    return CliRunner().invoke(app, args)


def _truth(folder: Path) -> dict[str, dict]:
    """id -> (title, severity, techniques, sigma?) from the YAML files, with no iamkit code involved."""
    out = {}
    for path in sorted(folder.rglob("*.yml")):
        doc = yaml.safe_load(path.read_text())
        sigma = "detection" in doc or "correlation" in doc
        level = str(doc.get("level" if sigma else "severity")).lower()
        attack = sorted(
            {t.split(".", 1)[1].upper() for t in doc.get("tags") or [] if re.fullmatch(r"attack\.t\d{4}(\.\d{3})?", t)}
            | {str(t).upper().removeprefix("ATTACK.") for t in doc.get("attack") or []}
        )
        out[doc["id"]] = {
            "title": doc["title"],
            "severity": {"informational": "info"}.get(level, level),
            "attack": attack,
            "sigma": sigma,
            "path": path,
        }
    return out


def _listing(args: list[str]) -> pd.DataFrame:
    r = _cli(["trail", "rules", "--format", "json", *args])
    assert r.exit_code == 0, r.output
    return pd.DataFrame(json.loads(r.stdout))


def test_shipped_rules_are_listed_as_their_files_say():
    truth = _truth(SHIPPED_DIR)
    df = _listing([])
    assert sorted(df["id"]) == sorted(truth)
    for rec in df.to_dict(orient="records"):
        t = truth[rec["id"]]
        assert rec["title"] == t["title"] and rec["severity"] == t["severity"], rec["id"]
        assert sorted(x for x in rec["attack"].split(", ") if x) == t["attack"], rec["id"]
        assert rec["source"] == ("shipped/sigma" if t["sigma"] else "shipped/native")
        assert rec["status"] == "ok", rec
        assert Path(rec["path"]).resolve() == t["path"].resolve()


def test_user_sigma_rules_are_added_with_their_path_and_status():
    truth = _truth(FIXTURES)
    df = _listing(["--sigma", str(FIXTURES)]).set_index("id")
    assert set(truth) <= set(df.index) and set(_truth(SHIPPED_DIR)) <= set(df.index)
    for rule_id, t in truth.items():
        rec = df.loc[rule_id]
        assert rec["source"] == str(t["path"]), rule_id
        assert rec["title"] == t["title"] and rec["severity"] == t["severity"]
        assert sorted(x for x in rec["attack"].split(", ") if x) == t["attack"], rule_id
        unsupported = t["path"].parent.name == "unsupported"
        assert rec["status"].startswith("unsupported: " if unsupported else "ok"), (rule_id, rec["status"])
    susp = df.loc["313e72de-0c0d-4d65-8c95-87f4d546eceb", "status"]
    assert susp.startswith("unsupported: |expand placeholder %Legitimate_Countries% has no value")
    mass = df.loc["45251c1d-3fda-47d4-a990-b7ce4d635fc0"]
    assert mass["status"] == "ok" and "count() aggregation" in mass["notes"]


def test_rules_replaces_the_shipped_set_and_bad_files_are_listed(tmp_path):
    (tmp_path / "good.yml").write_text((SHIPPED_DIR / "root_activity.yml").read_text())
    (tmp_path / "broken.yml").write_text("title: [unclosed\n")
    (tmp_path / "dangling.yml").write_text(
        "title: d\nid: d\nlogsource: {product: aws, service: cloudtrail}\n"
        "detection: {s: {eventName: X}, unused: {eventName: Y}, condition: s}\n"
    )
    (tmp_path / "timepart.yml").write_text(
        "title: tp\nid: tp\nlogsource: {product: aws, service: cloudtrail}\n"
        "tags: [attack.t1078]\n"
        "detection: {s: {eventTime|minute: 5}, condition: s}\n"
    )
    df = _listing(["--rules", str(tmp_path)]).set_index("path")
    assert set(df["id"]) == {"iamkit-root-activity", "tp", "d", ""}
    # pySigma's validators: a selection the condition never uses is a note, the rule still runs
    assert df.loc[str(tmp_path / "dangling.yml"), "status"] == "ok"
    assert "not referenced from condition" in df.loc[str(tmp_path / "dangling.yml"), "notes"]
    assert df.loc[str(tmp_path / "good.yml"), "source"] == str(tmp_path / "good.yml")  # copied: user-provided
    assert df.loc[str(tmp_path / "broken.yml"), "status"].startswith("invalid: cannot read YAML")
    assert (
        df.loc[str(tmp_path / "timepart.yml"), "status"]
        == "unsupported: time-part modifiers (|minute, |hour, ...) are not supported"
    )


def test_coverage_maps_each_technique_to_the_rules_that_run(tmp_path):
    (tmp_path / "a.yml").write_text((SHIPPED_DIR / "root_activity.yml").read_text())
    (tmp_path / "b.yml").write_text(
        "title: b\nid: b\nlogsource: {product: aws, service: cloudtrail}\n"
        "tags: [attack.t1078.004, attack.t1580, attack.discovery]\n"
        "detection: {s: {eventName: ListBuckets}, condition: s}\n"
    )
    (tmp_path / "c.yml").write_text(
        "title: c\nid: c\nlogsource: {product: aws, service: cloudtrail}\n"
        "tags: [attack.t1580]\n"
        "detection: {s: {eventTime|hour: 5}, condition: s}\n"
    )
    r = _cli(["trail", "rules", "--rules", str(tmp_path), "--coverage", "--format", "csv"])
    assert r.exit_code == 0, r.output
    cov = pd.read_csv(io.StringIO(r.stdout), keep_default_na=False).set_index("technique")
    assert cov.to_dict(orient="index") == {
        "T1078.004": {"rules": "iamkit-root-activity, b", "n_rules": 2, "not_running": ""},
        "T1580": {"rules": "b", "n_rules": 1, "not_running": "c"},
    }


def test_table_output_has_both_tables_and_formats_are_checked(tmp_path, cli):
    r = _cli(["trail", "rules"])
    assert r.exit_code == 0 and "detection rules" in r.stdout and "ATT&CK coverage" in r.stdout
    assert "iamkit-logging-stopped" in r.stdout and "T1562.008" in r.stdout
    code, err = cli(["trail", "rules", "--format", "ocsf"])
    assert code == 2 and "ocsf" in err
    code, err = cli(["trail", "rules", "--sigma", str(tmp_path / "missing")])
    assert code == 2 and "no such rule file or folder" in err and len(err.strip().splitlines()) == 1
    out = tmp_path / "rules.parquet"
    assert _cli(["trail", "rules", "--format", "parquet", "--out", str(out)]).exit_code == 0
    assert set(pd.read_parquet(out)["id"]) == set(_truth(SHIPPED_DIR))


@pytest.mark.parametrize(
    "tags, attack, expected",
    [
        (["attack.t1098.001", "attack.persistence", "attack.T1098.001"], None, ["T1098.001"]),
        ([], ["T1562.008", "t1078"], ["T1562.008", "T1078"]),
        (["attack.t1580"], ["attack.t1530"], ["T1580", "T1530"]),
        (["cve.2021-1234", "attack.g0016"], None, []),
    ],
)
def test_techniques_from_tags_and_an_attack_field(tags, attack, expected):
    r = Rule(id="x", title="x", severity="low", kind="denied_burst", tags=tags)
    if attack is not None:
        r.attack = attack  # the native schema may carry an ``attack:`` list
    assert techniques(r) == expected


def test_catalogue_is_the_library_behind_the_command():
    listing, cov = catalogue()
    assert list(listing.columns)[:7] == ["id", "title", "source", "kind", "severity", "attack", "status"]
    assert cov["n_rules"].sum() == sum(len([x for x in a.split(", ") if x]) for a in listing["attack"])
