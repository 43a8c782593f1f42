"""One severity vocabulary (``iamkit.severity``) and one ``--fail-on`` for assess, trail hunt and policy validate."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iamkit import severity
from iamkit.cli import main
from iamkit.errors import BadInput

ROOT = Path(__file__).resolve().parent.parent
# ground truth, written out here independently of the module: worst first
ORDER = ["critical", "high", "medium", "low", "info"]
VALIDATION = ["error", "security_warning", "warning", "suggestion"]


def test_vocabulary_order_and_ocsf_ids():
    assert list(severity.LEVELS) == ORDER
    assert [severity.rank(s) for s in ORDER] == [0, 1, 2, 3, 4]
    # OCSF 1.1 severity_id: 1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical
    assert [(severity.ocsf_id(s), severity.ocsf_name(s)) for s in ORDER] == [
        (5, "Critical"),
        (4, "High"),
        (3, "Medium"),
        (2, "Low"),
        (1, "Informational"),
    ]
    assert severity.ocsf_id("bogus") == 1 and severity.ocsf_id(None) == 1
    assert list(severity.VALIDATION) == VALIDATION


@pytest.mark.parametrize(
    ("text", "want"),
    [("HIGH", "high"), (" Medium ", "medium"), ("info", "info"), ("Informational", "info"), ("CRITICAL", "critical")],
)
def test_parse_is_case_insensitive(text, want):
    assert severity.parse(text) == want


@pytest.mark.parametrize("text", ["", "severe", "high ish", "0", "\x00", "crit"])
def test_parse_refuses_in_one_line_naming_the_flag(text):
    with pytest.raises(BadInput) as e:
        severity.parse(text, flag="--fail-on")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("--fail-on ") and "critical|high|medium|low|info" in msg


def test_the_validation_scale_is_its_own():
    assert severity.parse("Security_Warning", scale=severity.VALIDATION) == "security_warning"
    with pytest.raises(BadInput, match="error\\|security_warning\\|warning\\|suggestion"):
        severity.parse("high", scale=severity.VALIDATION)
    with pytest.raises(BadInput):  # Sigma's alias belongs to the findings scale only
        severity.parse("informational", scale=severity.VALIDATION)
    assert severity.exceeds("warning", ["suggestion", "security_warning"], severity.VALIDATION)
    assert not severity.exceeds("error", ["warning", "suggestion"], severity.VALIDATION)


@given(
    threshold=st.sampled_from(ORDER),
    found=st.lists(st.sampled_from([*ORDER, "HIGH", "bogus", "", None, 3]), max_size=8),
)
def test_fail_on_counts_what_is_at_or_above_the_threshold(threshold, found):
    limit = ORDER.index(threshold)
    want = sum(1 for s in found if isinstance(s, str) and s.lower() in ORDER and ORDER.index(s.lower()) <= limit)
    assert severity.at_or_above(threshold, found) == want
    assert severity.exceeds(threshold, found) is (want > 0)
    assert severity.exceeds(None, found) is False and severity.exceeds("", found) is False


def _level_sets() -> list[tuple[str, int]]:
    """Literal lists/tuples/sets/dict keys in iamkit/ holding three or more names of one scale."""
    hits = []
    scales = [set(ORDER), set(VALIDATION)]
    for path in sorted((ROOT / "iamkit").rglob("*.py")):
        if path.name == "severity.py" and path.parent.name == "iamkit":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
                items = node.elts
            elif isinstance(node, ast.Dict):
                items = [k for k in node.keys if k is not None]
            else:
                continue
            words = {x.value for x in items if isinstance(x, ast.Constant) and isinstance(x.value, str)}
            if any(len(words & s) >= 3 for s in scales):
                hits.append((str(path.relative_to(ROOT)), node.lineno))
    return hits


def test_the_vocabulary_is_written_once():
    assert _level_sets() == []


def _run(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in argv])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


@pytest.fixture(scope="module")
def authz(tmp_path_factory):
    """An authorization-details export with a user allowed everything (IAMKIT-PRIV-001, high)."""
    acct = "123456789012"
    allow_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    export = {
        "UserDetailList": [
            {
                "UserName": "ci",
                "UserId": "AIDAX",
                "Arn": f"arn:aws:iam::{acct}:user/ci",
                "Path": "/",
                "CreateDate": "2024-01-01T00:00:00Z",
                "GroupList": [],
                "AttachedManagedPolicies": [],
                "UserPolicyList": [{"PolicyName": "all", "PolicyDocument": allow_all}],
            }
        ],
        "GroupDetailList": [],
        "RoleDetailList": [],
        "Policies": [],
    }
    f = tmp_path_factory.mktemp("authz") / "authz.json"
    f.write_text(json.dumps(export))
    return f


@pytest.fixture(scope="module")
def trail_db(tmp_path_factory):
    """A store with one root call (the shipped root-activity detection, severity high), loaded by the CLI."""
    d = tmp_path_factory.mktemp("trail")
    rec = {
        "eventVersion": "1.08",
        "eventID": "e-root-1",
        "eventTime": "2026-01-01T00:00:00Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "ListUsers",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.10",
        "userAgent": "aws-cli/2",
        "recipientAccountId": "111111111111",
        "eventType": "AwsApiCall",
        "readOnly": True,
        "userIdentity": {
            "type": "Root",
            "principalId": "111111111111",
            "arn": "arn:aws:iam::111111111111:root",
            "accountId": "111111111111",
        },
    }
    (d / "trail.json").write_text(json.dumps({"Records": [rec]}))
    db = d / "store.duckdb"
    with pytest.raises(SystemExit) as e:
        main(["trail", "load", str(d / "trail.json"), "--db", str(db)])
    assert e.value.code == 0
    return db


@pytest.fixture(scope="module")
def bad_policy(tmp_path_factory):
    f = tmp_path_factory.mktemp("policy") / "p.json"
    f.write_text(
        json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObjekt", "Resource": "*"}]}
        )
    )
    return f


# command line, what its rows are, a threshold its rows meet, one they do not (None: every level is met)
CASES = {
    "assess": (["assess", "--authz-details", "{authz}", "-f", "csv"], "finding", "High", "critical"),
    "hunt": (["trail", "hunt", "--db", "{trail_db}", "-f", "csv"], "detection", "HIGH", "critical"),
    "validate": (["policy", "validate", "{bad_policy}", "-f", "csv"], "finding", "Error", None),
}


@pytest.mark.parametrize("command", sorted(CASES))
def test_one_fail_on_for_every_command(command, authz, trail_db, bad_policy, capsys):
    template, what, met, not_met = CASES[command]
    argv = [a.format(authz=authz, trail_db=trail_db, bad_policy=bad_policy) for a in template]
    # the gate is met: exit 1 and one last line counting what met it (a hunt lists skipped rules before it)
    code, _, err = _run([*argv, "--fail-on", met], capsys)
    assert code == 1, err
    assert err.splitlines()[-1] == f"error: 1 {what}(s) at or above {met.lower()} (--fail-on)", err
    if not_met:
        code, _, err = _run([*argv, "--fail-on", not_met], capsys)
        assert code == 0, err
    # without --fail-on the exit status is 0 whatever was found
    assert _run(argv, capsys)[0] == 0
    # a value off the scale: exit 2, one line naming the flag and the scale
    code, _, err = _run([*argv, "--fail-on", "scary"], capsys)
    scale = "error|security_warning|warning|suggestion" if command == "validate" else "critical|high|medium|low|info"
    assert code == 2 and err.count("\n") == 1 and "--fail-on 'scary'" in err and scale in err, err
