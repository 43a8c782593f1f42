"""Schedules (cadence words and cron), which reviews are due from the cases folder, the cron lines and systemd
units ``iamkit schedule`` prints, and ``cases/index.html`` (trends, links, every value escaped)."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import shlex
from pathlib import Path

import pytest

from iamkit import caseindex
from iamkit import playbook as pb
from iamkit import schedule as sch
from iamkit.case import Case
from iamkit.errors import BadInput

UTC = dt.UTC
REVIEWS = {
    "review-assume-role-hunt": "daily",
    "review-external-access": "weekly",
    "review-inventory": "weekly",
    "review-key-hygiene": "monthly",
}
# a review that needs parameters (no defaults): scheduled only with ``--params FILE``
NEEDS = {"least-privilege": "quarterly"}
LP_PARAMS = {
    "least-privilege": {"principal": "arn:aws:iam::111122223333:role/app; rm -rf ~", "trail_db": "/srv/t %d.duckdb"}
}


def test_shipped_reviews_are_scheduled_and_incidents_are_not():
    got = {p.id: p.schedule for p in sch.scheduled()}
    assert got == {**REVIEWS, **NEEDS}
    assert all(pb.load(i).kind == "review" for i in got)
    assert pb.load("compromised-access-key").kind == "incident"


@pytest.mark.parametrize(
    "text,now,fire",
    [
        ("0 6 * * 1", "2026-12-09T10:00:00+00:00", "2026-12-07T06:00:00+00:00"),  # Wed -> Monday 06:00
        ("*/15 * * * *", "2026-12-09T10:07:30+00:00", "2026-12-09T10:00:00+00:00"),
        ("30 2 1 1,4,7,10 *", "2026-12-09T10:00:00+00:00", "2026-10-01T02:30:00+00:00"),
        ("0 6 * * 0", "2026-12-06T05:59:00+00:00", "2026-11-29T06:00:00+00:00"),  # Sunday, one minute early
        ("0 6 * * 7", "2026-12-06T06:00:00+00:00", "2026-12-06T06:00:00+00:00"),  # 7 is Sunday too
        ("0 0 13 * *", "2026-12-09T00:00:00+00:00", "2026-11-13T00:00:00+00:00"),
    ],
)
def test_last_fire(text, now, fire):
    assert sch.cadence(text).last_fire(dt.datetime.fromisoformat(now)) == dt.datetime.fromisoformat(fire)


@pytest.mark.parametrize(
    "text,calendar",
    [
        ("weekly", "Mon *-*-* 06:00:00"),
        ("quarterly", "*-01,04,07,10-01 06:00:00"),
        ("*/15 2-4 * * 1-5", "Mon..Fri *-*-* 02..04:00/15:00"),
        ("0 3 1 * *", "*-*-01 03:00:00"),
    ],
)
def test_systemd_calendar(text, calendar):
    assert sch.cadence(text).on_calendar == calendar


@pytest.mark.parametrize(
    "text,match",
    [
        ("fortnightly", "five cron fields"),
        ("61 * * * *", "out of range"),
        ("* * * *", "five cron fields"),
        ("0 6 * * mon", "use \\*, N"),
        ("0 6 1 * 1", "pick one"),
    ],
)
def test_bad_schedules(text, match):
    with pytest.raises(BadInput, match=match):
        sch.cadence(text)


def _playbook(tmp_path: Path, extra: str, kind: str = "review") -> Path:
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {"tags": ["parameters"]},
                "outputs": [],
                "execution_count": None,
                "source": 'case_dir = ""',
            }
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (tmp_path / "nb.ipynb").write_text(json.dumps(nb))
    p = tmp_path / "p.yml"
    p.write_text(
        f"id: p\ntitle: P\ndescription: d\nkind: {kind}\n{extra}parameters: []\nsteps:\n  - notebook: nb.ipynb\n"
    )
    return p


def test_schedules_are_checked_on_load(tmp_path):
    assert pb.load(_playbook(tmp_path, "schedule: '15 4 * * 2'\n")).schedule == "15 4 * * 2"
    with pytest.raises(BadInput, match="only reviews"):
        pb.load(_playbook(tmp_path, "schedule: daily\n", kind="incident"))
    with pytest.raises(BadInput, match="invalid playbook at schedule"):
        pb.load(_playbook(tmp_path, "schedule: every day\n"))
    with pytest.raises(BadInput, match="out of range"):
        pb.load(_playbook(tmp_path, "schedule: '0 25 * * *'\n"))


def _case(root: Path, playbook: str, status: str = "complete", summary: dict | None = None) -> Case:
    c = Case.create(root, playbook, {})
    if summary is not None:
        c.save_json("summary", summary)
    c.finish(status)
    return c


def test_due_from_the_cases_folder(tmp_path):
    root = tmp_path / "cases"
    now = dt.datetime.now(UTC)
    assert all(r["due"] for r in sch.due(root, now=now))  # never run: all due
    _case(root, "review-inventory")
    _case(root, "review-assume-role-hunt")
    _case(root, "review-key-hygiene", status="failed")  # a failed run is not a run
    due = {r["playbook"]: r["due"] for r in sch.due(root, now=now + dt.timedelta(hours=1))}
    assert due == {
        "review-inventory": False,
        "review-assume-role-hunt": False,
        "review-key-hygiene": True,
        "review-external-access": True,
        "least-privilege": True,
    }
    needs = {r["playbook"]: r["needs"] for r in sch.due(root, now=now)}
    assert needs == {**dict.fromkeys(REVIEWS, ""), "least-privilege": "principal, trail_db"}
    assert {r["playbook"]: r["needs"] for r in sch.due(root, now=now, params=LP_PARAMS)}["least-privilege"] == ""
    due = {r["playbook"]: r["due"] for r in sch.due(root, now=now + dt.timedelta(days=1))}
    assert due["review-assume-role-hunt"] is True and due["review-inventory"] is False
    due = {r["playbook"]: r["due"] for r in sch.due(root, now=now + dt.timedelta(days=7))}
    assert due["review-inventory"] is True


def test_cron_lines_quote_the_cases_folder(tmp_path):
    root = tmp_path / "my cases; rm -rf ~ %d"
    lines = sch.cron_lines(root)
    runs = [x for x in lines if not x.startswith(("#", "CRON_TZ"))]
    assert len(runs) == len(REVIEWS)
    for line in runs:
        fields, rest = line.split(" ", 5)[:5], line.split(" ", 5)[5]
        pid = rest.rsplit("# ", 1)[1].split(":")[0]
        assert " ".join(fields) == sch.cadence(REVIEWS[pid]).cron
        words = shlex.split(rest.split("  #", 1)[0].replace("\\%", "%"))
        assert words[0] == f"IAMKIT_CASES={root.resolve()}" and words[-2:] == ["run", pid]
        assert "%" not in line.replace("\\%", "")  # cron would cut the line at a bare %
    # without its parameters the least-privilege review is a comment naming them; with them, a run line
    assert any(x.startswith("# least-privilege (quarterly) needs parameters principal, trail_db") for x in lines)
    lines = sch.cron_lines(root, params=LP_PARAMS)
    (lp,) = [x for x in lines if x.endswith("# least-privilege: quarterly")]
    words = shlex.split(lp.split(" ", 5)[5].split("  #", 1)[0].replace("\\%", "%"))
    assert words[-6:] == [
        "run",
        "least-privilege",
        "-p",
        "principal=arn:aws:iam::111122223333:role/app; rm -rf ~",
        "-p",
        "trail_db=/srv/t %d.duckdb",
    ]
    assert "%" not in lp.replace("\\%", "")


def test_schedule_params_file(tmp_path):
    f = tmp_path / "params.yml"
    f.write_text("least-privilege:\n  principal: arn:aws:iam::111122223333:role/app\n  trail_db: /srv/t.duckdb\n")
    assert sch.load_params(f) == {
        "least-privilege": {"principal": "arn:aws:iam::111122223333:role/app", "trail_db": "/srv/t.duckdb"}
    }
    assert sch.load_params(None) == {}
    with pytest.raises(BadInput, match="unknown parameter 'principle'"):
        sch.cron_lines(tmp_path / "cases", params={"least-privilege": {"principle": "x"}})
    for bad in ("- a\n- b\n", "least-privilege: [1]\n", "least-privilege:\n  principal: {a: 1}\n", "a: [\n"):
        f.write_text(bad)
        with pytest.raises(BadInput, match="schedule parameters"):
            sch.load_params(f)


def test_systemd_units(tmp_path):
    units = dict(sch.systemd_units(tmp_path / "cases"))
    assert set(units) == {f"iamkit-{p}.{k}" for p in REVIEWS for k in ("service", "timer")}
    with_params = dict(sch.systemd_units(tmp_path / "cases", params=LP_PARAMS))
    assert (
        '"run" "least-privilege" "-p" "principal=arn:aws:iam::111122223333:role/app; rm -rf ~"'
        in (with_params["iamkit-least-privilege.service"])
    )
    assert '"trail_db=/srv/t %%d.duckdb"' in with_params["iamkit-least-privilege.service"]
    timer = units["iamkit-review-key-hygiene.timer"]
    assert "OnCalendar=*-*-01 06:00:00 UTC" in timer and "Unit=iamkit-review-key-hygiene.service" in timer
    service = units["iamkit-review-inventory.service"]
    assert re.search(r'^ExecStart=".*" "-m" "iamkit.cli" "run" "review-inventory"$', service, re.M)


def test_cli_schedule_prints(cli, closed_endpoints, capsys, tmp_path):
    from tests.conftest import run_cli

    code, out, _ = run_cli(["schedule", "--print", "cron", "--cases", str(tmp_path / "c")])
    assert code == 0 and sum(1 for x in out.splitlines() if "iamkit.cli run review-" in x) == len(REVIEWS)
    code, out, _ = run_cli(["schedule", "--format", "json", "--cases", str(tmp_path / "c")])
    assert code == 0 and {r["playbook"] for r in json.loads(out) if r["due"]} == set(REVIEWS) | set(NEEDS)


def test_cli_run_due_runs_each_and_reports_failures(closed_endpoints, tmp_path):
    """With the endpoint closed every due review fails before making a case: all are tried, exit 1."""
    from tests.conftest import run_cli

    root = tmp_path / "cases"
    _case(root, "review-inventory")
    code, out, err = run_cli(["schedule", "--run-due", "--format", "json", "--cases", str(root)])
    rows = {r["playbook"]: r["result"] for r in json.loads(out)}
    assert code == 1, err
    assert rows.pop("review-inventory") == "not due"
    assert rows.pop("least-privilege") == "failed: needs parameters principal, trail_db (--params FILE)"
    assert set(rows) == set(REVIEWS) - {"review-inventory"}
    assert all(v.startswith("failed: cannot reach") for v in rows.values()), rows
    assert len([d for d in root.iterdir() if d.is_dir()]) == 1  # no case was made for a failed preflight
    assert (root / "index.html").is_file()


# ------------------------------------------------------------------------------------------------ index
def test_index_lists_runs_trends_and_links(tmp_path, monkeypatch):
    import itertools

    import iamkit.case

    clock = (f"2026-12-{d:02d}T06:00:00+00:00" for d in itertools.count(1))  # one run a day
    monkeypatch.setattr(iamkit.case, "_now", lambda: next(clock))
    root = tmp_path / "cases"
    a = _case(root, "review-key-hygiene", summary={"headline": ["3 stale"], "figures": {"stale_keys": 3}})
    b = _case(root, "review-key-hygiene", summary={"headline": ["5 stale"], "figures": {"stale_keys": 5}})
    c = _case(root, "review-key-hygiene", summary={"headline": ["5 stale"], "figures": {"stale_keys": 5}})
    text = caseindex.build(root).read_text()
    assert f'<meta http-equiv=Content-Security-Policy content="{caseindex_csp()}">' in text
    trends = text[text.index("id=trends") : text.index("id=runs")]
    assert trends.index(a.id) < trends.index(b.id) < trends.index(c.id)
    cells = re.findall(r"<td>(\d+(?: \([^)]*\))?)</td>", trends)
    assert cells == ["3", "5 (+2)", "5 (=)"]
    for x in (a, b, c):
        assert f'href="{x.id}/report.html"' not in text  # no report built: no link
    (c.path / "report.html").write_text("x")
    assert f'href="{c.id}/report.html"' in caseindex.build(root).read_text()


def caseindex_csp() -> str:
    from iamkit.report import CSP

    return CSP


def test_index_escapes_hostile_cases(tmp_path):
    root = tmp_path / "cases"
    evil = "<script>alert(1)</script>"
    c = _case(
        root,
        "review-inventory",
        summary={
            "headline": [evil, {"x": evil}],
            "figures": {"<img src=x onerror=alert(1)>": 1, "bad": "NaN", "inf": float("inf")},
        },
    )
    (c.path / "report.html").write_text("x")
    odd = root / 'q"><script>x'
    odd.mkdir()
    (odd / "case.yaml").write_text(f"playbook: '{evil}'\nstatus: complete\ncreated: '{evil}'\n")
    (root / "linked").symlink_to(c.path)
    text = caseindex.build(root).read_text()
    assert "<script" not in text and "<img" not in text
    assert html.escape(evil) in text or "&lt;script&gt;" in text
    assert "<code>linked</code>" not in text  # a symlink is not a case
    assert text.count(f'href="{c.id}/report.html"') == 2  # its trend row and its run row
    assert 'href="q%22%3E%3Cscript%3Ex/report.html"' not in text  # no report there: no link at all
    assert "&lt;img src=x onerror=alert(1)&gt; 1" in text  # the one finite figure, escaped
    assert "bad NaN" not in text and "inf inf" not in text
