"""Playbook loading and parameter checks: every bad input is a clear error before any notebook starts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from iamkit import playbook as pb
from iamkit.errors import BadInput, NotFound

ROOT = Path(__file__).resolve().parent.parent


def _nb(path: Path, params: str = 'x = ""\ncase_dir = ""') -> Path:
    nb = {"cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": params,
                     "outputs": [], "execution_count": None}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))
    return path


def _pb(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "p.yml"
    p.write_text(text)
    return p


GOOD = """
id: t
title: T
description: d
parameters:
  - {name: x, type: string, required: true, help: the x}
  - {name: n, type: int, default: 3, help: a number}
steps:
  - notebook: nb.ipynb
"""


def test_shipped_playbooks_load():
    for name in pb.available():
        p = pb.load(name)
        assert p.steps and p.title


def test_compromised_access_key_playbook_shape():
    p = pb.load("compromised-access-key")
    assert [s.notebook.name for s in p.steps] == ["01-enrichment.ipynb", "02-assessment.ipynb",
                                                  "03-remediation.ipynb", "04-postmortem.ipynb"]
    with pytest.raises(BadInput, match="does not look right"):
        p.resolve({"access_key_id": "not-a-key"})


def test_resolve_types_defaults_and_errors(tmp_path):
    _nb(tmp_path / "nb.ipynb", 'x = ""\nn = 1\ncase_dir = ""')
    p = pb.load(_pb(tmp_path, GOOD))
    assert p.resolve({"x": "a"}) == {"x": "a", "n": 3}
    assert p.resolve({"x": "a", "n": "7"})["n"] == 7
    with pytest.raises(BadInput, match="missing required parameter x"):
        p.resolve({})
    with pytest.raises(BadInput, match="unknown parameter"):
        p.resolve({"x": "a", "y": "b"})
    with pytest.raises(BadInput, match="not a valid int"):
        p.resolve({"x": "a", "n": "seven"})


def test_unknown_playbook():
    with pytest.raises(NotFound, match="unknown playbook"):
        pb.load("no-such-playbook")


@pytest.mark.parametrize("text,match", [
    ("id: t\n", "invalid playbook"),
    (GOOD.replace("steps:", "stepz:"), "invalid playbook"),
    (GOOD.replace("nb.ipynb", "missing.ipynb"), "not found"),
    ("id: [unclosed", "not valid YAML"),
])
def test_bad_playbooks(tmp_path, text, match):
    _nb(tmp_path / "nb.ipynb")
    with pytest.raises(BadInput, match=match):
        pb.load(_pb(tmp_path, text))


def test_notebook_without_parameters_cell(tmp_path):
    (tmp_path / "nb.ipynb").write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    with pytest.raises(BadInput, match="no cell tagged 'parameters'"):
        pb.load(_pb(tmp_path, GOOD))


def test_step_parameter_the_notebook_does_not_take(tmp_path):
    _nb(tmp_path / "nb.ipynb")
    text = GOOD.replace("  - notebook: nb.ipynb", "  - notebook: nb.ipynb\n    parameters: {zzz: 1}")
    with pytest.raises(BadInput, match="does not declare"):
        pb.load(_pb(tmp_path, text))


def test_secret_parameters_are_refused(tmp_path):
    _nb(tmp_path / "nb.ipynb", 'x = ""\nclient_secret = ""\ncase_dir = ""')
    text = GOOD.replace(
        "  - {name: n, type: int, default: 3, help: a number}",
        "  - {name: client_secret, type: string, secret: true, help: s}")
    p = pb.load(_pb(tmp_path, text))
    with pytest.raises(BadInput, match="environment"):
        p.resolve({"x": "a", "client_secret": "hunter2"})


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "iamkit.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env)


def test_cli_unknown_playbook_exits_2_with_one_line(tmp_path):
    r = _cli("run", "nope", "--case", str(tmp_path / "c"))
    assert r.returncode == 2
    assert "unknown playbook" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "c").exists()


def test_cli_missing_parameter_exits_2(tmp_path):
    r = _cli("run", "compromised-access-key", "--case", str(tmp_path / "c"))
    assert r.returncode == 2 and "missing required parameter access_key_id" in r.stderr
    assert not (tmp_path / "c").exists()


def test_cli_unreachable_endpoint_exits_2(tmp_path):
    import os
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    env = {**os.environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1"}
    r = _cli("run", "compromised-access-key", "-p", "access_key_id=AKIAABCDEFGHIJKLMNOP", "--case",
             str(tmp_path / "c"), env=env)
    assert r.returncode == 2, r.stderr
    assert "cannot reach" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "c").exists()
