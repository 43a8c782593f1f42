"""The notebook widgets in a real browser: JupyterLab driven by Playwright in Debian's Chromium.

Runs a notebook showing the incident timeline explorer, then picks a service in its dropdown and checks the
table follows. Everything stays on 127.0.0.1 (Chromium's background networking is switched off).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": (
                "import pandas as pd\n"
                "from iamkit.ui import show\n"
                "from iamkit.ui.timeline import TimelineExplorer\n"
                "ev = pd.DataFrame({'event_time': pd.to_datetime(['2026-11-01T00:00:00Z', '2026-11-01T00:01:00Z',"
                " '2026-11-01T00:02:00Z'], utc=True), 'event_source': ['iam.amazonaws.com', 's3.amazonaws.com',"
                " 'iam.amazonaws.com'], 'event_name': ['CreateUser', 'GetObject', 'CreateAccessKey'],"
                " 'access_key_id': ['AKIAEXAMPLE'] * 3, 'source_ip': ['203.0.113.7'] * 3, 'error_code': [None] * 3})\n"
                "show(TimelineExplorer(ev, title='smoke'))"
            ),
        },
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def lab(tmp_path):
    (tmp_path / "widgets.ipynb").write_text(json.dumps(NOTEBOOK))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={tmp_path}",
            "--LabApp.extension_manager=readonly",
            "--ServerApp.port_retries=0",
            "--allow-root",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.3)
    yield f"http://127.0.0.1:{port}", token
    proc.terminate()
    proc.wait(timeout=30)


def test_timeline_widget_filters_in_chromium(lab):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed (make test installs it)"
    base, token = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-default-apps",
            ],
        )
        page = browser.new_page()
        page.goto(f"{base}/lab/tree/widgets.ipynb?token={token}", timeout=120_000)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        page.wait_for_function("() => document.body.innerText.includes('| Idle')", timeout=120_000)
        page.click("div.lm-MenuBar-itemLabel:text-is('Run')")
        page.click("li.lm-Menu-item:has-text('Run All Cells')")
        select = page.wait_for_selector(".iamkit-timeline select", timeout=120_000)
        table = ".iamkit-timeline .jp-OutputArea-output table, .iamkit-timeline table"
        page.wait_for_selector(table, timeout=60_000)
        assert "GetObject" in page.inner_text(".iamkit-timeline")
        select.select_option("iam.amazonaws.com")
        page.wait_for_function(
            "() => { const t = document.querySelector('.iamkit-timeline table');"
            " return t && !t.innerText.includes('GetObject') && t.innerText.includes('CreateUser'); }",
            timeout=60_000,
        )
        text = page.inner_text(".iamkit-timeline")
        assert "CreateAccessKey" in text and "GetObject" not in text
        browser.close()
