"""End to end: the compromised-access-key playbook on a local CloudTrail folder whose incident carries hostile
strings in every field the report shows (session name, created user, user agents, source IP text, error codes
and messages, request parameters, resource ARNs, policy names). The report and the executed notebooks'
outputs are parsed: nothing from the evidence is live, the CSP is there, and the evidence is still shown."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import sys
from pathlib import Path

import nbformat
import pytest
from payloads import FRAME_PAYLOADS, live, markup, text
from test_report import check_report

from iamkit import escape, playbook

pytestmark = [pytest.mark.notebook, pytest.mark.sandbox]

sys.path.insert(0, str(Path(__file__).parents[1] / "trail"))
from ctrecords import iam_user, rec, role_session  # noqa: E402

# lone surrogates are left out: DuckDB refuses a file holding one (tested apart in test_render/test_report)
HOSTILE = " ".join(FRAME_PAYLOADS)
NEW_KEY = "AKIAXSSBACKDOORKEY01"
SESSION_KEY = "ASIAXSSSESSIONKEY001"


def hostile(field: str) -> str:
    """A field's value: a marker to find it by, then every payload."""
    return f"XSS{field.upper()}X {HOSTILE}"


def incident(inc, other_account: str) -> list[dict]:
    acct = inc.account_id
    t0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)

    def at(minutes: int) -> str:
        return (t0 + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")

    leaked = iam_user(inc.user_arn, inc.leaked_access_key_id, acct)
    leaked["userName"] = hostile("identity_user_name")
    user_name = hostile("created_user").replace("/", "∕")
    user_arn = f"arn:aws:iam::{acct}:user/{user_name}"
    role_arn = f"arn:aws:iam::{other_account}:role/{hostile('role').replace('/', '∕')}"
    session = hostile("session_name")
    session_arn = f"arn:aws:sts::{other_account}:assumed-role/{role_arn.rsplit('/', 1)[-1]}/{session}"
    kw = {"ip": hostile("source_ip"), "ua": hostile("user_agent")}
    creds = {"accessKeyId": SESSION_KEY, "sessionToken": "<redacted>", "expiration": "Jan 5, 2026, 11:00:00 AM"}
    out = [
        rec("GetCallerIdentity", "sts.amazonaws.com", leaked, at(0), account=acct, read_only=True, **kw),
        rec(
            "ListBuckets",
            "s3.amazonaws.com",
            leaked,
            at(1),
            account=acct,
            read_only=True,
            error=hostile("error_code"),
            **kw,
        ),
        rec(
            "CreateUser",
            "iam.amazonaws.com",
            leaked,
            at(2),
            account=acct,
            rp={"userName": user_name},
            re={"user": {"userName": user_name, "userId": "AIDAXSS", "arn": user_arn}},
            **kw,
        ),
        rec(
            "CreateAccessKey",
            "iam.amazonaws.com",
            leaked,
            at(3),
            account=acct,
            rp={"userName": user_name},
            re={"accessKey": {"userName": user_name, "accessKeyId": NEW_KEY, "status": "Active"}},
            **kw,
        ),
        rec(
            "AttachUserPolicy",
            "iam.amazonaws.com",
            leaked,
            at(4),
            account=acct,
            rp={"userName": user_name, "policyArn": f"arn:aws:iam::{acct}:policy/{hostile('policy_arn')}"},
            **kw,
        ),
        rec(
            "PutUserPolicy",
            "iam.amazonaws.com",
            leaked,
            at(5),
            account=acct,
            rp={"userName": user_name, "policyName": hostile("policy_name"), "policyDocument": hostile("document")},
            **kw,
        ),
        rec(
            "AssumeRole",
            "sts.amazonaws.com",
            iam_user(user_arn, NEW_KEY, acct),
            at(10),
            account=acct,
            rp={"roleArn": role_arn, "roleSessionName": session},
            re={"credentials": creds, "assumedRoleUser": {"assumedRoleId": "AROAXSS:x", "arn": session_arn}},
            **kw,
        ),
    ]
    s = role_session(session_arn, role_arn, SESSION_KEY)
    out += [
        rec(
            "GetSecretValue",
            "secretsmanager.amazonaws.com",
            s,
            at(12),
            account=other_account,
            read_only=True,
            rp={"secretId": f"arn:aws:secretsmanager:us-east-1:{other_account}:secret:{hostile('secret')}"},
            **kw,
        ),
        rec(
            "GetObject",
            "s3.amazonaws.com",
            s,
            at(13),
            account=other_account,
            read_only=True,
            rp={"bucketName": hostile("bucket"), "key": hostile("object_key")},
            **kw,
        ),
        rec(
            "StopLogging",
            "cloudtrail.amazonaws.com",
            s,
            at(14),
            account=other_account,
            rp={"name": hostile("trail_name")},
            error="AccessDenied",
            **kw,
        ),
    ]
    out[-2]["resources"] = [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{hostile('resource_arn')}"}]
    out[-1]["errorMessage"] = hostile("error_message")
    return out


FIELDS = [
    "identity_user_name",
    "created_user",
    "role",
    "session_name",
    "source_ip",
    "user_agent",
    "error_code",
    "policy_arn",
    "policy_name",
    "secret",
    "bucket",
    "object_key",
    "trail_name",
    "resource_arn",
    "error_message",
]


@pytest.fixture(scope="module")
def hostile_case(sandbox, tmp_path_factory):
    inc = sandbox.org.incident
    other = inc.target_role_arn.split(":")[4]
    folder = tmp_path_factory.mktemp("hostile-trail")
    body = json.dumps({"Records": incident(inc, other)}).encode()
    (folder / f"{inc.account_id}_CloudTrail_us-east-1_20260105T0900Z_xss.json.gz").write_bytes(gzip.compress(body))
    res = playbook.run(
        "compromised-access-key",
        {
            "access_key_id": inc.leaked_access_key_id,
            "trail_source": str(folder),
            "start": "2026-01-05T00:00:00Z",
            "end": "2026-01-06T00:00:00Z",
        },
        case_dir=tmp_path_factory.mktemp("cases") / "hostile",
    )
    return res.case


def test_report_has_nothing_live_and_shows_every_field_as_text(hostile_case):
    page = (hostile_case.path / "report.html").read_text(encoding="utf-8")
    check_report(page)
    seen = text(page)
    missing = [f for f in FIELDS if f"XSS{f.upper()}X" not in seen]
    assert not missing, f"fields that never reached the report: {missing}"
    summary = seen[seen.index("Summary") : seen.index("Notebooks")]
    for f in ("created_user", "session_name", "source_ip", "user_agent", "secret", "bucket", "trail_name"):
        assert f"XSS{f.upper()}X" in summary, f"{f} is not in the summary"
    assert escape.visible(FRAME_PAYLOADS[0]) in seen and escape.visible("[x](javascript:alert(1))") in seen


def test_executed_notebooks_outputs_have_nothing_live(hostile_case):
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    outputs, shown = 0, []
    for path in sorted((hostile_case.path / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"], path.name
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                if "text/markdown" in data:
                    page = markdown2html_mistune(data["text/markdown"])
                    # what show() emits: headings (nbconvert adds their anchors), text, lists, code
                    assert {t for t, _ in markup(page)} <= {
                        "h3",
                        "a",
                        "p",
                        "ul",
                        "li",
                        "code",
                        "em",
                        "pre",
                        "div",
                        "span",
                    }, page[:300]
                    assert [x for x in live(page) if x not in ("<a>", "<a href=…>")] == [], page[:300]
                    outputs += 1
                    shown.append(text(page))
                if "text/html" in data:
                    page = data["text/html"]
                    assert {t for t, _ in markup(page)} <= {
                        "div",
                        "style",
                        "table",
                        "thead",
                        "tbody",
                        "tr",
                        "th",
                        "td",
                    }, page[:300]
                    assert not live(page, allowed={"style"}), page[:300]
                    outputs += 1
    assert outputs > 15
    shown_text = " ".join(shown)
    for f in ("created_user", "session_name", "source_ip", "role"):  # the headline names them
        assert f"XSS{f.upper()}X" in shown_text, f
    assert escape.visible(FRAME_PAYLOADS[0]) in shown_text
