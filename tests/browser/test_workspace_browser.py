"""The analyst's workspace in a real browser: JupyterLab on the sandbox's incident, driven by Playwright in
Debian's Chromium. Opens the case in explore.ipynb's case picker, changes the window and the subject, follows a
pivot from the attacker's IP, ticks a plan action and approves it in dry run, and checks each result against
the same functions run here. Then measures the demo case's report at 1400 px wide. Screenshots go to the test's
temporary folder (the README's one was copied from there once). Everything stays on 127.0.0.1."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from iamkit import playbook
from iamkit.case import Case
from iamkit.investigate import workspace as ws

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.notebook]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
NOTEBOOKS = playbook.BUILTIN.parent / "notebooks"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
]
LONG = 180_000


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="module")
def incident(sandbox, tmp_path_factory):
    cases = tmp_path_factory.mktemp("cases")
    res = playbook.run(
        "compromised-access-key",
        {"access_key_id": sandbox.org.incident.leaked_access_key_id},
        case_dir=cases / "incident",
    )
    return res.case.path


@pytest.fixture
def lab(incident, tmp_path):
    root = tmp_path / "workspace"
    root.mkdir()
    shutil.copy(NOTEBOOKS / "explore.ipynb", root / "explore.ipynb")  # a working copy, as `make lab` makes
    port, token = _free_port(), secrets.token_hex(16)
    # kernels talk over IPC: their sockets need a short path (a Unix socket path holds at most 107 bytes, and the
    # test's tmp path alone can be longer)
    sockets = tempfile.mkdtemp(prefix="iamkit-lab-")
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
        "IAMKIT_CASES": str(incident.parent),
    }
    err = (tmp_path / "lab.stderr").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--KernelManager.transport=ipc",
            f"--KernelManager.ip={sockets}/k",
            "--LabApp.extension_manager=readonly",
            "--ServerApp.port_retries=0",
            "--allow-root",
        ],
        stdout=subprocess.DEVNULL,
        stderr=err,
        env=env,
        cwd=root,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited: {(tmp_path / 'lab.stderr').read_text()[-2000:]}")
            time.sleep(0.3)
    yield f"http://127.0.0.1:{port}", token, tmp_path
    proc.terminate()
    proc.wait(timeout=30)
    err.close()
    shutil.rmtree(sockets, ignore_errors=True)


def _summary(page) -> str:
    return page.inner_text(".iamkit-activity-summary")


def test_open_steer_pivot_approve_in_chromium(lab, incident, sandbox):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed (make test installs it)"
    base, token, tmp = lab
    inc = sandbox.org.incident
    case = Case.open(incident)
    facts = json.loads((incident / "evidence" / "facts.json").read_text())
    start, end = ws.window_presets(case, facts)["suspicious window ±15 min"]
    in_window = len(ws.activity(case, start, end, inc.leaked_access_key_id).events)
    from_ip = len(ws.activity(case, start, end, inc.attacker_ip).events)
    import iamkit as ik

    pivot_total = ik.pivot(inc.attacker_ip, case=incident).total_events
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{base}/lab/tree/explore.ipynb?token={token}", timeout=LONG)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=LONG)
        page.wait_for_function("() => document.body.innerText.includes('| Idle')", timeout=LONG)
        page.click("div.lm-MenuBar-itemLabel:text-is('Run')")
        page.click("li.lm-Menu-item:has-text('Run All Cells')")
        page.wait_for_selector(".iamkit-workbench", timeout=LONG)
        page.wait_for_selector(".iamkit-plan", timeout=LONG)
        no_news = page.locator(".jp-toast-button:has-text('No')")
        if no_news.count():  # JupyterLab asks once whether to fetch news (it never does here: offline)
            no_news.first.click()

        # 1. open the case with the case picker
        from iamkit.investigate.access_key import cases

        label = next(lb for lb, path in cases(incident.parent) if path == str(incident.resolve()))
        page.locator(".iamkit-case-picker select").select_option(label=label)
        page.locator(".iamkit-case-picker button:has-text('Open')").click()
        page.wait_for_function(
            f"() => document.querySelector('.iamkit-case-picker').innerText.includes("
            f"{json.dumps('open: ' + str(incident.resolve()))})",
            timeout=LONG,
        )

        # 2. change the window: the suspicious window preset, applied
        page.locator(".iamkit-window select").select_option("suspicious window ±15 min")
        page.locator(".iamkit-window button:has-text('Apply window')").click()
        page.wait_for_function(
            f"() => document.querySelector('.iamkit-activity-summary').innerText.startsWith('{in_window:,} calls')",
            timeout=LONG,
        )
        assert start in _summary(page)

        # 3. change the subject to the attacker's IP
        subject = page.locator(".iamkit-subject input")
        subject.fill(inc.attacker_ip)
        page.locator(".iamkit-subject button:has-text('Apply subject')").click()
        page.wait_for_function(
            f"() => document.querySelector('.iamkit-activity-summary').innerText.startsWith('{from_ip:,} calls')",
            timeout=LONG,
        )
        assert inc.attacker_ip in _summary(page)

        # 4. follow a pivot from the attacker's IP: click it in the events table
        page.locator(f".iamkit-entity:has-text('{inc.attacker_ip}')").first.click()
        page.wait_for_function(
            "() => { const r = document.querySelector('.iamkit-pivot-result');"
            f" return r && r.innerText.includes('Pivot: ip {inc.attacker_ip}'); }}",
            timeout=LONG,
        )
        result = page.inner_text(".iamkit-pivot-result")
        assert f"{pivot_total} event(s) in the store" in result and inc.leaked_access_key_id in result
        page.locator(".iamkit-activity-summary").scroll_into_view_if_needed()
        page.screenshot(path=str(tmp / "workspace-steer.png"))
        page.locator(".iamkit-pivot-result").scroll_into_view_if_needed()
        page.screenshot(path=str(tmp / "workspace-pivot.png"))

        # 5. tick the first plan action and approve it in dry run
        page.locator(".iamkit-plan-action input[type=checkbox]").first.check()
        page.locator(".iamkit-plan input[type=text]").fill("ana.browser")
        page.locator(".iamkit-plan button:has-text('Approve (dry run)')").click()
        page.wait_for_function(
            "() => document.querySelector('.iamkit-plan-result').innerText.includes('approved in dry run')",
            timeout=LONG,
        )
        page.locator(".iamkit-plan").scroll_into_view_if_needed()
        page.screenshot(path=str(tmp / "workspace-plan.png"))
        browser.close()
    entries, _ = Case.open(incident).read_journal()
    approval = [e for e in entries if e.get("event") == "approved-dry-run"][-1]
    assert approval["approver"] == "ana.browser" and approval["steps"] == [1] and approval["applied"] is False
    assert Case.open(incident).verify() == []
    assert "running over TCP without encryption" not in (tmp / "lab.stderr").read_text()


def test_report_is_under_15000_px_at_1400_px_wide(incident, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        off = browser.new_page(viewport={"width": 1400, "height": 1000}, java_script_enabled=False)
        off.goto((incident / "report.html").resolve().as_uri())
        text = off.inner_text("body")  # read with JavaScript off: the summary and the tables are there
        assert "Summary" in text and "Persistence:" in text and "Every call traced from the key" in text
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto((incident / "report.html").resolve().as_uri())
        height = page.evaluate("document.body.scrollHeight")
        images = page.evaluate("[...document.images].map(i => i.naturalWidth > 0)")
        page.screenshot(path=str(tmp_path / "report-top.png"))
        browser.close()
    print(f"report height at 1400 px: {height} px; {len(images)} figures")
    assert height < 15_000, height
    assert len(images) >= 6 and all(images), "every figure decodes and draws (no script needed)"
